#include "playback_slot.hpp"

#include <vlc/vlc.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <thread>

namespace microscape::player {

PictureInfo probePicture(libvlc_instance_t* vlc, const std::string& path, int timeoutMs) {
    PictureInfo info;
    libvlc_media_t* m = libvlc_media_new_path(vlc, path.c_str());
    if (!m) return info;
    if (libvlc_media_parse_with_options(m, libvlc_media_parse_local, timeoutMs) == 0) {
        auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeoutMs + 50);
        while (libvlc_media_get_parsed_status(m) == 0 && std::chrono::steady_clock::now() < deadline)
            std::this_thread::sleep_for(std::chrono::milliseconds(2));
        info.parsed = libvlc_media_get_parsed_status(m) == libvlc_media_parsed_status_done;
        libvlc_media_track_t** tracks = nullptr;
        unsigned n = libvlc_media_tracks_get(m, &tracks);
        for (unsigned i = 0; i < n; ++i) {
            if (tracks[i]->i_type == libvlc_track_video && tracks[i]->video && tracks[i]->video->i_width > 0) {
                info.width = static_cast<int>(tracks[i]->video->i_width);
                info.height = static_cast<int>(tracks[i]->video->i_height);
                info.frameRateNum = tracks[i]->video->i_frame_rate_num;
                info.frameRateDen = tracks[i]->video->i_frame_rate_den;
                if (tracks[i]->video->i_sar_num && tracks[i]->video->i_sar_den) {
                    info.sarNum = tracks[i]->video->i_sar_num;
                    info.sarDen = tracks[i]->video->i_sar_den;
                }
                break;
            }
        }
        if (tracks) libvlc_media_tracks_release(tracks, n);
    }
    libvlc_media_release(m);
    return info;
}

FitRect fitPicture(int srcW, int srcH, unsigned sarNum, unsigned sarDen, int outW, int outH, schedule::Fit fit) {
    FitRect r;
    if (srcW <= 0 || srcH <= 0 || sarNum == 0 || sarDen == 0) {
        r.decodeW = r.copyW = outW;
        r.decodeH = r.copyH = outH;
        return r;
    }
    double dispW = static_cast<double>(srcW) * sarNum / sarDen, dispH = srcH;
    double sx = outW / dispW, sy = outH / dispH;
    double s = fit == schedule::Fit::Fill ? std::max(sx, sy) : std::min(sx, sy);
    r.decodeW = std::max(2, static_cast<int>(std::lround(dispW * s)));
    r.decodeH = std::max(2, static_cast<int>(std::lround(dispH * s)));
    if (fit == schedule::Fit::Fill) {
        r.decodeW = std::max(r.decodeW, outW);
        r.decodeH = std::max(r.decodeH, outH);
        r.srcX = (r.decodeW - outW) / 2;
        r.srcY = (r.decodeH - outH) / 2;
        r.copyW = outW;
        r.copyH = outH;
    } else {
        r.decodeW = std::min(r.decodeW, outW);
        r.decodeH = std::min(r.decodeH, outH);
        r.dstX = (outW - r.decodeW) / 2;
        r.dstY = (outH - r.decodeH) / 2;
        r.copyW = r.decodeW;
        r.copyH = r.decodeH;
    }
    return r;
}

PlaybackSlot::PlaybackSlot(std::uint64_t id, libvlc_instance_t* vlc, int outW, int outH, SlotSink sink, FrameTap tap)
    : id_(id), vlc_(vlc), outW_(outW), outH_(outH), sink_(std::move(sink)), tap_(std::move(tap)) {}

PlaybackSlot::~PlaybackSlot() {
    stop();
}

bool PlaybackSlot::open(const SlotMedia& media) {
    stop();
    fit_ = fitPicture(media.sourceWidth, media.sourceHeight, media.sarNum, media.sarDen, outW_, outH_, media.fit);
    decode_.assign(static_cast<std::size_t>(fit_.decodeW) * fit_.decodeH * 4, 0);
    {
        std::lock_guard lock(frameMutex_);
        front_.assign(static_cast<std::size_t>(outW_) * outH_ * 4, 0);
    }
    frames_.store(0);
    onAirFrames_.store(0);
    lastOnAirFrameUs_.store(0);
    longestGapUs_.store(0);
    lateFrames_.store(0);
    droppedFrames_.store(0);
    frameIntervalUs_ = media.kind == MediaKind::Video ? std::max<std::int64_t>(0, media.frameIntervalUs) : 0;
    stallDisplayMs_ = media.stallDisplayMs;
    stallEveryFrames_ = media.stallEveryFrames;
    audioStarted_.store(false);
    audioOnly_ = media.kind == MediaKind::Audio;

    libvlc_media_t* m = libvlc_media_new_path(vlc_, media.path.c_str());
    if (!m) return false;
    if (media.kind == MediaKind::Image) {
        // Stills are held by the engine's timer, not by libvlc's image duration.
        libvlc_media_add_option(m, ":image-duration=-1");
    } else if (media.offsetMs > 0) {
        std::string opt = ":start-time=" + std::to_string(media.offsetMs / 1000) + "." +
                          std::to_string(1000 + media.offsetMs % 1000).substr(1);
        libvlc_media_add_option(m, opt.c_str());
    }
    // Audio-only media are decoded even when muted, so a broken file shows up as
    // one (":no-audio" would skip the decoder altogether).
    if (!media.audio && !audioOnly_) libvlc_media_add_option(m, ":no-audio");
    mp_ = libvlc_media_player_new_from_media(m);
    libvlc_media_release(m);
    if (!mp_) return false;
    if (audioOnly_ && !media.audio) libvlc_audio_set_mute(mp_, 1);
    libvlc_video_set_callbacks(mp_, &PlaybackSlot::lockCb, nullptr, &PlaybackSlot::displayCb, this);
    libvlc_video_set_format(mp_, "RV32", static_cast<unsigned>(fit_.decodeW), static_cast<unsigned>(fit_.decodeH),
                            static_cast<unsigned>(fit_.decodeW) * 4);
    libvlc_event_manager_t* em = libvlc_media_player_event_manager(mp_);
    libvlc_event_attach(em, libvlc_MediaPlayerEndReached, &PlaybackSlot::eventCb, this);
    libvlc_event_attach(em, libvlc_MediaPlayerEncounteredError, &PlaybackSlot::eventCb, this);
    if (audioOnly_) libvlc_event_attach(em, libvlc_MediaPlayerTimeChanged, &PlaybackSlot::eventCb, this);
    stopped_ = false;
    if (libvlc_media_player_play(mp_) != 0) {
        stop();
        return false;
    }
    return true;
}

void PlaybackSlot::setPaused(bool paused) {
    if (mp_) libvlc_media_player_set_pause(mp_, paused ? 1 : 0);
}

void PlaybackSlot::stop() {
    if (!mp_) return;
    onAir_.store(false);
    if (!stopped_) libvlc_media_player_stop(mp_);
    stopped_ = true;
    libvlc_event_manager_t* em = libvlc_media_player_event_manager(mp_);
    libvlc_event_detach(em, libvlc_MediaPlayerEndReached, &PlaybackSlot::eventCb, this);
    libvlc_event_detach(em, libvlc_MediaPlayerEncounteredError, &PlaybackSlot::eventCb, this);
    if (audioOnly_) libvlc_event_detach(em, libvlc_MediaPlayerTimeChanged, &PlaybackSlot::eventCb, this);
    libvlc_media_player_release(mp_);
    mp_ = nullptr;
}

Frame PlaybackSlot::snapshot() const {
    Frame f;
    if (frames_.load() == 0) return f;
    f.width = outW_;
    f.height = outH_;
    std::lock_guard lock(frameMutex_);
    f.bgrx = front_;
    return f;
}

void* PlaybackSlot::lockCb(void* opaque, void** planes) {
    auto* self = static_cast<PlaybackSlot*>(opaque);
    planes[0] = self->decode_.data();
    return nullptr;
}

void PlaybackSlot::composite() {
    const std::size_t outPitch = static_cast<std::size_t>(outW_) * 4;
    const std::size_t inPitch = static_cast<std::size_t>(fit_.decodeW) * 4;
    std::lock_guard lock(frameMutex_);
    // Letterbox bars stay as they were cleared in open() (black).
    for (int y = 0; y < fit_.copyH; ++y) {
        const std::uint8_t* src = decode_.data() + (fit_.srcY + y) * inPitch + fit_.srcX * 4;
        std::uint8_t* dst = front_.data() + (fit_.dstY + y) * outPitch + fit_.dstX * 4;
        std::memcpy(dst, src, static_cast<std::size_t>(fit_.copyW) * 4);
    }
}

void PlaybackSlot::displayCb(void* opaque, void*) {
    auto* self = static_cast<PlaybackSlot*>(opaque);
    self->composite();
    if (self->frames_.fetch_add(1) == 0) self->sink_(SlotEvent{SlotEvent::Type::FirstFrame, self->id_});
    if (self->onAir_.load()) {
        // Real time, not the engine's clock: libvlc shows frames in real time.
        const std::int64_t nowUs =
            std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now().time_since_epoch())
                .count();
        const std::int64_t prevUs = self->lastOnAirFrameUs_.exchange(nowUs);
        const std::uint64_t n = self->onAirFrames_.fetch_add(1) + 1;
        if (prevUs > 0) {
            const std::int64_t gapUs = nowUs - prevUs;
            if (gapUs > self->longestGapUs_.load()) self->longestGapUs_.store(gapUs);
            const std::int64_t t = self->frameIntervalUs_;
            if (t > 0) {
                // Frames due in the gap and never shown: round(gap / T) - 1.
                const std::int64_t due = (gapUs + t / 2) / t;
                if (due > 1) self->droppedFrames_.fetch_add(static_cast<std::uint64_t>(due - 1));
                // Shown more than one frame interval after it was due.
                if (gapUs > 2 * t) self->lateFrames_.fetch_add(1);
            }
        }
        if (self->stallDisplayMs_ > 0 && self->stallEveryFrames_ > 0 && n % self->stallEveryFrames_ == 0)
            std::this_thread::sleep_for(std::chrono::milliseconds(self->stallDisplayMs_));
    }
    if (self->onAir_.load() && self->tap_) {
        std::lock_guard lock(self->frameMutex_);
        self->tap_(self->id_, self->front_.data(), self->outW_, self->outH_);
    }
}

void PlaybackSlot::eventCb(const libvlc_event_t* ev, void* opaque) {
    auto* self = static_cast<PlaybackSlot*>(opaque);
    if (ev->type == libvlc_MediaPlayerTimeChanged) {
        if (ev->u.media_player_time_changed.new_time > 0 && !self->audioStarted_.exchange(true))
            self->sink_(SlotEvent{SlotEvent::Type::FirstFrame, self->id_});
        return;
    }
    SlotEvent e;
    e.slotId = self->id_;
    e.type = ev->type == libvlc_MediaPlayerEndReached ? SlotEvent::Type::EndReached : SlotEvent::Type::Error;
    self->sink_(e);
}

}  // namespace microscape::player
