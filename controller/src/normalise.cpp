#include "normalise.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <vector>

#include "confined_run.hpp"
#include "microscape/core/crypto.hpp"

namespace microscape::controller {

namespace fs = std::filesystem;

namespace {

constexpr const char* kConvert = "/usr/bin/convert";
constexpr const char* kIdentify = "/usr/bin/identify";
constexpr const char* kFfmpeg = "/usr/bin/ffmpeg";
constexpr std::int64_t kMinClipMs = 6000;  // an animated GIF's clip repeats its animation to at least this
constexpr std::int64_t kMaxClipMs = 60000;

struct Fd {
    int fd = -1;
    explicit Fd(int f) : fd(f) {}
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    ~Fd() {
        if (fd >= 0) ::close(fd);
    }
};

std::string imCoder(const std::string& mime) {
    if (mime == "image/png") return "PNG";
    if (mime == "image/jpeg") return "JPEG";
    if (mime == "image/gif") return "GIF";
    if (mime == "image/webp") return "WEBP";
    if (mime == "image/bmp") return "BMP";
    if (mime == "image/avif") return "AVIF";
    return "";
}

// ImageMagick's resource limits, below the process's own: it fails cleanly
// ("cache resources exhausted") before the address-space limit kills it.
std::vector<std::string> magickEnv(const NormaliseOptions& o) {
    const std::uint64_t mib = o.memoryBytes >> 20;
    return {"MAGICK_MEMORY_LIMIT=" + std::to_string(mib / 4) + "MiB",
            "MAGICK_MAP_LIMIT=" + std::to_string(mib / 2) + "MiB",
            "MAGICK_DISK_LIMIT=" + std::to_string(mib) + "MiB",
            "MAGICK_AREA_LIMIT=" + std::to_string(o.maxPixels * 2),
            "MAGICK_THREAD_LIMIT=2",
            "MAGICK_TIME_LIMIT=" + std::to_string(std::max(1, o.timeoutMs / 1000)),
            "MAGICK_TMPDIR=/tmp",
            "TMPDIR=/tmp"};
}

ConfinedLimits limitsFor(const NormaliseOptions& o) {
    ConfinedLimits l;
    l.addressSpaceBytes = o.memoryBytes;
    l.cpuSeconds = std::max(2, o.timeoutMs / 1000 * 2);  // two threads may use the wall time twice
    l.fileSizeBytes = std::max<std::uint64_t>(o.memoryBytes, 1ull << 30);
    l.timeoutMs = o.timeoutMs;
    return l;
}

bool has(const std::string& s, const char* what) {
    std::string a = s, b = what;
    std::transform(a.begin(), a.end(), a.begin(), ::tolower);
    std::transform(b.begin(), b.end(), b.begin(), ::tolower);
    return a.find(b) != std::string::npos;
}

std::string sizeText(std::uint64_t bytes) {
    if (bytes < 10 * 1024) return std::to_string(bytes) + " bytes";
    if (bytes < 10 * 1024 * 1024) return std::to_string(bytes / 1024) + " KB";
    return std::to_string(bytes / (1024 * 1024)) + " MB";
}

std::uint64_t fileSize(const fs::path& p) {
    std::error_code ec;
    auto n = fs::file_size(p, ec);
    return ec ? 0 : n;
}

// Why a tool failed on the file, as a refusal (never with the tool's own text,
// which names paths).
Refused classify(const ConfinedRun& run, const fs::path& file, const NormaliseOptions& o, const char* what) {
    const std::string size = sizeText(fileSize(file));
    if (run.timedOut || run.signal == SIGXCPU || has(run.err, "time limit exceeded"))
        return {"limits_exceeded", std::string(what) + " took longer than the " + std::to_string(o.timeoutMs / 1000) +
                                       " s allowed for one file and was stopped; make it smaller (fewer pixels or "
                                       "frames) and upload it again"};
    if (run.signal == SIGKILL || run.signal == SIGSEGV || run.signal == SIGABRT || run.signal == SIGBUS ||
        has(run.err, "memory allocation failed") || has(run.err, "cache resources exhausted") ||
        has(run.err, "cannot allocate memory") || has(run.err, "resource limit"))
        return {"limits_exceeded", std::string(what) + " needed more than the " + std::to_string(o.memoryBytes >> 20) +
                                       " MB of memory allowed for one file; make it smaller (at most " +
                                       std::to_string(o.maxSide) + " pixels a side) and upload it again"};
    if (has(run.err, "width or height exceeds limit") || has(run.err, "exceeds limit"))
        return {"image_too_large", "the picture is larger than the controller accepts; scale it down to at most " +
                                       std::to_string(o.maxSide) + " pixels on its longest side and upload it again"};
    if (has(run.err, "contains no image") || has(run.err, "improper image header") || has(run.err, "not a ") ||
        has(run.err, "invalid ihdr") || has(run.err, "corrupt image") || has(run.err, "no decode delegate"))
        return {"no_picture", "no picture in the file (" + size +
                                  ") could be decoded: damaged, or not what its first bytes say? Export it again as "
                                  "JPEG or PNG and upload the new file"};
    if (has(run.err, "premature end") || has(run.err, "insufficient image data") || has(run.err, "unexpected end") ||
        has(run.err, "truncated") || has(run.err, "corrupt image") || has(run.err, "end of file") ||
        has(run.err, "damaged"))
        return {"truncated", "the file ends after " + size +
                                 " before the picture is complete: truncated? Upload the complete file again"};
    return {"no_picture", "no picture in the file (" + size +
                              ") could be decoded: damaged, or not what its first bytes say? Export it again as "
                              "JPEG or PNG and upload the new file"};
}

// The picture size a PNG, GIF or JPEG header states, read without decoding, so
// that a decompression bomb is refused before any tool allocates its pixels.
std::optional<std::pair<std::uint64_t, std::uint64_t>> statedSize(const fs::path& file, const std::string& mime) {
    std::ifstream in(file, std::ios::binary);
    std::string b(1 << 20, '\0');
    in.read(b.data(), static_cast<std::streamsize>(b.size()));
    b.resize(static_cast<std::size_t>(in.gcount()));
    auto u = [&](std::size_t i) { return static_cast<std::uint64_t>(static_cast<unsigned char>(b[i])); };
    if (mime == "image/png" && b.size() >= 24 && b.compare(12, 4, "IHDR") == 0)
        return std::pair{(u(16) << 24) | (u(17) << 16) | (u(18) << 8) | u(19),
                         (u(20) << 24) | (u(21) << 16) | (u(22) << 8) | u(23)};
    if (mime == "image/gif" && b.size() >= 10) return std::pair{u(6) | (u(7) << 8), u(8) | (u(9) << 8)};
    if (mime == "image/jpeg") {
        std::size_t i = 2;
        while (i + 9 < b.size()) {
            if (u(i) != 0xFF) return std::nullopt;
            const auto m = u(i + 1);
            if (m == 0xFF) {
                ++i;
                continue;
            }
            const std::size_t len = (u(i + 2) << 8) | u(i + 3);
            if (m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC)
                return std::pair{(u(i + 7) << 8) | u(i + 8), (u(i + 5) << 8) | u(i + 6)};
            if (len < 2) return std::nullopt;
            i += 2 + len;
        }
    }
    return std::nullopt;
}

std::string tooLarge(std::uint64_t w, std::uint64_t h, const NormaliseOptions& o) {
    return std::to_string(w) + "\xC3\x97" + std::to_string(h) + " (" + std::to_string(w * h / 1'000'000) +
           " million pixels) is larger than the " + std::to_string(o.maxPixels / 1'000'000) +
           " million pixels (and 16384 a side) the controller accepts for a picture; scale it down (" +
           std::to_string(o.maxSide) + " pixels on the longest side is plenty for any screen) and upload it again";
}

int orientationNumber(const std::string& name) {
    static const char* kNames[] = {"TopLeft", "TopRight", "BottomRight", "BottomLeft",
                                   "LeftTop", "RightTop", "RightBottom", "LeftBottom"};
    for (int i = 0; i < 8; ++i)
        if (name == kNames[i]) return i + 1;
    return 1;
}

Result<fs::path> newOutput(const NormaliseOptions& o, const char* suffix, int& fd) {
    auto rnd = crypto::randomBytes(8);
    if (!rnd) return rnd.error();
    fs::path p = o.tmpDir / ("derived-" + crypto::toHex(*rnd) + suffix);
    fd = ::open(p.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
    if (fd < 0) return makeError(Errc::Io, "cannot create " + p.string());
    return p;
}

std::string dims(int w, int h) {
    return std::to_string(w) + "x" + std::to_string(h);
}

// Fits w x h into a box, keeping the ratio, never enlarging; even sides for video.
std::pair<int, int> fit(int w, int h, int boxW, int boxH, bool even) {
    double s = std::min({1.0, double(boxW) / w, double(boxH) / h});
    int ow = std::max(1, static_cast<int>(std::lround(w * s))), oh = std::max(1, static_cast<int>(std::lround(h * s)));
    if (even) {
        ow = std::max(2, ow - ow % 2);
        oh = std::max(2, oh - oh % 2);
    }
    return {ow, oh};
}

}  // namespace

Result<StillInfo> inspectStill(const fs::path& file, const std::string& mime, const NormaliseOptions& o,
                               Refused* refused, NormaliseStep* step) {
    const std::string coder = imCoder(mime);
    if (coder.empty()) {
        if (refused)
            *refused = {"unknown_format", "this kind of picture (" + mime +
                                              ") is not supported; upload a "
                                              "JPEG, PNG, WebP or GIF"};
        return makeError(Errc::BadMedia, "unsupported picture type");
    }
    if (auto wh = statedSize(file, mime);
        wh && (wh->first * wh->second > o.maxPixels || wh->first > 16384 || wh->second > 16384)) {
        if (refused) *refused = {"image_too_large", tooLarge(wh->first, wh->second, o)};
        return makeError(Errc::BadMedia, "too large");
    }
    Fd in(::open(file.c_str(), O_RDONLY | O_CLOEXEC));
    if (in.fd < 0) return makeError(Errc::Io, "cannot open " + file.string());
    int outFd = -1;
    auto outPath = newOutput(o, ".txt", outFd);
    if (!outPath) return outPath.error();
    Fd out(outFd);
    ConfinedLimits limits = limitsFor(o);
    limits.fileSizeBytes = 1 << 20;
    auto run = runConfined(
        {kIdentify, "-ping", "-format", "%m %w %h %W %H %[colorspace] %z %A %[orientation] %T\\n", coder + ":fd:0"},
        in.fd, out.fd, limits, magickEnv(o));
    std::string text;
    {
        char buf[4096];
        ssize_t n;
        ::lseek(out.fd, 0, SEEK_SET);
        while ((n = ::read(out.fd, buf, sizeof buf)) > 0 && text.size() < (1u << 20))
            text.append(buf, static_cast<std::size_t>(n));
    }
    std::error_code ec;
    fs::remove(*outPath, ec);
    if (step) step->detail = "identify: " + run.describe() + " in " + std::to_string(run.seconds) + " s; " + run.err;
    if (!run.started) return makeError(Errc::Internal, "ImageMagick could not be started");
    StillInfo info;
    std::istringstream lines(text);
    std::string line;
    int n = 0;
    while (std::getline(lines, line)) {
        if (line.empty()) continue;
        std::istringstream f(line);
        StillInfo i;
        std::string alpha, orient;
        std::int64_t delay = 0;
        if (!(f >> i.format >> i.width >> i.height >> i.canvasWidth >> i.canvasHeight >> i.colorspace >> i.depth >>
              alpha >> orient >> delay))
            continue;
        if (n == 0) {
            info = i;
            info.alpha = alpha == "True" || alpha == "Blend";
            info.orientation = orientationNumber(orient);
        }
        info.animationMs += delay * 10;
        ++n;
    }
    if (!run.ok() || n == 0 || info.width <= 0 || info.height <= 0) {
        if (refused) *refused = classify(run, file, o, "reading the picture");
        return makeError(Errc::BadMedia, "not a readable picture");
    }
    info.frames = n;
    const std::uint64_t pixels = std::uint64_t(info.width) * std::uint64_t(info.height);
    if (pixels > o.maxPixels || info.width > 16384 || info.height > 16384) {
        if (refused) *refused = {"image_too_large", tooLarge(info.width, info.height, o)};
        return makeError(Errc::BadMedia, "too large");
    }
    return info;
}

bool stillPlaysAsIs(const StillInfo& i, const std::string& mime, int maxSide) {
    return (mime == "image/png" || mime == "image/jpeg") && i.frames == 1 && i.orientation == 1 &&
           i.colorspace == "sRGB" && i.depth == 8 && !i.alpha && i.width <= maxSide && i.height <= maxSide;
}

Result<DerivedFile> normaliseStill(const fs::path& file, const std::string& mime, const StillInfo& info,
                                   const std::string& background, const NormaliseOptions& o, Refused* refused,
                                   NormaliseStep* step) {
    Fd in(::open(file.c_str(), O_RDONLY | O_CLOEXEC));
    if (in.fd < 0) return makeError(Errc::Io, "cannot open " + file.string());
    const std::string coder = imCoder(mime);
    DerivedFile d;
    int outFd = -1;

    if (info.frames > 1) {
        // An animated GIF becomes a clip that plays its animation, repeated to at
        // least kMinClipMs; transparency over the chosen background.
        const std::int64_t once = std::max<std::int64_t>(info.animationMs, 100LL * info.frames / 2);
        const int repeats = static_cast<int>(
            std::clamp<std::int64_t>((kMinClipMs + once - 1) / once, 1, kMaxClipMs / std::max<std::int64_t>(once, 1)));
        const int cw = info.canvasWidth > 0 ? info.canvasWidth : info.width,
                  ch = info.canvasHeight > 0 ? info.canvasHeight : info.height;
        auto [ow, oh] = fit(cw, ch, std::min(o.maxSide, 1920), std::min(o.maxSide, 1920), true);
        auto out = newOutput(o, ".mp4", outFd);
        if (!out) return out.error();
        Fd outF(outFd);
        const std::string bg = "0x" + background.substr(1);
        const std::string graph =
            "color=c=" + bg + ":s=" + dims(cw, ch) +
            ":r=25[bg];[0:v]format=rgba[fg];[bg][fg]overlay=shortest=1:format=auto,scale=" + std::to_string(ow) + ":" +
            std::to_string(oh) + ",format=yuv420p[v]";
        auto run = runConfined({kFfmpeg,
                                "-nostdin",
                                "-hide_banner",
                                "-loglevel",
                                "error",
                                "-threads",
                                "2",
                                "-stream_loop",
                                std::to_string(repeats - 1),
                                "-f",
                                "gif",
                                "-i",
                                "file:/proc/self/fd/0",
                                "-filter_complex",
                                graph,
                                "-map",
                                "[v]",
                                "-r",
                                "25",
                                "-c:v",
                                "libx264",
                                "-profile:v",
                                "main",
                                "-preset",
                                "veryfast",
                                "-crf",
                                "23",
                                "-movflags",
                                "+faststart",
                                "-f",
                                "mp4",
                                "-y",
                                "file:/proc/self/fd/1"},
                               in.fd, outF.fd, limitsFor(o));
        if (step)
            step->detail = "ffmpeg (GIF): " + run.describe() + " in " + std::to_string(run.seconds) + " s; " + run.err;
        if (!run.ok() || fileSize(*out) == 0) {
            std::error_code ec;
            fs::remove(*out, ec);
            if (!run.started) return makeError(Errc::Internal, "ffmpeg could not be started");
            if (refused) *refused = classify(run, file, o, "turning the animation into a clip");
            return makeError(Errc::BadMedia, "GIF conversion failed");
        }
        d.path = *out;
        d.kind = "video";
        d.mime = "video/mp4";
        d.width = ow;
        d.height = oh;
        d.durationMs = once * repeats;
        d.transform = "animated GIF (" + std::to_string(info.frames) + " frames, " + std::to_string(once) +
                      " ms) to an H.264 clip (ffmpeg): played " + std::to_string(repeats) + " time(s), " +
                      (cw != ow || ch != oh ? "scaled " + dims(cw, ch) + " to " + dims(ow, oh) + ", " : "") +
                      "transparency over " + background + ", 25 frames/s";
        return d;
    }

    const bool swap = info.orientation >= 5;
    const int uw = swap ? info.height : info.width, uh = swap ? info.width : info.height;
    auto [ow, oh] = fit(uw, uh, o.maxSide, o.maxSide, false);
    const bool jpeg = mime == "image/jpeg";
    auto out = newOutput(o, jpeg ? ".jpg" : ".png", outFd);
    if (!out) return out.error();
    Fd outF(outFd);
    std::vector<std::string> args{kConvert,   coder + ":fd:0[0]", "-auto-orient", "-colorspace", "sRGB", "-background",
                                  background, "-alpha",           "remove",       "-alpha",      "off"};
    if (ow != uw || oh != uh) {
        args.push_back("-resize");
        args.push_back(dims(ow, oh) + "!");
    }
    for (const char* a : {"-depth", "8", "-strip"}) args.push_back(a);
    if (jpeg) {
        for (const char* a : {"-type", "TrueColor", "-quality", "92", "-sampling-factor", "4:2:0"}) args.push_back(a);
        args.push_back("JPEG:-");
    } else {
        args.push_back("PNG24:-");
    }
    auto run = runConfined(args, in.fd, outF.fd, limitsFor(o), magickEnv(o));
    if (step) step->detail = "convert: " + run.describe() + " in " + std::to_string(run.seconds) + " s; " + run.err;
    // ImageMagick fills a cut-off JPEG with grey and only warns: a warning about
    // the data is a refusal too.
    const bool dataWarning = has(run.err, "premature end") || has(run.err, "corrupt") ||
                             has(run.err, "insufficient image data") || has(run.err, "truncated");
    if (!run.ok() || dataWarning || fileSize(*out) == 0) {
        std::error_code ec;
        fs::remove(*out, ec);
        if (!run.started) return makeError(Errc::Internal, "ImageMagick could not be started");
        if (refused) *refused = classify(run, file, o, "converting the picture");
        return makeError(Errc::BadMedia, "conversion failed");
    }
    std::vector<std::string> done;
    if (info.orientation != 1) done.push_back("EXIF orientation " + std::to_string(info.orientation) + " applied");
    if (info.colorspace != "sRGB") done.push_back(info.colorspace + " to sRGB");
    if (info.depth != 8) done.push_back(std::to_string(info.depth) + "-bit to 8-bit");
    if (info.alpha) done.push_back("transparency flattened over " + background);
    if (ow != uw || oh != uh) done.push_back("scaled " + dims(uw, uh) + " to " + dims(ow, oh));
    if (mime != "image/png" && mime != "image/jpeg") done.push_back(info.format + " to PNG");
    if (done.empty()) done.push_back("re-encoded");
    std::string t = "still (ImageMagick): ";
    for (std::size_t i = 0; i < done.size(); ++i) t += (i ? "; " : "") + done[i];
    d.path = *out;
    d.kind = "image";
    d.mime = jpeg ? "image/jpeg" : "image/png";
    d.width = ow;
    d.height = oh;
    d.transform = t;
    return d;
}

Result<DerivedFile> makeRendition(const fs::path& file, int boxWidth, int boxHeight, const NormaliseOptions& o,
                                  NormaliseStep* step) {
    Fd in(::open(file.c_str(), O_RDONLY | O_CLOEXEC));
    if (in.fd < 0) return makeError(Errc::Io, "cannot open " + file.string());
    int outFd = -1;
    auto out = newOutput(o, ".mp4", outFd);
    if (!out) return out.error();
    Fd outF(outFd);
    // About 0.1 bit per pixel at 30 frames/s: 640x360 ~0.7 Mbit/s, 1920x1080 ~6 Mbit/s.
    const std::int64_t kbps = std::clamp<std::int64_t>(std::int64_t(boxWidth) * boxHeight * 3 / 1000, 400, 8000);
    const std::string vf = "scale=w='min(" + std::to_string(boxWidth) + ",iw)':h='min(" + std::to_string(boxHeight) +
                           ",ih)':force_original_aspect_ratio=decrease:force_divisible_by=2,format=yuv420p";
    auto run = runConfined({kFfmpeg,
                            "-nostdin",
                            "-hide_banner",
                            "-loglevel",
                            "error",
                            "-threads",
                            "2",
                            "-i",
                            "file:/proc/self/fd/0",
                            "-map",
                            "0:v:0",
                            "-map",
                            "0:a:0?",
                            "-vf",
                            vf,
                            "-fpsmax",
                            "30",
                            "-c:v",
                            "libx264",
                            "-profile:v",
                            "main",
                            "-preset",
                            "veryfast",
                            "-crf",
                            "23",
                            "-maxrate",
                            std::to_string(kbps) + "k",
                            "-bufsize",
                            std::to_string(kbps * 2) + "k",
                            "-c:a",
                            "aac",
                            "-b:a",
                            "128k",
                            "-ac",
                            "2",
                            "-movflags",
                            "+faststart",
                            "-f",
                            "mp4",
                            "-y",
                            "file:/proc/self/fd/1"},
                           in.fd, outF.fd, limitsFor(o));
    if (step) step->detail = "ffmpeg: " + run.describe() + " in " + std::to_string(run.seconds) + " s; " + run.err;
    if (!run.ok() || fileSize(*out) == 0) {
        std::error_code ec;
        fs::remove(*out, ec);
        if (!run.started) return makeError(Errc::Internal, "ffmpeg could not be started");
        return makeError(Errc::BadMedia, classify(run, file, o, "making the rendition").message);
    }
    DerivedFile d;
    d.path = *out;
    d.kind = "video";
    d.mime = "video/mp4";
    d.transform = "rendition for " + dims(boxWidth, boxHeight) +
                  " screens (ffmpeg): H.264 main, no larger than the screen, at most 30 frames/s, CRF 23 up to " +
                  std::to_string(kbps) + " kbit/s; AAC 128 kbit/s";
    return d;
}

}  // namespace microscape::controller
