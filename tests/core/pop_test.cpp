#include <catch2/catch.hpp>

#include <algorithm>
#include <random>

#include "../support/catch_errc.hpp"
#include "microscape/core/json.hpp"
#include "microscape/core/pop.hpp"

using namespace microscape;
using pop::Problem;

namespace {

const std::string kMediaA = std::string(64, 'a');
const std::string kMediaB = std::string(64, 'b');

pop::Record play(std::int64_t i) {
    pop::Record r;
    r.playerId = "p-garage-01";
    r.kind = pop::Kind::Play;
    r.bundleVersion = 7;
    r.mediaSha256 = i % 2 ? kMediaA : kMediaB;
    r.playlistId = "pl-fraud";
    r.scheduleId = "s-fraud";
    r.source = "entry";
    r.campaignId = "c-2025";
    r.startUtcMs = 1744600000000 + i * 10000;
    r.endUtcMs = r.startUtcMs + 10000;
    r.scheduledMs = 10000;
    r.measuredMs = 10010;
    r.outcome = pop::Outcome::Completed;
    r.frameDigest = crypto::sha256Hex("frame" + std::to_string(i));
    return r;
}

// A chain of n records from seq 1, with a checkpoint after every `every` records.
struct Chain {
    std::vector<pop::Record> records;
    std::vector<pop::Checkpoint> checkpoints;
};

// chained: format 2 checkpoints, each naming the one before; else format 1.
Chain makeChain(int n, int every, const crypto::PrivateKey& key, bool chained = true) {
    Chain c;
    std::string prev(pop::kGenesisHash);
    for (int i = 1; i <= n; ++i) {
        pop::Record r = play(i);
        r.seq = i;
        r.prevHash = prev;
        prev = pop::recordHash(r);
        c.records.push_back(r);
        if (i % every == 0 || i == n) {
            std::size_t first = c.checkpoints.empty() ? 0 : static_cast<std::size_t>(c.checkpoints.back().lastSeq);
            std::optional<std::string> prevCp;
            if (chained)
                prevCp =
                    c.checkpoints.empty() ? std::string(pop::kGenesisHash) : pop::checkpointHash(c.checkpoints.back());
            c.checkpoints.push_back(
                pop::makeCheckpoint(std::span(c.records).subspan(first, static_cast<std::size_t>(i) - first),
                                    1744700000000 + i, key, prevCp));
        }
    }
    return c;
}

std::vector<Problem> problems(const pop::Report& r) {
    std::vector<Problem> v;
    for (const auto& f : r.findings) v.push_back(f.problem);
    return v;
}

bool has(const pop::Report& r, Problem p, std::int64_t seq = -1) {
    for (const auto& f : r.findings)
        if (f.problem == p && (seq < 0 || f.seq == seq)) return true;
    return false;
}

}  // namespace

TEST_CASE("record canonical bytes round-trip and are stable", "[pop]") {
    pop::Record r = play(1);
    r.seq = 1;
    r.prevHash = std::string(pop::kGenesisHash);
    r.detail = "反诈防骗";
    std::string bytes = pop::canonicalBytes(r);
    auto back = pop::parseRecord(bytes);
    REQUIRE(back.ok());
    CHECK(*back == r);
    CHECK(pop::canonicalBytes(*back) == bytes);
    CHECK(pop::recordHash(r) == crypto::sha256Hex(bytes));
    CHECK(bytes.find("\"kind\":\"play\"") != std::string::npos);

    SECTION("non-canonical bytes are refused") {
        std::string spaced = bytes;
        spaced.insert(1, " ");
        CHECK(pop::parseRecord(spaced).code() == Errc::NotCanonical);
    }
    SECTION("unknown fields and formats are refused") {
        json::Value v = pop::toJson(r);
        v.asObject()["extra"] = 1;
        CHECK(pop::parseRecord(json::canonical(v)).code() == Errc::BadManifest);
        json::Value w = pop::toJson(r);
        w.asObject()["format"] = 4;
        CHECK(pop::parseRecord(json::canonical(w)).code() == Errc::UnsupportedFormat);
    }
    SECTION("oversized input is refused") {
        CHECK(pop::parseRecord(std::string(5000, ' ')).code() == Errc::TooLarge);
    }
}

TEST_CASE("record validation rejects inconsistent fields", "[pop]") {
    pop::Record r = play(1);
    r.seq = 1;
    r.prevHash = std::string(pop::kGenesisHash);
    REQUIRE(pop::validate(r).ok());
    SECTION("seq 0") {
        r.seq = 0;
    }
    SECTION("bad prev") {
        r.prevHash = "00";
    }
    SECTION("play without media") {
        r.mediaSha256.clear();
    }
    SECTION("play without outcome") {
        r.outcome = pop::Outcome::None;
    }
    SECTION("completed outside the tolerance") {
        r.measuredMs = r.scheduledMs + 501;
    }
    SECTION("end before start") {
        r.endUtcMs = r.startUtcMs - 1;
    }
    SECTION("bad source") {
        r.source = "other";
    }
    SECTION("event with media") {
        r.kind = pop::Kind::ScreenOff;
        r.outcome = pop::Outcome::None;
    }
    SECTION("bad frame digest") {
        r.frameDigest = "XYZ";
    }
    SECTION("bad player id") {
        r.playerId = "a b";
    }
    CHECK(pop::validate(r).code() == Errc::BadManifest);
}

TEST_CASE("classify applies the 500 ms completion rule", "[pop]") {
    CHECK(pop::classify(10000, 10000) == pop::Outcome::Completed);
    CHECK(pop::classify(10000, 9500) == pop::Outcome::Completed);
    CHECK(pop::classify(10000, 10500) == pop::Outcome::Completed);
    CHECK(pop::classify(10000, 9499) == pop::Outcome::Interrupted);
    CHECK(pop::classify(10000, 10501) == pop::Outcome::Interrupted);
}

TEST_CASE("checkpoint signatures and canonical form", "[pop]") {
    auto key = std::move(crypto::PrivateKey::generate().value());
    auto other = std::move(crypto::PrivateKey::generate().value());
    Chain c = makeChain(3, 10, key);
    REQUIRE(c.checkpoints.size() == 1);
    const pop::Checkpoint& cp = c.checkpoints[0];
    CHECK(cp.firstSeq == 1);
    CHECK(cp.lastSeq == 3);
    CHECK(cp.count == 3);
    CHECK(pop::verifySignature(cp, key.publicKey()).ok());
    CHECK(pop::verifySignature(cp, other.publicKey()).code() == Errc::UnknownSigner);
    auto back = pop::parseCheckpoint(pop::canonicalBytes(cp));
    REQUIRE(back.ok());
    CHECK(*back == cp);
    pop::Checkpoint tampered = cp;
    tampered.count = 2;
    CHECK(pop::verifySignature(tampered, key.publicKey()).code() == Errc::BadSignature);
    pop::Checkpoint forged = cp;
    pop::sign(forged, other);
    forged.keyId = key.publicKey().id();
    CHECK(pop::verifySignature(forged, key.publicKey()).code() == Errc::BadSignature);
}

TEST_CASE("verifyChain accepts an intact chain and names each kind of tampering", "[pop]") {
    auto key = std::move(crypto::PrivateKey::generate().value());
    auto other = std::move(crypto::PrivateKey::generate().value());
    Chain c = makeChain(10, 4, key);  // checkpoints after 4, 8, 10
    auto verify = [&](const Chain& ch) {
        return pop::verifyChain("p-garage-01", ch.records, ch.checkpoints, key.publicKey());
    };
    {
        auto rep = verify(c);
        INFO((rep.ok() ? std::string() : rep.findings[0].str()));
        CHECK(rep.ok());
        CHECK(rep.records == 10);
        CHECK(rep.lastSeq == 10);
        CHECK(rep.lastHash == pop::recordHash(c.records.back()));
    }
    SECTION("one changed field in a middle record") {
        c.records[4].endUtcMs += 1000;
        c.records[4].measuredMs += 1000;
        c.records[4].outcome = pop::Outcome::Interrupted;
        auto rep = verify(c);
        CHECK(problems(rep) == std::vector{Problem::BrokenLink});
        CHECK(rep.findings[0].seq == 6);
    }
    SECTION("a changed field in the last record") {
        c.records[9].mediaSha256 = kMediaB == c.records[9].mediaSha256 ? kMediaA : kMediaB;
        auto rep = verify(c);
        CHECK(problems(rep) == std::vector{Problem::CheckpointMismatch, Problem::Unsigned});
    }
    SECTION("a record deleted in the middle") {
        c.records.erase(c.records.begin() + 5);
        auto rep = verify(c);
        CHECK(problems(rep) == std::vector{Problem::Gap});
        CHECK(rep.findings[0].seq == 7);
        CHECK(rep.findings[0].message == "record 6 is missing");
    }
    SECTION("the last record deleted") {
        c.records.pop_back();
        auto rep = verify(c);
        CHECK(problems(rep) == std::vector{Problem::CheckpointMissing, Problem::Unsigned});
        CHECK(rep.findings[0].seq == 10);
    }
    SECTION("the first record deleted") {
        c.records.erase(c.records.begin());
        CHECK(problems(verify(c)) == std::vector{Problem::Gap});
    }
    SECTION("two records swapped") {
        std::swap(c.records[2], c.records[3]);
        auto rep = verify(c);
        CHECK(problems(rep) == std::vector{Problem::OutOfOrder});
        CHECK(rep.findings[0].seq == 3);
    }
    SECTION("a duplicated record") {
        c.records.insert(c.records.begin() + 6, c.records[5]);
        auto rep = verify(c);
        CHECK(problems(rep) == std::vector{Problem::Duplicate});
        CHECK(rep.findings[0].seq == 6);
        CHECK(rep.records == 10);
    }
    SECTION("an inserted record re-using a seq") {
        pop::Record forged = c.records[4];
        forged.mediaSha256 = std::string(64, 'c');
        c.records.insert(c.records.begin() + 5, forged);
        CHECK(has(verify(c), Problem::Conflict, 5));
    }
    SECTION("an inserted record with the following ones renumbered") {
        pop::Record forged = c.records[4];
        forged.seq = 6;
        forged.prevHash = pop::recordHash(c.records[4]);
        c.records.insert(c.records.begin() + 5, forged);
        for (std::size_t i = 6; i < c.records.size(); ++i) c.records[i].seq += 1;
        auto rep = verify(c);
        CHECK(has(rep, Problem::BrokenLink, 7));
        CHECK_FALSE(rep.ok());
    }
    SECTION("a record of another player spliced in") {
        c.records[3].playerId = "p-mall-02";
        auto rep = verify(c);
        CHECK(has(rep, Problem::WrongPlayer, 4));
        CHECK(has(rep, Problem::Gap, 5));
    }
    SECTION("a checkpoint signed by another key") {
        pop::sign(c.checkpoints[2], other);
        auto rep = verify(c);
        CHECK(problems(rep) == std::vector{Problem::CheckpointSignature, Problem::Unsigned});
    }
    SECTION("a checkpoint with an edited last hash") {
        c.checkpoints[0].lastHash = std::string(64, 'f');
        // The next one then starts after records under no valid checkpoint.
        CHECK(problems(verify(c)) == std::vector{Problem::CheckpointSignature, Problem::CheckpointGap});
    }
    SECTION("a checkpoint of another player") {
        c.checkpoints[0].playerId = "p-mall-02";
        CHECK(problems(verify(c)) == std::vector{Problem::WrongPlayer, Problem::CheckpointGap});
    }
    SECTION("a checkpoint in the middle removed") {
        c.checkpoints.erase(c.checkpoints.begin() + 1);
        auto rep = verify(c);
        CHECK(problems(rep) == std::vector{Problem::CheckpointGap, Problem::CheckpointBrokenLink});
        CHECK(rep.findings[0].message.rfind("records 5..8 are under no checkpoint", 0) == 0);
    }
    SECTION("the first checkpoint removed") {
        c.checkpoints.erase(c.checkpoints.begin());
        CHECK(problems(verify(c)) == std::vector{Problem::CheckpointGap});
    }
    SECTION("the same checkpoint twice") {
        c.checkpoints.insert(c.checkpoints.begin() + 1, c.checkpoints[1]);
        auto rep = verify(c);
        CHECK(problems(rep) == std::vector{Problem::CheckpointDuplicate});
        CHECK(rep.findings[0].seq == 8);
    }
    SECTION("checkpoints in reverse order") {
        std::reverse(c.checkpoints.begin(), c.checkpoints.end());
        auto rep = verify(c);
        CHECK(has(rep, Problem::CheckpointOrder, 8));
        CHECK(has(rep, Problem::CheckpointOrder, 4));
    }
    SECTION("two checkpoints swapped") {
        std::swap(c.checkpoints[0], c.checkpoints[1]);
        CHECK(has(verify(c), Problem::CheckpointOrder, 4));
    }
    SECTION("overlapping chained checkpoints") {
        // The second re-made over 3..8, still chained to the first.
        c.checkpoints[1] = pop::makeCheckpoint(std::span(c.records).subspan(2, 6), 1744700000100, key,
                                               pop::checkpointHash(c.checkpoints[0]));
        c.checkpoints[2] = pop::makeCheckpoint(std::span(c.records).subspan(8, 2), 1744700000200, key,
                                               pop::checkpointHash(c.checkpoints[1]));
        CHECK(problems(verify(c)) == std::vector{Problem::CheckpointOverlap});
    }
    SECTION("a chained checkpoint that names another") {
        c.checkpoints[2] = pop::makeCheckpoint(std::span(c.records).subspan(8, 2), 1744700000200, key,
                                               pop::checkpointHash(c.checkpoints[0]));
        CHECK(problems(verify(c)) == std::vector{Problem::CheckpointBrokenLink});
    }
    SECTION("format 1 checkpoints: overlaps pass (re-made on re-send), gaps and order do not") {
        Chain old = makeChain(10, 4, key, false);
        CHECK(old.checkpoints[0].format == 1);
        CHECK(verify(old).ok());
        old.checkpoints[1] = pop::makeCheckpoint(std::span(old.records).subspan(0, 8), 1744700000100, key);
        CHECK(verify(old).ok());
        std::swap(old.checkpoints[0], old.checkpoints[1]);
        CHECK(problems(verify(old)) == std::vector{Problem::CheckpointOrder});
        Chain gap = makeChain(10, 4, key, false);
        gap.checkpoints.erase(gap.checkpoints.begin() + 1);
        CHECK(problems(verify(gap)) == std::vector{Problem::CheckpointGap});
    }
    SECTION("an upgraded player: its first chained checkpoint after format 1 ones names none") {
        Chain mixed = makeChain(10, 4, key, false);
        mixed.checkpoints[2] = pop::makeCheckpoint(std::span(mixed.records).subspan(8, 2), 1744700000200, key,
                                                   std::string(pop::kGenesisHash));
        CHECK(verify(mixed).ok());
        // Its first chained checkpoint may overlap the format 1 ones (a lost ack before the
        // upgrade).
        mixed.checkpoints[2] = pop::makeCheckpoint(std::span(mixed.records).subspan(4, 6), 1744700000200, key,
                                                   std::string(pop::kGenesisHash));
        CHECK(verify(mixed).ok());
        // ... and a format 1 checkpoint after a chained one is refused.
        c.checkpoints[2] = pop::makeCheckpoint(std::span(c.records).subspan(8, 2), 1744700000200, key);
        CHECK(problems(verify(c)) == std::vector{Problem::CheckpointBrokenLink});
    }
    SECTION("no checkpoints at all") {
        c.checkpoints.clear();
        auto rep = verify(c);
        CHECK(problems(rep) == std::vector{Problem::Unsigned});
        CHECK(rep.findings[0].seq == 1);
    }
    SECTION("a wrong genesis") {
        c.records[0].prevHash = std::string(64, '1');
        auto rep = verify(c);
        CHECK(has(rep, Problem::BadGenesis, 1));
        CHECK(has(rep, Problem::BrokenLink, 2));
    }
    SECTION("a malformed record") {
        c.records[2].prevHash = "nothex";
        CHECK(has(verify(c), Problem::BadRecord, 3));
    }
    SECTION("a chain continued from an anchor") {
        std::vector<pop::Record> tail(c.records.begin() + 4, c.records.end());
        std::vector<pop::Checkpoint> cps(c.checkpoints.begin() + 1, c.checkpoints.end());
        pop::Anchor a{4, pop::recordHash(c.records[3])};
        CHECK(pop::verifyChain("p-garage-01", tail, cps, key.publicKey(), a).ok());
        a.hash = std::string(64, 'e');
        CHECK(problems(pop::verifyChain("p-garage-01", tail, cps, key.publicKey(), a)) ==
              std::vector{Problem::AnchorMismatch});
        pop::Anchor early{2, pop::recordHash(c.records[1])};
        CHECK(problems(pop::verifyChain("p-garage-01", tail, cps, key.publicKey(), early)) ==
              std::vector{Problem::Gap, Problem::CheckpointGap});
    }
}

TEST_CASE("events chain like plays", "[pop]") {
    auto key = std::move(crypto::PrivateKey::generate().value());
    std::vector<pop::Record> recs;
    pop::Record off;
    off.playerId = "p1";
    off.seq = 1;
    off.prevHash = std::string(pop::kGenesisHash);
    off.kind = pop::Kind::ScreenOff;
    off.startUtcMs = 1000;
    off.endUtcMs = 5000;
    off.measuredMs = 4000;
    recs.push_back(off);
    pop::Record jump;
    jump.playerId = "p1";
    jump.seq = 2;
    jump.prevHash = pop::recordHash(off);
    jump.kind = pop::Kind::ClockJump;
    jump.startUtcMs = 9000;
    jump.endUtcMs = 6000;  // the wall clock went back 3 s
    jump.detail = "wall clock moved -3000 ms against the monotonic clock";
    recs.push_back(jump);
    REQUIRE(pop::validate(jump).ok());
    auto cp = pop::makeCheckpoint(recs, 10000, key);
    std::vector<pop::Checkpoint> cps{cp};
    CHECK(pop::verifyChain("p1", recs, cps, key.publicKey()).ok());
    auto back = pop::parseRecord(pop::canonicalBytes(jump));
    REQUIRE(back.ok());
    CHECK(back->kind == pop::Kind::ClockJump);
}

TEST_CASE("batches encode as lines and parse back", "[pop]") {
    auto key = std::move(crypto::PrivateKey::generate().value());
    Chain c = makeChain(5, 100, key);
    pop::Batch b{c.records, c.checkpoints.back()};
    std::string body = pop::encodeBatch(b);
    CHECK(std::count(body.begin(), body.end(), '\n') == 6);
    auto back = pop::parseBatch(body);
    REQUIRE(back.ok());
    CHECK(back->records == b.records);
    CHECK(back->checkpoint == b.checkpoint);
    SECTION("a checkpoint that does not match the records") {
        pop::Batch short_{std::vector<pop::Record>(c.records.begin(), c.records.end() - 1), c.checkpoints.back()};
        CHECK(pop::parseBatch(pop::encodeBatch(short_)).code() == Errc::BadManifest);
    }
    SECTION("no trailing newline") {
        CHECK(pop::parseBatch(body.substr(0, body.size() - 1)).code() == Errc::BadManifest);
    }
    SECTION("a garbled line") {
        body[10] = '#';
        CHECK_FALSE(pop::parseBatch(body).ok());
    }
    SECTION("only a checkpoint") {
        CHECK(pop::parseBatch(pop::canonicalBytes(b.checkpoint) + "\n").code() == Errc::BadManifest);
    }
}

TEST_CASE("the worked example of docs/proof-of-play.md", "[pop]") {
    const std::string r1 =
        R"({"bundle_version":12,"campaign":"c-2025-nsed","clock_skew_ms":0,"detail":"","end_utc_ms":1744673415012,"format":1,"frame_digest":"4b227777d4dd1fc61c6f884f48641d02b4d121d3fd328cb08b5531fcacdabf8a","kind":"play","measured_ms":15012,"media":"9f2c1b6e5d4a39281706f5e4d3c2b1a09f8e7d6c5b4a39281706f5e4d3c2b1a0","outcome":"completed","player":"p-wanda-garage-01","playlist":"pl-fraud","prev":"0000000000000000000000000000000000000000000000000000000000000000","schedule":"s-fraud","scheduled_ms":15000,"seq":1,"source":"entry","start_utc_ms":1744673400000})";
    const std::string r2 =
        R"({"bundle_version":12,"campaign":"c-2025-nsed","clock_skew_ms":0,"detail":"","end_utc_ms":1744673418020,"format":1,"frame_digest":"","kind":"play","measured_ms":3006,"media":"0e5751c026e543b2e8ab2eb06099daa1d1e5df47778f7787faab45cdf12fe3a8","outcome":"interrupted","player":"p-wanda-garage-01","playlist":"pl-fraud","prev":"347b5bc0fc72d9b20fa90d03a0750a008207e81dd9ce45e1f3d1e58af0606eeb","schedule":"s-fraud","scheduled_ms":10000,"seq":2,"source":"entry","start_utc_ms":1744673415014})";
    const std::string cp =
        R"({"count":2,"created_utc_ms":1744673420000,"first_seq":1,"format":1,"key":"5de192df012f26000f9ecc84d87899a9dcbdc0025d9368d9d55482d93a949be8","last_hash":"267237f4607399c191a152295a5d6b4ebaf993a672423978b7cb58a2d84bdfbd","last_seq":2,"player":"p-wanda-garage-01","sig":"+8DI6TebsE0byu43oZ68GobQ5Ag1icpYFhrU7xLTytfknKJdBbwdQVxGO//q1ZaEdmPz6VrV3YGab4cGb+ALBQ==","type":"checkpoint"})";
    const std::string pub =
        "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA42sL3UOaBhNo4V4r+FLs6PJgKOXPVq3VIe6gPRRbu3g=\n-----END PUBLIC "
        "KEY-----\n";
    auto key = crypto::PublicKey::fromPem(pub);
    REQUIRE(key.ok());
    CHECK(key->id() == "5de192df012f26000f9ecc84d87899a9dcbdc0025d9368d9d55482d93a949be8");
    auto batch = pop::parseBatch(r1 + "\n" + r2 + "\n" + cp + "\n");
    REQUIRE(batch.ok());
    CHECK(pop::recordHash(batch->records[0]) == "347b5bc0fc72d9b20fa90d03a0750a008207e81dd9ce45e1f3d1e58af0606eeb");
    CHECK(pop::recordHash(batch->records[1]) == "267237f4607399c191a152295a5d6b4ebaf993a672423978b7cb58a2d84bdfbd");
    CHECK(crypto::sha256Hex(r1) == pop::recordHash(batch->records[0]));
    CHECK(pop::canonicalBytes(batch->checkpoint) == cp);
    CHECK(pop::verifyChain("p-wanda-garage-01", batch->records, std::vector{batch->checkpoint}, *key).ok());

    std::vector<pop::Record> altered = batch->records;
    altered[0].measuredMs = 15013;
    CHECK(problems(pop::verifyChain("p-wanda-garage-01", altered, std::vector{batch->checkpoint}, *key)) ==
          std::vector{Problem::BrokenLink});
}

TEST_CASE("record format 2 names the manifest in force, format 1 records are still read", "[pop]") {
    pop::Record r = play(1);
    r.format = 2;
    r.seq = 1;
    r.prevHash = std::string(pop::kGenesisHash);
    r.manifestSha256 = std::string(64, 'a');
    const std::string bytes = pop::canonicalBytes(r);
    CHECK(bytes.find(R"("format":2,)") != std::string::npos);
    CHECK(bytes.find(R"("kind":"play","manifest":")" + std::string(64, 'a') + R"(","measured_ms")") !=
          std::string::npos);
    auto back = pop::parseRecord(bytes);
    REQUIRE(back);
    CHECK(*back == r);
    // Before the first bundle there is no manifest: "".
    r.manifestSha256.clear();
    CHECK(pop::parseRecord(pop::canonicalBytes(r)));
    // Format 1 has no manifest field: bytes (and hashes) of old records are unchanged.
    pop::Record old = r;
    old.manifestSha256.clear();
    old.format = 1;
    const std::string oldBytes = pop::canonicalBytes(old);
    CHECK(oldBytes.find("manifest") == std::string::npos);
    CHECK(oldBytes.find(R"("format":1,)") != std::string::npos);
    auto oldBack = pop::parseRecord(oldBytes);
    REQUIRE(oldBack);
    CHECK(oldBack->format == 1);
    CHECK(pop::canonicalBytes(*oldBack) == oldBytes);
    // A format 1 record naming a manifest, a format 2 record without the field,
    // and a manifest that is no hash are refused.
    json::Value v1 = pop::toJson(old);
    v1.asObject()["manifest"] = std::string(64, 'a');
    CHECK(pop::parseRecord(json::canonical(v1)).code() == Errc::BadManifest);
    json::Value v2 = pop::toJson(r);
    v2.asObject().erase("manifest");
    CHECK(pop::parseRecord(json::canonical(v2)).code() == Errc::BadManifest);
    json::Value v3 = pop::toJson(r);
    v3.asObject()["manifest"] = std::string(64, 'A');
    CHECK(pop::parseRecord(json::canonical(v3)).code() == Errc::BadManifest);
    old.manifestSha256 = std::string(64, 'a');
    CHECK_FALSE(pop::validate(old));
}

TEST_CASE("parseRecord accepts exactly what the generic canonical parser accepts", "[pop]") {
    // parseRecord has a fast reader for plain canonical records; every line it
    // accepts must also be accepted by the generic path with the same value, and
    // every line the generic path refuses must be refused.
    auto generic = [](std::string_view line) -> Result<pop::Record> {
        auto v = json::parseCanonical(line);
        if (!v) return v.error();
        return pop::recordFromJson(*v);
    };
    pop::Record base = play(3);
    base.seq = 3;
    base.prevHash = std::string(64, 'c');
    base.detail = "反诈防骗 ok";
    pop::Record failed = base;
    failed.outcome = pop::Outcome::Failed;
    failed.measuredMs = 0;
    failed.detail = "decode \"error\"\n";  // escapes: the generic path
    pop::Record event = base;
    event.kind = pop::Kind::ClockJump;
    event.mediaSha256.clear();
    event.outcome = pop::Outcome::None;
    event.endUtcMs = event.startUtcMs - 5000;
    event.clockSkewMs = -1200;
    pop::Record legacy = base;  // format 1: no manifest field
    legacy.format = 1;
    pop::Record format2 = base;  // format 2: no frame fields
    format2.format = 2;
    format2.manifestSha256 = std::string(64, 'e');
    base.manifestSha256 = std::string(64, 'e');
    pop::Record video = base;  // format 3 frame counts
    video.frames = 374;
    video.framesLate = 2;
    video.framesDropped = 3;
    video.longestFreezeMs = 120;
    pop::Record degraded = video;
    degraded.framesDropped = 60;
    degraded.outcome = pop::Outcome::Degraded;
    std::size_t checked = 0, accepted = 0;
    for (const auto& r : {base, failed, event, legacy, format2, video, degraded}) {
        const std::string line = pop::canonicalBytes(r);
        auto ok = pop::parseRecord(line);
        REQUIRE(ok);
        CHECK(*ok == r);
        // Every single-byte change, and a few insertions and truncations.
        const std::string subs = "0-9\"\\:,{}a \x01\x80";
        for (std::size_t i = 0; i < line.size(); ++i) {
            std::vector<std::string> variants;
            for (char c : subs) {
                std::string v = line;
                v[i] = c;
                variants.push_back(v);
            }
            variants.push_back(line.substr(0, i));
            variants.push_back(line.substr(0, i) + "0" + line.substr(i));
            variants.push_back(line.substr(0, i) + line.substr(i + 1));
            for (const auto& v : variants) {
                auto a = pop::parseRecord(v);
                auto b = generic(v);
                INFO(v);
                REQUIRE(a.ok() == b.ok());
                if (a) {
                    CHECK(*a == *b);
                    ++accepted;
                }
                ++checked;
            }
        }
    }
    CHECK(accepted > 0);  // some variants are valid records (another digit, another hex letter)
    CHECK(checked > 10000);
}

TEST_CASE("ChainStream reports what verifyChain reports, one record at a time", "[pop]") {
    auto key = std::move(crypto::PrivateKey::generate().value());
    auto other = std::move(crypto::PrivateKey::generate().value());
    const Chain base = makeChain(40, 7, key);
    // Returns whether the stream took the whole input (no reordering).
    auto same = [&](const Chain& ch) {
        pop::ChainStream stream("p-garage-01", key.publicKey());
        for (const auto& r : ch.records)
            if (!stream.addRecord(r)) return false;
        for (const auto& c : ch.checkpoints) stream.addCheckpoint(c);
        auto got = stream.finish();
        auto want = pop::verifyChain("p-garage-01", ch.records, ch.checkpoints, key.publicKey());
        REQUIRE(got.findings.size() == want.findings.size());
        for (std::size_t i = 0; i < want.findings.size(); ++i) {
            CHECK(got.findings[i].str() == want.findings[i].str());
            CHECK(got.findings[i].index == want.findings[i].index);
        }
        CHECK(got.records == want.records);
        CHECK(got.firstSeq == want.firstSeq);
        CHECK(got.lastSeq == want.lastSeq);
        CHECK(got.lastHash == want.lastHash);
        return true;
    };
    CHECK(same(base));
    SECTION("a swapped pair cannot be streamed") {
        Chain c = base;
        std::swap(c.records[10], c.records[11]);
        CHECK_FALSE(same(c));
    }
    SECTION("random tampering, the same findings") {
        std::mt19937 rng(20260415);
        int streamed = 0;
        for (int round = 0; round < 400; ++round) {
            Chain c = base;
            int edits = 1 + static_cast<int>(rng() % 3);
            for (int k = 0; k < edits && !c.records.empty(); ++k) {
                std::size_t i = rng() % c.records.size();
                switch (rng() % 13) {
                    case 0:
                        c.records.erase(c.records.begin() + static_cast<std::ptrdiff_t>(i));
                        break;
                    case 1:
                        c.records.insert(c.records.begin() + static_cast<std::ptrdiff_t>(i), c.records[i]);
                        break;
                    case 2:
                        c.records[i].measuredMs += 1;
                        break;
                    case 3:
                        c.records[i].prevHash = std::string(64, 'c');
                        break;
                    case 4:
                        c.records[i].playerId = "p-mall-02";
                        break;
                    case 5: {
                        pop::Record forged = c.records[i];
                        forged.mediaSha256 = kMediaA == forged.mediaSha256 ? kMediaB : kMediaA;
                        c.records.insert(c.records.begin() + static_cast<std::ptrdiff_t>(i) + 1, forged);
                        break;
                    }
                    case 6:
                        c.records[i].seq += 5;
                        break;
                    case 7:
                        c.records[i].outcome = pop::Outcome::Failed;
                        break;  // fails validate()
                    case 8:
                        if (!c.checkpoints.empty())
                            c.checkpoints.erase(c.checkpoints.begin() +
                                                static_cast<std::ptrdiff_t>(i % c.checkpoints.size()));
                        break;
                    case 9:
                        if (!c.checkpoints.empty()) {
                            auto& cp = c.checkpoints[i % c.checkpoints.size()];
                            if (rng() % 2)
                                cp.lastHash = std::string(64, 'd');
                            else
                                pop::sign(cp, other);
                        }
                        break;
                    case 10:
                        if (i + 1 < c.records.size()) std::swap(c.records[i], c.records[i + 1]);
                        break;
                    case 11:
                        if (!c.checkpoints.empty()) {
                            auto at = c.checkpoints.begin() + static_cast<std::ptrdiff_t>(i % c.checkpoints.size());
                            c.checkpoints.insert(at, *at);
                        }
                        break;
                    case 12:
                        if (c.checkpoints.size() > 1) {
                            std::size_t j = i % (c.checkpoints.size() - 1);
                            std::swap(c.checkpoints[j], c.checkpoints[j + 1]);
                        }
                        break;
                }
            }
            streamed += same(c) ? 1 : 0;
        }
        CHECK(streamed > 250);
    }
}

TEST_CASE("a head statement: signed, canonical, strict", "[pop]") {
    auto key = std::move(crypto::PrivateKey::generate().value());
    auto other = std::move(crypto::PrivateKey::generate().value());
    pop::Head h;
    h.playerId = "p-garage-01";
    h.seq = 42;
    h.hash = std::string(64, 'a');
    h.createdUtcMs = 1776211200000;
    pop::sign(h, key);
    const std::string line = pop::canonicalBytes(h);
    CHECK(line.rfind(R"({"created_utc_ms":1776211200000,"format":1,"hash":")", 0) == 0);
    auto back = pop::parseHead(line);
    REQUIRE(back.ok());
    CHECK(*back == h);
    CHECK(pop::verifySignature(*back, key.publicKey()).ok());
    CHECK(pop::verifySignature(*back, other.publicKey()).code() == Errc::UnknownSigner);
    pop::Head moved = h;
    moved.seq = 41;
    CHECK(pop::verifySignature(moved, key.publicKey()).code() == Errc::BadSignature);
    pop::Head empty = h;
    empty.seq = 0;
    pop::sign(empty, key);
    CHECK(pop::parseHead(pop::canonicalBytes(empty)).code() == Errc::BadManifest);  // seq 0 needs 64 zeros
    CHECK(pop::parseHead(line.substr(0, line.size() - 1)).code() == Errc::BadJson);
    std::string extra = line;
    extra.insert(1, R"("a":1,)");
    CHECK(pop::parseHead(extra).code() == Errc::BadManifest);
    std::string typed = line;
    typed.replace(typed.find(R"("type":"head")"), 13, R"("type":"hood")");
    CHECK(pop::parseHead(typed).code() == Errc::BadManifest);
}

TEST_CASE("record format 3: a play's frames decide between completed and degraded", "[pop]") {
    pop::Record r = play(1);
    r.seq = 1;
    r.prevHash = std::string(pop::kGenesisHash);
    r.manifestSha256 = std::string(64, 'a');
    r.scheduledMs = 15000;
    r.measuredMs = 15040;
    r.frames = 375;
    r.framesLate = 4;
    r.framesDropped = 2;
    r.longestFreezeMs = 180;
    r.frameDigest.clear();
    r.outcome = pop::classify(r);
    CHECK(r.outcome == pop::Outcome::Completed);
    const std::string bytes = pop::canonicalBytes(r);
    CHECK(bytes.find(R"("format":3,)") != std::string::npos);
    CHECK(bytes.find(R"("frame_digest":"","frames":375,"frames_dropped":2,"frames_late":4,"kind":"play",)"
                     R"("longest_freeze_ms":180,"manifest":")") != std::string::npos);
    auto back = pop::parseRecord(bytes);
    REQUIRE(back);
    CHECK(*back == r);

    SECTION("the rule: a freeze of 500 ms, or more than 5% of the due frames late or dropped") {
        CHECK_FALSE(pop::framesDegraded(0, 0, 0, 0));
        CHECK_FALSE(pop::framesDegraded(375, 0, 0, 499));
        CHECK(pop::framesDegraded(375, 0, 0, 500));
        // 100 due frames: 5 lost is still completed, 6 is degraded.
        CHECK_FALSE(pop::framesDegraded(95, 0, 5, 100));
        CHECK(pop::framesDegraded(94, 0, 6, 100));
        CHECK_FALSE(pop::framesDegraded(100, 5, 0, 100));
        CHECK(pop::framesDegraded(100, 6, 0, 100));
        CHECK(pop::framesDegraded(0, 0, 1, 0));  // nothing shown but frames due
    }
    SECTION("completed over counts that say degraded is refused, and the other way round") {
        pop::Record bad = r;
        bad.longestFreezeMs = 720;
        auto st = pop::validate(bad);
        REQUIRE_FALSE(st);
        CHECK(st.error().message.find("completed, but its frames say degraded") != std::string::npos);
        bad.outcome = pop::classify(bad);
        CHECK(bad.outcome == pop::Outcome::Degraded);
        CHECK(pop::validate(bad));
        pop::Record overclaimed = r;
        overclaimed.outcome = pop::Outcome::Degraded;
        st = pop::validate(overclaimed);
        REQUIRE_FALSE(st);
        CHECK(st.error().message.find("degraded, but its frames say completed") != std::string::npos);
        // Degraded is for plays that ran their whole length: a cut play stays interrupted.
        pop::Record cut = bad;
        cut.measuredMs = 4000;
        CHECK(pop::classify(cut) == pop::Outcome::Interrupted);
        cut.outcome = pop::Outcome::Degraded;
        CHECK_FALSE(pop::validate(cut));
        cut.outcome = pop::Outcome::Interrupted;
        CHECK(pop::validate(cut));
    }
    SECTION("frame fields out of range, on other kinds, or in formats 1 and 2 are refused") {
        pop::Record x = r;
        x.framesLate = x.frames + 1;
        CHECK_FALSE(pop::validate(x));
        x = r;
        x.framesDropped = -1;
        CHECK_FALSE(pop::validate(x));
        x = r;
        x.longestFreezeMs = -1;
        CHECK_FALSE(pop::validate(x));
        x = r;
        x.kind = pop::Kind::ScreenOff;
        x.mediaSha256.clear();
        x.outcome = pop::Outcome::None;
        CHECK_FALSE(pop::validate(x));
        x.frames = x.framesLate = x.framesDropped = x.longestFreezeMs = 0;
        CHECK(pop::validate(x));
        x = r;
        x.format = 2;
        CHECK_FALSE(pop::validate(x));
        x.frames = x.framesLate = x.framesDropped = x.longestFreezeMs = 0;
        CHECK(pop::validate(x));
        x.outcome = pop::Outcome::Degraded;
        CHECK_FALSE(pop::validate(x));
        // A format 3 record without the frame fields, or a format 2 one with them.
        json::Value v = pop::toJson(r);
        v.asObject().erase("frames_late");
        CHECK(pop::parseRecord(json::canonical(v)).code() == Errc::BadManifest);
        json::Value w = pop::toJson(r);
        w.asObject()["format"] = 2;
        CHECK(pop::parseRecord(json::canonical(w)).code() == Errc::BadManifest);
    }
}
