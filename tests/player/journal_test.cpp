#include <catch2/catch.hpp>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <random>
#include <thread>

#include "media_fixtures.hpp"
#include "microscape/player/journal.hpp"
#include "support/catch_errc.hpp"

using namespace microscape;
using microscape::testing::TempDir;

namespace {

pop::Record samplePlay(int i) {
    pop::Record r;
    r.kind = pop::Kind::Play;
    r.bundleVersion = 3;
    r.mediaSha256 = crypto::sha256Hex("media" + std::to_string(i % 3));
    r.playlistId = "pl-fraud";
    r.scheduleId = "s-fraud";
    r.source = "entry";
    r.startUtcMs = 1744600000000 + i * 5000;
    r.endUtcMs = r.startUtcMs + 5000;
    r.scheduledMs = 5000;
    r.measuredMs = 5003;
    r.outcome = pop::Outcome::Completed;
    return r;
}

std::unique_ptr<player::Journal> openJournal(const std::string& path, std::uint64_t cap = 64ull << 20) {
    auto j = player::Journal::open({path, "p-test-01", cap});
    REQUIRE(j.ok());
    return std::move(*j);
}

crypto::PrivateKey newKey() {
    return std::move(crypto::PrivateKey::generate().value());
}

}  // namespace

TEST_CASE("journal appends a gapless chain that survives reopening", "[journal]") {
    TempDir dir;
    auto key = newKey();
    std::string path = dir / "state.db";
    {
        auto j = openJournal(path);
        for (int i = 0; i < 5; ++i) REQUIRE(j->append(samplePlay(i)).ok());
        CHECK(j->status().lastSeq == 5);
    }
    auto j = openJournal(path);
    auto r6 = j->append(samplePlay(6));
    REQUIRE(r6.ok());
    CHECK(r6->seq == 6);
    CHECK(r6->playerId == "p-test-01");
    auto all = j->records(1, 100);
    REQUIRE(all.ok());
    REQUIRE(all->size() == 6);
    CHECK(all->at(5).prevHash == pop::recordHash(all->at(4)));
    CHECK(all->at(0).prevHash == pop::kGenesisHash);
    CHECK(j->status().lastHash == pop::recordHash(all->back()));

    SECTION("another player's journal file is refused") {
        auto other = player::Journal::open({path, "p-other", 1u << 20});
        CHECK(other.code() == Errc::Usage);
    }
    SECTION("an invalid record is refused and leaves no gap") {
        pop::Record bad = samplePlay(7);
        bad.mediaSha256 = "nope";
        CHECK(j->append(bad).code() == Errc::BadManifest);
        auto r = j->append(samplePlay(8));
        REQUIRE(r.ok());
        CHECK(r->seq == 7);
    }
}

TEST_CASE("journal batches carry a signed checkpoint and records go only after the ack", "[journal]") {
    TempDir dir;
    auto key = newKey();
    auto j = openJournal(dir / "state.db");
    for (int i = 0; i < 25; ++i) REQUIRE(j->append(samplePlay(i)).ok());

    auto b1 = j->nextBatch(10, key, 1744700000000);
    REQUIRE(b1.ok());
    REQUIRE(b1->has_value());
    const pop::Batch& batch = **b1;
    CHECK(batch.records.size() == 10);
    CHECK(batch.checkpoint.firstSeq == 1);
    CHECK(batch.checkpoint.lastSeq == 10);
    CHECK(pop::verifyChain("p-test-01", batch.records, std::vector{batch.checkpoint}, key.publicKey()).ok());
    CHECK(pop::parseBatch(pop::encodeBatch(batch)).ok());

    // No ack: the same records come again (at-least-once).
    auto again = j->nextBatch(10, key, 1744700001000);
    REQUIRE(again.ok());
    CHECK((*again)->records == batch.records);

    REQUIRE(j->acknowledge(10).ok());
    CHECK(j->acknowledge(4).ok());  // a late, repeated ack changes nothing
    CHECK(j->acknowledge(99).code() == Errc::Usage);
    auto b2 = j->nextBatch(100, key, 1744700002000);
    REQUIRE(b2.ok());
    CHECK((*b2)->records.front().seq == 11);
    CHECK((*b2)->records.back().seq == 25);
    pop::Anchor anchor{10, pop::recordHash(batch.records.back())};
    CHECK(pop::verifyChain("p-test-01", (*b2)->records, std::vector{(*b2)->checkpoint}, key.publicKey(), anchor).ok());
    REQUIRE(j->acknowledge(25).ok());
    auto none = j->nextBatch(100, key, 1744700003000);
    REQUIRE(none.ok());
    CHECK_FALSE(none->has_value());
    CHECK(j->status().unacked == 0);
}

TEST_CASE("journal disk cap drops the oldest acknowledged records first", "[journal]") {
    TempDir dir;
    std::string body = pop::canonicalBytes([] {
        pop::Record r = samplePlay(0);
        r.playerId = "p-test-01";
        r.seq = 1;
        r.prevHash = std::string(pop::kGenesisHash);
        return r;
    }());
    std::uint64_t cap = body.size() * 10;  // room for about ten records
    auto j = openJournal(dir / "state.db", cap);
    for (int i = 0; i < 8; ++i) REQUIRE(j->append(samplePlay(i)).ok());
    REQUIRE(j->acknowledge(6).ok());
    for (int i = 8; i < 12; ++i) REQUIRE(j->append(samplePlay(i)).ok());
    auto st = j->status();
    CHECK(st.storedBytes <= cap);
    CHECK(st.oldestSeq > 1);
    CHECK(st.oldestSeq <= 7);  // unacknowledged 7.. are all still there
    CHECK_FALSE(st.capExceeded);
    auto kept = j->records(1, 100);
    REQUIRE(kept.ok());
    CHECK(kept->back().seq == 12);

    // Unacknowledged records fill the cap: nothing is dropped, the status says so.
    for (int i = 12; i < 30; ++i) REQUIRE(j->append(samplePlay(i)).ok());
    st = j->status();
    CHECK(st.capExceeded);
    CHECK(st.oldestSeq == 7);
    auto rest = j->records(7, 100);
    REQUIRE(rest.ok());
    CHECK(rest->size() == 24);
    REQUIRE(j->acknowledge(30).ok());
    CHECK_FALSE(j->status().capExceeded);
}

TEST_CASE("clock watch reports jumps, not drift", "[journal]") {
    player::ClockWatch w(1000);
    CHECK_FALSE(w.observe(1'000'000, 50));
    CHECK_FALSE(w.observe(1'001'000, 1050));
    CHECK_FALSE(w.observe(1'002'300, 2050));  // 300 ms of drift
    auto back = w.observe(998'000, 3050);     // set back by about 4.3 s
    REQUIRE(back);
    CHECK(back->deltaMs() == -5300);
    auto rec = player::clockJumpRecord(*back, 2);
    rec.playerId = "p";
    rec.seq = 1;
    rec.prevHash = std::string(pop::kGenesisHash);
    CHECK(pop::validate(rec).ok());
    CHECK_FALSE(w.observe(999'000, 4050));
}

// The child appends as fast as it can and reports every seq whose append returned;
// the parent kills it with SIGKILL at a random moment, then checks the file.
TEST_CASE("journal survives kill -9 at random moments without gaps, duplicates or broken links", "[journal][kill]") {
    TempDir dir;
    std::string path = dir / "state.db";
    auto key = newKey();
    std::mt19937 rng(20250415);
    std::int64_t reportedMax = 0;
    const int kRounds = 24;
    for (int round = 0; round < kRounds; ++round) {
        int fds[2];
        REQUIRE(::pipe(fds) == 0);
        pid_t pid = ::fork();
        REQUIRE(pid >= 0);
        if (pid == 0) {
            ::close(fds[0]);
            auto j = player::Journal::open({path, "p-test-01", 64ull << 20});
            if (!j) ::_exit(2);
            for (int i = 0;; ++i) {
                auto r = (*j)->append(samplePlay(i));
                if (!r) ::_exit(3);
                std::int64_t seq = r->seq;
                if (::write(fds[1], &seq, sizeof seq) != sizeof seq) ::_exit(4);
            }
        }
        ::close(fds[1]);
        std::this_thread::sleep_for(std::chrono::milliseconds(std::uniform_int_distribution<int>(5, 60)(rng)));
        ::kill(pid, SIGKILL);
        int status = 0;
        ::waitpid(pid, &status, 0);
        CHECK(WIFSIGNALED(status));
        std::int64_t seq = 0;
        while (::read(fds[0], &seq, sizeof seq) == sizeof seq) reportedMax = std::max(reportedMax, seq);
        ::close(fds[0]);

        auto j = openJournal(path);
        auto st = j->status();
        INFO("round " << round);
        CHECK(st.lastSeq >= reportedMax);  // everything the child was told is stored, is
        auto all = j->records(1, st.lastSeq);
        REQUIRE(all.ok());
        REQUIRE(static_cast<std::int64_t>(all->size()) == st.lastSeq);
        if (!all->empty()) {
            auto cp = pop::makeCheckpoint(*all, 1744700000000, key);
            auto rep = pop::verifyChain("p-test-01", *all, std::vector{cp}, key.publicKey());
            INFO((rep.ok() ? std::string() : rep.findings.front().str()));
            CHECK(rep.ok());
        }
        reportedMax = st.lastSeq;
    }
    CHECK(reportedMax > kRounds);  // the children did write
}

TEST_CASE("journal checkpoints are chained, durable, and re-sent unchanged until acknowledged", "[journal]") {
    TempDir dir;
    auto key = newKey();
    const std::string path = dir / "state.db";
    std::vector<pop::Checkpoint> kept;  // what a controller keeps: one checkpoint per stored batch
    std::vector<pop::Record> stored;
    {
        auto j = openJournal(path);
        for (int i = 0; i < 12; ++i) REQUIRE(j->append(samplePlay(i)).ok());
        auto b1 = j->nextBatch(5, key, 1744700000000);
        REQUIRE(b1.ok());
        REQUIRE(b1->has_value());
        CHECK((*b1)->checkpoint.format == 2);
        CHECK((*b1)->checkpoint.prevCheckpoint == pop::kGenesisHash);
        // More records arrive before the ack; the re-send is the same batch, the same checkpoint.
        for (int i = 12; i < 20; ++i) REQUIRE(j->append(samplePlay(i)).ok());
        auto again = j->nextBatch(100, key, 1744700009000);
        REQUIRE(again.ok());
        CHECK((*again)->checkpoint == (*b1)->checkpoint);
        CHECK((*again)->records == (*b1)->records);
        kept.push_back((*b1)->checkpoint);
        stored.insert(stored.end(), (*b1)->records.begin(), (*b1)->records.end());
        REQUIRE(j->acknowledge(5).ok());
        auto b2 = j->nextBatch(7, key, 1744700010000);
        REQUIRE(b2.ok());
        CHECK((*b2)->checkpoint.firstSeq == 6);
        CHECK((*b2)->checkpoint.prevCheckpoint == pop::checkpointHash((*b1)->checkpoint));
        kept.push_back((*b2)->checkpoint);
        stored.insert(stored.end(), (*b2)->records.begin(), (*b2)->records.end());
    }
    // Restarted before the ack: the pending checkpoint is sent again, then the chain goes on.
    auto j = openJournal(path);
    auto b2again = j->nextBatch(100, key, 1744700020000);
    REQUIRE(b2again.ok());
    CHECK((*b2again)->checkpoint == kept.back());
    REQUIRE(j->acknowledge(kept.back().lastSeq).ok());
    auto b3 = j->nextBatch(100, key, 1744700030000);
    REQUIRE(b3.ok());
    CHECK((*b3)->checkpoint.prevCheckpoint == pop::checkpointHash(kept.back()));
    kept.push_back((*b3)->checkpoint);
    stored.insert(stored.end(), (*b3)->records.begin(), (*b3)->records.end());
    CHECK(stored.size() == 20);
    auto rep = pop::verifyChain("p-test-01", stored, kept, key.publicKey());
    for (const auto& f : rep.findings) INFO(f.str());
    CHECK(rep.ok());
}
