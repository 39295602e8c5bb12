// The player's sync side: cache, activation, import, and the agent against a
// scripted hub (a real ROUTER on 127.0.0.1) that can misbehave on purpose.
#include <Poco/Logger.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <fstream>
#include <map>
#include <mutex>
#include <optional>
#include <thread>
#include <zmq.hpp>
#include <zmq_addon.hpp>

#include "microscape/core/wire.hpp"
#include "microscape/player/agent.hpp"
#include "microscape/player/cache.hpp"
#include "microscape/player/sync.hpp"
#include "support/bundle_builder.hpp"
#include "support/wait_for.hpp"

using namespace microscape;
using namespace microscape::player;
using namespace microscape::testsupport;
using microscape::testing::waitFor;
namespace fs = std::filesystem;

namespace {

struct TmpDir {
    fs::path path;
    TmpDir() {
        char tmpl[] = "/tmp/ms-sync-XXXXXX";
        path = ::mkdtemp(tmpl);
    }
    ~TmpDir() {
        std::error_code ec;
        fs::remove_all(path, ec);
    }
};

const std::string kPlayer = "scr-test0001";

PlayerConfig makeConfig(const fs::path& dir, const std::string& endpoint, std::uint64_t quota = 0) {
    PlayerConfig c;
    c.dataDir = dir;
    c.playerId = kPlayer;
    c.endpoint = endpoint;
    c.curve = false;
    c.window = 4;
    c.chunkBytes = 4096;
    c.quotaBytes = quota;
    c.reserveBytes = 0;
    c.contentKeys.push_back(testKey(1).publicKey());
    fs::create_directories(dir);
    return c;
}

Bundle bundleV(std::int64_t version, std::vector<MediaItem> media, const std::string& target = kPlayer, int key = 1) {
    return makeBundle(testKey(key), std::move(media), [&](manifest::Manifest& m) {
        m.version = version;
        m.target = target;
        m.bundleId = "b-" + std::to_string(version);
    });
}

std::vector<MediaItem> mediaSet(std::uint32_t seed, int n = 3, std::size_t size = 20000) {
    std::vector<MediaItem> out;
    for (int i = 0; i < n; ++i)
        out.push_back(makeMedia(fakePng(size + static_cast<std::size_t>(i) * 777, seed + static_cast<std::uint32_t>(i)),
                                "m" + std::to_string(i), "m" + std::to_string(i) + ".png"));
    return out;
}

// A scripted hub: a plain ROUTER that answers HELLO, FETCH and can be told to
// corrupt or withhold chunks.
struct FakeHub {
    zmq::context_t ctx{1};
    zmq::socket_t router{ctx, zmq::socket_type::router};
    std::string endpoint;
    std::map<std::string, std::string> files;  // sha -> bytes
    std::optional<Bundle> current;
    int corruptChunks = 0;      // corrupt this many chunks (first ones)
    long stopAfterChunks = -1;  // stop answering FETCH after this many
    long chunksSent = 0;
    std::uint64_t bytesSent = 0;
    std::vector<wire::Fetch> fetches;
    std::vector<wire::StatusReport> statuses;

    explicit FakeHub(const std::string& ep = "tcp://127.0.0.1:*") {
        router.set(zmq::sockopt::linger, 0);
        router.set(zmq::sockopt::router_handover, 1);
        router.bind(ep);
        endpoint = router.get(zmq::sockopt::last_endpoint);
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
            zmq::pollitem_t item{router.handle(), 0, ZMQ_POLLIN, 0};
            zmq::poll(&item, 1, std::chrono::milliseconds(20));
            if (!(item.revents & ZMQ_POLLIN)) continue;
            std::vector<zmq::message_t> parts;
            if (!zmq::recv_multipart(router, std::back_inserter(parts))) continue;
            const std::string rid = parts[0].to_string();
            std::vector<std::string_view> frames;
            for (std::size_t i = 1; i < parts.size(); ++i) frames.emplace_back(parts[i].data<char>(), parts[i].size());
            auto env = wire::decode(frames);
            REQUIRE(env.ok());
            if (env->type == wire::Type::Hello) {
                auto h = wire::parseHello(*env);
                REQUIRE(h.ok());
                CHECK(h->playerId == rid);
                wire::Welcome w;
                w.timeMs = nowMs();
                w.heartbeatMs = 100;
                w.currentVersion = current ? current->manifest.version : 0;
                w.maxChunkBytes = 4096;
                w.maxWindow = 4;
                send(rid, wire::toEnvelope(w));
                if (current && current->manifest.version > h->activeVersion) push(rid, *current);
            } else if (env->type == wire::Type::Fetch) {
                auto f = wire::parseFetch(*env);
                REQUIRE(f.ok());
                fetches.push_back(*f);
                if (stopAfterChunks >= 0 && chunksSent >= stopAfterChunks) continue;
                const auto& data = files.at(f->sha256);
                REQUIRE(f->offset <= data.size());
                std::string part = data.substr(f->offset, f->length);
                if (corruptChunks > 0 && !part.empty()) {
                    part[0] = static_cast<char>(part[0] ^ 0x55);
                    --corruptChunks;
                }
                ++chunksSent;
                bytesSent += part.size();
                send(rid, wire::toEnvelope(wire::Chunk{f->sha256, f->offset, data.size(), part}));
            } else if (env->type == wire::Type::Status) {
                auto s = wire::parseStatus(*env);
                REQUIRE(s.ok());
                statuses.push_back(*s);
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

TEST_CASE("cache appends only at the partial size and admits only files that hash to their name", "[player][cache]") {
    TmpDir t;
    Cache cache(t.path);
    const std::string data = fillerBytes(10000, 3);
    const std::string sha = crypto::sha256Hex(data);
    REQUIRE(cache.append(sha, 0, data.data(), 4000).ok());
    CHECK(cache.append(sha, 0, data.data(), 10).code() == Errc::Usage);
    CHECK(cache.partialSize(sha) == 4000);
    REQUIRE(cache.append(sha, 4000, data.data() + 4000, 6000).ok());
    REQUIRE(cache.finish(sha, data.size()).ok());
    CHECK(cache.has(sha));
    CHECK(cache.partialSize(sha) == 0);

    SECTION("a file with wrong bytes is discarded") {
        std::string bad = data;
        bad[5] ^= 1;
        const std::string sha2 = crypto::sha256Hex(data + "x");
        REQUIRE(cache.append(sha2, 0, bad.data(), bad.size()).ok());
        REQUIRE(cache.append(sha2, bad.size(), "y", 1).ok());
        CHECK(cache.finish(sha2, bad.size() + 1).code() == Errc::HashMismatch);
        CHECK_FALSE(cache.has(sha2));
        CHECK(cache.partialSize(sha2) == 0);
    }
    SECTION("GC keeps what is referenced") {
        const std::string other = crypto::sha256Hex("other");
        REQUIRE(cache.append(other, 0, "other", 5).ok());
        auto r = cache.gc({sha}, {});
        CHECK(r.partialsRemoved == 1);
        CHECK(cache.has(sha));
        r = cache.gc({}, {});
        CHECK(r.blobsRemoved == 1);
        CHECK_FALSE(cache.has(sha));
    }
    SECTION("a quota refuses writes past it") {
        Cache small(t.path, 12000);
        const std::string sha3 = crypto::sha256Hex("q");
        CHECK(small.append(sha3, 0, data.data(), 5000).code() == Errc::TooLarge);
    }
}

TEST_CASE("activation needs every media file and never rolls back", "[player][activation]") {
    TmpDir t;
    Cache cache(t.path);
    BundleStore store(t.path, {testKey(1).publicKey()}, kPlayer);
    auto b = bundleV(5, mediaSet(1));
    SignedManifest sm{b.manifest, b.manifestBytes, b.signature};
    CHECK(store.activate(sm, cache).code() == Errc::MissingMedia);
    CHECK(store.activeVersion() == 0);
    for (const auto& m : b.media) {
        REQUIRE(cache.append(m.entry.sha256, 0, m.bytes.data(), m.bytes.size()).ok());
        REQUIRE(cache.finish(m.entry.sha256, m.bytes.size()).ok());
    }
    REQUIRE(store.activate(sm, cache).ok());
    CHECK(store.activeVersion() == 5);
    CHECK(fs::is_symlink(t.path / "active"));
    CHECK(store.activate(sm, cache).code() == Errc::Rollback);
    auto older = bundleV(4, {});
    CHECK(store.activate({older.manifest, older.manifestBytes, older.signature}, cache).code() == Errc::Rollback);
    SECTION("a damaged active bundle is reported, not trusted") {
        std::ofstream(t.path / "active" / "manifest.sig") << "garbage";
        CHECK_FALSE(store.active().ok());
    }
    SECTION("staged manifests persist") {
        auto next = bundleV(6, mediaSet(9));
        REQUIRE(store.stage({next.manifest, next.manifestBytes, next.signature}).ok());
        BundleStore again(t.path, {testKey(1).publicKey()}, kPlayer);
        auto s = again.staged();
        REQUIRE(s);
        CHECK(s->manifest.version == 6);
        CHECK(again.referencedMedia().size() == 6);
    }
}

TEST_CASE("verifyManifest refuses bad signatures, rollbacks, expiry and other players' manifests", "[player][sync]") {
    const std::vector<crypto::PublicKey> keys{testKey(1).publicKey()};
    auto good = bundleV(7, {});
    CHECK(verifyManifest(good.manifestBytes, good.signature, keys, 1, nowMs(), kPlayer).ok());
    auto foreign = bundleV(7, {}, kPlayer, 2);
    CHECK(verifyManifest(foreign.manifestBytes, foreign.signature, keys, 1, nowMs(), kPlayer).code() ==
          Errc::UnknownSigner);
    std::string sig = good.signature;
    sig[3] ^= 1;
    CHECK(verifyManifest(good.manifestBytes, sig, keys, 1, nowMs(), kPlayer).code() == Errc::BadSignature);
    CHECK(verifyManifest(good.manifestBytes, good.signature, keys, 8, nowMs(), kPlayer).code() == Errc::Rollback);
    CHECK(verifyManifest(good.manifestBytes, good.signature, keys, 1, expiresMs(), kPlayer).code() == Errc::Expired);
    auto other = bundleV(7, {}, "scr-someoneelse");
    CHECK(verifyManifest(other.manifestBytes, other.signature, keys, 1, nowMs(), kPlayer).code() == Errc::BadManifest);
    auto group = bundleV(7, {}, "group:garages");
    CHECK(verifyManifest(group.manifestBytes, group.signature, keys, 1, nowMs(), kPlayer).ok());
}

TEST_CASE("import applies a bundle tar with the same checks and leaves nothing behind on refusal", "[player][import]") {
    TmpDir t;
    Cache cache(t.path);
    BundleStore store(t.path, {testKey(1).publicKey()}, kPlayer);
    auto b = bundleV(3, mediaSet(20));
    const fs::path tarPath = t.path / "usb.tar";
    auto writeTar = [&](const std::string& bytes) { std::ofstream(tarPath, std::ios::binary) << bytes; };

    SECTION("a good bundle activates") {
        writeTar(b.tar());
        auto r = importBundle(tarPath, store, cache, nowMs());
        REQUIRE(r.ok());
        CHECK(r->version == 3);
        CHECK(r->mediaCopied == 3);
        CHECK(store.activeVersion() == 3);
        SECTION("the same bundle again is a rollback") {
            CHECK(importBundle(tarPath, store, cache, nowMs()).code() == Errc::Rollback);
        }
    }
    SECTION("a tampered media file is refused and nothing enters the cache") {
        auto bad = b;
        bad.media[1].bytes[100] ^= 1;
        writeTar(bad.tar());
        CHECK(importBundle(tarPath, store, cache, nowMs()).code() == Errc::HashMismatch);
        CHECK(store.activeVersion() == 0);
        for (const auto& m : b.media) CHECK_FALSE(cache.has(m.entry.sha256));
        CHECK_FALSE(fs::exists(t.path / "import-tmp"));
    }
    SECTION("a bundle signed by another key is refused") {
        writeTar(bundleV(3, mediaSet(20), kPlayer, 2).tar());
        CHECK(importBundle(tarPath, store, cache, nowMs()).code() == Errc::UnknownSigner);
    }
    SECTION("another screen's bundle is refused") {
        writeTar(bundleV(3, mediaSet(20), "scr-other").tar());
        CHECK(importBundle(tarPath, store, cache, nowMs()).code() == Errc::BadManifest);
        CHECK(store.activeVersion() == 0);
    }
    SECTION("an expired bundle is refused") {
        writeTar(b.tar());
        CHECK(importBundle(tarPath, store, cache, expiresMs() + 1).code() == Errc::Expired);
    }
}

TEST_CASE("the agent fetches, verifies and activates; cached media is never fetched again", "[player][agent]") {
    TmpDir t;
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
    TmpDir t;
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
    TmpDir t;
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
    TmpDir t;
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
    TmpDir t;
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
    TmpDir t;
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
    TmpDir t;
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
    TmpDir t;
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
