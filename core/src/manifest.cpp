#include "microscape/core/manifest.hpp"

#include <algorithm>
#include <set>

#include "microscape/core/json_fields.hpp"

#include "microscape/core/time.hpp"
#include "microscape/core/tz.hpp"

namespace microscape::manifest {

namespace {

Error bad(std::string msg) {
    return makeError(Errc::BadManifest, std::move(msg));
}

// C0 and DEL, C1 (U+0080-U+009F, UTF-8 C2 80..C2 9F), and the bidirectional
// embedding/override/isolate controls (U+202A-U+202E, U+2066-U+2069) that can
// make a displayed name read differently from its bytes.
bool hasControl(std::string_view s) {
    for (std::size_t i = 0; i < s.size(); ++i) {
        auto c = static_cast<unsigned char>(s[i]);
        if (c < 0x20 || c == 0x7f) return true;
        auto next = [&](std::size_t k) { return i + k < s.size() ? static_cast<unsigned char>(s[i + k]) : 0; };
        if (c == 0xc2 && next(1) >= 0x80 && next(1) <= 0x9f) return true;
        if (c == 0xe2 && next(1) == 0x80 && next(2) >= 0xaa && next(2) <= 0xae) return true;
        if (c == 0xe2 && next(1) == 0x81 && next(2) >= 0xa6 && next(2) <= 0xa9) return true;
    }
    return false;
}

// Text of a location field: empty, or valid UTF-8 without control characters.
bool isLocationText(std::string_view s, std::size_t maxBytes) {
    return s.empty() || (s.size() <= maxBytes && json::isValidUtf8(s) && !hasControl(s));
}

}  // namespace

Result<Location> parseLocation(json::Fields& manifestFields) {
    auto v = manifestFields.get("location", json::Value::Type::Object);
    if (!v) return v.error();
    auto lf = json::Fields::of(**v, "location", "manifest: ");
    if (!lf) return lf.error();
    Location l;
    for (auto [key, out] : {std::pair{"id", &l.id}, std::pair{"name", &l.name}, std::pair{"venue_type", &l.venueType},
                            std::pair{"district", &l.district}, std::pair{"time_zone", &l.timeZone}})
        MS_TRY(lf->read(key, *out));
    MS_TRY(lf->finish());
    if (!isLocationText(l.id, kMaxIdBytes)) return bad("manifest: location.id must be UTF-8 of at most 128 bytes");
    for (auto [key, text] :
         {std::pair{"name", &l.name}, std::pair{"venue_type", &l.venueType}, std::pair{"district", &l.district}})
        if (!isLocationText(*text, kMaxNameBytes))
            return bad(std::string("manifest: location.") + key +
                       " must be UTF-8 of at most 255 bytes without control characters");
    if (!tz::isValidZoneName(l.timeZone)) return bad("manifest: location.time_zone is not a zone name");
    return l;
}

std::string_view bundleKindName(BundleKind k) {
    return k == BundleKind::Takeover ? "takeover" : "schedule";
}

bool isValidDisplayName(std::string_view s) {
    return !s.empty() && s.size() <= kMaxNameBytes && json::isValidUtf8(s) && !hasControl(s);
}

bool isValidFileName(std::string_view s) {
    return isValidDisplayName(s) && s.find('/') == std::string_view::npos && s.find('\\') == std::string_view::npos &&
           s != "." && s != "..";
}

bool isValidId(std::string_view s) {
    if (s.empty() || s.size() > kMaxIdBytes) return false;
    for (char c : s) {
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
                  c == ':' || c == '@' || c == '-';
        if (!ok) return false;
    }
    return true;
}

bool isValidMirrorUrl(std::string_view s) {
    if (s.size() > kMaxMirrorUrlBytes) return false;
    std::string_view rest;
    if (s.substr(0, 7) == "http://")
        rest = s.substr(7);
    else if (s.substr(0, 8) == "https://")
        rest = s.substr(8);
    else
        return false;
    const auto slash = rest.find('/');
    std::string_view authority = rest.substr(0, slash);
    std::string_view path = slash == std::string_view::npos ? std::string_view() : rest.substr(slash);
    auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); };
    std::string_view host = authority, port;
    if (!authority.empty() && authority.front() == '[') {
        const auto close = authority.find(']');
        if (close == std::string_view::npos || close < 3) return false;
        for (char c : authority.substr(1, close - 1))
            if (!(alnum(c) || c == ':' || c == '.')) return false;
        host = authority.substr(0, close + 1);
        const auto after = authority.substr(close + 1);
        if (!after.empty()) {
            if (after.front() != ':') return false;
            port = after.substr(1);
            if (port.empty()) return false;
        }
    } else {
        const auto colon = authority.find(':');
        if (colon != std::string_view::npos) {
            host = authority.substr(0, colon);
            port = authority.substr(colon + 1);
            if (port.empty()) return false;
        }
        if (host.empty() || host.size() > 253 || host.front() == '.' || host.front() == '-') return false;
        for (char c : host)
            if (!(alnum(c) || c == '.' || c == '-')) return false;
    }
    if (!port.empty()) {
        if (port.size() > 5) return false;
        long v = 0;
        for (char c : port) {
            if (c < '0' || c > '9') return false;
            v = v * 10 + (c - '0');
        }
        if (v < 1 || v > 65535) return false;
    }
    if (!path.empty()) {
        if (path.back() == '/') return false;
        for (char c : path)
            if (!(alnum(c) || c == '.' || c == '_' || c == '~' || c == '%' || c == '/' || c == '-')) return false;
        if (path.find("//") != std::string_view::npos || path.find("/./") != std::string_view::npos ||
            path.find("/../") != std::string_view::npos || path.ends_with("/.") || path.ends_with("/.."))
            return false;
    }
    return true;
}

const MediaEntry* Manifest::findMedia(std::string_view sha) const {
    for (const auto& m : media)
        if (m.sha256 == sha) return &m;
    return nullptr;
}

std::uint64_t Manifest::totalMediaBytes() const {
    std::uint64_t total = 0;
    for (const auto& m : media) total += m.sizeBytes;
    return total;
}

json::Value toJson(const Manifest& m) {
    json::Array media;
    bool derived = false;
    for (const auto& e : m.media) {
        json::Object entry{
            {"sha256", e.sha256},      {"size", e.sizeBytes},         {"kind", std::string(mediaKindName(e.kind))},
            {"mime", e.mime},          {"duration_ms", e.durationMs}, {"name", e.name},
            {"file_name", e.fileName},
        };
        if (e.derivedFrom) {
            derived = true;
            entry["derived_from"] =
                json::Object{{"sha256", e.derivedFrom->sha256}, {"transform", e.derivedFrom->transform}};
        }
        media.push_back(std::move(entry));
    }
    // Format 3 only when a derived file or a mirror is listed: earlier players read the rest.
    json::Object o{
        {"format", derived || !m.mirrors.empty() ? 3 : (m.location ? 2 : 1)},
        {"bundle_id", m.bundleId},
        {"kind", std::string(bundleKindName(m.kind))},
        {"version", m.version},
        {"issued_at", timeutil::formatUtc(m.issuedAtMs)},
        {"expires_at", timeutil::formatUtc(m.expiresAtMs)},
        {"target", m.target},
        {"signer", m.signer},
        {"schedule", m.schedule},
        {"media", std::move(media)},
    };
    if (!m.mirrors.empty()) {
        json::Array mirrors;
        for (const auto& u : m.mirrors) mirrors.push_back(u);
        o["mirrors"] = std::move(mirrors);
    }
    if (m.location)
        o["location"] = json::Object{{"id", m.location->id},
                                     {"name", m.location->name},
                                     {"venue_type", m.location->venueType},
                                     {"district", m.location->district},
                                     {"time_zone", m.location->timeZone}};
    return o;
}

std::string toCanonicalBytes(const Manifest& m) {
    return json::canonical(toJson(m));
}

Result<Manifest> parse(std::string_view bytes) {
    if (bytes.size() > kMaxManifestBytes)
        return makeError(Errc::TooLarge, "manifest.json is " + std::to_string(bytes.size()) + " bytes; the limit is " +
                                             std::to_string(kMaxManifestBytes));
    json::ParseLimits limits;
    limits.maxBytes = kMaxManifestBytes;
    auto doc = json::parseCanonical(bytes, limits);
    if (!doc) return doc.error();
    if (!doc->isObject()) return bad("manifest is not a JSON object");

    // The format decides how to read everything else, so check it first.
    const json::Value* fmt = doc->find("format");
    if (!fmt || !fmt->isInt()) return bad("manifest: missing integer field \"format\"");
    if (fmt->asInt() < 1 || fmt->asInt() > kFormatVersion)
        return makeError(Errc::UnsupportedFormat, "manifest format " + std::to_string(fmt->asInt()) +
                                                      " is not supported (this program reads formats 1 to " +
                                                      std::to_string(kFormatVersion) + ")");

    Manifest m;
    m.format = static_cast<int>(fmt->asInt());
    auto fields = json::Fields::of(*doc, "manifest");
    if (!fields) return fields.error();
    json::Fields& f = *fields;
    MS_TRY(f.integer("format", 1, kFormatVersion));
    if (m.format >= 2) {
        auto loc = parseLocation(f);
        if (!loc) return loc.error();
        m.location = std::move(*loc);
    }
    if (m.format >= 3 && f.has("mirrors")) {
        auto mirrors = f.get("mirrors", json::Value::Type::Array);
        if (!mirrors) return mirrors.error();
        const auto& list = (*mirrors)->asArray();
        if (list.empty() || list.size() > kMaxMirrors)
            return bad("manifest: mirrors must list 1 to " + std::to_string(kMaxMirrors) + " base URLs");
        for (const auto& u : list) {
            if (!u.isString() || !isValidMirrorUrl(u.asString()))
                return bad("manifest: mirrors must be http(s) base URLs without credentials, query or fragment");
            if (std::find(m.mirrors.begin(), m.mirrors.end(), u.asString()) != m.mirrors.end())
                return bad("manifest: mirror " + u.asString() + " is listed twice");
            m.mirrors.push_back(u.asString());
        }
    }
    auto bundleId = f.str("bundle_id");
    if (!bundleId) return bundleId.error();
    if (!isValidId(*bundleId)) return bad("manifest: bundle_id must be 1-128 characters of [A-Za-z0-9._:@-]");
    m.bundleId = *bundleId;

    auto kind = f.str("kind");
    if (!kind) return kind.error();
    if (*kind == "schedule")
        m.kind = BundleKind::Schedule;
    else if (*kind == "takeover")
        m.kind = BundleKind::Takeover;
    else
        return bad("manifest: kind must be \"schedule\" or \"takeover\"");

    auto version = f.integer("version", 1, json::kMaxSafeInteger);
    if (!version) return version.error();
    m.version = *version;

    for (auto [key, out] : {std::pair{"issued_at", &m.issuedAtMs}, std::pair{"expires_at", &m.expiresAtMs}}) {
        auto s = f.str(key);
        if (!s) return s.error();
        auto t = timeutil::parseUtcStrict(*s);
        if (!t) return bad(std::string("manifest: ") + key + ": " + t.error().message);
        *out = *t;
    }
    if (m.expiresAtMs <= m.issuedAtMs) return bad("manifest: expires_at must be after issued_at");

    auto target = f.str("target");
    if (!target) return target.error();
    if (!isValidId(*target)) return bad("manifest: target must be 1-128 characters of [A-Za-z0-9._:@-]");
    m.target = *target;

    auto signer = f.str("signer");
    if (!signer) return signer.error();
    if (!crypto::isSha256Hex(*signer)) return bad("manifest: signer must be a key id (64 lowercase hex)");
    m.signer = *signer;

    auto schedule = f.get("schedule", json::Value::Type::Object);
    if (!schedule) return schedule.error();
    m.schedule = **schedule;

    auto media = f.get("media", json::Value::Type::Array);
    if (!media) return media.error();
    MS_TRY(f.finish());

    const auto& list = (*media)->asArray();
    if (list.size() > kMaxMediaCount)
        return makeError(Errc::TooLarge, "manifest lists " + std::to_string(list.size()) +
                                             " media files; the limit is " + std::to_string(kMaxMediaCount));
    std::set<std::string, std::less<>> seen;
    std::uint64_t total = 0;
    for (std::size_t i = 0; i < list.size(); ++i) {
        std::string where = "media[" + std::to_string(i) + "]";
        auto mfields = json::Fields::of(list[i], where);
        if (!mfields) return mfields.error();
        json::Fields& mf = *mfields;
        MediaEntry e;
        auto sha = mf.str("sha256");
        if (!sha) return sha.error();
        if (!crypto::isSha256Hex(*sha)) return bad(where + ": sha256 must be 64 lowercase hex digits");
        if (!seen.insert(*sha).second) return bad(where + ": sha256 " + *sha + " is listed twice");
        e.sha256 = *sha;
        auto size = mf.integer("size", 0, json::kMaxSafeInteger);
        if (!size) return size.error();
        if (static_cast<std::uint64_t>(*size) > kMaxMediaBytes)
            return makeError(Errc::TooLarge, where + ": size exceeds the per-file limit of 8 GiB");
        e.sizeBytes = static_cast<std::uint64_t>(*size);
        total += e.sizeBytes;
        auto k = mf.str("kind");
        if (!k) return k.error();
        e.kind = mediaKindFromName(*k);
        if (e.kind == MediaKind::Unknown) return bad(where + ": kind must be image, video, audio or text");
        auto mime = mf.str("mime");
        if (!mime) return mime.error();
        if (mime->empty() || mime->size() > 100 || hasControl(*mime)) return bad(where + ": bad mime type");
        e.mime = *mime;
        auto dur = mf.integer("duration_ms", 0, kMaxDurationMs);
        if (!dur) return dur.error();
        e.durationMs = *dur;
        auto name = mf.str("name");
        if (!name) return name.error();
        if (!isValidDisplayName(*name)) return bad(where + ": name must be 1-255 bytes of UTF-8 text");
        e.name = *name;
        auto fileName = mf.str("file_name");
        if (!fileName) return fileName.error();
        if (!isValidFileName(*fileName))
            return bad(where + ": file_name must be 1-255 bytes of UTF-8 without '/' or control characters");
        e.fileName = *fileName;
        if (m.format >= 3 && mf.has("derived_from")) {
            auto d = mf.get("derived_from", json::Value::Type::Object);
            if (!d) return d.error();
            auto df = json::Fields::of(**d, where + ".derived_from");
            if (!df) return df.error();
            manifest::MediaEntry::DerivedFrom from;
            auto osha = df->str("sha256");
            if (!osha) return osha.error();
            if (!crypto::isSha256Hex(*osha))
                return bad(where + ": derived_from.sha256 must be 64 lowercase hex digits");
            auto tr = df->str("transform");
            if (!tr) return tr.error();
            if (tr->empty() || tr->size() > 1000 || !json::isValidUtf8(*tr) || hasControl(*tr))
                return bad(where + ": derived_from.transform must be 1-1000 bytes of UTF-8 text");
            MS_TRY(df->finish());
            from.sha256 = *osha;
            from.transform = *tr;
            e.derivedFrom = std::move(from);
        }
        MS_TRY(mf.finish());
        m.media.push_back(std::move(e));
    }
    if (total > kMaxBundleBytes)
        return makeError(Errc::TooLarge, "media add up to " + std::to_string(total) + " bytes; the limit is 64 GiB");
    // Format 3 is written exactly when a derived file or a mirror is listed: one reading per manifest.
    if (m.format == 3 && m.mirrors.empty() &&
        std::none_of(m.media.begin(), m.media.end(), [](const MediaEntry& e) { return e.derivedFrom.has_value(); }))
        return bad(
            "manifest: format 3 lists no derived file (derived_from) and no mirrors; such a manifest is "
            "format 2");
    return m;
}

Status verifySignature(const Manifest& m, std::string_view manifestBytes, std::string_view signature,
                       const std::vector<crypto::PublicKey>& pinned) {
    for (const auto& key : pinned) {
        if (key.id() != m.signer) continue;
        if (signature.size() != 64)
            return makeError(Errc::BadSignature, "manifest.sig is " + std::to_string(signature.size()) +
                                                     " bytes, not a 64-byte Ed25519 signature");
        if (!key.verify(manifestBytes, signature))
            return makeError(Errc::BadSignature, "manifest.sig does not verify under key " + key.id().substr(0, 16));
        return {};
    }
    return makeError(Errc::UnknownSigner,
                     "manifest is signed by key " + m.signer.substr(0, 16) + ", which is not one of the trusted keys");
}

Status checkPolicy(const Manifest& m, const AcceptPolicy& policy) {
    if (m.version < policy.minVersion)
        return makeError(Errc::Rollback, "bundle version " + std::to_string(m.version) + " is below the minimum " +
                                             std::to_string(policy.minVersion));
    if (m.expiresAtMs <= policy.nowMs)
        return makeError(Errc::Expired, "bundle expired at " + timeutil::formatUtc(m.expiresAtMs) + " (now " +
                                            timeutil::formatUtc(policy.nowMs) + ")");
    return {};
}

Signed sign(Manifest& m, const crypto::PrivateKey& key) {
    m.signer = key.publicKey().id();
    Signed s;
    s.bytes = toCanonicalBytes(m);
    s.signature = key.sign(s.bytes);
    return s;
}

}  // namespace microscape::manifest
