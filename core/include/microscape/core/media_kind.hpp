// Media kind detection from content (magic bytes), never from file names.
// Pure function; thread-safe.
#pragma once

#include <cstddef>
#include <string_view>

namespace microscape {

enum class MediaKind { Unknown, Image, Video, Audio, Text };

struct DetectedType {
    MediaKind kind = MediaKind::Unknown;
    std::string_view mime;  // e.g. "image/png"; empty when unknown
};

// Looks at the first bytes of a file (kMediaSniffBytes, or fewer when the file is
// shorter). Text slogans are JSON documents that start with
// {"microscape_slogan": 1, ...} within the first bytes (see docs/bundle-format.md)
// and are detected as Text.
constexpr std::size_t kMediaSniffBytes = 512;
DetectedType detectMediaKind(std::string_view head);

std::string_view mediaKindName(MediaKind kind);      // "image", "video", "audio", "text"
MediaKind mediaKindFromName(std::string_view name);  // Unknown if not one of the above

}  // namespace microscape
