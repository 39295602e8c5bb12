// Fuzz target: the strict JSON parser, the canonical form, the manifest validator
// and the manifest time format, on arbitrary bytes (what manifest.json may hold
// in a bundle from a USB stick or the network, before its signature is checked).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_check.hpp"
#include "microscape/core/json.hpp"
#include "microscape/core/manifest.hpp"
#include "microscape/core/time.hpp"

using namespace microscape;

namespace {

bool isManifestError(Errc c) {
    return c == Errc::TooLarge || c == Errc::BadJson || c == Errc::NotCanonical || c == Errc::UnsupportedFormat ||
           c == Errc::BadManifest;
}

void checkJson(std::string_view in) {
    auto v = json::parse(in);
    auto strict = json::parseCanonical(in);
    if (!v.ok()) {
        FUZZ_CHECK(v.code() == Errc::BadJson || v.code() == Errc::TooLarge);
        FUZZ_CHECK(!strict.ok());
        FUZZ_CHECK(strict.code() == v.code());
        return;
    }
    // The canonical form is a fixed point, means the same value, and is what
    // parseCanonical accepts: nothing else.
    std::string canon = json::canonical(*v);
    FUZZ_CHECK(json::isValidUtf8(canon));
    auto again = json::parseCanonical(canon);
    FUZZ_CHECK(again.ok());
    FUZZ_CHECK(*again == *v);
    FUZZ_CHECK(strict.ok() == (canon == in));
    if (!strict.ok()) FUZZ_CHECK(strict.code() == Errc::NotCanonical);
    auto pretty = json::parse(json::pretty(*v));
    FUZZ_CHECK(pretty.ok());
    FUZZ_CHECK(*pretty == *v);
}

void checkManifest(std::string_view in) {
    auto m = manifest::parse(in);
    if (!m.ok()) {
        FUZZ_CHECK(isManifestError(m.code()));
        FUZZ_CHECK(!m.error().message.empty());
        return;
    }
    // An accepted manifest is exactly the canonical serialisation of its model,
    // so what is signed is what is parsed.
    FUZZ_CHECK(manifest::toCanonicalBytes(*m) == in);
    FUZZ_CHECK(in.size() <= manifest::kMaxManifestBytes);
    FUZZ_CHECK(m->format == (m->location ? 2 : 1));
    FUZZ_CHECK(m->version >= 1);
    FUZZ_CHECK(m->expiresAtMs > m->issuedAtMs);
    FUZZ_CHECK(manifest::isValidId(m->bundleId) && manifest::isValidId(m->target));
    FUZZ_CHECK(crypto::isSha256Hex(m->signer));
    FUZZ_CHECK(m->media.size() <= manifest::kMaxMediaCount);
    FUZZ_CHECK(m->totalMediaBytes() <= manifest::kMaxBundleBytes);
    for (const auto& e : m->media) {
        FUZZ_CHECK(crypto::isSha256Hex(e.sha256));
        FUZZ_CHECK(m->findMedia(e.sha256) == &e);  // no duplicates
        FUZZ_CHECK(e.sizeBytes <= manifest::kMaxMediaBytes);
        FUZZ_CHECK(e.kind != MediaKind::Unknown);
        FUZZ_CHECK(e.durationMs >= 0 && e.durationMs <= manifest::kMaxDurationMs);
        FUZZ_CHECK(manifest::isValidDisplayName(e.name) && manifest::isValidFileName(e.fileName));
    }
    manifest::AcceptPolicy policy;
    policy.nowMs = m->issuedAtMs;
    policy.minVersion = m->version;
    FUZZ_CHECK(manifest::checkPolicy(*m, policy).ok());
    policy.nowMs = m->expiresAtMs;
    FUZZ_CHECK(manifest::checkPolicy(*m, policy).code() == Errc::Expired);
    FUZZ_CHECK(manifest::verifySignature(*m, in, in.substr(0, 64), {}).code() == Errc::UnknownSigner);
}

void checkTime(std::string_view in) {
    auto strict = timeutil::parseUtcStrict(in);
    if (strict.ok()) {
        FUZZ_CHECK(timeutil::formatUtc(*strict) == in);
        auto lenient = timeutil::parseIso8601(in);
        FUZZ_CHECK(lenient.ok() && *lenient == *strict);
    }
    auto lenient = timeutil::parseIso8601(in);
    if (!lenient.ok()) FUZZ_CHECK(lenient.code() == Errc::Usage);
    auto date = timeutil::parseDate(in);
    if (date.ok()) FUZZ_CHECK(timeutil::formatDate(*date) == in);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view in(reinterpret_cast<const char*>(data), size);
    checkJson(in);
    checkManifest(in);
    if (size <= 64) checkTime(in);
    return 0;
}
