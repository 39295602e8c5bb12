// The media transfer of the sync agent for one staged manifest: which files
// are missing, a credit window of FETCH requests in flight (resumed from the
// partial files on disk), and each CHUNK appended to its partial file and
// hashed on the way, so a file is verified the moment its last byte lands.
// What a chunk means for the agent (a file done, the disk full, a hash that
// failed) is returned as a ChunkResult; the agent decides the sync state,
// activation and status. Agent thread only. Errors: in ChunkResult::error.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "microscape/core/crypto.hpp"
#include "microscape/core/manifest.hpp"
#include "microscape/core/wire.hpp"
#include "microscape/player/cache.hpp"

namespace microscape::player {

class Fetcher {
  public:
    Fetcher(std::filesystem::path dataDir, Cache& cache, int maxHashFailures, std::uint32_t chunkBytes, int window)
        : dataDir_(std::move(dataDir)),
          cache_(cache),
          maxHashFailures_(maxHashFailures),
          chunkBytes_(chunkBytes),
          window_(window) {}

    // The files of manifest m still to fetch (from the cache's partial files on).
    void load(const manifest::Manifest& m);
    void clear();
    // The hub's limits (WELCOME), at most the configured ones.
    void setLimits(std::uint32_t chunkBytes, int window) {
        chunkBytes_ = chunkBytes;
        window_ = window;
    }

    // Asks for chunks up to the window; stops when send refuses one (socket full).
    void pump(const std::function<bool(const wire::Fetch&)>& send, std::int64_t steadyMs);
    // Forgets what was asked for (a new link, a stall): pump asks again from what is on disk.
    void resetRequests();
    // A request answered by no chunk (a bad CHUNK, an ERROR for it).
    void requestLost() {
        if (inflight_ > 0) --inflight_;
    }
    // Requests in flight and no chunk for more than limitMs: asks again (true).
    bool restartIfStalled(std::int64_t steadyMs, std::int64_t limitMs);

    enum class Outcome {
        Ignored,     // not wanted, stale or out of order
        Stored,      // appended
        Refused,     // a wrong size or an I/O error: error says why
        DiskFull,    // the chunk did not fit: error says why; requests were reset
        HashFailed,  // the finished file is not what the manifest says: error says why
        Exhausted,   // the same, for the last allowed time: the file is given up
        MediaDone,   // a file complete and verified
    };
    struct ChunkResult {
        Outcome outcome = Outcome::Ignored;
        std::string error;
    };
    ChunkResult onChunk(const wire::ChunkView& c, std::int64_t steadyMs);

    // The controller refused file sha (not in the manifest, unavailable): it is given up.
    void refuse(const std::string& sha);
    // Gives up nothing any more: the failure counts start again (a manifest resent).
    void retryFailed();

    bool complete() const;
    std::uint64_t bytesNeeded() const;
    std::set<std::string> files() const;  // every file of the manifest (partials to keep)
    void fillStatus(wire::StatusReport& s) const;
    int inflight() const { return inflight_; }
    std::int64_t lastProgressMs() const { return lastProgressMs_; }

  private:
    struct FileTask {
        std::shared_ptr<crypto::Sha256> hasher;  // over [0, hashed)
        std::uint64_t hashed = 0;
        std::string sha;
        std::uint64_t size = 0;
        std::uint64_t received = 0;   // bytes on disk in partial/
        std::uint64_t requested = 0;  // bytes asked for so far
        int failures = 0;
        bool done = false;
    };
    bool catchUpHash(FileTask& t, std::uint64_t upTo);
    ChunkResult finishFile(FileTask& t);

    std::filesystem::path dataDir_;
    Cache& cache_;
    int maxHashFailures_;
    std::uint32_t chunkBytes_;
    int window_;
    std::vector<FileTask> tasks_;
    int inflight_ = 0;
    std::int64_t lastProgressMs_ = 0;
};

}  // namespace microscape::player
