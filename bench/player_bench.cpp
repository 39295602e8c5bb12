// bench/player: item switches of the playback engine (two players, the next one
// pre-rolled) against a naive libvlc_media_list_player playing the same items,
// measured in the same run on the same generated media. Prints switch lateness
// (median/max), frame gaps, black frames, first frame after start and RSS; then
// the engine alone switching between slogans it draws and posters.
#include <vlc/vlc.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <numeric>
#include <thread>

#include "bench_args.hpp"
#include "media_fixtures.hpp"
#include "microscape/player/engine.hpp"
#include "microscape/player/slogan.hpp"
#include "microscape/player/status_card.hpp"

using namespace microscape;
using namespace std::chrono;

namespace {

constexpr int kW = 640, kH = 360;
constexpr std::int64_t kAnchor = 1744646400000;  // 2025-04-15 00:00 Shanghai

// Reads kAnchor when restart() was last called, then runs with the system's steady clock.
class AnchoredClock final : public Clock {
  public:
    void restart() { baseUs_.store(systemClock().steadyUs()); }
    std::int64_t wallMs() const override { return kAnchor + (steadyUs() - baseUs_.load()) / 1000; }
    std::int64_t steadyUs() const override { return systemClock().steadyUs(); }

  private:
    std::atomic<std::int64_t> baseUs_{systemClock().steadyUs()};
};

long rssKb() {
    std::ifstream in("/proc/self/status");
    std::string line;
    while (std::getline(in, line))
        if (line.rfind("VmRSS:", 0) == 0) return std::atol(line.c_str() + 6);
    return 0;
}

// Samples RSS every 50 ms while alive; peak() is the highest seen.
class RssSampler {
  public:
    RssSampler()
        : t_([this] {
              while (!stop_) {
                  peak_ = std::max(peak_.load(), rssKb());
                  std::this_thread::sleep_for(milliseconds(50));
              }
          }) {}
    ~RssSampler() { finish(); }
    long finish() {
        if (t_.joinable()) {
            stop_ = true;
            t_.join();
        }
        return peak_;
    }

  private:
    std::atomic<bool> stop_{false};
    std::atomic<long> peak_{0};
    std::thread t_;
};

std::int64_t nowUs() {
    return duration_cast<microseconds>(steady_clock::now().time_since_epoch()).count();
}

struct Summary {
    double median = 0, max = 0;
};
Summary summarize(std::vector<double> v) {
    if (v.empty()) return {};
    std::sort(v.begin(), v.end());
    return {v[v.size() / 2], v.back()};
}

struct MediaItem {
    std::string path;
    std::string sha;
    MediaKind kind;
    std::int64_t durationMs;
};

// ---------------------------------------------------------------------------
// Baseline: one libvlc_media_list_player, stills with :image-duration.

struct ListRun {
    std::vector<double> switchErrorMs;  // |start(k) - start(k-1) - duration(k-1)|
    std::vector<double> gapMs;          // last frame of k-1 to first frame of k
    std::int64_t firstFrameMs = -1;
    long rssKb = 0;
};

struct ListState {
    std::vector<std::uint8_t> buf = std::vector<std::uint8_t>(static_cast<std::size_t>(kW) * kH * 4);
    std::mutex m;
    std::vector<std::pair<std::int64_t, int>> frames;  // time, item index
    std::atomic<int> item{-1};
};

ListRun runListPlayer(const std::vector<MediaItem>& items, int rounds) {
    ListRun out;
    RssSampler rss;
    const char* args[] = {"--aout=dummy", "--no-video-title-show", "--no-osd", "--avcodec-hw=none", "--quiet"};
    libvlc_instance_t* vlc = libvlc_new(5, args);
    libvlc_media_list_t* list = libvlc_media_list_new(vlc);
    for (int r = 0; r < rounds; ++r)
        for (const auto& it : items) {
            libvlc_media_t* m = libvlc_media_new_path(vlc, it.path.c_str());
            if (it.kind == MediaKind::Image) {
                std::string opt = ":image-duration=" + std::to_string(it.durationMs / 1000.0);
                libvlc_media_add_option(m, opt.c_str());
            }
            libvlc_media_add_option(m, ":no-audio");
            libvlc_media_list_add_media(list, m);
            libvlc_media_release(m);
        }
    libvlc_media_player_t* mp = libvlc_media_player_new(vlc);
    ListState st;
    libvlc_video_set_callbacks(
        mp,
        [](void* o, void** planes) -> void* {
            planes[0] = static_cast<ListState*>(o)->buf.data();
            return nullptr;
        },
        nullptr,
        [](void* o, void*) {
            auto* s = static_cast<ListState*>(o);
            std::lock_guard lock(s->m);
            s->frames.emplace_back(nowUs(), s->item.load());
        },
        &st);
    libvlc_video_set_format(mp, "RV32", kW, kH, kW * 4);
    libvlc_event_attach(
        libvlc_media_player_event_manager(mp), libvlc_MediaPlayerMediaChanged,
        [](const libvlc_event_t*, void* o) { static_cast<ListState*>(o)->item.fetch_add(1); }, &st);
    libvlc_media_list_player_t* lp = libvlc_media_list_player_new(vlc);
    libvlc_media_list_player_set_media_player(lp, mp);
    libvlc_media_list_player_set_media_list(lp, list);
    std::int64_t t0 = nowUs();
    libvlc_media_list_player_play(lp);
    std::int64_t total = 0;
    for (const auto& it : items) total += it.durationMs;
    std::this_thread::sleep_for(milliseconds(total * rounds + 1500));
    libvlc_media_list_player_stop(lp);
    libvlc_media_list_player_release(lp);
    libvlc_media_player_release(mp);
    libvlc_media_list_release(list);
    libvlc_release(vlc);
    out.rssKb = rss.finish();

    // First and last frame of each item.
    std::vector<std::pair<std::int64_t, std::int64_t>> span(items.size() * rounds, {-1, -1});
    for (auto [t, i] : st.frames) {
        if (i < 0 || i >= static_cast<int>(span.size())) continue;
        if (span[i].first < 0) span[i].first = t;
        span[i].second = t;
    }
    if (!st.frames.empty()) out.firstFrameMs = (st.frames.front().first - t0) / 1000;
    for (std::size_t k = 1; k < span.size(); ++k) {
        if (span[k].first < 0 || span[k - 1].first < 0) continue;
        double expected = static_cast<double>(items[(k - 1) % items.size()].durationMs);
        out.switchErrorMs.push_back(std::abs((span[k].first - span[k - 1].first) / 1000.0 - expected));
        out.gapMs.push_back((span[k].first - span[k - 1].second) / 1000.0);
    }
    return out;
}

struct EngineRun {
    player::EngineStats stats;
    std::vector<double> switchErrMs, gapMs;
    long rssKb = 0;
};

// The engine playing `items` in a loop for `rounds` rounds.
EngineRun runEngine(const std::vector<MediaItem>& items, const std::string& blobs, int rounds) {
    schedule::Schedule s;
    s.offsets = {tz::OffsetSpan{kAnchor - 5 * schedule::kDayMs, 28800}};
    s.fromUtcMs = kAnchor - schedule::kDayMs;
    s.untilUtcMs = kAnchor + schedule::kDayMs;
    schedule::Playlist pl{"pl-bench", "bench", {}};
    for (const auto& it : items) {
        schedule::Item item;
        item.mediaSha256 = it.sha;
        item.durationMs = it.durationMs;
        pl.items.push_back(item);
    }
    s.playlists.push_back(pl);
    schedule::Entry e;
    e.id = "s-bench";
    e.playlistId = "pl-bench";
    e.startDay = e.endDay = (kAnchor + 8 * 3600 * 1000) / schedule::kDayMs;
    s.entries.push_back(e);
    player::ActiveBundle b;
    b.bundleId = "bench";
    b.version = 1;
    b.schedule = s;
    b.mediaDir = blobs;
    for (const auto& it : items) b.kinds[it.sha] = it.kind;

    AnchoredClock clock;
    player::EngineConfig cfg;
    cfg.playerId = "p-bench";
    cfg.width = kW;
    cfg.height = kH;
    cfg.traceFrames = true;
    cfg.clock = &clock;
    EngineRun out;
    std::vector<player::FrameSample> trace;
    {
        RssSampler rss;
        auto engine = std::move(player::Engine::create(cfg, nullptr).value());
        engine->setBundle(b);
        clock.restart();
        engine->start();
        std::int64_t total = 0;
        for (const auto& it : items) total += it.durationMs;
        std::this_thread::sleep_for(milliseconds(total * rounds + 200));
        engine->stop();
        out.stats = engine->stats();
        trace = engine->frameTrace();
        engine.reset();
        out.rssKb = rss.finish();
    }
    // Per switch, from the trace: start(k) - start(k-1) - duration(k-1), and the
    // frame gap (last frame of k-1 to first frame of k; the last frame stays on
    // screen meanwhile, so this is not black).
    std::vector<std::pair<std::int64_t, std::int64_t>> runs;
    std::vector<std::string> media;
    std::uint64_t serial = 0;
    for (const auto& f : trace) {
        if (runs.empty() || f.playSerial != serial) {
            runs.emplace_back(f.steadyUs, f.steadyUs);
            media.push_back(f.mediaSha256);
            serial = f.playSerial;
        }
        runs.back().second = f.steadyUs;
    }
    // From the second switch on: the first item was joined at start-up, part-way.
    for (std::size_t k = 2; k < runs.size(); ++k) {
        auto it = std::find_if(items.begin(), items.end(), [&](const MediaItem& m) { return m.sha == media[k - 1]; });
        if (it == items.end()) continue;
        out.switchErrMs.push_back(std::abs((runs[k].first - runs[k - 1].first) / 1000.0 - it->durationMs));
        out.gapMs.push_back((runs[k].first - runs[k - 1].second) / 1000.0);
    }
    return out;
}

}  // namespace

int main(int argc, char** argv) {
    microscape::bench::BenchArgs args("bench_player",
                                      "Item switches of the playback engine against a naive "
                                      "libvlc list player on the same generated media.");
    if (int rc = args.parse(argc, argv); rc >= 0) return rc;
    testing::TempDir dir;
    std::string blobs = dir / "blobs";
    std::filesystem::create_directories(blobs);
    std::vector<std::pair<std::string, std::string>> posters = {
        {"fraud.png", "反诈防骗"}, {"helmet.png", "一盔一带"}, {"drugs.png", "禁毒"}};
    std::vector<MediaItem> items;
    auto add = [&](const std::string& src, MediaKind kind, std::int64_t ms) {
        std::string bytes = testing::readFile(src);
        std::string sha = crypto::sha256Hex(bytes);
        testing::writeFile(blobs + "/" + sha, bytes);
        items.push_back(MediaItem{blobs + "/" + sha, sha, kind, ms});
    };
    for (std::size_t i = 0; i < posters.size(); ++i) {
        if (!testing::makePoster(dir / posters[i].first, posters[i].second)) {
            std::fprintf(stderr, "ImageMagick failed\n");
            return 1;
        }
        if (!testing::makeClip(dir / ("clip" + std::to_string(i) + ".mp4"), 2, "640x360")) {
            std::fprintf(stderr, "ffmpeg failed\n");
            return 1;
        }
        add(dir / posters[i].first, MediaKind::Image, 1000);
        add(dir / ("clip" + std::to_string(i) + ".mp4"), MediaKind::Video, 2000);
    }
    const int rounds = 2;  // 6 items x 2 rounds = 18 s of each

    EngineRun run = runEngine(items, blobs, rounds);
    const player::EngineStats& st = run.stats;
    const std::vector<double>& switchErr = run.switchErrMs;
    const long engineRss = run.rssKb;
    auto gaps = run.gapMs;
    auto late = summarize(st.switchLatenessMs);
    auto err = summarize(switchErr);
    auto gap = summarize(gaps);

    ListRun list = runListPlayer(items, rounds);
    auto lerr = summarize(list.switchErrorMs);
    auto lgap = summarize(list.gapMs);

    // Slogans (drawn by the engine, one static and two scrolling) alternating with posters.
    std::vector<MediaItem> mixed;
    const char* slogans[] = {
        R"({"microscape_slogan":1,"style":{"background":"#000000","color":"#FFD700","fontSizePx":48,"scrollSpeedPxPerS":0},"text":"一盔一带 安全常在"})",
        R"({"microscape_slogan":1,"style":{"background":"#8b0000","color":"#FFFFFF","fontSizePx":64,"scrollSpeedPxPerS":200},"text":"拒绝毒品 珍爱生命"})",
        R"({"microscape_slogan":1,"style":{"background":"#003366","color":"#FFD700","fontSizePx":56,"scrollSpeedPxPerS":120},"text":"反诈防骗 守护钱袋 不听不信不转账"})"};
    for (int i = 0; i < 3; ++i) {
        std::string path = dir / ("slogan" + std::to_string(i) + ".json");
        testing::writeFile(path, slogans[i]);
        std::string sha = crypto::sha256Hex(slogans[i]);
        testing::writeFile(blobs + "/" + sha, slogans[i]);
        mixed.push_back(items[static_cast<std::size_t>(2 * i)]);  // poster i, 1 s
        mixed.push_back(MediaItem{blobs + "/" + sha, sha, MediaKind::Text, 1000});
    }
    EngineRun sl = runEngine(mixed, blobs, rounds);
    auto slLate = summarize(sl.stats.switchLatenessMs);
    auto slErr = summarize(sl.switchErrMs);

    std::printf("player bench: %zu items (3 posters 1 s, 3 H.264 clips 2 s, %dx%d) x %d rounds\n", items.size(), kW, kH,
                rounds);
    std::printf("%-34s %14s %14s\n", "", "engine", "list player");
    std::printf("%-34s %14zu %14zu\n", "switches measured", switchErr.size(), list.switchErrorMs.size());
    std::printf("%-34s %6.1f / %5.1f %6.1f / %5.1f\n", "switch timing error ms (med/max)", err.median, err.max,
                lerr.median, lerr.max);
    std::printf("%-34s %6.1f / %5.1f %14s\n", "switch lateness ms (med/max)", late.median, late.max, "n/a");
    std::printf("%-34s %6.1f / %5.1f %6.1f / %5.1f\n", "frame gap at switch ms (med/max)", gap.median, gap.max,
                lgap.median, lgap.max);
    std::printf("%-34s %14lld %14s\n", "black frames on screen", static_cast<long long>(st.blackFrames), "n/a");
    std::printf("%-34s %14lld %14s\n", "failed items", static_cast<long long>(st.failed), "n/a");
    std::printf("%-34s %14lld %14s\n", "plays", static_cast<long long>(st.plays), "n/a");
    std::printf("%-34s %14lld %14lld\n", "first frame after start ms", static_cast<long long>(st.firstFrameMs),
                static_cast<long long>(list.firstFrameMs));
    std::printf("%-34s %14ld %14ld\n", "peak RSS MB", engineRss / 1024, list.rssKb / 1024);
    std::printf("\nslogan <-> poster (3 slogans, 3 posters, 1 s each) x %d rounds, engine only\n", rounds);
    std::printf("%-34s %14zu\n", "switches measured", sl.switchErrMs.size());
    std::printf("%-34s %6.1f / %5.1f\n", "switch timing error ms (med/max)", slErr.median, slErr.max);
    std::printf("%-34s %6.1f / %5.1f\n", "switch lateness ms (med/max)", slLate.median, slLate.max);
    std::printf("%-34s %14lld\n", "black frames on screen", static_cast<long long>(sl.stats.blackFrames));
    std::printf("%-34s %14lld\n", "failed items", static_cast<long long>(sl.stats.failed));
    std::printf("%-34s %14ld\n", "peak RSS MB", sl.rssKb / 1024);
    // Drawing cost at 1920x1080, against copying one frame (what any output does at least).
    {
        auto r = player::TextRenderer::create();
        if (r) {
            player::Slogan slogan{"反诈防骗 守护钱袋 不听不信不转账",
                                  player::SloganStyle{{0xFF, 0xD7, 0}, {0, 0x33, 0x66}, 96, 200}};
            player::SloganView view(**r, slogan, 1920, 1080);
            player::Frame f, copy;
            view.draw(f, 0);
            const int n = 100;
            auto t0 = nowUs();
            for (int i = 0; i < n; ++i) view.draw(f, i * 40);
            double drawMs = (nowUs() - t0) / 1000.0 / n;
            t0 = nowUs();
            for (int i = 0; i < n; ++i) {
                copy = f;
                f.bgrx[static_cast<std::size_t>(i)] ^= copy.bgrx[0];
            }
            double copyMs = (nowUs() - t0) / 1000.0 / n;
            t0 = nowUs();
            player::StatusCard card{"地下车库 B1 出入口", "p-bench",    "暂无排期",
                                    "No schedule yet",    {"版本 v12"}, "2025-04-15 08:00:00 (Asia/Shanghai)"};
            for (int i = 0; i < 10; ++i) (void)player::drawStatusCard(r->get(), 1920, 1080, card);
            double cardMs = (nowUs() - t0) / 1000.0 / 10;
            std::printf(
                "\n1920x1080: scrolling slogan frame %.2f ms, status card %.2f ms, frame copy %.2f "
                "ms "
                "(slogan %.1fx a copy; a frame every 40 ms)\n",
                drawMs, cardMs, copyMs, copyMs > 0 ? drawMs / copyMs : 0.0);
        }
    }
    if (lerr.median > 0)
        std::printf("switch timing error, median: engine %.2fx the list player's\n", err.median / lerr.median);
    return 0;
}
