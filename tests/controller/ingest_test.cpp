#include <catch2/catch.hpp>

#include "../../controller/src/pop_ingest.hpp"
#include "ingest_sim.hpp"
#include "microscape/controller/db.hpp"
#include "microscape/core/manifest.hpp"
#include "test_support.hpp"

using namespace microscape;
using namespace microscape::controller;

namespace {

constexpr std::int64_t kDay = 1776211200000;  // 2026-04-15T00:00:00Z
const std::string kPoster = crypto::sha256Hex("poster");
const std::string kClip = crypto::sha256Hex("clip");

struct World {
    microscape::testing::TempDir dir;
    Db db{dir.path / "c.db"};
    PopIngest ingest{db};
    std::int64_t now = kDay + 86400000;

    World() {
        db.write([](DbConn& c) {
            c.exec(
                "INSERT INTO locations(id, name, venue_type, district, timezone, created_at, updated_at) "
                "VALUES (1, '万达广场地下车库入口', 'garage_entrance', '锦江区', 'Asia/Shanghai', 0, 0)");
        });
    }
    void enroll(const microscape::testing::SimPlayer& p, std::int64_t enrolledAt = kDay - 86400000,
                const char* state = "enrolled") {
        db.write([&](DbConn& c) {
            c.exec(
                "INSERT INTO players(id, name, location_id, state, identity_key, curve_key, enrolled_at, "
                "updated_at) VALUES (?, ?, 1, ?, ?, ?, ?, 0)",
                {p.id, p.id, std::string(state), p.publicPem(), "curve-" + p.id, enrolledAt});
        });
    }
    void sendMedia(const std::string& playerId, std::int64_t version, std::vector<std::string> shas) {
        manifest::Manifest m;
        m.bundleId = "b-" + playerId;
        m.version = version;
        m.issuedAtMs = kDay;
        m.expiresAtMs = kDay + std::int64_t(86400000) * 30;
        m.target = playerId;
        m.signer = std::string(64, 'a');
        for (auto& s : shas) {
            manifest::MediaEntry e;
            e.sha256 = s;
            e.sizeBytes = 10;
            e.kind = MediaKind::Image;
            e.mime = "image/png";
            e.name = "poster";
            e.fileName = "poster.png";
            m.media.push_back(e);
        }
        db.write([&](DbConn& c) {
            c.exec(
                "INSERT INTO compiled_manifests(player_id, version, content_hash, manifest, signature, created_at) "
                "VALUES (?,?,?,?,?,0)",
                {playerId, version, std::string("h"), manifest::toCanonicalBytes(m), std::string("s")});
        });
    }
    std::int64_t count(const std::string& sql) {
        return db.read([&](DbConn& c) { return c.one(sql)->i64(0); });
    }
    std::vector<std::string> problemCodes(const std::string& playerId) {
        return db.read([&](DbConn& c) {
            std::vector<std::string> out;
            for (auto& r : c.query("SELECT code FROM pop_problems WHERE player_id = ? ORDER BY id", {playerId}))
                out.push_back(r.str(0));
            return out;
        });
    }
};

microscape::testing::SimPlayer makePlayer(const std::string& id, int plays, std::int64_t start = kDay) {
    microscape::testing::SimPlayer p;
    p.id = id;
    for (int i = 0; i < plays; ++i) p.play(i % 3 ? kPoster : kClip, start + i * 15000, 15000, i % 7 ? 15000 : 4000);
    return p;
}

}  // namespace

TEST_CASE("ingest stores a batch exactly once and acknowledges a re-send", "[controller][pop]") {
    World w;
    auto p = makePlayer("p-1", 10);
    w.enroll(p);
    w.sendMedia(p.id, 1, {kPoster, kClip});
    auto b1 = p.batch(1, 6);
    auto r1 = w.ingest.ingestBatch(p.id, b1, w.now);
    REQUIRE(r1);
    CHECK(r1->accepted);
    CHECK(r1->ackSeq == 6);
    CHECK(r1->stored == 6);
    CHECK(r1->problems.empty());

    SECTION("the same batch again is acknowledged and stored once") {
        auto again = w.ingest.ingestBatch(p.id, b1, w.now);
        REQUIRE(again);
        CHECK(again->ackSeq == 6);
        CHECK(again->stored == 0);
        CHECK(again->duplicates == 6);
        CHECK(w.count("SELECT COUNT(*) FROM pop_records") == 6);
        CHECK(w.count("SELECT COUNT(*) FROM pop_checkpoints") == 1);
    }
    SECTION("an overlapping batch stores only the new records") {
        auto r2 = w.ingest.ingestBatch(p.id, p.batch(4, 10), w.now);
        REQUIRE(r2);
        CHECK(r2->ackSeq == 10);
        CHECK(r2->stored == 4);
        CHECK(r2->duplicates == 3);
        CHECK(w.count("SELECT COUNT(*) FROM pop_records") == 10);
    }
    SECTION("rollups count each play once") {
        REQUIRE(w.ingest.ingestBatch(p.id, p.batch(7, 10), w.now));
        REQUIRE(w.ingest.ingestBatch(p.id, p.batch(7, 10), w.now));
        CHECK(w.count("SELECT SUM(completed + interrupted + failed) FROM pop_rollup_media") == 10);
        CHECK(w.count("SELECT SUM(completed + interrupted + failed) FROM pop_rollup_hour") == 10);
        CHECK(w.count("SELECT SUM(completed + interrupted + failed) FROM pop_rollup_campaign") == 10);
        auto before = w.count("SELECT SUM(on_screen_ms) FROM pop_rollup_media");
        w.db.write([](DbConn& c) { c.exec("DELETE FROM pop_rollup_media"); });
        auto n = w.ingest.rebuildRollups();
        REQUIRE(n);
        CHECK(*n == 10);
        CHECK(w.count("SELECT SUM(on_screen_ms) FROM pop_rollup_media") == before);
    }
}

TEST_CASE("ingest keeps a gap and a broken link as evidence and flags them", "[controller][pop]") {
    World w;
    auto p = makePlayer("p-gap", 12);
    w.enroll(p);
    w.sendMedia(p.id, 1, {kPoster, kClip});
    REQUIRE(w.ingest.ingestBatch(p.id, p.batch(1, 4), w.now));

    SECTION("a seq jump") {
        auto r = w.ingest.ingestBatch(p.id, p.batch(7, 12), w.now);
        REQUIRE(r);
        CHECK(r->accepted);
        CHECK(r->ackSeq == 12);
        REQUIRE(r->problems.size() == 1);
        CHECK(r->problems[0].code == "gap");
        CHECK(r->problems[0].seq == 7);
        CHECK(w.problemCodes(p.id) == std::vector<std::string>{"gap"});
        // The batch bytes are kept with the problem.
        CHECK(w.count("SELECT LENGTH(batch) FROM pop_problems") > 0);
        // The same batch again is acknowledged; the problem is not duplicated.
        REQUIRE(w.ingest.ingestBatch(p.id, p.batch(7, 12), w.now));
        CHECK(w.problemCodes(p.id).size() == 1);
    }
    SECTION("a batch that does not continue the stored chain") {
        microscape::testing::SimPlayer other = p;
        other.records.resize(4);
        other.records[3].detail = "rewritten";  // seq 4 differs, so seq 5 links to another hash
        other.records[3].outcome = pop::Outcome::Interrupted;
        other.records[3].measuredMs = 100;
        other.records[3].endUtcMs = other.records[3].startUtcMs + 100;
        other.play(kPoster, kDay + 100000, 15000, 15000);
        auto r = w.ingest.ingestBatch(p.id, other.batch(5, 5), w.now);
        REQUIRE(r);
        REQUIRE(r->problems.size() == 1);
        CHECK(r->problems[0].code == "broken_link");
        CHECK(r->ackSeq == 5);
    }
    SECTION("a re-sent seq with different content is a conflict and is not stored") {
        microscape::testing::SimPlayer other = p;
        other.records[2].detail = "edited";
        other.records[2].outcome = pop::Outcome::Interrupted;
        other.records[2].measuredMs = 100;
        for (std::size_t i = 3; i < other.records.size(); ++i)
            other.records[i].prevHash = pop::recordHash(other.records[i - 1]);
        auto r = w.ingest.ingestBatch(p.id, other.batch(3, 4), w.now);
        REQUIRE(r);
        CHECK_FALSE(r->accepted);
        CHECK(r->ackSeq == 4);
        CHECK(w.problemCodes(p.id).front() == "conflict");
        CHECK(w.count("SELECT COUNT(*) FROM pop_records") == 4);
    }
}

TEST_CASE("ingest refuses bad signatures and unknown or revoked keys and oversized batches", "[controller][pop]") {
    World w;
    auto p = makePlayer("p-sig", 5);
    w.enroll(p);

    SECTION("a checkpoint signed by another key") {
        microscape::testing::SimPlayer forger = p;
        forger.key = microscape::testing::SimPlayer::newKey();
        auto r = w.ingest.ingestBatch(p.id, forger.batch(1, 5), w.now);
        REQUIRE_FALSE(r);
        CHECK(w.problemCodes(p.id) == std::vector<std::string>{"checkpoint_signature"});
        CHECK(w.count("SELECT COUNT(*) FROM pop_records") == 0);
    }
    SECTION("a record altered after signing") {
        auto b = p.batch(1, 5);
        auto pos = b.find("\"detail\":\"\"");
        REQUIRE(pos != std::string::npos);
        b.replace(pos, 11, "\"detail\":\"x\"");
        auto r = w.ingest.ingestBatch(p.id, b, w.now);
        REQUIRE(r);  // signed by the player: refused, and the stored tip acknowledged
        CHECK_FALSE(r->accepted);
        CHECK(r->ackSeq == 0);
        CHECK_FALSE(w.problemCodes(p.id).empty());
        CHECK(w.count("SELECT COUNT(*) FROM pop_records") == 0);
    }
    SECTION("an unknown player") {
        auto stranger = makePlayer("p-stranger", 2);
        auto r = w.ingest.ingestBatch(stranger.id, stranger.batch(1, 2), w.now);
        REQUIRE_FALSE(r);
        CHECK(r.error().code == Errc::UnknownSigner);
        CHECK(w.problemCodes(stranger.id) == std::vector<std::string>{"unknown_player"});
    }
    SECTION("a retired player") {
        auto old = makePlayer("p-old", 2);
        w.enroll(old, kDay - 86400000, "retired");
        auto r = w.ingest.ingestBatch(old.id, old.batch(1, 2), w.now);
        REQUIRE_FALSE(r);
        CHECK(r.error().code == Errc::UnknownSigner);
        CHECK(w.problemCodes(old.id) == std::vector<std::string>{"revoked_player"});
    }
    SECTION("an oversized batch") {
        std::string huge(kMaxProofsBatchBytes + 1, 'x');
        auto r = w.ingest.ingestBatch(p.id, huge, w.now);
        REQUIRE_FALSE(r);
        CHECK(r.error().code == Errc::TooLarge);
        CHECK(w.problemCodes(p.id) == std::vector<std::string>{"oversized"});
        CHECK(w.count("SELECT COUNT(*) FROM pop_problems WHERE batch IS NULL") == 1);
    }
    SECTION("more records than a batch may hold, though within the byte limit") {
        auto many = makePlayer("p-many", static_cast<int>(pop::kMaxBatchRecords) + 1);
        w.enroll(many);
        const auto b = many.batch(1, static_cast<std::int64_t>(pop::kMaxBatchRecords) + 1);
        REQUIRE(b.size() <= kMaxProofsBatchBytes);
        auto r = w.ingest.ingestBatch(many.id, b, w.now);
        REQUIRE_FALSE(r);
        CHECK(r.error().code == Errc::TooLarge);
        CHECK(w.problemCodes(many.id) == std::vector<std::string>{"oversized"});
        CHECK(w.count("SELECT COUNT(*) FROM pop_records") == 0);
        // Split into allowed batches, the same records are stored.
        REQUIRE(w.ingest.ingestBatch(many.id, many.batch(1, 1000), w.now)->ackSeq == 1000);
        REQUIRE(w.ingest.ingestBatch(many.id, many.batch(1001, 1001), w.now)->ackSeq == 1001);
    }
    SECTION("a record duplicated inside a signed batch") {
        pop::Batch b;
        b.records = {p.records[0], p.records[1], p.records[1], p.records[2]};
        b.checkpoint = pop::makeCheckpoint(b.records, kDay, *p.key);
        auto r = w.ingest.ingestBatch(p.id, pop::encodeBatch(b), w.now);
        if (r) CHECK_FALSE(r->accepted);  // refused either as malformed or by the chain check
        CHECK_FALSE(w.problemCodes(p.id).empty());
        CHECK(w.count("SELECT COUNT(*) FROM pop_records") == 0);
        // The honest batch afterwards is stored whole.
        REQUIRE(w.ingest.ingestBatch(p.id, p.batch(1, 5), w.now)->ackSeq == 5);
    }
    SECTION("records of another player under this player's signature") {
        auto other = makePlayer("p-other", 3);
        microscape::testing::SimPlayer spliced = other;
        spliced.key = p.key;  // signed with p's key, but the records name p-other
        auto r = w.ingest.ingestBatch(p.id, spliced.batch(1, 3), w.now);
        if (r) CHECK_FALSE(r->accepted);
        CHECK_FALSE(w.problemCodes(p.id).empty());
        CHECK(w.count("SELECT COUNT(*) FROM pop_records") == 0);
    }
    SECTION("garbage") {
        auto r = w.ingest.ingestBatch(p.id, "not a batch\n", w.now);
        REQUIRE_FALSE(r);
        CHECK(w.problemCodes(p.id) == std::vector<std::string>{"bad_batch"});
    }
    SECTION("the ingest keeps running after refusals") {
        REQUIRE_FALSE(w.ingest.ingestBatch(p.id, "junk", w.now));
        auto r = w.ingest.ingestBatch(p.id, p.batch(1, 5), w.now);
        REQUIRE(r);
        CHECK(r->ackSeq == 5);
    }
}

TEST_CASE("ingest flags absurd timestamps and media never sent to the player", "[controller][pop]") {
    World w;
    microscape::testing::SimPlayer p;
    p.id = "p-odd";
    w.enroll(p, kDay);
    w.sendMedia(p.id, 1, {kPoster});
    p.play(kPoster, kDay + 1000, 15000, 15000);
    p.play(kClip, kDay + 20000, 15000, 15000);            // never sent
    p.play(kPoster, w.now + 3 * 86400000, 15000, 15000);  // far future
    p.play(kPoster, kDay - 5 * 86400000, 15000, 15000);   // before enrolment
    auto r = w.ingest.ingestBatch(p.id, p.next(), w.now);
    REQUIRE(r);
    CHECK(r->accepted);  // signed evidence is kept, and flagged
    CHECK(r->ackSeq == 4);
    auto codes = w.problemCodes(p.id);
    std::sort(codes.begin(), codes.end());
    CHECK(codes == std::vector<std::string>{"before_enrolment", "future_timestamp", "media_not_sent"});
    // Media sent in a later manifest version is known from then on.
    w.sendMedia(p.id, 2, {kPoster, kClip});
    p.play(kClip, kDay + 40000, 15000, 15000);
    auto r2 = w.ingest.ingestBatch(p.id, p.next(), w.now);
    REQUIRE(r2);
    CHECK(r2->problems.empty());
}

TEST_CASE("the evidence tables refuse UPDATE and DELETE", "[controller][pop]") {
    World w;
    auto p = makePlayer("p-ro", 3);
    w.enroll(p);
    REQUIRE(w.ingest.ingestBatch(p.id, p.batch(1, 3), w.now));
    REQUIRE_FALSE(w.ingest.ingestBatch(p.id, "junk", w.now));
    const auto problems = w.count("SELECT COUNT(*) FROM pop_problems");
    REQUIRE(problems >= 1);
    for (const char* sql : {"UPDATE pop_records SET measured_ms = 1", "DELETE FROM pop_records",
                            "UPDATE pop_checkpoints SET first_seq = 2", "DELETE FROM pop_checkpoints",
                            "UPDATE pop_problems SET code = 'x'", "DELETE FROM pop_problems"}) {
        INFO(sql);
        CHECK_THROWS(w.db.write([&](DbConn& c) { c.exec(sql); }));
    }
    CHECK(w.count("SELECT COUNT(*) FROM pop_records") == 3);
    CHECK(w.count("SELECT COUNT(*) FROM pop_problems") == problems);
}
