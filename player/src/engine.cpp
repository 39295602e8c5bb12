#include "microscape/player/engine.hpp"

#include <vlc/vlc.h>

#include <Poco/Logger.h>

#include <algorithm>
#include <chrono>
#include <cstdarg>
#include <cstdio>
#include <cstring>

#include <unistd.h>

#include "microscape/core/crypto.hpp"
#include "microscape/core/pop.hpp"
#include "microscape/core/stand_in.hpp"
#include "microscape/core/tz.hpp"
#include "microscape/player/journal.hpp"
#include "microscape/player/slogan.hpp"
#include "microscape/player/status_card.hpp"
#include "microscape/player/text_render.hpp"
#include "playback_slot.hpp"

namespace microscape::player {

namespace {

// The same item in the same slot of the rotation (offsets may differ).
bool sameItem(const schedule::Decision& a, const schedule::Decision& b) {
    return a.state == b.state && a.source == b.source && a.sourceId == b.sourceId && a.playlistId == b.playlistId &&
           a.itemIndex == b.itemIndex && a.mediaSha256 == b.mediaSha256 && a.itemStartUtcMs == b.itemStartUtcMs &&
           a.itemEndUtcMs == b.itemEndUtcMs;
}

// libvlc log lines that say nothing useful on a screen without hardware
// decoders: each H.264 start logs about a hundred of them.
bool isNoise(const char* text) {
    return std::strstr(text, "Failed to create video converter") != nullptr ||
           std::strstr(text, "looking for ") != nullptr || std::strstr(text, "using ") == text;
}

void vlcLog(void*, int level, const libvlc_log_t* ctx, const char* fmt, va_list args) {
    static Poco::Logger& log = Poco::Logger::get("player.vlc");
    Poco::Message::Priority prio = Poco::Message::PRIO_DEBUG;
    if (level >= LIBVLC_ERROR)
        prio = Poco::Message::PRIO_ERROR;
    else if (level >= LIBVLC_WARNING)
        prio = Poco::Message::PRIO_WARNING;
    else if (level >= LIBVLC_NOTICE)
        prio = Poco::Message::PRIO_INFORMATION;
    if (!log.is(prio)) return;
    char buf[1024];
    std::vsnprintf(buf, sizeof buf, fmt, args);
    if (isNoise(buf)) return;
    const char* module = nullptr;
    libvlc_log_get_context(ctx, &module, nullptr, nullptr);
    log.log(Poco::Message(log.name(), std::string(module ? module : "vlc") + ": " + buf, prio));
}

constexpr const char* kEndedBeforePicture = "the file ended before any picture";

Poco::Logger& engineLog() {
    return Poco::Logger::get("player.engine");
}

// A frame the engine drew is black only if every pixel is: a short slogan on a
// black background can fall between the sample grid's points. The full scan
// runs only when the grid finds nothing.
bool isBlackDrawn(const Frame& f) {
    return isBlack(f.bgrx.data(), f.width, f.height) && isBlackEverywhere(f.bgrx.data(), f.width, f.height);
}

}  // namespace

// ---------------------------------------------------------------------------
// Bundles and takeovers.

Result<ActiveBundle> ActiveBundle::fromManifest(const manifest::Manifest& m, std::string mediaDir) {
    auto s = schedule::fromJson(m.schedule);
    if (!s) return s.error();
    ActiveBundle b;
    b.bundleId = m.bundleId;
    b.version = m.version;
    // A verified manifest was read from canonical bytes with every field known,
    // so writing it again gives those bytes.
    b.manifestSha256 = crypto::sha256Hex(manifest::toCanonicalBytes(m));
    b.schedule = std::move(*s);
    b.mediaDir = std::move(mediaDir);
    for (const auto& e : m.media) b.kinds[e.sha256] = e.kind;
    return b;
}

Result<ActiveBundle> ActiveBundle::load(const std::string& manifestPath, std::string mediaDir) {
    auto bytes = crypto::readSmallFile(manifestPath, manifest::kMaxManifestBytes);
    if (!bytes) return bytes.error();
    auto m = manifest::parse(*bytes);
    if (!m) return m.error();
    return fromManifest(*m, std::move(mediaDir));
}

Result<TakeoverContent> TakeoverContent::fromManifest(const manifest::Manifest& m, std::string mediaDir) {
    auto s = schedule::fromJson(m.schedule);
    if (!s) return s.error();
    if (s->takeovers.empty()) return makeError(Errc::BadManifest, "takeover: the schedule has no takeover");
    const schedule::Takeover& t = s->takeovers.front();
    const schedule::Playlist* pl = s->findPlaylist(t.playlistId);
    if (!pl) return makeError(Errc::BadManifest, "takeover: playlist " + t.playlistId + " is missing");
    TakeoverContent c;
    c.id = t.id;
    c.bundleVersion = m.version;
    c.manifestSha256 = crypto::sha256Hex(manifest::toCanonicalBytes(m));
    c.playlist = *pl;
    c.startUtcMs = t.startUtcMs;
    c.expiresUtcMs = t.expiresUtcMs;
    c.mediaDir = std::move(mediaDir);
    for (const auto& e : m.media) c.kinds[e.sha256] = e.kind;
    return c;
}

// ---------------------------------------------------------------------------

struct Engine::Play {
    schedule::Decision decision;
    std::shared_ptr<PlaybackSlot> slot;  // libvlc: stills, videos, audio-only items
    MediaKind kind = MediaKind::Unknown;
    // Slogans and audio-only items: the engine draws what the screen shows.
    std::unique_ptr<SloganView> slogan;
    std::shared_ptr<const Frame> drawn;  // the frame drawn last (the first one before going on air)
    std::shared_ptr<Frame> spare;        // the one before, reused once nobody else holds it
    std::int64_t nextDrawSteadyMs = 0;
    std::int64_t drawnSecond = 0;  // audio card: redrawn once a second
    bool drawsItself() const { return kind == MediaKind::Text || kind == MediaKind::Audio; }
    std::int64_t bundleVersion = 0;
    std::string manifestSha256;
    std::uint64_t serial = 0;
    bool ready = false;
    bool failed = false;
    std::string failure;
    std::int64_t openedSteadyMs = 0;
    std::int64_t onAirWallMs = 0;
    std::int64_t onAirSteadyMs = 0;
    std::string frameDigest;
    std::int64_t joinedAtMs = 0;  // how far into the item it was opened (a video joined part-way)
    std::string replaces;         // the failed media whose slot this play stands in for
};

struct Engine::Command {
    enum class Type { Bundle, Takeover, Skew, Head, Stop } type = Type::Stop;
    std::optional<ActiveBundle> bundle;
    std::optional<TakeoverContent> takeover;
    std::int64_t skewMs = 0;    // Skew; Head: how long
    std::string text, caption;  // Head
};

void Engine::VlcFree::operator()(libvlc_instance_t* p) const {
    libvlc_log_unset(p);
    libvlc_release(p);
}

Engine::Engine(EngineConfig config, Journal* journal)
    : config_(std::move(config)), clock_(config_.clock ? *config_.clock : systemClock()), journal_(journal) {}

Result<std::unique_ptr<Engine>> Engine::create(EngineConfig config, Journal* journal) {
    if (config.width < 16 || config.height < 16 || config.width > 7680 || config.height > 7680)
        return makeError(Errc::Usage, "engine: resolution must be 16..7680 pixels each way");
    if (config.playerId.empty()) return makeError(Errc::Usage, "engine: no player id");
    if (config.drawnFps < 1 || config.drawnFps > 60) return makeError(Errc::Usage, "engine: drawnFps must be 1..60");
    if (config.screenName.empty()) config.screenName = config.playerId;
    std::vector<std::string> args = {"--no-video-title-show",    "--no-osd",         "--no-spu",
                                     "--no-snapshot-preview",    "--no-stats",       "--no-sub-autodetect-file",
                                     "--no-disable-screensaver", "--avcodec-hw=none"};
    if (config.headless) args.push_back("--aout=dummy");
    for (const auto& a : config.vlcArgs) args.push_back(a);
    std::vector<const char*> argv;
    for (const auto& a : args) argv.push_back(a.c_str());
    libvlc_instance_t* vlc = libvlc_new(static_cast<int>(argv.size()), argv.data());
    if (!vlc) return makeError(Errc::Internal, "engine: libvlc_new failed (is vlc-plugin-base installed?)");
    libvlc_log_set(vlc, &vlcLog, nullptr);
    // The status card's clock. A zone that cannot be read must not keep the
    // screen from starting: the card then shows UTC+08:00 and says so.
    std::vector<tz::OffsetSpan> offsets = {tz::OffsetSpan{0, 8 * 3600}};
    std::string zoneLabel = "UTC+08:00";
    {
        auto bytes = tz::loadZoneFile(config.timeZone);
        auto zone = bytes ? tz::parseTzif(*bytes) : Result<tz::Zone>(bytes.error());
        const std::int64_t now = (config.clock ? *config.clock : systemClock()).wallMs();
        auto spans = zone ? tz::offsetSpans(*zone, now - 400 * schedule::kDayMs, now + 3650 * schedule::kDayMs)
                          : Result<std::vector<tz::OffsetSpan>>(zone.error());
        if (spans) {
            offsets = std::move(*spans);
            zoneLabel = config.timeZone;
        } else {
            engineLog().error("player %s: time zone %s: %s; the status card shows UTC+08:00", config.playerId,
                              config.timeZone, spans.error().str());
        }
    }
    std::unique_ptr<Engine> e(new Engine(std::move(config), journal));
    e->vlc_.reset(vlc);
    e->clockOffsets_ = std::move(offsets);
    e->clockZoneLabel_ = std::move(zoneLabel);
    if (auto text = TextRenderer::create(e->config_.fontFamily)) {
        engineLog().information("player %s: text in %s (%s)", e->config_.playerId, (*text)->familyName(),
                                (*text)->fontPath());
        e->text_ = std::move(*text);
    } else {
        engineLog().error("player %s: no font: %s; slogans cannot be shown and cards carry no text",
                          e->config_.playerId, text.error().str());
    }
    return e;
}

Engine::~Engine() {
    stop();
}

void Engine::start() {
    if (thread_.joinable()) return;
    running_ = true;
    startSteadyMs_ = steadyMs();
    thread_ = std::thread([this] { run(); });
}

void Engine::stop() {
    if (!thread_.joinable()) return;
    post(Command{Command::Type::Stop, {}, {}, 0});
    thread_.join();
}

void Engine::post(Command c) {
    {
        std::lock_guard lock(commandMutex_);
        commands_.push_back(std::move(c));
    }
    wake_.notify_one();
}

void Engine::onSlotEvent(const SlotEvent& e) {
    {
        std::lock_guard lock(commandMutex_);
        events_.push_back(e);
    }
    wake_.notify_one();
}

void Engine::setBundle(ActiveBundle bundle) {
    post(Command{Command::Type::Bundle, std::move(bundle), {}, 0});
}

void Engine::takeover(TakeoverContent content) {
    post(Command{Command::Type::Takeover, {}, std::move(content), 0});
}

void Engine::setClockSkew(std::int64_t skewMs) {
    post(Command{Command::Type::Skew, {}, {}, skewMs});
}

void Engine::showHead(std::string qrText, std::string caption, std::int64_t forMs) {
    post(Command{Command::Type::Head, {}, {}, forMs, std::move(qrText), std::move(caption)});
}

NowPlaying Engine::nowPlaying() const {
    std::lock_guard lock(stateMutex_);
    return now_;
}

EngineStats Engine::stats() const {
    std::lock_guard lock(stateMutex_);
    return stats_;
}

std::vector<FrameSample> Engine::frameTrace() const {
    std::lock_guard lock(stateMutex_);
    return trace_;
}

Frame Engine::snapshot() const {
    std::shared_ptr<PlaybackSlot> slot;
    std::shared_ptr<const Frame> still;
    {
        std::lock_guard lock(stateMutex_);
        slot = outputSlot_;
        still = outputStill_;
    }
    if (slot) return slot->snapshot();
    if (still) return *still;
    return Frame{};
}

// ---------------------------------------------------------------------------
// Owner thread.

void Engine::rebuildSchedule() {
    haveSchedule_ = bundle_.has_value();
    if (!haveSchedule_) return;
    schedule_ = bundle_->schedule;
    std::int64_t now = wallNow();
    std::erase_if(takeovers_, [&](const TakeoverContent& t) { return t.expiresUtcMs <= now; });
    for (const auto& t : takeovers_) {
        schedule::Playlist pl = t.playlist;
        pl.id = ("takeover." + t.id).substr(0, 128);
        std::erase_if(schedule_.takeovers, [&](const schedule::Takeover& x) { return x.id == t.id; });
        std::erase_if(schedule_.playlists, [&](const schedule::Playlist& x) { return x.id == pl.id; });
        schedule_.takeovers.push_back(schedule::Takeover{t.id, pl.id, t.startUtcMs, t.expiresUtcMs});
        schedule_.playlists.push_back(std::move(pl));
    }
    // Media that failed keep their slots: the rotation's timing never depends on
    // what this screen could decode (resolve() gives those slots a stand-in).
}

// The schedule's decision with a failed item's slot given to a stand-in: the
// next item of the rotation that did not fail, else the filler at that instant,
// else nothing (the status card). The stand-in plays exactly the failed item's
// slot, so every other item keeps its own slot and nothing is skipped.
schedule::Decision Engine::resolve(const schedule::Decision& d) const {
    return schedule::standIn(schedule_, d, [this](const std::string& m) { return brokenMedia_.count(m) > 0; });
}

// The failed media whose slot `d` stands in for ("" when d is the schedule's own item).
std::string Engine::replacedMedia(const schedule::Decision& d) const {
    if (brokenMedia_.empty() || d.state != schedule::State::Playing || !haveSchedule_) return {};
    schedule::Decision own = schedule::evaluate(schedule_, d.itemStartUtcMs);
    if (own.state == schedule::State::Playing && own.mediaSha256 != d.mediaSha256 &&
        brokenMedia_.count(own.mediaSha256) && own.itemStartUtcMs == d.itemStartUtcMs)
        return own.mediaSha256;
    return {};
}

std::unique_ptr<Engine::Play> Engine::prepare(const schedule::Decision& d, std::int64_t offsetMs) {
    auto p = std::make_unique<Play>();
    p->decision = d;
    p->openedSteadyMs = steadyMs();
    p->joinedAtMs = std::max<std::int64_t>(0, offsetMs);
    p->replaces = replacedMedia(d);
    p->bundleVersion = bundle_ ? bundle_->version : 0;
    p->manifestSha256 = bundle_ ? bundle_->manifestSha256 : "";
    std::string path;
    MediaKind kind = MediaKind::Unknown;
    bool found = false;
    if (d.source == schedule::Source::Takeover) {
        for (const auto& t : takeovers_)
            if (t.id == d.sourceId) {
                p->bundleVersion = t.bundleVersion;
                p->manifestSha256 = t.manifestSha256;
                if (auto it = t.kinds.find(d.mediaSha256); it != t.kinds.end()) {
                    path = t.mediaDir + "/" + d.mediaSha256;
                    kind = it->second;
                    found = true;
                }
            }
    }
    if (!found && bundle_) {
        if (auto it = bundle_->kinds.find(d.mediaSha256); it != bundle_->kinds.end()) {
            path = bundle_->mediaDir + "/" + d.mediaSha256;
            kind = it->second;
            found = true;
        }
    }
    p->kind = kind;
    auto fail = [&](std::string why) {
        p->failed = true;
        p->failure = std::move(why);
        return std::move(p);
    };
    if (!found) return fail("media is not named by the active bundle");
    if (kind == MediaKind::Unknown) return fail("media kind unknown is not shown by this engine");
    if (::access(path.c_str(), R_OK) != 0) return fail("media file is not in the cache: " + path);
    if (kind == MediaKind::Text) {
        // A slogan is drawn here and now: it is ready as soon as it parses.
        auto bytes = crypto::readSmallFile(path, kMaxSloganFileBytes);
        if (!bytes) return fail("slogan: " + bytes.error().message);
        auto slogan = parseSlogan(*bytes);
        if (!slogan) return fail(slogan.error().message);
        if (!text_) return fail("slogan: no font on this player");
        p->slogan = std::make_unique<SloganView>(*text_, std::move(*slogan), config_.width, config_.height);
        auto first = std::make_shared<Frame>();
        p->slogan->draw(*first, 0);
        p->drawn = std::move(first);
        p->ready = true;
        return p;
    }
    if (kind == MediaKind::Audio) {
        p->drawn = std::make_shared<const Frame>(
            drawAudioCard(text_.get(), config_.width, config_.height,
                          AudioCard{config_.screenName, 0, d.itemEndUtcMs - d.itemStartUtcMs}));
        std::uint64_t id = nextSlotId_++;
        p->slot = std::make_shared<PlaybackSlot>(
            id, vlc_.get(), config_.width, config_.height, [this](const SlotEvent& e) { onSlotEvent(e); }, nullptr);
        SlotMedia m;
        m.path = path;
        m.kind = kind;
        m.audio = d.audio;
        m.offsetMs = std::max<std::int64_t>(0, offsetMs);  // joined part-way, like a video
        if (!p->slot->open(m)) return fail("libvlc could not open the file");
        return p;
    }
    auto sizeIt = pictureSizes_.find(d.mediaSha256);
    if (sizeIt == pictureSizes_.end()) {
        PictureInfo info = probePicture(vlc_.get(), path, 1500);
        if (info.width <= 0) return fail("libvlc finds no picture in the file");
        // Square pixels are assumed after probing; the sample aspect is folded in here.
        int w = static_cast<int>(static_cast<double>(info.width) * info.sarNum / info.sarDen);
        sizeIt = pictureSizes_.emplace(d.mediaSha256, std::make_pair(w, info.height)).first;
        // Frame rates beyond 240 or below 1 are taken as unknown (a still, or a bad header).
        std::int64_t intervalUs = 0;
        if (info.frameRateNum > 0 && info.frameRateDen > 0) {
            intervalUs = static_cast<std::int64_t>(1000000.0 * info.frameRateDen / info.frameRateNum + 0.5);
            if (intervalUs < 1000000 / 240 || intervalUs > 1000000) intervalUs = 0;
        }
        frameIntervalsUs_[d.mediaSha256] = intervalUs;
    }
    std::uint64_t id = nextSlotId_++;
    p->slot = std::make_shared<PlaybackSlot>(
        id, vlc_.get(), config_.width, config_.height, [this](const SlotEvent& e) { onSlotEvent(e); },
        [this](std::uint64_t slotId, const std::uint8_t* px, int w, int h) {
            bool black = isBlack(px, w, h);
            double luma = config_.traceFrames ? meanLuma(px, w, h) : 0.0;
            std::lock_guard lock(stateMutex_);
            if (!outputSlot_ || outputSlot_->id() != slotId) return;
            if (black) ++stats_.blackFrames;
            if (config_.traceFrames)
                trace_.push_back(FrameSample{clock_.steadyUs(), playSerial_, traceMedia_, black, luma});
        });
    SlotMedia m;
    m.path = path;
    m.kind = kind;
    m.fit = d.fit;
    m.audio = d.audio;
    m.offsetMs = kind == MediaKind::Video ? std::max<std::int64_t>(0, offsetMs) : 0;
    m.sourceWidth = sizeIt->second.first;
    m.sourceHeight = sizeIt->second.second;
    if (kind == MediaKind::Video) {
        m.frameIntervalUs = frameIntervalsUs_[d.mediaSha256];
        m.stallDisplayMs = config_.testStallDisplayMs;
        m.stallEveryFrames = config_.testStallEveryFrames;
    }
    if (!p->slot->open(m)) return fail("libvlc could not open the file");
    return p;
}

void Engine::recordFailure(Play& p, const std::string& why) {
    engineLog().error("player %s: media %s (playlist %s) failed: %s", config_.playerId, p.decision.mediaSha256,
                      p.decision.playlistId, why);
    {
        std::lock_guard lock(stateMutex_);
        ++stats_.failed;
    }
    if (!journal_) return notifyPlayback();
    pop::Record r;
    r.kind = pop::Kind::Play;
    r.bundleVersion = p.bundleVersion;
    r.manifestSha256 = p.manifestSha256;
    r.mediaSha256 = p.decision.mediaSha256;
    r.playlistId = p.decision.playlistId;
    r.scheduleId = p.decision.sourceId;
    r.source = std::string(schedule::sourceName(p.decision.source));
    r.campaignId = p.decision.campaignId;
    r.startUtcMs = r.endUtcMs = std::max<std::int64_t>(0, wallNow());
    r.scheduledMs = p.decision.itemEndUtcMs - p.decision.itemStartUtcMs;
    r.outcome = pop::Outcome::Failed;
    r.clockSkewMs = clockSkewMs_;
    r.detail = why.substr(0, pop::kMaxDetailBytes);
    if (!json::isValidUtf8(r.detail)) r.detail = "undecodable media";
    journalEvent(std::move(r));
    notifyPlayback();
}

// Ends the play on screen (if any) and journals it.
void Engine::endOnAir(bool interrupted) {
    if (!onAir_) return;
    std::unique_ptr<Play> p = std::move(onAir_);
    std::int64_t endWall = wallNow();
    std::int64_t measured = steadyMs() - p->onAirSteadyMs;
    std::string outcome;
    if (journal_) {
        pop::Record r;
        r.kind = pop::Kind::Play;
        r.bundleVersion = p->bundleVersion;
        r.manifestSha256 = p->manifestSha256;
        r.mediaSha256 = p->decision.mediaSha256;
        r.playlistId = p->decision.playlistId;
        r.scheduleId = p->decision.sourceId;
        r.source = std::string(schedule::sourceName(p->decision.source));
        r.campaignId = p->decision.campaignId;
        r.startUtcMs = std::max<std::int64_t>(0, p->onAirWallMs);
        r.endUtcMs = std::max(r.startUtcMs, endWall);
        r.scheduledMs = p->decision.itemEndUtcMs - p->decision.itemStartUtcMs;
        r.measuredMs = measured;
        r.frameDigest = p->frameDigest;
        r.clockSkewMs = clockSkewMs_;
        if (p->failed) {
            r.outcome = pop::Outcome::Failed;
            r.detail = p->failure.substr(0, pop::kMaxDetailBytes);
        } else {
            if (!p->replaces.empty()) r.detail = "in place of " + p->replaces + ", which failed on this screen";
            if (p->slot && p->kind == MediaKind::Video) {
                r.frames = static_cast<std::int64_t>(p->slot->onAirFrames());
                r.framesLate = std::min<std::int64_t>(static_cast<std::int64_t>(p->slot->lateFrames()), r.frames);
                r.framesDropped = static_cast<std::int64_t>(p->slot->droppedFrames());
                r.longestFreezeMs = p->slot->longestGapMs();
            }
            r.outcome = pop::classify(r);
            if (interrupted && r.outcome != pop::Outcome::Interrupted && measured + 100 < r.scheduledMs)
                r.outcome = pop::Outcome::Interrupted;
        }
        outcome = std::string(pop::outcomeName(r.outcome));
        journalEvent(std::move(r));
    }
    {
        std::lock_guard lock(stateMutex_);
        if (outputSlot_ == p->slot) outputSlot_.reset();
        if (p->slot && p->kind == MediaKind::Video) {
            stats_.videoPlays.push_back(EngineStats::VideoPlay{
                p->decision.mediaSha256, measured, p->slot->onAirFrames(), p->slot->longestGapMs(),
                p->slot->lateFrames(), p->slot->droppedFrames(), outcome});
            if (stats_.videoPlays.size() > 1000) stats_.videoPlays.erase(stats_.videoPlays.begin());
        }
    }
    if (p->slot && p->kind == MediaKind::Video && p->slot->longestGapMs() > 250)
        engineLog().warning("player %s: media %s froze for %s ms on air (%s frames, %s late, %s dropped in %s ms)",
                            config_.playerId, p->decision.mediaSha256, std::to_string(p->slot->longestGapMs()),
                            std::to_string(p->slot->onAirFrames()), std::to_string(p->slot->lateFrames()),
                            std::to_string(p->slot->droppedFrames()), std::to_string(measured));
    if (p->slot) p->slot->stop();
}

void Engine::goOnAir(std::unique_ptr<Play> next, std::int64_t scheduledStartWallMs) {
    if (next->kind == MediaKind::Video || next->kind == MediaKind::Audio) next->slot->setPaused(false);
    if (next->slot) next->slot->setOnAir(true);
    next->onAirWallMs = wallNow();
    next->onAirSteadyMs = steadyMs();
    next->nextDrawSteadyMs = next->onAirSteadyMs + 1000 / config_.drawnFps;
    cardSecond_ = -1;
    Frame first = next->drawsItself() ? *next->drawn : next->slot->snapshot();
    next->frameDigest = first.empty() ? std::string() : frameDigest(first);
    bool firstBlack = !first.empty() && (next->drawsItself() ? isBlackDrawn(first)
                                                             : isBlack(first.bgrx.data(), first.width, first.height));
    bool wasPlaying = onAir_ != nullptr;
    {
        std::lock_guard lock(stateMutex_);
        // With the output: the old slot's frame tap reads the serial under this
        // lock, and must not label its last frames with the new play's serial.
        next->serial = ++playSerial_;
        if (next->drawsItself()) {
            outputSlot_.reset();
            outputStill_ = next->drawn;
        } else {
            outputSlot_ = next->slot;
            outputStill_.reset();
        }
        traceMedia_ = next->decision.mediaSha256;
        ++stats_.plays;
        if (firstBlack) ++stats_.blackFrames;
        if (wasPlaying) {
            stats_.switchLatenessMs.push_back(static_cast<double>(next->onAirWallMs - scheduledStartWallMs));
            if (stats_.switchLatenessMs.size() > 1000) stats_.switchLatenessMs.erase(stats_.switchLatenessMs.begin());
        }
        if (stats_.firstFrameMs < 0) stats_.firstFrameMs = next->onAirSteadyMs - startSteadyMs_;
        if (config_.traceFrames)
            trace_.push_back(FrameSample{clock_.steadyUs(), playSerial_, traceMedia_, firstBlack,
                                         first.empty() ? 0.0 : meanLuma(first.bgrx.data(), first.width, first.height)});
    }
    std::unique_ptr<Play> old = std::move(onAir_);
    onAir_ = std::move(next);
    if (old) {
        if (old->slot) old->slot->setOnAir(false);
        std::swap(old, onAir_);
        endOnAir(false);  // journals and stops the previous item
        std::swap(old, onAir_);
    }
    publishNowPlaying();
}

// Shows Dark or the status card instead of media.
void Engine::enterDecision(const schedule::Decision& d) {
    endOnAir(true);
    std::int64_t now = wallNow();
    if (d.state == schedule::State::Dark && current_.state != schedule::State::Dark) {
        darkSinceWallMs_ = now;
        darkSinceSteadyMs_ = steadyMs();
    }
    if (d.state != schedule::State::Dark) {
        showStatusCard(true);
        return;
    }
    cardSecond_ = -1;
    auto frame = solidFrame(config_.width, config_.height, 0, 0, 0);
    std::lock_guard lock(stateMutex_);
    outputSlot_.reset();
    outputStill_ = std::make_shared<const Frame>(std::move(frame));
    traceMedia_.clear();
}

std::int64_t Engine::localClockOffsetMs(std::int64_t utcMs) const {
    return static_cast<std::int64_t>(tz::offsetAt(clockOffsets_, utcMs)) * 1000;
}

// The status card (no schedule yet, nothing playable), redrawn when its clock's
// second changes.
void Engine::showStatusCard(bool force) {
    std::int64_t now = wallNow();
    std::int64_t second = now / 1000;
    if (!force && second == cardSecond_) return;
    cardSecond_ = second;
    StatusCard card;
    card.screenName = config_.screenName;
    card.playerId = config_.playerId;
    if (haveSchedule_) {
        card.stateZh = "无可播放内容";
        card.stateEn = "Nothing playable";
    } else {
        card.stateZh = "暂无排期";
        card.stateEn = "No schedule yet";
    }
    if (config_.statusLines) card.lines = config_.statusLines();
    if (now < headUntilWallMs_) {
        card.stateZh = "播放记录头部声明（扫码收取）";
        card.stateEn = "Proof-of-play head: scan to collect";
        card.qrText = headText_;
        card.qrCaption = headCaption_;
    }
    {
        std::lock_guard lock(stateMutex_);
        if (stats_.journalErrors > 0)
            card.lines.push_back("播放记录写入失败 / proof of play not recorded (" +
                                 std::to_string(stats_.journalErrors) + ")");
    }
    // The location's zone once a schedule says it (its offsets travel in the
    // signed payload); before that, the configured one.
    if (haveSchedule_ && !schedule_.offsets.empty())
        card.clock = formatLocalClock(tz::localFromUtc(schedule_.offsets, now)) + " (" + schedule_.zoneName + ")";
    else
        card.clock = formatLocalClock(now + localClockOffsetMs(now)) + " (" + clockZoneLabel_ + ")";
    auto frame = std::make_shared<const Frame>(drawStatusCard(text_.get(), config_.width, config_.height, card));
    std::lock_guard lock(stateMutex_);
    outputSlot_.reset();
    outputStill_ = std::move(frame);
    traceMedia_.clear();
}

// The next frame of what the engine draws itself, at the drawn frame rate; a
// frame that did not change is presented again (traced, checked for black).
void Engine::drawOnAir(bool force) {
    Play& p = *onAir_;
    std::int64_t nowSteady = steadyMs();
    if (!force && nowSteady < p.nextDrawSteadyMs) return;
    const std::int64_t interval = 1000 / config_.drawnFps;
    p.nextDrawSteadyMs += interval;
    if (p.nextDrawSteadyMs <= nowSteady) p.nextDrawSteadyMs = nowSteady + interval;  // fell behind: no burst
    std::int64_t elapsed = nowSteady - p.onAirSteadyMs;
    if (p.slogan && p.slogan->scrolls()) {
        // Two frames take turns; a snapshot still copying the older one gets a new one instead.
        std::shared_ptr<Frame> f = p.spare && p.spare.use_count() == 1 ? std::move(p.spare) : std::make_shared<Frame>();
        p.slogan->draw(*f, elapsed);
        p.spare = std::const_pointer_cast<Frame>(p.drawn);
        p.drawn = std::move(f);
    } else if (p.kind == MediaKind::Audio && elapsed / 1000 != p.drawnSecond) {
        p.drawnSecond = elapsed / 1000;
        // Progress through the item's slot (which the play may have joined part-way).
        std::int64_t intoItem = std::max<std::int64_t>(0, p.onAirWallMs - p.decision.itemStartUtcMs) + elapsed;
        p.drawn = std::make_shared<const Frame>(drawAudioCard(
            text_.get(), config_.width, config_.height,
            AudioCard{config_.screenName, intoItem, p.decision.itemEndUtcMs - p.decision.itemStartUtcMs}));
    }
    const Frame& f = *p.drawn;
    bool black = isBlackDrawn(f);
    double luma = config_.traceFrames ? meanLuma(f.bgrx.data(), f.width, f.height) : 0.0;
    std::lock_guard lock(stateMutex_);
    outputStill_ = p.drawn;
    if (black) ++stats_.blackFrames;
    if (config_.traceFrames) trace_.push_back(FrameSample{clock_.steadyUs(), playSerial_, traceMedia_, black, luma});
}

void Engine::publishNowPlaying() {
    NowPlaying n;
    n.state = current_.state;
    n.source = current_.source;
    n.sourceId = current_.sourceId;
    n.playlistId = current_.playlistId;
    n.mediaSha256 = onAir_ ? onAir_->decision.mediaSha256 : std::string();
    n.itemIndex = current_.itemIndex;
    n.onAirSinceUtcMs = onAir_ ? onAir_->onAirWallMs : 0;
    n.bundleVersion = onAir_ ? onAir_->bundleVersion : (bundle_ ? bundle_->version : 0);
    {
        std::lock_guard lock(stateMutex_);
        now_ = std::move(n);
    }
    notifyPlayback();
}

void Engine::writePreview() {
    if (config_.previewPath.empty()) return;
    Frame f = snapshot();
    if (f.empty()) return;
    if (auto st = writePngFile(f, config_.previewPath); !st)
        engineLog().warning("player %s: %s", config_.playerId, st.error().str());
}

void Engine::journalEvent(pop::Record r) {
    if (!journal_) return;
    // Events name the schedule's manifest in force; plays name their own.
    if (r.kind != pop::Kind::Play && r.manifestSha256.empty() && bundle_) r.manifestSha256 = bundle_->manifestSha256;
    const std::string what = std::string(pop::kindName(r.kind));
    auto st = journal_->append(std::move(r));
    if (st) return;
    engineLog().error("player %s: proof of play: the %s record was not written: %s", config_.playerId, what,
                      st.error().str());
    {
        std::lock_guard lock(stateMutex_);
        ++stats_.journalErrors;
        stats_.lastJournalError = st.error().str();
    }
    if (!onAir_ && cardSecond_ >= 0) showStatusCard(true);  // the card says so at once
    notifyPlayback();
}

void Engine::journalScreenOff(std::int64_t endWallMs) {
    pop::Record r;
    r.kind = pop::Kind::ScreenOff;
    r.bundleVersion = bundle_ ? bundle_->version : 0;
    r.startUtcMs = std::max<std::int64_t>(0, darkSinceWallMs_);
    r.endUtcMs = std::max(r.startUtcMs, endWallMs);
    r.measuredMs = steadyMs() - darkSinceSteadyMs_;
    r.detail = "outside operating hours";
    journalEvent(std::move(r));
}

void Engine::notifyPlayback() {
    if (!config_.onPlayback) return;
    NowPlaying n;
    EngineStats st;
    {
        std::lock_guard lock(stateMutex_);
        n = now_;
        st = stats_;
    }
    config_.onPlayback(n, st);
}

void Engine::run() {
    engineLog().information("player %s: engine started (%dx%d, %s)", config_.playerId, config_.width, config_.height,
                            std::string(config_.headless ? "headless" : "display"));
    pop::Record start;
    start.kind = pop::Kind::Start;
    start.startUtcMs = start.endUtcMs = std::max<std::int64_t>(0, wallNow());
    start.detail = "engine start";
    journalEvent(std::move(start));
    current_ = schedule::Decision{};
    current_.state = schedule::State::Idle;
    enterDecision(current_);

    while (loopOnce()) {
    }

    next_.reset();
    endOnAir(true);
    if (current_.state == schedule::State::Dark) journalScreenOff(wallNow());
    engineLog().information("player %s: engine stopped", config_.playerId);
}

bool Engine::loopOnce() {
    lastLoopSteadyMs_.store(steadyMs());
    std::deque<Command> commands;
    std::deque<SlotEvent> events;
    {
        std::lock_guard lock(commandMutex_);
        commands.swap(commands_);
        events.swap(events_);
    }
    for (auto& c : commands) applyCommand(c);
    if (!running_) return false;
    applySlotEvents(events);
    step(wallNow());
    waitForWork();
    return true;
}

void Engine::applyCommand(Command& c) {
    switch (c.type) {
        case Command::Type::Stop:
            running_ = false;
            break;
        case Command::Type::Skew:
            clockSkewMs_ = c.skewMs;
            break;
        case Command::Type::Head:
            engineLog().information("player %s: head statement on screen for %s ms", config_.playerId,
                                    std::to_string(c.skewMs));
            headText_ = std::move(c.text);
            headCaption_ = std::move(c.caption);
            headUntilWallMs_ = wallNow() + c.skewMs;
            next_.reset();
            prerolled_ = false;
            reevaluate_ = true;
            if (!onAir_ && current_.state == schedule::State::Idle) showStatusCard(true);
            break;
        case Command::Type::Bundle:
            engineLog().information("player %s: bundle %s version %s received", config_.playerId, c.bundle->bundleId,
                                    std::to_string(c.bundle->version));
            pendingBundle_ = std::move(c.bundle);
            if (!onAir_) reevaluate_ = true;  // nothing to finish: take it now
            next_.reset();                    // pre-rolled from the old plan
            prerolled_ = false;
            break;
        case Command::Type::Takeover:
            engineLog().warning("player %s: takeover %s until %s", config_.playerId, c.takeover->id,
                                std::to_string(c.takeover->expiresUtcMs));
            std::erase_if(takeovers_, [&](const TakeoverContent& t) { return t.id == c.takeover->id; });
            takeovers_.push_back(std::move(*c.takeover));
            rebuildSchedule();
            next_.reset();
            prerolled_ = false;
            reevaluate_ = true;
            break;
    }
}

// libvlc's news about the slots: the next item is ready, or a play failed.
void Engine::applySlotEvents(const std::deque<SlotEvent>& events) {
    for (const auto& e : events) {
        Play* p = next_ && next_->slot && next_->slot->id() == e.slotId      ? next_.get()
                  : onAir_ && onAir_->slot && onAir_->slot->id() == e.slotId ? onAir_.get()
                                                                             : nullptr;
        if (!p) continue;
        if (e.type == SlotEvent::Type::FirstFrame && p == next_.get()) {
            p->ready = true;
            // Hold the first frame (or the first sound) until its slot.
            if (p->kind == MediaKind::Video || p->kind == MediaKind::Audio) p->slot->setPaused(true);
        } else if (e.type != SlotEvent::Type::FirstFrame && !p->slot->started()) {
            p->failed = true;
            p->failure = e.type == SlotEvent::Type::Error ? "libvlc could not decode the file"
                         : p->kind == MediaKind::Audio    ? "the file ended before any sound"
                                                          : kEndedBeforePicture;
        } else if (e.type == SlotEvent::Type::Error && p == onAir_.get()) {
            p->failed = true;  // the last frame stays on screen until the slot ends
            p->failure = "decoding failed during the play";
        }
    }
}

// Where the schedule says the screen should be at `now`, and getting it there.
void Engine::step(std::int64_t now) {
    watchWallClock(now);
    dropFailedNext();
    if (reevaluate_ || now >= segmentEndWallMs_) evaluate(now);
    if (target_) {
        if (!bringTargetOnAir()) return;  // it failed: handled on the next turn, at once
    } else if (!prerollNext(now)) {
        return;
    }
    present();
}

// A stepped wall clock (NTP, an RTC reset) is journalled and the plan is taken again.
void Engine::watchWallClock(std::int64_t now) {
    auto jump = clockWatch_.observe(now, steadyMs());
    if (!jump) return;
    engineLog().warning("player %s: wall clock jumped %s ms", config_.playerId, std::to_string(jump->deltaMs()));
    journalEvent(clockJumpRecord(*jump, bundle_ ? bundle_->version : 0));
    next_.reset();
    prerolled_ = false;
    reevaluate_ = true;
}

// The prepared item did not open in time or failed: journalled, and its media
// leave the rotation until the next bundle.
void Engine::dropFailedNext() {
    if (next_ && !next_->ready && !next_->failed && steadyMs() - next_->openedSteadyMs > config_.openTimeoutMs) {
        next_->failed = true;
        next_->failure = std::string(next_->kind == MediaKind::Audio ? "no sound" : "no picture") + " within " +
                         std::to_string(config_.openTimeoutMs) + " ms";
    }
    if (!next_ || !next_->failed) return;
    if (next_->joinedAtMs > 0 && next_->kind == MediaKind::Video && next_->failure == kEndedBeforePicture) {
        // Joined so close to its end that the clip ended before a picture: that
        // says nothing about the media. What is on screen stays until the next item.
        engineLog().warning("player %s: media %s joined %s ms in ended before a picture; waiting for the next item",
                            config_.playerId, next_->decision.mediaSha256, std::to_string(next_->joinedAtMs));
        unplayableSlot_ = next_->decision;
        next_.reset();
        prerolled_ = false;
        return;
    }
    recordFailure(*next_, next_->failure);
    brokenMedia_[next_->decision.mediaSha256] = next_->failure;
    next_.reset();
    // Its slot gets a stand-in (resolve()); pre-roll that for the same boundary
    // at once, or put it on air now if the slot has already begun.
    prerolled_ = false;
    if (target_) reevaluate_ = true;
}

void Engine::adoptPendingBundle() {
    if (!pendingBundle_) return;
    bundle_ = std::move(pendingBundle_);
    pendingBundle_.reset();
    brokenMedia_.clear();
    unplayableSlot_.reset();
    rebuildSchedule();
}

// A segment ended (or something changed): what the schedule wants now.
void Engine::evaluate(std::int64_t now) {
    const std::int64_t boundary = segmentEndWallMs_;
    adoptPendingBundle();
    schedule::Decision d;
    if (haveSchedule_) {
        d = resolve(schedule::evaluate(schedule_, now));
    } else {
        d.state = schedule::State::Idle;
        d.nextChangeUtcMs = now + 1000;
    }
    if (now < headUntilWallMs_) {  // show_head: the status card with the QR code until then
        d = schedule::Decision{};
        d.state = schedule::State::Idle;
        d.nextChangeUtcMs = headUntilWallMs_;
    }
    const bool onTime = !reevaluate_;
    reevaluate_ = false;
    prerolled_ = false;
    if (d.state == schedule::State::Playing && sameItem(d, current_) && (onAir_ || target_)) {
        segmentEndWallMs_ = d.nextChangeUtcMs;  // the same item goes on
        current_ = d;
        return;
    }
    if (current_.state == schedule::State::Dark && d.state != schedule::State::Dark) journalScreenOff(now);
    if (d.state != schedule::State::Playing) {
        target_.reset();
        next_.reset();
        if (d.state != current_.state || onAir_) enterDecision(d);
        current_ = d;
        segmentEndWallMs_ = d.nextChangeUtcMs;
        publishNowPlaying();
        return;
    }
    target_ = d;
    targetBoundaryWallMs_ = onTime ? boundary : now;
    current_ = d;
    segmentEndWallMs_ = d.nextChangeUtcMs;
}

// Opens the wanted item if needed and puts it on air once it shows a frame.
// False when preparing it failed.
bool Engine::bringTargetOnAir() {
    if (unplayableSlot_ && sameItem(*unplayableSlot_, *target_)) {
        target_.reset();  // what is on screen stays; the next item is pre-rolled as usual
        return true;
    }
    if (!next_ || !sameItem(next_->decision, *target_)) {
        next_ = prepare(*target_, std::max<std::int64_t>(0, wallNow() - target_->itemStartUtcMs));
        if (next_->failed) return false;
    }
    if (next_->ready) {
        goOnAir(std::move(next_), targetBoundaryWallMs_);
        target_.reset();
    }
    return true;
}

// Pre-rolls what comes at the next boundary (after an item, or when the screen
// opens) once it is prerollMs away. False when preparing it failed.
bool Engine::prerollNext(std::int64_t now) {
    if (!(haveSchedule_ || pendingBundle_) || next_ || prerolled_ || now < segmentEndWallMs_ - config_.prerollMs)
        return true;
    prerolled_ = true;
    adoptPendingBundle();
    if (!haveSchedule_) return true;
    schedule::Decision nd = resolve(schedule::evaluate(schedule_, segmentEndWallMs_));
    if (nd.state != schedule::State::Playing || sameItem(nd, current_)) return true;
    next_ = prepare(nd, nd.offsetMs);
    return !next_->failed;
}

// What the engine draws itself, the status card's clock, and the preview file.
void Engine::present() {
    if (onAir_ && onAir_->drawsItself())
        drawOnAir(false);
    else if (!onAir_ && current_.state == schedule::State::Idle && cardSecond_ >= 0)
        showStatusCard(false);

    std::int64_t nowSteady = steadyMs();
    if (!config_.previewPath.empty() && nowSteady - lastPreviewSteadyMs_ >= config_.previewIntervalMs &&
        (segmentEndWallMs_ - wallNow() > 300 || current_.state != schedule::State::Playing)) {
        lastPreviewSteadyMs_ = nowSteady;
        writePreview();
    }
}

// Sleeps until the next thing to do, or a command or libvlc event.
void Engine::waitForWork() {
    std::int64_t waitMs = 250;
    std::int64_t wallDelta = segmentEndWallMs_ - wallNow();
    waitMs = std::min(waitMs, wallDelta);
    if ((haveSchedule_ || pendingBundle_) && !prerolled_ && !next_)
        waitMs = std::min(waitMs, wallDelta - config_.prerollMs);
    if (target_ || (next_ && !next_->ready)) waitMs = std::min<std::int64_t>(waitMs, 20);
    if (next_ && next_->failed) waitMs = 0;  // handled at the start of the next step
    if (onAir_ && onAir_->drawsItself())
        waitMs = std::min(waitMs, onAir_->nextDrawSteadyMs - steadyMs());
    else if (!onAir_ && cardSecond_ >= 0)
        waitMs = std::min(waitMs, 1000 - wallNow() % 1000);
    waitMs = std::max<std::int64_t>(waitMs, 0);
    std::unique_lock lock(commandMutex_);
    wake_.wait_for(lock, std::chrono::milliseconds(waitMs), [&] { return !commands_.empty() || !events_.empty(); });
}

}  // namespace microscape::player
