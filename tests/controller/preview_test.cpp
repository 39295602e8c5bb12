// GET /api/v1/players/{id}/preview against an in-process controller and a real
// headless microscape-player: a fresh screenshot through the hub, the 60 s cache,
// one command for many requests, the last shot (with its age) once the screen is
// offline, the copy on disk, and 404 without any shot.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <thread>
#include <vector>

#include "../support/process.hpp"
#include "microscape/core/crypto.hpp"
#include "microscape/core/json.hpp"
#include "microscape/core/time.hpp"
#include "test_support.hpp"

using namespace microscape::testing;
using microscape::testing::runProcess;

namespace {

bool isPng(const std::string& b) {
    return b.size() > 8 && b.compare(0, 8, "\x89PNG\r\n\x1a\n") == 0;
}

std::size_t count(const std::string& text, const std::string& what) {
    std::size_t n = 0;
    for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
    return n;
}

fs::path previewFile(const TestServer& srv, const std::string& playerId) {
    return srv.dataDir() / "previews" / (microscape::crypto::sha256Hex(playerId).substr(0, 32) + ".png");
}

}  // namespace

TEST_CASE(
    "a screen preview is its latest screenshot asked for through the hub and cached for a minute and kept when offline",
    "[controller][player][preview][e2e]") {
    if (::access(playerBin().c_str(), X_OK) != 0) {
        WARN("microscape-player not built; skipping");
        return;
    }
    TestServer srv([](auto& c) { c.zmqHeartbeatMs = 200; });
    TempDir fx;
    Client admin = srv.admin();
    Client ed = srv.userClient("ed", "editor", "ops");
    Client ap = srv.userClient("ap", "approver");
    Client auditor = srv.userClient("au", "auditor");
    const int a = uploadApproved(ed, ap, makePng(fx.path, "A", 320, 180), "a.png");
    const int pl = createdId(ed.post(
        "/api/v1/playlists", R"({"name":"p","items":[{"mediaId":)" + std::to_string(a) + R"(,"durationMs":5000}]})"));
    createdId(
        ed.post("/api/v1/schedules", R"({"name":"all","playlistId":)" + std::to_string(pl) +
                                         R"(,"startsOn":"2020-01-01","endsOn":"2099-12-31","target":{"all":true}})"));

    CHECK(auditor.get("/api/v1/players/scr-nosuchscreen/preview").status == 404);
    const fs::path dir = fx.path / "player";
    const std::string id = enrollScreen(srv, admin, dir);
    const std::string route = "/api/v1/players/" + id + "/preview";
    // Enrolled, never run: no shot at all.
    auto none = auditor.get(route);
    CHECK(none.status == 404);
    CHECK(none.errorCode() == "not_found");

    const fs::path logPath = fx.path / "player.log";
    auto screen = startScreen(dir, logPath, {"--width", "320", "--height", "180", "--log-level", "information"});
    INFO("player log:\n" << readFile(logPath));
    REQUIRE(waitFor([&] { return admin.get("/api/v1/players/" + id).body.find("\"playing\"") != std::string::npos; },
                    20000));

    // Online and playing: any signed-in user gets a fresh screenshot.
    Response first;
    REQUIRE(waitFor(
        [&] {
            first = auditor.get(route);
            return first.status == 200;
        },
        15000));
    CHECK(first.headers["content-type"] == "image/png");
    CHECK(isPng(first.body));
    const std::string takenAt = first.headers["x-preview-taken-at"];
    REQUIRE(takenAt.size() >= 20);
    CHECK(first.headers["cache-control"] == "no-store");
    // Kept on disk as well, byte for byte.
    CHECK(readFile(previewFile(srv, id)) == first.body);

    // Younger than a minute: the same shot, and the screen is not asked again.
    const std::size_t asked = count(readFile(logPath), "(screenshot)");
    CHECK(asked >= 1);
    auto again = auditor.get(route);
    CHECK(again.status == 200);
    CHECK(again.body == first.body);
    CHECK(again.headers["x-preview-taken-at"] == takenAt);

    // Older than a minute: many requests at once send one command and all get its answer.
    srv.advanceClock(61 * 1000);
    std::vector<Response> got(4);
    std::vector<std::thread> threads;
    for (auto& g : got) threads.emplace_back([&g, c = auditor, &route]() mutable { g = c.get(route); });
    for (auto& t : threads) t.join();
    for (auto& g : got) {
        CHECK(g.status == 200);
        CHECK(isPng(g.body));
        CHECK(g.headers["x-preview-taken-at"] != takenAt);
        CHECK(g.headers["x-preview-taken-at"] == got[0].headers["x-preview-taken-at"]);
    }
    REQUIRE(waitFor([&] { return count(readFile(logPath), "(screenshot)") >= asked + 1; }, 5000));
    // One more, a minute later, as a marker: the screen takes its commands in
    // order, so when the marker's shot is in its log any extra command the four
    // requests might have sent would be there before it.
    srv.advanceClock(61 * 1000);
    Response latest = auditor.get(route);
    CHECK(latest.status == 200);
    CHECK(latest.headers["x-preview-taken-at"] != got[0].headers["x-preview-taken-at"]);
    REQUIRE(waitFor([&] { return count(readFile(logPath), "(screenshot)") >= asked + 2; }, 5000));
    CHECK(count(readFile(logPath), "(screenshot)") == asked + 2);

    // Offline: the last shot, with its age.
    screen->kill(SIGKILL);
    REQUIRE(waitFor([&] { return !admin.get("/api/v1/players/" + id).json()->getValue<bool>("online"); }, 5000));
    srv.advanceClock(300 * 1000);
    auto old = auditor.get(route);
    CHECK(old.status == 200);
    CHECK(old.body == latest.body);
    CHECK(old.headers["x-preview-taken-at"] == latest.headers["x-preview-taken-at"]);
    CHECK(std::stoll(old.headers["x-preview-age-seconds"]) >= 300);

    // A shot left on disk (as after a restart) is served with its file time.
    const std::string other = enrollScreen(srv, admin, fx.path / "other");
    const fs::path file = previewFile(srv, other);
    fs::create_directories(file.parent_path());
    { std::ofstream(file, std::ios::binary) << first.body; }
    const std::chrono::sys_seconds jan2{std::chrono::sys_days{std::chrono::year{2026} / 1 / 2}};
    fs::last_write_time(file, std::chrono::file_clock::from_sys(jan2));
    auto stored = auditor.get("/api/v1/players/" + other + "/preview");
    CHECK(stored.status == 200);
    CHECK(stored.body == first.body);
    // The file's time as this process reads it back: 2026-01-02T00:00:00Z, or that
    // moved by libfaketime's offset under tests/deploy/fixed_instants.sh (it shifts
    // what stat() reports, for the controller as for this test).
    const auto readBack = std::chrono::file_clock::to_sys(fs::last_write_time(file));
    CHECK(stored.headers["x-preview-taken-at"] ==
          microscape::timeutil::formatUtc(
              std::chrono::duration_cast<std::chrono::milliseconds>(readBack.time_since_epoch()).count()));
    if (!std::getenv("FAKETIME")) CHECK(stored.headers["x-preview-taken-at"] == "2026-01-02T00:00:00Z");
}
