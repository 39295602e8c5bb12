#include <catch2/catch.hpp>

#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <set>
#include <sstream>

#include "../support/bundle_builder.hpp"
#include "../support/catch_errc.hpp"
#include "microscape/core/bundle.hpp"

using namespace microscape;
using namespace microscape::testing;
namespace fs = std::filesystem;

namespace {

struct Attempt {
    std::string archive;
    bundle::VerifyOptions options;
};

struct NegativeCase {
    std::string name;
    Errc expected;
    std::function<Attempt()> make;
};

std::size_t dataOffset(std::string_view archive, std::string_view entryName) {
    std::size_t at = headerOffset(archive, entryName);
    REQUIRE(at != std::string::npos);
    return at + tar::kBlockBytes;
}

// Position of the `nth` byte of `needle` inside `haystack` (which must hold it).
std::size_t offsetOf(std::string_view haystack, std::string_view needle, std::size_t nth = 0) {
    std::size_t at = haystack.find(needle);
    REQUIRE(at != std::string::npos);
    return at + nth;
}

// The matrix: one tampered or malformed bundle per row, each with the one reason
// code it must be rejected with. Rows share a valid bundle signed by key 1 that
// holds a poster and a clip, so each row differs from an accepted bundle by one
// thing.
std::vector<NegativeCase> negativeMatrix() {
    // Private keys are move-only, so closures re-create them from their fixed seeds.
    const auto pub1 = testKey(1).publicKey();
    const auto media = sampleMedia();
    const Bundle good = makeBundle(testKey(1), media);
    const std::string goodTar = good.tar();
    const std::string poster = mediaName(media[0].entry.sha256);
    const std::string clip = mediaName(media[1].entry.sha256);
    auto trusted = [pub1] { return verifyOptions({pub1}); };
    auto with = [trusted](std::string archive) { return Attempt{std::move(archive), trusted()}; };
    auto entriesWith = [good](const std::function<void(std::vector<TarEntry>&)>& edit) {
        auto entries = good.entries();
        edit(entries);
        return packTar(entries);
    };
    auto signedJsonBundle = [good](const std::function<void(json::Object&)>& edit) {
        auto [bytes, sig] = signedJson(good.manifest, testKey(1), edit);
        Bundle b = good;
        b.manifestBytes = bytes;
        b.signature = sig;
        return b.tar();
    };
    auto cut = [goodTar](std::size_t at) { return goodTar.substr(0, at); };

    std::vector<NegativeCase> m;
    auto add = [&m](std::string name, Errc expected, std::function<Attempt()> make) {
        m.push_back(NegativeCase{std::move(name), expected, std::move(make)});
    };

    // Content tampering.
    add("bit flip in a media file", Errc::HashMismatch,
        [=] { return with(flipBit(goodTar, dataOffset(goodTar, poster) + 700, 2)); });
    add("bit flip in the last byte of a media file", Errc::HashMismatch,
        [=] { return with(flipBit(goodTar, dataOffset(goodTar, clip) + media[1].bytes.size() - 1, 7)); });
    add("media stored under another listed hash", Errc::HashMismatch,
        [=] { return with(entriesWith([&](auto& e) { std::swap(e[0].data, e[1].data); })); });
    add("media entry replaced by an empty file", Errc::HashMismatch,
        [=] { return with(entriesWith([&](auto& e) { e[0].data.clear(); })); });
    add("bit flip in the manifest inside a display name", Errc::BadSignature, [=] {
        // "15s" -> "15r": still a valid manifest, no longer the signed one.
        return with(flipBit(goodTar, offsetOf(goodTar, "宣传片 15s", std::string("宣传片 15").size()), 0));
    });
    add("bit flip in the manifest version number", Errc::BadSignature,
        [=] { return with(flipBit(goodTar, offsetOf(goodTar, "\"version\":7", 10), 0)); });  // 7 -> 6
    add("bit flip in the manifest target", Errc::BadSignature, [=] {
        return with(flipBit(goodTar, offsetOf(goodTar, "\"target\":\"group:mall-screens\"", 10), 0));  // g -> f
    });
    add("bit flip in the signature", Errc::BadSignature,
        [=] { return with(flipBit(goodTar, dataOffset(goodTar, "manifest.sig") + 17, 4)); });
    add("signature of another manifest by the same key", Errc::BadSignature, [=] {
        Bundle b = good;
        b.signature = makeBundle(testKey(1), media, [](auto& mf) { mf.version = 8; }).signature;
        return with(b.tar());
    });

    // Trust and policy.
    add("signed by another key", Errc::UnknownSigner, [=] { return with(makeBundle(testKey(2), media).tar()); });
    add("no trusted keys at all", Errc::UnknownSigner, [=] { return Attempt{goodTar, verifyOptions({})}; });
    add("signer names the pinned key but another key signed", Errc::BadSignature, [=] {
        Bundle b = good;
        b.signature = testKey(2).sign(b.manifestBytes);
        return with(b.tar());
    });
    add("rollback below the minimum version", Errc::Rollback, [=] {
        return Attempt{goodTar, verifyOptions({pub1}, good.manifest.version + 1)};
    });
    add("expired", Errc::Expired, [=] { return Attempt{goodTar, verifyOptions({pub1}, 1, expiresMs() + 86400000)}; });
    add("expires exactly now", Errc::Expired, [=] { return Attempt{goodTar, verifyOptions({pub1}, 1, expiresMs())}; });

    // Entries against the manifest.
    add("missing media", Errc::MissingMedia, [=] { return with(entriesWith([](auto& e) { e.erase(e.begin()); })); });
    add("extra media not in the manifest", Errc::ExtraEntry, [=] {
        std::string extra = fakePng(900, 99);
        return with(
            entriesWith([&](auto& e) { e.insert(e.begin(), fileEntry(mediaName(crypto::sha256Hex(extra)), extra)); }));
    });
    add("extra non-media file", Errc::ExtraEntry,
        [=] { return with(entriesWith([](auto& e) { e.push_back(fileEntry("README.txt", "hello")); })); });
    add("media under its display name instead of its hash", Errc::ExtraEntry,
        [=] { return with(entriesWith([&](auto& e) { e[0].name = "media/反诈防骗海报.png"; })); });
    add("media name with uppercase hex", Errc::ExtraEntry, [=] {
        std::string upper = media[0].entry.sha256;
        for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
        return with(entriesWith([&](auto& e) { e[0].name = "media/" + upper; }));
    });
    add("media nested one level deeper", Errc::ExtraEntry,
        [=] { return with(entriesWith([&](auto& e) { e[0].name = "media/x/" + media[0].entry.sha256; })); });
    add("duplicate media entry", Errc::DuplicateEntry,
        [=] { return with(entriesWith([](auto& e) { e.insert(e.begin() + 1, e[0]); })); });
    add("duplicate manifest.json", Errc::DuplicateEntry,
        [=] { return with(entriesWith([](auto& e) { e.push_back(e[e.size() - 2]); })); });
    add("duplicate manifest.sig", Errc::DuplicateEntry,
        [=] { return with(entriesWith([](auto& e) { e.push_back(e.back()); })); });
    add("wrong media size in the signed manifest", Errc::SizeMismatch,
        [=] { return with(makeBundle(testKey(1), media, [](auto& mf) { mf.media[0].sizeBytes += 1; }).tar()); });

    // Truncation.
    add("truncated inside the first header", Errc::Truncated, [=] { return with(cut(100)); });
    add("truncated inside media data", Errc::Truncated, [=] { return with(cut(dataOffset(goodTar, poster) + 1000)); });
    add("truncated inside the padding after media", Errc::Truncated,
        [=] { return with(cut(dataOffset(goodTar, poster) + media[0].bytes.size() + 3)); });
    add("truncated inside manifest.json", Errc::Truncated,
        [=] { return with(cut(dataOffset(goodTar, "manifest.json") + 40)); });
    add("truncated inside manifest.sig", Errc::Truncated,
        [=] { return with(cut(dataOffset(goodTar, "manifest.sig") + 32)); });
    add("truncated before the end marker", Errc::Truncated,
        [=] { return with(cut(goodTar.size() - 2 * tar::kBlockBytes)); });
    add("truncated inside the end marker", Errc::Truncated,
        [=] { return with(cut(goodTar.size() - tar::kBlockBytes)); });
    add("truncated one byte short", Errc::Truncated, [=] { return with(cut(goodTar.size() - 1)); });

    // Names and entry types.
    add("path traversal into the manifest", Errc::BadPath, [=] {
        return with(entriesWith([](auto& e) { e.insert(e.begin(), fileEntry("media/../manifest.json", "{}")); }));
    });
    add("path traversal out of the bundle", Errc::BadPath, [=] {
        return with(
            entriesWith([](auto& e) { e.insert(e.begin(), fileEntry("../../etc/cron.d/evil", "* * * * * root sh")); }));
    });
    add("absolute path", Errc::BadPath, [=] {
        return with(entriesWith([](auto& e) { e.push_back(fileEntry("/etc/passwd", "root::0:0::/:/bin/sh")); }));
    });
    add("backslash in a name", Errc::BadPath,
        [=] { return with(entriesWith([](auto& e) { e[0].name = "media\\" + e[0].name.substr(6); })); });
    auto special = [=](char type, std::string name, std::string link) {
        return with(entriesWith([&](auto& e) { e.insert(e.begin() + 1, typedEntry(name, type, link)); }));
    };
    add("symlink entry", Errc::BadEntryType, [=] { return special('2', clip, "/etc/shadow"); });
    add("hard link entry", Errc::BadEntryType, [=] { return special('1', clip, poster); });
    add("directory entry", Errc::BadEntryType, [=] { return special('5', "media", ""); });
    add("character device entry", Errc::BadEntryType, [=] { return special('3', "media/tty", ""); });
    add("FIFO entry", Errc::BadEntryType, [=] { return special('6', "media/fifo", ""); });
    add("pax extended header", Errc::BadEntryType, [=] {
        return with(entriesWith([](auto& e) {
            e.insert(e.begin(), typedEntry("PaxHeaders/manifest.json", 'x', "", "30 path=../../etc/manifest.json\n"));
        }));
    });
    add("pax global header", Errc::BadEntryType, [=] {
        return with(entriesWith(
            [](auto& e) { e.insert(e.begin(), typedEntry("pax_global_header", 'g', "", "19 comment=hello\n")); }));
    });
    add("GNU long name header", Errc::BadEntryType, [=] {
        return with(
            entriesWith([](auto& e) { e.insert(e.begin(), typedEntry("././@LongLink", 'L', "", "manifest.json")); }));
    });

    // Sizes.
    add("oversized manifest", Errc::TooLarge, [=] {
        return with(signedJsonBundle([](json::Object& doc) {
            doc["schedule"] = json::Object{{"padding", std::string(manifest::kMaxManifestBytes, 'x')}};
        }));
    });
    add("oversized manifest.sig", Errc::TooLarge,
        [=] { return with(entriesWith([](auto& e) { e.back().data.resize(bundle::kMaxSignatureBytes + 1, '\0'); })); });
    add("media size in base-256 (over 8 GiB)", Errc::TooLarge, [=] {
        RawHeader h;
        h.name = mediaName(std::string(64, 'a'));
        h.sizeField = std::string("\x80\0\0\0\0\0\0\x02\0\0\0\0", 12);
        return with(headerBlock(h) + goodTar);
    });

    // Empty and malformed.
    add("empty bundle", Errc::EmptyBundle, [=] { return with(""); });
    add("bundle of only the end marker", Errc::EmptyBundle, [=] { return with(endMarker()); });
    add("manifest not valid JSON", Errc::BadJson, [=] {
        std::string bytes = good.manifestBytes.substr(0, good.manifestBytes.size() - 1);  // no closing brace
        return with(withSignedManifestBytes(good, bytes, testKey(1)).tar());
    });
    add("manifest not canonical", Errc::NotCanonical, [=] {
        return with(
            withSignedManifestBytes(good, json::pretty(json::parse(good.manifestBytes).value()), testKey(1)).tar());
    });
    add("unknown format version", Errc::UnsupportedFormat,
        [=] { return with(signedJsonBundle([](json::Object& doc) { doc["format"] = 4; })); });
    add("manifest missing a field", Errc::BadManifest,
        [=] { return with(signedJsonBundle([](json::Object& doc) { doc.erase("expires_at"); })); });
    add("missing manifest.json", Errc::BadManifest,
        [=] { return with(entriesWith([](auto& e) { e.erase(e.end() - 2); })); });
    add("missing manifest.sig", Errc::BadSignature, [=] { return with(entriesWith([](auto& e) { e.pop_back(); })); });
    add("empty manifest.sig", Errc::BadSignature,
        [=] { return with(entriesWith([](auto& e) { e.back().data.clear(); })); });
    add("63-byte manifest.sig", Errc::BadSignature,
        [=] { return with(entriesWith([](auto& e) { e.back().data.pop_back(); })); });
    add("signature in base64 instead of raw bytes", Errc::BadSignature,
        [=] { return with(entriesWith([](auto& e) { e.back().data = crypto::base64Encode(e.back().data); })); });

    // Tar structure.
    add("header checksum broken", Errc::BadTar,
        [=] { return with(flipBit(goodTar, headerOffset(goodTar, "manifest.json") + 300, 0)); });
    add("header that is not ustar", Errc::BadTar, [=] {
        std::string t = goodTar;
        std::size_t at = headerOffset(t, "manifest.json");
        RawHeader h;
        h.name = "manifest.json";
        h.sizeBytes = good.manifestBytes.size();
        h.magic = std::string(8, '\0');
        t.replace(at, tar::kBlockBytes, headerBlock(h));
        return with(t);
    });
    add("data after the end marker", Errc::BadTar, [=] { return with(goodTar + "PK\x03\x04"); });
    add("a second archive after the end marker", Errc::BadTar,
        [=] { return with(goodTar + makeBundle(testKey(1), media, [](auto& mf) { mf.version = 9; }).tar()); });
    add("a lone zero block before the manifest", Errc::BadTar, [=] {
        std::string t = goodTar;
        t.insert(headerOffset(t, "manifest.json"), std::string(tar::kBlockBytes, '\0'));
        return with(t);
    });
    return m;
}

// Sinks a verifier might be given while staging a USB import.
class FailingSink final : public bundle::MediaSink {
  public:
    Status begin(const std::string&, std::uint64_t) override { return {}; }
    Status write(const void*, std::size_t) override { return makeError(Errc::Io, "disk full (test)"); }
    Status end() override { return {}; }
};

std::string readFile(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

}  // namespace

TEST_CASE("bundle verifier rejects each tampered bundle with its exact reason", "[bundle]") {
    auto matrix = negativeMatrix();
    CHECK(matrix.size() >= 20);
    std::set<std::string> names;
    for (const auto& c : matrix) {
        CHECK(names.insert(c.name).second);
        DYNAMIC_SECTION(c.name) {
            Attempt a = c.make();
            RecordingSink sink;
            auto r = verifyBytes(a.archive, a.options, &sink);
            INFO(c.name << ": " << (r.ok() ? std::string("accepted") : r.error().str()));
            REQUIRE_FALSE(r.ok());
            CHECK(r.code() == c.expected);
            CHECK_FALSE(r.error().message.empty());
            CHECK(sink.protocolErrors.empty());
            // The same verdict without a sink.
            CHECK(verifyBytes(a.archive, a.options).code() == c.expected);
        }
    }
}

TEST_CASE("the negative matrix covers every reason a bundle can be refused for", "[bundle]") {
    std::set<Errc> covered;
    for (const auto& c : negativeMatrix()) covered.insert(c.expected);
    for (Errc code : {Errc::BadSignature, Errc::UnknownSigner, Errc::Rollback, Errc::Expired, Errc::HashMismatch,
                      Errc::SizeMismatch, Errc::MissingMedia, Errc::ExtraEntry, Errc::DuplicateEntry, Errc::Truncated,
                      Errc::BadTar, Errc::BadPath, Errc::BadEntryType, Errc::TooLarge, Errc::EmptyBundle, Errc::BadJson,
                      Errc::NotCanonical, Errc::BadManifest, Errc::UnsupportedFormat}) {
        INFO(errcName(code));
        CHECK(covered.count(code) == 1);
    }
}

TEST_CASE("bundle verifier truncation at every 37th byte", "[bundle]") {
    auto k1 = testKey(1);
    std::string archive = makeBundle(k1, sampleMedia()).tar();
    auto options = verifyOptions({k1.publicKey()});
    REQUIRE(verifyBytes(archive, options).ok());
    for (std::size_t at = 1; at < archive.size(); at += 37) {
        INFO("cut at " << at << " of " << archive.size());
        CHECK(verifyBytes(std::string_view(archive).substr(0, at), options).code() == Errc::Truncated);
    }
}

TEST_CASE("a valid bundle verifies, Chinese names intact", "[bundle]") {
    auto k1 = testKey(1);
    auto media = sampleMedia();
    Bundle b = makeBundle(k1, media);
    std::string archive = b.tar();

    auto r = verifyBytes(archive, verifyOptions({k1.publicKey()}));
    REQUIRE(r.ok());
    CHECK(r->manifestBytes == b.manifestBytes);
    CHECK(r->signature == b.signature);
    CHECK(r->mediaBytes == media[0].bytes.size() + media[1].bytes.size());
    CHECK(r->manifest.version == 7);
    CHECK(r->manifest.signer == k1.publicKey().id());
    REQUIRE(r->manifest.media.size() == 2);
    CHECK(r->manifest.media[0].name == "反诈防骗海报");
    CHECK(r->manifest.media[0].fileName == "反诈防骗海报.png");
    CHECK(r->manifest.media[0].kind == MediaKind::Image);
    CHECK(r->manifest.media[1].fileName == "一盔一带.mp4");
    CHECK(r->manifest.media[1].kind == MediaKind::Video);
    CHECK(r->manifest.schedule == b.manifest.schedule);

    SECTION("the boundaries of the policy are inclusive where documented") {
        CHECK(verifyBytes(archive, verifyOptions({k1.publicKey()}, 7)).ok());
        CHECK(verifyBytes(archive, verifyOptions({k1.publicKey()}, 1, expiresMs() - 1)).ok());
    }
    SECTION("zero padding to a tar record after the marker is accepted") {
        std::string padded = archive;
        padded.resize((archive.size() / 10240 + 1) * 10240, '\0');
        CHECK(verifyBytes(padded, verifyOptions({k1.publicKey()})).ok());
    }
    SECTION("the test helper writes the same bytes as tar::Writer") {
        tar::StringSink sink;
        tar::Writer w(sink);
        for (const auto& e : b.entries()) REQUIRE(w.add(e.name, e.data).ok());
        REQUIRE(w.finish().ok());
        CHECK(sink.data == archive);
    }
}

TEST_CASE("a MediaSink receives exactly the media bytes", "[bundle]") {
    auto k1 = testKey(1);
    auto media = sampleMedia();
    media.push_back(makeMedia(fakeMp4(3 << 20, 7), "大文件", "big.mp4", 60000));    // spans several read buffers
    media.push_back(makeMedia(fakePng(tar::kBlockBytes, 8), "整块", "block.png"));  // no padding
    Bundle b = makeBundle(k1, media);
    RecordingSink sink;
    auto r = verifyBytes(b.tar(), verifyOptions({k1.publicKey()}), &sink);
    REQUIRE(r.ok());
    CHECK(sink.protocolErrors.empty());
    REQUIRE(sink.files.size() == media.size());
    REQUIRE(sink.order.size() == media.size());
    for (std::size_t i = 0; i < media.size(); ++i) {
        const auto& sha = media[i].entry.sha256;
        CHECK(sink.order[i] == sha);  // in archive order
        CHECK(sink.files[sha] == media[i].bytes);
        CHECK(sink.declared[sha] == media[i].bytes.size());
    }
    CHECK(sink.ended == sink.order);

    SECTION("a sink failure stops verification with the sink's reason") {
        FailingSink failing;
        CHECK(verifyBytes(b.tar(), verifyOptions({k1.publicKey()}), &failing).code() == Errc::Io);
        RecordingSink refusing;
        refusing.failOnBegin = true;
        CHECK(verifyBytes(b.tar(), verifyOptions({k1.publicKey()}), &refusing).code() == Errc::Io);
    }
}

TEST_CASE("bundles verify under any of several trusted keys", "[bundle]") {
    auto k1 = testKey(1), k2 = testKey(2), k3 = testKey(3);
    auto media = sampleMedia();
    std::string by1 = makeBundle(k1, media).tar();
    std::string by2 = makeBundle(k2, media).tar();
    auto both = verifyOptions({k1.publicKey(), k2.publicKey()});
    auto reversed = verifyOptions({k2.publicKey(), k1.publicKey()});
    CHECK(verifyBytes(by1, both).ok());
    CHECK(verifyBytes(by2, both).ok());
    CHECK(verifyBytes(by1, reversed).ok());
    CHECK(verifyBytes(by2, reversed).ok());
    CHECK(verifyBytes(by2, verifyOptions({k1.publicKey(), k3.publicKey()})).code() == Errc::UnknownSigner);
    auto r = verifyBytes(by2, both);
    REQUIRE(r.ok());
    CHECK(r->manifest.signer == k2.publicKey().id());
}

TEST_CASE("a bundle packed by GNU tar from loose files verifies", "[bundle]") {
    if (!fs::exists("/usr/bin/tar")) {
        WARN("/usr/bin/tar not installed; skipping");
        return;
    }
    auto k1 = testKey(1);
    Bundle b = makeBundle(k1, sampleMedia());
    auto dir = fs::temp_directory_path() / ("ms-bundle-" + crypto::toHex(crypto::randomBytes(6).value()));
    fs::create_directories(dir / "media");
    std::string names;
    for (const auto& e : b.entries()) {
        std::ofstream(dir / e.name, std::ios::binary) << e.data;
        names += " '" + e.name + "'";
    }
    std::string cmd = "cd '" + dir.string() + "' && /usr/bin/tar --format=ustar -cf b.tar" + names;
    int rc = std::system(cmd.c_str());
    std::string archive = readFile(dir / "b.tar");
    fs::remove_all(dir);
    REQUIRE(rc == 0);
    auto r = verifyBytes(archive, verifyOptions({k1.publicKey()}));
    INFO((r.ok() ? std::string("verified") : r.error().str()));
    CHECK(r.ok());
}

TEST_CASE("readUnverified lists a bundle without trusting it", "[bundle]") {
    Bundle b = makeBundle(testKey(2), sampleMedia());  // signed by a key nobody trusts
    auto read = [](const std::string& archive) {
        tar::MemorySource source(archive);
        return bundle::readUnverified(source);
    };
    auto r = read(b.tar());
    REQUIRE(r.ok());
    CHECK(r->manifestBytes == b.manifestBytes);
    CHECK(r->hasSignature);
    REQUIRE(r->entries.size() == 4);
    CHECK(r->entries[0] == std::make_pair(mediaName(b.media[0].entry.sha256), std::uint64_t{b.media[0].bytes.size()}));
    CHECK(r->entries[2].first == "manifest.json");
    CHECK(r->entries[3] == std::make_pair(std::string("manifest.sig"), std::uint64_t{64}));

    auto entries = b.entries();
    entries.pop_back();
    auto unsignedBundle = read(packTar(entries));
    REQUIRE(unsignedBundle.ok());
    CHECK_FALSE(unsignedBundle->hasSignature);

    entries.pop_back();
    CHECK(read(packTar(entries)).code() == Errc::BadManifest);
    CHECK(read("").code() == Errc::EmptyBundle);
    std::string archive = b.tar();
    CHECK(read(archive.substr(0, archive.size() - 700)).code() == Errc::Truncated);
    auto withLink = b.entries();
    withLink.insert(withLink.begin(), typedEntry("media/link", '2', "/etc/shadow"));
    CHECK(read(packTar(withLink)).code() == Errc::BadEntryType);
    auto big = b.entries();
    big[2].data.assign(manifest::kMaxManifestBytes + 1, ' ');
    CHECK(read(packTar(big)).code() == Errc::TooLarge);
}
