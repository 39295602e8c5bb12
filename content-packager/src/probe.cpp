#include "microscape/pack/probe.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>

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
}  // namespace

void MediaProber::VlcFree::operator()(libvlc_instance_t* p) const {
    libvlc_release(p);
}

Result<MediaProber> MediaProber::create() {
    const char* args[] = {"--quiet",    "--intf=dummy", "--aout=dummy", "--vout=dummy", "--no-video-title-show",
                          "--no-stats", "--no-lua"};
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

Result<MediaInfo> MediaProber::probeFd(int fd, const std::string& path, bool requireDecodable, int timeoutMs) {
    struct stat st {};
    if (::fstat(fd, &st) != 0) return makeError(Errc::Io, "cannot stat " + path + ": " + std::strerror(errno));
    if (!S_ISREG(st.st_mode)) return makeError(Errc::BadMedia, path + " is not a regular file");
    const auto type = sniffFd(fd);
    MediaInfo info;
    info.kind = type.kind;
    info.mime = std::string(type.mime);
    info.sizeBytes = static_cast<std::uint64_t>(st.st_size);
    if (info.kind == MediaKind::Unknown)
        return makeError(Errc::BadMedia, path + " is not a recognised image, video, audio or slogan file");
    if (info.kind == MediaKind::Text) return info;

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
        if (requireDecodable) return makeError(Errc::BadMedia, path + " could not be decoded (libvlc parse failed)");
        return info;
    }
    libvlc_time_t dur = libvlc_media_get_duration(media.get());
    if (info.kind != MediaKind::Image && dur > 0) info.durationMs = dur;

    libvlc_media_track_t** tracks = nullptr;
    unsigned count = libvlc_media_tracks_get(media.get(), &tracks);
    bool hasVideo = false, hasAudio = false;
    for (unsigned i = 0; i < count; ++i) {
        if (tracks[i]->i_type == libvlc_track_video && tracks[i]->video) {
            hasVideo = true;
            if (info.width == 0) {
                info.width = static_cast<int>(tracks[i]->video->i_width);
                info.height = static_cast<int>(tracks[i]->video->i_height);
            }
        } else if (tracks[i]->i_type == libvlc_track_audio) {
            hasAudio = true;
        }
    }
    if (tracks) libvlc_media_tracks_release(tracks, count);
    if (requireDecodable) {
        if ((info.kind == MediaKind::Video || info.kind == MediaKind::Image) &&
            (!hasVideo || info.width <= 0 || info.height <= 0))
            return makeError(Errc::BadMedia, path + " has no decodable picture");
        if (info.kind == MediaKind::Image && !stillIsComplete(fd, info.mime, info.sizeBytes))
            return makeError(Errc::BadMedia, path + " is cut off (no end-of-image marker)");
        if (info.kind == MediaKind::Audio && !hasAudio)
            return makeError(Errc::BadMedia, path + " has no decodable audio");
        if ((info.kind == MediaKind::Video || info.kind == MediaKind::Audio) && info.durationMs <= 0)
            return makeError(Errc::BadMedia, path + " has no known duration");
    }
    return info;
}

}  // namespace microscape::pack
