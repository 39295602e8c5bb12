// The hub against hostile enrolled players (issue 12, findings 4, 5 and the
// retired player of 9): no one takes over another player's routing id, a
// retired player is cut off at once, garbage PROOFS cannot fill the disk,
// PROOFS are rate-limited per player, and a disk guard pauses ingest without
// losing anything. Real controller, real CURVE sockets on 127.0.0.1.
#include <Poco/AutoPtr.h>
#include <Poco/Logger.h>
#include <catch2/catch.hpp>
#include <zmq.hpp>
#include <zmq_addon.hpp>

#include <chrono>
#include <filesystem>
#include <thread>

#include "../../controller/src/pop_ingest.hpp"
#include "ingest_sim.hpp"
#include "microscape/controller/db.hpp"
#include "microscape/controller/hub.hpp"
#include "microscape/core/crypto.hpp"
#include "microscape/core/wire.hpp"
#include "raw_player.hpp"
#include "test_support.hpp"

using namespace microscape::testing;
using namespace microscape;

namespace {

bool online(Client& admin, const std::string& id) {
    return admin.get("/api/v1/players/" + id).json()->getValue<bool>("online");
}

std::int64_t sqlCount(const controller::sql::StoreUrl& dbFile, const std::string& sql) {
    controller::Db db(dbFile);
    return db.read([&](controller::DbConn& c) { return c.one(sql)->i64(0); });
}

}  // namespace

// Attack (finding 4): the hub set ROUTER_HANDOVER, and checked the routing id
// against the CURVE identity only on incoming messages. An enrolled player that
// connected with its own key and a victim's routing id took over the victim's
// connection: it received the victim's COMMAND and HEARTBEAT, the victim went
// offline.
TEST_CASE("a second CURVE key claiming a victim's routing id gets nothing, and the victim stays online",
          "[controller][hub][security]") {
    TestServer srv([](auto& c) { c.zmqHeartbeatMs = 200; });
    Client admin = srv.admin();
    zmq::context_t ctx(1);
    const auto victimKey = controller::makeCurveKeyPair().value();
    const auto attackerKey = controller::makeCurveKeyPair().value();
    const Enrolled victim = enroll(srv, admin, victimKey, newIdentityPem());
    const Enrolled attackerEnrollment = enroll(srv, admin, attackerKey, newIdentityPem());
    (void)attackerEnrollment;

    SECTION("while the victim is connected") {
        RawPlayer v(ctx, victim, victim.id, victimKey);
        v.hello(victim.id);
        REQUIRE(v.recv(3000, wire::Type::Welcome));
        RawPlayer attacker(ctx, victim, victim.id, attackerKey);
        attacker.hello(victim.id);

        int victimBeats = 0, attackerGot = 0;
        bool commandSent = false, victimCommand = false;
        const auto start = std::chrono::steady_clock::now();
        auto lastBeat = start - std::chrono::seconds(1);
        while (std::chrono::steady_clock::now() - start < std::chrono::milliseconds(3000)) {
            const auto now = std::chrono::steady_clock::now();
            if (now - lastBeat >= std::chrono::milliseconds(100)) {
                lastBeat = now;
                v.send(wire::toEnvelope(wire::Heartbeat{0}));
                attacker.hello(victim.id);
                attacker.send(wire::toEnvelope(wire::Heartbeat{0}));
            }
            if (!commandSent && now - start > std::chrono::milliseconds(800)) {
                auto r = admin.post("/api/v1/players/" + victim.id + "/commands", R"({"action":"reload"})");
                CHECK(r.status == 202);
                commandSent = true;
            }
            while (auto m = v.recv(0)) {
                if (m->type == wire::Type::Heartbeat) ++victimBeats;
                if (m->type == wire::Type::Command) victimCommand = true;
            }
            while (attacker.recv(0)) ++attackerGot;
            // Wait (at most 10 ms) for the victim's next message rather than sleep.
            if (auto m = v.recv(10)) {
                if (m->type == wire::Type::Heartbeat) ++victimBeats;
                if (m->type == wire::Type::Command) victimCommand = true;
            }
        }
        CHECK(attackerGot == 0);
        CHECK(victimCommand);
        CHECK(victimBeats >= 5);
        CHECK(online(admin, victim.id));
    }

    SECTION(
        "while the victim is away: the squatter gets nothing and the victim gets its routing id "
        "back") {
        {
            RawPlayer v(ctx, victim, victim.id, victimKey);
            REQUIRE(helloUntilWelcome(v, victim.id, 5000));
        }  // the victim's connection closes
        REQUIRE(waitFor([&] { return !online(admin, victim.id); }, 5000));
        RawPlayer attacker(ctx, victim, victim.id, attackerKey, /*reconnect=*/false);
        attacker.hello(victim.id);
        CHECK_FALSE(attacker.recv(1500));
        CHECK_FALSE(online(admin, victim.id));
        RawPlayer v(ctx, victim, victim.id, victimKey);
        CHECK(helloUntilWelcome(v, victim.id, 10000));
        CHECK(online(admin, victim.id));
        CHECK_FALSE(attacker.recv(300));
    }
}

// Attack (finding 9): retiring a player left its live hub session working
// (FETCH still answered, listed online).
TEST_CASE("a retired player is cut off at once: offline, unanswered, not let back in", "[controller][hub][security]") {
    TestServer srv([](auto& c) { c.zmqHeartbeatMs = 200; });
    Client admin = srv.admin();
    zmq::context_t ctx(1);
    const auto key = controller::makeCurveKeyPair().value();
    const Enrolled me = enroll(srv, admin, key, newIdentityPem());
    RawPlayer p(ctx, me, me.id, key);
    REQUIRE(helloUntilWelcome(p, me.id, 5000));
    const wire::Fetch fetch{crypto::sha256Hex("not in any manifest"), 0, 1024};
    p.send(wire::toEnvelope(fetch));
    auto answer = p.recv(2000, wire::Type::Error);
    REQUIRE(answer);  // answered while enrolled
    CHECK(wire::parseError(*answer)->code == "not_in_manifest");
    REQUIRE(online(admin, me.id));

    REQUIRE(admin.patch("/api/v1/players/" + me.id, R"({"state":"retired"})").status == 200);
    CHECK_FALSE(online(admin, me.id));  // at once
    p.send(wire::toEnvelope(fetch));
    CHECK_FALSE(p.recv(1500, wire::Type::Error));
    p.hello(me.id);
    CHECK_FALSE(p.recv(1000, wire::Type::Welcome));
    RawPlayer again(ctx, me, me.id, key);  // its key is refused from now on
    again.hello(me.id);
    CHECK_FALSE(again.recv(1500));
    CHECK_FALSE(online(admin, me.id));
}

// A player's strings (its routing id, an ERROR's code and message, a command
// acknowledgement) reach the controller's log with control characters escaped: a
// player cannot forge or split log lines.
TEST_CASE("a player's strings cannot forge hub log lines", "[controller][hub][security]") {
    TestServer srv;
    Client admin = srv.admin();
    Poco::AutoPtr<CapturingChannel> channel(new CapturingChannel);
    auto& hubLog = Poco::Logger::get("test.controller.hub");
    hubLog.setChannel(channel);
    zmq::context_t ctx(1);
    const auto key = controller::makeCurveKeyPair().value();
    const Enrolled me = enroll(srv, admin, key, newIdentityPem());
    RawPlayer p(ctx, me, me.id, key);
    REQUIRE(helloUntilWelcome(p, me.id, 5000));
    wire::ErrorMsg forged;
    forged.code = "x\ny";
    forged.message = "disk\r\n2026-01-01 INFO hub: player scr-1 online\x1b[2J";
    p.send(wire::toEnvelope(forged));
    // A routing id that is not the player's own CURVE identity is logged too.
    RawPlayer other(ctx, me, "scr\nforged", key);
    other.hello(me.id);
    bool sawError = false, sawRoutingId = false;
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!(sawError && sawRoutingId) && std::chrono::steady_clock::now() < until) {
        for (const auto& line : channel->lines()) {
            CHECK(line.find('\n') == std::string::npos);
            CHECK(line.find('\r') == std::string::npos);
            CHECK(line.find('\x1b') == std::string::npos);
            if (line.find("reports x\\ny: disk\\r\\n2026-01-01 INFO") != std::string::npos) sawError = true;
            if (line.find("routing id 'scr\\nforged'") != std::string::npos) sawRoutingId = true;
        }
        if (!(sawError && sawRoutingId)) p.recv(50);
    }
    hubLog.setChannel(nullptr);
    CHECK(sawError);
    CHECK(sawRoutingId);
}

// Attack (finding 5): each rejected PROOFS batch (up to 4.1 MB) was kept whole;
// 40 garbage batches grew controller.db by 168 MB in 11 s.
TEST_CASE("100 garbage PROOFS batches of 4 MB grow the database by less than 10 MiB, and are recorded",
          "[controller][hub][security][pop]") {
    TestServer srv([](auto& c) { c.zmqHeartbeatMs = 1000; });
    Client admin = srv.admin();
    zmq::context_t ctx(1);
    const auto key = controller::makeCurveKeyPair().value();
    const Enrolled me = enroll(srv, admin, key, newIdentityPem());
    RawPlayer p(ctx, me, me.id, key);
    REQUIRE(helloUntilWelcome(p, me.id, 5000));
    const fs::path dbFile = srv.dataDir() / "controller.db";
    auto dbBytes = [&] {
        controller::Db db(srv.storeUrl());
        if (db.backend() == controller::sql::Backend::Postgres)
            return db.read(
                [](controller::DbConn& c) { return c.one("SELECT pg_database_size(current_database())")->i64(0); });
        db.read([](controller::DbConn& c) { c.query("PRAGMA wal_checkpoint(FULL)"); });
        return static_cast<std::int64_t>(fs::file_size(dbFile));
    };
    const std::int64_t before = dbBytes();
    const auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < 100; ++i) {
        wire::Proofs pr;
        pr.firstSeq = 1;
        pr.lastSeq = 1;
        pr.body.assign(controller::kMaxProofsBatchBytes, 'g');
        const std::string tag = "garbage batch " + std::to_string(i) + "\n";
        pr.body.replace(0, tag.size(), tag);
        p.send(wire::toEnvelope(pr));
    }
    const std::string problems =
        "SELECT COUNT(DISTINCT batch_sha256) FROM pop_problems WHERE player_id = '" + me.id + "'";
    REQUIRE(waitFor([&] { return sqlCount(srv.storeUrl(), problems) == 100; }, 120000));
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const std::int64_t growth = dbBytes() - before;
    WARN("100 garbage batches of " << controller::kMaxProofsBatchBytes << " bytes: controller.db grew by " << growth
                                   << " bytes in " << secs << " s");
    CHECK(growth < (10 << 20));
    // Every one is recorded, with its hash and size; one is kept whole, the rest as their first 4
    // KiB.
    CHECK(sqlCount(srv.storeUrl(), "SELECT COUNT(*) FROM pop_problems WHERE code = 'bad_batch' AND batch_size = " +
                                       std::to_string(controller::kMaxProofsBatchBytes)) == 100);
    CHECK(sqlCount(srv.storeUrl(), "SELECT COUNT(*) FROM pop_problems WHERE LENGTH(batch) = batch_size") == 1);
    CHECK(sqlCount(srv.storeUrl(), "SELECT COUNT(*) FROM pop_problems WHERE LENGTH(batch) = 4096") == 99);
    // The session is unharmed.
    p.send(wire::toEnvelope(wire::Heartbeat{0}));
    CHECK(p.recv(3000, wire::Type::Heartbeat));
}

namespace {

struct ProofsPlayer {
    SimPlayer sim;
    controller::CurveKeyPair curve = controller::makeCurveKeyPair().value();
    Enrolled hub;
};

ProofsPlayer enrollSim(TestServer& srv, Client& admin, int plays) {
    ProofsPlayer p;
    p.hub = enroll(srv, admin, p.curve, p.sim.publicPem());
    p.sim.id = p.hub.id;
    const std::int64_t start =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
            .count() -
        3600000;
    for (int i = 0; i < plays; ++i) p.sim.play(crypto::sha256Hex("poster"), start + i * 15000, 15000, 15000);
    return p;
}

wire::Envelope proofs(const SimPlayer& p, std::int64_t from, std::int64_t to) {
    wire::Proofs pr;
    pr.firstSeq = from;
    pr.lastSeq = to;
    pr.body = p.batch(from, to);
    return wire::toEnvelope(pr);
}

}  // namespace

TEST_CASE(
    "PROOFS beyond a player's rate are answered rate_limited, not acknowledged, and stored when "
    "sent again",
    "[controller][hub][security][pop]") {
    TestServer srv([](auto& c) { c.zmqProofsPerMinute = 30; });
    Client admin = srv.admin();
    zmq::context_t ctx(1);
    auto pp = enrollSim(srv, admin, 35);
    RawPlayer p(ctx, pp.hub, pp.hub.id, pp.curve);
    REQUIRE(helloUntilWelcome(p, pp.hub.id, 5000));
    // A flood of 35 batches at once: a minute's worth (30) is taken, the rest refused.
    for (int seq = 1; seq <= 35; ++seq) p.send(proofs(pp.sim, seq, seq));
    std::int64_t acked = 0;
    int limited = 0, acks = 0;
    while (acks + limited < 35) {
        auto m = p.recv(10000);
        REQUIRE(m);
        if (m->type == wire::Type::ProofsAck) {
            ++acks;
            acked = std::max(acked, wire::parseProofsAck(*m)->seq);
        } else if (m->type == wire::Type::Error) {
            CHECK(wire::parseError(*m)->code == "rate_limited");
            ++limited;
        }
    }
    CHECK(limited >= 3);
    CHECK(acked >= 30);
    CHECK(acked < 35);
    const auto dbFile = srv.storeUrl();
    CHECK(storedCount(dbFile, pp.hub.id) == acked);
    CHECK(srv.client().get("/metrics").body.find("microscape_hub_proofs_rate_limited_total 0") == std::string::npos);
    // Nothing is lost: the player still holds what was not acknowledged and sends
    // it again (as one batch, like a player's journal) once its rate allows.
    bool done = false;
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (!done && std::chrono::steady_clock::now() < until) {
        p.send(proofs(pp.sim, acked + 1, 35));
        auto m = p.recv(2000);
        if (m && m->type == wire::Type::ProofsAck)
            done = wire::parseProofsAck(*m)->seq == 35;
        else if (auto late = p.recv(500, wire::Type::ProofsAck))  // wait for a late ack before sending again
            done = wire::parseProofsAck(*late)->seq == 35;
    }
    CHECK(done);
    CHECK(storedCount(dbFile, pp.hub.id) == 35);
    // No gap, duplicate or broken link from the refused batches (the simulated
    // plays name media this player was never sent: media_not_sent is expected).
    CHECK(sqlCount(srv.storeUrl(), "SELECT COUNT(*) FROM pop_problems WHERE code <> 'media_not_sent'") == 0);
}

TEST_CASE("the disk guard pauses ingest with nothing lost, and ingest resumes when there is room",
          "[controller][hub][security][pop]") {
    // A threshold no disk meets stands for a full disk.
    TestServer srv([](auto& c) { c.zmqMinFreeDiskBytes = std::uint64_t(1) << 50; });
    Client admin = srv.admin();
    zmq::context_t ctx(1);
    auto pp = enrollSim(srv, admin, 5);
    const auto dbFile = srv.storeUrl();
    {
        RawPlayer p(ctx, pp.hub, pp.hub.id, pp.curve);
        REQUIRE(helloUntilWelcome(p, pp.hub.id, 5000));
        REQUIRE(waitFor(
            [&] {
                return srv.client().get("/metrics").body.find("microscape_hub_ingest_paused 1") != std::string::npos;
            },
            5000));
        p.send(proofs(pp.sim, 1, 5));
        auto m = p.recv(3000, wire::Type::Error);  // heartbeats may come first
        REQUIRE(m);
        CHECK(wire::parseError(*m)->code == "ingest_paused");
        CHECK_FALSE(p.recv(500, wire::Type::ProofsAck));
        CHECK(storedCount(dbFile, pp.hub.id) == 0);
    }
    srv.restartWith([](auto& c) { c.zmqMinFreeDiskBytes = 0; });
    RawPlayer p(ctx, pp.hub, pp.hub.id, pp.curve);
    REQUIRE(helloUntilWelcome(p, pp.hub.id, 10000));
    p.send(proofs(pp.sim, 1, 5));
    auto ack = p.recv(5000, wire::Type::ProofsAck);
    REQUIRE(ack);
    CHECK(wire::parseProofsAck(*ack)->seq == 5);
    CHECK(storedCount(dbFile, pp.hub.id) == 5);
    CHECK(srv.client().get("/metrics").body.find("microscape_hub_ingest_paused 0") != std::string::npos);
}
