// Test fixtures for the playback engine: generated posters and clips stored
// under their SHA-256 like the player's cache, schedules anchored at a fixed
// local midnight, and a clock that starts there when the test says so.
#pragma once

#include <catch2/catch.hpp>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "media_fixtures.hpp"
#include "microscape/core/clock.hpp"
#include "microscape/core/crypto.hpp"
#include "microscape/core/schedule.hpp"
#include "microscape/player/engine.hpp"
#include "microscape/player/journal.hpp"
#include "support/wait_for.hpp"

namespace microscape::testing {

// 2025-04-15 00:00 in Shanghai (UTC+8).
constexpr std::int64_t kAnchorUtcMs = 1744646400000;
constexpr int kOutW = 320;
constexpr int kOutH = 180;

struct CachedMedia {
    std::string sha256;
    std::string source;  // the generated file
    MediaKind kind = MediaKind::Unknown;
};

// Copies a file into dir/<sha256>.
inline CachedMedia cacheFile(const std::string& mediaDir, const std::string& source, MediaKind kind) {
    std::string bytes = readFile(source);
    CachedMedia m{crypto::sha256Hex(bytes), source, kind};
    writeFile(mediaDir + "/" + m.sha256, bytes);
    return m;
}

// The engine's clock in these tests. hold(offset) stops it at kAnchorUtcMs +
// offset (wall and steady time both stand still), pause() where it is;
// release() lets both run with the machine's steady clock from there.
// begin(offset) is hold and release at once.
class TestClock final : public Clock {
  public:
    void begin(std::int64_t startOffsetMs = 0) {
        hold(startOffsetMs);
        release();
    }
    void hold(std::int64_t startOffsetMs = 0) {
        std::lock_guard lock(mutex_);
        offsetMs_ = startOffsetMs;
        originUs_ = systemClock().steadyUs();
        releasedAtUs_.reset();
    }
    // Stops the clock where it is now (release() lets it run again from there).
    void pause() {
        std::lock_guard lock(mutex_);
        const std::int64_t elapsedUs = elapsedUsLocked();
        offsetMs_ += elapsedUs / 1000;
        originUs_ += elapsedUs / 1000 * 1000;
        releasedAtUs_.reset();
    }
    void release() {
        std::lock_guard lock(mutex_);
        releasedAtUs_ = systemClock().steadyUs();
    }
    std::int64_t wallMs() const override {
        std::lock_guard lock(mutex_);
        return kAnchorUtcMs + offsetMs_ + elapsedUsLocked() / 1000;
    }
    std::int64_t steadyUs() const override {
        std::lock_guard lock(mutex_);
        return originUs_ + elapsedUsLocked();
    }
    std::int64_t now() const { return wallMs(); }
    // Clock reading (ms after kAnchorUtcMs) at one of this clock's steady instants (µs).
    std::int64_t msAt(std::int64_t steadyUs) const {
        std::lock_guard lock(mutex_);
        return offsetMs_ + (steadyUs - originUs_) / 1000;
    }
    // Lets the scenario's time pass until the clock reads kAnchorUtcMs + atMs.
    void sleepUntil(std::int64_t atMs) const {
        std::int64_t wait = kAnchorUtcMs + atMs - now();
        if (wait > 0) std::this_thread::sleep_for(std::chrono::milliseconds(wait));
    }

  private:
    std::int64_t elapsedUsLocked() const { return releasedAtUs_ ? systemClock().steadyUs() - *releasedAtUs_ : 0; }
    mutable std::mutex mutex_;  // guards the members below
    std::int64_t offsetMs_ = 0;
    std::int64_t originUs_ = systemClock().steadyUs();
    std::optional<std::int64_t> releasedAtUs_ = originUs_;
};

// Starts the engine with its clock held at startOffsetMs and lets the clock run
// once ready() holds (by default: the first item is on air), so that the
// engine's start-up (slow under the sanitizers) takes no time of the schedule.
template <class Ready>
void startHeld(player::Engine& engine, TestClock& clock, std::int64_t startOffsetMs, Ready ready) {
    clock.hold(startOffsetMs);
    engine.start();
    REQUIRE(waitFor(ready, 30000));
    clock.release();
}
inline void startHeld(player::Engine& engine, TestClock& clock, std::int64_t startOffsetMs = 0) {
    startHeld(engine, clock, startOffsetMs, [&engine] { return engine.stats().plays >= 1; });
}

inline schedule::Item item(const CachedMedia& m, std::int64_t durationMs,
                           schedule::Fit fit = schedule::Fit::Letterbox) {
    schedule::Item i;
    i.mediaSha256 = m.sha256;
    i.durationMs = durationMs;
    i.fit = fit;
    return i;
}

// One all-day entry on the anchor's local date playing `items` from local midnight.
inline schedule::Schedule daySchedule(std::vector<schedule::Item> items, const std::string& playlistId = "pl-main") {
    schedule::Schedule s;
    s.zoneName = "Asia/Shanghai";
    s.offsets = {tz::OffsetSpan{kAnchorUtcMs - 5 * schedule::kDayMs, 28800}};
    s.fromUtcMs = kAnchorUtcMs - schedule::kDayMs;
    s.untilUtcMs = kAnchorUtcMs + 2 * schedule::kDayMs;
    s.playlists.push_back(schedule::Playlist{playlistId, "反诈防骗 一盔一带", std::move(items)});
    schedule::Entry e;
    e.id = "s-main";
    e.playlistId = playlistId;
    e.campaignId = "c-2025-fraud";
    e.startDay = (kAnchorUtcMs + 8 * 3600 * 1000) / schedule::kDayMs;
    e.endDay = e.startDay;
    s.entries.push_back(e);
    return s;
}

inline player::ActiveBundle bundleOf(schedule::Schedule s, const std::string& mediaDir,
                                     const std::vector<CachedMedia>& media, std::int64_t version = 1) {
    player::ActiveBundle b;
    b.bundleId = "b-test";
    b.version = version;
    b.schedule = std::move(s);
    b.mediaDir = mediaDir;
    for (const auto& m : media) b.kinds[m.sha256] = m.kind;
    return b;
}

// RGB thumbnail (w x h) of an image file, scaled to exactly w x h by ImageMagick.
inline std::vector<std::uint8_t> thumbnailOf(const std::string& image, int w, int h) {
    auto r = runProcess({"/usr/bin/convert", image, "-resize", std::to_string(w) + "x" + std::to_string(h) + "!",
                         "-depth", "8", "rgb:-"});
    return std::vector<std::uint8_t>(r.out.begin(), r.out.end());
}

// Mean absolute difference of two thumbnails (255 when their sizes differ).
inline double thumbDiff(const std::vector<std::uint8_t>& a, const std::vector<std::uint8_t>& b) {
    if (a.size() != b.size() || a.empty()) return 255;
    double sum = 0;
    for (std::size_t i = 0; i < a.size(); ++i) sum += std::abs(int(a[i]) - int(b[i]));
    return sum / static_cast<double>(a.size());
}

// A frame of a clip at `seconds`, letterboxed into the output size, as a PNG.
inline bool clipFrameLetterboxed(const std::string& clip, double seconds, const std::string& png) {
    return runProcess({"/usr/bin/ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-ss", std::to_string(seconds), "-i",
                       clip, "-frames:v", "1", "-vf",
                       "scale=" + std::to_string(kOutH * 4 / 3) + ":" + std::to_string(kOutH) +
                           ",pad=" + std::to_string(kOutW) + ":" + std::to_string(kOutH) + ":(ow-iw)/2:0:black",
                       png})
               .exitCode == 0;
}

// Consecutive runs of the frame trace: which media, from when (first frame shown).
struct TraceRun {
    std::uint64_t serial = 0;
    std::string media;
    std::int64_t firstUs = 0;
    std::int64_t lastUs = 0;
    std::size_t frames = 0;
    std::size_t black = 0;
};

inline std::vector<TraceRun> runsOf(const std::vector<player::FrameSample>& trace) {
    std::vector<TraceRun> runs;
    for (const auto& s : trace) {
        if (runs.empty() || runs.back().serial != s.playSerial)
            runs.push_back(TraceRun{s.playSerial, s.mediaSha256, s.steadyUs, s.steadyUs, 0, 0});
        runs.back().lastUs = s.steadyUs;
        runs.back().frames++;
        if (s.black) runs.back().black++;
    }
    return runs;
}

// The journal's play records (start/stop and clock events left out), in seq order.
inline std::vector<pop::Record> playRecordsOf(player::Journal& journal) {
    auto all = journal.records(1, 1000000);
    REQUIRE(all.ok());
    std::vector<pop::Record> out;
    for (auto& r : *all)
        if (r.kind == pop::Kind::Play) out.push_back(r);
    return out;
}

}  // namespace microscape::testing

namespace microscape::testing {

// The text of the QR code in a frame, as zbarimg reads it (scaled up 4x,
// nearest neighbour, so that small test screens give it pixels enough); ""
// when it finds none.
inline std::string decodeQr(const player::Frame& f, const std::string& dir) {
    writeFile(dir + "/qr.png", player::encodePng(f));
    if (runProcess({"/usr/bin/convert", dir + "/qr.png", "-scale", "400%", dir + "/qr4.png"}).exitCode != 0) return "";
    auto r = runProcess({"/usr/bin/zbarimg", "--quiet", "--raw", "-Sbinary", dir + "/qr4.png"});
    if (r.exitCode != 0) return "";
    std::string out = r.out;
    if (!out.empty() && out.back() == '\n') out.pop_back();
    return out;
}

}  // namespace microscape::testing
