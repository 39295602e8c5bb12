// Moving a deployment from SQLite into PostgreSQL (--copy-store-to): after the
// move the same controller (same data directory: keys, media) runs on
// PostgreSQL, its evidence export of the same period verifies offline and the
// auditor's recount is the same, line for line; the audit log carries on from
// its last row; new rows get new ids; and a target that is not empty is refused.
#include <catch2/catch.hpp>

#include <fstream>

#include "../../controller/src/pop_ingest.hpp"
#include "microscape/controller/db.hpp"
#include "microscape/core/time.hpp"
#include "sim_enroll.hpp"

using namespace microscape;
using namespace microscape::testing;

namespace {

struct Audit {
    int exitCode = -1;
    std::string csv;  // the recount, one line per location, day and media
};

Audit exportAndRecount(TestServer& srv, Client& auditor, const std::string& from, const std::string& to) {
    auto exp = auditor.get("/api/v1/audit/export?from=" + from + "&to=" + to);
    REQUIRE(exp.status == 200);
    TempDir tmp;
    const auto tarPath = tmp.path / "export.tar";
    std::ofstream(tarPath, std::ios::binary) << exp.body;
    auto r = runProcess({MICROSCAPE_PACK_BIN, "audit", "--pub",
                         (srv.dataDir() / "keys" / "content-signing.pub.pem").string(), "--csv", tarPath.string()});
    if (r.exitCode != 0) WARN(r.out << r.err);
    return {r.exitCode, r.out};
}

}  // namespace

TEST_CASE("store copy: an SQLite deployment moved into PostgreSQL verifies and counts the same",
          "[controller][store]") {
    TempDir fx;
    // An SQLite deployment, whatever MICROSCAPE_TEST_STORE says.
    TestServer srv(
        [](controller::ControllerConfig& c) { c.store = *controller::sql::parseStoreUrl("sqlite:", c.dataDir); });
    srv.freezeClock();
    Client admin = srv.admin();
    Client ed = srv.userClient("ed", "editor", "禁毒支队");
    Client ap = srv.userClient("ap", "approver");
    Client auditor = srv.userClient("au", "auditor");
    const int poster = uploadApproved(ed, ap, makePng(fx.path, "珍爱生命 远离毒品"), "poster.png");
    const int pl = createdId(ed.post("/api/v1/playlists", R"({"name":"p","items":[{"mediaId":)" +
                                                              std::to_string(poster) + R"(,"durationMs":10000}]})"));
    createdId(
        ed.post("/api/v1/schedules", R"({"name":"all","playlistId":)" + std::to_string(pl) +
                                         R"(,"startsOn":"2020-01-01","endsOn":"2099-12-31","target":{"all":true}})"));
    const int loc = createdId(
        admin.post("/api/v1/locations",
                   R"({"name":"万象城一楼中庭","venueType":"mall","district":"城中区","timezone":"Asia/Shanghai"})"));
    SimPlayer a, b;
    enrollSim(srv, admin, a, loc);
    enrollSim(srv, admin, b, std::nullopt);
    const std::string sha =
        admin.get("/api/v1/media/" + std::to_string(poster)).json()->getValue<std::string>("sha256");
    // Plays over the last 20 hours (after the screens' enrolment, as the
    // verifier wants: here the clock is frozen at enrolment), some cut short, some failed.
    srv.advanceClock(21 * 3'600'000);
    const std::int64_t now = srv.nowMs();
    const std::int64_t first = now - 20 * 3'600'000;
    for (int i = 0; i < 60; ++i) {
        a.play(sha, first + i * 1'000'000, 10000, i % 7 == 0 ? 4000 : 10000);
        b.play(sha, first + i * 1'000'000 + 1000, 10000, i % 11 == 0 ? 0 : 10000);
    }
    const std::int64_t day0 = now / 86'400'000 - 2;
    {
        controller::Db db(srv.storeUrl());
        controller::PopIngest ingest(db);
        REQUIRE(ingest.ingestBatch(a.id, a.next(), now)->accepted);
        REQUIRE(ingest.ingestBatch(b.id, b.next(), now)->accepted);
    }
    const std::string from = timeutil::formatDate(timeutil::civilFromDays(day0)),
                      to = timeutil::formatDate(timeutil::civilFromDays(day0 + 3));
    REQUIRE(auditor.login("au", "password-au").status == 200);  // (the clock moved past the session)
    const Audit before = exportAndRecount(srv, auditor, from, to);
    REQUIRE(before.exitCode == 0);
    REQUIRE(before.csv.find("VERIFIED") != std::string::npos);
    const auto plays = [&](Client& c) {
        return c.get("/api/v1/reports/plays?from=" + from + "&to=" + to + "&by=location,day,media").body;
    };
    const std::string reportBefore = plays(auditor);

    // The move, with the controller stopped, into a fresh PostgreSQL database.
    const std::string target = sharedPgCluster().createDatabase();
    srv.stop();
    auto stopAndCopy = [&](const std::string& url) {
        return runProcess({MICROSCAPE_CONTROLLER_BIN, "--data-dir", srv.dataDir().string(), "--copy-store-to", url});
    };
    auto copied = stopAndCopy(target);
    INFO(copied.out << copied.err);
    REQUIRE(copied.exitCode == 0);
    CHECK(copied.out.find("pop_records: 120 rows") != std::string::npos);

    SECTION("a target that is not empty is refused, and keeps what it had") {
        auto again = stopAndCopy(target);
        CHECK(again.exitCode != 0);
        CHECK(again.err.find("not empty") != std::string::npos);
    }
    SECTION("the controller on PostgreSQL: same export verdicts and recount, same report, the audit log goes on") {
        srv.restartWith(
            [&](controller::ControllerConfig& c) { c.store = *controller::sql::parseStoreUrl(target, c.dataDir); });
        REQUIRE(srv.storeUrl().backend == controller::sql::Backend::Postgres);
        REQUIRE(auditor.login("au", "password-au").status == 200);
        const Audit after = exportAndRecount(srv, auditor, from, to);
        REQUIRE(after.exitCode == 0);
        CHECK(after.csv == before.csv);
        CHECK(plays(auditor) == reportBefore);
        // New rows after the copied ones: a new location gets the next id, and
        // the audit log's chain continues (the export verifies with the new row).
        Client admin2 = srv.admin();
        const int loc2 = createdId(admin2.post(
            "/api/v1/locations",
            R"({"name":"步行街北口","venueType":"street_gate","district":"城中区","timezone":"Asia/Shanghai"})"));
        CHECK(loc2 == loc + 1);
        CHECK(exportAndRecount(srv, auditor, from, to).exitCode == 0);
    }
}
