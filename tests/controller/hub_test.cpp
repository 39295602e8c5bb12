// The hub against raw DEALERs on 127.0.0.1: who gets in, what is dropped, and
// that bad input never takes the connection or the process down.
#include <catch2/catch.hpp>
#include <chrono>
#include <cstring>
#include <thread>
#include <zmq.hpp>
#include <zmq_addon.hpp>

#include "microscape/core/crypto.hpp"
#include "microscape/core/manifest.hpp"
#include "microscape/core/sealed.hpp"
#include "microscape/core/wire.hpp"
#include "test_support.hpp"

using namespace microscape::testing;
using namespace microscape;

namespace {

struct Curve {
    std::string pub, sec;
};

Curve newCurve() {
    char p[41] = {}, s[41] = {};
    REQUIRE(zmq_curve_keypair(p, s) == 0);
    return {std::string(p, 40), std::string(s, 40)};
}

struct Enrolled {
    std::string id;
    std::string hubEndpoint;
};

Enrolled enrollWithCurve(TestServer& srv, Client& admin, const Curve& c) {
    auto t = admin.post("/api/v1/enrollment-tokens", R"({"name":"raw"})");
    REQUIRE(t.status == 201);
    auto id = crypto::PrivateKey::generate();
    REQUIRE(id.ok());
    Poco::JSON::Object::Ptr e = new Poco::JSON::Object;
    e->set("token", t.json()->getValue<std::string>("token"));
    e->set("identityKey", id->publicKey().toPem());
    e->set("curveKey", c.pub);
    auto r = srv.client().post("/api/v1/enroll", jsonString(e));
    INFO(r.body);
    REQUIRE(r.status == 201);
    return {r.json()->getValue<std::string>("playerId"),
            "tcp://127.0.0.1:" + std::to_string(r.json()->getObject("hub")->getValue<int>("port"))};
}

struct RawPlayer {
    zmq::context_t& ctx;
    zmq::socket_t sock;
    RawPlayer(zmq::context_t& c, const std::string& endpoint, const std::string& routingId, const Curve& key,
              const std::string& serverKey)
        : ctx(c), sock(c, zmq::socket_type::dealer) {
        sock.set(zmq::sockopt::linger, 0);
        sock.set(zmq::sockopt::routing_id, routingId);
        sock.set(zmq::sockopt::curve_serverkey, serverKey);
        sock.set(zmq::sockopt::curve_publickey, key.pub);
        sock.set(zmq::sockopt::curve_secretkey, key.sec);
        sock.connect(endpoint);
    }
    void sendRaw(const std::vector<std::string>& frames) {
        for (std::size_t i = 0; i < frames.size(); ++i)
            sock.send(zmq::buffer(frames[i]), i + 1 < frames.size() ? zmq::send_flags::sndmore : zmq::send_flags::none);
    }
    void send(const wire::Envelope& e) { sendRaw(wire::encode(e)); }
    std::optional<wire::Envelope> recv(int timeoutMs, std::optional<wire::Type> want = std::nullopt) {
        const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeoutMs);
        while (std::chrono::steady_clock::now() < until) {
            zmq::pollitem_t item{sock.handle(), 0, ZMQ_POLLIN, 0};
            zmq::poll(&item, 1, std::chrono::milliseconds(20));
            if (!(item.revents & ZMQ_POLLIN)) continue;
            std::vector<zmq::message_t> parts;
            if (!zmq::recv_multipart(sock, std::back_inserter(parts))) continue;
            std::vector<std::string_view> frames;
            for (auto& p : parts) frames.emplace_back(p.data<char>(), p.size());
            auto env = wire::decode(frames);
            REQUIRE(env.ok());
            if (want && env->type != *want) continue;
            return *env;
        }
        return std::nullopt;
    }
    void hello(const std::string& id) {
        wire::Hello h;
        h.playerId = id;
        h.software = "raw-test";
        send(wire::toEnvelope(h));
    }
};

}  // namespace

TEST_CASE("the hub admits only enrolled CURVE keys and only after HELLO", "[controller][hub]") {
    TestServer srv([](auto& c) { c.zmqHeartbeatMs = 200; });
    Client admin = srv.admin();
    const std::string serverKey = [&] {
        auto s = readFile(srv.dataDir() / "keys" / "hub-curve.pub");
        return s.substr(0, 40);
    }();
    zmq::context_t ctx(1);
    const Curve good = newCurve();
    const Curve other = newCurve();
    const auto me = enrollWithCurve(srv, admin, good);
    const std::string id = me.id;
    const std::string otherId = enrollWithCurve(srv, admin, other).id;
    const std::string hubEp = me.hubEndpoint;

    SECTION("an unenrolled CURVE key is refused") {
        RawPlayer p(ctx, hubEp, "scr-intruder", newCurve(), serverKey);
        p.hello("scr-intruder");
        CHECK_FALSE(p.recv(1000));
        auto m = srv.client().get("/metrics");
        CHECK(m.body.find("microscape_hub_zap_denied_total 0") == std::string::npos);
    }
    SECTION("a wrong server key gets nowhere") {
        RawPlayer p(ctx, hubEp, id, good, newCurve().pub);
        p.hello(id);
        CHECK_FALSE(p.recv(800));
    }
    SECTION("an enrolled player talking as another player is dropped") {
        RawPlayer p(ctx, hubEp, otherId, good, serverKey);  // routing id of another, own key
        p.hello(otherId);
        CHECK_FALSE(p.recv(800));
    }
    SECTION("a message before HELLO is dropped and answered with hello_required") {
        RawPlayer p(ctx, hubEp, id, good, serverKey);
        wire::Fetch f{std::string(64, 'a'), 0, 100};
        p.send(wire::toEnvelope(f));
        auto r = p.recv(2000);
        REQUIRE(r);
        REQUIRE(r->type == wire::Type::Error);
        CHECK(wire::parseError(*r)->code == "hello_required");
    }
    SECTION("after HELLO: WELCOME, the current manifest, chunks of it and nothing else") {
        RawPlayer p(ctx, hubEp, id, good, serverKey);
        SECTION("HELLO naming another player is refused") {
            p.hello(otherId);
            auto r = p.recv(2000);
            REQUIRE(r);
            CHECK(r->type == wire::Type::Error);
        }
        p.hello(id);
        auto w = p.recv(2000, wire::Type::Welcome);
        REQUIRE(w);
        auto welcome = wire::parseWelcome(*w);
        REQUIRE(welcome.ok());
        CHECK(welcome->heartbeatMs == 200);
        CHECK(welcome->currentVersion >= 1);
        auto m = p.recv(2000, wire::Type::Manifest);
        REQUIRE(m);
        auto push = wire::parseManifestPush(*m);
        REQUIRE(push.ok());
        auto parsed = manifest::parse(push->manifestBytes);
        REQUIRE(parsed.ok());
        CHECK(parsed->target == id);

        // Garbage of every kind: logged, dropped, the session survives.
        p.sendRaw({"BOGUS", "{}"});
        p.sendRaw({"FETCH", "not json"});
        p.sendRaw({"FETCH", R"({"sha256":"zz","offset":0,"length":1})"});
        p.sendRaw({"STATUS", "{}", "unexpected payload"});
        p.sendRaw({"HELLO"});
        p.sendRaw({"WELCOME", R"({"protocol":1})"});
        p.sendRaw({"CHUNK", std::string(20000, '{'), "x"});
        int errors = 0;
        while (auto r = p.recv(500, wire::Type::Error)) {
            ++errors;
            CHECK(wire::parseError(*r)->code == "bad_message");
        }
        CHECK(errors >= 5);
        // A FETCH for a hash outside its manifest is refused.
        p.send(wire::toEnvelope(wire::Fetch{crypto::sha256Hex("not in any manifest"), 0, 1024}));
        auto refused = p.recv(2000, wire::Type::Error);
        REQUIRE(refused);
        CHECK(wire::parseError(*refused)->code == "not_in_manifest");
        // Still alive: heartbeats flow.
        p.send(wire::toEnvelope(wire::Heartbeat{0}));
        CHECK(p.recv(1000, wire::Type::Heartbeat));
        // STATUS is stored and shown.
        wire::StatusReport s;
        s.activeVersion = 1;
        s.syncState = wire::SyncState::DiskFull;
        s.lastError = "disk full: test";
        s.playback = json::Object{{"journal_errors", std::int64_t{3}}, {"journal_error", "disk full"}};
        p.send(wire::toEnvelope(s));
        CHECK(waitFor(
            [&] {
                auto g = admin.get("/api/v1/players/" + id);
                auto st = g.json()->getObject("status");
                return g.json()->getValue<bool>("online") && st && st->has("sync_state") &&
                       st->getValue<std::string>("sync_state") == "disk_full";
            },
            3000));
        // Its unrecorded plays reach the operator's monitoring.
        const std::string metrics = srv.client().get("/metrics").body;
        CHECK(metrics.find("\nmicroscape_players_journal_errors 3\n") != std::string::npos);
        CHECK(metrics.find("\nmicroscape_players_with_journal_errors 1\n") != std::string::npos);
        // An oversized message: libzmq drops that connection; the hub lives on.
        std::string huge(wire::kMaxFrameBytes + 10, 'x');
        {
            // Watch the player's side of the link (libzmq's socket monitor) to see
            // the drop happen rather than give it a fixed time.
            const std::string watchEp = "inproc://hub-test-oversized-watch";
            REQUIRE(zmq_socket_monitor(p.sock.handle(), watchEp.c_str(), ZMQ_EVENT_DISCONNECTED) == 0);
            zmq::socket_t watch(ctx, zmq::socket_type::pair);
            watch.connect(watchEp);
            p.sendRaw({"PROOFS", R"({"first_seq":1,"last_seq":1})", huge});
            zmq::pollitem_t item{watch.handle(), 0, ZMQ_POLLIN, 0};
            zmq::poll(&item, 1, std::chrono::milliseconds(10000));
            REQUIRE((item.revents & ZMQ_POLLIN) != 0);
            std::vector<zmq::message_t> event;
            REQUIRE(zmq::recv_multipart(watch, std::back_inserter(event)));
            REQUIRE(event.size() == 2);
            std::uint16_t id = 0;
            std::memcpy(&id, event[0].data(), sizeof id);
            CHECK(id == ZMQ_EVENT_DISCONNECTED);
            zmq_socket_monitor(p.sock.handle(), nullptr, 0);
        }
        // A player that reconnects closes its old socket first (the hub keeps a
        // routing id with the connection that holds it: no handover).
        p.sock.close();
        RawPlayer again(ctx, hubEp, id, good, serverKey);
        again.hello(id);
        CHECK(again.recv(2000, wire::Type::Welcome));
    }
}

TEST_CASE("a new manifest version is pushed to an online player at once", "[controller][hub]") {
    TestServer srv([](auto& c) { c.zmqHeartbeatMs = 200; });
    Client admin = srv.admin();
    zmq::context_t ctx(1);
    const Curve key = newCurve();
    const auto me = enrollWithCurve(srv, admin, key);
    const std::string id = me.id;
    const std::string serverKey = readFile(srv.dataDir() / "keys" / "hub-curve.pub").substr(0, 40);
    RawPlayer p(ctx, me.hubEndpoint, id, key, serverKey);
    p.hello(id);
    REQUIRE(p.recv(2000, wire::Type::Welcome));
    auto first = p.recv(2000, wire::Type::Manifest);
    REQUIRE(first);
    const auto v1 = wire::parseManifestPush(*first)->version;
    const auto t0 = std::chrono::steady_clock::now();
    REQUIRE(
        admin
            .patch("/api/v1/players/" + id, R"({"name":"renamed","width":1080,"height":1920,"orientation":"portrait"})")
            .status == 200);
    auto r = admin.post("/api/v1/players/" + id + "/compile", "{}");
    REQUIRE(r.status == 200);
    if (r.json()->getValue<int>("version") > v1) {
        auto next = p.recv(2000, wire::Type::Manifest);
        REQUIRE(next);
        CHECK(wire::parseManifestPush(*next)->version > v1);
        const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
        CHECK(ms < 1000);
    }
}

TEST_CASE("an unanswered command is sent again when the player reconnects, and fails when nobody answers",
          "[controller][hub]") {
    TestServer srv([](auto& c) { c.zmqHeartbeatMs = 1000; });
    Client admin = srv.admin();
    zmq::context_t ctx(1);
    const Curve key = newCurve();
    const auto me = enrollWithCurve(srv, admin, key);
    const std::string serverKey = readFile(srv.dataDir() / "keys" / "hub-curve.pub").substr(0, 40);
    auto state = [&](const std::string& cid) { return admin.get("/api/v1/commands/" + cid).json(); };
    auto online = [&] { return admin.get("/api/v1/players/" + me.id).json()->getValue<bool>("online"); };

    auto first = std::make_unique<RawPlayer>(ctx, me.hubEndpoint, me.id, key, serverKey);
    first->hello(me.id);
    REQUIRE(first->recv(3000, wire::Type::Welcome));
    auto r = admin.post("/api/v1/players/" + me.id + "/commands", R"({"action":"reload"})");
    REQUIRE(r.status == 202);
    const std::string cid = r.json()->getValue<std::string>("id");
    auto got = first->recv(3000, wire::Type::Command);
    REQUIRE(got);
    CHECK(wire::parseCommand(*got)->id == cid);
    // The link drops before the player answers.
    first.reset();
    REQUIRE(waitFor([&] { return !online(); }, 10000, 50));
    CHECK(state(cid)->getValue<std::string>("state") == "sent");

    // Back again: the same command, with the same id, and this time an answer.
    RawPlayer again(ctx, me.hubEndpoint, me.id, key, serverKey);
    again.hello(me.id);
    REQUIRE(again.recv(3000, wire::Type::Welcome));
    auto resent = again.recv(3000, wire::Type::Command);
    REQUIRE(resent);
    CHECK(wire::parseCommand(*resent)->id == cid);
    CHECK(wire::parseCommand(*resent)->action == wire::CommandAction::Reload);
    again.send(wire::toEnvelope(wire::CommandAck{cid, true, "reloaded", std::nullopt}));
    REQUIRE(waitFor([&] { return state(cid)->getValue<std::string>("state") == "done"; }, 5000, 50));

    // A command nobody answers fails after a minute of the server's clock, saying so.
    auto shot = admin.post("/api/v1/players/" + me.id + "/commands", R"({"action":"screenshot"})");
    REQUIRE(shot.status == 202);
    const std::string sid = shot.json()->getValue<std::string>("id");
    REQUIRE(again.recv(3000, wire::Type::Command));
    CHECK(state(sid)->getValue<std::string>("state") == "sent");
    srv.advanceClock(61'000);
    REQUIRE(waitFor([&] { return state(sid)->getValue<std::string>("state") == "failed"; }, 5000, 50));
    CHECK(state(sid)->getValue<std::string>("message").find("no answer") != std::string::npos);
    // An answer that comes after all is still taken.
    again.send(wire::toEnvelope(wire::CommandAck{sid, true, "1280x720", std::nullopt}));
    REQUIRE(waitFor([&] { return state(sid)->getValue<std::string>("state") == "done"; }, 5000, 50));
}

namespace {

// A hub with one approved poster scheduled everywhere, and a raw player with
// its session: WELCOME, the manifest's media entry.
struct BulkFixture {
    TestServer srv;
    TempDir fx;
    Client admin;
    zmq::context_t ctx{1};
    Curve key = newCurve();
    Enrolled me;
    std::string serverKey;
    // poster: the PNG scheduled (default: a small one).
    explicit BulkFixture(std::function<void(microscape::controller::ControllerConfig&)> tweak,
                         std::function<std::string(const fs::path&)> poster = nullptr)
        : srv(std::move(tweak)), admin(srv.admin()) {
        Client ed = srv.userClient("ed", "editor", "宣传科");
        Client ap = srv.userClient("ap", "approver");
        const int media =
            uploadApproved(ed, ap, poster ? poster(fx.path) : makePng(fx.path, "反诈防骗", 640, 360), "poster.png");
        const int pl = createdId(ed.post("/api/v1/playlists", R"({"name":"p","items":[{"mediaId":)" +
                                                                  std::to_string(media) + R"(,"durationMs":5000}]})"));
        createdId(ed.post("/api/v1/schedules",
                          R"({"name":"all","playlistId":)" + std::to_string(pl) +
                              R"(,"startsOn":"2020-01-01","endsOn":"2099-12-31","target":{"all":true}})"));
        serverKey = readFile(srv.dataDir() / "keys" / "hub-curve.pub").substr(0, 40);
        me = enrollWithCurve(srv, admin, key);
    }
};

struct Session {
    wire::Welcome welcome;
    manifest::MediaEntry media;
};

Session startSession(RawPlayer& p, const std::string& id) {
    p.hello(id);
    auto w = p.recv(3000, wire::Type::Welcome);
    REQUIRE(w);
    auto welcome = wire::parseWelcome(*w);
    REQUIRE(welcome.ok());
    auto m = p.recv(3000, wire::Type::Manifest);
    REQUIRE(m);
    auto parsed = manifest::parse(wire::parseManifestPush(*m)->manifestBytes);
    REQUIRE(parsed.ok());
    REQUIRE(parsed->media.size() == 1);
    return {*welcome, parsed->media.front()};
}

std::uint64_t metricValue(Client& c, const std::string& name) {
    const std::string body = c.get("/metrics").body;
    const auto at = body.find("\n" + name + " ");
    REQUIRE(at != std::string::npos);
    return std::stoull(body.substr(at + name.size() + 2));
}

// The next CHUNK on a socket within timeoutMs, as its frames.
std::vector<zmq::message_t> nextFrames(zmq::socket_t& s, int timeoutMs) {
    zmq::pollitem_t item{s.handle(), 0, ZMQ_POLLIN, 0};
    zmq::poll(&item, 1, std::chrono::milliseconds(timeoutMs));
    std::vector<zmq::message_t> parts;
    if (item.revents & ZMQ_POLLIN) (void)zmq::recv_multipart(s, std::back_inserter(parts));
    return parts;
}

zmq::socket_t bulkDealer(zmq::context_t& ctx, int port, const std::string& token) {
    zmq::socket_t s(ctx, zmq::socket_type::dealer);
    s.set(zmq::sockopt::linger, 0);
    s.set(zmq::sockopt::routing_id, token);
    s.connect("tcp://127.0.0.1:" + std::to_string(port));
    return s;
}

void sendFrames(zmq::socket_t& s, const std::vector<std::string>& frames) {
    for (std::size_t i = 0; i < frames.size(); ++i)
        s.send(zmq::buffer(frames[i]), i + 1 < frames.size() ? zmq::send_flags::sndmore : zmq::send_flags::none);
}

}  // namespace

TEST_CASE("the bulk channel: sealed CHUNKs go only to a READY that proves the session's key",
          "[controller][hub][bulk]") {
    BulkFixture f([](auto& c) { c.zmqHeartbeatMs = 200; });
    RawPlayer p(f.ctx, f.me.hubEndpoint, f.me.id, f.key, f.serverKey);
    auto s = startSession(p, f.me.id);
    REQUIRE(s.welcome.bulkPort > 0);
    REQUIRE(s.welcome.bulkKey.size() == wire::sealed::kKeyBytes);
    const std::string& sha = s.media.sha256;
    const auto size = s.media.sizeBytes;
    REQUIRE(size > 2048);

    // Before any READY, a FETCH asking for the bulk channel is answered on the CURVE socket.
    p.send(wire::toEnvelope(wire::Fetch{sha, 0, 1024, true}));
    auto plain = p.recv(3000, wire::Type::Chunk);
    REQUIRE(plain);
    CHECK(wire::parseChunk(*plain)->data.size() == 1024);

    // The player's READY: from then on its FETCHes with bulk come sealed on the bulk channel.
    auto bulk = bulkDealer(f.ctx, s.welcome.bulkPort, s.welcome.bulkToken);
    sendFrames(bulk, {"READY", wire::sealed::readyTag(s.welcome.bulkKey, s.welcome.bulkToken)});
    std::uint64_t lastSeq = 0;
    std::string file;
    const auto sealedBefore = metricValue(f.admin, "microscape_hub_chunk_bytes_sealed_total");
    // READY and FETCH travel on two connections: ask until the answer comes sealed.
    REQUIRE(waitFor(
        [&] {
            p.send(wire::toEnvelope(wire::Fetch{sha, 0, 1024, true}));
            auto parts = nextFrames(bulk, 200);
            while (p.recv(10, wire::Type::Chunk)) {
            }
            if (parts.size() != 3) return false;
            CHECK(parts[2].size() == 1024 + wire::sealed::kTagBytes);
            auto c = wire::sealed::openChunk(s.welcome.bulkKey, parts[0].to_string_view(), parts[1].to_string_view(),
                                             parts[2].data<char>(), parts[2].size(), lastSeq);
            REQUIRE(c.ok());
            file.assign(c->data);
            return true;
        },
        10000));
    while (file.size() < size) {
        p.send(wire::toEnvelope(wire::Fetch{sha, file.size(), 512, true}));
        auto parts = nextFrames(bulk, 3000);
        REQUIRE(parts.size() == 3);
        CHECK(parts[2].to_string_view().find(std::string_view(file).substr(0, 64)) == std::string_view::npos);
        const std::uint64_t before = lastSeq;
        auto c = wire::sealed::openChunk(s.welcome.bulkKey, parts[0].to_string_view(), parts[1].to_string_view(),
                                         parts[2].data<char>(), parts[2].size(), lastSeq);
        REQUIRE(c.ok());
        CHECK(lastSeq == before + 1);
        REQUIRE(c->offset == file.size());
        file.append(c->data);
    }
    CHECK(crypto::sha256Hex(file) == sha);
    CHECK(metricValue(f.admin, "microscape_hub_chunk_bytes_sealed_total") - sealedBefore >= size);
    // FETCH without bulk still comes on the CURVE socket.
    p.send(wire::toEnvelope(wire::Fetch{sha, 0, 100, false}));
    CHECK(p.recv(3000, wire::Type::Chunk));
    CHECK(nextFrames(bulk, 200).empty());

    // A new session (HELLO again) gets a new token and key; the old READY no
    // longer counts, so nothing more goes to the old connection.
    auto again = startSession(p, f.me.id);
    CHECK(again.welcome.bulkToken != s.welcome.bulkToken);
    CHECK(again.welcome.bulkKey != s.welcome.bulkKey);
    p.send(wire::toEnvelope(wire::Fetch{sha, 0, 100, true}));
    CHECK(p.recv(3000, wire::Type::Chunk));
    CHECK(nextFrames(bulk, 200).empty());

    // Someone who saw the new token but holds only the old key (or none): its
    // READY is dropped and nothing is sent to it; nor does an unknown token or
    // anything but READY get anywhere.
    const auto dropped = metricValue(f.admin, "microscape_hub_messages_dropped_total");
    auto forged = bulkDealer(f.ctx, again.welcome.bulkPort, again.welcome.bulkToken);
    sendFrames(forged, {"READY", wire::sealed::readyTag(s.welcome.bulkKey, again.welcome.bulkToken)});
    sendFrames(forged, {"READY", std::string(wire::sealed::kTagBytes, '\0')});
    auto stranger = bulkDealer(f.ctx, again.welcome.bulkPort, std::string(32, 'f'));
    sendFrames(stranger, {"READY", wire::sealed::readyTag(again.welcome.bulkKey, std::string(32, 'f'))});
    sendFrames(stranger, {"CHUNK", "{}", std::string(100, 'x')});
    REQUIRE(waitFor([&] { return metricValue(f.admin, "microscape_hub_messages_dropped_total") >= dropped + 4; }));
    p.send(wire::toEnvelope(wire::Fetch{sha, 0, 100, true}));
    CHECK(p.recv(3000, wire::Type::Chunk));
    CHECK(nextFrames(forged, 200).empty());
    CHECK(nextFrames(stranger, 10).empty());
    // Too big for the channel: the connection is dropped by libzmq, the hub lives on.
    sendFrames(stranger, {"READY", std::string(10000, 'x')});
    p.send(wire::toEnvelope(wire::Heartbeat{0}));
    CHECK(p.recv(3000, wire::Type::Heartbeat));
}

TEST_CASE("the bulk channel is off with zmq.bulkPort -1: every CHUNK on the CURVE socket", "[controller][hub][bulk]") {
    BulkFixture f([](auto& c) {
        c.zmqHeartbeatMs = 200;
        c.zmqBulkPort = -1;
    });
    RawPlayer p(f.ctx, f.me.hubEndpoint, f.me.id, f.key, f.serverKey);
    auto s = startSession(p, f.me.id);
    CHECK(s.welcome.bulkPort == 0);
    CHECK(s.welcome.bulkToken.empty());
    p.send(wire::toEnvelope(wire::Fetch{s.media.sha256, 0, 1024, true}));
    CHECK(p.recv(3000, wire::Type::Chunk));
}

TEST_CASE("the hub's sealed chunks are bounded: by zmq.sealedBudgetMiB for all, by a window for each session",
          "[controller][hub][bulk]") {
    const bool tinyBudget = GENERATE(true, false);
    CAPTURE(tinyBudget);
    // Noise does not compress: a PNG of about 700 KB.
    BulkFixture f(
        [&](auto& c) {
            c.zmqHeartbeatMs = 200;
            if (tinyBudget) c.zmqSealedBudgetMiB = 1;
        },
        [](const fs::path& dir) {
            const fs::path out = dir / "noise.png";
            const std::string cmd = "/usr/bin/convert -size 640x360 xc: +noise Random -depth 8 '" + out.string() + "'";
            REQUIRE(std::system(cmd.c_str()) == 0);
            return readFile(out);
        });
    RawPlayer p(f.ctx, f.me.hubEndpoint, f.me.id, f.key, f.serverKey);
    auto s = startSession(p, f.me.id);
    REQUIRE(s.welcome.bulkPort > 0);
    const std::string& sha = s.media.sha256;
    const auto size = static_cast<std::size_t>(s.media.sizeBytes);
    const std::size_t sealedSize = size + wire::sealed::kTagBytes;
    // A player that reads nothing: libzmq on its side takes one message, the
    // kernel a few MiB (tcp_wmem tops out at 4 MiB here); the rest stays sealed
    // in the hub, or waits, or goes elsewhere.
    zmq::socket_t bulk(f.ctx, zmq::socket_type::dealer);
    bulk.set(zmq::sockopt::linger, 0);
    bulk.set(zmq::sockopt::rcvhwm, 1);
    bulk.set(zmq::sockopt::rcvbuf, 4096);
    bulk.set(zmq::sockopt::routing_id, s.welcome.bulkToken);
    bulk.connect("tcp://127.0.0.1:" + std::to_string(s.welcome.bulkPort));
    sendFrames(bulk, {"READY", wire::sealed::readyTag(s.welcome.bulkKey, s.welcome.bulkToken)});
    std::uint64_t lastSeq = 0;
    std::size_t sealed = 0, plain = 0;
    auto takeSealed = [&](int timeoutMs) {
        auto parts = nextFrames(bulk, timeoutMs);
        if (parts.size() != 3) return false;
        const std::uint64_t before = lastSeq;
        auto c = wire::sealed::openChunk(s.welcome.bulkKey, parts[0].to_string_view(), parts[1].to_string_view(),
                                         parts[2].data<char>(), parts[2].size(), lastSeq);
        REQUIRE(c.ok());
        CHECK(lastSeq == before + 1);  // in the order asked, none skipped
        CHECK(c->offset == 0);
        CHECK(crypto::sha256Hex(c->data) == sha);
        ++sealed;
        return true;
    };
    auto takePlain = [&](int timeoutMs) {
        auto c = p.recv(timeoutMs, wire::Type::Chunk);
        if (!c) return false;
        CHECK(crypto::sha256Hex(wire::parseChunk(*c)->data) == sha);
        ++plain;
        return true;
    };
    const auto fetch = [&] { p.send(wire::toEnvelope(wire::Fetch{sha, 0, static_cast<std::uint32_t>(size), true})); };
    // READY and FETCH travel on two connections: ask until the answer comes sealed.
    REQUIRE(waitFor(
        [&] {
            fetch();
            while (takePlain(10)) {
            }
            return takeSealed(200);
        },
        10000));
    sealed = plain = 0;
    // The whole file, again and again: 24 MiB asked for at once.
    REQUIRE(size > 256 * 1024);
    const std::size_t asks = (24u << 20) / size + 1;
    for (std::size_t i = 0; i < asks; ++i) fetch();
    // Past its window of sealed chunks, the session gets the rest on the CURVE socket.
    REQUIRE(takePlain(10000));
    const std::size_t window = wire::kDefaultWindow * (wire::kDefaultChunkBytes + wire::sealed::kTagBytes);
    const auto out = metricValue(f.admin, "microscape_hub_sealed_bytes_out");
    CHECK(out <= window);
    if (tinyBudget) {
        // Held sealed: never more than the budget (one chunk may start it); the rest waited.
        CHECK(out <= (1u << 20) + sealedSize);
        CHECK(metricValue(f.admin, "microscape_hub_chunks_waited_total") > 0);
    }
    // Reading again, every chunk arrives (the sealed ones in order); then the memory is back.
    const bool all = waitFor(
        [&] {
            while (takeSealed(0)) {
            }
            while (takePlain(1)) {
            }
            return sealed + plain == asks;
        },
        20000, 1);
    INFO("asked " << asks << " times for " << size << " bytes: " << sealed << " sealed, " << plain << " plain");
    REQUIRE(all);
    CHECK(sealed > 0);
    // Those that waited for the budget went out sealed when their turn came.
    if (tinyBudget) CHECK(sealed >= metricValue(f.admin, "microscape_hub_chunks_waited_total"));
    REQUIRE(waitFor([&] { return metricValue(f.admin, "microscape_hub_sealed_bytes_out") == 0; }));
}
