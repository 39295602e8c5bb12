// Reading and verifying a bundle tar in one streaming pass (docs/bundle-format.md).
// Works over any tar::ByteSource, so the same code verifies a file, a pipe or
// memory (tests, fuzzing). Not thread-safe per call; separate calls are
// independent.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "microscape/core/crypto.hpp"
#include "microscape/core/manifest.hpp"
#include "microscape/core/result.hpp"
#include "microscape/core/tar.hpp"

namespace microscape::bundle {

inline constexpr std::string_view kManifestName = "manifest.json";
inline constexpr std::string_view kSignatureName = "manifest.sig";
inline constexpr std::string_view kMediaPrefix = "media/";
constexpr std::size_t kMaxSignatureBytes = 4096;

// Receives media data while it is verified, e.g. to stage files during a USB
// import. Nothing it receives is trusted until verify() returns success; on
// failure the caller must discard whatever the sink wrote.
class MediaSink {
  public:
    virtual ~MediaSink() = default;
    virtual Status begin(const std::string& sha256, std::uint64_t sizeBytes) = 0;
    virtual Status write(const void* data, std::size_t n) = 0;
    virtual Status end() = 0;
};

struct VerifyOptions {
    std::vector<crypto::PublicKey> trustedKeys;  // pinned content keys
    manifest::AcceptPolicy policy;
};

struct Verified {
    manifest::Manifest manifest;
    std::string manifestBytes;
    std::string signature;
    std::uint64_t mediaBytes = 0;
};

// Reads the whole bundle once, hashing each media entry as it streams past, then
// checks: manifest well-formed, signature under a trusted key, version and
// expiry policy, every listed media present with matching hash and size, and
// nothing else in the archive. Errors: every code of tar::Reader and
// manifest::parse/verifySignature/checkPolicy, plus HashMismatch, SizeMismatch,
// MissingMedia, ExtraEntry, DuplicateEntry, TooLarge.
Result<Verified> verify(tar::ByteSource& source, const VerifyOptions& options, MediaSink* sink = nullptr);

// The first pass of a verify-before-write import: reads the headers, the
// manifest and the signature, and skips over media data without reading it
// (ByteSource::skip: a seek on a file), so that nothing from the bundle needs to
// be stored before the signature is known to be good. Checks everything verify()
// checks except the media hashes: archive structure, names, limits, manifest,
// signature, policy, and that the media entries are exactly the manifest's
// (name and size). Entries may come in any order. The returned Verified holds
// the manifest only as far as these checks go: a caller that stores media must
// still hash them (verify() with a sink, restricted to this manifest).
// Errors: as verify(), except HashMismatch.
Result<Verified> preflight(tar::ByteSource& source, const VerifyOptions& options);

struct Unverified {
    std::string manifestBytes;
    bool hasSignature = false;
    std::vector<std::pair<std::string, std::uint64_t>> entries;  // name, size
};
// Lists the archive and returns manifest.json's bytes without verifying
// anything (for `inspect`). Errors: tar errors, BadManifest (no manifest.json),
// TooLarge.
Result<Unverified> readUnverified(tar::ByteSource& source);

}  // namespace microscape::bundle
