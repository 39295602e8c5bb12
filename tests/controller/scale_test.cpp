// Not part of the default run ([.]): how long a fleet-wide recompilation takes.
#include <catch2/catch.hpp>
#include <chrono>
#include <iostream>

#include "test_support.hpp"

using namespace microscape::testing;

TEST_CASE("recompiling a fleet after one change", "[.][controller][scale]") {
    TestServer srv;
    TempDir fx;
    Client admin = srv.admin();
    Client ed = srv.userClient("ed", "editor", "交警");
    Client ap = srv.userClient("ap", "approver");
    Client anon = srv.client();
    const int kPlayers = 300;
    std::vector<int> locs;
    for (const char* v : {"mall", "garage_entrance", "community"})
        locs.push_back(
            admin.post("/api/v1/locations", std::string(R"({"name":"l","district":"d","venueType":")") + v + "\"}")
                .json()
                ->getValue<int>("id"));
    for (int i = 0; i < kPlayers; ++i) enrollPlayer(admin, anon, "p" + std::to_string(i), locs[i % 3]);
    auto up = ed.request("POST", "/api/v1/media?filename=a.png", makePng(fx.path, "规模"), "image/png");
    const std::string mid = std::to_string(up.json()->getValue<int>("id"));
    REQUIRE(ed.post("/api/v1/media/" + mid + "/submit", "").status == 200);
    REQUIRE(ap.post("/api/v1/media/" + mid + "/approve", "").status == 200);
    auto pl = ed.post("/api/v1/playlists", R"({"name":"p","items":[{"mediaId":)" + mid + "}]}");
    const std::string body =
        R"({"name":"s","playlistId":)" + std::to_string(pl.json()->getValue<int>("id")) +
        R"(,"startsOn":"2026-01-01","endsOn":"2030-12-31","target":{"venueTypes":["garage_entrance"]}})";
    auto t0 = std::chrono::steady_clock::now();
    REQUIRE(ed.post("/api/v1/schedules", body).status == 201);
    auto ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    std::cout << kPlayers << " players: schedule create + recompile took " << ms << " ms\n";
}
