#include <catch2/catch.hpp>

#include "test_support.hpp"

using namespace microscape::testing;

TEST_CASE("everything survives a restart, the signing key and versions carry on", "[controller][persistence]") {
    TestServer srv;
    TempDir fx;
    Client admin = srv.admin();
    Client ed = srv.userClient("ed", "editor", "交警");
    Client ap = srv.userClient("ap", "approver");
    Client anon = srv.client();
    const std::string png = makePng(fx.path, "一盔一带");
    auto up = ed.request("POST", "/api/v1/media?filename=helmet.png&tags=%E4%B8%80%E7%9B%94%E4%B8%80%E5%B8%A6", png,
                         "image/png");
    REQUIRE(up.status == 201);
    const std::string mid = std::to_string(up.json()->getValue<int>("id"));
    REQUIRE(ed.post("/api/v1/media/" + mid + "/submit", "").status == 200);
    REQUIRE(ap.post("/api/v1/media/" + mid + "/approve", "").status == 200);
    auto loc = admin.post("/api/v1/locations", R"({"name":"小区东门","venueType":"community","district":"南岸区"})");
    REQUIRE(loc.status == 201);
    const std::string player = enrollPlayer(admin, anon, "东门屏", loc.json()->getValue<int>("id"));
    auto pl = ed.post("/api/v1/playlists", R"({"name":"交通安全","items":[{"mediaId":)" + mid + "}]}");
    REQUIRE(pl.status == 201);
    REQUIRE(ed.post("/api/v1/schedules",
                    R"({"name":"社区","playlistId":)" + std::to_string(pl.json()->getValue<int>("id")) +
                        R"(,"startsOn":"2000-01-01","endsOn":"2099-12-31","target":{"venueTypes":["community"]}})")
                .status == 201);
    auto m1 = admin.get("/api/v1/players/" + player + "/manifest").json();
    const auto key1 = readFile(srv.dataDir() / "keys" / "content-signing.pub.pem");

    srv.restart();

    CHECK(readFile(srv.dataDir() / "keys" / "content-signing.pub.pem") == key1);
    CHECK(admin.get("/api/v1/me").status == 200);  // sessions are stored, not in memory
    CHECK(ed.get("/api/v1/media/" + mid + "/content").body == png);
    CHECK(ed.get("/api/v1/media/" + mid).json()->getValue<std::string>("state") == "approved");
    CHECK(admin.get("/api/v1/schedules").json()->getArray("schedules")->size() == 1);
    auto m2 = admin.get("/api/v1/players/" + player + "/manifest").json();
    CHECK(m2->getValue<int>("version") == m1->getValue<int>("version"));
    CHECK(m2->getValue<std::string>("signatureBase64") == m1->getValue<std::string>("signatureBase64"));
    // A change after the restart continues the version sequence.
    REQUIRE(ap.post("/api/v1/media/" + mid + "/reject", R"({"reason":"更换"})").status == 200);
    auto m3 = admin.get("/api/v1/players/" + player + "/manifest").json();
    CHECK(m3->getValue<int>("version") == m1->getValue<int>("version") + 1);
    auto audit = admin.get("/api/v1/audit?limit=1000").json()->getArray("entries");
    CHECK(audit->size() > 10);
}
