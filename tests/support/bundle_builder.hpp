// Test helpers that craft ustar archives and signed bundles byte by byte, with
// full control over entry names, types, order, sizes and signatures, including
// forms that tar::Writer refuses to produce. Header-only; shared by tests/core
// and fuzz/. Everything here is deterministic (fixed keys, fixed clock), so a
// failing case can be rebuilt exactly. Plain functions and value types; no
// shared state.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "microscape/core/bundle.hpp"
#include "microscape/core/crypto.hpp"
#include "microscape/core/manifest.hpp"
#include "microscape/core/media_kind.hpp"
#include "microscape/core/tar.hpp"
#include "microscape/core/time.hpp"

namespace microscape::testing {

// ---------------------------------------------------------------- clock and keys

// Parses a strict "YYYY-MM-DDTHH:MM:SSZ" constant; the constants below are valid.
inline std::int64_t utc(std::string_view text) {
    return timeutil::parseUtcStrict(text).value();
}

inline std::int64_t issuedMs() {
    return utc("2026-04-01T00:00:00Z");
}
inline std::int64_t nowMs() {
    return utc("2026-04-15T08:00:00Z");
}
inline std::int64_t expiresMs() {
    return utc("2026-05-01T00:00:00Z");
}

// An Ed25519 key made from a 32-byte seed, wrapped as PKCS#8 PEM (RFC 8410).
inline crypto::PrivateKey keyFromSeed(std::string_view seed32) {
    static constexpr unsigned char kPkcs8Prefix[] = {0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06,
                                                     0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20};
    std::string der(reinterpret_cast<const char*>(kPkcs8Prefix), sizeof kPkcs8Prefix);
    std::string seed(seed32.substr(0, 32));
    seed.resize(32, '\0');
    der += seed;
    std::string pem = "-----BEGIN PRIVATE KEY-----\n" + crypto::base64Encode(der) + "\n-----END PRIVATE KEY-----\n";
    return crypto::PrivateKey::fromPem(pem).value();
}

// Deterministic test keys: testKey(1) is the usual content key, others are
// "another controller". These are public test values, never deployment keys.
inline crypto::PrivateKey testKey(int n) {
    return keyFromSeed("microscape test content key #" + std::to_string(n));
}

// ---------------------------------------------------------------- raw tar

// Every field of a ustar header that tests want to control. headerBlock() writes
// exactly what is asked for, without the safety checks of tar::makeHeader.
struct RawHeader {
    std::string name;    // the name field (at most 100 bytes are kept)
    std::string prefix;  // the ustar prefix field (at most 155 bytes are kept)
    std::uint64_t sizeBytes = 0;
    char typeflag = '0';
    std::string linkName;
    std::string magic = std::string(
        "ustar\0"
        "00",
        8);  // magic + version, 8 bytes
    std::int64_t mtime = 0;
    std::optional<std::string> sizeField;      // raw bytes for the 12-byte size field
    std::optional<std::string> checksumField;  // raw bytes for the 8-byte checksum field
    // Raw bytes written at these header offsets before the checksum is computed.
    std::vector<std::pair<std::size_t, std::string>> rawBytes;
};

namespace detail {
inline void putOctal(char* field, std::size_t len, std::uint64_t v) {
    for (std::size_t i = len - 1; i-- > 0;) {
        field[i] = static_cast<char>('0' + (v & 7));
        v >>= 3;
    }
    field[len - 1] = '\0';
}
inline void putBytes(char* field, std::size_t len, std::string_view bytes) {
    std::memcpy(field, bytes.data(), std::min(len, bytes.size()));
}
}  // namespace detail

inline std::string headerBlock(const RawHeader& h) {
    std::string block(tar::kBlockBytes, '\0');
    char* b = block.data();
    detail::putBytes(b + 0, 100, h.name);
    detail::putOctal(b + 100, 8, 0644);
    detail::putOctal(b + 108, 8, 0);
    detail::putOctal(b + 116, 8, 0);
    if (h.sizeField)
        detail::putBytes(b + 124, 12, *h.sizeField);
    else
        detail::putOctal(b + 124, 12, h.sizeBytes);
    detail::putOctal(b + 136, 12, static_cast<std::uint64_t>(h.mtime));
    b[156] = h.typeflag;
    detail::putBytes(b + 157, 100, h.linkName);
    detail::putBytes(b + 257, 8, h.magic);
    detail::putBytes(b + 345, 155, h.prefix);
    for (const auto& [at, bytes] : h.rawBytes) detail::putBytes(b + at, bytes.size(), bytes);
    if (h.checksumField) {
        detail::putBytes(b + 148, 8, *h.checksumField);
    } else {
        std::memset(b + 148, ' ', 8);
        std::uint64_t sum = 0;
        for (unsigned char c : block) sum += c;
        detail::putOctal(b + 148, 7, sum);
        b[155] = ' ';
    }
    return block;
}

// Splits a long name into ustar prefix and name the way tar::makeHeader does;
// names that cannot be split are kept whole (and truncated by headerBlock).
inline std::pair<std::string, std::string> splitName(std::string_view name) {
    if (name.size() <= 100) return {"", std::string(name)};
    std::size_t cut = name.rfind('/', 155);
    if (cut == std::string_view::npos || cut == 0 || name.size() - cut - 1 > 100) return {"", std::string(name)};
    return {std::string(name.substr(0, cut)), std::string(name.substr(cut + 1))};
}

struct TarEntry {
    std::string name;
    std::string data;
    char typeflag = '0';
    std::string linkName;
    std::optional<std::uint64_t> declaredSize;  // header size, when it must differ from data.size()
    std::optional<std::string> header;          // a whole 512-byte header block to use instead
};

inline TarEntry fileEntry(std::string name, std::string data) {
    TarEntry e;
    e.name = std::move(name);
    e.data = std::move(data);
    return e;
}

// An entry of another type (link, directory, device, pax header...).
inline TarEntry typedEntry(std::string name, char typeflag, std::string linkName = {}, std::string data = {}) {
    TarEntry e = fileEntry(std::move(name), std::move(data));
    e.typeflag = typeflag;
    e.linkName = std::move(linkName);
    return e;
}

inline std::string padToBlock(std::string s) {
    s.resize((s.size() + tar::kBlockBytes - 1) / tar::kBlockBytes * tar::kBlockBytes, '\0');
    return s;
}

inline std::string endMarker() {
    return std::string(2 * tar::kBlockBytes, '\0');
}

// Writes the entries in order, each header followed by its data padded to a
// block, then (unless told not to) the two zero blocks.
inline std::string packTar(const std::vector<TarEntry>& entries, bool withEndMarker = true) {
    std::string out;
    for (const auto& e : entries) {
        if (e.header) {
            out += *e.header;
        } else {
            RawHeader h;
            auto [prefix, base] = splitName(e.name);
            h.prefix = prefix;
            h.name = base;
            h.sizeBytes = e.declaredSize.value_or(e.data.size());
            h.typeflag = e.typeflag;
            h.linkName = e.linkName;
            out += headerBlock(h);
        }
        out += padToBlock(e.data);
    }
    if (withEndMarker) out += endMarker();
    return out;
}

// Offset of the header of the first entry named `name` in a well-formed archive
// built by packTar (std::string::npos if there is none).
inline std::size_t headerOffset(std::string_view archive, std::string_view name) {
    std::size_t off = 0;
    while (off + tar::kBlockBytes <= archive.size()) {
        std::string_view block = archive.substr(off, tar::kBlockBytes);
        if (block.find_first_not_of('\0') == std::string_view::npos) break;
        std::string prefix(block.substr(345, 155).data(), ::strnlen(block.data() + 345, 155));
        std::string base(block.substr(0, 100).data(), ::strnlen(block.data(), 100));
        std::string full = prefix.empty() ? base : prefix + "/" + base;
        if (full == name) return off;
        std::uint64_t size = 0;
        for (std::size_t i = 124; i < 135 && block[i] >= '0' && block[i] <= '7'; ++i)
            size = size * 8 + (block[i] - '0');
        off += tar::kBlockBytes + (size + tar::kBlockBytes - 1) / tar::kBlockBytes * tar::kBlockBytes;
    }
    return std::string::npos;
}

inline std::string flipBit(std::string s, std::size_t at, int bit = 0) {
    s.at(at) = static_cast<char>(s.at(at) ^ (1 << bit));
    return s;
}

// ---------------------------------------------------------------- media

// Deterministic filler bytes (xorshift), so media of any size can be made cheaply.
inline std::string fillerBytes(std::size_t n, std::uint32_t seed) {
    std::string out(n, '\0');
    std::uint32_t x = seed * 2654435761u + 0x9e3779b9u;
    for (auto& c : out) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        c = static_cast<char>(x & 0xff);
    }
    return out;
}

// Bytes that start like a PNG / an MP4 (enough for kind detection), then filler.
inline std::string fakePng(std::size_t n, std::uint32_t seed) {
    std::string head("\x89PNG\r\n\x1a\n\0\0\0\rIHDR", 16);
    return head + fillerBytes(n > head.size() ? n - head.size() : 0, seed);
}
inline std::string fakeMp4(std::size_t n, std::uint32_t seed) {
    std::string head(
        "\0\0\0\x20"
        "ftypisom\0\0\x02\0",
        16);
    return head + fillerBytes(n > head.size() ? n - head.size() : 0, seed);
}

struct MediaItem {
    std::string bytes;
    manifest::MediaEntry entry;
};

// Describes media bytes the way the packager does: hash, size, detected kind.
inline MediaItem makeMedia(std::string bytes, std::string displayName, std::string fileName,
                           std::int64_t durationMs = 0) {
    MediaItem item;
    auto detected = detectMediaKind(std::string_view(bytes).substr(0, kMediaSniffBytes));
    item.entry.sha256 = crypto::sha256Hex(bytes);
    item.entry.sizeBytes = bytes.size();
    item.entry.kind = detected.kind == MediaKind::Unknown ? MediaKind::Image : detected.kind;
    item.entry.mime = detected.mime.empty() ? "application/octet-stream" : std::string(detected.mime);
    item.entry.durationMs = durationMs;
    item.entry.name = std::move(displayName);
    item.entry.fileName = std::move(fileName);
    item.bytes = std::move(bytes);
    return item;
}

// A poster and a short clip with Chinese names, as publicity staff upload them.
inline std::vector<MediaItem> sampleMedia() {
    return {
        makeMedia(fakePng(1500, 1), "反诈防骗海报", "反诈防骗海报.png"),
        makeMedia(fakeMp4(2100, 2), "一盔一带 宣传片 15s", "一盔一带.mp4", 15000),
    };
}

// ---------------------------------------------------------------- bundles

inline std::string mediaName(const std::string& sha) {
    return std::string(bundle::kMediaPrefix) + sha;
}

// A manifest with every field set to a valid value and no media.
inline manifest::Manifest baseManifest(std::int64_t version = 7) {
    manifest::Manifest m;
    m.bundleId = "campaign-2026-0415.mall-b1";
    m.kind = manifest::BundleKind::Schedule;
    m.version = version;
    m.issuedAtMs = issuedMs();
    m.expiresAtMs = expiresMs();
    m.target = "group:mall-screens";
    m.schedule = json::Object{{"theme", "国家安全教育日"}, {"slots", json::Array{json::Value(1), json::Value(2)}}};
    return m;
}

struct Bundle {
    manifest::Manifest manifest;
    std::string manifestBytes;  // exactly what goes into manifest.json
    std::string signature;      // exactly what goes into manifest.sig
    std::vector<MediaItem> media;

    // The writer's order: media/<sha256>..., manifest.json, manifest.sig.
    std::vector<TarEntry> entries() const {
        std::vector<TarEntry> out;
        for (const auto& item : media) out.push_back(fileEntry(mediaName(item.entry.sha256), item.bytes));
        out.push_back(fileEntry(std::string(bundle::kManifestName), manifestBytes));
        out.push_back(fileEntry(std::string(bundle::kSignatureName), signature));
        return out;
    }
    std::string tar() const { return packTar(entries()); }
};

// Builds and signs a bundle holding `media`; `edit` may change the manifest
// before signing (the signer field is always set from the key).
inline Bundle makeBundle(const crypto::PrivateKey& key, std::vector<MediaItem> media,
                         const std::function<void(manifest::Manifest&)>& edit = {}) {
    Bundle b;
    b.manifest = baseManifest();
    for (const auto& item : media) b.manifest.media.push_back(item.entry);
    if (edit) edit(b.manifest);
    auto s = manifest::sign(b.manifest, key);
    b.manifestBytes = std::move(s.bytes);
    b.signature = std::move(s.signature);
    b.media = std::move(media);
    return b;
}

// Replaces manifest.json with arbitrary bytes, correctly signed by `key`: for
// manifests that the model cannot express (bad JSON, non-canonical, format 2).
inline Bundle withSignedManifestBytes(Bundle b, std::string bytes, const crypto::PrivateKey& key) {
    b.manifestBytes = std::move(bytes);
    b.signature = key.sign(b.manifestBytes);
    return b;
}

// The canonical manifest JSON of m (signer from key) after `edit` changes the
// JSON document itself, signed by key.
inline std::pair<std::string, std::string> signedJson(manifest::Manifest m, const crypto::PrivateKey& key,
                                                      const std::function<void(json::Object&)>& edit) {
    m.signer = key.publicKey().id();
    json::Value doc = manifest::toJson(m);
    edit(doc.asObject());
    std::string bytes = json::canonical(doc);
    return {bytes, key.sign(bytes)};
}

inline bundle::VerifyOptions verifyOptions(std::vector<crypto::PublicKey> keys, std::int64_t minVersion = 1,
                                           std::int64_t now = nowMs()) {
    bundle::VerifyOptions o;
    o.trustedKeys = std::move(keys);
    o.policy.minVersion = minVersion;
    o.policy.nowMs = now;
    return o;
}

inline Result<bundle::Verified> verifyBytes(std::string_view archive, const bundle::VerifyOptions& options,
                                            bundle::MediaSink* sink = nullptr) {
    tar::MemorySource source(archive);
    return bundle::verify(source, options, sink);
}

// A MediaSink that keeps what it receives and checks the begin/write/end protocol.
class RecordingSink final : public bundle::MediaSink {
  public:
    Status begin(const std::string& sha256, std::uint64_t sizeBytes) override {
        if (open_) protocolErrors.push_back("begin inside an open file");
        open_ = true;
        current_ = sha256;
        declared[sha256] = sizeBytes;
        files[sha256].clear();
        order.push_back(sha256);
        if (failOnBegin) return makeError(Errc::Io, "disk full (test)");
        return {};
    }
    Status write(const void* data, std::size_t n) override {
        if (!open_) protocolErrors.push_back("write outside a file");
        files[current_].append(static_cast<const char*>(data), n);
        return {};
    }
    Status end() override {
        if (!open_) protocolErrors.push_back("end without begin");
        open_ = false;
        ended.push_back(current_);
        return {};
    }

    std::map<std::string, std::string> files;
    std::map<std::string, std::uint64_t> declared;
    std::vector<std::string> order, ended, protocolErrors;
    bool failOnBegin = false;

  private:
    bool open_ = false;
    std::string current_;
};

}  // namespace microscape::testing
