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

using namespace microscape::testing;
using namespace Poco::Data::Keywords;
using microscape::testing::runProcess;
namespace pop = microscape::pop;

namespace {

const std::vector<std::string> kPlay{"--log-level", "debug", "--width", "320", "--height", "180"};
const std::vector<std::string> kSyncOnly{"--log-level", "debug", "--no-playback"};

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
    createdId(
        ed.post("/api/v1/schedules", R"({"name":"all","playlistId":)" + std::to_string(pl) +
                                         R"(,"startsOn":"2020-01-01","endsOn":"2099-12-31","target":{"all":true}})"));

    const fs::path dir = fx.path / "player";
    const std::string id = enrollScreen(srv, admin, dir);
    const auto cdb = srv.storeUrl();
    const fs::path logPath = fx.path / "player.log";
    auto playerLog = [&] { return readFile(logPath); };

    const auto t0 = std::chrono::steady_clock::now();
    auto first = startScreen(dir, logPath, kPlay);
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
    auto second = startScreen(dir, logPath, kPlay);
    {
        INFO("player log:\n" << playerLog());
        REQUIRE(waitFor([&] { return storedCount(cdb, id) >= beforeKill + 3; }, 15000));
    }
    CHECK(WIFEXITED(second->kill(SIGTERM)));  // stops cleanly: the play on air is journalled as interrupted

    // Whatever the journal holds reaches the controller (a sync-only run uploads it).
    const std::int64_t last = journalLastSeq(dir);
    REQUIRE(last >= beforeKill + 3);
    auto third = startScreen(dir, logPath, kSyncOnly);
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
    // One chained checkpoint per stored batch: contiguous, none overlapping,
    // each naming the one before (verifyChain reports any other shape).
    for (const auto& cp : checkpoints) CHECK(cp.format == 2);
    auto report = pop::verifyChain(id, records, checkpoints, key->publicKey());
    std::string findings;
    for (const auto& f : report.findings) findings += f.str() + "\n";
    INFO(report.findings.size() << " findings:\n" << findings);
    CHECK(report.ok());
    CHECK(report.lastSeq == last);
}
