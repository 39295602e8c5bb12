// What the engine draws itself, with real libvlc, headless, on generated media:
// slogans (static and scrolling), the card shown while an audio-only item plays,
// and the status card when there is nothing to play.
#include <catch2/catch.hpp>

#include <sqlite3.h>

#include <cstring>
#include <filesystem>
#include <mutex>

#include "engine_fixture.hpp"
#include "microscape/player/engine.hpp"
#include "microscape/player/journal.hpp"
#include "microscape/player/status_card.hpp"
#include "microscape/player/text_render.hpp"

using namespace microscape;
using namespace microscape::testing;

namespace {

// 320 x 180 output, a sixth of the 1920-pixel reference: 144 px becomes 24 px, at
// which the slogans below fit the width (at 48 px they would scroll anyway).
std::string sloganDoc(const std::string& text, int speed, const std::string& bg = "#000000", int sizePx = 144) {
    return R"({"microscape_slogan":1,"style":{"background":")" + bg + R"(","color":"#FFD700","fontSizePx":)" +
           std::to_string(sizePx) + R"(,"scrollSpeedPxPerS":)" + std::to_string(speed) + R"(},"text":")" + text + "\"}";
}

inline bool makeSine(const std::string& path, int seconds) {
    return runProcess({"/usr/bin/ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
                       "sine=frequency=440:duration=" + std::to_string(seconds), "-c:a", "libmp3lame", "-b:a", "64k",
                       path})
               .exitCode == 0;
}

struct ScreenRig {
    TempDir dir;
    std::string mediaDir = dir / "blobs";
    TestClock clock;
    std::unique_ptr<player::Journal> journal;
    std::unique_ptr<player::Engine> engine;

    std::function<void(const player::NowPlaying&, const player::EngineStats&)> onPlayback;

    explicit ScreenRig(int journalBusyTimeoutMs = 5000) {
        std::filesystem::create_directories(mediaDir);
        auto j = player::Journal::open({dir / "state.db", "p-test-01", 64ull << 20, journalBusyTimeoutMs});
        REQUIRE(j.ok());
        journal = std::move(*j);
    }

    CachedMedia text(const std::string& name, const std::string& doc) {
        writeFile(dir / name, doc);
        return cacheFile(mediaDir, dir / name, MediaKind::Text);
    }

    void makeEngine(std::function<std::vector<std::string>()> lines = {}) {
        player::EngineConfig cfg;
        cfg.playerId = "p-test-01";
        cfg.screenName = "地下车库 B1 出入口";
        cfg.statusLines = std::move(lines);
        cfg.width = kOutW;
        cfg.height = kOutH;
        cfg.traceFrames = true;
        // Open the next item as soon as the one before is on air (items here are
        // 1-2 s long): the checks are about order and the schedule's instants, and
        // a first video or audio slot takes well over 1.2 s under the sanitizers.
        cfg.prerollMs = 2500;
        cfg.clock = &clock;
        cfg.onPlayback = onPlayback;
        auto e = player::Engine::create(cfg, journal.get());
        REQUIRE(e.ok());
        engine = std::move(*e);
    }

    std::vector<pop::Record> plays() { return playRecordsOf(*journal); }
};

bool uniform(const player::Frame& f) {
    for (std::size_t i = 4; i < f.bgrx.size(); i += 4)
        if (std::memcmp(&f.bgrx[i], &f.bgrx[0], 3) != 0) return false;
    return true;
}

// Frames of one play, as snapshots taken while it is on air.
std::vector<player::Frame> snapshots(player::Engine& e, const TestClock& clock, std::int64_t fromMs, int n) {
    std::vector<player::Frame> out;
    for (int i = 0; i < n; ++i) {
        clock.sleepUntil(fromMs + i * 120);
        out.push_back(e.snapshot());
    }
    return out;
}

// Frames of a moving play, 120 ms apart or more: each the first snapshot, from
// 120 ms after the one before, that differs from it (taken every 5 ms, for up
// to 2 s: an instrumented or loaded machine draws late, not wrongly), with the
// scenario time (ms) it was seen at.
std::vector<std::pair<player::Frame, std::int64_t>> changingFrames(player::Engine& e, const TestClock& clock,
                                                                   std::int64_t fromMs, int n) {
    std::vector<std::pair<player::Frame, std::int64_t>> out;
    clock.sleepUntil(fromMs);
    out.emplace_back(e.snapshot(), clock.now() - kAnchorUtcMs);
    while (static_cast<int>(out.size()) < n) {
        const std::int64_t since = clock.now() - kAnchorUtcMs;
        clock.sleepUntil(since + 120);
        player::Frame f = e.snapshot();
        while (f.bgrx == out.back().first.bgrx && clock.now() - kAnchorUtcMs - since < 2000) {
            clock.sleepUntil(clock.now() - kAnchorUtcMs + 5);
            f = e.snapshot();
        }
        out.emplace_back(std::move(f), clock.now() - kAnchorUtcMs);
    }
    return out;
}

// The horizontal shift (0..maxShift) that maps a onto b best, and how many rows disagree with it.
std::pair<int, double> bestShift(const player::Frame& a, const player::Frame& b, int maxShift) {
    int best = -1;
    double bestDiff = 1e18;
    for (int s = 0; s <= maxShift; ++s) {
        double diff = 0;
        for (int y = 0; y < a.height; ++y)
            for (int x = 0; x + s < a.width; ++x)
                for (int c = 0; c < 3; ++c)
                    diff +=
                        std::abs(int(b.bgrx[(y * b.width + x) * 4 + c]) - int(a.bgrx[(y * a.width + x + s) * 4 + c]));
        if (diff < bestDiff) bestDiff = diff, best = s;
    }
    return {best, bestDiff};
}

}  // namespace

TEST_CASE("engine plays a poster, slogans, an audio item and a clip in order, on time, never black",
          "[engine][screen]") {
    ScreenRig rig;
    REQUIRE(makePoster(rig.dir / "fraud.png", "反诈防骗", "#1a3d7c"));
    REQUIRE(makeClip(rig.dir / "clip.mp4", 2));
    REQUIRE(makeSine(rig.dir / "sine.mp3", 3));
    CachedMedia poster = cacheFile(rig.mediaDir, rig.dir / "fraud.png", MediaKind::Image);
    CachedMedia clip = cacheFile(rig.mediaDir, rig.dir / "clip.mp4", MediaKind::Video);
    CachedMedia sound = cacheFile(rig.mediaDir, rig.dir / "sine.mp3", MediaKind::Audio);
    CachedMedia still = rig.text("still.json", sloganDoc("一盔一带 安全常在", 0));
    CachedMedia moving = rig.text("moving.json", sloganDoc("反诈防骗 守护钱袋", 1200));  // 200 px/s here
    rig.makeEngine();
    // 0 poster, 1500 static slogan, 3000 scrolling slogan, 4500 audio (cut at 2 s of 3), 6500 clip, 8500 poster.
    rig.engine->setBundle(bundleOf(
        daySchedule({item(poster, 1500), item(still, 1500), item(moving, 1500), item(sound, 2000), item(clip, 2000)}),
        rig.mediaDir, {poster, clip, sound, still, moving}));
    startHeld(*rig.engine, rig.clock);

    auto staticFrames = snapshots(*rig.engine, rig.clock, 2000, 3);
    auto scrollFrames = changingFrames(*rig.engine, rig.clock, 3300, 4);
    rig.clock.sleepUntil(5500);
    player::Frame audioCard = rig.engine->snapshot();
    auto np = rig.engine->nowPlaying();
    CHECK(np.mediaSha256 == sound.sha256);
    rig.clock.sleepUntil(8900);
    rig.engine->stop();

    // The static slogan: the same, not uniform, gold on black.
    REQUIRE_FALSE(staticFrames[0].empty());
    CHECK((staticFrames[0].bgrx == staticFrames[1].bgrx));
    CHECK((staticFrames[1].bgrx == staticFrames[2].bgrx));
    CHECK_FALSE(uniform(staticFrames[0]));
    // The scrolling slogan: each new frame is the one before shifted left, by
    // 200 px/s for the time between their draws: at least about one frame period
    // (40 ms: 8 px, less a pixel of rounding), at most the time between the
    // snapshots that saw them and 120 ms more (the earlier frame may have been
    // drawn that long before it was seen, on a loaded machine).
    for (std::size_t i = 1; i < scrollFrames.size(); ++i) {
        const auto& [prev, prevMs] = scrollFrames[i - 1];
        const auto& [cur, curMs] = scrollFrames[i];
        REQUIRE_FALSE(cur.empty());
        CHECK((cur.bgrx != prev.bgrx));
        const int most = static_cast<int>(200 * (curMs - prevMs + 120) / 1000);
        auto [shift, diff] = bestShift(prev, cur, std::min(most + 8, prev.width - 1));
        INFO("frame " << i << ": shift " << shift << " px, residual " << diff << ", seen " << curMs - prevMs
                      << " ms after the one before");
        CHECK(shift >= 7);
        CHECK(shift <= most);
    }
    // The audio card is neither black nor uniform.
    REQUIRE_FALSE(audioCard.empty());
    CHECK_FALSE(player::isBlack(audioCard.bgrx.data(), audioCard.width, audioCard.height));
    CHECK_FALSE(uniform(audioCard));

    // The trace: every item in order, on time, without a black frame.
    auto runs = runsOf(rig.engine->frameTrace());
    REQUIRE(runs.size() >= 6);
    std::vector<std::string> media = {poster.sha256, still.sha256, moving.sha256,
                                      sound.sha256,  clip.sha256,  poster.sha256};
    std::vector<std::int64_t> starts = {0, 1500, 3000, 4500, 6500, 8500};
    for (std::size_t i = 0; i < media.size(); ++i) {
        INFO("run " << i);
        CHECK(runs[i].media == media[i]);
        CHECK(runs[i].black == 0);
        if (i > 0) CHECK(std::abs(rig.clock.msAt(runs[i].firstUs) - starts[i]) <= 100);
        if (i > 0 && i < 5) CHECK(std::abs(rig.clock.msAt(runs[i].lastUs) - starts[i + 1]) <= 100);
    }
    CHECK(runs[2].frames >= 25);  // drawn at 25 fps for 1.5 s
    auto st = rig.engine->stats();
    CHECK(st.blackFrames == 0);
    CHECK(st.failed == 0);
    for (double l : st.switchLatenessMs) CHECK(l <= 100);

    // The journal: each completed, measured to its slot, with a digest of its first frame.
    auto plays = rig.plays();
    REQUIRE(plays.size() >= 6);
    std::vector<std::int64_t> durations = {1500, 1500, 1500, 2000, 2000};
    for (std::size_t i = 1; i < 5; ++i) {
        INFO("play " << i);
        CHECK(plays[i].mediaSha256 == media[i]);
        CHECK(plays[i].outcome == pop::Outcome::Completed);
        CHECK(plays[i].scheduledMs == durations[i]);
        CHECK(std::abs(plays[i].measuredMs - durations[i]) <= 100);
        CHECK(crypto::isSha256Hex(plays[i].frameDigest));
    }
    CHECK(plays[1].frameDigest != plays[2].frameDigest);
}

TEST_CASE("engine records a malformed slogan as failed and plays the rest", "[engine][screen]") {
    ScreenRig rig;
    REQUIRE(makePoster(rig.dir / "fraud.png", "反诈防骗", "#1a3d7c"));
    CachedMedia poster = cacheFile(rig.mediaDir, rig.dir / "fraud.png", MediaKind::Image);
    CachedMedia bad = rig.text("bad.json", R"({"microscape_slogan":1,"text":"x","style":{"color":"gold"}})");
    CachedMedia good = rig.text("good.json", sloganDoc("拒绝毒品 珍爱生命", 0, "#8b0000"));
    rig.makeEngine();
    // 0 poster, 1000 broken slogan, 2000 good slogan.
    rig.engine->setBundle(bundleOf(daySchedule({item(poster, 1000), item(bad, 1000), item(good, 1000)}), rig.mediaDir,
                                   {poster, bad, good}));
    startHeld(*rig.engine, rig.clock);
    rig.clock.sleepUntil(2600);
    rig.engine->stop();

    bool failed = false;
    for (const auto& p : rig.plays())
        if (p.mediaSha256 == bad.sha256) {
            CHECK(p.outcome == pop::Outcome::Failed);
            CHECK_THAT(p.detail, Catch::Contains("style.color"));
            failed = true;
        }
    CHECK(failed);
    auto runs = runsOf(rig.engine->frameTrace());
    REQUIRE(runs.size() >= 2);
    CHECK(runs[0].media == poster.sha256);
    CHECK(runs[1].media == good.sha256);  // the broken slogan left the rotation
    for (const auto& r : runs) {
        CHECK(r.media != bad.sha256);
        CHECK(r.black == 0);
    }
    CHECK(rig.engine->stats().failed == 1);
    CHECK(rig.engine->stats().blackFrames == 0);
}

TEST_CASE("engine shows the status card with the screen's name when it has no schedule", "[engine][screen]") {
    ScreenRig rig;
    int calls = 0;
    rig.makeEngine([&calls] {
        ++calls;
        return std::vector<std::string>{"控制器未连接 / controller offline"};
    });
    rig.clock.begin(0);
    rig.engine->start();
    rig.clock.sleepUntil(300);
    player::Frame a = rig.engine->snapshot();
    rig.clock.sleepUntil(1300);
    player::Frame b = rig.engine->snapshot();
    auto np = rig.engine->nowPlaying();
    rig.engine->stop();

    REQUIRE_FALSE(a.empty());
    CHECK(a.width == kOutW);
    CHECK_FALSE(player::isBlack(a.bgrx.data(), a.width, a.height));
    CHECK_FALSE(uniform(a));
    CHECK(np.state == schedule::State::Idle);
    CHECK((a.bgrx != b.bgrx));  // the clock ticked
    CHECK(calls >= 2);
    CHECK(calls <= 4);  // at most once a second

    // The name is on it: the same card under another name differs.
    ScreenRig other;
    player::EngineConfig cfg;
    cfg.playerId = "p-test-01";
    cfg.screenName = "步行街 南口";
    cfg.timeZone = "Nowhere/Atlantis";  // unreadable: the card falls back to UTC+08:00, the screen still starts
    cfg.width = kOutW;
    cfg.height = kOutH;
    cfg.clock = &rig.clock;
    auto e = player::Engine::create(cfg, nullptr);
    REQUIRE(e.ok());
    (*e)->start();
    REQUIRE(waitFor([&] { return !(*e)->snapshot().empty(); }));
    player::Frame c = (*e)->snapshot();
    (*e)->stop();
    REQUIRE_FALSE(c.empty());
    // Compare the top band (name) only: the clocks differ anyway.
    std::size_t band = static_cast<std::size_t>(kOutW) * (kOutH / 6) * 4;
    CHECK(std::memcmp(a.bgrx.data(), c.bgrx.data(), band) != 0);
}

TEST_CASE("engine records an audio file that does not decode as failed", "[engine][screen]") {
    ScreenRig rig;
    REQUIRE(makePoster(rig.dir / "fraud.png", "反诈防骗", "#1a3d7c"));
    CachedMedia poster = cacheFile(rig.mediaDir, rig.dir / "fraud.png", MediaKind::Image);
    writeFile(rig.dir / "noise.mp3", "ID3" + std::string(20000, '\x5a'));
    CachedMedia bad = cacheFile(rig.mediaDir, rig.dir / "noise.mp3", MediaKind::Audio);
    rig.makeEngine();
    rig.engine->setBundle(bundleOf(daySchedule({item(poster, 1000), item(bad, 1000)}), rig.mediaDir, {poster, bad}));
    rig.clock.begin(0);
    rig.engine->start();
    rig.clock.sleepUntil(5500);  // the open timeout is 4 s
    rig.engine->stop();
    bool failed = false;
    for (const auto& p : rig.plays())
        if (p.mediaSha256 == bad.sha256) {
            CHECK(p.outcome == pop::Outcome::Failed);
            failed = true;
        }
    CHECK(failed);
    for (const auto& r : runsOf(rig.engine->frameTrace())) {
        CHECK(r.media == poster.sha256);
        CHECK(r.black == 0);
    }
}

TEST_CASE("engine shows the status card and not black when every item of its schedule failed", "[engine][screen]") {
    ScreenRig rig;
    CachedMedia bad = rig.text("bad.json", R"({"microscape_slogan":1,"text":"x","style":{"fontSizePx":4}})");
    rig.makeEngine();
    rig.clock.begin(0);
    rig.engine->start();
    rig.clock.sleepUntil(300);
    player::Frame noSchedule = rig.engine->snapshot();
    rig.engine->setBundle(bundleOf(daySchedule({item(bad, 2000)}), rig.mediaDir, {bad}));
    rig.clock.sleepUntil(1500);
    player::Frame nothingPlayable = rig.engine->snapshot();
    auto np = rig.engine->nowPlaying();
    rig.engine->stop();

    CHECK(np.state == schedule::State::Idle);
    CHECK(rig.engine->stats().failed == 1);
    REQUIRE_FALSE(nothingPlayable.empty());
    CHECK_FALSE(player::isBlack(nothingPlayable.bgrx.data(), nothingPlayable.width, nothingPlayable.height));
    CHECK_FALSE(uniform(nothingPlayable));
    // The same name in the band; another state line below it ("无可播放内容 / Nothing playable").
    std::size_t row = static_cast<std::size_t>(kOutW) * 4;
    std::size_t band = row * (kOutH / 6);
    CHECK(std::memcmp(noSchedule.bgrx.data(), nothingPlayable.bgrx.data(), band) == 0);
    CHECK(std::memcmp(noSchedule.bgrx.data() + band, nothingPlayable.bgrx.data() + band, row * (kOutH / 3)) != 0);
    for (const auto& p : rig.plays()) CHECK(p.outcome == pop::Outcome::Failed);
}

TEST_CASE(
    "a proof-of-play record that cannot be written is logged, counted, reported and shown on the "
    "status card",
    "[engine][screen][journal]") {
    // Two screens alike, at the same stopped instant; another writer holds the
    // second one's journal (state.db), so its appends fail with "database is locked".
    ScreenRig fine;
    ScreenRig failing(50);
    sqlite3* other = nullptr;
    REQUIRE(sqlite3_open((failing.dir / "state.db").c_str(), &other) == SQLITE_OK);
    REQUIRE(sqlite3_exec(other, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) == SQLITE_OK);
    std::mutex reportedMutex;
    std::vector<std::pair<std::int64_t, std::string>> reported;  // journal errors as onPlayback saw them
    failing.onPlayback = [&](const player::NowPlaying&, const player::EngineStats& st) {
        std::lock_guard lock(reportedMutex);
        reported.emplace_back(st.journalErrors, st.lastJournalError);
    };
    for (ScreenRig* rig : {&fine, &failing}) {
        rig->clock.hold(0);
        rig->makeEngine();
        rig->engine->start();
    }
    REQUIRE(waitFor([&] { return failing.engine->stats().journalErrors >= 1 && !failing.engine->snapshot().empty(); }));
    REQUIRE(waitFor([&] { return !fine.engine->snapshot().empty(); }));
    const auto st = failing.engine->stats();
    CHECK(st.journalErrors == 1);  // the start record
    CHECK(st.lastJournalError.find("locked") != std::string::npos);
    CHECK(fine.engine->stats().journalErrors == 0);
    {
        std::lock_guard lock(reportedMutex);
        REQUIRE_FALSE(reported.empty());
        CHECK(reported.back().first == 1);
        CHECK(reported.back().second == st.lastJournalError);
    }
    // The same name and clock on both cards; the failing one says more below them.
    player::Frame a = fine.engine->snapshot(), b = failing.engine->snapshot();
    REQUIRE(a.bgrx.size() == b.bgrx.size());
    std::size_t band = static_cast<std::size_t>(kOutW) * (kOutH / 6) * 4;
    CHECK(std::memcmp(a.bgrx.data(), b.bgrx.data(), band) == 0);
    CHECK(a.bgrx != b.bgrx);

    // The other writer lets go: the next records are written, and the screen kept playing.
    REQUIRE(sqlite3_exec(other, "ROLLBACK", nullptr, nullptr, nullptr) == SQLITE_OK);
    sqlite3_close(other);
    CachedMedia slogan = failing.text("s.json", sloganDoc("反诈防骗", 0));
    failing.engine->setBundle(bundleOf(daySchedule({item(slogan, 60'000)}), failing.mediaDir, {slogan}));
    REQUIRE(waitFor([&] { return failing.engine->stats().plays >= 1; }));
    failing.engine->stop();
    fine.engine->stop();
    CHECK(failing.engine->stats().journalErrors == 1);
    auto plays = failing.plays();
    REQUIRE(plays.size() == 1);
    CHECK(plays[0].mediaSha256 == slogan.sha256);
    CHECK(plays[0].seq == 1);  // the chain starts with the first record written
}

TEST_CASE("the head statement's QR code on the status card reads back as the statement", "[engine][screen][head]") {
    TempDir dir;
    auto key = crypto::PrivateKey::generate().value();
    pop::Head h;
    h.playerId = "scr-66ab7af6996f3e1a";
    h.seq = 123456;
    h.hash = crypto::sha256Hex("the last record");
    h.createdUtcMs = 1796000000000;
    pop::sign(h, key);
    const std::string line = pop::canonicalBytes(h);
    REQUIRE(line.size() > 300);  // a real head: the QR code holds all of it
    auto created = player::TextRenderer::create();
    REQUIRE(created);
    player::TextRenderer* r = created->get();
    player::StatusCard card;
    card.screenName = "万达广场 B2 车库入口";
    card.playerId = h.playerId;
    card.stateZh = "播放记录头部声明（扫码收取）";
    card.stateEn = "Proof-of-play head: scan to collect";
    card.qrText = line;
    card.qrCaption = "seq 123456";
    card.clock = "2026-12-05 20:00:00 (Asia/Shanghai)";
    // Wide, full HD, portrait, the tests' small screen, and without a font.
    for (auto [w, h2] : {std::pair{640, 360}, std::pair{1920, 1080}, std::pair{360, 640}, std::pair{320, 180}}) {
        INFO(w << "x" << h2);
        player::Frame f = player::drawStatusCard(r, w, h2, card);
        CHECK(decodeQr(f, dir.path.string()) == line);
    }
    CHECK(decodeQr(player::drawStatusCard(nullptr, 640, 360, card), dir.path.string()) == line);
    // The statement read back verifies under the screen's key.
    auto back = pop::parseHead(decodeQr(player::drawStatusCard(r, 640, 360, card), dir.path.string()));
    REQUIRE(back);
    CHECK(pop::verifySignature(*back, key.publicKey()).ok());
    // Too much text for a QR code, or too little room: nothing is drawn.
    player::Frame f = player::solidFrame(100, 100, 0, 0, 0);
    CHECK_FALSE(player::drawQrCode(f, std::string(4000, 'x'), 0, 0, 100));
    CHECK_FALSE(player::drawQrCode(f, line, 0, 0, 40));
    CHECK(player::isBlack(f.bgrx.data(), f.width, f.height));
}

TEST_CASE("show_head puts the QR code on screen for its time, cuts the play on air, then the schedule resumes",
          "[engine][screen][head]") {
    ScreenRig rig;
    REQUIRE(makePoster(rig.dir / "fraud.png", "反诈防骗", "#1a3d7c"));
    CachedMedia poster = cacheFile(rig.mediaDir, rig.dir / "fraud.png", MediaKind::Image);
    rig.makeEngine();
    rig.engine->setBundle(bundleOf(daySchedule({item(poster, 10000)}), rig.mediaDir, {poster}));
    startHeld(*rig.engine, rig.clock);
    rig.clock.sleepUntil(1000);
    REQUIRE(rig.engine->nowPlaying().state == schedule::State::Playing);
    const std::string text = R"({"created_utc_ms":1,"format":1,"hash":"00","type":"head"})";
    rig.engine->showHead(text, "seq 0", 2000);
    std::string seen;
    REQUIRE(waitFor([&] {
        seen = decodeQr(rig.engine->snapshot(), rig.dir.path.string());
        return seen == text;
    }));
    CHECK(rig.engine->nowPlaying().state == schedule::State::Idle);
    // Two seconds after it was asked for, the poster is back (the clock is the test's).
    rig.clock.sleepUntil(rig.clock.now() - kAnchorUtcMs + 2500);
    REQUIRE(waitFor([&] { return rig.engine->nowPlaying().state == schedule::State::Playing; }));
    CHECK(decodeQr(rig.engine->snapshot(), rig.dir.path.string()).empty());
    rig.engine->stop();
    // The poster's play that the QR code cut short is in the journal, interrupted.
    auto plays = rig.plays();
    REQUIRE(plays.size() >= 2);
    CHECK(plays[0].outcome == pop::Outcome::Interrupted);
    CHECK(plays[0].mediaSha256 == poster.sha256);
}
