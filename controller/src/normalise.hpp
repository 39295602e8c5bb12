// Normalisation at upload and renditions per screen size (docs/controller-api.md
// "What happens to an upload"). Stills go through ImageMagick 6 (`identify`,
// `convert`), clips and animated GIFs through `ffmpeg`, each run in a confined
// process of its own (confined_run.hpp) on the untrusted file given as its
// standard input; the controller never decodes an upload itself. Functions are
// thread-safe (each call runs its own processes).
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include "microscape/core/result.hpp"

namespace microscape::controller {

struct NormaliseOptions {
    int timeoutMs = 60000;                   // one run (identify, convert, ffmpeg)
    std::uint64_t memoryBytes = 2ull << 30;  // address space of one run
    int maxSide = 3840;                      // stills: scaled down to this longest side
    std::uint64_t maxPixels = 100'000'000;   // stills: refused above this
    std::filesystem::path tmpDir;            // where outputs are written (the media store's tmp)
};

// What ImageMagick reads from a still's header (without decoding its pixels).
struct StillInfo {
    std::string format;                     // ImageMagick's name: JPEG, PNG, GIF, WEBP, BMP, AVIF
    int width = 0, height = 0;              // the first frame
    int canvasWidth = 0, canvasHeight = 0;  // a GIF's logical screen
    std::string colorspace;                 // sRGB, Gray, CMYK, ...
    int depth = 8;                          // bits per channel
    bool alpha = false;
    int orientation = 1;  // EXIF 1..8 (1 when none)
    int frames = 1;
    std::int64_t animationMs = 0;  // sum of the frames' delays (GIF)
};

// An upload that cannot be used: the code the API answers and a message that
// says what is wrong and what to do, without any server path.
struct Refused {
    std::string code;
    std::string message;
};

// A file made from the original, written under options.tmpDir.
struct DerivedFile {
    std::filesystem::path path;
    std::string kind;  // image or video
    std::string mime;
    int width = 0, height = 0;
    std::int64_t durationMs = 0;  // clips
    std::string transform;        // what was done, in words
};

struct NormaliseStep {
    std::string detail;  // for the log (may name paths): what ran and how it ended
};

// Reads a still's header. mime is what sniffing found (image/png, image/jpeg, ...).
// Errors: BadMedia with *refused filled (not a picture ImageMagick reads, too
// large), Internal (the tool could not run).
Result<StillInfo> inspectStill(const std::filesystem::path& file, const std::string& mime,
                               const NormaliseOptions& options, Refused* refused, NormaliseStep* step);

// Whether a still plays as it is: 8-bit sRGB JPEG or PNG, upright, opaque, one
// frame, within maxSide. Otherwise says what would be done.
bool stillPlaysAsIs(const StillInfo& info, const std::string& mime, int maxSide);

// Makes the normalised still (JPEG for a JPEG original, else PNG: upright, 8-bit
// sRGB, flattened over background "#RRGGBB", no larger than maxSide), or for an
// animated GIF a looping H.264 clip of at least 6 s. Errors: BadMedia with
// *refused (undecodable, truncated, limits exceeded), Internal, Io.
Result<DerivedFile> normaliseStill(const std::filesystem::path& file, const std::string& mime, const StillInfo& info,
                                   const std::string& background, const NormaliseOptions& options, Refused* refused,
                                   NormaliseStep* step);

// A rendition of a clip for a screen of boxWidth x boxHeight: H.264 main,
// yuv420p, no larger than the box (never enlarged), at most 30 frames/s, a
// bitrate for its size, AAC sound, MP4 with the index first.
// Errors: BadMedia (ffmpeg could not make it), Internal, Io.
Result<DerivedFile> makeRendition(const std::filesystem::path& file, int boxWidth, int boxHeight,
                                  const NormaliseOptions& options, NormaliseStep* step);

}  // namespace microscape::controller
