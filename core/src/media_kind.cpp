#include "microscape/core/media_kind.hpp"

namespace microscape {
namespace {

bool startsWith(std::string_view s, std::string_view prefix) {
    return s.size() >= prefix.size() && s.compare(0, prefix.size(), prefix) == 0;
}

bool at(std::string_view s, std::size_t pos, std::string_view what) {
    return s.size() >= pos + what.size() && s.compare(pos, what.size(), what) == 0;
}

}  // namespace

DetectedType detectMediaKind(std::string_view h) {
    using namespace std::string_view_literals;
    if (startsWith(h, "\x89PNG\r\n\x1a\n"sv)) return {MediaKind::Image, "image/png"};
    if (startsWith(h, "\xff\xd8\xff"sv)) return {MediaKind::Image, "image/jpeg"};
    if (startsWith(h, "GIF87a"sv) || startsWith(h, "GIF89a"sv)) return {MediaKind::Image, "image/gif"};
    if (startsWith(h, "RIFF"sv) && at(h, 8, "WEBP"sv)) return {MediaKind::Image, "image/webp"};
    if (startsWith(h, "BM"sv) && h.size() >= 26 && at(h, 6, "\0\0\0\0"sv)) return {MediaKind::Image, "image/bmp"};
    // ISO base media (MP4, MOV, M4A): a box size then "ftyp" and a brand.
    if (at(h, 4, "ftyp"sv)) {
        if (at(h, 8, "M4A "sv)) return {MediaKind::Audio, "audio/mp4"};
        if (at(h, 8, "qt  "sv)) return {MediaKind::Video, "video/quicktime"};
        if (at(h, 8, "avif"sv)) return {MediaKind::Image, "image/avif"};
        return {MediaKind::Video, "video/mp4"};
    }
    if (startsWith(h, "\x1a\x45\xdf\xa3"sv)) {
        if (h.find("webm"sv) != std::string_view::npos) return {MediaKind::Video, "video/webm"};
        return {MediaKind::Video, "video/x-matroska"};
    }
    // MPEG transport stream: sync bytes every 188 bytes; with only the head we
    // can check the first one and the one at 188 when present.
    if (h.size() > 188 && h[0] == 0x47 && h[188] == 0x47) return {MediaKind::Video, "video/mp2t"};
    if (startsWith(h, "\x00\x00\x01\xba"sv)) return {MediaKind::Video, "video/mpeg"};
    if (startsWith(h, "RIFF"sv) && at(h, 8, "AVI "sv)) return {MediaKind::Video, "video/x-msvideo"};
    if (startsWith(h, "RIFF"sv) && at(h, 8, "WAVE"sv)) return {MediaKind::Audio, "audio/wav"};
    if (startsWith(h, "OggS"sv)) return {MediaKind::Audio, "audio/ogg"};
    if (startsWith(h, "fLaC"sv)) return {MediaKind::Audio, "audio/flac"};
    if (startsWith(h, "ID3"sv)) return {MediaKind::Audio, "audio/mpeg"};
    if (h.size() >= 2 && static_cast<unsigned char>(h[0]) == 0xff &&
        (static_cast<unsigned char>(h[1]) & 0xe0) == 0xe0 && (static_cast<unsigned char>(h[1]) & 0x06) != 0)
        return {MediaKind::Audio, "audio/mpeg"};
    // Slogan documents: a JSON object carrying the marker key near its start.
    std::size_t i = 0;
    while (i < h.size() && (h[i] == ' ' || h[i] == '\n' || h[i] == '\r' || h[i] == '\t')) ++i;
    if (i < h.size() && h[i] == '{' && h.find("\"microscape_slogan\""sv) != std::string_view::npos)
        return {MediaKind::Text, "application/vnd.microscape.slogan+json"};
    return {};
}

std::string_view mediaKindName(MediaKind kind) {
    switch (kind) {
        case MediaKind::Image:
            return "image";
        case MediaKind::Video:
            return "video";
        case MediaKind::Audio:
            return "audio";
        case MediaKind::Text:
            return "text";
        case MediaKind::Unknown:
            break;
    }
    return "unknown";
}

MediaKind mediaKindFromName(std::string_view name) {
    if (name == "image") return MediaKind::Image;
    if (name == "video") return MediaKind::Video;
    if (name == "audio") return MediaKind::Audio;
    if (name == "text") return MediaKind::Text;
    return MediaKind::Unknown;
}

}  // namespace microscape
