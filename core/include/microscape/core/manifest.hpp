// The bundle manifest: model, canonical serialisation, and the pure validator
// that decides whether a manifest may be accepted. Specified in
// docs/bundle-format.md. Pure functions over plain data; thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "microscape/core/crypto.hpp"
#include "microscape/core/json.hpp"
#include "microscape/core/json_fields.hpp"
#include "microscape/core/media_kind.hpp"
#include "microscape/core/result.hpp"

namespace microscape::manifest {

// Format 2 adds "location": where the target screen is, so that play records
// naming the manifest's hash carry the location and zone under the screen's
// own signature (docs/proof-of-play.md). Format 1 (without it) is still read
// and written (a manifest without a location). Format 3 adds, each optional,
// a media entry's "derived_from" (the approved original it was made from) and
// "mirrors" (HTTP base URLs the player may fetch media from: GET
// <base>/media/<sha256>); it is written exactly when one of them is present,
// and has a location as format 2.
constexpr int kFormatVersion = 3;

// Documented limits (docs/bundle-format.md, "Limits").
constexpr std::size_t kMaxManifestBytes = 4u << 20;  // 4 MiB
constexpr std::size_t kMaxMediaCount = 10000;
constexpr std::uint64_t kMaxMediaBytes = 077777777777ull;    // 8 GiB - 1 per file (ustar size field)
constexpr std::uint64_t kMaxBundleBytes = 64ull << 30;       // 64 GiB of media in all
constexpr std::size_t kMaxIdBytes = 128;                     // bundle_id, target
constexpr std::size_t kMaxNameBytes = 255;                   // display and file names
constexpr std::int64_t kMaxDurationMs = 24LL * 3600 * 1000;  // one day per item
constexpr std::size_t kMaxMirrors = 8;                       // mirror base URLs per manifest
constexpr std::size_t kMaxMirrorUrlBytes = 512;

enum class BundleKind { Schedule, Takeover };
std::string_view bundleKindName(BundleKind k);

struct MediaEntry {
    std::string sha256;  // 64 lowercase hex
    std::uint64_t sizeBytes = 0;
    MediaKind kind = MediaKind::Unknown;
    std::string mime;             // e.g. "video/mp4"
    std::int64_t durationMs = 0;  // 0 when unknown (stills)
    std::string name;             // display name, UTF-8
    std::string fileName;         // original file name, UTF-8, no '/'
    // Format 3: the file is made from an approved original (a normalised still,
    // a rendition for the screen's size); what the approver saw is the original.
    struct DerivedFrom {
        std::string sha256;     // the original's, 64 lowercase hex
        std::string transform;  // what was done to it, in words (1-1000 bytes of UTF-8)
    };
    std::optional<DerivedFrom> derivedFrom;
};

// The target screen's location as the controller configured it. Text fields
// are UTF-8 without control characters, at most 255 bytes (id: 128), and may
// be empty; timeZone is an IANA name.
struct Location {
    std::string id;
    std::string name;
    std::string venueType;
    std::string district;
    std::string timeZone;
    bool operator==(const Location&) const = default;
};

struct Manifest {
    int format = 1;  // as parsed; toJson writes 2 exactly when location is set
    std::string bundleId;
    BundleKind kind = BundleKind::Schedule;
    std::int64_t version = 0;               // monotonic, >= 1
    std::int64_t issuedAtMs = 0;            // UTC, whole seconds
    std::int64_t expiresAtMs = 0;           // UTC, whole seconds, > issuedAtMs
    std::string target;                     // player id or group name
    std::string signer;                     // key id of the signing key (hex SHA-256)
    json::Value schedule = json::Object{};  // opaque object (docs/schedule-format.md)
    std::vector<MediaEntry> media;
    std::optional<Location> location;  // format 2 exactly when present
    std::vector<std::string> mirrors;  // format 3 exactly when not empty (then location is set)

    const MediaEntry* findMedia(std::string_view sha256) const;
    std::uint64_t totalMediaBytes() const;
};

// Format 3 when m.mirrors is not empty, else 2 when m.location is set, else
// format 1 (m.format is not read).
json::Value toJson(const Manifest& m);
// The exact bytes that are signed and stored as manifest.json.
std::string toCanonicalBytes(const Manifest& m);

// Parses manifest.json bytes: size limit, strict canonical JSON, every field
// present with the right type and within limits, no unknown fields.
// Errors: TooLarge, BadJson, NotCanonical, UnsupportedFormat, BadManifest.
Result<Manifest> parse(std::string_view bytes);

// Checks the signature (64 raw bytes, manifest.sig) over the exact manifest bytes
// against the pinned keys. The manifest's signer field selects the key.
// Errors: UnknownSigner (no pinned key has that id), BadSignature.
Status verifySignature(const Manifest& m, std::string_view manifestBytes, std::string_view signature,
                       const std::vector<crypto::PublicKey>& pinned);

struct AcceptPolicy {
    std::int64_t minVersion = 1;  // inclusive
    std::int64_t nowMs = 0;       // reject if expiresAt <= now
};
// Errors: Rollback (version < minVersion), Expired.
Status checkPolicy(const Manifest& m, const AcceptPolicy& policy);

// Signs a manifest: sets m.signer from the key, returns {bytes, signature}.
struct Signed {
    std::string bytes;
    std::string signature;
};
Signed sign(Manifest& m, const crypto::PrivateKey& key);

// Display/file name rule shared with the controller: valid UTF-8, 1..255 bytes,
// no control characters; file names additionally have no '/' or '\\' and are
// not "." or "..".
bool isValidDisplayName(std::string_view s);
bool isValidFileName(std::string_view s);
// Ids: 1..128 bytes of [A-Za-z0-9._:@-].
bool isValidId(std::string_view s);
// A mirror base URL (docs/bundle-format.md, "Mirrors"): http:// or https://, a
// host name, IPv4 or bracketed IPv6 address, an optional port 1..65535, an
// optional path of [A-Za-z0-9._~%/-] not ending in '/'; no credentials, query or
// fragment; at most kMaxMirrorUrlBytes.
bool isValidMirrorUrl(std::string_view s);
// The "location" object of a format 2 manifest, read from the manifest's
// fields (also by the evidence export's reader). Errors: BadManifest.
Result<Location> parseLocation(json::Fields& manifestFields);

}  // namespace microscape::manifest
