// Failover between controller nodes (issue 13): two nodes on one PostgreSQL
// database, node A in this process and node B a real `microscape-controller`
// process; three real headless screens (`microscape-player run`) enrolled with
// both hubs, B's first. B is killed with SIGKILL while the screens upload proof
// of play; the screens move to A and carry on. Afterwards every journalled
// record is stored exactly once, the stored chains and the auditor's export
// verify offline, and no screen ever activated a manifest version lower than
// one it had.
#include <Poco/Data/SQLite/Connector.h>
#include <Poco/Data/Session.h>
#include <Poco/Net/ServerSocket.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <fstream>
#include <regex>
#include <vector>

#include "../support/process.hpp"
#include "microscape/core/crypto.hpp"
#include "microscape/core/json.hpp"
#include "microscape/core/pop.hpp"
#include "microscape/core/time.hpp"
#include "test_support.hpp"

using namespace microscape;
using namespace microscape::testing;
using namespace Poco::Data::Keywords;

namespace {

constexpr std::int64_t kDayMs = 86400000, kEast8Ms = 8 * 3600000;

std::int64_t wallMs() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}
// The Asia/Shanghai local date `offsetDays` from today's.
std::string localDate(int offsetDays) {
    return timeutil::formatDate(timeutil::civilFromDays((wallMs() + kEast8Ms) / kDayMs + offsetDays));
}

// A port nobody listens on now (the kernel's choice, released at once).
std::uint16_t freePort() {
    Poco::Net::ServerSocket s(Poco::Net::SocketAddress("127.0.0.1", 0));
    return s.address().port();
}

std::int64_t journalLastSeq(const fs::path& dir) {
    Poco::Data::Session s("SQLite", (dir / "state.db").string());
    Poco::Int64 last = 0;
    s << "SELECT COALESCE(MAX(seq), 0) FROM pop_records", into(last), now;
    return last;
}

// The manifest versions a screen's log says it activated, in order.
std::vector<std::int64_t> activatedVersions(const std::string& log) {
    static const std::regex kActive(R"(version (\d+) \([^)]*\) is active)");
    std::vector<std::int64_t> out;
    for (std::sregex_iterator it(log.begin(), log.end(), kActive), end; it != end; ++it)
        out.push_back(std::stoll((*it)[1].str()));
    return out;
}

// The node's view of a screen: online at its hub?
bool onlineAt(Client& node, const std::string& id) {
    try {
        auto r = node.get("/api/v1/players/" + id);
        return r.status == 200 && r.json()->getValue<bool>("online");
    } catch (const Poco::Exception&) {
        return false;
    }
}

struct Screen {
    fs::path dir, log;
    std::string id;
    std::unique_ptr<SpawnedProcess> proc;
    std::int64_t storedAtKill = 0;
    std::int64_t versionAtKill = 0;
};

}  // namespace

TEST_CASE("failover: kill -9 of a node during proof-of-play upload, screens move on, records stored once",
          "[controller][cluster][failover][e2e]") {
    if (::access(playerBin().c_str(), X_OK) != 0) {
        WARN("microscape-player not built; skipping");
        return;
    }
    Poco::Data::SQLite::Connector::registerConnector();
    const auto t0 = std::chrono::steady_clock::now();
    TempDir fx;
    const std::string url = sharedPgCluster().createDatabase();
    TestServer a([&](controller::ControllerConfig& c) {
        c.store = *controller::sql::parseStoreUrl(url, c.dataDir);
        c.zmqHeartbeatMs = 200;
    });

    // Node B: its own data directory with A's keys (the same hub and content keys)
    // and A's media directory, the same database, its own ports.
    const std::uint16_t bHttp = freePort(), bZmq = freePort();
    const std::string hubA = "tcp://127.0.0.1:" + std::to_string(a.zmqPort());
    const std::string hubB = "tcp://127.0.0.1:" + std::to_string(bZmq);
    const fs::path bDir = fx.path / "node-b";
    fs::create_directories(bDir);
    fs::permissions(bDir, fs::perms::owner_all);
    fs::copy(a.dataDir() / "keys", bDir / "keys", fs::copy_options::recursive);
    fs::create_directory_symlink(a.dataDir() / "media", bDir / "media");
    const fs::path bProps = fx.path / "node-b.properties";
    std::ofstream(bProps) << "controller.dataDir = " << bDir.string() << "\n"
                          << "http.bind = 127.0.0.1\nhttp.port = " << bHttp << "\n"
                          << "zmq.bind = 127.0.0.1\nzmq.port = " << bZmq << "\nzmq.heartbeatMs = 200\n"
                          << "store.url = " << url << "\nstore.poolSize = 4\nhttp.threads = 8\n"
                          << "cluster.hubEndpoints = " << hubB << ", " << hubA << "\n";
    const fs::path bLog = fx.path / "node-b.log";
    auto nodeB = std::make_unique<SpawnedProcess>(
        std::vector<std::string>{MICROSCAPE_CONTROLLER_BIN, "--config", bProps.string()}, bLog.string());
    REQUIRE(nodeB->running());
    // A offers both hubs at enrolment, B's first (so the screens start on B).
    a.restartWith([&](controller::ControllerConfig& c) { c.clusterHubEndpoints = {hubB, hubA}; });

    Client admin = a.admin();
    Client onB = admin.onPort(bHttp);
    {
        INFO("node B's log:\n" << readFile(bLog));
        REQUIRE(waitFor(
            [&] {
                try {
                    return onB.get("/api/v1/me").status == 200;
                } catch (const Poco::Exception&) {
                    return false;
                }
            },
            30000));
    }

    Client ed = a.userClient("ed", "editor", "ops");
    Client ap = a.userClient("ap", "approver");
    const int p1 = uploadApproved(ed, ap, makePng(fx.path, "A", 320, 180), "a.png");
    const int p2 = uploadApproved(ed, ap, makePng(fx.path, "B", 320, 180), "b.png");
    const int pl = createdId(ed.post("/api/v1/playlists", R"({"name":"p","items":[{"mediaId":)" + std::to_string(p1) +
                                                              R"(,"durationMs":1000},{"mediaId":)" +
                                                              std::to_string(p2) + R"(,"durationMs":1000}]})"));
    createdId(
        ed.post("/api/v1/schedules", R"({"name":"all","playlistId":)" + std::to_string(pl) +
                                         R"(,"startsOn":"2020-01-01","endsOn":"2099-12-31","target":{"all":true}})"));

    const std::vector<std::string> kPlay{"--log-level", "debug", "--width", "320", "--height", "180"};
    std::vector<Screen> screens(3);
    for (std::size_t i = 0; i < screens.size(); ++i) {
        auto& s = screens[i];
        s.dir = fx.path / ("screen-" + std::to_string(i));
        s.log = fx.path / ("screen-" + std::to_string(i) + ".log");
        s.id = enrollScreen(a, admin, s.dir);
        // The enrolment gave the screen both hubs, in the operator's order.
        auto cfg = json::parse(readFile(s.dir / "player.json"));
        REQUIRE(cfg.ok());
        REQUIRE(cfg->find("endpoints"));
        const auto& eps = cfg->find("endpoints")->asArray();
        REQUIRE(eps.size() == 2);
        CHECK(eps[0].asString() == hubB);
        CHECK(eps[1].asString() == hubA);
        s.proc = startScreen(s.dir, s.log, kPlay);
    }
    const auto cdb = a.storeUrl();
    auto logs = [&] {
        const std::string b = readFile(bLog);
        std::string all = "node B's log (tail):\n" + b.substr(b.size() > 4000 ? b.size() - 4000 : 0);
        for (auto& s : screens) {
            const std::string l = readFile(s.log);
            all += "\n" + s.id + " (tail):\n" + l.substr(l.size() > 4000 ? l.size() - 4000 : 0);
        }
        return all;
    };

    // Every screen plays and uploads through B.
    {
        INFO(logs());
        for (auto& s : screens) {
            REQUIRE(waitFor([&] { return onlineAt(onB, s.id); }, 60000));
            REQUIRE(waitFor([&] { return storedCount(cdb, s.id) >= 2; }, 60000));
        }
    }
    // In the middle of the upload: a batch of the first screen has just landed
    // (the others' are on their way) when B dies.
    const std::int64_t before = storedCount(cdb, screens[0].id);
    REQUIRE(waitFor([&] { return storedCount(cdb, screens[0].id) > before; }, 30000));
    const int st = nodeB->kill(SIGKILL);
    CHECK(WIFSIGNALED(st));
    const auto killedAt = std::chrono::steady_clock::now();
    for (auto& s : screens) {
        s.storedAtKill = storedCount(cdb, s.id);
        auto v = activatedVersions(readFile(s.log));
        s.versionAtKill = v.empty() ? 0 : v.back();
        CHECK(s.versionAtKill > 0);
    }

    // The screens move to A and their records keep arriving.
    {
        INFO(logs());
        for (auto& s : screens) REQUIRE(waitFor([&] { return onlineAt(admin, s.id); }, 30000));
        const double ms =
            std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - killedAt).count();
        WARN("all three screens online at node A " << ms << " ms after node B was killed");
        for (auto& s : screens) REQUIRE(waitFor([&] { return storedCount(cdb, s.id) >= s.storedAtKill + 2; }, 30000));
    }
    // A change made through A after the failover reaches every screen, as a higher version.
    auto tk = ed.post("/api/v1/takeovers", R"({"name":"紧急提醒","playlistId":)" + std::to_string(pl) +
                                               R"(,"target":{"all":true},"durationSeconds":600})");
    INFO(tk.body);
    REQUIRE(tk.status == 201);
    {
        INFO(logs());
        for (auto& s : screens)
            REQUIRE(waitFor(
                [&] {
                    auto v = activatedVersions(readFile(s.log));
                    return !v.empty() && v.back() > s.versionAtKill;
                },
                30000));
    }

    // The screens stop (the play on air is journalled as interrupted), then a
    // sync-only run of each uploads whatever its journal still holds.
    for (auto& s : screens) CHECK(WIFEXITED(s.proc->kill(SIGTERM)));
    for (auto& s : screens) s.proc = startScreen(s.dir, s.log, {"--log-level", "debug", "--no-playback"});
    for (auto& s : screens) {
        const std::int64_t last = journalLastSeq(s.dir);
        INFO(logs());
        REQUIRE(waitFor([&] { return storedCount(cdb, s.id) == last; }, 60000));
    }
    for (auto& s : screens) s.proc->kill(SIGTERM);

    for (auto& s : screens) {
        INFO("screen " << s.id);
        // Manifest versions only ever went up on the screen.
        const auto versions = activatedVersions(readFile(s.log));
        for (std::size_t i = 1; i < versions.size(); ++i) CHECK(versions[i] > versions[i - 1]);
        // Every journalled seq 1..N stored exactly once, and the stored chain verifies.
        const std::int64_t last = journalLastSeq(s.dir);
        CHECK(last > s.storedAtKill);
        auto stored = storedProofs(cdb, s.id);
        REQUIRE(static_cast<std::int64_t>(stored.seqs.size()) == last);
        std::vector<pop::Record> records;
        for (std::size_t i = 0; i < stored.seqs.size(); ++i) {
            CHECK(stored.seqs[i] == static_cast<std::int64_t>(i + 1));
            auto r = pop::parseRecord(stored.records[i]);
            REQUIRE(r.ok());
            records.push_back(*r);
        }
        std::vector<pop::Checkpoint> checkpoints;
        for (const auto& c : stored.checkpoints) {
            auto cp = pop::parseCheckpoint(c);
            REQUIRE(cp.ok());
            checkpoints.push_back(*cp);
        }
        auto key = crypto::PrivateKey::load((s.dir / "keys/identity.pem").string());
        REQUIRE(key.ok());
        auto report = pop::verifyChain(s.id, records, checkpoints, key->publicKey());
        std::string findings;
        for (const auto& f : report.findings) findings += f.str() + "\n";
        INFO(findings);
        CHECK(report.ok());
        CHECK(report.lastSeq == last);
    }

    // The auditor's export of the period verifies offline.
    Client auditor = a.userClient("auditor1", "auditor");
    auto exp = auditor.get("/api/v1/audit/export?from=" + localDate(-1) + "T00:00:00%2B08:00&to=" + localDate(2) +
                           "T00:00:00%2B08:00");
    REQUIRE(exp.status == 200);
    const auto tarPath = fx.path / "export.tar";
    std::ofstream(tarPath, std::ios::binary) << exp.body;
    auto cli = runProcess({MICROSCAPE_PACK_BIN, "audit", "--pub",
                           (a.dataDir() / "keys" / "content-signing.pub.pem").string(), tarPath.string()});
    INFO(cli.out << cli.err);
    CHECK(cli.exitCode == 0);
    WARN("failover test took " << std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() << " s");
}
