// The playback engine: plays the active bundle's schedule with libvlc 3 as the
// core evaluator decides, pre-rolling the next item on a second media player so
// that the screen never shows black between items, and journals every play.
// Stills and videos come from libvlc; slogans, the card shown during audio-only
// items and the status card are drawn by the engine (docs/player-screen.md).
//
// Threads: one owner thread (started by start(), ended by stop()) owns all
// libvlc players and all playback state. Every public method may be called from
// any thread: setBundle/takeover/setClockSkew only post a command and wake the
// owner; nowPlaying/stats/snapshot/frameTrace read state under a mutex. libvlc's
// callbacks only enqueue. Journal appends, text drawing and the config's
// statusLines and onPlayback callbacks happen on the owner thread.
//
// The owner loop takes one turn at a time (loopOnce): drain the commands, apply
// the libvlc slot events, step(now) through the schedule, then wait for the next
// thing to do or a post. All wall and steady time comes from the config's Clock.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "microscape/core/clock.hpp"
#include "microscape/core/manifest.hpp"
#include "microscape/core/media_kind.hpp"
#include "microscape/core/result.hpp"
#include "microscape/core/schedule.hpp"
#include "microscape/player/engine_frame.hpp"
#include "microscape/player/journal.hpp"

struct libvlc_instance_t;

namespace microscape::player {

class Journal;
class PlaybackSlot;
class TextRenderer;
struct SlotEvent;
struct NowPlaying;
struct EngineStats;

struct EngineConfig {
    std::string playerId;
    // Shown on the status card; empty: the player id.
    std::string screenName;
    // Extra lines for the status card (e.g. "控制器已连接 / controller connected",
    // "版本 v12"), asked for on the owner thread at most once a second while the
    // card shows; must not block. May be empty.
    std::function<std::vector<std::string>()> statusLines;
    // Zone of the status card's clock until a schedule gives the location's (a
    // name under /usr/share/zoneinfo; when it cannot be read the card shows
    // UTC+08:00, labelled so, and the log says why).
    std::string timeZone = "Asia/Shanghai";
    // Font family for slogans and cards (fontconfig picks the nearest sans when
    // it is missing).
    std::string fontFamily = "Noto Sans CJK SC";
    int width = 1280;  // the screen's configured resolution; portrait or strips
    int height = 720;  // (1080x1920, 1920x540) work the same way
    // Frames are decoded into memory in both modes (a display window presents
    // snapshot()s). Headless: no sound device (--aout=dummy). Display: the system's
    // audio output, so items marked "audio" are heard.
    bool headless = true;
    // Preview image of the output (PNG), rewritten every previewIntervalMs; empty: none.
    std::string previewPath;
    int previewIntervalMs = 3000;
    // The next item is opened and decoded this long before its slot starts (or as
    // soon as the item before is on air, if that is later). Longer than
    // openTimeoutMs plus libvlc's probe, so that an item which cannot be shown is
    // known before its slot begins and its slot goes to a stand-in on time.
    int prerollMs = 6000;
    // An item that shows no frame this long after it was opened has failed.
    int openTimeoutMs = 4000;
    // Frame rate of what the engine draws itself (scrolling slogans).
    int drawnFps = 25;
    // Keep a trace of every frame shown (for tests and the bench; costs memory).
    bool traceFrames = false;
    // Wall and steady time; null: the system's. Must outlive the engine.
    const Clock* clock = nullptr;
    // Called on the owner thread whenever what nowPlaying() and stats() return
    // has changed (an item went on air, a state changed, a failure, a journal
    // error), with their new values; must only enqueue and return. May be empty.
    std::function<void(const NowPlaying&, const EngineStats&)> onPlayback;
    // Extra libvlc arguments (e.g. "--verbose=2").
    std::vector<std::string> vlcArgs;
    // Tests only (no config key): the display of every stallEveryFrames-th
    // video frame on air is held stallDisplayMs, as on a screen PC too slow for
    // the clip, so that libvlc really shows frames late or drops them. 0: never.
    int testStallDisplayMs = 0;
    int testStallEveryFrames = 0;
};

// What the sync agent activated: the verified manifest's schedule and version,
// and where the media files (named by their SHA-256) are.
struct ActiveBundle {
    std::string bundleId;
    std::int64_t version = 0;
    std::string manifestSha256;  // of the manifest.json bytes: what play records name
    schedule::Schedule schedule;
    std::string mediaDir;                    // <mediaDir>/<sha256>
    std::map<std::string, MediaKind> kinds;  // by sha256

    // From a manifest that has already been verified. Errors: BadManifest.
    static Result<ActiveBundle> fromManifest(const manifest::Manifest& m, std::string mediaDir);
    // Reads <manifestPath> (canonical manifest bytes, already verified when it
    // was activated). Errors: Io, and those of manifest::parse and fromManifest.
    static Result<ActiveBundle> load(const std::string& manifestPath, std::string mediaDir);
};

// An urgent takeover: a verified manifest of kind takeover reduced to what the
// engine needs. It interrupts at once; the schedule resumes where it would be.
struct TakeoverContent {
    std::string id;
    std::int64_t bundleVersion = 0;
    std::string manifestSha256;
    schedule::Playlist playlist;
    std::int64_t startUtcMs = 0;
    std::int64_t expiresUtcMs = 0;
    std::string mediaDir;
    std::map<std::string, MediaKind> kinds;

    // Takes the first takeover of the manifest's schedule. Errors: BadManifest.
    static Result<TakeoverContent> fromManifest(const manifest::Manifest& m, std::string mediaDir);
};

struct NowPlaying {
    schedule::State state = schedule::State::Idle;
    schedule::Source source = schedule::Source::None;
    std::string sourceId;
    std::string playlistId;
    std::string mediaSha256;
    std::size_t itemIndex = 0;
    std::int64_t onAirSinceUtcMs = 0;
    std::int64_t bundleVersion = 0;
};

struct EngineStats {
    std::int64_t plays = 0;          // items that went on air
    std::int64_t failed = 0;         // items skipped as undecodable
    std::int64_t blackFrames = 0;    // black frames shown while Playing
    std::int64_t firstFrameMs = -1;  // start() to the first frame on screen
    std::int64_t journalErrors = 0;  // proof-of-play appends that failed (each one logged)
    std::string lastJournalError;    // why the last one failed (empty: none has)
    // Per switch between two items: how late the new item went on air after its
    // scheduled start (ms). The last 1000.
    std::vector<double> switchLatenessMs;
    // Per video play that ended: frames shown on air, of them late, frames
    // dropped, and the longest time between two of them (ms; a freeze or
    // dropped frames), as its play record has them. The last 1000.
    struct VideoPlay {
        std::string mediaSha256;
        std::int64_t onAirMs = 0;
        std::uint64_t framesShown = 0;
        std::int64_t longestGapMs = 0;
        std::uint64_t framesLate = 0;
        std::uint64_t framesDropped = 0;
        std::string outcome;  // of its play record: "completed", "degraded", ...
    };
    std::vector<VideoPlay> videoPlays;
};

// One frame shown on screen (traceFrames).
struct FrameSample {
    std::int64_t steadyUs = 0;
    std::uint64_t playSerial = 0;  // which play (increments per item on air)
    std::string mediaSha256;       // empty for the status card or dark
    bool black = false;
    double luma = 0;
};

class Engine {
  public:
    // Makes the libvlc instance (headless: --aout=dummy, video into memory) and
    // routes its log into the Poco logger "player.vlc". journal may be null (no
    // proof of play). Errors: Usage (bad config), Internal (libvlc failed).
    static Result<std::unique_ptr<Engine>> create(EngineConfig config, Journal* journal);
    ~Engine();  // stop()s
    Engine(const Engine&) = delete;
    Engine& operator=(const Engine&) = delete;

    // Starts the owner thread; the first frame comes from the cache without waiting
    // for anything else. Idempotent.
    void start();
    // Ends the current play (journalled as interrupted) and joins the owner thread.
    void stop();

    // Activates a bundle at the next item boundary (at once if nothing plays).
    void setBundle(ActiveBundle bundle);
    // Shows a takeover now (if it has started) until it expires.
    void takeover(TakeoverContent content);
    // The player's last known clock offset against the controller, for the records.
    void setClockSkew(std::int64_t skewMs);
    // Shows the status card with `qrText` as a QR code (and caption under it)
    // instead of the schedule for forMs: the item on air is cut (journalled as
    // interrupted), and the schedule resumes where it would be.
    void showHead(std::string qrText, std::string caption, std::int64_t forMs);

    NowPlaying nowPlaying() const;
    EngineStats stats() const;
    // The frame on screen now (a copy); empty before the first one.
    Frame snapshot() const;
    std::vector<FrameSample> frameTrace() const;
    // The config clock's steady ms at the owner loop's last turn (for a watchdog reading the same clock).
    std::int64_t lastLoopSteadyMs() const { return lastLoopSteadyMs_.load(); }

  private:
    struct Play;
    struct Command;
    explicit Engine(EngineConfig config, Journal* journal);

    void post(Command c);
    void onSlotEvent(const SlotEvent& e);
    void run();
    // One turn of the owner loop; false once stop() was asked.
    bool loopOnce();
    void applyCommand(Command& c);
    void applySlotEvents(const std::deque<SlotEvent>& events);
    void step(std::int64_t now);
    void watchWallClock(std::int64_t now);
    void dropFailedNext();
    void evaluate(std::int64_t now);
    bool bringTargetOnAir();
    bool prerollNext(std::int64_t now);
    void present();
    void waitForWork();
    std::int64_t wallNow() const { return clock_.wallMs(); }
    std::int64_t steadyMs() const { return clock_.steadyMs(); }
    void adoptPendingBundle();
    void rebuildSchedule();
    schedule::Decision resolve(const schedule::Decision& d) const;
    std::string replacedMedia(const schedule::Decision& d) const;
    std::unique_ptr<Play> prepare(const schedule::Decision& d, std::int64_t extraOffsetMs);
    void goOnAir(std::unique_ptr<Play> next, std::int64_t scheduledStartWallMs);
    void endOnAir(bool interrupted);
    void recordFailure(Play& p, const std::string& why);
    // Appends to the proof-of-play journal (if any); a failure is logged,
    // counted in stats(), shown on the status card and reported to onPlayback.
    void journalEvent(pop::Record r);
    // The record of a dark period (outside operating hours) that ends now.
    void journalScreenOff(std::int64_t endWallMs);
    void notifyPlayback();
    void enterDecision(const schedule::Decision& d);
    void writePreview();
    void publishNowPlaying();
    void drawOnAir(bool force);  // next frame of a slogan or audio card
    void showStatusCard(bool force);
    std::int64_t localClockOffsetMs(std::int64_t utcMs) const;

    const EngineConfig config_;
    const Clock& clock_;
    Journal* journal_;
    struct VlcFree {
        void operator()(libvlc_instance_t* p) const;
    };
    std::unique_ptr<libvlc_instance_t, VlcFree> vlc_;
    std::thread thread_;
    std::atomic<std::int64_t> lastLoopSteadyMs_{0};
    std::unique_ptr<TextRenderer> text_;        // null when no font was found (cards are plain, slogans fail)
    std::vector<tz::OffsetSpan> clockOffsets_;  // of config_.timeZone, for the card's clock
    std::string clockZoneLabel_;                // shown beside it

    std::mutex commandMutex_;  // guards commands_, events_, wake_
    std::condition_variable wake_;
    std::deque<Command> commands_;
    std::deque<SlotEvent> events_;

    // Owner-thread state.
    bool running_ = false;
    std::optional<ActiveBundle> bundle_;
    std::optional<ActiveBundle> pendingBundle_;
    std::vector<TakeoverContent> takeovers_;
    std::map<std::string, std::string> brokenMedia_;    // sha256 -> why (their slots get stand-ins)
    std::optional<schedule::Decision> unplayableSlot_;  // a slot joined too late to show (held over)
    schedule::Schedule schedule_;
    bool haveSchedule_ = false;
    std::unique_ptr<Play> onAir_;
    std::unique_ptr<Play> next_;
    schedule::Decision current_;         // what is on screen (state Dark/Idle too)
    std::int64_t segmentEndWallMs_ = 0;  // when to evaluate again
    std::int64_t darkSinceWallMs_ = 0, darkSinceSteadyMs_ = 0;
    bool reevaluate_ = true;
    std::optional<schedule::Decision> target_;  // wanted on screen, waiting for its first frame
    std::int64_t targetBoundaryWallMs_ = 0;     // the boundary it was scheduled for
    bool prerolled_ = false;                    // the next boundary's item was prepared
    ClockWatch clockWatch_;
    std::uint64_t nextSlotId_ = 1;
    std::int64_t clockSkewMs_ = 0;
    // show_head: the QR text and caption on the status card until headUntilWallMs_.
    std::string headText_, headCaption_;
    std::int64_t headUntilWallMs_ = 0;
    std::int64_t startSteadyMs_ = 0;
    std::int64_t lastPreviewSteadyMs_ = 0;
    std::map<std::string, std::pair<int, int>> pictureSizes_;  // sha256 -> size cache
    std::map<std::string, std::int64_t> frameIntervalsUs_;     // sha256 -> 1 / frame rate (0: unknown)
    std::int64_t cardSecond_ = -1;                             // wall second the status card shows (-1: no card)

    mutable std::mutex stateMutex_;  // guards the members below (read by other threads)
    NowPlaying now_;
    EngineStats stats_;
    std::shared_ptr<PlaybackSlot> outputSlot_;  // the slot on screen, if any
    std::shared_ptr<const Frame> outputStill_;  // dark, a card, or a drawn frame
    std::vector<FrameSample> trace_;
    std::string traceMedia_;        // media of the play on air, for the tap
    std::uint64_t playSerial_ = 0;  // of the play on air, for the tap
};

}  // namespace microscape::player
