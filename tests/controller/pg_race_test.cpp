// Writes that race only where several transactions run at once (PostgreSQL:
// threads and controller nodes; READ COMMITTED): each case makes two writers
// overlap deterministically (test_support's overlapOnTwoNodes / whileHolding:
// the second waits on the first's lock, then the first commits) and checks that
// the outcome is one a serial order gives, as on SQLite.
#include <Poco/Dynamic/Var.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <thread>

#include "../../controller/src/api.hpp"
#include "../../controller/src/hub_backend.hpp"
#include "../../controller/src/recalls.hpp"
#include "microscape/controller/db.hpp"
#include "microscape/controller/repo.hpp"
#include "microscape/core/time.hpp"
#include "test_support.hpp"

using namespace microscape;
using namespace microscape::testing;

namespace {

// How many audit rows of an entity say `action`.
int auditRows(Client& admin, const std::string& entity, const std::string& action, const std::string& entityId) {
    auto r = admin.get("/api/v1/audit?entity=" + entity + "&limit=500");
    REQUIRE(r.status == 200);
    auto arr = r.json()->getArray("entries");
    int n = 0;
    for (std::size_t i = 0; i < arr->size(); ++i) {
        auto e = arr->getObject(static_cast<unsigned>(i));
        if (e->getValue<std::string>("action") == action && e->getValue<std::string>("entityId") == entityId) ++n;
    }
    return n;
}

// Statuses of the responses, sorted.
std::vector<int> statuses(const std::vector<Response>& rs) {
    std::vector<int> out;
    for (const auto& r : rs) out.push_back(r.status);
    std::sort(out.begin(), out.end());
    return out;
}

}  // namespace

TEST_CASE("two nodes auditing at once: both rows are chained, one after the other", "[controller][audit][race]") {
    TestServer srv;
    const auto url = srv.storeUrl();
    overlapOnTwoNodes(url, [](controller::DbConn& c) {
        controller::repo::audit(c, controller::Actor{0, "race", controller::Role::Admin, {}}, "touch", "race", "1", "",
                                "{}", 1'000);
    });
    controller::Db db(url);
    db.read([](controller::DbConn& c) {
        CHECK(c.one("SELECT COUNT(*) FROM audit_log WHERE entity = 'race'")->i64(0) == 2);
        std::int64_t seq = 0;
        std::string hash;
        for (const auto& r : c.query("SELECT seq, prev_hash, hash FROM audit_log ORDER BY seq")) {
            CHECK(r.i64(0) == seq + 1);
            if (seq > 0) CHECK(r.str(1) == hash);
            seq = r.i64(0);
            hash = r.str(2);
        }
    });
    // The chain as the API verifies it.
    Client admin = srv.admin();
    CHECK(auditRows(admin, "race", "touch", "1") == 2);
}

TEST_CASE("two approvers deciding the same media at once: one decision, audited once", "[controller][media][race]") {
    TestServer srv;
    TempDir fx;
    Client admin = srv.admin();
    Client ed = srv.userClient("ed", "editor", "宣传科");
    Client ap1 = srv.userClient("ap1", "approver");
    Client ap2 = srv.userClient("ap2", "approver");
    const int id = createdId(ed.request("POST", "/api/v1/media?filename=a.png", makePng(fx.path, "通告"), "image/png"));
    const std::string path = "/api/v1/media/" + std::to_string(id);
    REQUIRE(ed.post(path + "/submit", "").status == 200);
    // Another writer holds the row (a rename on another node) while both decisions start.
    auto hold = [&](controller::DbConn& c) {
        c.exec("UPDATE media SET display_name = display_name WHERE id = ?", {std::int64_t(id)});
    };

    SECTION("approve and approve: the second finds it approved") {
        std::vector<Response> out(2);
        whileHolding(srv.storeUrl(), hold,
                     {[&] { out[0] = Client(ap1).post(path + "/approve", ""); },
                      [&] { out[1] = Client(ap2).post(path + "/approve", ""); }});
        CHECK(statuses(out) == std::vector<int>{200, 409});
        CHECK(auditRows(admin, "media", "approve", std::to_string(id)) == 1);
        CHECK(admin.get(path).json()->getValue<std::string>("state") == "approved");
    }
    SECTION("approve and reject: both apply, in some order, each audited once") {
        std::vector<Response> out(2);
        whileHolding(srv.storeUrl(), hold,
                     {[&] { out[0] = Client(ap1).post(path + "/approve", ""); },
                      [&] { out[1] = Client(ap2).post(path + "/reject", R"({"reason":"措辞"})"); }});
        // Serially: approve then reject (withdraw) both succeed; reject then
        // approve refuses the approval.
        const std::string state = admin.get(path).json()->getValue<std::string>("state");
        CHECK(state == "rejected");
        CHECK(auditRows(admin, "media", "reject", std::to_string(id)) == 1);
        CHECK(auditRows(admin, "media", "approve", std::to_string(id)) == (out[0].status == 200 ? 1 : 0));
        if (out[0].status == 200) {
            // The rejection came second and saw the approval.
            auto entries = admin.get("/api/v1/audit?entity=media&limit=500").json()->getArray("entries");
            for (std::size_t i = 0; i < entries->size(); ++i) {
                auto e = entries->getObject(static_cast<unsigned>(i));
                if (e->getValue<std::string>("action") == "reject")
                    CHECK(e->getObject("before")->getValue<std::string>("state") == "approved");
            }
        } else {
            CHECK(out[0].status == 409);
        }
    }
}

TEST_CASE("an edit of media at the moment it is withdrawn does not put it back", "[controller][media][race]") {
    TestServer srv;
    TempDir fx;
    Client admin = srv.admin();
    Client ed = srv.userClient("ed", "editor", "宣传科");
    Client ap = srv.userClient("ap", "approver");
    const int id = uploadApproved(ed, ap, makePng(fx.path, "旧通告"), "old.png");
    const std::string path = "/api/v1/media/" + std::to_string(id);
    Response renamed;
    // Another node withdraws it (its rejection's write) while the editor's rename runs.
    whileHolding(srv.storeUrl(),
                 [&](controller::DbConn& c) {
                     c.exec("UPDATE media SET state = 'rejected', review_reason = 'withdrawn' WHERE id = ?",
                            {std::int64_t(id)});
                 },
                 {[&] { renamed = Client(ed).patch(path, R"({"name":"新名称"})"); }});
    CHECK(renamed.status == 200);
    auto now = admin.get(path).json();
    CHECK(now->getValue<std::string>("state") == "rejected");
    CHECK(now->getValue<std::string>("name") == "新名称");
}

TEST_CASE("a takeover cancelled twice at once is cancelled and audited once", "[controller][media][race]") {
    TestServer srv;
    srv.freezeClock();
    TempDir fx;
    Client admin = srv.admin();
    Client ed = srv.userClient("ed", "editor", "宣传科");
    Client ap = srv.userClient("ap", "approver");
    const int media = uploadApproved(ed, ap, makePng(fx.path, "预警"), "alert.png");
    const int pl = createdId(ed.post("/api/v1/playlists", R"({"name":"预警","items":[{"mediaId":)" +
                                                              std::to_string(media) + R"(,"durationMs":10000}]})"));
    const std::string expires = timeutil::formatUtc(srv.nowMs() + 3'600'000);
    const int tk =
        createdId(ed.post("/api/v1/takeovers", R"({"name":"预警","playlistId":)" + std::to_string(pl) +
                                                   R"(,"target":{"all":true},"expiresAt":")" + expires + R"("})"));
    const std::string path = "/api/v1/takeovers/" + std::to_string(tk) + "/cancel";
    std::vector<Response> out(2);
    whileHolding(
        srv.storeUrl(),
        [&](controller::DbConn& c) { c.exec("UPDATE takeovers SET name = name WHERE id = ?", {std::int64_t(tk)}); },
        {[&] { out[0] = Client(ed).post(path, ""); }, [&] { out[1] = Client(admin).post(path, ""); }});
    CHECK(statuses(out) == std::vector<int>{200, 409});
    CHECK(auditRows(admin, "takeover", "cancel", std::to_string(tk)) == 1);
}

TEST_CASE("a screen's STATUS stored at the moment it is retired does not enrol it again", "[controller][fleet][race]") {
    TestServer srv;
    Client admin = srv.admin();
    Client anon = srv.client();
    const std::string player = enrollPlayer(admin, anon, "门口屏", std::nullopt);
    const auto url = srv.storeUrl();
    controller::Db node(url);
    const std::vector<controller::HubBackend::Seen> seen{{player, 5'000, R"({"active_version":0,"uptime_s":9})"}};

    SECTION("the retirement commits while the hub stores what it saw") {
        whileHolding(
            url, [&](controller::DbConn& c) { c.exec("UPDATE players SET state = 'retired' WHERE id = ?", {player}); },
            {[&] { node.write([&](controller::DbConn& c) { controller::storeSeenIn(c, seen); }); }});
        auto p = admin.get("/api/v1/players/" + player).json();
        CHECK(p->getValue<std::string>("state") == "retired");
        CHECK(p->getObject("status")->getValue<int>("uptime_s") == 9);
    }
    SECTION("an admin's rename does not write back the liveness it read") {
        Response renamed;
        whileHolding(url, [&](controller::DbConn& c) { controller::storeSeenIn(c, seen); },
                     {[&] { renamed = Client(admin).patch("/api/v1/players/" + player, R"({"name":"侧门屏"})"); }});
        CHECK(renamed.status == 200);
        auto p = admin.get("/api/v1/players/" + player).json();
        CHECK(p->getValue<std::string>("name") == "侧门屏");
        REQUIRE_FALSE(p->isNull("status"));
        CHECK(p->getObject("status")->getValue<int>("uptime_s") == 9);
        CHECK(p->getValue<std::string>("lastSeenAt") == "1970-01-01T00:00:05Z");
    }
}

TEST_CASE("an edit of a row at the moment another writer changes it keeps the other's change",
          "[controller][race][accounts]") {
    TestServer srv;
    TempDir fx;
    Client admin = srv.admin();
    Client ed = srv.userClient("ed", "editor", "宣传科");
    Client ap = srv.userClient("ap", "approver");
    Client anon = srv.client();
    struct Case {
        std::string table, key;          // the row another writer changes
        std::string held;                // SET clause of its change
        std::string path, method, body;  // the edit running at the same time
        std::string field, expected;     // what the other's change left (GET path)
    };
    const int media = uploadApproved(ed, ap, makePng(fx.path, "禁毒"), "drugs.png");
    const int pl = createdId(ed.post("/api/v1/playlists", R"({"name":"p","items":[{"mediaId":)" +
                                                              std::to_string(media) + R"(,"durationMs":10000}]})"));
    const std::string ids[] = {
        std::to_string(createdId(
            admin.post("/api/v1/users", R"({"username":"x","password":"password-x-123","role":"approver"})"))),
        std::to_string(createdId(
            admin.post("/api/v1/locations", R"({"name":"鱼峰山社区","venueType":"community","district":"鱼峰区"})"))),
        std::to_string(
            createdId(ed.post("/api/v1/campaigns", R"({"name":"c","startsOn":"2000-01-01","endsOn":"2099-12-31"})"))),
        std::to_string(createdId(ed.post(
            "/api/v1/schedules", R"({"name":"s","playlistId":)" + std::to_string(pl) +
                                     R"(,"startsOn":"2000-01-01","endsOn":"2099-12-31","target":{"all":true}})"))),
        std::to_string(createdId(admin.post("/api/v1/observances", R"({"name":"禁毒宣传月","month":6,"day":1})"))),
    };
    const std::string player = enrollPlayer(admin, anon, "门口屏", std::nullopt);
    const std::vector<Case> cases{
        {"users", ids[0], "disabled = 1", "/api/v1/users/" + ids[0], "PATCH", R"({"displayName":"小徐"})", "disabled",
         "true"},
        {"locations", ids[1], "name = '别处'", "/api/v1/locations/" + ids[1], "PATCH", R"({"address":"中山路1号"})",
         "name", "\"别处\""},
        {"players", "'" + player + "'", "state = 'retired'", "/api/v1/players/" + player, "PATCH",
         R"({"name":"侧门屏"})", "state", "\"retired\""},
        {"playlists", std::to_string(pl), "name = '别名'", "/api/v1/playlists/" + std::to_string(pl), "PUT",
         R"({"items":[{"mediaId":)" + std::to_string(media) + R"(,"durationMs":20000}]})", "name", "\"别名\""},
        {"campaigns", ids[2], "name = '别名'", "/api/v1/campaigns/" + ids[2], "PATCH", R"({"theme":"禁毒"})", "name",
         "\"别名\""},
        {"schedules", ids[3], "name = '别名'", "/api/v1/schedules/" + ids[3], "PATCH", R"({"priority":7})", "name",
         "\"别名\""},
        {"media", std::to_string(media), "display_name = '别名'", "/api/v1/media/" + std::to_string(media), "PATCH",
         R"({"tags":["禁毒"]})", "name", "\"别名\""},
        {"observances", ids[4], "name = '别名'", "/api/v1/observances/" + ids[4], "PATCH", R"({"theme":"禁毒"})",
         "name", "\"别名\""},
    };
    for (const auto& k : cases) {
        INFO(k.path);
        Response edited;
        whileHolding(
            srv.storeUrl(),
            [&](controller::DbConn& c) { c.exec("UPDATE " + k.table + " SET " + k.held + " WHERE id = " + k.key); },
            {[&] { edited = Client(admin).request(k.method, k.path, k.body); }});
        INFO(edited.body);
        CHECK(edited.status == 200);
        // The row as stored (the edit's answer where the API has no GET of it).
        auto got = admin.get(k.path);
        auto now = got.status == 200 ? got.json() : edited.json();
        CHECK(Poco::Dynamic::Var::toString(now->get(k.field)) == k.expected);
    }
}

TEST_CASE("two recalls of the same media at once open one recall", "[controller][media][race]") {
    TestServer srv;
    TempDir fx;
    Client admin = srv.admin();
    Client ed = srv.userClient("ed", "editor", "宣传科");
    Client ap = srv.userClient("ap", "approver");
    const int media = uploadApproved(ed, ap, makePng(fx.path, "旧规定"), "old.png");
    const std::string sha = admin.get("/api/v1/media/" + std::to_string(media)).json()->getValue<std::string>("sha256");
    controller::Recall rec;
    rec.mediaId = media;
    rec.mediaSha256 = sha;
    rec.reason = "条款已修订";
    rec.recalledAtMs = 1'000;
    rec.actor = "ap";
    std::atomic<int> refused{0};
    // The last step of each recall (the media already withdrawn by both).
    overlapOnTwoNodes(srv.storeUrl(), [&](controller::DbConn& c) {
        try {
            controller::openRecall(c, rec, "old.png", controller::Actor{0, "ap", controller::Role::Approver, {}},
                                   2'000);
        } catch (const controller::ApiError& e) {
            CHECK(e.code == "already_recalled");
            ++refused;
        }
    });
    CHECK(refused == 1);
    auto all = admin.get("/api/v1/recalls").json()->getArray("recalls");
    int ofMedia = 0;
    for (std::size_t i = 0; i < all->size(); ++i)
        if (all->getObject(static_cast<unsigned>(i))->getValue<int>("mediaId") == media) ++ofMedia;
    CHECK(ofMedia == 1);
}

TEST_CASE("the same slogan made twice at once is one media item", "[controller][media][race]") {
    TestServer srv;
    Client ed = srv.userClient("ed", "editor", "交警");
    Client ed2 = srv.userClient("ed2", "editor", "交警");
    const std::string body = R"({"text":"一盔一带 安全常在","style":{"color":"#FFFFFF","fontSizePx":64}})";
    std::vector<Response> out(2);
    // Both are let go while another writer holds the audit log: the first waits
    // there with its row inserted, the second on that row.
    whileHolding(srv.storeUrl(),
                 [](controller::DbConn& c) {
                     controller::repo::audit(c, controller::Actor{0, "test", controller::Role::Admin, {}}, "hold",
                                             "test", "1", "", "", 1'000);
                 },
                 {[&] { out[0] = Client(ed).post("/api/v1/media/slogans", body); },
                  [&] { out[1] = Client(ed2).post("/api/v1/media/slogans", body); }});
    INFO(out[0].body << "\n" << out[1].body);
    CHECK(statuses(out) == std::vector<int>{200, 201});
    CHECK(out[0].json()->getValue<int>("id") == out[1].json()->getValue<int>("id"));
}

TEST_CASE("media approved at the moment its uploader deletes it is kept", "[controller][media][race]") {
    TestServer srv;
    TempDir fx;
    Client admin = srv.admin();
    Client ed = srv.userClient("ed", "editor", "宣传科");
    const int id = createdId(ed.request("POST", "/api/v1/media?filename=a.png", makePng(fx.path, "通告"), "image/png"));
    const std::string path = "/api/v1/media/" + std::to_string(id);
    REQUIRE(ed.post(path + "/submit", "").status == 200);
    Response deleted;
    // An approver's decision (its write) commits while the deletion runs.
    whileHolding(
        srv.storeUrl(),
        [&](controller::DbConn& c) { c.exec("UPDATE media SET state = 'approved' WHERE id = ?", {std::int64_t(id)}); },
        {[&] { deleted = Client(ed).del(path); }});
    CHECK(deleted.status == 409);
    CHECK(deleted.errorCode() == "invalid_state");
    CHECK(admin.get(path).status == 200);
}
