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
#include <fstream>
#include <thread>
#include <vector>

#include "../support/process.hpp"
#include "microscape/core/crypto.hpp"
#include "microscape/core/json.hpp"
#include "test_support.hpp"

using namespace mstest;
using microscape::testing::runProcess;

namespace {

std::string enrolCli(TestServer& srv, Client& admin, const fs::path& dir) {
    auto t = admin.post("/api/v1/enrollment-tokens", R"({"name":"screen"})");
    REQUIRE(t.status == 201);
    auto r = runProcess({playerBin(), "enroll", "--controller-http", "http://127.0.0.1:" + std::to_string(srv.port()),
                         "--token", t.json()->getValue<std::string>("token"), "--data-dir", dir.string()});
    INFO(r.out << r.err);
    REQUIRE(r.exitCode == 0);
    auto cfg = microscape::json::parse(readFile(dir / "player.json"));
    REQUIRE(cfg.ok());
    return cfg->find("player_id")->asString();
}

// A background `microscape-player run --headless 320x180`, stopped when it goes out of scope.
struct RunProcess {
    pid_t pid = -1;
    RunProcess(const fs::path& dir, const fs::path& log) {
        const std::string bin = playerBin(), logFile = log.string();
        std::vector<std::string> args{bin,       "run", "--data-dir", dir.string(), "--width", "320",
                                      "--height", "180", "--log-level", "information"};
        std::vector<char*> argv;
        for (auto& x : args) argv.push_back(x.data());
        argv.push_back(nullptr);
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_addopen(&fa, 1, logFile.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
        posix_spawn_file_actions_adddup2(&fa, 1, 2);
        posix_spawn_file_actions_addclosefrom_np(&fa, 3);
        posix_spawnattr_t attr;
        posix_spawnattr_init(&attr);
        sigset_t none, all;
        sigemptyset(&none);
        sigfillset(&all);
        posix_spawnattr_setsigmask(&attr, &none);
        posix_spawnattr_setsigdefault(&attr, &all);
        posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
        if (::posix_spawn(&pid, bin.c_str(), &fa, &attr, argv.data(), environ) != 0) pid = -1;
        posix_spawnattr_destroy(&attr);
        posix_spawn_file_actions_destroy(&fa);
    }
    void kill(int sig) {
        if (pid <= 0) return;
        ::kill(pid, sig);
        int st = 0;
        ::waitpid(pid, &st, 0);
        pid = -1;
    }
    ~RunProcess() { kill(SIGTERM); }
};

template <class F>
bool waitFor(F&& f, int timeoutMs) {
    const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeoutMs);
    while (std::chrono::steady_clock::now() < until) {
        if (f()) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return f();
}

bool isPng(const std::string& b) { return b.size() > 8 && b.compare(0, 8, "\x89PNG\r\n\x1a\n") == 0; }

std::size_t count(const std::string& text, const std::string& what) {
    std::size_t n = 0;
    for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
    return n;
}

fs::path previewFile(const TestServer& srv, const std::string& playerId) {
    return srv.dataDir() / "previews" / (microscape::crypto::sha256Hex(playerId).substr(0, 32) + ".png");
}

}  // namespace

TEST_CASE("a screen preview is its latest screenshot asked for through the hub and cached for a minute and kept when offline",
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
    const int pl = createdId(ed.post("/api/v1/playlists", R"({"name":"p","items":[{"mediaId":)" + std::to_string(a) +
                                                              R"(,"durationMs":5000}]})"));
    createdId(ed.post("/api/v1/schedules", R"({"name":"all","playlistId":)" + std::to_string(pl) +
                                               R"(,"startsOn":"2020-01-01","endsOn":"2099-12-31","target":{"all":true}})"));

    CHECK(auditor.get("/api/v1/players/scr-nosuchscreen/preview").status == 404);
    const fs::path dir = fx.path / "player";
    const std::string id = enrolCli(srv, admin, dir);
    const std::string route = "/api/v1/players/" + id + "/preview";
    // Enrolled, never run: no shot at all.
    auto none = auditor.get(route);
    CHECK(none.status == 404);
    CHECK(none.errorCode() == "not_found");

    const fs::path logPath = fx.path / "player.log";
    auto screen = std::make_unique<RunProcess>(dir, logPath);
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
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    CHECK(count(readFile(logPath), "(screenshot)") == asked + 1);
    Response latest = got[0];

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
    const std::string other = enrolCli(srv, admin, fx.path / "other");
    const fs::path file = previewFile(srv, other);
    fs::create_directories(file.parent_path());
    { std::ofstream(file, std::ios::binary) << first.body; }
    const std::chrono::sys_seconds jan2{std::chrono::sys_days{std::chrono::year{2026} / 1 / 2}};
    fs::last_write_time(file, std::chrono::file_clock::from_sys(jan2));
    auto stored = auditor.get("/api/v1/players/" + other + "/preview");
    CHECK(stored.status == 200);
    CHECK(stored.body == first.body);
    CHECK(stored.headers["x-preview-taken-at"] == "2026-01-02T00:00:00Z");
}
