#include <catch2/catch.hpp>

#include <cctype>
#include <functional>

#include "../support/bundle_builder.hpp"
#include "../support/catch_errc.hpp"
#include "microscape/core/manifest.hpp"

using namespace microscape;
using namespace microscape::testing;
using manifest::Manifest;

namespace {

Manifest validManifest() {
    Manifest m = baseManifest();
    for (const auto& item : sampleMedia()) m.media.push_back(item.entry);
    m.signer = testKey(1).publicKey().id();
    return m;
}

// Parses the canonical JSON of validManifest() after `edit` changed the document.
Result<Manifest> parseEdited(const std::function<void(json::Object&)>& edit) {
    json::Value doc = manifest::toJson(validManifest());
    edit(doc.asObject());
    return manifest::parse(json::canonical(doc));
}

Errc codeEdited(const std::function<void(json::Object&)>& edit) {
    return parseEdited(edit).code();
}

json::Object& firstMedia(json::Object& doc) {
    return doc.at("media").asArray().at(0).asObject();
}

Errc codeWithMediaField(const std::string& key, json::Value value) {
    return codeEdited([&](json::Object& doc) { firstMedia(doc)[key] = value; });
}

Errc codeWithField(const std::string& key, json::Value value) {
    return codeEdited([&](json::Object& doc) { doc[key] = value; });
}

}  // namespace

TEST_CASE("manifest round trip keeps every field and Chinese names", "[manifest]") {
    auto key = testKey(1);
    Manifest m = validManifest();
    m.kind = manifest::BundleKind::Takeover;
    m.media.push_back(
        makeMedia("{\"microscape_slogan\":1,\"text\":\"拒绝毒品 珍爱生命\"}", "禁毒标语", "禁毒标语.json").entry);
    auto s = manifest::sign(m, key);
    CHECK(m.signer == key.publicKey().id());
    CHECK(s.signature.size() == 64);
    // UTF-8 is stored as is, not escaped.
    CHECK(s.bytes.find("\"file_name\":\"反诈防骗海报.png\"") != std::string::npos);
    CHECK(s.bytes.find("\\u") == std::string::npos);

    auto parsed = manifest::parse(s.bytes);
    REQUIRE(parsed.ok());
    CHECK(parsed->format == 1);  // no location
    CHECK_FALSE(parsed->location);
    CHECK(parsed->bundleId == m.bundleId);
    CHECK(parsed->kind == manifest::BundleKind::Takeover);
    CHECK(parsed->version == m.version);
    CHECK(parsed->issuedAtMs == issuedMs());
    CHECK(parsed->expiresAtMs == expiresMs());
    CHECK(parsed->target == m.target);
    CHECK(parsed->signer == m.signer);
    CHECK(parsed->schedule == m.schedule);
    REQUIRE(parsed->media.size() == 3);
    for (std::size_t i = 0; i < 3; ++i) {
        const auto& a = parsed->media[i];
        const auto& b = m.media[i];
        CHECK(a.sha256 == b.sha256);
        CHECK(a.sizeBytes == b.sizeBytes);
        CHECK(a.kind == b.kind);
        CHECK(a.mime == b.mime);
        CHECK(a.durationMs == b.durationMs);
        CHECK(a.name == b.name);
        CHECK(a.fileName == b.fileName);
    }
    CHECK(parsed->media[0].fileName == "反诈防骗海报.png");
    CHECK(parsed->media[1].kind == MediaKind::Video);
    CHECK(parsed->media[1].durationMs == 15000);
    CHECK(parsed->media[2].kind == MediaKind::Text);
    CHECK(parsed->findMedia(m.media[1].sha256) == &parsed->media[1]);
    CHECK(parsed->findMedia(std::string(64, '0')) == nullptr);
    CHECK(parsed->totalMediaBytes() == m.media[0].sizeBytes + m.media[1].sizeBytes + m.media[2].sizeBytes);
    CHECK(manifest::toCanonicalBytes(*parsed) == s.bytes);
    CHECK(manifest::verifySignature(*parsed, s.bytes, s.signature, {key.publicKey()}).ok());
}

TEST_CASE("manifest with no media is well-formed", "[manifest]") {
    Manifest m = baseManifest();
    m.signer = testKey(1).publicKey().id();
    CHECK(manifest::parse(manifest::toCanonicalBytes(m)).ok());
}

TEST_CASE("manifest validator rejects missing and unknown fields", "[manifest]") {
    for (const char* key : {"format", "bundle_id", "kind", "version", "issued_at", "expires_at", "target", "signer",
                            "schedule", "media"}) {
        INFO("without " << key);
        CHECK(codeEdited([&](json::Object& doc) { doc.erase(key); }) == Errc::BadManifest);
    }
    for (const char* key : {"sha256", "size", "kind", "mime", "duration_ms", "name", "file_name"}) {
        INFO("media without " << key);
        CHECK(codeEdited([&](json::Object& doc) { firstMedia(doc).erase(key); }) == Errc::BadManifest);
    }
    CHECK(codeWithField("comment", "hello") == Errc::BadManifest);
    CHECK(codeWithField("Version", 7) == Errc::BadManifest);
    CHECK(codeWithMediaField("url", "http://example.invalid/x.png") == Errc::BadManifest);
}

TEST_CASE("manifest validator rejects fields of the wrong type", "[manifest]") {
    const json::Value wrongForString[] = {json::Value(1), json::Value(nullptr), json::Value(true),
                                          json::Value(json::Array{}), json::Value(json::Object{})};
    const json::Value wrongForInt[] = {json::Value("7"), json::Value(nullptr), json::Value(false),
                                       json::Value(json::Array{json::Value(7)}), json::Value(json::Object{})};
    for (const char* key : {"bundle_id", "kind", "issued_at", "expires_at", "target", "signer"})
        for (const auto& v : wrongForString) {
            INFO(key << " = " << json::canonical(v));
            CHECK(codeWithField(key, v) == Errc::BadManifest);
        }
    for (const char* key : {"format", "version"})
        for (const auto& v : wrongForInt) {
            INFO(key << " = " << json::canonical(v));
            CHECK(codeWithField(key, v) == Errc::BadManifest);
        }
    for (const char* key : {"sha256", "kind", "mime", "name", "file_name"})
        for (const auto& v : wrongForString) {
            INFO("media " << key << " = " << json::canonical(v));
            CHECK(codeWithMediaField(key, v) == Errc::BadManifest);
        }
    for (const char* key : {"size", "duration_ms"})
        for (const auto& v : wrongForInt) {
            INFO("media " << key << " = " << json::canonical(v));
            CHECK(codeWithMediaField(key, v) == Errc::BadManifest);
        }
    CHECK(codeWithField("schedule", json::Array{}) == Errc::BadManifest);
    CHECK(codeWithField("schedule", "{}") == Errc::BadManifest);
    CHECK(codeWithField("media", json::Object{}) == Errc::BadManifest);
    CHECK(codeWithField("media", json::Array{json::Value(5)}) == Errc::BadManifest);
    CHECK(codeWithField("media", json::Array{json::Value("media/abc")}) == Errc::BadManifest);
    CHECK(manifest::parse("[]").code() == Errc::BadManifest);
    CHECK(manifest::parse("\"manifest\"").code() == Errc::BadManifest);
    CHECK(manifest::parse("{}").code() == Errc::BadManifest);
}

TEST_CASE("manifest validator checks hashes and rejects duplicate media", "[manifest]") {
    const std::string sha = validManifest().media[0].sha256;
    std::string upper = sha;
    for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    for (const std::string& bad : {upper, sha.substr(0, 63), sha + "0", std::string(64, 'g'), std::string(),
                                   "sha256:" + sha.substr(7), std::string("media/") + sha.substr(6)}) {
        INFO(bad);
        CHECK(codeWithMediaField("sha256", bad) == Errc::BadManifest);
    }
    CHECK(codeEdited([](json::Object& doc) {
              auto& list = doc.at("media").asArray();
              list.push_back(list.at(0));
          }) == Errc::BadManifest);
    // The same content under another display name is still the same file.
    CHECK(codeEdited([](json::Object& doc) {
              auto& list = doc.at("media").asArray();
              json::Value copy = list.at(0);
              copy.asObject()["name"] = "另一个名字";
              list.push_back(copy);
          }) == Errc::BadManifest);
    CHECK(codeWithField("signer", upper) == Errc::BadManifest);
    CHECK(codeWithField("signer", "3f2a") == Errc::BadManifest);
}

TEST_CASE("manifest validator checks times", "[manifest]") {
    CHECK(codeWithField("expires_at", "2026-04-01T00:00:00Z") == Errc::BadManifest);  // == issued_at
    CHECK(codeWithField("expires_at", "2026-03-31T23:59:59Z") == Errc::BadManifest);  // before issued_at
    CHECK(codeWithField("expires_at", "2026-04-01T00:00:01Z") == Errc::Ok);
    for (const char* bad :
         {"2026-04-01 00:00:00Z", "2026-04-01T00:00:00+08:00", "2026-04-01T00:00:00", "2026-04-01T00:00:00.000Z",
          "2026-04-01T00:00:00z", "2026-4-1T00:00:00Z", "2026-02-29T00:00:00Z", "2026-04-31T00:00:00Z",
          "2026-13-01T00:00:00Z", "2026-04-01T24:00:00Z", "2026-04-01T00:60:00Z", "2026-04-01T00:00:60Z", "2026-04-01",
          "1776211200", "", " 2026-04-01T00:00:00Z", "２０２６-04-01T00:00:00Z"}) {
        INFO(bad);
        CHECK(codeWithField("issued_at", bad) == Errc::BadManifest);
    }
    CHECK(codeWithField("issued_at", "2024-02-29T12:00:00Z") == Errc::Ok);
}

TEST_CASE("manifest validator checks ids, names and enumerations", "[manifest]") {
    for (const char* key : {"bundle_id", "target"}) {
        for (const std::string& bad :
             {std::string(), std::string("has space"), std::string("a/b"), std::string("商超-01"),
              std::string(129, 'a'), std::string("a\nb"), std::string("a\"b")}) {
            INFO(key << " = " << bad);
            CHECK(codeWithField(key, bad) == Errc::BadManifest);
        }
        CHECK(codeWithField(key, std::string(128, 'a')) == Errc::Ok);
        CHECK(codeWithField(key, "player:garage-03@district.7_b") == Errc::Ok);
    }
    CHECK(codeWithField("kind", "Schedule") == Errc::BadManifest);
    CHECK(codeWithField("kind", "") == Errc::BadManifest);
    CHECK(codeWithField("kind", "takeover") == Errc::Ok);
    for (const char* bad : {"unknown", "Image", "poster", ""}) {
        INFO("media kind " << bad);
        CHECK(codeWithMediaField("kind", bad) == Errc::BadManifest);
    }
    CHECK(codeWithMediaField("kind", "audio") == Errc::Ok);
    for (const std::string& bad : {std::string(), std::string(101, 'x'), std::string("image/\npng")}) {
        CHECK(codeWithMediaField("mime", bad) == Errc::BadManifest);
    }
    for (const char* key : {"name", "file_name"}) {
        for (const std::string& bad : {std::string(), std::string(256, 'x'), std::string("a\tb"), std::string("a\x7f"),
                                       std::string("\x1b[31m红色")}) {
            INFO(key << " = " << crypto::toHex(bad));
            CHECK(codeWithMediaField(key, bad) == Errc::BadManifest);
        }
        CHECK(codeWithMediaField(key, std::string(255, 'x')) == Errc::Ok);
        CHECK(codeWithMediaField(key, "国家安全教育日 4·15 海报（竖版）") == Errc::Ok);
    }
    for (const char* bad : {"a/b.png", "..", ".", "a\\b.png", "../../etc/passwd"}) {
        INFO("file_name " << bad);
        CHECK(codeWithMediaField("file_name", bad) == Errc::BadManifest);
    }
    CHECK(codeWithMediaField("name", "a/b 反诈") == Errc::Ok);  // display names may hold '/'
}

TEST_CASE("manifest validator checks numeric ranges and limits", "[manifest]") {
    CHECK(codeWithField("version", 0) == Errc::BadManifest);
    CHECK(codeWithField("version", -1) == Errc::BadManifest);
    CHECK(codeWithField("version", 1) == Errc::Ok);
    CHECK(codeWithField("version", json::kMaxSafeInteger) == Errc::Ok);
    CHECK(codeWithMediaField("duration_ms", -1) == Errc::BadManifest);
    CHECK(codeWithMediaField("duration_ms", manifest::kMaxDurationMs + 1) == Errc::BadManifest);
    CHECK(codeWithMediaField("duration_ms", manifest::kMaxDurationMs) == Errc::Ok);
    CHECK(codeWithMediaField("size", 0) == Errc::Ok);

    SECTION("a media file beyond the per-file limit is TooLarge") {
        CHECK(codeWithMediaField("size", static_cast<std::int64_t>(manifest::kMaxMediaBytes)) == Errc::Ok);
        CHECK(codeWithMediaField("size", static_cast<std::int64_t>(manifest::kMaxMediaBytes) + 1) == Errc::TooLarge);
        CHECK(codeWithMediaField("size", json::kMaxSafeInteger) == Errc::TooLarge);
    }
    SECTION("media adding up beyond the bundle limit is TooLarge") {
        auto r = parseEdited([](json::Object& doc) {
            auto& list = doc.at("media").asArray();
            json::Value proto = list.at(0);
            list.clear();
            for (int i = 0; i < 9; ++i) {  // 9 x (8 GiB - 1) > 64 GiB
                json::Value e = proto;
                e.asObject()["sha256"] = crypto::sha256Hex("big " + std::to_string(i));
                e.asObject()["size"] = static_cast<std::int64_t>(manifest::kMaxMediaBytes);
                list.push_back(std::move(e));
            }
        });
        CHECK(r.code() == Errc::TooLarge);
    }
    SECTION("too many media entries is TooLarge") {
        auto many = [](std::size_t n) {
            return parseEdited([n](json::Object& doc) {
                auto& list = doc.at("media").asArray();
                json::Value proto = list.at(0);
                list.clear();
                for (std::size_t i = 0; i < n; ++i) {
                    json::Value e = proto;
                    e.asObject()["sha256"] = crypto::sha256Hex(std::to_string(i));
                    e.asObject()["name"] = "n";
                    e.asObject()["file_name"] = "f";
                    list.push_back(std::move(e));
                }
            });
        };
        CHECK(many(manifest::kMaxMediaCount).code() == Errc::Ok);
        CHECK(many(manifest::kMaxMediaCount + 1).code() == Errc::TooLarge);
    }
    SECTION("manifest bytes beyond 4 MiB are TooLarge before anything else") {
        std::string big = manifest::toCanonicalBytes(validManifest());
        big.resize(manifest::kMaxManifestBytes + 1, ' ');
        CHECK(manifest::parse(big).code() == Errc::TooLarge);
        auto r = parseEdited([](json::Object& doc) {
            doc["schedule"] = json::Object{{"padding", std::string(manifest::kMaxManifestBytes, 'x')}};
        });
        CHECK(r.code() == Errc::TooLarge);
    }
}

TEST_CASE("manifest with a negative media size is malformed, not too large", "[manifest]") {
    // A negative size exceeds no limit: it is an out-of-range field (BadManifest).
    CHECK(codeWithMediaField("size", -1) == Errc::BadManifest);
    CHECK(codeWithMediaField("size", -json::kMaxSafeInteger) == Errc::BadManifest);
}

TEST_CASE("display and file names refuse C1 control characters too", "[manifest]") {
    // U+0080..U+009F are control characters (Unicode category Cc) like U+0000..U+001F;
    // U+009B is the 8-bit CSI that some terminals act on when a name is printed.
    for (const char* name : {"a\xc2\x85"
                             "b",
                             "\xc2\x9b"
                             "31m红色",
                             "x\xc2\x80", "\xc2\x9f"}) {
        INFO(crypto::toHex(std::string(name)));
        CHECK_FALSE(manifest::isValidDisplayName(name));
        CHECK(codeWithMediaField("name", name) == Errc::BadManifest);
    }
}

TEST_CASE("manifest format version is checked first", "[manifest]") {
    CHECK(codeWithField("format", 4) == Errc::UnsupportedFormat);
    CHECK(codeWithField("format", 3) == Errc::BadManifest);  // known, but no location, mirrors or derived file
    CHECK(codeWithField("format", 0) == Errc::UnsupportedFormat);
    CHECK(codeWithField("format", -1) == Errc::UnsupportedFormat);
    CHECK(codeWithField("format", 1) == Errc::Ok);
    // A future format may look entirely different: no other field is looked at.
    CHECK(manifest::parse(R"({"format":4,"payload":"anything"})").code() == Errc::UnsupportedFormat);
    CHECK(manifest::parse(R"({"format":"1"})").code() == Errc::BadManifest);
}

TEST_CASE("manifest must be strict canonical JSON", "[manifest]") {
    const std::string bytes = manifest::toCanonicalBytes(validManifest());
    REQUIRE(manifest::parse(bytes).ok());
    auto doc = json::parse(bytes);
    REQUIRE(doc.ok());

    CHECK(manifest::parse(json::pretty(*doc)).code() == Errc::NotCanonical);
    CHECK(manifest::parse(bytes + "\n").code() == Errc::NotCanonical);
    CHECK(manifest::parse(" " + bytes).code() == Errc::NotCanonical);
    std::string reordered = bytes;  // "bundle_id" moved after "expires_at"
    {
        auto a = reordered.find("\"bundle_id\"");
        auto b = reordered.find(",\"expires_at\"");
        REQUIRE(a != std::string::npos);
        REQUIRE(b != std::string::npos);
        std::string member = reordered.substr(a, b - a);  // "bundle_id":"..."
        reordered.erase(a, b - a + 1);                    // and the comma after it
        auto c = reordered.find(",\"format\"");
        reordered.insert(c, "," + member);
        REQUIRE(json::parse(reordered).ok());
        REQUIRE(*json::parse(reordered) == *doc);
    }
    CHECK(manifest::parse(reordered).code() == Errc::NotCanonical);
    std::string escaped = bytes;
    auto at = escaped.find("反");
    REQUIRE(at != std::string::npos);
    escaped.replace(at, std::string("反").size(), "\\u53cd");
    REQUIRE(json::parse(escaped).ok());
    CHECK(manifest::parse(escaped).code() == Errc::NotCanonical);

    CHECK(manifest::parse("").code() == Errc::BadJson);
    CHECK(manifest::parse("{").code() == Errc::BadJson);
    CHECK(manifest::parse(bytes.substr(0, bytes.size() - 1)).code() == Errc::BadJson);
    CHECK(manifest::parse("manifest").code() == Errc::BadJson);
    CHECK(manifest::parse(std::string("{\"format\":1,\"x\":\"\xff\"}")).code() == Errc::BadJson);
    CHECK(manifest::parse(R"({"format":1,"format":1})").code() == Errc::BadJson);
    CHECK(manifest::parse(R"({"format":1.0})").code() == Errc::BadJson);
}

TEST_CASE("manifest signature is checked against pinned keys", "[manifest]") {
    auto k1 = testKey(1);
    auto k2 = testKey(2);
    auto k3 = testKey(3);
    Manifest m = validManifest();
    auto s = manifest::sign(m, k1);

    SECTION("good signature, with the key alone or among others") {
        CHECK(manifest::verifySignature(m, s.bytes, s.signature, {k1.publicKey()}).ok());
        CHECK(manifest::verifySignature(m, s.bytes, s.signature, {k2.publicKey(), k1.publicKey()}).ok());
        CHECK(
            manifest::verifySignature(m, s.bytes, s.signature, {k3.publicKey(), k2.publicKey(), k1.publicKey()}).ok());
    }
    SECTION("signed by a key that is not pinned") {
        CHECK(manifest::verifySignature(m, s.bytes, s.signature, {k2.publicKey()}).code() == Errc::UnknownSigner);
        CHECK(manifest::verifySignature(m, s.bytes, s.signature, {}).code() == Errc::UnknownSigner);
        Manifest other = validManifest();
        auto s2 = manifest::sign(other, k2);
        CHECK(manifest::verifySignature(other, s2.bytes, s2.signature, {k1.publicKey(), k3.publicKey()}).code() ==
              Errc::UnknownSigner);
    }
    SECTION("signer names a pinned key but another key signed") {
        // The attacker keeps signer = k1's id and signs with their own key.
        std::string forged = k2.sign(s.bytes);
        CHECK(manifest::verifySignature(m, s.bytes, forged, {k1.publicKey()}).code() == Errc::BadSignature);
        CHECK(manifest::verifySignature(m, s.bytes, forged, {k1.publicKey(), k2.publicKey()}).code() ==
              Errc::BadSignature);
    }
    SECTION("signature of the wrong length") {
        for (std::size_t n : {std::size_t{0}, std::size_t{1}, std::size_t{63}, std::size_t{65}, std::size_t{128}}) {
            INFO(n << " bytes");
            std::string sig = s.signature;
            sig.resize(n, '\0');
            CHECK(manifest::verifySignature(m, s.bytes, sig, {k1.publicKey()}).code() == Errc::BadSignature);
        }
        CHECK(manifest::verifySignature(m, s.bytes, s.signature + s.signature, {k1.publicKey()}).code() ==
              Errc::BadSignature);
    }
    SECTION("any flipped bit in the signature or the bytes") {
        for (std::size_t at : {std::size_t{0}, std::size_t{31}, std::size_t{32}, std::size_t{63}})
            CHECK(manifest::verifySignature(m, s.bytes, flipBit(s.signature, at, 3), {k1.publicKey()}).code() ==
                  Errc::BadSignature);
        for (std::size_t at : {std::size_t{0}, s.bytes.size() / 2, s.bytes.size() - 1})
            CHECK(manifest::verifySignature(m, flipBit(s.bytes, at, 0), s.signature, {k1.publicKey()}).code() ==
                  Errc::BadSignature);
    }
}

TEST_CASE("manifest accept policy: rollback and expiry", "[manifest]") {
    Manifest m = validManifest();
    m.version = 7;
    manifest::AcceptPolicy p;
    p.nowMs = nowMs();

    p.minVersion = 7;
    CHECK(manifest::checkPolicy(m, p).ok());
    p.minVersion = 1;
    CHECK(manifest::checkPolicy(m, p).ok());
    p.minVersion = 8;
    CHECK(manifest::checkPolicy(m, p).code() == Errc::Rollback);
    p.minVersion = json::kMaxSafeInteger;
    CHECK(manifest::checkPolicy(m, p).code() == Errc::Rollback);

    p.minVersion = 1;
    p.nowMs = m.expiresAtMs - 1;
    CHECK(manifest::checkPolicy(m, p).ok());
    p.nowMs = m.expiresAtMs;  // the boundary: expires_at == now is expired
    CHECK(manifest::checkPolicy(m, p).code() == Errc::Expired);
    p.nowMs = m.expiresAtMs + 1;
    CHECK(manifest::checkPolicy(m, p).code() == Errc::Expired);
    p.nowMs = utc("2030-01-01T00:00:00Z");
    CHECK(manifest::checkPolicy(m, p).code() == Errc::Expired);
}

TEST_CASE("name and id rules", "[manifest]") {
    CHECK(manifest::isValidId("a"));
    CHECK(manifest::isValidId("A-Z_a.z:0@9"));
    CHECK_FALSE(manifest::isValidId(""));
    CHECK_FALSE(manifest::isValidId("a b"));
    CHECK_FALSE(manifest::isValidId("步行街"));
    CHECK(manifest::isValidDisplayName("一盔一带 / 文明交通"));
    CHECK_FALSE(manifest::isValidDisplayName("\xe4\xb8"));      // truncated UTF-8
    CHECK_FALSE(manifest::isValidDisplayName("\xed\xa0\x80"));  // encoded surrogate
    CHECK(manifest::isValidFileName("反诈防骗海报.png"));
    CHECK(manifest::isValidFileName("...png"));
    CHECK_FALSE(manifest::isValidFileName("dir/反诈.png"));
    CHECK_FALSE(manifest::isValidFileName("dir\\x.png"));
}

TEST_CASE("a format 2 manifest carries the screen's location, and format 1 is still read", "[manifest]") {
    Manifest m = validManifest();
    m.location = manifest::Location{"17", "万达广场 B2 车库入口", "地下车库出入口", "城中区", "Asia/Shanghai"};
    auto s = manifest::sign(m, testKey(1));
    CHECK(s.bytes.find(R"("format":2)") != std::string::npos);
    CHECK(s.bytes.find(R"("location":{"district":"城中区","id":"17","name":"万达广场 B2 车库入口",)"
                       R"("time_zone":"Asia/Shanghai","venue_type":"地下车库出入口"})") != std::string::npos);
    auto parsed = manifest::parse(s.bytes);
    REQUIRE(parsed.ok());
    CHECK(parsed->format == 2);
    CHECK(parsed->location == m.location);
    CHECK(manifest::toCanonicalBytes(*parsed) == s.bytes);
    CHECK(manifest::verifySignature(*parsed, s.bytes, s.signature, {testKey(1).publicKey()}).ok());

    // A screen without a location: every text empty but the zone.
    m.location = manifest::Location{"", "", "", "", "Asia/Urumqi"};
    CHECK(manifest::parse(manifest::sign(m, testKey(1)).bytes).ok());

    auto withLocation = [&](const std::function<void(json::Object&)>& edit) {
        m.location = manifest::Location{"17", "万达广场", "商超", "城中区", "Asia/Shanghai"};
        json::Value doc = manifest::toJson(m);
        edit(doc.asObject());
        return manifest::parse(json::canonical(doc)).code();
    };
    CHECK(withLocation([](json::Object&) {}) == Errc::Ok);
    // Format 2 needs the location, format 1 refuses it.
    CHECK(withLocation([](json::Object& d) { d.erase("location"); }) == Errc::BadManifest);
    CHECK(withLocation([](json::Object& d) { d["format"] = 1; }) == Errc::BadManifest);
    // Every field, of the right type, and nothing else.
    CHECK(withLocation([](json::Object& d) { d["location"].asObject().erase("time_zone"); }) == Errc::BadManifest);
    CHECK(withLocation([](json::Object& d) { d["location"].asObject()["id"] = 17; }) == Errc::BadManifest);
    CHECK(withLocation([](json::Object& d) { d["location"].asObject()["floor"] = "B2"; }) == Errc::BadManifest);
    CHECK(withLocation([](json::Object& d) { d["location"] = "万达广场"; }) == Errc::BadManifest);
    // Text rules: no control characters, lengths, a zone name.
    CHECK(withLocation([](json::Object& d) { d["location"].asObject()["name"] = "a\nb"; }) == Errc::BadManifest);
    CHECK(withLocation([](json::Object& d) {
              d["location"].asObject()["name"] = "\xe2\x80\xae" + std::string("反");  // RLO
          }) == Errc::BadManifest);
    CHECK(withLocation([](json::Object& d) { d["location"].asObject()["district"] = std::string(256, 'x'); }) ==
          Errc::BadManifest);
    CHECK(withLocation([](json::Object& d) { d["location"].asObject()["id"] = std::string(129, '1'); }) ==
          Errc::BadManifest);
    CHECK(withLocation([](json::Object& d) { d["location"].asObject()["time_zone"] = ""; }) == Errc::BadManifest);
    CHECK(withLocation([](json::Object& d) { d["location"].asObject()["time_zone"] = "../etc/passwd"; }) ==
          Errc::BadManifest);
}

TEST_CASE("format 3: a derived file names its original and what was done", "[manifest]") {
    Manifest m = validManifest();
    if (!m.location) m.location = manifest::Location{"1", "五星商厦", "mall", "城中区", "Asia/Shanghai"};
    const std::string plain = manifest::toCanonicalBytes(m);
    CHECK(manifest::parse(plain)->format <= 2);  // nothing derived: earlier players still read it
    const std::string original(64, 'a');
    m.media.at(0).derivedFrom =
        manifest::MediaEntry::DerivedFrom{original, "still (ImageMagick): EXIF orientation 6 applied"};
    const std::string bytes = manifest::toCanonicalBytes(m);
    auto back = manifest::parse(bytes);
    REQUIRE(back.ok());
    CHECK(back->format == 3);
    REQUIRE(back->media.at(0).derivedFrom);
    CHECK(back->media.at(0).derivedFrom->sha256 == original);
    CHECK(back->media.at(0).derivedFrom->transform == "still (ImageMagick): EXIF orientation 6 applied");
    CHECK_FALSE(back->media.at(1).derivedFrom);
    CHECK(manifest::toCanonicalBytes(*back) == bytes);

    auto edited = [&](const std::function<void(json::Object&)>& edit) {
        json::Value doc = manifest::toJson(m);
        edit(doc.asObject());
        return manifest::parse(json::canonical(doc)).code();
    };
    auto derivedOf = [](json::Object& doc) -> json::Object& {
        return doc.at("media").asArray().at(0).asObject().at("derived_from").asObject();
    };
    CHECK(edited([](json::Object& doc) { doc["format"] = 2; }) == Errc::BadManifest);  // only from format 3
    CHECK(edited([&](json::Object& doc) { derivedOf(doc)["sha256"] = "AA"; }) == Errc::BadManifest);
    CHECK(edited([&](json::Object& doc) { derivedOf(doc)["transform"] = ""; }) == Errc::BadManifest);
    CHECK(edited([&](json::Object& doc) { derivedOf(doc)["transform"] = "a\nb"; }) == Errc::BadManifest);
    CHECK(edited([&](json::Object& doc) { derivedOf(doc)["extra"] = 1; }) == Errc::BadManifest);
    CHECK(edited([&](json::Object& doc) { derivedOf(doc).erase("transform"); }) == Errc::BadManifest);
    // Format 3 without a derived file would read back as format 2: refused, so that bytes round-trip.
    CHECK(edited([](json::Object& doc) { doc.at("media").asArray().at(0).asObject().erase("derived_from"); }) ==
          Errc::BadManifest);
}

TEST_CASE("a format 3 manifest carries mirror base URLs, and only valid ones", "[manifest][mirror]") {
    Manifest m = validManifest();
    m.location = manifest::Location{"17", "万达广场", "商超", "城中区", "Asia/Shanghai"};
    m.mirrors = {"http://mirror.example.cn:8080", "https://cdn.example.cn/ms/v1", "http://[::1]:81", "http://10.0.0.9"};
    auto s = manifest::sign(m, testKey(1));
    CHECK(s.bytes.find(R"("format":3)") != std::string::npos);
    auto parsed = manifest::parse(s.bytes);
    REQUIRE(parsed.ok());
    CHECK(parsed->format == 3);
    CHECK(parsed->mirrors == m.mirrors);
    CHECK(manifest::toCanonicalBytes(*parsed) == s.bytes);
    // Without mirrors nothing changes: format 2.
    m.mirrors.clear();
    CHECK(manifest::sign(m, testKey(1)).bytes.find(R"("format":2)") != std::string::npos);

    auto withMirrors = [&](const json::Value& list) {
        m.mirrors = {"http://a.example.cn"};
        json::Value doc = manifest::toJson(m);
        doc.asObject()["mirrors"] = list;
        return manifest::parse(json::canonical(doc)).code();
    };
    CHECK(withMirrors(json::Array{"http://b.example.cn"}) == Errc::Ok);
    CHECK(withMirrors(json::Array{}) == Errc::BadManifest);
    CHECK(withMirrors(json::Array{"http://b.example.cn", "http://b.example.cn"}) == Errc::BadManifest);
    CHECK(withMirrors(json::Array{7}) == Errc::BadManifest);
    CHECK(withMirrors("http://b.example.cn") == Errc::BadManifest);
    json::Array nine;
    for (int i = 0; i < 9; ++i) nine.push_back("http://m" + std::to_string(i) + ".cn");
    CHECK(withMirrors(nine) == Errc::BadManifest);
    // Format 2 refuses mirrors; format 3 needs them.
    m.mirrors = {"http://a.example.cn"};
    json::Value doc = manifest::toJson(m);
    doc.asObject()["format"] = 2;
    CHECK(manifest::parse(json::canonical(doc)).code() == Errc::BadManifest);
    doc.asObject()["format"] = 3;
    doc.asObject().erase("mirrors");
    CHECK(manifest::parse(json::canonical(doc)).code() == Errc::BadManifest);

    for (const char* good : {"http://a.cn", "https://a.cn:443", "http://a-b.example.cn/x/y_z.~%20", "http://1.2.3.4:1",
                             "http://[fe80::1]", "https://[::1]:65535/m"})
        CHECK(manifest::isValidMirrorUrl(good));
    for (const char* bad : {"",
                            "a.cn",
                            "ftp://a.cn",
                            "HTTP://a.cn",
                            "file:///etc",
                            "javascript:alert(1)",
                            "http://",
                            "http://:80",
                            "http://a.cn:",
                            "http://a.cn:0",
                            "http://a.cn:65536",
                            "http://a.cn:8a",
                            "http://user@a.cn",
                            "http://u:p@a.cn/",
                            "http://a.cn/?q",
                            "http://a.cn/x?q=1",
                            "http://a.cn/#f",
                            "http://a.cn/",
                            "http://a.cn//x",
                            "http://a.cn/./x",
                            "http://a.cn/../x",
                            "http://a.cn/x/..",
                            "http://a .cn",
                            "http://a.cn/x y",
                            "http://a.cn/\\x",
                            "http://-a.cn",
                            "http://.a.cn",
                            "http://[::1",
                            "http://[]",
                            "http://a.cn/\xe4\xb8\xad"})
        CHECK_FALSE(manifest::isValidMirrorUrl(bad));
    CHECK_FALSE(manifest::isValidMirrorUrl("http://a.cn/" + std::string(600, 'x')));
}
