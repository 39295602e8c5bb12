#include "microscape/pack/probe.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include <vlc/vlc.h>

namespace microscape::pack {

namespace {

// libvlc reads a still's size from its header alone, so a PNG or JPEG cut off
// after its header would probe as fine; a complete file ends with its marker.
bool stillIsComplete(int fd, std::string_view mime, std::uint64_t size) {
    if (mime != "image/png" && mime != "image/jpeg") return true;
    std::uint64_t tailLen = std::min<std::uint64_t>(size, 1024);
    std::string tail(tailLen, '\0');
    ssize_t n = ::pread(fd, tail.data(), tailLen, static_cast<off_t>(size - tailLen));
    if (n != static_cast<ssize_t>(tailLen)) return false;
    if (mime == "image/png") {
        static const std::string kIend("\x00\x00\x00\x00IEND\xAE\x42\x60\x82", 12);
        return tail.size() >= 12 && tail.compare(tail.size() - 12, 12, kIend) == 0;
    }
    return tail.find("\xFF\xD9") != std::string::npos;  // JPEG end-of-image
}

// Whether an ISO base media file (MP4, MOV) is cut off: a top-level box runs
// past the end of the file, or the file ends without its index (moov). Gives
// the offset where it breaks, or nullopt when the boxes are whole.
std::optional<std::uint64_t> isoBoxesCutAt(int fd, std::uint64_t size) {
    std::uint64_t off = 0;
    bool moov = false;
    while (off + 8 <= size) {
        unsigned char h[16];
        if (::pread(fd, h, 16, static_cast<off_t>(off)) < 8) return off;
        std::uint64_t len =
            (std::uint64_t(h[0]) << 24) | (std::uint64_t(h[1]) << 16) | (std::uint64_t(h[2]) << 8) | h[3];
        if (std::memcmp(h + 4, "moov", 4) == 0) moov = true;
        if (len == 1) {
            len = 0;
            for (int i = 8; i < 16; ++i) len = (len << 8) | h[i];
        } else if (len == 0) {
            len = size - off;
        }
        if (len < 8) return off;
        if (off + len > size) return off;
        off += len;
    }
    if (!moov) return off;
    return std::nullopt;
}

std::string kib(std::uint64_t bytes) {
    if (bytes < 10 * 1024) return std::to_string(bytes) + " bytes";
    if (bytes < 10 * 1024 * 1024) return std::to_string(bytes / 1024) + " KB";
    return std::to_string(bytes / (1024 * 1024)) + " MB";
}

DetectedType sniffFd(int fd) {
    char head[kMediaSniffBytes];
    std::size_t got = 0;
    while (got < sizeof head) {
        ssize_t n = ::pread(fd, head + got, sizeof head - got, static_cast<off_t>(got));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        got += static_cast<std::size_t>(n);
    }
    return detectMediaKind(std::string_view(head, got));
}

// libvlc logs many harmless lines (hardware decoder probing); the prober is
// quiet, callers learn about failures from its results.
void dropLog(void*, int, const libvlc_log_t*, const char*, va_list) {}

// The picture size a JPEG's frame header (SOFn) states; nullopt if none is
// found in the first 1 MiB. (A decoder pads its picture: 180 lines decode as 192.)
std::optional<std::pair<int, int>> jpegSize(int fd) {
    std::vector<unsigned char> b(1 << 20);
    ssize_t n = ::pread(fd, b.data(), b.size(), 0);
    if (n < 4 || b[0] != 0xFF || b[1] != 0xD8) return std::nullopt;
    std::size_t i = 2;
    while (i + 9 < static_cast<std::size_t>(n)) {
        if (b[i] != 0xFF) return std::nullopt;
        const unsigned char m = b[i + 1];
        if (m == 0xFF) {  // fill byte
            ++i;
            continue;
        }
        const std::size_t len = (static_cast<std::size_t>(b[i + 2]) << 8) | b[i + 3];
        if (m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC)
            return std::pair{(b[i + 7] << 8) | b[i + 8], (b[i + 5] << 8) | b[i + 6]};
        if (len < 2) return std::nullopt;
        i += 2 + len;
    }
    return std::nullopt;
}

// The picture size an MPEG-1/2 sequence header states (horizontal_size and
// vertical_size), from the first 4 MiB of a program or transport stream.
std::optional<std::pair<int, int>> mpegSequenceSize(int fd) {
    std::vector<unsigned char> b(4 << 20);
    ssize_t n = ::pread(fd, b.data(), b.size(), 0);
    for (ssize_t i = 0; i + 7 < n; ++i)
        if (b[i] == 0 && b[i + 1] == 0 && b[i + 2] == 1 && b[i + 3] == 0xB3) {
            const int w = (b[i + 4] << 4) | (b[i + 5] >> 4), h = ((b[i + 5] & 0x0F) << 8) | b[i + 6];
            if (w > 0 && h > 0) return std::pair{w, h};
        }
    return std::nullopt;
}

// The first picture libvlc really decodes, for files whose header does not give
// a picture size to the parser (a CMYK JPEG, an MPEG-2 transport stream): the
// decoder's format gives the size, the picture is drawn small and thrown away.
class FirstPicture {
  public:
    struct Outcome {
        bool decoded = false;
        unsigned width = 0, height = 0;
        std::int64_t lengthMs = 0;
        std::string why;  // when not decoded
    };

    // audio: wait for the first decoded sample instead of a picture.
    static Outcome decode(libvlc_instance_t* vlc, libvlc_media_t* media, int timeoutMs, bool audio = false) {
        FirstPicture fp;
        libvlc_media_player_t* mp = libvlc_media_player_new_from_media(media);
        if (!mp) return {false, 0, 0, 0, "libvlc could not open it for decoding"};
        (void)vlc;
        if (audio) {
            libvlc_audio_set_callbacks(mp, &FirstPicture::playCb, nullptr, nullptr, nullptr, nullptr, &fp);
            libvlc_audio_set_format(mp, "S16N", 44100, 2);
        } else {
            libvlc_video_set_callbacks(mp, &FirstPicture::lockCb, nullptr, &FirstPicture::displayCb, &fp);
            libvlc_video_set_format_callbacks(mp, &FirstPicture::formatCb, nullptr);
        }
        libvlc_event_manager_t* em = libvlc_media_player_event_manager(mp);
        libvlc_event_attach(em, libvlc_MediaPlayerEndReached, &FirstPicture::eventCb, &fp);
        libvlc_event_attach(em, libvlc_MediaPlayerEncounteredError, &FirstPicture::eventCb, &fp);
        Outcome out;
        if (libvlc_media_player_play(mp) != 0) {
            out.why = "libvlc could not start decoding it";
        } else {
            std::unique_lock lock(fp.mutex_);
            fp.cv_.wait_for(lock, std::chrono::milliseconds(timeoutMs), [&] { return fp.displayed_ || fp.stopped_; });
            // The decoder asks for a picture format once it has decoded a picture;
            // a slow machine may drop that picture as late before it is shown.
            out.decoded = fp.displayed_ || fp.formatSeen_;
            out.width = fp.width_;
            out.height = fp.height_;
            if (!out.decoded)
                out.why = fp.stopped_ ? (audio ? "it ended before any sound" : "it ended before any picture")
                                      : (audio ? "no sound within the time" : "no picture within the time");
        }
        if (out.decoded) out.lengthMs = libvlc_media_player_get_length(mp);
        libvlc_media_player_stop(mp);
        libvlc_event_detach(em, libvlc_MediaPlayerEndReached, &FirstPicture::eventCb, &fp);
        libvlc_event_detach(em, libvlc_MediaPlayerEncounteredError, &FirstPicture::eventCb, &fp);
        libvlc_media_player_release(mp);
        return out;
    }

  private:
    // The decoder's picture size is kept; the picture itself is asked for small.
    static unsigned formatCb(void** opaque, char* chroma, unsigned* width, unsigned* height, unsigned* pitches,
                             unsigned* lines) {
        auto* self = static_cast<FirstPicture*>(*opaque);
        {
            std::lock_guard lock(self->mutex_);
            self->width_ = *width;
            self->height_ = *height;
            self->formatSeen_ = true;
        }
        const unsigned side = 64;
        unsigned w = std::max(1u, std::min(*width, side)), h = std::max(1u, std::min(*height, side));
        std::memcpy(chroma, "RV32", 4);
        *width = w;
        *height = h;
        *pitches = w * 4;
        *lines = h;
        self->picture_.assign(static_cast<std::size_t>(w) * h * 4, 0);
        return 1;
    }
    static void* lockCb(void* opaque, void** planes) {
        auto* self = static_cast<FirstPicture*>(opaque);
        planes[0] = self->picture_.data();
        return nullptr;
    }
    static void displayCb(void* opaque, void*) {
        auto* self = static_cast<FirstPicture*>(opaque);
        {
            std::lock_guard lock(self->mutex_);
            self->displayed_ = true;
        }
        self->cv_.notify_all();
    }
    static void playCb(void* opaque, const void*, unsigned count, std::int64_t) {
        if (count == 0) return;
        displayCb(opaque, nullptr);
    }
    static void eventCb(const libvlc_event_t*, void* opaque) {
        auto* self = static_cast<FirstPicture*>(opaque);
        {
            std::lock_guard lock(self->mutex_);
            self->stopped_ = true;
        }
        self->cv_.notify_all();
    }

    std::mutex mutex_;
    std::condition_variable cv_;
    std::vector<char> picture_;
    unsigned width_ = 0, height_ = 0;
    bool displayed_ = false, stopped_ = false, formatSeen_ = false;
};
}  // namespace

void MediaProber::VlcFree::operator()(libvlc_instance_t* p) const {
    libvlc_release(p);
}

Result<MediaProber> MediaProber::create() {
    const char* args[] = {"--quiet",    "--intf=dummy", "--aout=dummy", "--vout=dummy", "--no-video-title-show",
                          "--no-stats", "--no-lua",     "--no-spu",     "--no-osd",     "--text-renderer=none"};
    libvlc_instance_t* vlc = libvlc_new(static_cast<int>(sizeof args / sizeof args[0]), args);
    if (!vlc) return makeError(Errc::Internal, "libvlc could not start (is vlc-plugin-base installed?)");
    libvlc_log_set(vlc, dropLog, nullptr);
    return MediaProber(vlc);
}

MediaProber::MediaProber(MediaProber&&) noexcept = default;
MediaProber& MediaProber::operator=(MediaProber&&) noexcept = default;
MediaProber::~MediaProber() = default;

Result<DetectedType> sniffFile(const std::string& path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return makeError(Errc::Io, "cannot open " + path + ": " + std::strerror(errno));
    auto t = sniffFd(fd);
    ::close(fd);
    return t;
}

Result<MediaInfo> MediaProber::probe(const std::string& path, bool requireDecodable, int timeoutMs) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return makeError(Errc::Io, "cannot open " + path + ": " + std::strerror(errno));
    auto r = probeFd(fd, path, requireDecodable, timeoutMs);
    ::close(fd);
    return r;
}

Result<MediaInfo> MediaProber::probeFd(int fd, const std::string& path, bool requireDecodable, int timeoutMs,
                                       Refusal* refusal) {
    auto refuse = [&](const char* code, std::string message) -> Result<MediaInfo> {
        if (refusal) refusal->code = code;
        return makeError(Errc::BadMedia, std::move(message));
    };
    struct stat st {};
    if (::fstat(fd, &st) != 0) return makeError(Errc::Io, "cannot stat " + path + ": " + std::strerror(errno));
    if (!S_ISREG(st.st_mode)) return makeError(Errc::BadMedia, path + " is not a regular file");
    const auto type = sniffFd(fd);
    MediaInfo info;
    info.kind = type.kind;
    info.mime = std::string(type.mime);
    info.sizeBytes = static_cast<std::uint64_t>(st.st_size);
    if (info.kind == MediaKind::Unknown)
        return refuse("unknown_format", path +
                                            " is not an image, video or audio format Microscape knows; upload a "
                                            "JPEG, PNG, WebP or GIF picture, an MP4, MPEG-TS, AVI, WebM or MKV clip "
                                            "or an MP3, M4A, WAV, OGG or FLAC sound");
    if (info.kind == MediaKind::Text) return info;
    const bool visual = info.kind == MediaKind::Video || info.kind == MediaKind::Image;
    const std::string size = kib(info.sizeBytes);
    if (requireDecodable && info.kind == MediaKind::Image && !stillIsComplete(fd, info.mime, info.sizeBytes))
        return refuse("truncated", "the file ends after " + size +
                                       " without the end-of-image marker: truncated? Upload the complete file again");
    const bool iso = info.mime == "video/mp4" || info.mime == "video/quicktime" || info.mime == "audio/mp4";
    if (requireDecodable && iso)
        if (auto cut = isoBoxesCutAt(fd, info.sizeBytes))
            return refuse("truncated", "the file ends after " + size + " although its structure goes on (" +
                                           (*cut < info.sizeBytes ? "a part runs past the end" : "no index (moov)") +
                                           "): truncated? Upload the complete file again");

    // libvlc's preparser skips fd:// media; the descriptor's /proc path is a
    // local file to it (and works where the file's own path is out of reach).
    const std::string fdPath = "/proc/self/fd/" + std::to_string(fd);
    std::unique_ptr<libvlc_media_t, void (*)(libvlc_media_t*)> media(libvlc_media_new_path(vlc_.get(), fdPath.c_str()),
                                                                     libvlc_media_release);
    if (!media) return makeError(Errc::Internal, "libvlc cannot open " + path);
    if (libvlc_media_parse_with_options(media.get(), libvlc_media_parse_local, timeoutMs) != 0)
        return makeError(Errc::Internal, "libvlc refused to parse " + path);
    // Parsing runs on libvlc's thread; poll its status rather than calling back
    // into libvlc from an event callback.
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeoutMs + 1000);
    libvlc_media_parsed_status_t status;
    while ((status = libvlc_media_get_parsed_status(media.get())) == 0) {
        if (std::chrono::steady_clock::now() > deadline) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    if (status != libvlc_media_parsed_status_done) {
        if (requireDecodable)
            return refuse(visual ? "no_picture" : "no_sound",
                          "the file (" + size + ") could not be read as " + (visual ? "a picture or clip" : "sound") +
                              ": damaged or not what its first bytes say? Export it again and upload the new file");
        return info;
    }
    libvlc_time_t dur = libvlc_media_get_duration(media.get());
    if (info.kind != MediaKind::Image && dur > 0) info.durationMs = dur;

    libvlc_media_track_t** tracks = nullptr;
    unsigned count = libvlc_media_tracks_get(media.get(), &tracks);
    bool hasVideo = false, hasAudio = false;
    auto fourcc = [](std::uint32_t c) {
        std::string s;
        for (int i = 0; i < 4; ++i) {
            const char ch = static_cast<char>((c >> (8 * i)) & 0xFF);
            if (ch > ' ' && ch < 127) s += ch;
        }
        return s;
    };
    std::string audioCodec;
    for (unsigned i = 0; i < count; ++i) {
        if (tracks[i]->i_type == libvlc_track_video && tracks[i]->video) {
            hasVideo = true;
            if (info.codec.empty()) info.codec = fourcc(tracks[i]->i_codec);
            if (info.width == 0) {
                info.width = static_cast<int>(tracks[i]->video->i_width);
                info.height = static_cast<int>(tracks[i]->video->i_height);
            }
        } else if (tracks[i]->i_type == libvlc_track_audio) {
            hasAudio = true;
            if (audioCodec.empty()) audioCodec = fourcc(tracks[i]->i_codec);
        }
    }
    if (tracks) libvlc_media_tracks_release(tracks, count);
    if (info.codec.empty()) info.codec = audioCodec;
    if (!requireDecodable) return info;
    // A file is accepted only when a picture (for sound, a sample) really
    // decodes: a header alone proves nothing (a CMYK JPEG or an MPEG-2 transport
    // stream gives the parser no size; a cut-off file may have a whole header).
    const bool audio = info.kind == MediaKind::Audio;
    if (visual) libvlc_media_add_option(media.get(), ":no-audio");
    auto first = FirstPicture::decode(vlc_.get(), media.get(), timeoutMs, audio);
    if (!first.decoded) {
        if (audio)
            return refuse("no_sound", "no sound in the file (" + size + ") could be decoded (" + first.why +
                                          "): damaged or truncated? Export it again as MP3 or M4A");
        return refuse("no_picture", "no picture in the file (" + size + ") could be decoded (" + first.why +
                                        "): damaged, truncated or in a codec the screens cannot decode? Export it "
                                        "again as H.264 MP4 (clips) or JPEG/PNG (pictures)");
    }
    if (visual) {
        hasVideo = true;
        if (info.width <= 0 || info.height <= 0) {
            // The size the file states, where it can be read; else the decoder's.
            std::optional<std::pair<int, int>> stated;
            if (info.mime == "image/jpeg") stated = jpegSize(fd);
            if (info.mime == "video/mp2t" || info.mime == "video/mpeg") stated = mpegSequenceSize(fd);
            info.width = stated ? stated->first : static_cast<int>(first.width);
            info.height = stated ? stated->second : static_cast<int>(first.height);
        }
    }
    if ((info.kind == MediaKind::Video || audio) && info.durationMs <= 0 && first.lengthMs > 0)
        info.durationMs = first.lengthMs;
    if (visual && (!hasVideo || info.width <= 0 || info.height <= 0))
        return refuse("no_picture", "the file (" + size +
                                        ") holds no picture of a known size; export it again as H.264 MP4 (clips) "
                                        "or JPEG/PNG (pictures)");
    if (audio && !hasAudio) return refuse("no_sound", "the file holds no sound track; export it again as MP3 or M4A");
    if ((info.kind == MediaKind::Video || audio) && info.durationMs <= 0)
        return refuse("no_duration",
                      "the length of the clip cannot be known (no duration in it and none found by playing it); "
                      "export it again as MP4");
    return info;
}

}  // namespace microscape::pack
