// bundle::preflight: the first pass of a verify-before-write import. It must
// reach verify()'s verdict on everything but the media hashes while reading only
// headers, manifest.json and manifest.sig (media data are skipped).
#include <algorithm>
#include <catch2/catch.hpp>

#include "../support/bundle_builder.hpp"
#include "../support/catch_errc.hpp"

using namespace microscape;
using namespace microscape::testing;

namespace {

// Counts the bytes read; skip() moves on without reading (a seek on a file).
class CountingSource final : public tar::ByteSource {
  public:
    explicit CountingSource(std::string_view data) : inner_(data) {}
    Result<std::size_t> read(void* buf, std::size_t n) override {
        auto r = inner_.read(buf, n);
        if (r) readBytes += *r;
        return r;
    }
    Status skip(std::uint64_t n) override { return inner_.skip(n); }
    std::uint64_t readBytes = 0;

  private:
    tar::MemorySource inner_;
};

Bundle bigBundle() {
    return makeBundle(testKey(1), {makeMedia(fakeMp4(1 << 20, 7), "clip", "clip.mp4", 15000),
                                   makeMedia(fakePng(300 * 1024, 8), "poster", "poster.png")});
}

}  // namespace

TEST_CASE("preflight accepts a good bundle in any order without reading its media", "[bundle][preflight]") {
    const auto b = bigBundle();
    auto entries = b.entries();  // media first
    SECTION("writer's order") {}
    SECTION("manifest and signature first") {
        std::rotate(entries.begin(), entries.end() - 2, entries.end());
    }
    SECTION("signature, media, manifest") {
        std::swap(entries.front(), entries.back());
    }
    const std::string archive = packTar(entries);
    CountingSource src(archive);
    auto r = bundle::preflight(src, verifyOptions({testKey(1).publicKey()}));
    REQUIRE(r.ok());
    CHECK(r->manifestBytes == b.manifestBytes);
    CHECK(r->mediaBytes == (1u << 20) + 300 * 1024);
    CHECK(src.readBytes < 16 * 1024);  // headers, manifest, signature, end marker
}

TEST_CASE("preflight refuses what verify refuses, except a hash it does not compute", "[bundle][preflight]") {
    const auto b = bigBundle();
    const auto opts = verifyOptions({testKey(1).publicKey()});
    auto check = [&](const std::string& archive, Errc want) {
        CountingSource src(archive);
        auto r = bundle::preflight(src, opts);
        CHECK(r.code() == want);
        CHECK(src.readBytes < 16 * 1024);
        CHECK(verifyBytes(archive, opts).code() == want);
    };
    SECTION("no manifest") {
        auto e = b.entries();
        e.erase(e.end() - 2);
        check(packTar(e), Errc::BadManifest);
    }
    SECTION("no signature") {
        auto e = b.entries();
        e.pop_back();
        check(packTar(e), Errc::BadSignature);
    }
    SECTION("signed by another key") {
        check(makeBundle(testKey(2), b.media).tar(), Errc::UnknownSigner);
    }
    SECTION("a media entry the manifest does not name") {
        auto e = b.entries();
        auto extra = makeMedia(fakePng(4096, 99), "x", "x.png");
        e.insert(e.begin(), fileEntry(mediaName(extra.entry.sha256), extra.bytes));
        check(packTar(e), Errc::ExtraEntry);
    }
    SECTION("a media entry of another size than the manifest's") {
        auto bad = makeBundle(testKey(1), b.media, [](manifest::Manifest& m) { m.media[0].sizeBytes += 512; });
        check(bad.tar(), Errc::SizeMismatch);
    }
    SECTION("a listed media entry missing") {
        auto e = b.entries();
        e.erase(e.begin());
        check(packTar(e), Errc::MissingMedia);
    }
    SECTION("a media entry twice") {
        auto e = b.entries();
        e.insert(e.begin(), e.front());
        check(packTar(e), Errc::DuplicateEntry);
    }
    SECTION("tampered media bytes pass preflight and fail verify") {
        auto bad = b;
        bad.media[0].bytes[1000] ^= 1;
        const std::string archive = bad.tar();
        tar::MemorySource src(archive);
        CHECK(bundle::preflight(src, opts).ok());
        CHECK(verifyBytes(archive, opts).code() == Errc::HashMismatch);
    }
}
