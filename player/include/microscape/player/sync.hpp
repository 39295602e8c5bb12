// The player's bundle state on disk: manifest verification, the staged manifest
// being fetched, atomic activation, and USB/offline import
// (docs/wire-protocol.md, "Activation"). One BundleStore per data directory;
// activation and import take an exclusive lock on DIR/.lock, so the sync agent
// and `microscape-player import` can run at the same time. A BundleStore object
// is used by one thread at a time.
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "microscape/core/crypto.hpp"
#include "microscape/core/manifest.hpp"
#include "microscape/core/result.hpp"
#include "microscape/player/cache.hpp"

namespace microscape::player {

// Everything a player checks before it fetches anything: size and form
// (manifest::parse), signature under a pinned key, version >= minVersion,
// expiry against nowMs, and a target that is this player or a group (not
// another player's id). Errors: those of manifest::parse/verifySignature/
// checkPolicy, and BadManifest (wrong target).
Result<manifest::Manifest> verifyManifest(std::string_view bytes, std::string_view signature,
                                          const std::vector<crypto::PublicKey>& keys, std::int64_t minVersion,
                                          std::int64_t nowMs, const std::string& playerId);

struct SignedManifest {
    manifest::Manifest manifest;
    std::string bytes;
    std::string signature;
};

// The active bundle as the sync side knows it. The playback engine builds its
// own ActiveBundle (engine.hpp) with ActiveBundle::fromManifest(manifest, blobsDir).
struct ActivatedBundle {
    manifest::Manifest manifest;
    std::filesystem::path dir;       // DIR/bundles/v<version>-<id>
    std::filesystem::path blobsDir;  // media are blobsDir / sha256
    std::filesystem::path mediaPath(const std::string& sha256) const { return blobsDir / sha256; }
};

class BundleStore {
  public:
    BundleStore(std::filesystem::path dataDir, std::vector<crypto::PublicKey> keys, std::string playerId);

    // The active bundle, re-verified (signature, media present with the right
    // size); nullopt if none. Errors: BadSignature etc. if the active bundle is
    // damaged (the caller falls back to the previous one).
    Result<std::optional<ActivatedBundle>> active() const;
    std::int64_t activeVersion() const;  // 0 if none

    // The staged manifest (accepted, being fetched), re-verified without the
    // expiry check. nullopt if none or unreadable.
    std::optional<SignedManifest> staged() const;
    Status stage(const SignedManifest& m);  // atomic replace of DIR/staged.json
    void clearStaged();

    // Makes m active if every media file is in the cache with the right size:
    // writes DIR/bundles/v<ver>-<id>/, then swaps the DIR/active symlink by
    // rename, with fsyncs. Refuses a version not above the active one (Rollback).
    // Errors: MissingMedia, SizeMismatch, Rollback, Io.
    Status activate(const SignedManifest& m, const Cache& cache);

    // Media the active and staged manifests reference (what GC keeps).
    std::set<std::string> referencedMedia() const;

    const std::filesystem::path& dataDir() const { return dir_; }
    const std::vector<crypto::PublicKey>& keys() const { return keys_; }
    const std::string& playerId() const { return playerId_; }

  private:
    Result<SignedManifest> readBundleDir(const std::filesystem::path& dir) const;
    std::filesystem::path dir_;
    std::vector<crypto::PublicKey> keys_;
    std::string playerId_;
};

// An exclusive flock on DIR/.lock for the lifetime of the object.
class DataDirLock {
  public:
    explicit DataDirLock(const std::filesystem::path& dataDir);
    ~DataDirLock();
    DataDirLock(const DataDirLock&) = delete;
    DataDirLock& operator=(const DataDirLock&) = delete;
    bool locked() const { return fd_ >= 0; }

  private:
    int fd_ = -1;
};

struct ImportResult {
    std::int64_t version = 0;
    std::string bundleId;
    std::size_t mediaCount = 0;
    std::size_t mediaCopied = 0;     // not already in the cache
    std::uint64_t bytesWritten = 0;  // media bytes stored
};

struct ImportOptions {
    // Kept free on the disk besides the media to store (player.json's
    // reserve_bytes; the agent applies it only when there is no quota).
    std::uint64_t reserveBytes = 0;
    // Set by another thread to stop a long copy (the agent stopping); the import
    // then fails with Io and leaves nothing behind.
    const std::atomic<bool>* cancel = nullptr;
};

// Applies a bundle tar (microscape-pack, or GET /api/v1/players/{id}/bundle)
// with the same checks as a pushed manifest, verifying before it writes: a
// first pass reads only the headers, manifest.json and manifest.sig (seeking
// over media data) and checks the signature, version, expiry, target, that the
// media entries are exactly the manifest's with its sizes, and that the media
// not yet cached fit the free space (less reserveBytes) and the cache quota.
// Only then does a second pass verify every hash while it copies those media
// to DIR/import-tmp; only if the whole bundle verifies are they moved into the
// cache and the bundle activated. tarPath must be a regular file (read twice).
// Imports of one data directory run one at a time (DIR/.import-lock); DIR/.lock
// is held only while the media are moved and the bundle activated.
// Errors: those of bundle::preflight, bundle::verify and activate; TooLarge
// (not enough space or quota), Usage (not a regular file), Io.
Result<ImportResult> importBundle(const std::filesystem::path& tarPath, BundleStore& store, Cache& cache,
                                  std::int64_t nowMs, const ImportOptions& options = {});

}  // namespace microscape::player
