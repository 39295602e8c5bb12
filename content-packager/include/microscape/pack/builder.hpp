// Writes a signed bundle tar (docs/bundle-format.md) from media files in one
// streaming pass: each file is read once, hashed while a second thread writes
// it out, so a video is never held in memory. Not thread-safe; one build at a
// time per object.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "microscape/core/crypto.hpp"
#include "microscape/core/json.hpp"
#include "microscape/core/manifest.hpp"
#include "microscape/core/result.hpp"
#include "microscape/pack/probe.hpp"

namespace microscape::pack {

struct MediaInput {
    std::string path;
    std::string name;      // display name; default: the file name without its extension
    std::string fileName;  // default: the file name
    MediaInfo info;        // kind, mime, duration (from MediaProber)
};

struct BuildRequest {
    std::string outPath;
    bool overwrite = false;
    std::string bundleId;  // default: random
    manifest::BundleKind kind = manifest::BundleKind::Schedule;
    std::int64_t version = 1;
    std::int64_t issuedAtMs = 0;
    std::int64_t expiresAtMs = 0;
    std::string target = "all";
    json::Value schedule = json::Object{};
    std::vector<MediaInput> media;
};

struct BuildResult {
    manifest::Manifest manifest;
    std::uint64_t bytesWritten = 0;
};

// Builds and atomically writes the bundle. Identical media content given twice
// is stored once (first name wins). If a media file changes size while it is
// being read, the build fails. Errors: Io, Exists, BadManifest, TooLarge, BadPath.
Result<BuildResult> buildBundle(const BuildRequest& request, const crypto::PrivateKey& key);

// Copies `in` to `out` (both file descriptors) while hashing, with the write on
// a second thread. Returns the digest and bytes copied. Used by the builder and
// by the controller's upload store. Errors: Io.
struct CopyResult {
    crypto::Digest digest{};
    std::uint64_t sizeBytes = 0;
};
Result<CopyResult> hashingCopy(int inFd, int outFd, const std::string& what, std::uint64_t maxBytes = UINT64_MAX);

}  // namespace microscape::pack
