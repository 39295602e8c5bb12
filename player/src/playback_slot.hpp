// One item being played (or pre-rolled) by its own libvlc media player, decoding
// into memory (libvlc_video_set_callbacks, fixed RV32 format) and fitted into
// the screen's frame (letterbox or fill).
// Threads: open/setPaused/stop/snapshot are called by the engine's owner thread
// (snapshot also by any thread holding a shared_ptr); libvlc calls the video
// and event callbacks on its own threads, and those only touch frameMutex_ or
// atomics and post SlotEvents through the sink, which must not block.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "microscape/core/media_kind.hpp"
#include "microscape/core/schedule.hpp"
#include "microscape/player/engine_frame.hpp"

struct libvlc_instance_t;
struct libvlc_media_player_t;
struct libvlc_media_t;
struct libvlc_event_t;

namespace microscape::player {

struct SlotEvent {
    // FirstFrame: the first decoded picture; for audio-only media, the first
    // advance of the play position (the sound is being decoded).
    enum class Type { FirstFrame, EndReached, Error };
    Type type = Type::FirstFrame;
    std::uint64_t slotId = 0;
};

// Called from libvlc threads: must only enqueue.
using SlotSink = std::function<void(const SlotEvent&)>;
// Called on every frame shown while the slot is on air (libvlc's video thread).
using FrameTap = std::function<void(std::uint64_t slotId, const std::uint8_t* bgrx, int width, int height)>;

struct SlotMedia {
    std::string path;
    MediaKind kind = MediaKind::Unknown;
    schedule::Fit fit = schedule::Fit::Letterbox;
    bool audio = false;
    std::int64_t offsetMs = 0;  // start this far into a video
    int sourceWidth = 0;        // picture size (0: unknown, stretch)
    int sourceHeight = 0;
    unsigned sarNum = 1, sarDen = 1;
    // A video's frame interval (1 / frame rate, microseconds): the due time of
    // each frame after the one before. 0: unknown (no late or dropped counts).
    std::int64_t frameIntervalUs = 0;
    // Tests only: the display of every stallEveryFrames-th frame on air is held
    // this long, as a screen PC too slow for the clip would (libvlc then
    // shows the next frames late or drops them). 0: never.
    int stallDisplayMs = 0;
    int stallEveryFrames = 0;
};

// Picture size and sample aspect ratio of a media file, from libvlc's parser
// (blocking, at most timeoutMs). width 0 when there is no picture.
struct PictureInfo {
    int width = 0;
    int height = 0;
    unsigned sarNum = 1, sarDen = 1;
    unsigned frameRateNum = 0, frameRateDen = 0;  // 0: unknown
    bool parsed = false;
};
PictureInfo probePicture(libvlc_instance_t* vlc, const std::string& path, int timeoutMs);

class PlaybackSlot {
  public:
    PlaybackSlot(std::uint64_t id, libvlc_instance_t* vlc, int outW, int outH, SlotSink sink, FrameTap tap);
    ~PlaybackSlot();  // stops playback first
    PlaybackSlot(const PlaybackSlot&) = delete;
    PlaybackSlot& operator=(const PlaybackSlot&) = delete;

    std::uint64_t id() const { return id_; }
    // Starts decoding; the first decoded frame posts FirstFrame. False if libvlc
    // refused the file outright.
    bool open(const SlotMedia& media);
    void setPaused(bool paused);
    // While on air, shown frames go to the tap.
    void setOnAir(bool onAir) { onAir_.store(onAir); }
    // Blocks until libvlc's threads for this item have stopped; no callback runs after.
    void stop();

    bool hasFrame() const { return frames_.load() > 0; }
    // A picture was decoded, or (audio-only media) the play position advanced.
    bool started() const { return frames_.load() > 0 || audioStarted_.load(); }
    std::uint64_t framesShown() const { return frames_.load(); }
    // Frames shown while on air, and the longest time between two of them (a
    // freeze or a burst of dropped frames; a still shows one frame, so none).
    std::uint64_t onAirFrames() const { return onAirFrames_.load(); }
    std::int64_t longestGapMs() const { return longestGapUs_.load() / 1000; }
    // Of the frames on air, those shown more than one frame interval after they
    // were due, and the frames due in the gaps that were never shown
    // (docs/proof-of-play.md, "Frames"); 0 when the frame rate is unknown.
    std::uint64_t lateFrames() const { return lateFrames_.load(); }
    std::uint64_t droppedFrames() const { return droppedFrames_.load(); }
    // A copy of the latest fitted frame (empty before the first one).
    Frame snapshot() const;

  private:
    static void* lockCb(void* opaque, void** planes);
    static void displayCb(void* opaque, void* picture);
    static void eventCb(const libvlc_event_t* ev, void* opaque);
    void composite();

    const std::uint64_t id_;
    libvlc_instance_t* vlc_;
    const int outW_, outH_;
    SlotSink sink_;
    FrameTap tap_;
    libvlc_media_player_t* mp_ = nullptr;
    FitRect fit_;
    std::vector<std::uint8_t> decode_;  // written by libvlc between lock and display
    mutable std::mutex frameMutex_;     // guards front_
    std::vector<std::uint8_t> front_;   // outW x outH fitted frame
    std::atomic<std::uint64_t> frames_{0};
    std::atomic<bool> onAir_{false};
    std::atomic<std::uint64_t> onAirFrames_{0};
    std::atomic<std::int64_t> lastOnAirFrameUs_{0};  // steady clock; 0: none yet
    std::atomic<std::int64_t> longestGapUs_{0};
    std::atomic<std::uint64_t> lateFrames_{0};
    std::atomic<std::uint64_t> droppedFrames_{0};
    std::int64_t frameIntervalUs_ = 0;  // set in open(), read by libvlc's video thread after
    int stallDisplayMs_ = 0;
    int stallEveryFrames_ = 0;
    std::atomic<bool> audioStarted_{false};
    bool audioOnly_ = false;
    bool stopped_ = true;
};

}  // namespace microscape::player
