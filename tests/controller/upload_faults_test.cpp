// Proof-of-play upload under faults: a real `microscape-player run` plays and
// uploads its records to a real controller through a TCP relay written here,
// which cuts every connection at random moments (PROOFS and PROOFS_ACK are lost
// in flight); then the controller is stopped and started again on the same
// data directory and ports, twice, in the middle of the upload. Afterwards every
// seq 1..N of the player is stored exactly once and the stored chain verifies.
// A batch caught in flight by a short controller restart (ZeroMQ reconnects by
// itself, the new controller asks for HELLO) is sent again on the new session,
// not only after the player's ack timeout.
// Also: a screen enrolled with its size (an LED strip, a portrait panel) keeps
// it in player.json, shows it in `status`, and the controller stores it.
#include <Poco/Data/SQLite/Connector.h>
#include <Poco/Data/Session.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

#include "../support/process.hpp"
#include "microscape/controller/db.hpp"
#include "microscape/core/crypto.hpp"
#include "microscape/core/json.hpp"
#include "microscape/core/pop.hpp"
#include "test_support.hpp"

using namespace microscape::testing;
using namespace Poco::Data::Keywords;
using microscape::testing::runProcess;
namespace pop = microscape::pop;

namespace {

const std::vector<std::string> kPlay{"--log-level", "debug", "--headless", "--width", "320", "--height", "180"};
const std::vector<std::string> kSyncOnly{"--log-level", "debug", "--no-playback"};

// A TCP relay on 127.0.0.1:<ephemeral> to 127.0.0.1:targetPort. While chaos is
// on, it resets every open connection at random moments, and each read of data
// is, by chance, thrown away with its connection reset (so whatever message it
// held, a PROOFS or a PROOFS_ACK, is lost in flight). A client whose target
// refuses (the controller is down) is closed at once.
class ChaosRelay {
  public:
    explicit ChaosRelay(std::uint16_t targetPort) : target_(targetPort) {
        listen_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        int one = 1;
        ::setsockopt(listen_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        REQUIRE(::bind(listen_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
        REQUIRE(::listen(listen_, 16) == 0);
        socklen_t len = sizeof a;
        ::getsockname(listen_, reinterpret_cast<sockaddr*>(&a), &len);
        port_ = ntohs(a.sin_port);
        thread_ = std::thread([this] { run(); });
    }
    ~ChaosRelay() {
        stop_ = true;
        thread_.join();
        for (auto& p : pairs_) closePair(p, false);
        ::close(listen_);
    }
    std::uint16_t port() const { return port_; }
    // Cut all connections every minMs..maxMs (0, 0: never), and drop a read of
    // data with its connection with probability dropChance. With ambushChance,
    // a large read from the player (a PROOFS batch; heartbeats are small) is
    // passed on and the controller's next answer (its PROOFS_ACK) is thrown
    // away with the connection: the batch is stored, the player never hears so.
    void chaos(int minMs, int maxMs, double dropChance = 0, double ambushChance = 0) {
        std::lock_guard lock(m_);
        minMs_ = minMs;
        maxMs_ = maxMs;
        dropChance_ = dropChance;
        ambushChance_ = ambushChance;
        nextCut_ = std::chrono::steady_clock::now() + std::chrono::milliseconds(minMs);
    }
    int cuts() const { return cuts_.load(); }
    int drops() const { return drops_.load(); }
    int ambushes() const { return ambushes_.load(); }
    // While held, nothing from the player is read (it waits in the socket and is
    // lost if the connection closes); the controller's messages still pass.
    void hold(bool on) { hold_ = on; }
    int accepted() const { return accepted_.load(); }
    std::int64_t bytes() const { return bytes_.load(); }

  private:
    struct Pair {
        int a = -1, b = -1;   // client side, controller side
        bool ambush = false;  // drop the controller's next read with the connection
    };
    static constexpr ssize_t kLargeReadBytes = 600;

    static void closePair(Pair& p, bool reset) {
        for (int fd : {p.a, p.b}) {
            if (fd < 0) continue;
            if (reset) {  // RST, not FIN: whatever is in flight is gone
                linger l{1, 0};
                ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
            }
            ::close(fd);
        }
        p.a = p.b = -1;
    }

    static bool writeAll(int fd, const char* data, ssize_t n) {
        while (n > 0) {
            ssize_t w = ::send(fd, data, static_cast<std::size_t>(n), MSG_NOSIGNAL);
            if (w <= 0) return false;
            data += w;
            n -= w;
        }
        return true;
    }

    void run() {
        std::mt19937 rng(20260415);
        char buf[65536];
        while (!stop_) {
            std::vector<pollfd> fds{{listen_, POLLIN, 0}};
            for (auto& p : pairs_) {
                fds.push_back({p.a, static_cast<short>(hold_ ? 0 : POLLIN), 0});
                fds.push_back({p.b, POLLIN, 0});
            }
            ::poll(fds.data(), fds.size(), 20);
            if (fds[0].revents & POLLIN) {
                int c = ::accept4(listen_, nullptr, nullptr, SOCK_CLOEXEC);
                if (c >= 0) {
                    int t = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
                    sockaddr_in a{};
                    a.sin_family = AF_INET;
                    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
                    a.sin_port = htons(target_);
                    if (::connect(t, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
                        int one = 1;
                        ::setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                        ::setsockopt(t, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                        pairs_.push_back({c, t});
                        ++accepted_;
                    } else {
                        ::close(t);
                        ::close(c);
                    }
                }
            }
            double chance = 0, ambush = 0;
            {
                std::lock_guard lock(m_);
                chance = dropChance_;
                ambush = ambushChance_;
            }
            auto roll = [&](double p) { return p > 0 && std::uniform_real_distribution<double>(0, 1)(rng) < p; };
            // Only the pairs that were polled: one accepted above has no revents yet.
            const std::size_t polled = (fds.size() - 1) / 2;
            for (std::size_t i = 0; i < polled; ++i) {
                auto& p = pairs_[i];
                const pollfd& fa = fds[1 + 2 * i];
                const pollfd& fb = fds[2 + 2 * i];
                bool dead = false, reset = false;
                for (auto [from, to, ev] : {std::tuple{p.a, p.b, fa.revents}, std::tuple{p.b, p.a, fb.revents}}) {
                    if (dead || !(ev & (POLLIN | POLLHUP | POLLERR))) continue;
                    ssize_t n = ::recv(from, buf, sizeof buf, 0);
                    const bool fromPlayer = from == p.a;
                    if (n > 0 && !fromPlayer && p.ambush) {
                        ++ambushes_;
                        dead = reset = true;
                    } else if (n > 0 && roll(chance)) {
                        ++drops_;
                        dead = reset = true;
                    } else if (n <= 0 || !writeAll(to, buf, n)) {
                        dead = true;
                    } else {
                        bytes_ += n;
                        if (fromPlayer && n >= kLargeReadBytes && roll(ambush)) p.ambush = true;
                    }
                }
                if (dead) closePair(p, reset);
            }
            pairs_.erase(std::remove_if(pairs_.begin(), pairs_.end(), [](const Pair& p) { return p.a < 0; }),
                         pairs_.end());
            std::lock_guard lock(m_);
            if (maxMs_ > 0 && std::chrono::steady_clock::now() >= nextCut_) {
                if (!pairs_.empty()) ++cuts_;
                for (auto& p : pairs_) closePair(p, true);
                pairs_.clear();
                std::uniform_int_distribution<int> gap(minMs_, maxMs_);
                nextCut_ = std::chrono::steady_clock::now() + std::chrono::milliseconds(gap(rng));
            }
        }
    }

    std::uint16_t target_;
    std::uint16_t port_ = 0;
    int listen_ = -1;
    std::vector<Pair> pairs_;  // relay thread only
    std::atomic<bool> stop_{false};
    std::atomic<bool> hold_{false};
    std::atomic<int> cuts_{0}, drops_{0}, ambushes_{0}, accepted_{0};
    std::atomic<std::int64_t> bytes_{0};
    std::mutex m_;  // guards minMs_, maxMs_, dropChance_, ambushChance_, nextCut_
    int minMs_ = 0, maxMs_ = 0;
    double dropChance_ = 0, ambushChance_ = 0;
    std::chrono::steady_clock::time_point nextCut_;
    std::thread thread_;
};

std::int64_t journalLastSeq(const fs::path& dir) {
    Poco::Data::Session s("SQLite", (dir / "state.db").string());
    Poco::Int64 last = 0;
    s << "SELECT COALESCE(MAX(seq), 0) FROM pop_records", into(last), now;
    return last;
}

// PROOFS batches the player sent again (first seq not above an earlier batch's
// last): their earlier copy or its ack was lost, or came too late.
std::int64_t resentBatches(const std::string& log) {
    std::int64_t resent = 0, highest = 0;
    const std::string marker = ": PROOFS ";
    for (auto at = log.find(marker); at != std::string::npos; at = log.find(marker, at + 1)) {
        long long first = 0, last = 0;
        if (std::sscanf(log.c_str() + at + marker.size(), "%lld..%lld sent", &first, &last) != 2) continue;
        if (first <= highest) ++resent;
        highest = std::max<std::int64_t>(highest, last);
    }
    return resent;
}

std::int64_t countOf(const std::string& text, const std::string& what) {
    std::int64_t n = 0;
    for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
    return n;
}

// Two approved posters on a playlist of 1 s items, scheduled everywhere.
void scheduleTwoPosters(TestServer& srv, const fs::path& dir) {
    Client ed = srv.userClient("ed", "editor", "ops");
    Client ap = srv.userClient("ap", "approver");
    const int a = uploadApproved(ed, ap, makePng(dir, "反诈", 320, 180), "a.png");
    const int b = uploadApproved(ed, ap, makePng(dir, "禁毒", 320, 180), "b.png");
    const int pl = createdId(ed.post("/api/v1/playlists", R"({"name":"p","items":[{"mediaId":)" + std::to_string(a) +
                                                              R"(,"durationMs":1000},{"mediaId":)" + std::to_string(b) +
                                                              R"(,"durationMs":1000}]})"));
    createdId(
        ed.post("/api/v1/schedules", R"({"name":"all","playlistId":)" + std::to_string(pl) +
                                         R"(,"startsOn":"2020-01-01","endsOn":"2099-12-31","target":{"all":true}})"));
}

// The last seq of the last PROOFS the log shows sent (0: none).
std::int64_t lastSentSeq(const std::string& log) {
    const std::string marker = ": PROOFS ";
    auto at = log.rfind(marker);
    long long first = 0, last = 0;
    if (at == std::string::npos || std::sscanf(log.c_str() + at + marker.size(), "%lld..%lld sent", &first, &last) != 2)
        return 0;
    return last;
}

}  // namespace

TEST_CASE("a batch in flight when the controller restarts is sent again on the new session",
          "[controller][player][upload][faults]") {
    if (::access(playerBin().c_str(), X_OK) != 0) {
        WARN("microscape-player not built; skipping");
        return;
    }
    Poco::Data::SQLite::Connector::registerConnector();
    // Heartbeats of 1 s: the restart below is far shorter than the 3 s after
    // which the player calls the link lost, so ZeroMQ re-makes the connection by
    // itself and the new controller asks for HELLO.
    TestServer srv([](auto& c) { c.zmqHeartbeatMs = 1000; });
    TempDir fx;
    Client admin = srv.admin();
    scheduleTwoPosters(srv, fx.path);
    ChaosRelay relay(srv.zmqPort());
    const fs::path dir = fx.path / "player";
    const std::string id = enrollScreen(srv, admin, dir, R"({"name":"screen"})",
                                        {"--hub-endpoint", "tcp://127.0.0.1:" + std::to_string(relay.port())});
    const auto cdb = srv.storeUrl();
    const fs::path logPath = fx.path / "player.log";
    auto playerLog = [&] { return readFile(logPath); };
    auto player = startScreen(dir, logPath, kPlay);
    {
        INFO("player log:\n" << playerLog());
        REQUIRE(waitFor([&] { return storedCount(cdb, id) >= 2; }, 20000));
    }
    // The next PROOFS goes out and sticks in the relay...
    relay.hold(true);
    const std::int64_t sentBefore = countOf(playerLog(), ": PROOFS ");
    {
        INFO("player log:\n" << playerLog());
        REQUIRE(waitFor([&] { return countOf(playerLog(), ": PROOFS ") > sentBefore; }, 10000));
    }
    const std::int64_t stuck = lastSentSeq(playerLog());
    REQUIRE(stuck > storedCount(cdb, id));
    const std::int64_t timeoutsBefore = countOf(playerLog(), "no PROOFS_ACK");
    // ...and is lost when the controller restarts (the relay's connections close).
    srv.restartAfter(200);
    relay.hold(false);
    {
        INFO("player log:\n" << playerLog());
        REQUIRE(waitFor([&] { return storedCount(cdb, id) >= stuck; }, 30000));
    }
    const std::string log = playerLog();
    INFO("player log:\n" << log);
    // Sent again on the new session (or after a lost link), not after the ack timeout.
    CHECK(countOf(log, "no PROOFS_ACK") == timeoutsBefore);
    CHECK(countOf(log, "went out before this session") + countOf(log, "link to") >= 1);
    CHECK(WIFEXITED(player->kill(SIGTERM)));
    auto st = storedProofs(cdb, id);
    for (std::size_t i = 0; i < st.seqs.size(); ++i) CHECK(st.seqs[i] == static_cast<Poco::Int64>(i + 1));
}

TEST_CASE(
    "upload through a link that drops acks and a controller that restarts stores every record "
    "exactly once",
    "[controller][player][upload][faults]") {
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
    const int a = uploadApproved(ed, ap, makePng(fx.path, "反诈", 320, 180), "a.png");
    const int b = uploadApproved(ed, ap, makePng(fx.path, "禁毒", 320, 180), "b.png");
    const int pl = createdId(ed.post("/api/v1/playlists", R"({"name":"p","items":[{"mediaId":)" + std::to_string(a) +
                                                              R"(,"durationMs":1000},{"mediaId":)" + std::to_string(b) +
                                                              R"(,"durationMs":1000}]})"));
    createdId(
        ed.post("/api/v1/schedules", R"({"name":"all","playlistId":)" + std::to_string(pl) +
                                         R"(,"startsOn":"2020-01-01","endsOn":"2099-12-31","target":{"all":true}})"));

    // The screen reaches the hub only through the relay.
    ChaosRelay relay(srv.zmqPort());
    const fs::path dir = fx.path / "player";
    const std::string id = enrollScreen(srv, admin, dir, R"({"name":"screen"})",
                                        {"--hub-endpoint", "tcp://127.0.0.1:" + std::to_string(relay.port())});
    const auto cdb = srv.storeUrl();
    const fs::path logPath = fx.path / "player.log";
    auto playerLog = [&] { return readFile(logPath); };

    const auto t0 = std::chrono::steady_clock::now();
    auto player = startScreen(dir, logPath, kPlay);
    {
        INFO("player log:\n" << playerLog());
        REQUIRE(waitFor([&] { return storedCount(cdb, id) >= 2; }, 20000));
    }

    // (a) The link breaks at random moments for a while: every 300..1500 ms; one
    // read in fifty is lost with its connection; and half of the PROOFS_ACKs
    // are lost in flight after their batch was stored.
    // Until the link has really broken often enough for the checks below (about
    // 12 s on a quiet machine; up to 60 s allowed on a loaded one).
    relay.chaos(300, 1500, 0.02, 0.5);
    waitFor([&] { return relay.cuts() + relay.drops() >= 10 && relay.ambushes() >= 2; }, 60000);
    relay.chaos(0, 0);
    const int cuts = relay.cuts(), drops = relay.drops(), ambushes = relay.ambushes();
    CHECK(cuts + drops >= 10);  // the link really broke, many times
    CHECK(ambushes >= 2);       // and acks were lost after their batch was stored
    const std::int64_t afterChaos = storedCount(cdb, id);

    // (b) The controller goes down twice during the upload and comes back on the
    // same data directory and ports.
    srv.restartAfter(1500);
    {
        INFO("player log:\n" << playerLog());
        REQUIRE(waitFor([&] { return storedCount(cdb, id) > afterChaos; }, 20000));
    }
    srv.restartAfter(300);
    const std::int64_t afterRestarts = storedCount(cdb, id);
    {
        INFO("player log:\n" << playerLog());
        REQUIRE(waitFor([&] { return storedCount(cdb, id) >= afterRestarts + 2; }, 20000));
    }
    CHECK(WIFEXITED(player->kill(SIGTERM)));

    // Whatever the journal holds reaches the controller through a calm link.
    const std::int64_t last = journalLastSeq(dir);
    auto flush = startScreen(dir, logPath, kSyncOnly);
    {
        INFO("player log:\n" << playerLog());
        REQUIRE(waitFor([&] { return storedCount(cdb, id) == last; }, 30000));
    }
    flush->kill(SIGTERM);
    const std::string log = playerLog();
    WARN(last << " play records stored exactly once in "
              << std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() << " s; " << cuts
              << " connection cuts, " << drops << " reads dropped in flight, " << ambushes
              << " acks lost after their batch, " << relay.accepted() << " connections; player: "
              << countOf(log, ": PROOFS ") << " PROOFS sent, " << countOf(log, ": PROOFS_ACK seq")
              << " PROOFS_ACK received, " << resentBatches(log) << " batches sent again ("
              << countOf(log, "sending again") << " after a timeout, " << countOf(log, "went out before this session")
              << " after a new session), " << countOf(log, "link to") << " links lost");

    // Every seq 1..N exactly once, and the stored chain verifies under the player's key.
    auto st = storedProofs(cdb, id);
    REQUIRE(static_cast<std::int64_t>(st.seqs.size()) == last);
    std::vector<pop::Record> records;
    for (std::size_t i = 0; i < st.seqs.size(); ++i) {
        CHECK(st.seqs[i] == static_cast<Poco::Int64>(i + 1));
        auto r = pop::parseRecord(st.records[i]);
        REQUIRE(r.ok());
        CHECK(r->seq == st.seqs[i]);
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

    // Nothing the player sent was taken for a problem (conflict, gap, bad link).
    microscape::controller::Db store(cdb);
    const std::int64_t problems = store.read([&](microscape::controller::DbConn& c) {
        return c.one("SELECT COUNT(*) FROM pop_problems WHERE player_id = ?", {id})->i64(0);
    });
    CHECK(problems == 0);
}

TEST_CASE("enrolment with a screen size keeps it in player.json and status and at the controller",
          "[controller][player][enroll]") {
    if (::access(playerBin().c_str(), X_OK) != 0) {
        WARN("microscape-player not built; skipping");
        return;
    }
    TestServer srv;
    TempDir fx;
    Client admin = srv.admin();
    for (auto [w, h, orientation] : {std::tuple{1920, 540, "landscape"}, std::tuple{1080, 1920, "portrait"}}) {
        const fs::path dir = fx.path / ("screen-" + std::to_string(w));
        auto argv = enrollArgv(admin.post("/api/v1/enrollment-tokens", R"({"name":"步行街南口"})"), dir);
        argv.insert(argv.end(), {"--width", std::to_string(w), "--height", std::to_string(h)});
        auto en = runProcess(argv);
        INFO(en.out << en.err);
        REQUIRE(en.exitCode == 0);
        auto cfg = microscape::json::parse(readFile(dir / "player.json"));
        REQUIRE(cfg.ok());
        CHECK(cfg->find("width")->asInt() == w);
        CHECK(cfg->find("height")->asInt() == h);
        CHECK(cfg->find("orientation")->asString() == orientation);
        CHECK(cfg->find("name")->asString() == "步行街南口");
        const std::string id = cfg->find("player_id")->asString();

        auto st = runProcess({playerBin(), "status", "--data-dir", dir.string()});
        REQUIRE(st.exitCode == 0);
        auto sj = microscape::json::parse(st.out.substr(0, st.out.find('\n')));
        REQUIRE(sj.ok());
        CHECK(sj->find("width")->asInt() == w);
        CHECK(sj->find("height")->asInt() == h);
        CHECK(sj->find("orientation")->asString() == orientation);

        auto p = admin.get("/api/v1/players/" + id);
        REQUIRE(p.status == 200);
        auto pj = p.json();
        CHECK(pj->getValue<int>("width") == w);
        CHECK(pj->getValue<int>("height") == h);
        CHECK(pj->getValue<std::string>("orientation") == orientation);
    }
}
