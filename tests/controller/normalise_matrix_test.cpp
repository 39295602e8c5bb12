// The upload matrix: real-world variants of stills, clips, sounds and broken
// files, made at test time with ImageMagick and ffmpeg, go through the real
// upload API; each is refused with its own code, or is approved and shown by a
// real headless screen (640 x 360) with the right orientation and colours,
// checked by the pixels of the screen's screenshots against the design the
// variant was made from.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <array>
#include <cmath>
#include <fstream>
#include <set>

#include "microscape/core/crypto.hpp"
#include "microscape/core/json.hpp"
#include "microscape/core/time.hpp"
#include "test_support.hpp"

using namespace microscape;
using namespace microscape::testing;

namespace {

using Rgb = std::array<int, 3>;
constexpr int kScreenW = 640, kScreenH = 360;
constexpr int kTolerance = 48;  // JPEG, YUV and scaling all move colours a little

// A design: four quadrants and a centre patch (the middle fifth), each a colour.
// A variant is made from its design (rotated, recoloured, re-encoded); once
// normalised and shown, the screen must show the design again.
struct Design {
    int width = 320, height = 180;
    Rgb tl{200, 64, 64}, tr{64, 200, 64}, bl{64, 64, 200}, br{220, 220, 64};
    Rgb centre{0, 0, 0};
};

std::string hex(const Rgb& c) {
    char b[8];
    std::snprintf(b, sizeof b, "#%02X%02X%02X", c[0], c[1], c[2]);
    return b;
}

void sh(const std::string& cmd) {
    INFO(cmd);
    REQUIRE(std::system((cmd + " 2>/dev/null").c_str()) == 0);
}

// Draws a design as an 8-bit sRGB PNG.
fs::path drawDesign(const fs::path& dir, const std::string& name, const Design& d) {
    const fs::path out = dir / (name + "-design.png");
    const int w = d.width, h = d.height;
    auto rect = [](const Rgb& c, int x0, int y0, int x1, int y1) {
        return " -fill '" + hex(c) + "' -draw 'rectangle " + std::to_string(x0) + "," + std::to_string(y0) + " " +
               std::to_string(x1) + "," + std::to_string(y1) + "'";
    };
    std::string cmd = "/usr/bin/convert -size " + std::to_string(w) + "x" + std::to_string(h) + " xc:black";
    cmd += rect(d.tl, 0, 0, w / 2 - 1, h / 2 - 1) + rect(d.tr, w / 2, 0, w - 1, h / 2 - 1) +
           rect(d.bl, 0, h / 2, w / 2 - 1, h - 1) + rect(d.br, w / 2, h / 2, w - 1, h - 1);
    cmd += rect(d.centre, w * 2 / 5, h * 2 / 5, w * 3 / 5 - 1, h * 3 / 5 - 1);
    cmd += " -depth 8 -type TrueColor PNG24:'" + out.string() + "'";
    sh(cmd);
    return out;
}

// An EXIF APP1 segment holding only Orientation, put right after SOI.
std::string withOrientation(const std::string& jpeg, int orientation) {
    std::string tiff("MM\0\x2A\0\0\0\x08", 8);
    tiff += std::string("\0\x01", 2);                                         // one entry
    tiff += std::string("\x01\x12\0\x03\0\0\0\x01", 8);                       // Orientation, SHORT, 1
    tiff += std::string(1, '\0') + char(orientation) + std::string(2, '\0');  // the value
    tiff += std::string(4, '\0');                                             // no next IFD
    std::string body = std::string("Exif\0\0", 6) + tiff;
    const std::size_t len = body.size() + 2;
    std::string app1 = std::string("\xFF\xE1", 2) + char(len >> 8) + char(len & 0xFF) + body;
    return jpeg.substr(0, 2) + app1 + jpeg.substr(2);
}

struct Variant {
    std::string name;      // what it is
    std::string fileName;  // as uploaded
    std::string bytes;
    std::string query;            // extra upload parameters
    std::string wantCode;         // "" = accepted; else the refusal code
    std::optional<Design> shown;  // what the screen must show (accepted visual variants)
    std::string wantKind;         // image, video, audio
    std::string wantTransform;    // a piece of the normalised file's transform ("" = played as uploaded)
    bool rendition = false;       // the 640x360 screen plays a rendition
    // Filled in:
    int status = 0;
    std::string code;
    int id = 0;
    std::string playedSha;
    bool seen = false;
};

Rgb at(const std::string& rgb, int x, int y) {
    const std::size_t i = (static_cast<std::size_t>(y) * kScreenW + x) * 3;
    return {static_cast<unsigned char>(rgb[i]), static_cast<unsigned char>(rgb[i + 1]),
            static_cast<unsigned char>(rgb[i + 2])};
}

bool near(const Rgb& a, const Rgb& b) {
    for (int i = 0; i < 3; ++i)
        if (std::abs(a[i] - b[i]) > kTolerance) return false;
    return true;
}

// Whether a 640x360 RGB frame shows the design, letterboxed as the player fits it.
bool shows(const std::string& rgb, const Design& d) {
    const double s = std::min(double(kScreenW) / d.width, double(kScreenH) / d.height);
    const double rw = d.width * s, rh = d.height * s;
    const double x0 = (kScreenW - rw) / 2, y0 = (kScreenH - rh) / 2;
    auto p = [&](double fx, double fy) {
        return at(rgb, static_cast<int>(x0 + fx * rw), static_cast<int>(y0 + fy * rh));
    };
    return near(p(0.2, 0.2), d.tl) && near(p(0.8, 0.2), d.tr) && near(p(0.2, 0.8), d.bl) && near(p(0.8, 0.8), d.br) &&
           near(p(0.5, 0.5), d.centre);
}

std::string describe(const std::string& rgb) {
    std::string s;
    for (auto [x, y] : {std::pair{160, 90}, {480, 90}, {160, 270}, {480, 270}, {320, 180}}) {
        auto c = at(rgb, x, y);
        s += "(" + std::to_string(c[0]) + "," + std::to_string(c[1]) + "," + std::to_string(c[2]) + ") ";
    }
    return s;
}

}  // namespace

TEST_CASE("upload matrix: every variant plays right on a real screen or is refused with its code",
          "[controller][normalise][e2e]") {
    if (::access(playerBin().c_str(), X_OK) != 0) {
        WARN("microscape-player not built; skipping");
        return;
    }
    TestServer srv([](auto& c) { c.zmqHeartbeatMs = 200; });
    TempDir fx;
    const fs::path dir = fx.path;
    const auto t0 = std::chrono::steady_clock::now();
    std::string phases;
    auto phase = [&](const char* what) {
        phases += std::string(what) + " at " +
                  std::to_string(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count()) + " s; ";
    };
    Client admin = srv.admin();
    Client ed = srv.userClient("ed", "editor", "宣传处");
    Client ap = srv.userClient("ap", "approver");

    // Distinct centre colours name the variants on screen.
    std::vector<Rgb> palette;
    for (int r : {0, 85, 170, 255})
        for (int g : {0, 85, 170, 255})
            for (int b : {0, 85, 170, 255}) palette.push_back({r, g, b});
    std::size_t nextColour = 0;
    auto design = [&](int w, int h) {
        Design d;
        d.width = w;
        d.height = h;
        d.centre = palette.at(nextColour++);
        return d;
    };
    std::vector<Variant> vs;
    auto add = [&](Variant v) { vs.push_back(std::move(v)); };
    const std::string C = "/usr/bin/convert ";
    auto q = [](const fs::path& p) { return "'" + p.string() + "'"; };

    // --- stills ---------------------------------------------------------------
    {
        Design d = design(320, 180);
        auto src = drawDesign(dir, "png", d);
        add({"PNG, 8-bit sRGB", "plain.png", readFile(src), "", "", d, "image", ""});
    }
    {
        Design d = design(320, 180);
        auto src = drawDesign(dir, "jpeg", d);
        sh(C + q(src) + " -quality 92 " + q(dir / "plain.jpg"));
        add({"JPEG, 8-bit sRGB", "plain.jpg", readFile(dir / "plain.jpg"), "", "", d, "image", ""});
    }
    // EXIF orientations 1-8: the stored pixels are the design turned the other way.
    const char* undo[] = {"",           "-flop",       "-rotate 180", "-flip",
                          "-transpose", "-rotate 270", "-transverse", "-rotate 90"};
    for (int o = 1; o <= 8; ++o) {
        Design d = design(320, 180);
        auto src = drawDesign(dir, "exif" + std::to_string(o), d);
        const fs::path jpg = dir / ("exif" + std::to_string(o) + ".jpg");
        sh(C + q(src) + " " + undo[o - 1] + " -strip -quality 92 " + q(jpg));
        add({"JPEG, EXIF orientation " + std::to_string(o), "phone-" + std::to_string(o) + ".jpg",
             withOrientation(readFile(jpg), o), "", "", d, "image",
             o == 1 ? "" : "EXIF orientation " + std::to_string(o) + " applied"});
    }
    {
        Design d = design(320, 180);
        auto src = drawDesign(dir, "cmyk", d);
        sh(C + q(src) + " -colorspace CMYK -quality 92 " + q(dir / "cmyk.jpg"));
        add({"JPEG, CMYK (print shop)", "print.jpg", readFile(dir / "cmyk.jpg"), "", "", d, "image", "CMYK to sRGB"});
    }
    {
        Design d = design(320, 180);
        auto src = drawDesign(dir, "16", d);
        sh(C + q(src) + " -depth 16 PNG48:" + q(dir / "deep.png"));
        add({"PNG, 16-bit per channel", "deep.png", readFile(dir / "deep.png"), "", "", d, "image", "16-bit to 8-bit"});
    }
    for (int bits : {8, 16}) {
        Design d = design(320, 180);
        d.tl = {40, 40, 40};
        d.tr = {100, 100, 100};
        d.bl = {160, 160, 160};
        d.br = {230, 230, 230};
        d.centre = bits == 8 ? Rgb{10, 10, 10} : Rgb{250, 250, 250};
        auto src = drawDesign(dir, "grey" + std::to_string(bits), d);
        const fs::path out = dir / (bits == 8 ? "grey.jpg" : "grey16.png");
        sh(C + q(src) + " -colorspace Gray -depth " + std::to_string(bits) + " " + q(out));
        add({bits == 8 ? "JPEG, greyscale" : "PNG, 16-bit greyscale", out.filename().string(), readFile(out), "", "", d,
             "image", "Gray to sRGB"});
    }
    // Transparency: a 50 % red centre and a fully transparent (stored green) quadrant.
    for (std::string bg : {"", "#0000FF"}) {
        Design d = design(320, 180);
        d.centre = bg.empty() ? Rgb{128, 0, 0} : Rgb{128, 0, 127};
        Design drawn = d;
        drawn.centre = {255, 0, 0};
        if (!bg.empty()) drawn.tr = d.tr = {70, 190, 70};  // another file (the same file again is the same media)
        auto src = drawDesign(dir, "alpha" + std::to_string(bg.size()), drawn);
        const fs::path out = dir / ("alpha" + std::to_string(bg.size()) + ".png");
        // Alpha: opaque, but 50 % in the centre and 0 in most of the bottom-right quadrant.
        sh(C + q(src) + " \\( -size 320x180 xc:white -fill 'gray(50%)' -draw 'rectangle 128,72 191,107' " +
           "-fill black -draw 'rectangle 200,112 319,179' \\) -alpha off -compose CopyOpacity -composite PNG32:" +
           q(out));
        d.br = bg.empty() ? Rgb{0, 0, 0} : Rgb{0, 0, 255};
        add({bg.empty() ? "PNG with alpha, default background" : "PNG with alpha, background #0000FF",
             out.filename().string(), readFile(out), bg.empty() ? "" : "&background=%230000FF", "", d, "image",
             "transparency flattened over " + (bg.empty() ? std::string("#000000") : bg)});
    }
    {
        Design d = design(320, 180);
        auto src = drawDesign(dir, "webp", d);
        sh(C + q(src) + " -quality 90 " + q(dir / "still.webp"));
        add({"WebP", "still.webp", readFile(dir / "still.webp"), "", "", d, "image", "WEBP to PNG"});
    }
    {
        Design d = design(1000, 1000);
        auto src = drawDesign(dir, "huge", d);
        sh(C + q(src) + " -filter point -resize 7000x7000! " + q(dir / "scan.png"));
        add({"PNG, 7000x7000 scan", "scan.png", readFile(dir / "scan.png"), "", "", d, "image",
             "scaled 7000x7000 to 3840x3840"});
    }
    {
        Design d = design(1920, 540);
        auto src = drawDesign(dir, "strip", d);
        add({"PNG, 1920x540 LED strip", "strip.png", readFile(src), "", "", d, "image", ""});
    }
    {
        Design d = design(1080, 1920);
        auto src = drawDesign(dir, "portrait", d);
        sh(C + q(src) + " -quality 92 " + q(dir / "portrait.jpg"));
        add({"JPEG, 1080x1920 portrait", "portrait.jpg", readFile(dir / "portrait.jpg"), "", "", d, "image", ""});
    }
    {
        // Three frames that differ only in a dot at the top edge (not sampled).
        Design d = design(320, 180);
        auto src = drawDesign(dir, "gif", d);
        sh(C + "-delay 40 " + q(src) + " \\( " + q(src) + " -fill white -draw 'rectangle 10,2 20,8' \\) \\( " + q(src) +
           " -fill white -draw 'rectangle 30,2 40,8' \\) -loop 0 " + q(dir / "anim.gif"));
        add({"animated GIF (WeChat)", "anim.gif", readFile(dir / "anim.gif"), "", "", d, "video", "animated GIF"});
    }

    // --- clips -------------------------------------------------------------------
    auto clip = [&](const std::string& name, int w, int h, const std::string& args, const std::string& ext) {
        Design d = design(w, h);
        auto src = drawDesign(dir, name, d);
        const fs::path out = dir / (name + ext);
        sh("ffmpeg -loglevel error -y -loop 1 -framerate 10 -i " + q(src) +
           " -f lavfi -i sine=frequency=440:sample_rate=44100 -t 2 -shortest " + args + " " + q(out));
        return std::pair{d, readFile(out)};
    };
    {
        auto [d, b] = clip("baseline", 320, 180, "-an -pix_fmt yuv420p -c:v libx264 -profile:v baseline", ".mp4");
        add({"H.264 baseline MP4, 320x180", "baseline.mp4", b, "", "", d, "video", ""});
    }
    {
        auto [d, b] = clip("high", 1280, 720, "-pix_fmt yuv420p -c:v libx264 -profile:v high -c:a aac", ".mp4");
        add({"H.264 high MP4 with AAC, 1280x720", "high.mp4", b, "", "", d, "video", "", true});
    }
    {
        auto [d, b] = clip("hevc", 640, 360, "-an -pix_fmt yuv420p -c:v libx265 -x265-params log-level=error", ".mp4");
        add({"HEVC MP4, 640x360", "hevc.mp4", b, "", "", d, "video", "", true});
    }
    {
        auto [d, b] =
            clip("vp9", 640, 360, "-an -pix_fmt yuv420p -c:v libvpx-vp9 -deadline realtime -cpu-used 8", ".webm");
        add({"VP9 WebM, 640x360", "vp9.webm", b, "", "", d, "video", "", true});
    }
    {
        auto [d, b] = clip("ts", 720, 576, "-pix_fmt yuv420p -c:v mpeg2video -q:v 3 -c:a mp2 -f mpegts", ".ts");
        add({"MPEG-2 transport stream (TV station), 720x576", "tv.ts", b, "", "", d, "video", "", true});
    }
    {
        auto [d, b] = clip("avi", 640, 360, "-an -pix_fmt yuv420p -c:v mpeg4 -q:v 3", ".avi");
        add({"MPEG-4 part 2 AVI, 640x360", "old.avi", b, "", "", d, "video", "", true});
    }
    {
        auto [d, b] = clip("uhd", 3840, 2160, "-an -pix_fmt yuv420p -c:v libx264 -preset ultrafast", ".mp4");
        add({"H.264 4K MP4, 3840x2160", "promo-4k.mp4", b, "", "", d, "video", "", true});
    }
    // --- sound ---------------------------------------------------------------------
    sh("ffmpeg -loglevel error -y -f lavfi -i sine=frequency=660:duration=1 -c:a libmp3lame " + q(dir / "jingle.mp3"));
    add({"MP3 sound", "jingle.mp3", readFile(dir / "jingle.mp3"), "", "", std::nullopt, "audio", ""});

    // --- refused -------------------------------------------------------------------
    add({"not media (text)", "notes.png", std::string(5000, 'x'), "", "unknown_format"});
    {
        std::string png = readFile(dir / "png-design.png");
        add({"PNG cut off after 60 bytes", "cut.png", png.substr(0, 60), "", "truncated"});
    }
    {
        std::string mp4 = readFile(dir / "high.mp4");
        add({"MP4 cut in half", "cut.mp4", mp4.substr(0, mp4.size() / 2), "", "truncated"});
    }
    {
        // A PNG whose header says 20000 x 20000 (a decompression bomb): refused from the header.
        std::string ihdr("IHDR\0\0\x4E\x20\0\0\x4E\x20\x08\x02\0\0\0", 17);
        auto be32 = [](std::uint32_t v) { return std::string{char(v >> 24), char(v >> 16), char(v >> 8), char(v)}; };
        auto r = runProcess({"/usr/bin/python3", "-c",
                             "import sys,zlib;sys.stdout.buffer.write(format(zlib.crc32(bytes.fromhex(sys.argv[1]))"
                             ",'08x').encode())",
                             [&] {
                                 std::string h;
                                 char b[3];
                                 for (unsigned char c : ihdr) std::snprintf(b, sizeof b, "%02x", c), h += b;
                                 return h;
                             }()});
        REQUIRE(r.exitCode == 0);
        const std::uint32_t c = static_cast<std::uint32_t>(std::stoul(r.out, nullptr, 16));
        std::string png = std::string("\x89PNG\r\n\x1a\n", 8) + be32(13) + ihdr + be32(c);
        png += be32(0) + "IEND" + std::string("\xAE\x42\x60\x82", 4);
        add({"PNG claiming 20000x20000", "bomb.png", png, "", "image_too_large"});
    }
    {
        std::string j = readFile(dir / "plain.jpg");
        std::string garbage = j.substr(0, 20);
        for (int i = 0; i < 4000; ++i) garbage += char((i * 7919) & 0xFF);
        garbage += "\xFF\xD9";
        add({"JPEG header then garbage", "garbage.jpg", garbage, "", "no_picture"});
    }
    {
        std::string mp3 = readFile(dir / "jingle.mp3");
        std::string broken = mp3.substr(0, 10);  // its ID3 header
        for (int i = 0; i < 3000; ++i) broken += char((i * 31) & 0x7F);
        add({"MP3 header then garbage", "broken.mp3", broken, "", "no_sound"});
    }
    REQUIRE(vs.size() >= 25);
    phase("variants made");

    // --- upload, check the answers, approve ---------------------------------------
    for (auto& v : vs) {
        auto r =
            ed.request("POST", "/api/v1/media?filename=" + v.fileName + v.query, v.bytes, "application/octet-stream");
        v.status = r.status;
        v.code = r.errorCode();
        INFO(v.name << ": " << r.body.substr(0, 600));
        CHECK(r.body.find(srv.dataDir().string()) == std::string::npos);
        CHECK(r.body.find("/proc/") == std::string::npos);
        if (!v.wantCode.empty()) {
            CHECK(v.code == v.wantCode);
            CHECK(r.status == (v.wantCode == "unknown_format" ? 415 : 422));
            continue;
        }
        REQUIRE(r.status == 201);
        auto m = r.json();
        v.id = m->getValue<int>("id");
        CHECK(m->getValue<std::string>("kind") == v.wantKind);
        auto derived = m->getArray("derived");
        if (v.wantTransform.empty()) {
            CHECK(derived->size() == 0);
        } else {
            REQUIRE(derived->size() == 1);
            auto d = derived->getObject(0);
            CHECK(d->getValue<std::string>("purpose") == "normalised");
            CHECK(d->getValue<std::string>("derivedFrom") == m->getValue<std::string>("sha256"));
            CHECK_THAT(d->getValue<std::string>("transform"), Catch::Contains(v.wantTransform));
            if (v.shown && v.wantKind == "image") {
                CHECK(d->getValue<int>("width") <= 3840);
                CHECK(d->getValue<int>("height") <= 3840);
            }
        }
        REQUIRE(ed.post("/api/v1/media/" + std::to_string(v.id) + "/submit", "").status == 200);
        REQUIRE(ap.post("/api/v1/media/" + std::to_string(v.id) + "/approve", "").status == 200);
    }

    phase("uploaded");
    // --- one playlist with every accepted variant, on one 640x360 screen ----------
    std::string items;
    for (const auto& v : vs) {
        if (!v.id) continue;
        if (!items.empty()) items += ",";
        items += R"({"mediaId":)" + std::to_string(v.id) + (v.wantKind == "image" ? R"(,"durationMs":1500})" : "}");
    }
    const int pl = createdId(ed.post("/api/v1/playlists", R"({"name":"matrix","items":[)" + items + "]}"));
    createdId(
        ed.post("/api/v1/schedules", R"({"name":"all","playlistId":)" + std::to_string(pl) +
                                         R"(,"startsOn":"2000-01-01","endsOn":"2099-12-31","target":{"all":true}})"));
    const fs::path screenDir = dir / "screen";
    const std::string playerId =
        enrollScreen(srv, admin, screenDir, R"({"name":"matrix-640"})", {"--width", "640", "--height", "360"});
    // Renditions for 640x360 are made once the screen's manifest asks for them.
    REQUIRE(admin.post("/api/v1/players/" + playerId + "/compile", "").status / 100 == 2);
    for (auto& v : vs) {
        if (!v.rendition) continue;
        Poco::JSON::Object::Ptr d;
        const bool ready = waitFor(
            [&] {
                auto arr = admin.get("/api/v1/media/" + std::to_string(v.id)).json()->getArray("derived");
                for (std::size_t i = 0; i < arr->size(); ++i) {
                    auto o = arr->getObject(static_cast<unsigned>(i));
                    if (o->getValue<std::string>("purpose") == "rendition") d = o;
                }
                return d &&
                       (d->getValue<std::string>("state") == "ready" || d->getValue<std::string>("state") == "failed");
            },
            180000);
        INFO(v.name << ": " << (d ? jsonString(d) : std::string("no rendition")));
        REQUIRE(ready);
        REQUIRE(d->getValue<std::string>("state") == "ready");
        CHECK(d->getValue<int>("boxWidth") == kScreenW);
        CHECK(d->getValue<int>("boxHeight") == kScreenH);
        CHECK(d->getValue<int>("width") <= kScreenW);
        CHECK(d->getValue<int>("height") <= kScreenH);
        CHECK_THAT(d->getValue<std::string>("transform"), Catch::Contains("H.264 main"));
    }
    phase("renditions ready");
    // The screen's signed manifest names what it plays and where each derived file comes from.
    auto manifestOf = [&] {
        auto r = admin.get("/api/v1/players/" + playerId + "/manifest?format=raw");
        REQUIRE(r.status == 200);
        return json::parse(r.body).value();
    };
    {
        const json::Value man = manifestOf();
        CHECK(man.find("format")->asInt() == 3);
        std::map<std::string, const json::Value*> byOriginal;
        for (const auto& e : man.find("media")->asArray())
            byOriginal[e.find("derived_from") ? e.find("derived_from")->find("sha256")->asString()
                                              : e.find("sha256")->asString()] = &e;
        for (auto& v : vs) {
            if (!v.id) continue;
            const std::string sha =
                admin.get("/api/v1/media/" + std::to_string(v.id)).json()->getValue<std::string>("sha256");
            INFO(v.name);
            REQUIRE(byOriginal.count(sha));
            const json::Value& e = *byOriginal[sha];
            v.playedSha = e.find("sha256")->asString();
            CHECK((e.find("derived_from") != nullptr) == (!v.wantTransform.empty() || v.rendition));
        }
    }

    auto proc = startScreen(screenDir, dir / "screen.log", {"--width", "640", "--height", "360"});
    std::size_t want = 0;
    for (const auto& v : vs) want += v.shown ? 1 : 0;
    std::size_t seen = 0;
    int shots = 0;
    std::string lastShot;
    const bool all = waitFor(
        [&] {
            auto s = admin.post("/api/v1/players/" + playerId + "/commands", R"({"action":"screenshot"})");
            if (s.status != 202) return false;
            const std::string id = s.json()->getValue<std::string>("id");
            Poco::JSON::Object::Ptr done;
            if (!waitFor(
                    [&] {
                        done = admin.get("/api/v1/commands/" + id).json();
                        return done->getValue<std::string>("state") != "sent";
                    },
                    20000) ||
                done->isNull("payloadBase64"))
                return false;
            ++shots;
            std::ofstream(dir / "shot.png", std::ios::binary)
                << crypto::base64Decode(done->getValue<std::string>("payloadBase64")).value();
            auto raw = runProcess(
                {"/usr/bin/convert", (dir / "shot.png").string(), "-resize", "640x360!", "-depth", "8", "rgb:-"});
            if (raw.exitCode != 0 || raw.out.size() != std::size_t(kScreenW) * kScreenH * 3) return false;
            lastShot = describe(raw.out);
            for (auto& v : vs)
                if (v.shown && !v.seen && shows(raw.out, *v.shown)) {
                    v.seen = true;
                    ++seen;
                }
            return seen == want;
        },
        240000);
    phase("all seen");
    std::string missing;
    for (const auto& v : vs)
        if (v.shown && !v.seen) missing += v.name + "; ";
    INFO("screenshots: " << shots << ", the last " << lastShot << "\nnot seen: " << missing << "\nscreen log:\n"
                         << readFile(dir / "screen.log").substr(0, 20000));
    CHECK(all);

    // Proof of play: every clip played through its rendition (the 4K one on this
    // 640x360 screen included) is recorded completed, under the rendition's hash.
    std::set<std::string> clips;
    for (const auto& v : vs)
        if (v.rendition) clips.insert(v.playedSha);
    std::set<std::string> completed;
    // The 4K clip's rendition: its plays' frame counts (record format 3), as
    // "frames/late/dropped/freeze outcome" for the message.
    std::string uhdSha;
    for (const auto& v : vs)
        if (v.name.rfind("H.264 4K MP4", 0) == 0) uhdSha = v.playedSha;
    REQUIRE_FALSE(uhdSha.empty());
    std::vector<std::string> uhdPlays;
    bool uhdSmooth = false, uhdDegraded = false;
    const bool proofs = waitFor(
        [&] {
            uhdPlays.clear();
            for (const auto& rec : storedProofs(srv.storeUrl(), playerId).records) {
                auto r = json::parse(rec);
                if (!r || !r->find("media") || !r->find("outcome")) continue;
                const std::string outcome = r->find("outcome")->asString();
                if (outcome == "completed" && clips.count(r->find("media")->asString()))
                    completed.insert(r->find("media")->asString());
                if (r->find("media")->asString() != uhdSha || !r->find("frames")) continue;
                const auto n = [&](const char* k) { return r->find(k)->asInt(); };
                uhdPlays.push_back(std::to_string(n("frames")) + "/" + std::to_string(n("frames_late")) + "/" +
                                   std::to_string(n("frames_dropped")) + "/" + std::to_string(n("longest_freeze_ms")) +
                                   " " + outcome);
                if (outcome == "completed" && n("frames") >= 25 && n("frames_dropped") == 0) uhdSmooth = true;
                if (outcome == "degraded") uhdDegraded = true;
            }
            return completed.size() == clips.size() && uhdSmooth;
        },
        90000, 500);
    CHECK(proofs);
    CHECK(completed.size() == clips.size());
    // A 4K clip on a small screen: its rendition plays with every frame on
    // time (frames shown, none dropped, no freeze), and never degraded.
    std::string uhdText;
    for (const auto& u : uhdPlays) uhdText += u + "; ";
    INFO("4K rendition plays (frames/late/dropped/longest freeze ms): " << uhdText);
    CHECK(uhdSmooth);
    CHECK_FALSE(uhdDegraded);

    // The evidence export ties each play of a derived file to its approved
    // original (media.json and the signed manifests) and both verifiers accept it,
    // with the same recount; the plays carry their originals' names.
    {
        Client auditor = srv.userClient("auditor1", "auditor");
        const std::int64_t nowMs = srv.nowMs();
        auto exp = auditor.get("/api/v1/audit/export?from=" + timeutil::formatUtc(nowMs - 86400000) +
                               "&to=" + timeutil::formatUtc(nowMs + 86400000));
        REQUIRE(exp.status == 200);
        const fs::path tarPath = dir / "export.tar";
        std::ofstream(tarPath, std::ios::binary) << exp.body;
        auto media = runProcess({"/usr/bin/tar", "-xOf", tarPath.string(), "media.json"});
        REQUIRE(media.exitCode == 0);
        auto doc = json::parse(media.out);
        REQUIRE(doc.ok());
        std::map<std::string, std::string> derivedFrom;
        for (const auto& e : doc->find("media")->asArray())
            if (const auto* d = e.find("derived_from"))
                derivedFrom[e.find("sha256")->asString()] = d->find("sha256")->asString();
        for (const auto& v : vs) {
            if (!v.id || (v.wantTransform.empty() && !v.rendition)) continue;
            INFO(v.name);
            const std::string original =
                admin.get("/api/v1/media/" + std::to_string(v.id)).json()->getValue<std::string>("sha256");
            CHECK(derivedFrom[v.playedSha] == original);
        }
        const auto pub = (srv.dataDir() / "keys" / "content-signing.pub.pem").string();
        std::vector<std::string> argv{MICROSCAPE_PACK_BIN, "audit", "--pub", pub, "--csv", tarPath.string()};
        auto cli = runProcess(argv);
        INFO(cli.out.substr(0, 3000) << cli.err);
        CHECK(cli.exitCode == 0);
        CHECK(cli.out.find("H.264 4K MP4") == std::string::npos);  // (names are display names, below)
        CHECK(cli.out.find("promo-4k.mp4") != std::string::npos);  // a rendition's plays under its original's name
        argv[0] = std::string(MICROSCAPE_SOURCE_DIR) + "/tests/audit_verifier.py";
        argv.insert(argv.begin(), "/usr/bin/python3");
        auto second = runProcess(argv);
        INFO(second.err);
        CHECK(second.exitCode == 0);
        CHECK(second.out == cli.out);
    }
    // The plays report names a rendition's plays by its original (the media
    // join through media_derived), as the auditor's recount does.
    {
        const std::string prev = timeutil::formatDate(timeutil::civilFromDays(srv.nowMs() / 86400000 - 1));
        const std::string next = timeutil::formatDate(timeutil::civilFromDays(srv.nowMs() / 86400000 + 1));
        auto rep = admin.get("/api/v1/reports/plays?from=" + prev + "&to=" + next + "&by=media");
        INFO(rep.body.substr(0, 2000));
        REQUIRE(rep.status == 200);
        auto rows = rep.json()->getArray("rows");
        bool found = false;
        for (std::size_t i = 0; i < rows->size(); ++i) {
            auto row = rows->getObject(static_cast<unsigned>(i));
            if (row->getValue<std::string>("media") != uhdSha) continue;
            found = true;
            CHECK(row->getValue<std::string>("media_name") == "promo-4k.mp4");
        }
        CHECK(found);
    }

    // The table (variant -> outcome), for the record.
    std::string table = "\n| variant | outcome |\n| --- | --- |\n";
    for (const auto& v : vs)
        table += "| " + v.name + " | " +
                 (v.wantCode.empty() ? std::string("201, ") + (v.rendition ? "rendition, " : "") +
                                           (v.wantTransform.empty() ? "" : "normalised, ") +
                                           (v.shown ? (v.seen ? "shown right" : "NOT SEEN") : "accepted")
                                     : std::to_string(v.status) + " " + v.code) +
                 " |\n";
    WARN(table << "\n" << phases << shots << " screenshots");
}

TEST_CASE("a still whose conversion outlasts the time limit is refused with limits_exceeded",
          "[controller][normalise]") {
    TestServer srv([](auto& c) { c.normaliseTimeoutSeconds = 1; });
    TempDir fx;
    Client ed = srv.userClient("ed", "editor", "宣传处");
    const fs::path big = fx.path / "big.png";
    // 7000 x 7000 with transparency: decoding, flattening and scaling it takes seconds.
    sh("/usr/bin/convert -size 7000x7000 xc:'rgba(200,40,40,0.5)' PNG32:'" + big.string() + "'");
    const std::size_t before = [&] {
        std::size_t n = 0;
        for (auto& e : fs::recursive_directory_iterator(srv.dataDir() / "media")) n += e.is_regular_file();
        return n;
    }();
    auto r = ed.request("POST", "/api/v1/media?filename=big.png", readFile(big), "image/png");
    INFO(r.body);
    CHECK(r.status == 422);
    CHECK(r.errorCode() == "limits_exceeded");
    CHECK_THAT(r.body, Catch::Contains("took longer than the 1 s allowed"));
    CHECK(r.body.find(srv.dataDir().string()) == std::string::npos);
    std::size_t after = 0;
    for (auto& e : fs::recursive_directory_iterator(srv.dataDir() / "media")) after += e.is_regular_file();
    CHECK(after == before);  // nothing kept, no converted leftovers
}
