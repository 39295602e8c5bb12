// The player's sync agent against a scripted hub (a real ROUTER on
// 127.0.0.1) that can misbehave on purpose.
#include <Poco/Logger.h>
#include <Poco/Net/ServerSocket.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <deque>
#include <fstream>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <thread>
#include <zmq.hpp>
#include <zmq_addon.hpp>

#include "microscape/core/sealed.hpp"
#include "microscape/core/wire.hpp"
#include "microscape/player/agent.hpp"
#include "microscape/player/cache.hpp"
#include "microscape/player/sync.hpp"
#include "support/mini_mirror.hpp"
#include "support/wait_for.hpp"
#include "sync_fixture.hpp"

using namespace microscape;
using namespace microscape::player;
using namespace microscape::testing;
namespace fs = std::filesystem;

namespace {

// A CURVE key pair (Z85).
struct CurvePair {
    std::string publicKey, secretKey;
};
CurvePair curvePair() {
    char pub[41], sec[41];
    REQUIRE(zmq_curve_keypair(pub, sec) == 0);
    return {pub, sec};
}

// A scripted hub that can corrupt or withhold chunks. With a CURVE key pair it is a CURVE server (no
// ZAP: any client key) and can offer the bulk channel beside it, as the
// controller does (docs/wire-protocol.md, "The bulk channel").
struct FakeHub {
    zmq::context_t ctx{1};
    zmq::socket_t router{ctx, zmq::socket_type::router};
    std::string endpoint;
    // The bulk channel: a plain ROUTER; its port (or a port where nothing
    // listens) is offered in WELCOME with a new token and key each session.
    std::optional<zmq::socket_t> bulk;
    int bulkPort = 0;  // 0: not offered
    wire::sealed::SessionKeys session;
    bool bulkReady = false;  // a READY that verifies under this session's key and token
    int badReadies = 0;
    std::uint64_t seq = 0;
    bool waitForReady = false;           // FETCH{bulk} before READY waits for it (else: the CURVE socket)
    std::deque<wire::Fetch> parked;      // waiting for READY
    int tamperSealed = 0;                // flip one bit in the data of this many sealed CHUNKs
    int replaySealed = 0;                // send this many sealed CHUNKs twice (the same seq)
    bool bulkVoid = false;               // sealed CHUNKs are lost on the way
    std::set<std::string> plainOnly;     // files always answered on the CURVE socket
    long sealedSent = 0, plainSent = 0;  // CHUNKs (chunksSent counts both)
    std::int64_t heartbeatMs = 100;      // in WELCOME
    int hellos = 0;
    long loseFetch = -1;   // the FETCH (index in fetches) never answered
    long staleFetch = -1;  // the FETCH answered with the CHUNK at offset 0
    // Answers FETCHes in swapped pairs: the second at once (sealed when asked
    // for), then the first on the CURVE socket, as two channels may deliver them.
    bool swapPairs = false;
    std::optional<wire::Fetch> held;
    std::map<std::string, std::string> files;  // sha -> bytes
    std::optional<Bundle> current;
    int corruptChunks = 0;      // corrupt this many chunks (first ones)
    long stopAfterChunks = -1;  // stop answering FETCH after this many
    long chunksSent = 0;
    std::uint64_t bytesSent = 0;
    std::vector<wire::Fetch> fetches;
    std::vector<wire::StatusReport> statuses;
    std::vector<wire::CommandAck> acks;

    explicit FakeHub(const std::string& ep = "tcp://127.0.0.1:*", const CurvePair* curve = nullptr) {
        router.set(zmq::sockopt::linger, 0);
        router.set(zmq::sockopt::router_handover, 1);
        if (ep.find('[') != std::string::npos) router.set(zmq::sockopt::ipv6, 1);
        if (curve) {
            router.set(zmq::sockopt::curve_server, 1);
            router.set(zmq::sockopt::curve_secretkey, curve->secretKey);
        }
        router.bind(ep);
        endpoint = router.get(zmq::sockopt::last_endpoint);
    }
    // Binds the bulk channel's ROUTER (as the controller: plain, small messages only).
    void offerBulk(const std::string& host = "127.0.0.1") {
        bulk.emplace(ctx, zmq::socket_type::router);
        bulk->set(zmq::sockopt::linger, 0);
        if (host.front() == '[') bulk->set(zmq::sockopt::ipv6, 1);
        // Not 64: libzmq applies it to the ZMTP handshake too, whose READY command
        // with a 32-character routing id is about 75 bytes.
        bulk->set(zmq::sockopt::maxmsgsize, std::int64_t{256});
        bulk->bind("tcp://" + host + ":*");
        const std::string ep = bulk->get(zmq::sockopt::last_endpoint);
        bulkPort = std::stoi(ep.substr(ep.rfind(':') + 1));
    }
    void onBulkMessage() {
        std::vector<zmq::message_t> parts;
        if (!zmq::recv_multipart(*bulk, std::back_inserter(parts))) return;
        const bool ok = parts.size() == 3 && parts[0].to_string() == session.token &&
                        parts[1].to_string_view() == wire::sealed::kReady &&
                        wire::sealed::readyValid(session.key, session.token, parts[2].to_string_view());
        if (!ok) {
            ++badReadies;
            return;
        }
        bulkReady = true;
        while (!parked.empty()) {
            auto f = parked.front();
            parked.pop_front();
            dispatch(kPlayer, f);  // the player on the CURVE socket, when the bulk channel is not used
        }
    }
    // One CHUNK for f: sealed on the bulk channel when asked for and up, else on the CURVE socket.
    void dispatch(const std::string& rid, const wire::Fetch& f) {
        if (!swapPairs) return answer(rid, f);
        if (!held) {
            held = f;
            return;
        }
        answer(rid, f);
        answer(rid, *held, true);
        held.reset();
    }
    void answer(const std::string& rid, const wire::Fetch& f, bool plain = false) {
        if (stopAfterChunks >= 0 && chunksSent >= stopAfterChunks) return;
        const auto& data = files.at(f.sha256);
        REQUIRE(f.offset <= data.size());
        std::string part = data.substr(f.offset, f.length);
        if (corruptChunks > 0 && !part.empty()) {
            part[0] = static_cast<char>(part[0] ^ 0x55);
            --corruptChunks;
        }
        ++chunksSent;
        bytesSent += part.size();
        if (plain || !(f.bulk && bulkReady && !plainOnly.count(f.sha256))) {
            ++plainSent;
            send(rid, wire::toEnvelope(wire::Chunk{f.sha256, f.offset, data.size(), part}));
            return;
        }
        ++sealedSent;
        const std::string header = wire::sealed::chunkHeader(f.sha256, f.offset, data.size(), ++seq);
        std::string sealedData(part.size() + wire::sealed::kTagBytes, '\0');
        REQUIRE(wire::sealed::seal(session.key, wire::sealed::Direction::HubToPlayer, seq, header, part.data(),
                                   part.size(), sealedData.data()));
        if (tamperSealed > 0) {
            sealedData[sealedData.size() / 2] = static_cast<char>(sealedData[sealedData.size() / 2] ^ 0x08);
            --tamperSealed;
        }
        if (bulkVoid) return;
        for (int copies = replaySealed > 0 ? 2 : 1; copies > 0; --copies) {
            bulk->send(zmq::buffer(session.token), zmq::send_flags::sndmore);
            bulk->send(zmq::buffer(wire::typeName(wire::Type::Chunk)), zmq::send_flags::sndmore);
            bulk->send(zmq::buffer(header), zmq::send_flags::sndmore);
            bulk->send(zmq::buffer(sealedData), zmq::send_flags::none);
        }
        if (replaySealed > 0) --replaySealed;
    }
    void add(const Bundle& b) {
        for (const auto& m : b.media) files[m.entry.sha256] = m.bytes;
    }
    void send(const std::string& rid, const wire::Envelope& e) {
        router.send(zmq::buffer(rid), zmq::send_flags::sndmore);
        auto frames = wire::encode(e);
        for (std::size_t i = 0; i < frames.size(); ++i)
            router.send(zmq::buffer(frames[i]),
                        i + 1 < frames.size() ? zmq::send_flags::sndmore : zmq::send_flags::none);
    }
    void push(const std::string& rid, const Bundle& b) {
        send(rid, wire::toEnvelope(wire::ManifestPush{b.manifest.version, b.manifestBytes, b.signature}));
    }
    // Serves until done() or the timeout; returns done().
    template <class F>
    bool serve(F&& done, int timeoutMs = 10000) {
        const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeoutMs);
        while (!done()) {
            if (std::chrono::steady_clock::now() > until) return false;
            zmq::pollitem_t items[2] = {{router.handle(), 0, ZMQ_POLLIN, 0}, {nullptr, 0, ZMQ_POLLIN, 0}};
            if (bulk) items[1].socket = bulk->handle();
            zmq::poll(items, bulk ? 2 : 1, std::chrono::milliseconds(20));
            if (bulk && (items[1].revents & ZMQ_POLLIN)) onBulkMessage();
            if (!(items[0].revents & ZMQ_POLLIN)) continue;
            std::vector<zmq::message_t> parts;
            if (!zmq::recv_multipart(router, std::back_inserter(parts))) continue;
            const std::string rid = parts[0].to_string();
            std::vector<std::string_view> frames;
            for (std::size_t i = 1; i < parts.size(); ++i) frames.emplace_back(parts[i].data<char>(), parts[i].size());
            auto env = wire::decode(frames);
            REQUIRE(env.ok());
            if (env->type == wire::Type::Hello) {
                ++hellos;
                auto h = wire::parseHello(*env);
                REQUIRE(h.ok());
                CHECK(h->playerId == rid);
                wire::Welcome w;
                w.timeMs = nowMs();
                w.heartbeatMs = heartbeatMs;
                w.currentVersion = current ? current->manifest.version : 0;
                w.maxChunkBytes = 4096;
                w.maxWindow = 4;
                if (bulkPort > 0) {  // a new session: a new key and token
                    auto keys = wire::sealed::newSession();
                    REQUIRE(keys.ok());
                    session = *keys;
                    bulkReady = false;
                    seq = 0;
                    parked.clear();
                    w.bulkPort = bulkPort;
                    w.bulkToken = session.token;
                    w.bulkKey = session.key;
                }
                send(rid, wire::toEnvelope(w));
                if (current && current->manifest.version > h->activeVersion) push(rid, *current);
            } else if (env->type == wire::Type::Fetch) {
                auto f = wire::parseFetch(*env);
                REQUIRE(f.ok());
                fetches.push_back(*f);
                if (waitForReady && f->bulk && bulk && !bulkReady) {
                    parked.push_back(*f);
                    continue;
                }
                if (static_cast<long>(fetches.size()) - 1 == loseFetch) continue;
                if (static_cast<long>(fetches.size()) - 1 == staleFetch) f->offset = 0;
                dispatch(rid, *f);
            } else if (env->type == wire::Type::Status) {
                auto s = wire::parseStatus(*env);
                REQUIRE(s.ok());
                statuses.push_back(*s);
            } else if (env->type == wire::Type::CommandAck) {
                auto a = wire::parseCommandAck(*env);
                REQUIRE(a.ok());
                acks.push_back(*a);
            } else if (env->type == wire::Type::Heartbeat) {
                send(rid, wire::toEnvelope(wire::Heartbeat{nowMs()}));
            }
        }
        return true;
    }
};

// The bundles' fixed "now" (nowMs()) on the wall; the machine's steady clock for the timers.
class FixedWallClock final : public Clock {
  public:
    explicit FixedWallClock(std::int64_t shiftMs = 0) : shiftMs_(shiftMs) {}
    std::int64_t wallMs() const override { return nowMs() + shiftMs_; }
    std::int64_t steadyUs() const override { return systemClock().steadyUs(); }

  private:
    std::int64_t shiftMs_;
};

AgentOptions fastOptions() {
    static const FixedWallClock clock;
    AgentOptions o;
    o.clock = &clock;
    o.heartbeatMs = 100;
    o.backoffMinMs = 50;
    o.backoffMaxMs = 200;
    return o;
}

std::int64_t activeOf(const SyncAgent& a) {
    auto b = a.activeBundle();
    return b ? b->manifest.version : 0;
}

Poco::Logger& testLog() {
    auto& l = Poco::Logger::get("test.sync");
    l.setLevel("error");
    return l;
}

}  // namespace

TEST_CASE("the agent fetches, verifies and activates, cached media is never fetched again", "[player][agent]") {
    TempDir t;
    FakeHub hub;
    auto b1 = bundleV(7, mediaSet(100));
    hub.add(b1);
    hub.current = b1;
    SyncAgent agent(makeConfig(t.path, hub.endpoint), fastOptions(), testLog());
    std::vector<std::int64_t> activations;
    std::mutex m;
    agent.setActivationListener([&](const ActivatedBundle& a) {
        std::lock_guard lock(m);
        activations.push_back(a.manifest.version);
    });
    REQUIRE(agent.start().ok());
    REQUIRE(hub.serve([&] { return activeOf(agent) == 7; }));
    for (const auto& f : hub.fetches) CHECK(f.length <= 4096);
    // Delta: one file changes.
    auto media2 = b1.media;
    media2[1] = makeMedia(fakePng(30000, 999), "new", "new.png");
    auto b2 = bundleV(8, media2);
    hub.add(b2);
    hub.current = b2;
    hub.bytesSent = 0;
    hub.fetches.clear();
    hub.push(kPlayer, b2);
    REQUIRE(hub.serve([&] { return activeOf(agent) == 8; }));
    CHECK(hub.bytesSent == media2[1].bytes.size());
    for (const auto& f : hub.fetches) CHECK(f.sha256 == media2[1].entry.sha256);
    // GC dropped the replaced file.
    CHECK_FALSE(fs::exists(t.path / "blobs" / b1.media[1].entry.sha256));
    CHECK(fs::exists(t.path / "blobs" / b1.media[0].entry.sha256));
    REQUIRE(hub.serve([&] { return !hub.statuses.empty() && hub.statuses.back().activeVersion == 8; }, 3000));
    agent.stop();
    std::lock_guard lock(m);
    CHECK(activations == std::vector<std::int64_t>{7, 8});
}

TEST_CASE("a chunk whose bytes do not match makes the file be discarded and fetched again", "[player][agent]") {
    TempDir t;
    FakeHub hub;
    auto b = bundleV(2, mediaSet(300, 1));
    hub.add(b);
    hub.current = b;
    hub.corruptChunks = 1;
    SyncAgent agent(makeConfig(t.path, hub.endpoint), fastOptions(), testLog());
    REQUIRE(agent.start().ok());
    REQUIRE(hub.serve([&] { return activeOf(agent) == 2; }));
    CHECK(hub.bytesSent == 2 * b.media[0].bytes.size());
}

TEST_CASE("refused manifests leave the active bundle in place", "[player][agent]") {
    TempDir t;
    FakeHub hub;
    auto b = bundleV(5, mediaSet(400, 1));
    hub.add(b);
    hub.current = b;
    SyncAgent agent(makeConfig(t.path, hub.endpoint), fastOptions(), testLog());
    REQUIRE(agent.start().ok());
    REQUIRE(hub.serve([&] { return activeOf(agent) == 5; }));
    auto refuse = [&](const Bundle& bad, const char* what) {
        INFO(what);
        const auto before = hub.statuses.size();
        hub.push(kPlayer, bad);
        REQUIRE(
            hub.serve([&] { return hub.statuses.size() > before && !hub.statuses.back().lastError.empty(); }, 3000));
        CHECK(hub.statuses.back().lastError.find("refused") != std::string::npos);
        CHECK(activeOf(agent) == 5);
        CHECK_FALSE(fs::exists(t.path / "staged.json"));
    };
    auto badSig = bundleV(6, {});
    badSig.signature[0] ^= 1;
    refuse(badSig, "bad signature");
    refuse(bundleV(4, {}), "lower version");
    refuse(bundleV(5, {}), "same version");
    refuse(makeBundle(testKey(1), {},
                      [](manifest::Manifest& m) {
                          m.version = 9;
                          m.target = kPlayer;
                          m.expiresAtMs = issuedMs() + 1000;
                      }),
           "expired");
    refuse(bundleV(9, {}, kPlayer, 3), "unknown signer");
    refuse(bundleV(9, {}, "scr-other"), "another screen");
    agent.stop();
    BundleStore store(t.path, {testKey(1).publicKey()}, kPlayer);
    CHECK(store.activeVersion() == 5);
}

TEST_CASE("a transfer resumes from the partial file after a disconnect and a restart", "[player][agent]") {
    TempDir t;
    auto b = bundleV(3, mediaSet(500, 1, 200000));
    const std::string sha = b.media[0].entry.sha256;
    std::uint64_t partialAfterStop = 0;
    std::string endpoint;
    {
        FakeHub hub;
        endpoint = hub.endpoint;
        hub.add(b);
        hub.current = b;
        hub.stopAfterChunks = 10;  // then the "controller" goes silent
        SyncAgent agent(makeConfig(t.path, hub.endpoint), fastOptions(), testLog());
        REQUIRE(agent.start().ok());
        REQUIRE(hub.serve([&] { return hub.chunksSent >= 10; }));
        // The agent has written what it was sent (nothing more comes).
        REQUIRE(waitFor([&] {
            std::error_code ec;
            return fs::file_size(t.path / "partial" / sha, ec) == 10 * 4096 && !ec;
        }));
        agent.stop();
        partialAfterStop = fs::file_size(t.path / "partial" / sha);
        CHECK(partialAfterStop == 10 * 4096);
        CHECK(fs::exists(t.path / "staged.json"));
    }
    // A new process (agent) and a restarted controller on the same port.
    FakeHub hub(endpoint);
    hub.add(b);
    hub.current = b;
    SyncAgent agent(makeConfig(t.path, hub.endpoint), fastOptions(), testLog());
    REQUIRE(agent.start().ok());
    REQUIRE(hub.serve([&] { return activeOf(agent) == 3; }));
    REQUIRE_FALSE(hub.fetches.empty());
    CHECK(hub.fetches.front().offset == partialAfterStop);
    CHECK(hub.bytesSent == b.media[0].bytes.size() - partialAfterStop);
}

TEST_CASE("a full disk gives a clear status, corrupts nothing and recovers when space returns", "[player][agent]") {
    TempDir t;
    FakeHub hub;
    auto b1 = bundleV(1, mediaSet(600, 1, 10000));
    auto b2 = bundleV(2, mediaSet(700, 3, 50000));
    hub.add(b1);
    hub.add(b2);
    hub.current = b1;
    {
        SyncAgent agent(makeConfig(t.path, hub.endpoint, 80000), fastOptions(), testLog());
        REQUIRE(agent.start().ok());
        REQUIRE(hub.serve([&] { return activeOf(agent) == 1; }));
        hub.current = b2;
        hub.push(kPlayer, b2);
        REQUIRE(hub.serve(
            [&] { return !hub.statuses.empty() && hub.statuses.back().syncState == wire::SyncState::DiskFull; }, 5000));
        CHECK(hub.statuses.back().lastError.find("disk full") != std::string::npos);
        CHECK(activeOf(agent) == 1);
        agent.stop();
    }
    BundleStore store(t.path, {testKey(1).publicKey()}, kPlayer);
    CHECK(store.activeVersion() == 1);
    // Space returns (a bigger quota): the staged version completes.
    SyncAgent agent(makeConfig(t.path, hub.endpoint, 1 << 20), fastOptions(), testLog());
    REQUIRE(agent.start().ok());
    REQUIRE(hub.serve([&] { return activeOf(agent) == 2; }));
}

TEST_CASE("the agent survives garbage from the controller and backs off while it is away", "[player][agent]") {
    TempDir t;
    FakeHub hub;
    auto b = bundleV(4, mediaSet(800, 1));
    hub.add(b);
    SyncAgent agent(makeConfig(t.path, hub.endpoint), fastOptions(), testLog());
    REQUIRE(agent.start().ok());
    REQUIRE(hub.serve([&] { return agent.connected(); }, 5000));
    for (auto frames : std::vector<std::vector<std::string>>{{"BOGUS", "{}"},
                                                             {"CHUNK", "not json", "x"},
                                                             {"MANIFEST", "{}", "x"},
                                                             {"WELCOME", "{}"},
                                                             {"COMMAND", R"({"id":"1","action":"rm -rf"})"}}) {
        hub.router.send(zmq::buffer(kPlayer), zmq::send_flags::sndmore);
        for (std::size_t i = 0; i < frames.size(); ++i)
            hub.router.send(zmq::buffer(frames[i]),
                            i + 1 < frames.size() ? zmq::send_flags::sndmore : zmq::send_flags::none);
    }
    hub.current = b;
    hub.push(kPlayer, b);
    REQUIRE(hub.serve([&] { return activeOf(agent) == 4; }));
    CHECK(agent.connected());
}

TEST_CASE("the link listener hears the link come up with the clock offset, and go down", "[player][agent]") {
    TempDir t;
    const FixedWallClock behind(-5000);  // this screen's clock is 5 s behind the controller's
    auto opts = fastOptions();
    opts.clock = &behind;
    std::mutex m;
    std::vector<std::pair<bool, std::int64_t>> heard;
    auto last = [&] {
        std::lock_guard lock(m);
        return heard.empty() ? std::optional<std::pair<bool, std::int64_t>>() : heard.back();
    };
    std::optional<SyncAgent> agent;
    {
        FakeHub hub;
        agent.emplace(makeConfig(t.path, hub.endpoint), opts, testLog());
        agent->setLinkListener([&](bool connected, std::int64_t offsetMs) {
            std::lock_guard lock(m);
            heard.emplace_back(connected, offsetMs);
        });
        REQUIRE(agent->start().ok());
        REQUIRE(hub.serve([&] { return last() && last()->first; }, 5000));
        CHECK(last()->second == 5000);
        CHECK(agent->clockOffsetMs() == 5000);
    }
    // The controller is gone: after three silent heartbeats the link is down.
    REQUIRE(waitFor([&] { return last() && !last()->first; }));
    CHECK_FALSE(agent->connected());
    agent->stop();
}

TEST_CASE("the agent applies bundles dropped into its import directory, refusing bad ones", "[player][agent][import]") {
    TempDir t;
    FakeHub hub;  // reachable but with nothing to say: offline delivery only
    auto cfg = makeConfig(t.path / "data", hub.endpoint);
    cfg.importDir = (t.path / "usb").string();
    fs::create_directories(cfg.importDir);
    auto opts = fastOptions();
    opts.importScanMs = 50;
    SyncAgent agent(cfg, opts, testLog());
    REQUIRE(agent.start().ok());
    auto bad = bundleV(6, mediaSet(900, 2));
    bad.media[0].bytes[10] ^= 1;
    std::ofstream(t.path / "usb" / "bad.tar", std::ios::binary) << bad.tar();
    auto good = bundleV(5, mediaSet(910, 2));
    std::ofstream(t.path / "usb" / "good.tar", std::ios::binary) << good.tar();
    REQUIRE(hub.serve([&] { return activeOf(agent) == 5 && fs::exists(t.path / "usb" / "failed" / "bad.tar"); }));
    CHECK(fs::exists(t.path / "usb" / "done" / "good.tar"));
    CHECK_FALSE(fs::exists(t.path / "data" / "blobs" / bad.media[1].entry.sha256));
}

// The hub sends an unanswered command again, with the same id, after the link
// comes back; the agent must answer it without acting twice.
TEST_CASE("a repeated command id is answered from memory, not acted on again", "[player][agent]") {
    TempDir t;
    FakeHub hub;
    auto b = bundleV(3, mediaSet(700, 2));
    hub.add(b);
    hub.current = b;
    SyncAgent agent(makeConfig(t.path, hub.endpoint), fastOptions(), testLog());
    std::atomic<int> activations{0};
    agent.setActivationListener([&](const ActivatedBundle&) { ++activations; });
    REQUIRE(agent.start().ok());
    REQUIRE(hub.serve([&] { return activeOf(agent) == 3; }));
    const int afterSync = activations.load();
    std::string rid = kPlayer;

    hub.send(rid, wire::toEnvelope(wire::Command{"cmd-1", wire::CommandAction::Reload}));
    REQUIRE(hub.serve([&] { return hub.acks.size() == 1; }));
    CHECK(hub.acks[0].id == "cmd-1");
    CHECK(hub.acks[0].ok);
    CHECK(hub.acks[0].message == "reloaded");
    CHECK(activations.load() == afterSync + 1);  // a reload tells the engine again

    hub.send(rid, wire::toEnvelope(wire::Command{"cmd-1", wire::CommandAction::Reload}));  // sent again
    REQUIRE(hub.serve([&] { return hub.acks.size() == 2; }));
    CHECK(hub.acks[1].id == "cmd-1");
    CHECK(hub.acks[1].ok);
    CHECK(hub.acks[1].message == "reloaded");
    CHECK(activations.load() == afterSync + 1);  // answered from memory: no second reload

    hub.send(rid, wire::toEnvelope(wire::Command{"cmd-2", wire::CommandAction::Reload}));  // a new command acts
    REQUIRE(hub.serve([&] { return hub.acks.size() == 3; }));
    CHECK(hub.acks[2].id == "cmd-2");
    CHECK(activations.load() == afterSync + 2);
    agent.stop();
}

// ------------------------------------------------------------------ HTTP mirrors

namespace {

Bundle mirroredBundle(std::int64_t version, std::vector<MediaItem> media, std::vector<std::string> mirrors) {
    return makeBundle(testKey(1), std::move(media), [&](manifest::Manifest& m) {
        m.version = version;
        m.target = kPlayer;
        m.bundleId = "b-" + std::to_string(version);
        m.location = manifest::Location{"", "", "", "", "Asia/Shanghai"};
        m.mirrors = mirrors;
    });
}

// A URL on which nothing listens (the port was free a moment ago).
std::string downUrl() {
    Poco::Net::ServerSocket s(Poco::Net::SocketAddress("127.0.0.1", 0));
    const auto port = s.address().port();
    s.close();
    return "http://127.0.0.1:" + std::to_string(port);
}

bool allInBlobs(const fs::path& dir, const Bundle& b) {
    for (const auto& m : b.media) {
        std::ifstream in(dir / "blobs" / m.entry.sha256, std::ios::binary);
        std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        if (bytes != m.bytes) return false;
    }
    return true;
}

}  // namespace

TEST_CASE("media come from the manifest's mirror and the hub sends none of them", "[player][agent][mirror]") {
    TempDir t;
    FakeHub hub;
    MiniMirror mirror;
    auto b = mirroredBundle(4, mediaSet(700, 3, 300000), {mirror.url()});
    hub.add(b);
    for (const auto& m : b.media) mirror.add(m.entry.sha256, m.bytes);
    hub.current = b;
    SyncAgent agent(makeConfig(t.path, hub.endpoint), fastOptions(), testLog());
    REQUIRE(agent.start().ok());
    REQUIRE(hub.serve([&] { return activeOf(agent) == 4; }, 20000));
    CHECK(hub.bytesSent == 0);
    CHECK(hub.fetches.empty());
    CHECK(allInBlobs(t.path, b));
    CHECK(mirror.requests().size() == 3);
    // (The status that says so is published just after the switch.)
    REQUIRE(waitFor([&] { return agent.status().activeVersion == 4; }));
    CHECK(agent.status().mediaBytesMirror == static_cast<std::int64_t>(b.manifest.totalMediaBytes()));
    CHECK(agent.status().mediaBytesHub == 0);
    // The controller hears it in STATUS.
    REQUIRE(hub.serve([&] { return !hub.statuses.empty() && hub.statuses.back().activeVersion == 4; }));
    CHECK(hub.statuses.back().mediaBytesMirror == static_cast<std::int64_t>(b.manifest.totalMediaBytes()));
}

TEST_CASE("a mirror that serves wrong bytes is dropped for that file and the hub serves it",
          "[player][agent][mirror]") {
    TempDir t;
    FakeHub hub;
    MiniMirror bad;
    bad.setMode(MiniMirror::Mode::Wrong);
    auto b = mirroredBundle(5, mediaSet(800, 1, 200000), {bad.url()});
    hub.add(b);
    for (const auto& m : b.media) bad.add(m.entry.sha256, m.bytes);
    hub.current = b;
    SyncAgent agent(makeConfig(t.path, hub.endpoint), fastOptions(), testLog());
    REQUIRE(agent.start().ok());
    REQUIRE(hub.serve([&] { return activeOf(agent) == 5; }, 20000));
    CHECK(allInBlobs(t.path, b));       // only the verified bytes became media
    CHECK(bad.requests().size() == 1);  // not asked again for that file
    REQUIRE(waitFor([&] { return agent.status().activeVersion == 5; }));
    // The bad bytes were discarded: the hub sent the whole file from byte 0.
    CHECK(hub.bytesSent == b.media[0].bytes.size());
    REQUIRE_FALSE(hub.fetches.empty());
    CHECK(hub.fetches.front().offset == 0);
    CHECK(agent.status().mediaBytesHub == static_cast<std::int64_t>(b.media[0].bytes.size()));
}

TEST_CASE("a mirror that cuts the connection half way: the next mirror resumes with Range", "[player][agent][mirror]") {
    TempDir t;
    FakeHub hub;
    MiniMirror cut, good;
    cut.setMode(MiniMirror::Mode::CutHalf);
    auto b = mirroredBundle(6, mediaSet(900, 1, 400000), {cut.url(), good.url()});
    hub.add(b);
    for (const auto& m : b.media) {
        cut.add(m.entry.sha256, m.bytes);
        good.add(m.entry.sha256, m.bytes);
    }
    hub.current = b;
    SyncAgent agent(makeConfig(t.path, hub.endpoint), fastOptions(), testLog());
    REQUIRE(agent.start().ok());
    REQUIRE(hub.serve([&] { return activeOf(agent) == 6; }, 20000));
    CHECK(allInBlobs(t.path, b));
    CHECK(hub.bytesSent == 0);
    const auto size = b.media[0].bytes.size();
    CHECK(cut.bytesSent() == size / 2);
    auto asked = good.requests();
    REQUIRE(asked.size() == 1);
    CHECK(asked[0].range == "bytes=" + std::to_string(size / 2) + "-");
    CHECK(good.bytesSent() == size - size / 2);
}

TEST_CASE("a mirror that is down, answers 503 or redirects to another scheme: the hub serves",
          "[player][agent][mirror]") {
    TempDir t;
    FakeHub hub;
    MiniMirror busy, sly;
    busy.setMode(MiniMirror::Mode::Error503);
    sly.setMode(MiniMirror::Mode::Redirect);
    sly.setRedirect("ftp://127.0.0.1:21");
    auto b = mirroredBundle(7, mediaSet(1000, 2, 50000), {downUrl(), busy.url(), sly.url()});
    hub.add(b);
    hub.current = b;
    SyncAgent agent(makeConfig(t.path, hub.endpoint), fastOptions(), testLog());
    REQUIRE(agent.start().ok());
    REQUIRE(hub.serve([&] { return activeOf(agent) == 7; }, 20000));
    CHECK(allInBlobs(t.path, b));
    CHECK(hub.bytesSent == b.manifest.totalMediaBytes());
    CHECK(busy.requests().size() == 2);  // once per file
    CHECK(sly.requests().size() == 2);
    CHECK(agent.status().mediaBytesMirror == 0);
}

TEST_CASE("with mirrors on, a transfer the hub began resumes from the partial file at the mirror",
          "[player][agent][mirror]") {
    TempDir t;
    MiniMirror mirror;
    mirror.setMode(MiniMirror::Mode::Error503);  // unusable at first: the hub starts the file
    auto b = mirroredBundle(8, mediaSet(1100, 1, 200000), {mirror.url()});
    const std::string sha = b.media[0].entry.sha256;
    mirror.add(sha, b.media[0].bytes);
    std::string endpoint;
    std::uint64_t partial = 0;
    {
        FakeHub hub;
        endpoint = hub.endpoint;
        hub.add(b);
        hub.current = b;
        hub.stopAfterChunks = 10;
        SyncAgent agent(makeConfig(t.path, hub.endpoint), fastOptions(), testLog());
        REQUIRE(agent.start().ok());
        REQUIRE(hub.serve([&] { return hub.chunksSent >= 10; }));
        REQUIRE(waitFor([&] {
            std::error_code ec;
            return fs::file_size(t.path / "partial" / sha, ec) == 10 * 4096 && !ec;
        }));
        agent.stop();
        partial = fs::file_size(t.path / "partial" / sha);
    }
    // A restart (the mirror is not held against the file any more) with the mirror back.
    mirror.setMode(MiniMirror::Mode::Good);
    FakeHub hub(endpoint);
    hub.add(b);
    hub.current = b;
    SyncAgent agent(makeConfig(t.path, hub.endpoint), fastOptions(), testLog());
    REQUIRE(agent.start().ok());
    REQUIRE(hub.serve([&] { return activeOf(agent) == 8; }, 20000));
    CHECK(allInBlobs(t.path, b));
    CHECK(hub.bytesSent == 0);
    auto asked = mirror.requests();
    REQUIRE(asked.size() == 2);
    CHECK(asked.back().range == "bytes=" + std::to_string(partial) + "-");
    CHECK(mirror.bytesSent() == b.media[0].bytes.size() - partial);
}

TEST_CASE("failover: a silent hub makes the agent move to the next endpoint and never roll back",
          "[player][agent][failover]") {
    TempDir t;
    auto b2 = bundleV(2, mediaSet(300, 1));
    auto b1 = bundleV(1, mediaSet(200, 1));
    auto b3 = bundleV(3, mediaSet(250, 1));
    auto first = std::make_unique<FakeHub>();
    FakeHub second;
    first->add(b2);
    first->current = b2;
    auto config = makeConfig(t.path, first->endpoint);
    config.endpoints = {first->endpoint, second.endpoint};
    SyncAgent agent(config, fastOptions(), testLog());
    REQUIRE(agent.start().ok());
    REQUIRE(first->serve([&] { return activeOf(agent) == 2; }));

    // The first node dies (its socket closes without a word): the agent says HELLO to the second.
    first.reset();
    second.add(b1);
    second.current = b1;  // a node that holds an older version offers it: refused
    REQUIRE(second.serve([&] { return agent.connected() && !second.statuses.empty(); }, 10000));
    second.push(kPlayer, b1);
    REQUIRE(second.serve(
        [&] {
            return !second.statuses.empty() && second.statuses.back().lastError.find("refused") != std::string::npos;
        },
        5000));
    CHECK(activeOf(agent) == 2);

    // A newer version from the second node is taken as from the first.
    second.add(b3);
    second.current = b3;
    second.push(kPlayer, b3);
    REQUIRE(second.serve([&] { return activeOf(agent) == 3; }));
}

TEST_CASE("failover: with every endpoint down the agent keeps trying them in turn", "[player][agent][failover]") {
    TempDir t;
    // Two endpoints where nobody answers yet (bound, then closed: ports known to be free).
    std::string deadA, deadB;
    {
        FakeHub a, b;
        deadA = a.endpoint;
        deadB = b.endpoint;
    }
    auto config = makeConfig(t.path, deadA);
    config.endpoints = {deadA, deadB};
    SyncAgent agent(config, fastOptions(), testLog());
    REQUIRE(agent.start().ok());
    // The second comes up: the agent gets there (after the first's silence).
    FakeHub b(deadB);
    auto v = bundleV(4, mediaSet(100, 1));
    b.add(v);
    b.current = v;
    REQUIRE(b.serve([&] { return activeOf(agent) == 4; }, 15000));
}

// ------------------------------------------------------------------ the bulk channel

TEST_CASE("bulk channel: the endpoint is the hub's host at the bulk port", "[player][agent][bulk]") {
    CHECK(bulkEndpointFor("tcp://127.0.0.1:5560", 5561) == "tcp://127.0.0.1:5561");
    CHECK(bulkEndpointFor("tcp://hub.example.org:5560", 6000) == "tcp://hub.example.org:6000");
    CHECK(bulkEndpointFor("tcp://[::1]:5560", 5561) == "tcp://[::1]:5561");
    CHECK(bulkEndpointFor("tcp://[fe80::1:2]:1", 65535) == "tcp://[fe80::1:2]:65535");
    CHECK_FALSE(bulkEndpointFor("ipc:///tmp/hub", 5561));
    CHECK_FALSE(bulkEndpointFor("tcp://hub", 5561));
    CHECK_FALSE(bulkEndpointFor("tcp://::1:5560", 5561));
    CHECK_FALSE(bulkEndpointFor("tcp://127.0.0.1:5560", 0));
    CHECK_FALSE(bulkEndpointFor("tcp://127.0.0.1:5560", 65536));
}

namespace {

const CurvePair& hubKeys() {
    static const CurvePair k = curvePair();
    return k;
}

PlayerConfig curveConfig(const fs::path& dir, const std::string& endpoint) {
    static const CurvePair player = curvePair();
    auto c = makeConfig(dir, endpoint);
    c.curve = true;
    c.serverCurveKey = hubKeys().publicKey;
    c.curvePublicKey = player.publicKey;
    c.curveSecretKey = player.secretKey;
    return c;
}

// Some FETCHes with bulk, then only without (the bulk channel given up), at least one of each.
bool bulkThenPlain(const std::vector<wire::Fetch>& fetches) {
    std::size_t i = 0;
    while (i < fetches.size() && fetches[i].bulk) ++i;
    if (i == 0 || i == fetches.size()) return false;
    for (; i < fetches.size(); ++i)
        if (fetches[i].bulk) return false;
    return true;
}

bool allBulk(const std::vector<wire::Fetch>& fetches) {
    return !fetches.empty() && std::all_of(fetches.begin(), fetches.end(), [](const wire::Fetch& f) { return f.bulk; });
}

}  // namespace

TEST_CASE("bulk channel: media come sealed beside the CURVE session, and plain CHUNKs still count",
          "[player][agent][bulk]") {
    TempDir t;
    FakeHub hub("tcp://127.0.0.1:*", &hubKeys());
    hub.offerBulk();
    hub.waitForReady = true;
    hub.heartbeatMs = 1000;  // no stall on a loaded machine: it would give the bulk channel up
    auto b = bundleV(3, mediaSet(1200, 3, 60000));
    hub.add(b);
    hub.current = b;
    SECTION("every CHUNK on the bulk channel") {}
    SECTION("one file on the CURVE socket, interleaved with the others") {
        hub.plainOnly.insert(b.media[1].entry.sha256);
    }
    SyncAgent agent(curveConfig(t.path, hub.endpoint), fastOptions(), testLog());
    REQUIRE(agent.start().ok());
    REQUIRE(hub.serve([&] { return activeOf(agent) == 3; }, 20000));
    CHECK(allInBlobs(t.path, b));
    CHECK(hub.bulkReady);
    CHECK(hub.badReadies == 0);
    CHECK(allBulk(hub.fetches));  // never given up
    REQUIRE(waitFor([&] { return agent.status().activeVersion == 3; }));
    CHECK(hub.sealedSent > 0);
    if (hub.plainOnly.empty()) {
        CHECK(hub.plainSent == 0);
    } else {
        CHECK(hub.plainSent == static_cast<long>((b.media[1].bytes.size() + 4095) / 4096));
    }
    CHECK(agent.status().mediaBytesHub == static_cast<std::int64_t>(b.manifest.totalMediaBytes()));
    REQUIRE(hub.serve([&] { return !hub.statuses.empty() && hub.statuses.back().activeVersion == 3; }));
    CHECK(hub.statuses.back().mediaBytesHub == static_cast<std::int64_t>(b.manifest.totalMediaBytes()));
    agent.stop();
}

TEST_CASE("bulk channel: a sealed CHUNK that does not open gives it up, the CURVE socket finishes",
          "[player][agent][bulk]") {
    TempDir t;
    FakeHub hub("tcp://127.0.0.1:*", &hubKeys());
    hub.offerBulk();
    hub.waitForReady = true;
    auto b = bundleV(4, mediaSet(1300, 2, 50000));
    hub.add(b);
    hub.current = b;
    SECTION("one flipped bit") {
        hub.tamperSealed = 1;
    }
    SECTION("a replayed seq") {
        hub.replaySealed = 1;
    }
    SyncAgent agent(curveConfig(t.path, hub.endpoint), fastOptions(), testLog());
    REQUIRE(agent.start().ok());
    REQUIRE(hub.serve([&] { return activeOf(agent) == 4; }, 20000));
    // Only bytes that hash to their names became media; nothing was discarded on the way.
    CHECK(allInBlobs(t.path, b));
    REQUIRE(waitFor([&] { return agent.status().activeVersion == 4; }));
    CHECK(agent.status().lastError.empty());
    CHECK(hub.sealedSent > 0);
    CHECK(hub.plainSent > 0);
    // The FETCHes after it asked for no bulk channel (for the rest of the session).
    CHECK(bulkThenPlain(hub.fetches));
    // The hub's file is fetched once from the start: the bad CHUNK was never written.
    CHECK(std::count_if(hub.fetches.begin(), hub.fetches.end(), [&](const wire::Fetch& f) {
              return f.offset == 0 && f.sha256 == b.media[0].entry.sha256;
          }) <= 2);
    agent.stop();
}

TEST_CASE("bulk channel: nothing listens on the bulk port, every CHUNK comes on the CURVE socket",
          "[player][agent][bulk]") {
    TempDir t;
    FakeHub hub("tcp://127.0.0.1:*", &hubKeys());
    {
        FakeHub gone;  // a port known to be free a moment ago
        hub.bulkPort = std::stoi(gone.endpoint.substr(gone.endpoint.rfind(':') + 1));
    }
    auto b = bundleV(5, mediaSet(1400, 2, 50000));
    hub.add(b);
    hub.current = b;
    SyncAgent agent(curveConfig(t.path, hub.endpoint), fastOptions(), testLog());
    REQUIRE(agent.start().ok());
    REQUIRE(hub.serve([&] { return activeOf(agent) == 5; }, 20000));
    CHECK(allInBlobs(t.path, b));
    CHECK(hub.sealedSent == 0);
    CHECK(hub.plainSent > 0);
    CHECK(allBulk(hub.fetches));  // the player cannot tell; the hub falls back per FETCH
    agent.stop();
}

TEST_CASE("bulk channel: sealed CHUNKs lost on the way, the stall moves the transfer to the CURVE socket",
          "[player][agent][bulk]") {
    TempDir t;
    FakeHub hub("tcp://127.0.0.1:*", &hubKeys());
    hub.offerBulk();
    hub.waitForReady = true;
    hub.bulkVoid = true;
    auto b = bundleV(6, mediaSet(1500, 2, 50000));
    hub.add(b);
    hub.current = b;
    SyncAgent agent(curveConfig(t.path, hub.endpoint), fastOptions(), testLog());
    REQUIRE(agent.start().ok());
    REQUIRE(hub.serve([&] { return activeOf(agent) == 6; }, 20000));
    CHECK(allInBlobs(t.path, b));
    CHECK(hub.sealedSent > 0);  // into the void
    CHECK(bulkThenPlain(hub.fetches));
    CHECK(agent.connected());
    agent.stop();
}

TEST_CASE("bulk channel: a new session after a reconnect uses its new key and token", "[player][agent][bulk]") {
    TempDir t;
    auto b = bundleV(7, mediaSet(1600, 1, 300000));
    const std::string sha = b.media[0].entry.sha256;
    auto first = std::make_unique<FakeHub>("tcp://127.0.0.1:*", &hubKeys());
    const std::string endpoint = first->endpoint;
    first->offerBulk();
    first->waitForReady = true;
    first->tamperSealed = 1;  // the first session gives its bulk channel up
    first->add(b);
    first->current = b;
    SyncAgent agent(curveConfig(t.path, endpoint), fastOptions(), testLog());
    REQUIRE(agent.start().ok());
    REQUIRE(first->serve([&] { return bulkThenPlain(first->fetches) && first->plainSent >= 4; }, 20000));
    REQUIRE(waitFor([&] {
        std::error_code ec;
        return fs::file_size(t.path / "partial" / sha, ec) >= 4096 && !ec;
    }));
    const std::string firstToken = first->session.token;
    first.reset();  // the controller restarts
    // (Once the agent has seen it go: a HELLO still on its way on the old
    // connection would start a session the agent never hears of.)
    REQUIRE(waitFor([&] { return !agent.connected(); }));

    FakeHub second(endpoint, &hubKeys());
    second.offerBulk();
    second.waitForReady = true;
    second.heartbeatMs = 1000;
    second.add(b);
    second.current = b;
    REQUIRE(second.serve([&] { return activeOf(agent) == 7; }, 20000));
    CHECK(allInBlobs(t.path, b));
    CHECK(second.session.token != firstToken);
    CHECK(second.badReadies == 0);  // READY was made with the new key, under the new token
    CHECK(second.bulkReady);
    CHECK(allBulk(second.fetches));  // bulk on again; the new key opened every sealed CHUNK (seq from 1)
    CHECK(second.sealedSent > 0);
    CHECK(second.plainSent == 0);
    REQUIRE_FALSE(second.fetches.empty());
    CHECK(second.fetches.front().offset > 0);  // resumed from the partial file
    agent.stop();
}

TEST_CASE("a CHUNK lost on the way is asked for again, however many come after it", "[player][agent]") {
    TempDir t;
    FakeHub hub;
    SECTION("never answered") {
        hub.loseFetch = 2;
    }
    SECTION("answered with a stale CHUNK (every FETCH answered, one byte range missing)") {
        hub.staleFetch = 2;
    }
    auto b = bundleV(2, mediaSet(1700, 1, 40 * 4096));
    hub.add(b);
    hub.current = b;
    SyncAgent agent(makeConfig(t.path, hub.endpoint), fastOptions(), testLog());
    REQUIRE(agent.start().ok());
    REQUIRE(hub.serve([&] { return activeOf(agent) == 2; }, 20000));
    CHECK(allInBlobs(t.path, b));
    agent.stop();
}

TEST_CASE("a CHUNK that arrives before the one before it waits for it", "[player][agent]") {
    TempDir t;
    FakeHub hub;
    hub.swapPairs = true;
    auto b = bundleV(2, mediaSet(1800, 1, 40 * 4096));
    hub.add(b);
    hub.current = b;
    SyncAgent agent(makeConfig(t.path, hub.endpoint), fastOptions(), testLog());
    REQUIRE(agent.start().ok());
    REQUIRE(hub.serve([&] { return activeOf(agent) == 2; }, 20000));
    CHECK(allInBlobs(t.path, b));
    CHECK(hub.fetches.size() == 40);  // nothing asked for twice: no stall
    agent.stop();
}

TEST_CASE("bulk channel: sealed and plain CHUNKs of one file in either order on the two sockets",
          "[player][agent][bulk]") {
    TempDir t;
    FakeHub hub("tcp://127.0.0.1:*", &hubKeys());
    hub.offerBulk();
    hub.waitForReady = true;
    hub.swapPairs = true;
    hub.heartbeatMs = 1000;  // no stall on a loaded machine: it would give the bulk channel up
    auto b = bundleV(3, mediaSet(1900, 1, 40 * 4096));
    hub.add(b);
    hub.current = b;
    SyncAgent agent(curveConfig(t.path, hub.endpoint), fastOptions(), testLog());
    REQUIRE(agent.start().ok());
    REQUIRE(hub.serve([&] { return activeOf(agent) == 3; }, 20000));
    CHECK(allInBlobs(t.path, b));
    CHECK(hub.fetches.size() == 40);
    CHECK(allBulk(hub.fetches));
    CHECK(hub.sealedSent == 20);
    CHECK(hub.plainSent == 20);
    agent.stop();
}

TEST_CASE("bulk channel: offered without CURVE it is ignored", "[player][agent][bulk]") {
    TempDir t;
    FakeHub hub;  // plain: a hub with zmq.curve=false never offers it, but the agent must not care
    hub.offerBulk();
    auto b = bundleV(2, mediaSet(2000, 1, 50000));
    hub.add(b);
    hub.current = b;
    SyncAgent agent(makeConfig(t.path, hub.endpoint), fastOptions(), testLog());
    REQUIRE(agent.start().ok());
    REQUIRE(hub.serve([&] { return activeOf(agent) == 2; }, 20000));
    CHECK(allInBlobs(t.path, b));
    REQUIRE_FALSE(hub.fetches.empty());
    CHECK(std::none_of(hub.fetches.begin(), hub.fetches.end(), [](const wire::Fetch& f) { return f.bulk; }));
    CHECK(hub.sealedSent == 0);
    CHECK(hub.badReadies == 0);  // no READY at all
    CHECK_FALSE(hub.bulkReady);
    agent.stop();
}

TEST_CASE("bulk channel: a hub at an IPv6 address, both sockets", "[player][agent][bulk]") {
    std::optional<FakeHub> maybe;
    try {
        maybe.emplace("tcp://[::1]:*", &hubKeys());
        maybe->offerBulk("[::1]");
    } catch (const zmq::error_t& e) {
        WARN("no IPv6 loopback here: " << e.what());
        return;
    }
    auto& hub = *maybe;
    TempDir t;
    hub.waitForReady = true;
    hub.heartbeatMs = 1000;
    auto b = bundleV(2, mediaSet(2100, 1, 50000));
    hub.add(b);
    hub.current = b;
    REQUIRE(hub.endpoint.find("[::1]") != std::string::npos);
    SyncAgent agent(curveConfig(t.path, hub.endpoint), fastOptions(), testLog());
    REQUIRE(agent.start().ok());
    REQUIRE(hub.serve([&] { return activeOf(agent) == 2; }, 20000));
    CHECK(allInBlobs(t.path, b));
    CHECK(hub.bulkReady);
    CHECK(hub.plainSent == 0);
    agent.stop();
}

// The controller beats on the CURVE socket only when it has sent nothing for an
// interval, and sealed CHUNKs count: during a long transfer the CURVE socket is silent.
TEST_CASE("bulk channel: sealed CHUNKs keep the link alive while the CURVE socket is silent", "[player][agent][bulk]") {
    TempDir t;
    FakeHub hub("tcp://127.0.0.1:*", &hubKeys());
    hub.offerBulk();
    hub.waitForReady = true;
    auto b = bundleV(2, mediaSet(2200, 1, 8 << 20));
    hub.add(b);
    hub.current = b;
    auto config = curveConfig(t.path, hub.endpoint);
    config.window = 1;  // 16,384 round trips: far longer than 3 heartbeats
    config.chunkBytes = 512;
    SyncAgent agent(config, fastOptions(), testLog());
    REQUIRE(agent.start().ok());
    REQUIRE(hub.serve([&] { return activeOf(agent) == 2; }, 60000));
    CHECK(allInBlobs(t.path, b));
    CHECK(hub.sealedSent > 0);
    CHECK(hub.hellos == 1);  // never silent: never reconnected
    agent.stop();
}
