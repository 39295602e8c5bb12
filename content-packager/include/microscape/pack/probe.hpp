// Media probing with libvlc: what a file is (from its content), how long it
// plays and its picture size. One MediaProber owns one libvlc instance; use it
// from one thread at a time (make one per thread if needed).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "microscape/core/media_kind.hpp"
#include "microscape/core/result.hpp"

struct libvlc_instance_t;

namespace microscape::pack {

struct MediaInfo {
    MediaKind kind = MediaKind::Unknown;
    std::string mime;
    std::int64_t durationMs = 0;  // 0 for stills, slogans and when unknown
    int width = 0;                // 0 when there is no picture
    int height = 0;
    std::uint64_t sizeBytes = 0;
    std::string codec;  // the first video (else audio) track's codec, libvlc's fourcc ("h264", "hevc", "VP90")
};

// Why a file is refused, as the upload API names it (docs/controller-api.md,
// "Refusal codes"): unknown_format, truncated, no_picture, no_sound, no_duration.
struct Refusal {
    std::string code;
};

class MediaProber {
  public:
    // Errors: Internal (libvlc could not start).
    static Result<MediaProber> create();
    MediaProber(MediaProber&&) noexcept;
    MediaProber& operator=(MediaProber&&) noexcept;
    ~MediaProber();

    // Detects the kind from the first bytes, then asks libvlc for duration and
    // picture size. With requireDecodable, an image, video or audio file that
    // libvlc cannot parse (or a video without a picture track) is refused.
    // Errors: Io, BadMedia (unknown kind or undecodable).
    Result<MediaInfo> probe(const std::string& path, bool requireDecodable = true, int timeoutMs = 5000);
    // The same for an open, seekable file (read with pread, and by libvlc through
    // /proc/self/fd/<fd>; the offset is left alone). Messages name the file `what`.
    // Errors: Io, BadMedia.
    // With requireDecodable, a picture (for audio, a sample) must really decode.
    // refusal, when given, receives the refusal code of a BadMedia error.
    Result<MediaInfo> probeFd(int fd, const std::string& what = "the file", bool requireDecodable = true,
                              int timeoutMs = 5000, Refusal* refusal = nullptr);

  private:
    struct VlcFree {
        void operator()(libvlc_instance_t* p) const;
    };
    explicit MediaProber(libvlc_instance_t* vlc) : vlc_(vlc) {}
    std::unique_ptr<libvlc_instance_t, VlcFree> vlc_;
};

// Content sniffing only (no libvlc): reads the first bytes of a file.
// Errors: Io.
Result<DetectedType> sniffFile(const std::string& path);

}  // namespace microscape::pack
