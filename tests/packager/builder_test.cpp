// The bundle builder's library API: streaming, de-duplication, failures that
// leave nothing behind.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <sys/mount.h>
#include <unistd.h>

#include <filesystem>

#include "media_fixtures.hpp"
#include "microscape/core/bundle.hpp"
#include "microscape/pack/builder.hpp"
#include "microscape/pack/file_io.hpp"
#include "microscape/pack/probe.hpp"

using namespace microscape;
using namespace microscape::testing;
namespace fs = std::filesystem;

namespace {

constexpr std::int64_t kNow = 1796000000000;  // 2026-11-30

pack::BuildRequest request(const std::string& out, const std::vector<std::string>& files) {
    pack::BuildRequest req;
    req.outPath = out;
    req.version = 7;
    req.issuedAtMs = kNow;
    req.expiresAtMs = kNow + 86400000;
    req.target = "mall-3";
    auto prober = pack::MediaProber::create();
    REQUIRE(prober.ok());
    for (const auto& f : files) {
        auto info = prober->probe(f);
        REQUIRE(info.ok());
        pack::MediaInput in;
        in.path = f;
        in.info = *info;
        req.media.push_back(in);
    }
    return req;
}

Result<bundle::Verified> verifyFile(const std::string& path, const crypto::PublicKey& pub) {
    auto src = pack::FileSource::open(path);
    REQUIRE(src.ok());
    bundle::VerifyOptions opt;
    opt.trustedKeys = {pub};
    opt.policy.nowMs = kNow;
    return bundle::verify(*src, opt);
}

}  // namespace

TEST_CASE("the prober detects kind by content and measures clips", "[builder]") {
    TempDir dir;
    REQUIRE(makePoster(dir / "poster.jpg.png", "一盔一带"));  // the name lies; the content decides
    REQUIRE(makeClip(dir / "clip.bin", 3));
    auto prober = pack::MediaProber::create();
    REQUIRE(prober.ok());
    auto img = prober->probe(dir / "poster.jpg.png");
    REQUIRE(img.ok());
    CHECK(img->kind == MediaKind::Image);
    CHECK(img->mime == "image/png");
    CHECK(img->width == 640);
    CHECK(img->height == 360);
    auto vid = prober->probe(dir / "clip.bin");
    REQUIRE(vid.ok());
    CHECK(vid->kind == MediaKind::Video);
    CHECK(vid->durationMs >= 2900);
    CHECK(vid->durationMs <= 3100);
    CHECK(vid->width == 320);
    SECTION("a truncated clip is refused as undecodable") {
        std::string bytes = readFile(dir / "clip.bin");
        writeFile(dir / "cut.mp4", bytes.substr(0, 40));
        auto r = prober->probe(dir / "cut.mp4");
        CHECK(r.code() == Errc::BadMedia);
    }
    SECTION("a slogan document is text") {
        writeFile(dir / "slogan.json", R"({"microscape_slogan": 1, "text": "一盔一带 安全常在"})");
        auto r = prober->probe(dir / "slogan.json");
        REQUIRE(r.ok());
        CHECK(r->kind == MediaKind::Text);
    }
}

TEST_CASE("buildBundle writes a bundle that verifies, storing identical content once", "[builder]") {
    TempDir dir;
    REQUIRE(makePoster(dir / "a.png", "反诈防骗"));
    REQUIRE(makeClip(dir / "b.mp4", 2));
    fs::copy_file(dir / "a.png", dir / "a-copy.png");
    auto key = crypto::PrivateKey::generate();
    REQUIRE(key.ok());
    auto req = request(dir / "out.tar", {dir / "a.png", dir / "b.mp4", dir / "a-copy.png"});
    auto r = pack::buildBundle(req, *key);
    INFO((r.ok() ? "" : r.error().str()));
    REQUIRE(r.ok());
    CHECK(r->manifest.media.size() == 2);
    CHECK(r->bytesWritten == fs::file_size(dir / "out.tar"));
    auto v = verifyFile(dir / "out.tar", key->publicKey());
    INFO((v.ok() ? "" : v.error().str()));
    REQUIRE(v.ok());
    CHECK(v->manifest.version == 7);
    CHECK(v->manifest.media[0].name == "a");
    CHECK(v->manifest.media[0].sha256 == crypto::toHex(*crypto::sha256File(dir / "a.png")));
    // No temporary files are left next to the output.
    int files = 0;
    for (auto& e : fs::directory_iterator(dir.path)) files += e.path().filename().string()[0] == '.';
    CHECK(files == 0);
}

TEST_CASE("hashingCopy hashes exactly what it copies", "[builder]") {
    TempDir dir;
    std::string data;
    for (std::uint64_t i = 0; i < 3 * (1u << 20) + 12345; ++i) data += static_cast<char>(i * 7919 % 251);
    writeFile(dir / "in", data);
    int in = ::open((dir / "in").c_str(), O_RDONLY);
    int out = ::open((dir / "out").c_str(), O_WRONLY | O_CREAT, 0644);
    auto r = pack::hashingCopy(in, out, "test");
    ::close(in);
    ::close(out);
    REQUIRE(r.ok());
    CHECK(r->sizeBytes == data.size());
    CHECK(crypto::toHex(r->digest) == crypto::sha256Hex(data));
    CHECK(readFile(dir / "out") == data);

    SECTION("a size cap stops the copy") {
        int in2 = ::open((dir / "in").c_str(), O_RDONLY);
        int out2 = ::open((dir / "out2").c_str(), O_WRONLY | O_CREAT, 0644);
        auto capped = pack::hashingCopy(in2, out2, "test", 1 << 20);
        ::close(in2);
        ::close(out2);
        CHECK(capped.code() == Errc::TooLarge);
    }
    SECTION("a full device is a clear error") {
        int in3 = ::open((dir / "in").c_str(), O_RDONLY);
        int full = ::open("/dev/full", O_WRONLY);
        REQUIRE(full >= 0);
        auto e = pack::hashingCopy(in3, full, "/dev/full");
        ::close(in3);
        ::close(full);
        REQUIRE_FALSE(e.ok());
        CHECK(e.code() == Errc::Io);
        CHECK(e.error().message.find("no space") != std::string::npos);
    }
}

TEST_CASE("a build onto a full disk fails cleanly and leaves nothing", "[builder]") {
    if (::geteuid() != 0) {
        WARN("not root: cannot mount a small tmpfs; the /dev/full case above covers the error path");
        return;
    }
    TempDir dir;
    fs::create_directories(dir.path / "small");
    REQUIRE(::mount("tmpfs", (dir / "small").c_str(), "tmpfs", 0, "size=64k") == 0);
    struct Unmount {
        std::string p;
        ~Unmount() { ::umount2(p.c_str(), MNT_DETACH); }
    } unmount{dir / "small"};

    // A lossless clip of well over 64 KiB does not fit.
    REQUIRE(runShell("/usr/bin/ffmpeg -nostdin -loglevel error -f lavfi -i testsrc=size=640x480:rate=25 -t 4 "
                     "-c:v libx264 -qp 0 -pix_fmt yuv420p '" +
                     (dir / "big.mp4") + "'") == 0);
    REQUIRE(fs::file_size(dir / "big.mp4") > 100 * 1024);
    auto key = crypto::PrivateKey::generate();
    auto req = request(dir / "small/out.tar", {dir / "big.mp4"});
    auto r = pack::buildBundle(req, *key);
    REQUIRE_FALSE(r.ok());
    CHECK(r.code() == Errc::Io);
    CHECK(r.error().message.find("no space") != std::string::npos);
    CHECK(fs::is_empty(dir / "small"));
}

TEST_CASE("a bundle with more media files than write buffers builds", "[builder]") {
    // Regression: a buffer taken at each file's end was never returned, so the
    // fifth file deadlocked the writer.
    TempDir dir;
    std::vector<std::string> files;
    for (int i = 0; i < 9; ++i) {
        std::string path = dir / ("poster-" + std::to_string(i) + ".png");
        REQUIRE(runProcess({"/usr/bin/convert", "-size", "32x32", "xc:rgb(" + std::to_string(i * 20) + ",10,10)",
                            "-depth", "8", path})
                    .exitCode == 0);
        files.push_back(path);
    }
    auto key = crypto::PrivateKey::generate();
    auto r = pack::buildBundle(request(dir / "out.tar", files), *key);
    REQUIRE(r.ok());
    CHECK(r->manifest.media.size() == 9);
    CHECK(verifyFile(dir / "out.tar", key->publicKey()).ok());
}

TEST_CASE("the prober refuses a still that is cut off after its header", "[builder]") {
    TempDir dir;
    REQUIRE(makePoster(dir / "full.png", "禁毒"));
    std::string png = readFile(dir / "full.png");
    writeFile(dir / "cut.png", png.substr(0, png.size() / 2));
    REQUIRE(runProcess({"/usr/bin/convert", dir / "full.png", dir / "full.jpg"}).exitCode == 0);
    std::string jpg = readFile(dir / "full.jpg");
    writeFile(dir / "cut.jpg", jpg.substr(0, jpg.size() / 2));
    auto prober = pack::MediaProber::create();
    REQUIRE(prober.ok());
    CHECK(prober->probe(dir / "full.png").ok());
    CHECK(prober->probe(dir / "full.jpg").ok());
    CHECK(prober->probe(dir / "cut.png").code() == Errc::BadMedia);
    CHECK(prober->probe(dir / "cut.jpg").code() == Errc::BadMedia);
}
