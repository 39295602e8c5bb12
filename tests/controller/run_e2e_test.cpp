// `microscape-player run` as a whole screen against an in-process controller:
// enrol, fetch, play the schedule headless, journal every play and upload the
// records. A kill -9 mid-way and a restart lose nothing: every seq 1..N reaches
// the controller exactly once and the stored chain verifies.
#include <Poco/Data/SQLite/Connector.h>
#include <Poco/Data/Session.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <thread>
#include <vector>

#include "../support/process.hpp"
#include "microscape/core/crypto.hpp"
#include "microscape/core/json.hpp"
#include "microscape/core/pop.hpp"
#include "test_support.hpp"

using namespace mstest;
using namespace Poco::Data::Keywords;
using microscape::testing::runProcess;
namespace pop = microscape::pop;

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

// A background `microscape-player run`, stopped when it goes out of scope.
struct RunProcess {
    pid_t pid = -1;
    RunProcess(const fs::path& dir, const fs::path& log, bool playback) {
        const std::string bin = playerBin(), logFile = log.string();
        std::vector<std::string> args{bin, "run", "--data-dir", dir.string(), "--log-level", "debug"};
        if (playback) {
            for (const char* x : {"--width", "320", "--height", "180"}) args.push_back(x);
        } else {
            args.push_back("--no-playback");
        }
        std::vector<char*> argv;
        for (auto& x : args) argv.push_back(x.data());
        argv.push_back(nullptr);
        // posix_spawn, not fork: no atfork handlers or inherited signal handlers
        // run in a copy of this multi-threaded process before the exec.
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_addopen(&fa, 1, logFile.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
        posix_spawn_file_actions_adddup2(&fa, 1, 2);
        // Do not inherit the test's sockets (the controller's listeners).
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
    int kill(int sig) {
        if (pid <= 0) return -1;
        ::kill(pid, sig);
        int st = 0;
        ::waitpid(pid, &st, 0);
        pid = -1;
        return st;
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

struct Stored {
    std::vector<Poco::Int64> seqs;
    std::vector<std::string> records;
    std::vector<std::string> checkpoints;
};

// What the controller stored for the player (its own database, read-only use).
Stored storedProofs(const fs::path& controllerDb, const std::string& playerId) {
    Poco::Data::Session s("SQLite", controllerDb.string());
    Stored out;
    std::string id = playerId;
    s << "SELECT seq, record FROM pop_records WHERE player_id = ? ORDER BY seq", use(id), into(out.seqs),
        into(out.records), now;
    std::string id2 = playerId;
    s << "SELECT checkpoint FROM pop_checkpoints WHERE player_id = ? ORDER BY last_seq", use(id2),
        into(out.checkpoints), now;
    return out;
}

std::int64_t storedCount(const fs::path& controllerDb, const std::string& playerId) {
    return static_cast<std::int64_t>(storedProofs(controllerDb, playerId).seqs.size());
}

// The last seq the player's journal wrote (the player is not running).
std::int64_t journalLastSeq(const fs::path& dir) {
    Poco::Data::Session s("SQLite", (dir / "state.db").string());
    Poco::Int64 last = 0;
    s << "SELECT COALESCE(MAX(seq), 0) FROM pop_records", into(last), now;
    return last;
}

}  // namespace

TEST_CASE("a running player plays its schedule and the controller stores every play record once, across a kill -9",
          "[controller][player][run][e2e]") {
    if (::access(playerBin().c_str(), X_OK) != 0) {
        WARN("microscape-player not built; skipping");
        return;
    }
    Poco::Data::SQLite::Connector::registerConnector();
    TestServer srv([](auto& c) { c.zmqHeartbeatMs = 200; });
    TempDir fx;
    Client admin = srv.admin();
    Client ed = srv.userClient("ed", "editor", "ops");
    Client ap = srv.userClient("ap", "approver");
    const int a = uploadApproved(ed, ap, makePng(fx.path, "A", 320, 180), "a.png");
    const int b = uploadApproved(ed, ap, makePng(fx.path, "B", 320, 180), "b.png");
    const int pl = createdId(ed.post("/api/v1/playlists", R"({"name":"p","items":[{"mediaId":)" + std::to_string(a) +
                                                              R"(,"durationMs":1000},{"mediaId":)" + std::to_string(b) +
                                                              R"(,"durationMs":1000}]})"));
    createdId(ed.post("/api/v1/schedules", R"({"name":"all","playlistId":)" + std::to_string(pl) +
                                               R"(,"startsOn":"2020-01-01","endsOn":"2099-12-31","target":{"all":true}})"));

    const fs::path dir = fx.path / "player";
    const std::string id = enrolCli(srv, admin, dir);
    const fs::path cdb = srv.dataDir() / "controller.db";
    const fs::path logPath = fx.path / "player.log";
    auto playerLog = [&] { return readFile(logPath); };

    const auto t0 = std::chrono::steady_clock::now();
    auto first = std::make_unique<RunProcess>(dir, logPath, true);
    {
        INFO("player log:\n" << playerLog());
        REQUIRE(waitFor([&] { return storedCount(cdb, id) >= 2; }, 15000));
    }
    // The controller shows what is playing (STATUS carries the engine's state).
    REQUIRE(waitFor(
        [&] {
            auto r = admin.get("/api/v1/players/" + id);
            if (r.status != 200) return false;
            return r.body.find("\"playing\"") != std::string::npos;
        },
        5000));
    CHECK(fs::exists(dir / "preview.png"));

    // Power cut mid-play, then the screen comes back.
    first->kill(SIGKILL);
    const std::int64_t beforeKill = storedCount(cdb, id);
    auto second = std::make_unique<RunProcess>(dir, logPath, true);
    {
        INFO("player log:\n" << playerLog());
        REQUIRE(waitFor([&] { return storedCount(cdb, id) >= beforeKill + 3; }, 15000));
    }
    CHECK(WIFEXITED(second->kill(SIGTERM)));  // stops cleanly: the play on air is journalled as interrupted

    // Whatever the journal holds reaches the controller (a sync-only run uploads it).
    const std::int64_t last = journalLastSeq(dir);
    REQUIRE(last >= beforeKill + 3);
    auto third = std::make_unique<RunProcess>(dir, logPath, false);
    {
        INFO("player log:\n" << playerLog());
        REQUIRE(waitFor([&] { return storedCount(cdb, id) == last; }, 10000));
    }
    third->kill(SIGTERM);
    WARN(last << " play records stored in "
              << std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() << " s");

    // Every seq 1..N exactly once, and the stored chain verifies under the player's key.
    auto st = storedProofs(cdb, id);
    REQUIRE(static_cast<std::int64_t>(st.seqs.size()) == last);
    std::vector<pop::Record> records;
    for (std::size_t i = 0; i < st.seqs.size(); ++i) {
        CHECK(st.seqs[i] == static_cast<Poco::Int64>(i + 1));
        auto r = pop::parseRecord(st.records[i]);
        REQUIRE(r.ok());
        CHECK(r->seq == st.seqs[i]);
        CHECK(r->playerId == id);
        records.push_back(*r);
    }
    std::vector<pop::Checkpoint> checkpoints;
    for (const auto& c : st.checkpoints) {
        auto cp = pop::parseCheckpoint(c);
        REQUIRE(cp.ok());
        checkpoints.push_back(*cp);
    }
    auto key = microscape::crypto::PrivateKey::load((dir / "keys/identity.pem").string());
    REQUIRE(key.ok());
    auto report = pop::verifyChain(id, records, checkpoints, key->publicKey());
    INFO(report.findings.size() << " findings");
    CHECK(report.ok());
    CHECK(report.lastSeq == last);
}
