// bench_recompile: a fleet of N enrolled screens (default 300) on a real
// controller (HTTPS, SQLite, its compiler), then a schedule change that
// reaches a third of them: the time of that request, which recompiles every
// screen's manifest and signs those that changed before it answers. Baseline, in the same run:
// N Ed25519 signatures of a manifest-sized message, the floor any
// recompilation of N signed manifests pays.
// Usage: bench_recompile [--players 300] [--rounds 3]
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>
#include <chrono>
#include <iostream>

#include "bench_args.hpp"
#include "microscape/core/crypto.hpp"
#include "test_support.hpp"

using namespace microscape;
using namespace microscape::testing;

namespace {

std::int64_t gPlayers = 300;
std::int64_t gRounds = 3;

double msSince(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

// N signatures of a message the size of a compiled manifest.
double signingFloorMs(std::size_t manifestBytes) {
    auto key = crypto::PrivateKey::generate();
    REQUIRE(key.ok());
    const std::string message(manifestBytes, 'm');
    auto t0 = std::chrono::steady_clock::now();
    std::size_t sink = 0;
    for (std::int64_t i = 0; i < gPlayers; ++i) sink += key->sign(message + std::to_string(i)).size();
    const double ms = msSince(t0);
    REQUIRE(sink > 0);
    return ms;
}

}  // namespace

TEST_CASE("recompiling a fleet after one change", "[bench]") {
    TestServer srv;
    TempDir fx;
    Client admin = srv.admin();
    Client ed = srv.userClient("ed", "editor", "交警");
    Client ap = srv.userClient("ap", "approver");
    Client anon = srv.client();
    std::vector<int> locs;
    for (const char* v : {"mall", "garage_entrance", "community"})
        locs.push_back(
            admin.post("/api/v1/locations", std::string(R"({"name":"l","district":"d","venueType":")") + v + "\"}")
                .json()
                ->getValue<int>("id"));
    std::string firstPlayer;
    for (std::int64_t i = 0; i < gPlayers; ++i) {
        auto id = enrollPlayer(admin, anon, "p" + std::to_string(i), locs[i % 3]);
        if (firstPlayer.empty()) firstPlayer = id;
    }
    auto up = ed.request("POST", "/api/v1/media?filename=a.png", makePng(fx.path, "规模"), "image/png");
    const std::string mid = std::to_string(up.json()->getValue<int>("id"));
    REQUIRE(ed.post("/api/v1/media/" + mid + "/submit", "").status == 200);
    REQUIRE(ap.post("/api/v1/media/" + mid + "/approve", "").status == 200);
    auto pl = ed.post("/api/v1/playlists", R"({"name":"p","items":[{"mediaId":)" + mid + "}]}");
    const std::string playlist = std::to_string(pl.json()->getValue<int>("id"));

    std::vector<double> times;
    for (std::int64_t round = 0; round < gRounds; ++round) {
        const std::string body = R"({"name":"s)" + std::to_string(round) + R"(","playlistId":)" + playlist +
                                 R"(,"startsOn":"2000-01-01","endsOn":"2099-12-31",)"
                                 R"("target":{"venueTypes":["garage_entrance"]}})";
        auto t0 = std::chrono::steady_clock::now();
        auto r = ed.post("/api/v1/schedules", body);
        times.push_back(msSince(t0));
        INFO(r.body);
        REQUIRE(r.status == 201);
    }
    std::sort(times.begin(), times.end());
    auto manifest = admin.get("/api/v1/players/" + firstPlayer + "/manifest");
    const std::size_t manifestBytes = manifest.status == 200 ? manifest.body.size() : 2048;
    const double floorMs = signingFloorMs(manifestBytes);
    const double median = times[times.size() / 2];
    std::cout << gPlayers << " players, manifest ~" << manifestBytes << " bytes\n"
              << "schedule create + fleet recompile: min " << times.front() << " ms, median " << median << " ms, max "
              << times.back() << " ms (" << gRounds << " rounds)\n"
              << "baseline, " << gPlayers << " Ed25519 signatures: " << floorMs << " ms\n"
              << "ratio (recompile median / signatures): " << median / floorMs << "x\n";
}

int main(int argc, char** argv) {
    bench::BenchArgs args("bench_recompile",
                          "One schedule change on a controller with an enrolled fleet: the time until the request\n"
                          "answers (the fleet's manifests recompiled and signed) against N bare signatures.");
    args.option("players", "enrolled screens", gPlayers, 1, 100000)
        .option("rounds", "schedule changes timed", gRounds, 1, 100);
    if (int rc = args.parse(argc, argv); rc >= 0) return rc;
    Catch::Session session;
    const char* catchArgs[] = {argv[0], "[bench]"};
    if (int rc = session.applyCommandLine(2, catchArgs); rc != 0) return rc;
    return session.run() == 0 ? 0 : 1;
}
