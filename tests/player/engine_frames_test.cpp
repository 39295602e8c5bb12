// Frame counts of video plays in proof of play (docs/proof-of-play.md,
// "Frames"), played by the real engine (libvlc, headless, generated clips): a
// clip that plays smoothly is completed with its frames counted, and one whose
// display really stalls (the engine's test hook holds the display of some
// frames, so libvlc shows the next ones late or drops them) is degraded, with
// counts that say why.
#include <catch2/catch.hpp>

#include <filesystem>

#include "engine_fixture.hpp"
#include "microscape/player/engine.hpp"
#include "microscape/player/journal.hpp"

using namespace microscape;
using namespace microscape::testing;

namespace {

constexpr std::int64_t kClipSeconds = 4;
constexpr std::int64_t kSlotMs = kClipSeconds * 1000;

struct FramesRig {
    TempDir dir;
    std::string mediaDir = dir / "blobs";
    TestClock clock;
    std::unique_ptr<player::Journal> journal;
    std::unique_ptr<player::Engine> engine;
    CachedMedia clip, poster;

    explicit FramesRig(int stallMs = 0, int stallEvery = 0) {
        std::filesystem::create_directories(mediaDir);
        REQUIRE(makeClip(dir / "clip.mp4", static_cast<int>(kClipSeconds)));
        REQUIRE(makePoster(dir / "poster.png", "反诈防骗", "#1a3d7c"));
        clip = cacheFile(mediaDir, dir / "clip.mp4", MediaKind::Video);
        poster = cacheFile(mediaDir, dir / "poster.png", MediaKind::Image);
        auto j = player::Journal::open({dir / "state.db", "p-frames-01", 64ull << 20});
        REQUIRE(j.ok());
        journal = std::move(*j);
        player::EngineConfig cfg;
        cfg.playerId = "p-frames-01";
        cfg.width = kOutW;
        cfg.height = kOutH;
        cfg.clock = &clock;
        cfg.testStallDisplayMs = stallMs;
        cfg.testStallEveryFrames = stallEvery;
        auto e = player::Engine::create(cfg, journal.get());
        REQUIRE(e.ok());
        engine = std::move(*e);
    }

    // Plays poster (1 s), the clip (its whole length), poster, and returns the
    // clip's play record and the engine's own numbers for it.
    std::pair<pop::Record, player::EngineStats::VideoPlay> playClipOnce() {
        engine->setBundle(bundleOf(daySchedule({item(poster, 1000), item(clip, kSlotMs), item(poster, 1000)}), mediaDir,
                                   {clip, poster}));
        startHeld(*engine, clock, 0);
        REQUIRE(waitFor([&] { return !engine->stats().videoPlays.empty(); }, 60000));
        engine->stop();
        std::optional<pop::Record> rec;
        for (const auto& p : playRecordsOf(*journal))
            if (p.mediaSha256 == clip.sha256) rec = p;
        REQUIRE(rec);
        return {*rec, engine->stats().videoPlays.front()};
    }
};

}  // namespace

TEST_CASE("frames: a clip that plays smoothly is completed with its frames counted", "[engine][frames]") {
    FramesRig rig;
    auto [r, v] = rig.playClipOnce();
    INFO("frames " << r.frames << ", late " << r.framesLate << ", dropped " << r.framesDropped << ", longest freeze "
                   << r.longestFreezeMs << " ms, measured " << r.measuredMs << " ms");
    CHECK(r.format == 3);
    CHECK(r.outcome == pop::Outcome::Completed);
    CHECK(pop::validate(r));
    // 25 frames a second for 4 s: about 100 on air (the first may have been
    // shown in pre-roll, the last may come a little after the slot's end).
    CHECK(r.frames >= 90);
    CHECK(r.frames <= 101);
    CHECK(r.framesDropped <= 2);
    CHECK(r.framesLate <= 2);
    CHECK(r.longestFreezeMs < 200);
    // The engine's own numbers are the record's.
    CHECK(static_cast<std::int64_t>(v.framesShown) == r.frames);
    CHECK(static_cast<std::int64_t>(v.framesDropped) == r.framesDropped);
    CHECK(v.outcome == "completed");
    // A still has no frame counts.
    for (const auto& p : playRecordsOf(*rig.journal))
        if (p.mediaSha256 == rig.poster.sha256) {
            CHECK(p.frames == 0);
            CHECK(p.framesDropped == 0);
            CHECK(p.longestFreezeMs == 0);
        }
}

TEST_CASE("frames: a clip whose display freezes for 700 ms is recorded degraded", "[engine][frames]") {
    // Every 40th frame on air is held 700 ms: libvlc shows the frames after
    // it late or drops them, twice in the clip's 4 s.
    FramesRig rig(700, 40);
    auto [r, v] = rig.playClipOnce();
    INFO("frames " << r.frames << ", late " << r.framesLate << ", dropped " << r.framesDropped << ", longest freeze "
                   << r.longestFreezeMs << " ms, measured " << r.measuredMs << " ms");
    CHECK(r.outcome == pop::Outcome::Degraded);
    CHECK(pop::validate(r));
    CHECK(r.longestFreezeMs >= 650);
    CHECK(r.framesDropped + r.framesLate >= 10);
    CHECK(v.outcome == "degraded");
    // It ran its whole slot: degraded, not interrupted.
    CHECK(std::llabs(r.measuredMs - r.scheduledMs) <= pop::kCompletionToleranceMs);
    // The record as the screen signed it: its own counts break the rule, so
    // "completed" over them is refused by every verifier.
    pop::Record claimed = r;
    claimed.outcome = pop::Outcome::Completed;
    CHECK_FALSE(pop::validate(claimed));
}

TEST_CASE("frames: a clip that judders without a long freeze is recorded degraded", "[engine][frames]") {
    // Every 5th frame held 150 ms: no gap reaches 500 ms, but frames are lost
    // all the way through (a PC too slow for the clip).
    FramesRig rig(150, 5);
    auto [r, v] = rig.playClipOnce();
    INFO("frames " << r.frames << ", late " << r.framesLate << ", dropped " << r.framesDropped << ", longest freeze "
                   << r.longestFreezeMs << " ms, measured " << r.measuredMs << " ms");
    CHECK(r.outcome == pop::Outcome::Degraded);
    CHECK(r.longestFreezeMs < 500);
    CHECK((r.framesLate + r.framesDropped) * 100 > pop::kDegradedSharePercent * (r.frames + r.framesDropped));
}
