// The whole flow through HTTP: upload -> approve -> locations -> enrolment ->
// playlist -> campaign -> schedule -> signed per-screen manifest and bundle.
#include <catch2/catch.hpp>
#include <chrono>
#include <ctime>
#include <fstream>
#include <set>

#include "microscape/core/time.hpp"
#include "test_support.hpp"

using namespace microscape::testing;

namespace {

std::set<std::string> playlistIdsIn(const Poco::JSON::Object::Ptr& manifestResp) {
    std::set<std::string> out;
    auto pls = manifestResp->getObject("manifest")->getObject("schedule")->getArray("playlists");
    for (std::size_t i = 0; i < pls->size(); ++i) out.insert(pls->getObject(i)->getValue<std::string>("id"));
    return out;
}

}  // namespace

TEST_CASE("full flow: a garage-entrance screen gets exactly the garage playlists, signed", "[controller][flow]") {
    TestServer srv;
    TempDir fx;
    Client admin = srv.admin();
    Client ed = srv.userClient("ed", "editor", "反诈中心");
    Client ap = srv.userClient("ap", "approver");
    Client anon = srv.client();

    const int poster = uploadApproved(ed, ap, makePng(fx.path, "国家安全 人人有责"), "poster.png", "image/png");
    const int clip = uploadApproved(ed, ap, makeMp4(fx.path, 1), "clip.mp4", "video/mp4");
    const int mallPoster = uploadApproved(ed, ap, makePng(fx.path, "商场 防诈骗"), "mall.png", "image/png");

    const int garage = createdId(
        admin.post("/api/v1/locations",
                   R"({"name":"万达地下车库入口","venueType":"garage_entrance","district":"江北区","tags":["万达"]})"));
    const int mall = createdId(admin.post(
        "/api/v1/locations", R"({"name":"万达广场中庭","venueType":"mall","district":"江北区","tags":["万达"]})"));
    const std::string garagePlayer = enrollPlayer(admin, anon, "车库屏", garage);
    const std::string mallPlayer = enrollPlayer(admin, anon, "中庭屏", mall);

    const int garagePl = createdId(
        ed.post("/api/v1/playlists", R"({"name":"车库 国家安全","items":[{"mediaId":)" + std::to_string(poster) +
                                         R"(,"durationMs":8000},{"mediaId":)" + std::to_string(clip) + "}]}"));
    const int mallPl = createdId(
        ed.post("/api/v1/playlists", R"({"name":"商场","items":[{"mediaId":)" + std::to_string(mallPoster) + "}]}"));
    const int campaign = createdId(
        ed.post("/api/v1/campaigns",
                R"({"name":"2026 国家安全教育日","theme":"国家安全","startsOn":"2000-01-01","endsOn":"2099-12-31"})"));

    auto before = admin.get("/api/v1/players/" + garagePlayer + "/manifest");
    REQUIRE(before.status == 200);
    const int v0 = before.json()->getValue<int>("version");

    createdId(ed.post(
        "/api/v1/schedules",
        R"({"name":"车库全天","playlistId":)" + std::to_string(garagePl) + R"(,"campaignId":)" +
            std::to_string(campaign) +
            R"(,"priority":10,"startsOn":"2000-01-01","endsOn":"2099-12-31","target":{"venueTypes":["garage_entrance"]},
           "dayparts":[{"days":[1,2,3,4,5,6,7],"start":"22:00","end":"06:00"},{"start":"06:00","end":"22:00"}]})"));
    createdId(ed.post(
        "/api/v1/schedules",
        R"({"name":"商场","playlistId":)" + std::to_string(mallPl) +
            R"(,"startsOn":"2000-01-01","endsOn":"2099-12-31","target":{"venueTypes":["mall"],"districts":["江北区"]}})"));

    auto gm = admin.get("/api/v1/players/" + garagePlayer + "/manifest");
    REQUIRE(gm.status == 200);
    auto gj = gm.json();
    CHECK(gj->getValue<int>("version") > v0);
    CHECK(playlistIdsIn(gj) == std::set<std::string>{"pl-" + std::to_string(garagePl)});
    auto entries = gj->getObject("manifest")->getObject("schedule")->getArray("entries");
    REQUIRE(entries->size() == 1);
    CHECK(entries->getObject(0)->getValue<std::string>("campaign") == "cmp-" + std::to_string(campaign));
    CHECK(gj->getObject("manifest")->getArray("media")->size() == 2);
    CHECK(gj->getObject("manifest")->getValue<std::string>("target") == garagePlayer);

    auto mm = admin.get("/api/v1/players/" + mallPlayer + "/manifest");
    CHECK(playlistIdsIn(mm.json()) == std::set<std::string>{"pl-" + std::to_string(mallPl)});

    SECTION("unchanged screens get no new version") {
        const int gv = gj->getValue<int>("version");
        const int mv = mm.json()->getValue<int>("version");
        // A mall-only change leaves the garage screen alone.
        REQUIRE(ed.put("/api/v1/playlists/" + std::to_string(mallPl),
                       R"({"items":[{"mediaId":)" + std::to_string(mallPoster) + R"(,"durationMs":12000}]})")
                    .status == 200);
        CHECK(admin.get("/api/v1/players/" + garagePlayer + "/manifest").json()->getValue<int>("version") == gv);
        CHECK(admin.get("/api/v1/players/" + mallPlayer + "/manifest").json()->getValue<int>("version") == mv + 1);
        CHECK(admin.post("/api/v1/players/" + garagePlayer + "/compile", "").json()->getValue<int>("version") == gv);
    }
    SECTION("the bundle verifies with microscape-pack under the controller key") {
        auto b = admin.get("/api/v1/players/" + garagePlayer + "/bundle");
        REQUIRE(b.status == 200);
        const auto tarPath = fx.path / "garage.tar";
        std::ofstream(tarPath, std::ios::binary) << b.body;
        const auto pubPath = srv.dataDir() / "keys" / "content-signing.pub.pem";
        std::string cmd = std::string(MICROSCAPE_PACK_BIN) + " verify --pub " + pubPath.string() + " " +
                          tarPath.string() + " > " + (fx.path / "verify.txt").string() + " 2>&1";
        int rc = std::system(cmd.c_str());
        INFO(readFile(fx.path / "verify.txt"));
        CHECK(rc == 0);
        // Another key must not verify it.
        const auto otherPub = fx.path / "other.pub.pem";
        std::ofstream(otherPub) << makePlayerKeys().identityPem;
        std::string bad = std::string(MICROSCAPE_PACK_BIN) + " verify --pub " + otherPub.string() + " " +
                          tarPath.string() + " > /dev/null 2>&1";
        CHECK(std::system(bad.c_str()) != 0);
    }
    SECTION("preview uses the evaluator") {
        auto p = admin.get("/api/v1/preview?playerId=" + garagePlayer + "&at=2026-12-01T12:00:00%2B08:00");
        INFO(p.body);
        REQUIRE(p.status == 200);
        auto pj = p.json();
        CHECK(pj->getValue<std::string>("state") == "playing");
        CHECK(pj->getValue<std::string>("source") == "entry");
        CHECK(pj->getValue<int>("playlistId") == garagePl);
        auto t = admin.get("/api/v1/preview/timeline?locationId=" + std::to_string(garage) +
                           "&from=2026-12-01T00:00:00%2B08:00&to=2026-12-01T00:01:00%2B08:00");
        INFO(t.body);
        REQUIRE(t.status == 200);
        CHECK(t.json()->getArray("segments")->size() >= 2);
        auto day = admin.get("/api/v1/preview/timeline?playerId=" + garagePlayer + "&date=2026-12-01");
        INFO(day.body);
        REQUIRE(day.status == 200);
        auto segs = day.json()->getArray("segments");
        REQUIRE(segs->size() > 0);
        CHECK(segs->getObject(0)->getValue<std::string>("start") == "2026-11-30T16:00:00Z");  // 00:00 in Shanghai
        CHECK(segs->getObject(segs->size() - 1)->getValue<std::string>("end") == "2026-12-01T16:00:00Z");
        CHECK(admin.get("/api/v1/preview/timeline?playerId=" + garagePlayer + "&date=tomorrow").status == 400);
    }
    SECTION("withdrawing approved media removes it from screens") {
        REQUIRE(ap.post("/api/v1/media/" + std::to_string(clip) + "/reject", R"({"reason":"撤回"})").status == 200);
        auto after = admin.get("/api/v1/players/" + garagePlayer + "/manifest").json();
        CHECK(after->getObject("manifest")->getArray("media")->size() == 1);
    }
    SECTION("a takeover reaches the targeted screens and can be cancelled") {
        auto t = ed.post("/api/v1/takeovers", R"({"name":"紧急反诈预警","playlistId":)" + std::to_string(mallPl) +
                                                  R"(,"target":{"playerIds":[")" + garagePlayer +
                                                  R"("]},"expiresAt":"2099-01-01T00:00:00Z"})");
        CHECK(t.status == 422);  // longer than 7 days
        auto inAnHour = [] {
            auto now = std::chrono::system_clock::now() + std::chrono::hours(1);
            std::time_t tt = std::chrono::system_clock::to_time_t(now);
            char buf[32];
            std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&tt));
            return std::string(buf);
        };
        auto ok = ed.post("/api/v1/takeovers", R"({"name":"紧急反诈预警","playlistId":)" + std::to_string(mallPl) +
                                                   R"(,"target":{"playerIds":[")" + garagePlayer +
                                                   R"("]},"expiresAt":")" + inAnHour() + R"("})");
        const int tk = createdId(ok);
        CHECK(ok.json()->getValue<bool>("active"));
        auto after = admin.get("/api/v1/players/" + garagePlayer + "/manifest").json();
        CHECK(after->getObject("manifest")->getObject("schedule")->getArray("takeovers")->size() == 1);
        auto p = admin.get("/api/v1/preview?playerId=" + garagePlayer);
        CHECK(p.json()->getValue<std::string>("source") == "takeover");
        CHECK(admin.get("/api/v1/takeovers?active=true").json()->getArray("takeovers")->size() == 1);
        REQUIRE(ed.post("/api/v1/takeovers/" + std::to_string(tk) + "/cancel", "").status == 200);
        CHECK(ed.post("/api/v1/takeovers/" + std::to_string(tk) + "/cancel", "").status == 409);
        auto cleared = admin.get("/api/v1/players/" + garagePlayer + "/manifest").json();
        CHECK(cleared->getObject("manifest")->getObject("schedule")->getArray("takeovers")->size() == 0);
        // The mall screen was never targeted.
        CHECK(admin.get("/api/v1/preview?playerId=" + mallPlayer).json()->getValue<std::string>("source") == "entry");

        // A length instead of an instant, counted by the controller's clock (what the
        // console sends: the staff PC's clock may be off).
        const std::string head = R"({"name":"限时插播","playlistId":)" + std::to_string(mallPl) +
                                 R"(,"target":{"playerIds":[")" + garagePlayer + R"("]},)";
        auto byLength = ed.post("/api/v1/takeovers", head + R"("durationSeconds":600})");
        INFO(byLength.body);
        REQUIRE(byLength.status == 201);
        CHECK(byLength.json()->getValue<bool>("active"));
        const auto startsAt = microscape::timeutil::parseIso8601(byLength.json()->getValue<std::string>("startsAt"));
        const auto expiresAt = microscape::timeutil::parseIso8601(byLength.json()->getValue<std::string>("expiresAt"));
        REQUIRE(startsAt);
        REQUIRE(expiresAt);
        CHECK(*expiresAt - *startsAt == 600000);
        CHECK(ed.post("/api/v1/takeovers", head + R"("durationSeconds":600,"expiresAt":")" + inAnHour() + R"("})")
                  .status == 422);
        CHECK(ed.post("/api/v1/takeovers", head + R"("durationSeconds":0})").status == 422);
        CHECK(ed.post("/api/v1/takeovers", head + R"("durationSeconds":604801})").status == 422);
        CHECK(ed.post("/api/v1/takeovers", head + R"("durationSeconds":"600"})").status == 400);
    }
}

TEST_CASE("scheduling refuses bad plans and leaves nothing behind", "[controller][flow]") {
    TestServer srv;
    TempDir fx;
    Client ed = srv.userClient("ed", "editor", "禁毒");
    Client ap = srv.userClient("ap", "approver");
    auto up = ed.request("POST", "/api/v1/media?filename=d.png", makePng(fx.path, "禁毒"), "image/png");
    const int draft = createdId(up);
    const int pl =
        createdId(ed.post("/api/v1/playlists", R"({"name":"p","items":[{"mediaId":)" + std::to_string(draft) + "}]}"));
    const std::string base = R"({"name":"s","playlistId":)" + std::to_string(pl) + ",";

    SECTION("unapproved media cannot be scheduled") {
        auto r = ed.post("/api/v1/schedules",
                         base + R"("startsOn":"2026-01-01","endsOn":"2026-02-01","target":{"all":true}})");
        CHECK(r.status == 422);
        CHECK(r.errorCode() == "media_not_approved");
    }
    SECTION("date range ending before it starts") {
        REQUIRE(ed.post("/api/v1/media/" + std::to_string(draft) + "/submit", "").status == 200);
        REQUIRE(ap.post("/api/v1/media/" + std::to_string(draft) + "/approve", "").status == 200);
        auto r = ed.post("/api/v1/schedules",
                         base + R"("startsOn":"2026-03-01","endsOn":"2026-02-01","target":{"all":true}})");
        CHECK(r.status == 422);
        CHECK(r.errorCode() == "bad_window");
        auto c = ed.post("/api/v1/campaigns", R"({"name":"c","startsOn":"2026-06-26","endsOn":"2026-06-01"})");
        CHECK(c.status == 422);
        auto t = ed.post(
            "/api/v1/takeovers",
            R"({"name":"t","playlistId":)" + std::to_string(pl) +
                R"(,"target":{"all":true},"startsAt":"2030-01-02T00:00:00Z","expiresAt":"2030-01-01T00:00:00Z"})");
        CHECK(t.status == 422);
        CHECK(t.errorCode() == "bad_window");
    }
    SECTION("wrong types, missing fields, unknown ids") {
        CHECK(ed.post("/api/v1/schedules", base + R"("startsOn":"2026-01-01","endsOn":"2026-02-01"})").status == 400);
        CHECK(ed.post("/api/v1/schedules", base + R"("startsOn":20260101,"endsOn":"2026-02-01","target":{"all":true}})")
                  .status == 400);
        CHECK(ed.post("/api/v1/schedules",
                      base + R"("startsOn":"2026-02-30","endsOn":"2026-03-01","target":{"all":true}})")
                  .status == 400);
        CHECK(ed.post("/api/v1/schedules", base + R"("startsOn":"2026-01-01","endsOn":"2026-02-01","target":{}})")
                  .status == 400);
        CHECK(ed.post("/api/v1/schedules",
                      base + R"("startsOn":"2026-01-01","endsOn":"2026-02-01","target":{"venueTypes":["airport"]}})")
                  .status == 400);
        CHECK(ed.post("/api/v1/schedules",
                      base + R"("startsOn":"2026-01-01","endsOn":"2026-02-01","target":{"playerIds":["ghost"]}})")
                  .status == 422);
        CHECK(
            ed.post(
                  "/api/v1/schedules",
                  R"({"name":"s","playlistId":9999,"startsOn":"2026-01-01","endsOn":"2026-02-01","target":{"all":true}})")
                .status == 422);
        CHECK(
            ed.post(
                  "/api/v1/schedules",
                  base +
                      R"("startsOn":"2026-01-01","endsOn":"2026-02-01","target":{"all":true},"dayparts":[{"start":"08:00","end":"08:00"}]})")
                .status == 400);
        CHECK(ed.post("/api/v1/playlists", R"({"name":"x","items":[{"mediaId":424242}]})").status == 422);
        CHECK(ed.post("/api/v1/playlists", R"({"name":"x","items":[{"mediaId":"1"}]})").status == 400);
        CHECK(ed.get("/api/v1/schedules/77").status == 404);
        CHECK(ed.post("/api/v1/schedules", R"({"name":)").status == 400);
    }
    CHECK(ed.get("/api/v1/schedules").json()->getArray("schedules")->size() == 0);
    CHECK(ed.get("/api/v1/takeovers").json()->getArray("takeovers")->size() == 0);
}

TEST_CASE("editors plan only for their own department", "[controller][flow]") {
    TestServer srv;
    Client ed1 = srv.userClient("ed1", "editor", "交警");
    Client ed2 = srv.userClient("ed2", "editor", "禁毒");
    const int pl = createdId(ed1.post("/api/v1/playlists", R"({"name":"交警 列表"})"));
    CHECK(ed2.put("/api/v1/playlists/" + std::to_string(pl), R"({"name":"改"})").status == 403);
    CHECK(ed2.del("/api/v1/playlists/" + std::to_string(pl)).status == 403);
    CHECK(ed1.put("/api/v1/playlists/" + std::to_string(pl), R"({"name":"改"})").status == 200);
    CHECK(ed2.post("/api/v1/campaigns",
                   R"({"name":"c","startsOn":"2026-06-26","endsOn":"2026-06-30","department":"交警"})")
              .status == 403);
    const int c = createdId(ed2.post(
        "/api/v1/campaigns", R"({"name":"国际禁毒日","theme":"禁毒","startsOn":"2026-06-26","endsOn":"2026-06-30"})"));
    CHECK(ed1.patch("/api/v1/campaigns/" + std::to_string(c), R"({"name":"x"})").status == 403);
    CHECK(ed2.get("/api/v1/campaigns/" + std::to_string(c)).json()->getValue<std::string>("department") == "禁毒");
    CHECK(ed1.del("/api/v1/playlists/" + std::to_string(pl)).status == 204);
}
