// PROOFS over the real hub (CURVE on 127.0.0.1): the ack names the highest stored
// seq, a re-sent batch is acknowledged again and stored once, and a batch signed
// by another key gets no ack. Storing happens off the hub thread: distribution
// goes on while a batch is being stored, and the ack waits for the store.
#include <Poco/Logger.h>

#include <catch2/catch.hpp>
#include <zmq.hpp>

#include <chrono>
#include <condition_variable>
#include <fstream>
#include <mutex>

#include "ingest_sim.hpp"
#include "microscape/controller/db.hpp"
#include "microscape/controller/hub.hpp"
#include "microscape/core/manifest.hpp"
#include "microscape/core/wire.hpp"
#include "test_support.hpp"

using namespace microscape;
using namespace microscape::testing;

namespace {

struct Peer {
    zmq::context_t ctx;
    zmq::socket_t s{ctx, zmq::socket_type::dealer};

    // A plain (no CURVE) connection, for a hub with curve off.
    Peer(const std::string& playerId, int port) {
        s.set(zmq::sockopt::routing_id, playerId);
        s.set(zmq::sockopt::linger, 0);
        s.connect("tcp://127.0.0.1:" + std::to_string(port));
    }
    Peer(const std::string& playerId, const controller::CurveKeyPair& keys, const std::string& serverKey, int port) {
        s.set(zmq::sockopt::routing_id, playerId);
        s.set(zmq::sockopt::linger, 0);
        s.set(zmq::sockopt::curve_serverkey, serverKey);
        s.set(zmq::sockopt::curve_publickey, keys.publicZ85);
        s.set(zmq::sockopt::curve_secretkey, keys.secretZ85);
        s.connect("tcp://127.0.0.1:" + std::to_string(port));
    }
    void send(const wire::Envelope& e) {
        auto frames = wire::encode(e);
        for (std::size_t i = 0; i < frames.size(); ++i)
            s.send(zmq::buffer(frames[i]), i + 1 < frames.size() ? zmq::send_flags::sndmore : zmq::send_flags::none);
    }
    // The next message of the given type within timeoutMs (others are skipped).
    std::optional<wire::Envelope> waitFor(wire::Type type, int timeoutMs) {
        const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeoutMs);
        while (std::chrono::steady_clock::now() < until) {
            zmq::pollitem_t items[] = {{s.handle(), 0, ZMQ_POLLIN, 0}};
            zmq::poll(items, 1, std::chrono::milliseconds(100));
            if (!(items[0].revents & ZMQ_POLLIN)) continue;
            std::vector<std::string> frames;
            zmq::message_t m;
            do {
                (void)s.recv(m);
                frames.push_back(m.to_string());
            } while (m.more());
            std::vector<std::string_view> views(frames.begin(), frames.end());
            auto e = wire::decode(views);
            if (e && e->type == type) return *e;
        }
        return std::nullopt;
    }
};

// A backend whose proof store blocks until the test opens the gate: it stands
// for a large batch being written while the hub must keep serving.
struct GatedBackend final : controller::HubBackend {
    std::string playerId;
    controller::HubManifest manifest;
    std::string mediaSha, mediaFile;
    std::mutex m;
    std::condition_variable cv;
    bool open = false, entered = false;

    std::optional<std::string> playerForCurveKey(const std::string&) override { return playerId; }
    std::optional<controller::HubManifest> currentManifest(const std::string&) override { return std::nullopt; }
    std::string mediaPath(const std::string& sha) override { return sha == mediaSha ? mediaFile : ""; }
    void storeSeen(const std::vector<Seen>&) override {}
    std::int64_t nowMs() override { return 1776211200000; }
    std::optional<std::int64_t> storeProofs(const std::string&, const wire::Proofs& p) override {
        std::unique_lock lock(m);
        entered = true;
        cv.notify_all();
        cv.wait(lock, [&] { return open; });
        return p.lastSeq;
    }
    void release() {
        std::lock_guard lock(m);
        open = true;
        cv.notify_all();
    }
    bool waitEntered() {
        std::unique_lock lock(m);
        return cv.wait_for(lock, std::chrono::seconds(5), [&] { return entered; });
    }
};

}  // namespace

TEST_CASE("the hub keeps distributing while a PROOFS batch is being stored, and acks only after the store",
          "[controller][pop][hub]") {
    TempDir dir;
    GatedBackend backend;
    backend.playerId = "p-busy";
    backend.mediaFile = (dir.path / "poster.png").string();
    const std::string content(100000, 'x');
    std::ofstream(backend.mediaFile, std::ios::binary) << content;
    backend.mediaSha = crypto::sha256Hex(content);
    manifest::Manifest m;
    m.bundleId = "b-busy";
    m.version = 1;
    m.issuedAtMs = 1776211200000;
    m.expiresAtMs = m.issuedAtMs + 86400000LL * 30;
    m.target = backend.playerId;
    m.signer = std::string(64, 'a');
    manifest::MediaEntry e;
    e.sha256 = backend.mediaSha;
    e.sizeBytes = content.size();
    e.kind = MediaKind::Image;
    e.mime = "image/png";
    e.name = "poster";
    e.fileName = "poster.png";
    m.media.push_back(e);

    controller::HubConfig cfg;
    cfg.bind = "127.0.0.1";
    cfg.port = 0;
    cfg.curve = false;
    controller::Hub hub(cfg, backend, Poco::Logger::get("test.hub"));
    REQUIRE(hub.start().ok());
    struct Release {  // never leave the worker blocked, whatever fails
        GatedBackend& b;
        ~Release() { b.release(); }
    } release{backend};
    Peer peer(backend.playerId, hub.port());
    wire::Hello hello;
    hello.playerId = backend.playerId;
    hello.software = "test";
    peer.send(wire::toEnvelope(hello));
    REQUIRE(peer.waitFor(wire::Type::Welcome, 5000));

    wire::Proofs pr;
    pr.firstSeq = 1;
    pr.lastSeq = 7;
    pr.body = "stands for a large batch\n";
    peer.send(wire::toEnvelope(pr));
    REQUIRE(backend.waitEntered());

    // While the batch is being stored: a new manifest reaches the player, and so
    // does the media it names.
    hub.publish(controller::HubManifest{backend.playerId, 1, manifest::toCanonicalBytes(m), std::string(64, 's')});
    REQUIRE(peer.waitFor(wire::Type::Manifest, 5000));
    peer.send(wire::toEnvelope(wire::Fetch{backend.mediaSha, 0, 65536}));
    auto chunk = peer.waitFor(wire::Type::Chunk, 5000);
    REQUIRE(chunk);
    CHECK(chunk->payload.value_or("").size() == 65536);
    // ... and no ack yet: the batch is not stored.
    CHECK_FALSE(peer.waitFor(wire::Type::ProofsAck, 300));

    backend.release();
    auto ack = peer.waitFor(wire::Type::ProofsAck, 5000);
    REQUIRE(ack);
    CHECK(wire::parseProofsAck(*ack).value().seq == 7);
    hub.stop();
}

TEST_CASE("PROOFS through the hub are stored once and acknowledged with the stored seq", "[controller][pop][hub]") {
    TestServer srv;
    Client admin = srv.admin();
    Client anon = srv.client();
    auto curve = controller::makeCurveKeyPair().value();
    SimPlayer p;
    auto tr = admin.post("/api/v1/enrollment-tokens", R"({"name":"screen"})");
    REQUIRE(tr.status == 201);
    Poco::JSON::Object::Ptr e = new Poco::JSON::Object;
    e->set("token", tr.json()->getValue<std::string>("token"));
    e->set("identityKey", p.publicPem());
    e->set("curveKey", curve.publicZ85);
    auto er = anon.post("/api/v1/enroll", jsonString(e));
    INFO(er.body);
    REQUIRE(er.status == 201);
    auto ej = er.json();
    p.id = ej->getValue<std::string>("playerId");
    auto hub = ej->getObject("hub");
    Peer peer(p.id, curve, hub->getValue<std::string>("curveServerKey"), hub->getValue<int>("port"));

    wire::Hello hello;
    hello.playerId = p.id;
    hello.software = "test";
    peer.send(wire::toEnvelope(hello));
    REQUIRE(peer.waitFor(wire::Type::Welcome, 5000));

    const std::int64_t start =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
            .count();
    for (int i = 0; i < 30; ++i) p.play(crypto::sha256Hex("poster"), start - 600000 + i * 15000, 15000, 15000);
    auto sendBatch = [&](std::int64_t from, std::int64_t to, const microscape::testing::SimPlayer& signer) {
        wire::Proofs pr;
        pr.firstSeq = from;
        pr.lastSeq = to;
        pr.body = signer.batch(from, to);
        peer.send(wire::toEnvelope(pr));
        auto ack = peer.waitFor(wire::Type::ProofsAck, 3000);
        if (!ack) return std::int64_t(-1);
        return wire::parseProofsAck(*ack).value().seq;
    };
    CHECK(sendBatch(1, 20, p) == 20);
    CHECK(sendBatch(1, 20, p) == 20);  // ack lost, re-sent: stored once
    CHECK(sendBatch(11, 30, p) == 30);
    microscape::testing::SimPlayer forger = p;
    forger.key = microscape::testing::SimPlayer::newKey();
    CHECK(sendBatch(1, 30, forger) == -1);  // refused: no ack

    controller::Db db(srv.storeUrl());
    CHECK(db.read([](controller::DbConn& c) { return c.one("SELECT COUNT(*) FROM pop_records")->i64(0); }) == 30);
    CHECK(db.read([](controller::DbConn& c) {
        return c.one("SELECT COUNT(*) FROM pop_problems WHERE code = 'checkpoint_signature'")->i64(0);
    }) == 1);
}
