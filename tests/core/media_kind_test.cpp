#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "microscape/core/crypto.hpp"
#include "microscape/core/media_kind.hpp"

using namespace microscape;
namespace fs = std::filesystem;
using namespace std::string_literals;

namespace {

std::string head(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::string buf(kMediaSniffBytes, '\0');
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    buf.resize(static_cast<std::size_t>(in.gcount()));
    return buf;
}

bool run(const std::string& cmd) {
    return std::system((cmd + " >/dev/null 2>&1").c_str()) == 0;
}

struct Generated {
    const char* file;
    MediaKind kind;
    const char* mime;
};

std::string quoted(const fs::path& p) {
    return "'" + p.string() + "'";
}

}  // namespace

TEST_CASE("media kinds of real files made with ImageMagick and ffmpeg", "[media]") {
    const bool haveConvert = fs::exists("/usr/bin/convert");  // not a stand-in earlier on PATH
    const bool haveFfmpeg = fs::exists("/usr/bin/ffmpeg");
    if (!haveConvert || !haveFfmpeg) WARN("ImageMagick or ffmpeg missing; some generated fixtures are skipped");
    auto dir = fs::temp_directory_path() / ("ms-media-" + crypto::toHex(crypto::randomBytes(6).value()));
    fs::create_directories(dir);

    const std::string font = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc";
    const std::string poster = fs::exists(font) ? "-font " + font + " -pointsize 28 -annotate +10+50 '反诈防骗'" : "";
    const std::string im = "/usr/bin/convert -size 160x90 xc:white -fill black " + poster + " -depth 8 ";
    const std::string ffv =
        "/usr/bin/ffmpeg -nostdin -y -loglevel error -f lavfi -i testsrc=size=64x36:rate=10:duration=0.3 ";
    const std::string ffa = "/usr/bin/ffmpeg -nostdin -y -loglevel error -f lavfi -i sine=frequency=440:duration=0.3 ";

    // Each command has %s where the output path goes.
    const std::vector<std::pair<std::string, Generated>> images = {
        {im + "%s", {"poster.png", MediaKind::Image, "image/png"}},
        {im + "-quality 80 %s", {"poster.jpg", MediaKind::Image, "image/jpeg"}},
        {im + "%s", {"poster.gif", MediaKind::Image, "image/gif"}},
        {im + "%s", {"poster.bmp", MediaKind::Image, "image/bmp"}},
    };
    const std::vector<std::pair<std::string, Generated>> clips = {
        {ffv + "-c:v libx264 -pix_fmt yuv420p %s", {"clip.mp4", MediaKind::Video, "video/mp4"}},
        {ffv + "-c:v libx264 -pix_fmt yuv420p %s", {"clip.mov", MediaKind::Video, "video/quicktime"}},
        {ffv + "-c:v libvpx %s", {"clip.webm", MediaKind::Video, "video/webm"}},
        {ffv + "-c:v libx264 %s", {"clip.mkv", MediaKind::Video, "video/x-matroska"}},
        {ffv + "-c:v libx264 -f mpegts %s", {"clip.ts", MediaKind::Video, "video/mp2t"}},
        {ffv + "-c:v mpeg2video -f mpeg %s", {"clip.mpg", MediaKind::Video, "video/mpeg"}},
        {ffv + "-c:v mpeg4 %s", {"clip.avi", MediaKind::Video, "video/x-msvideo"}},
        {ffa + "%s", {"tone.wav", MediaKind::Audio, "audio/wav"}},
        {ffa + "-c:a libmp3lame %s", {"tone.mp3", MediaKind::Audio, "audio/mpeg"}},
        {ffa + "-c:a libmp3lame -write_xing 0 -id3v2_version 0 %s", {"bare.mp3", MediaKind::Audio, "audio/mpeg"}},
        {ffa + "-c:a libvorbis %s", {"tone.ogg", MediaKind::Audio, "audio/ogg"}},
        {ffa + "-c:a flac %s", {"tone.flac", MediaKind::Audio, "audio/flac"}},
        {ffa + "-c:a aac %s", {"tone.m4a", MediaKind::Audio, "audio/mp4"}},
    };
    auto check = [&](const std::vector<std::pair<std::string, Generated>>& list, bool available) {
        if (!available) return;
        for (const auto& [command, g] : list) {
            fs::path out = dir / g.file;
            std::string cmd = command;
            cmd.replace(cmd.find("%s"), 2, quoted(out));
            INFO(cmd);
            if (!run(cmd)) {
                WARN("could not generate " << g.file << "; skipped");
                continue;
            }
            auto t = detectMediaKind(head(out));
            CHECK(t.kind == g.kind);
            CHECK(t.mime == g.mime);
        }
    };
    check(images, haveConvert);
    check(clips, haveFfmpeg);
    fs::remove_all(dir);
}

TEST_CASE("media kinds from crafted magic bytes", "[media]") {
    const std::string pad(64, 'z');
    struct Case {
        std::string bytes;
        MediaKind kind;
        std::string_view mime;
    };
    std::string ts(400, '\0');
    ts[0] = ts[188] = ts[376] = 0x47;
    const Case cases[] = {
        {"\x89PNG\r\n\x1a\n"s + pad, MediaKind::Image, "image/png"},
        {"\xff\xd8\xff\xe0"s + pad, MediaKind::Image, "image/jpeg"},
        {"GIF87a"s + pad, MediaKind::Image, "image/gif"},
        {"GIF89a"s + pad, MediaKind::Image, "image/gif"},
        {"RIFF\x24\0\0\0WEBPVP8 "s + pad, MediaKind::Image, "image/webp"},
        {"BM\x36\0\0\0\0\0\0\0\x36\0\0\0"s + pad, MediaKind::Image, "image/bmp"},
        {"\0\0\0\x1c"
         "ftypavif"s +
             pad,
         MediaKind::Image, "image/avif"},
        {"\0\0\0\x20"
         "ftypisom"s +
             pad,
         MediaKind::Video, "video/mp4"},
        {"\0\0\0\x18"
         "ftypmp42"s +
             pad,
         MediaKind::Video, "video/mp4"},
        {"\0\0\0\x14"
         "ftypqt  "s +
             pad,
         MediaKind::Video, "video/quicktime"},
        {"\0\0\0\x20"
         "ftypM4A "s +
             pad,
         MediaKind::Audio, "audio/mp4"},
        {"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\x82\x84webm"s + pad, MediaKind::Video, "video/webm"},
        {"\x1a\x45\xdf\xa3\xa3\x42\x86\x81\x01\x42\x82\x88matroska"s + pad, MediaKind::Video, "video/x-matroska"},
        {ts, MediaKind::Video, "video/mp2t"},
        {"\0\0\x01\xba"s + pad, MediaKind::Video, "video/mpeg"},
        {"RIFF\0\0\0\0AVI LIST"s + pad, MediaKind::Video, "video/x-msvideo"},
        {"RIFF\0\0\0\0WAVEfmt "s + pad, MediaKind::Audio, "audio/wav"},
        {"OggS\0\x02"s + pad, MediaKind::Audio, "audio/ogg"},
        {"fLaC\0\0\0\x22"s + pad, MediaKind::Audio, "audio/flac"},
        {"ID3\x04\0\0"s + pad, MediaKind::Audio, "audio/mpeg"},
        {"\xff\xfb\x90\x64"s + pad, MediaKind::Audio, "audio/mpeg"},  // MPEG-1 layer III frame
        {"\xff\xf3\x48\xc4"s + pad, MediaKind::Audio, "audio/mpeg"},  // MPEG-2 layer III frame
        {"{\"microscape_slogan\":1,\"text\":\"拒绝毒品 珍爱生命\"}", MediaKind::Text,
         "application/vnd.microscape.slogan+json"},
        {" \n\t{\"lines\":[\"一盔一带\"],\"microscape_slogan\":1}", MediaKind::Text,
         "application/vnd.microscape.slogan+json"},
    };
    for (const auto& c : cases) {
        INFO(crypto::toHex(c.bytes.substr(0, 16)));
        auto t = detectMediaKind(c.bytes);
        CHECK(t.kind == c.kind);
        CHECK(t.mime == c.mime);
    }
}

TEST_CASE("junk is not media", "[media]") {
    const std::string junk[] = {
        "",
        "hello world",
        "<!DOCTYPE html><html><body>反诈</body></html>",
        "%PDF-1.7\n%\xe2\xe3\xcf\xd3",
        "PK\x03\x04\x14\0\0\0"s,
        "\x7f"
        "ELF\x02\x01\x01\0"s,
        "#!/bin/sh\nrm -rf /\n",
        "{\"not_a_slogan\":1}",
        "[{\"microscape_slogan\":1}]",
        "ftypisom at the start, not at offset 4",
        "RIFF\0\0\0\0XXXX"s,
        "BM short",
        "\x89PNG",        // cut short
        "\xff\xd8",       // cut short
        "\xff\xe0\0\0"s,  // frame sync with a reserved layer
        "\x1a\x45\xdf",   // cut short
        "\0\0\x01"s,
        std::string(512, '\0'),
        std::string(512, ' '),
    };
    for (const auto& bytes : junk) {
        INFO(crypto::toHex(bytes.substr(0, 16)));
        auto t = detectMediaKind(bytes);
        CHECK(t.kind == MediaKind::Unknown);
        CHECK(t.mime.empty());
    }
}

TEST_CASE("media kind names", "[media]") {
    for (MediaKind k : {MediaKind::Image, MediaKind::Video, MediaKind::Audio, MediaKind::Text}) {
        CHECK(mediaKindFromName(mediaKindName(k)) == k);
    }
    CHECK(mediaKindName(MediaKind::Image) == "image");
    CHECK(mediaKindName(MediaKind::Video) == "video");
    CHECK(mediaKindName(MediaKind::Audio) == "audio");
    CHECK(mediaKindName(MediaKind::Text) == "text");
    CHECK(mediaKindName(MediaKind::Unknown) == "unknown");
    CHECK(mediaKindFromName("unknown") == MediaKind::Unknown);
    CHECK(mediaKindFromName("Image") == MediaKind::Unknown);
    CHECK(mediaKindFromName("") == MediaKind::Unknown);
}
