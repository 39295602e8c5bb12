// The player's content-addressed media cache: DIR/blobs/<sha256> holds only
// files that hashed to their name; DIR/partial/<sha256> holds downloads in
// progress, which survive restarts and resume at their size. Used by one thread
// at a time (the sync agent, or the import command under the data-dir lock).
#pragma once

#include <cstdint>
#include <filesystem>
#include <set>
#include <string>

#include "microscape/core/result.hpp"

namespace microscape::player {

class Cache {
  public:
    // Creates blobs/ and partial/ if needed. quotaBytes 0 = no quota.
    Cache(std::filesystem::path dataDir, std::uint64_t quotaBytes = 0);
    ~Cache();
    Cache(const Cache&) = delete;
    Cache& operator=(const Cache&) = delete;

    bool has(const std::string& sha256) const;
    std::uint64_t blobSize(const std::string& sha256) const;  // 0 if absent
    std::filesystem::path blobPath(const std::string& sha256) const;
    std::filesystem::path blobsDir() const { return dir_ / "blobs"; }

    std::uint64_t partialSize(const std::string& sha256) const;
    // Appends data at offset, which must equal the partial size. A failed write
    // truncates back, so the file never holds a torn chunk. Errors: Usage
    // (offset mismatch), Io (ENOSPC says "no space"), TooLarge (quota).
    Status append(const std::string& sha256, std::uint64_t offset, const void* data, std::size_t n);
    // Hashes the complete partial file; if it matches, fsyncs and renames it into
    // blobs/. On mismatch the partial file is removed. Errors: HashMismatch,
    // SizeMismatch, Io.
    Status finish(const std::string& sha256, std::uint64_t sizeBytes);
    // The same, with the digest already computed while the bytes were appended
    // (the sync agent hashes as chunks arrive, so the file is not read again).
    Status finish(const std::string& sha256, std::uint64_t sizeBytes, const std::string& digestHex);
    void discardPartial(const std::string& sha256);
    // Moves an already verified file (same filesystem) into blobs/.
    Status adopt(const std::filesystem::path& file, const std::string& sha256);

    struct GcResult {
        int blobsRemoved = 0;
        int partialsRemoved = 0;
        std::uint64_t bytesFreed = 0;
    };
    // Removes blobs not in keep, and partials not in keepPartial.
    GcResult gc(const std::set<std::string>& keep, const std::set<std::string>& keepPartial);

    std::uint64_t usedBytes() const;  // blobs + partials
    // Bytes that may still be written: free disk space, capped by the quota.
    std::uint64_t availableBytes() const;
    std::uint64_t diskFreeBytes() const;

    // Every this many bytes appended to a partial file, the kernel is asked
    // to start writing them out (sync_file_range, asynchronous), so the fsync
    // that completes a file finds little left and a screen never holds a
    // whole video of dirty pages.
    static constexpr std::uint64_t kWritebackBytes = 8u << 20;

  private:
    void closeOpen();
    std::filesystem::path dir_;
    std::uint64_t quota_;
    std::string openSha_;  // partial file kept open between chunks
    int openFd_ = -1;
    std::uint64_t writebackFrom_ = 0;  // where writeback of the open partial file was last started
};

}  // namespace microscape::player
