// The playback engine with real libvlc, headless, on generated media. Each test
// plays a few seconds of a schedule anchored at a fixed local midnight.
#include <catch2/catch.hpp>

#include <filesystem>

#include "engine_fixture.hpp"
#include "microscape/player/engine.hpp"
#include "microscape/player/journal.hpp"

using namespace microscape;
using namespace microscape::testing;

namespace {

struct Rig {
    TempDir dir;
    std::string mediaDir = dir / "blobs";
    TestClock clock;
    std::unique_ptr<player::Journal> journal;
    std::unique_ptr<player::Engine> engine;
    CachedMedia fraud, helmet, drugs, clip;

    Rig() {
        std::filesystem::create_directories(mediaDir);
        REQUIRE(makePoster(dir / "fraud.png", "反诈防骗", "#1a3d7c"));
        REQUIRE(makePoster(dir / "helmet.png", "一盔一带", "#b8860b"));
        REQUIRE(makePoster(dir / "drugs.png", "禁毒", "#2e7d32"));
        REQUIRE(makeClip(dir / "clip.mp4", 2));
        fraud = cacheFile(mediaDir, dir / "fraud.png", MediaKind::Image);
        helmet = cacheFile(mediaDir, dir / "helmet.png", MediaKind::Image);
        drugs = cacheFile(mediaDir, dir / "drugs.png", MediaKind::Image);
        clip = cacheFile(mediaDir, dir / "clip.mp4", MediaKind::Video);
        auto j = player::Journal::open({dir / "state.db", "p-test-01", 64ull << 20});
        REQUIRE(j.ok());
        journal = std::move(*j);
    }

    // clockOverride: another clock than the rig's (it must outlive the engine).
    void makeEngine(const std::string& preview = "", const Clock* clockOverride = nullptr) {
        player::EngineConfig cfg;
        cfg.playerId = "p-test-01";
        cfg.width = kOutW;
        cfg.height = kOutH;
        cfg.traceFrames = true;
        cfg.previewPath = preview;
        cfg.previewIntervalMs = 500;
        // Open the next item as soon as the one before is on air (items here are
        // 1-2 s long): the checks are about order and the schedule's instants, and
        // a first video or audio slot takes well over 1.2 s under the sanitizers.
        cfg.prerollMs = 2500;
        cfg.clock = clockOverride ? clockOverride : &clock;
        auto e = player::Engine::create(cfg, journal.get());
        REQUIRE(e.ok());
        engine = std::move(*e);
    }

    std::vector<pop::Record> plays() { return playRecordsOf(*journal); }
};

// Which of the references a thumbnail is closest to, and how close.
std::pair<std::size_t, double> closest(const std::vector<std::uint8_t>& thumb,
                                       const std::vector<std::vector<std::uint8_t>>& refs) {
    std::size_t best = 0;
    double bestDiff = 1e9;
    for (std::size_t i = 0; i < refs.size(); ++i) {
        double d = thumbDiff(thumb, refs[i]);
        if (d < bestDiff) {
            bestDiff = d;
            best = i;
        }
    }
    return {best, bestDiff};
}

}  // namespace

TEST_CASE("engine plays stills and a clip in schedule order, on time, from the right media, without black frames",
          "[engine]") {
    Rig rig;
    rig.makeEngine(rig.dir / "preview.png");
    // 0-1500 fraud poster, 1500-3500 clip (2 s), 3500-5000 helmet poster, then again.
    rig.engine->setBundle(bundleOf(daySchedule({item(rig.fraud, 1500), item(rig.clip, 2000), item(rig.helmet, 1500)}),
                                   rig.mediaDir, {rig.fraud, rig.helmet, rig.clip}));
    startHeld(*rig.engine, rig.clock);

    // References: the posters, and the clip's frame at 1 s letterboxed into 16:9.
    REQUIRE(clipFrameLetterboxed(rig.clip.source, 1.0, rig.dir / "clip1s.png"));
    std::vector<std::vector<std::uint8_t>> refs = {thumbnailOf(rig.fraud.source, 32, 18),
                                                   thumbnailOf(rig.dir / "clip1s.png", 32, 18),
                                                   thumbnailOf(rig.helmet.source, 32, 18)};
    std::vector<std::pair<std::int64_t, std::size_t>> probes = {{800, 0}, {2500, 1}, {4300, 2}};
    for (auto [at, expected] : probes) {
        rig.clock.sleepUntil(at);
        player::Frame f = rig.engine->snapshot();
        REQUIRE_FALSE(f.empty());
        auto [which, diff] = closest(player::downscaleRgb(f, 32, 18), refs);
        INFO("at " << at << " ms: closest reference " << which << ", mean difference " << diff);
        CHECK(which == expected);
        CHECK(diff < (expected == 1 ? 40.0 : 12.0));
    }
    rig.clock.sleepUntil(5400);
    auto nowPlaying = rig.engine->nowPlaying();
    rig.engine->stop();

    CHECK(nowPlaying.state == schedule::State::Playing);
    CHECK(nowPlaying.mediaSha256 == rig.fraud.sha256);  // the second round began at 5000

    auto runs = runsOf(rig.engine->frameTrace());
    REQUIRE(runs.size() >= 4);
    std::vector<std::string> expectMedia = {rig.fraud.sha256, rig.clip.sha256, rig.helmet.sha256, rig.fraud.sha256};
    std::vector<std::int64_t> expectStart = {0, 1500, 3500, 5000};
    for (std::size_t i = 0; i < 4; ++i) {
        INFO("run " << i);
        CHECK(runs[i].media == expectMedia[i]);
        CHECK(runs[i].black == 0);
        if (i > 0) CHECK(std::abs(rig.clock.msAt(runs[i].firstUs) - expectStart[i]) <= 100);
    }
    CHECK(runs[1].frames >= 30);  // the clip really played (25 fps for 2 s)
    auto st = rig.engine->stats();
    CHECK(st.blackFrames == 0);
    CHECK(st.failed == 0);
    CHECK(st.firstFrameMs >= 0);
    CHECK(st.firstFrameMs < 1000);
    for (double l : st.switchLatenessMs) CHECK(l <= 40);

    // Journal: fraud (joined at 0), clip, helmet, completed, with rendered-frame digests.
    auto plays = rig.plays();
    REQUIRE(plays.size() >= 4);
    CHECK(plays[1].mediaSha256 == rig.clip.sha256);
    CHECK(plays[1].outcome == pop::Outcome::Completed);
    CHECK(plays[2].mediaSha256 == rig.helmet.sha256);
    CHECK(plays[2].outcome == pop::Outcome::Completed);
    CHECK(std::abs(plays[2].measuredMs - 1500) <= 100);
    CHECK(plays[2].scheduledMs == 1500);
    CHECK(plays[2].campaignId == "c-2025-fraud");
    CHECK(plays[2].source == "entry");
    CHECK(plays.back().outcome == pop::Outcome::Interrupted);  // cut by stop()
    for (const auto& p : plays) CHECK(crypto::isSha256Hex(p.frameDigest));

    // The preview is a PNG of something that was on screen.
    std::string png = readFile(rig.dir / "preview.png");
    REQUIRE(png.size() > 8);
    CHECK(png.substr(1, 3) == "PNG");
    auto [which, diff] = closest(thumbnailOf(rig.dir / "preview.png", 32, 18), refs);
    CHECK(diff < 40.0);
    (void)which;
}

TEST_CASE("engine skips a corrupt video with a failed record and keeps playing", "[engine]") {
    Rig rig;
    // A file that starts like the clip but is garbage after the first bytes.
    std::string bytes = readFile(rig.clip.source);
    std::string broken = bytes.substr(0, 48) + std::string(40000, '\x5a');
    writeFile(rig.dir / "broken.mp4", broken);
    CachedMedia bad = cacheFile(rig.mediaDir, rig.dir / "broken.mp4", MediaKind::Video);
    rig.makeEngine();
    // 0-1000 fraud, 1000-3000 broken clip, 3000-4000 helmet.
    rig.engine->setBundle(bundleOf(daySchedule({item(rig.fraud, 1000), item(bad, 2000), item(rig.helmet, 1000)}),
                                   rig.mediaDir, {rig.fraud, rig.helmet, bad}));
    startHeld(*rig.engine, rig.clock);
    rig.clock.sleepUntil(3000);
    rig.engine->stop();

    auto plays = rig.plays();
    bool failedRecorded = false;
    for (const auto& p : plays)
        if (p.mediaSha256 == bad.sha256) {
            CHECK(p.outcome == pop::Outcome::Failed);
            CHECK_FALSE(p.detail.empty());
            failedRecorded = true;
        }
    CHECK(failedRecorded);
    auto runs = runsOf(rig.engine->frameTrace());
    REQUIRE(runs.size() >= 2);
    for (const auto& r : runs) {
        CHECK(r.media != bad.sha256);
        CHECK(r.black == 0);
    }
    CHECK(runs[0].media == rig.fraud.sha256);
    // Without the broken item the rotation is fraud, helmet: something else played after 1000.
    CHECK(runs[1].media == rig.helmet.sha256);
    CHECK(rig.engine->stats().failed == 1);
    CHECK(rig.engine->stats().blackFrames == 0);
}

TEST_CASE("engine takeover interrupts at once and the schedule resumes at its wall-clock position", "[engine]") {
    Rig rig;
    rig.makeEngine();
    // 0-1500 fraud, 1500-3000 helmet, repeating.
    rig.engine->setBundle(
        bundleOf(daySchedule({item(rig.fraud, 1500), item(rig.helmet, 1500)}), rig.mediaDir, {rig.fraud, rig.helmet}));
    startHeld(*rig.engine, rig.clock);
    rig.clock.sleepUntil(700);
    player::TakeoverContent t;
    t.id = "alert-1";
    t.bundleVersion = 9;
    t.playlist = schedule::Playlist{"pl-alert", "禁毒 紧急", {item(rig.drugs, 1000)}};
    t.startUtcMs = kAnchorUtcMs + 700;
    t.expiresUtcMs = kAnchorUtcMs + 1700;
    t.mediaDir = rig.mediaDir;
    t.kinds[rig.drugs.sha256] = MediaKind::Image;
    // The clock stands still while the engine opens the takeover's media, so
    // that what is checked is the schedule's instant, not how fast this machine is.
    rig.clock.pause();
    rig.engine->takeover(t);
    REQUIRE(waitFor([&] { return rig.engine->nowPlaying().source == schedule::Source::Takeover; }));
    rig.clock.release();
    rig.clock.sleepUntil(2400);
    rig.engine->stop();

    auto runs = runsOf(rig.engine->frameTrace());
    REQUIRE(runs.size() >= 3);
    CHECK(runs[0].media == rig.fraud.sha256);
    CHECK(runs[1].media == rig.drugs.sha256);
    CHECK(rig.clock.msAt(runs[1].firstUs) - 700 <= 150);  // on air at the command's instant
    // At 1700 the takeover ends: 1700 is in helmet's slot 1500-3000.
    CHECK(runs[2].media == rig.helmet.sha256);
    CHECK(std::abs(rig.clock.msAt(runs[2].firstUs) - 1700) <= 100);
    for (const auto& r : runs) CHECK(r.black == 0);

    auto plays = rig.plays();
    REQUIRE(plays.size() >= 3);
    CHECK(plays[0].mediaSha256 == rig.fraud.sha256);
    CHECK(plays[0].outcome == pop::Outcome::Interrupted);
    CHECK(plays[1].mediaSha256 == rig.drugs.sha256);
    CHECK(plays[1].source == "takeover");
    CHECK(plays[1].scheduleId == "alert-1");
    CHECK(plays[1].bundleVersion == 9);
    CHECK(plays[2].mediaSha256 == rig.helmet.sha256);
    CHECK(plays[2].outcome == pop::Outcome::Interrupted);  // joined 200 ms into its slot and cut by stop()
}

TEST_CASE("engine is dark outside operating hours, records screen-off, and plays when the location opens", "[engine]") {
    Rig rig;
    rig.makeEngine();
    schedule::Schedule s = daySchedule({item(rig.fraud, 1000), item(rig.helmet, 1000)});
    // Open from 00:01 every day.
    s.operatingHours = std::vector<schedule::Daypart>{schedule::Daypart{0x7f, 1, 0}};
    rig.engine->setBundle(bundleOf(s, rig.mediaDir, {rig.fraud, rig.helmet}));
    startHeld(*rig.engine, rig.clock, 58'500,  // 00:00:58.5
              [&] { return rig.engine->nowPlaying().state == schedule::State::Dark; });
    rig.clock.sleepUntil(59'500);
    CHECK(rig.engine->nowPlaying().state == schedule::State::Dark);
    player::Frame dark = rig.engine->snapshot();
    REQUIRE_FALSE(dark.empty());
    CHECK(player::isBlack(dark.bgrx.data(), dark.width, dark.height));
    rig.clock.sleepUntil(60'700);
    CHECK(rig.engine->nowPlaying().state == schedule::State::Playing);
    CHECK(rig.engine->nowPlaying().mediaSha256 == rig.fraud.sha256);
    rig.engine->stop();

    auto all = rig.journal->records(1, 1000);
    REQUIRE(all.ok());
    bool screenOff = false;
    for (const auto& r : *all)
        if (r.kind == pop::Kind::ScreenOff) {
            screenOff = true;
            CHECK(std::abs(r.endUtcMs - (kAnchorUtcMs + 60'000)) <= 100);
            CHECK(std::abs(r.measuredMs - 1500) <= 150);
        }
    CHECK(screenOff);
    auto runs = runsOf(rig.engine->frameTrace());
    REQUIRE_FALSE(runs.empty());
    CHECK(std::abs(rig.clock.msAt(runs[0].firstUs) - 60'000) <= 100);
    // The chain the engine wrote verifies.
    auto key = std::move(crypto::PrivateKey::generate().value());
    auto cp = pop::makeCheckpoint(*all, kAnchorUtcMs, key);
    CHECK(pop::verifyChain("p-test-01", *all, std::vector{cp}, key.publicKey()).ok());
}

TEST_CASE("engine activates a new bundle at the next item boundary", "[engine]") {
    Rig rig;
    rig.makeEngine();
    rig.engine->setBundle(bundleOf(daySchedule({item(rig.fraud, 1500), item(rig.helmet, 1500)}), rig.mediaDir,
                                   {rig.fraud, rig.helmet}, 1));
    startHeld(*rig.engine, rig.clock);
    rig.clock.sleepUntil(600);
    rig.engine->setBundle(bundleOf(daySchedule({item(rig.drugs, 1000)}, "pl-drugs"), rig.mediaDir, {rig.drugs}, 2));
    rig.clock.sleepUntil(2200);
    rig.engine->stop();

    auto runs = runsOf(rig.engine->frameTrace());
    REQUIRE(runs.size() >= 2);
    CHECK(runs[0].media == rig.fraud.sha256);
    CHECK(runs[1].media == rig.drugs.sha256);
    CHECK(std::abs(rig.clock.msAt(runs[1].firstUs) - 1500) <= 100);  // fraud finished its slot
    auto plays = rig.plays();
    REQUIRE(plays.size() >= 2);
    CHECK(plays[0].bundleVersion == 1);
    CHECK(plays[0].outcome == pop::Outcome::Completed);
    CHECK(plays[1].bundleVersion == 2);
    CHECK(plays[1].playlistId == "pl-drugs");
}

TEST_CASE("engine on a manual clock journals a wall-clock step and takes the plan again from there", "[engine]") {
    Rig rig;
    // Stands still at 00:00:00.5 until the test moves it.
    ManualClock clock(kAnchorUtcMs + 500, 1'000'000);
    rig.makeEngine("", &clock);
    // 0-1500 fraud, 1500-3000 helmet, repeating.
    rig.engine->setBundle(bundleOf(daySchedule({item(rig.fraud, 1500), item(rig.helmet, 1500)}), rig.mediaDir,
                                   {rig.fraud, rig.helmet}, 3));
    rig.engine->start();
    REQUIRE(waitFor([&] { return rig.engine->nowPlaying().mediaSha256 == rig.fraud.sha256; }));
    clock.setWall(kAnchorUtcMs + 2000);  // an NTP step of 1.5 s into helmet's slot
    REQUIRE(waitFor([&] { return rig.engine->nowPlaying().mediaSha256 == rig.helmet.sha256; }));
    rig.engine->stop();

    auto all = rig.journal->records(1, 1000);
    REQUIRE(all.ok());
    std::vector<pop::Record> jumps;
    for (const auto& r : *all)
        if (r.kind == pop::Kind::ClockJump) jumps.push_back(r);
    REQUIRE(jumps.size() == 1);
    CHECK(jumps[0].startUtcMs == kAnchorUtcMs + 500);
    CHECK(jumps[0].endUtcMs == kAnchorUtcMs + 2000);
    CHECK(jumps[0].bundleVersion == 3);
    auto plays = rig.plays();
    REQUIRE(plays.size() == 2);
    CHECK(plays[0].mediaSha256 == rig.fraud.sha256);
    CHECK(plays[1].mediaSha256 == rig.helmet.sha256);
    CHECK(plays[1].startUtcMs == kAnchorUtcMs + 2000);
    CHECK(rig.engine->stats().journalErrors == 0);
}

TEST_CASE("fitting keeps the aspect ratio (letterbox) or fills and crops", "[engine][fit]") {
    using schedule::Fit;
    auto lb = player::fitPicture(640, 480, 1, 1, 1920, 540, Fit::Letterbox);
    CHECK(lb.decodeW == 720);
    CHECK(lb.decodeH == 540);
    CHECK(lb.dstX == 600);
    auto fill = player::fitPicture(640, 480, 1, 1, 1920, 540, Fit::Fill);
    CHECK(fill.decodeW == 1920);
    CHECK(fill.decodeH == 1440);
    CHECK(fill.srcY == 450);
    auto portrait = player::fitPicture(1920, 1080, 1, 1, 1080, 1920, Fit::Letterbox);
    CHECK(portrait.decodeW == 1080);
    CHECK(portrait.decodeH == 608);
    CHECK(portrait.dstY == 656);
}
