// The controller's audit log is hash-chained (issue 12, item 8: records
// protected from change and deletion): its rows and head travel in every
// evidence export, and the real `microscape-pack audit` reports an edited or a
// deleted row, and a log rewritten after an earlier export's head.
#include <catch2/catch.hpp>

#include <fstream>

#include "../support/process.hpp"
#include "microscape/controller/db.hpp"
#include "microscape/controller/repo.hpp"
#include "microscape/core/audit.hpp"
#include "test_support.hpp"

using namespace microscape::testing;
using namespace microscape;
using microscape::testing::runProcess;

namespace {

struct Exported {
    int exitCode = 0;
    std::string out, err;
};

// Exports the evidence as an auditor and runs microscape-pack audit on it.
Exported exportAndAudit(TestServer& srv, Client& auditor, const std::vector<std::string>& extra = {}) {
    auto exp = auditor.get("/api/v1/audit/export?from=2026-04-15&to=2026-04-16");
    INFO(exp.body.substr(0, 300));
    REQUIRE(exp.status == 200);
    TempDir tmp;
    const auto tarPath = tmp.path / "export.tar";
    std::ofstream(tarPath, std::ios::binary) << exp.body;
    std::vector<std::string> argv = {MICROSCAPE_PACK_BIN, "audit", "--pub",
                                     (srv.dataDir() / "keys" / "content-signing.pub.pem").string()};
    argv.insert(argv.end(), extra.begin(), extra.end());
    argv.push_back(tarPath.string());
    auto r = runProcess(argv);
    return {r.exitCode, r.out, r.err};
}

// The head line microscape-pack audit prints: "SEQ:HASH".
std::string headOf(const std::string& out) {
    const std::string marker = "audit log head ";
    auto at = out.find(marker);
    REQUIRE(at != std::string::npos);
    return out.substr(at + marker.size(), out.find('\n', at) - at - marker.size());
}

// "DROP TRIGGER name" in the backend's words (PostgreSQL names the table too).
std::string backendSql(controller::DbConn& c, const std::string& sql) {
    if (c.backend() == controller::sql::Backend::Postgres && sql.rfind("DROP TRIGGER ", 0) == 0)
        return sql + " ON audit_log";
    return sql;
}

void tamper(TestServer& srv, const std::vector<std::string>& sql) {
    controller::Db db(srv.storeUrl());
    db.write([&](controller::DbConn& c) {
        for (const auto& s : sql) c.exec(backendSql(c, s));
    });
}

}  // namespace

TEST_CASE("an edited or deleted audit log row is detected by microscape-pack audit", "[controller][audit][security]") {
    TestServer srv;
    Client admin = srv.admin();
    for (const char* name : {"万达广场", "步行街北口", "阳光小区"}) {
        Poco::JSON::Object::Ptr loc = new Poco::JSON::Object;
        loc->set("name", name);
        loc->set("venueType", "mall");
        loc->set("district", "南山区");
        auto r = admin.post("/api/v1/locations", jsonString(loc));
        INFO(r.body);
        REQUIRE(r.status == 201);
    }
    Client auditor = srv.userClient("auditor1", "auditor");
    const std::int64_t rows = [&] {
        controller::Db db(srv.storeUrl());
        return db.read([](controller::DbConn& c) { return c.one("SELECT COUNT(*) FROM audit_log")->i64(0); });
    }();
    REQUIRE(rows >= 4);

    auto clean = exportAndAudit(srv, auditor);
    INFO(clean.out << clean.err);
    REQUIRE(clean.exitCode == 0);
    CHECK(clean.out.find("audit log: ") != std::string::npos);
    const std::string head = headOf(clean.out);

    SECTION("the database refuses UPDATE and DELETE of audit rows") {
        controller::Db db(srv.storeUrl());
        CHECK_THROWS(db.write([](controller::DbConn& c) { c.exec("UPDATE audit_log SET actor = 'x' WHERE seq = 2"); }));
        CHECK_THROWS(db.write([](controller::DbConn& c) { c.exec("DELETE FROM audit_log WHERE seq = 2"); }));
    }
    SECTION("an edited row (someone with the database file, triggers dropped)") {
        tamper(srv, {"DROP TRIGGER audit_log_no_update", "UPDATE audit_log SET actor = 'nobody' WHERE seq = 2"});
        auto r = exportAndAudit(srv, auditor);
        INFO(r.out << r.err);
        CHECK(r.exitCode == 1);
        CHECK(r.err.find("FAILED audit_hash: audit log seq 2: the row does not match its hash") != std::string::npos);
    }
    SECTION("an edited row whose hash was recomputed breaks the link to the next row") {
        controller::Db db(srv.storeUrl());
        db.write([](controller::DbConn& c) {
            c.exec(backendSql(c, "DROP TRIGGER audit_log_no_update"));
            auto row = c.one(
                "SELECT seq, prev_hash, hash, at, actor_id, actor, action, entity, entity_id, "
                "before_json, after_json FROM audit_log WHERE seq = 2");
            auto r = *controller::repo::auditRowOf(*row);
            r.action = "nothing happened";
            r.hash = audit::auditRowHash(r);
            c.exec("UPDATE audit_log SET action = ?, hash = ? WHERE seq = 2", {r.action, r.hash});
        });
        auto r = exportAndAudit(srv, auditor);
        INFO(r.out << r.err);
        CHECK(r.exitCode == 1);
        CHECK(r.err.find("FAILED audit_broken_link: audit log seq 3: prev is not the hash of seq 2") !=
              std::string::npos);
    }
    SECTION("a deleted row") {
        tamper(srv, {"DROP TRIGGER audit_log_no_delete", "DELETE FROM audit_log WHERE seq = 2"});
        auto r = exportAndAudit(srv, auditor);
        INFO(r.out << r.err);
        CHECK(r.exitCode == 1);
        CHECK(r.err.find("FAILED audit_gap: audit log seq 2 missing (rows were deleted)") != std::string::npos);
    }
    SECTION("rows deleted from the end are caught against an earlier export's head") {
        // New rows after the first export, then the newest rows deleted, including its head.
        REQUIRE(admin.post("/api/v1/locations", R"({"name":"新区","venueType":"mall","district":"南山区"})").status ==
                201);
        tamper(srv, {"DROP TRIGGER audit_log_no_delete",
                     "DELETE FROM audit_log WHERE seq >= " + head.substr(0, head.find(':'))});
        auto r = exportAndAudit(srv, auditor, {"--audit-head", head});
        INFO(r.out << r.err);
        CHECK(r.exitCode == 1);
        CHECK(r.err.find("FAILED audit_pin: the audit log has no row seq " + head.substr(0, head.find(':'))) !=
              std::string::npos);
    }
    SECTION("an earlier head that the log still holds verifies") {
        REQUIRE(admin.post("/api/v1/locations", R"({"name":"新区","venueType":"mall","district":"南山区"})").status ==
                201);
        auto r = exportAndAudit(srv, auditor, {"--audit-head", head});
        INFO(r.out << r.err);
        CHECK(r.exitCode == 0);
        CHECK(headOf(r.out) != head);
        CHECK(exportAndAudit(srv, auditor, {"--audit-head", "nonsense"}).exitCode == 64);
    }
}

TEST_CASE("audit log rows written before the chain existed are chained when the controller starts",
          "[controller][audit]") {
    TempDir dir;
    const auto file = dir.path / "controller.db";
    {
        controller::Db db(file);
        db.write([](controller::DbConn& c) {
            // Rows as an older controller wrote them: no seq, no hashes.
            c.exec(
                "INSERT INTO audit_log(at, actor, action, entity) VALUES (1, 'admin', 'create', "
                "'user')");
            c.exec(
                "INSERT INTO audit_log(at, actor, action, entity, entity_id, after_json) VALUES "
                "(2, 'admin', 'create', 'location', '1', '{\"name\":\"x\"}')");
        });
    }
    controller::Db db(file);  // start-up chains them
    auto rows = db.read([](controller::DbConn& c) {
        return c.query(
            "SELECT seq, prev_hash, hash, at, actor_id, actor, action, entity, entity_id, "
            "before_json, "
            "after_json FROM audit_log ORDER BY seq");
    });
    REQUIRE(rows.size() == 2);
    audit::AuditChainCheck check;
    audit::AuditHead head;
    for (const auto& row : rows) {
        auto r = *controller::repo::auditRowOf(row);
        check.add(r);
        head = {r.seq, r.hash};
    }
    CHECK(head.seq == 2);
    CHECK(check.finish(head).empty());
    // New rows continue the chain.
    db.write([](controller::DbConn& c) {
        controller::repo::audit(c, controller::Actor{1, "admin", controller::Role::Admin, {}}, "update", "location",
                                "1", "{}", "{}", 3);
    });
    auto last = db.read(
        [](controller::DbConn& c) { return c.one("SELECT seq, prev_hash FROM audit_log ORDER BY seq DESC LIMIT 1"); });
    CHECK(last->i64(0) == 3);
    CHECK(last->str(1) == head.hash);
}
