// The media transfer of the sync agent for one staged manifest: which files
// are missing, a credit window of FETCH requests in flight (resumed from the
// partial files on disk), and each CHUNK appended to its partial file and
// hashed on the way, so a file is verified the moment its last byte lands.
// A CHUNK asked for that arrives before the bytes before it (the CURVE socket
// and the bulk channel are not ordered with each other) waits in memory for
// its turn, at most a window of them.
// What a chunk means for the agent (a file done, the disk full, a hash that
// failed) is returned as a ChunkResult; the agent decides the sync state,
// activation and status. Agent thread only. Errors: in ChunkResult::error.
// With mirrors in the manifest, each file is first offered to the mirrors
// (nextForMirror, mirrorStarted, onMirrorData, mirrorEnded: the bytes a
// MirrorFetcher posts take the same path as CHUNKs) and asked of the hub only
// once the mirrors gave up on it; the hub is never asked for a file a mirror
// is fetching.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
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

    // Whether the FETCHes pump sends ask for the bulk channel (the agent's session has one).
    void setBulk(bool on) { bulk_ = on; }
    bool bulk() const { return bulk_; }
    // Asks for chunks up to the window; stops when send refuses one (socket full).
    void pump(const std::function<bool(const wire::Fetch&)>& send, std::int64_t steadyMs);
    // Forgets what was asked for (a new link, a stall): pump asks again from what is on disk.
    void resetRequests();
    // A request answered by no chunk (a bad CHUNK, an ERROR for it).
    void requestLost() {
        if (inflight_ > 0) --inflight_;
    }
    // Requests in flight (or asked-for bytes missing) and no bytes stored for
    // more than limitMs: asks again from what is on disk (true).
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
        // HashFailed/Exhausted: the mirrors that supplied bytes of the discarded file.
        std::vector<std::string> suspects;
    };
    ChunkResult onChunk(const wire::ChunkView& c, std::int64_t steadyMs);

    // --- mirrors
    struct MirrorCandidate {
        std::string sha256;
        std::uint64_t sizeBytes = 0;
        std::uint64_t offsetBytes = 0;  // bytes on disk
    };
    // The first file still waiting for a mirror, if any.
    std::optional<MirrorCandidate> nextForMirror() const;
    void mirrorStarted(const std::string& sha);
    // Bytes [offset, offset + n) of file sha from mirror, as onChunk. Refused when
    // the file is not being fetched from a mirror or offset is not its size on disk.
    ChunkResult onMirrorData(const std::string& sha, const std::string& mirror, std::uint64_t offset,
                             std::string_view data, std::int64_t steadyMs);
    // The mirror job for sha ended: the file goes to the hub (toHub) or waits for a mirror again.
    void mirrorEnded(const std::string& sha, bool toHub);
    bool mirrorActive() const;
    std::int64_t bytesFromMirrors() const { return bytesFromMirrors_; }
    std::int64_t bytesFromHub() const { return bytesFromHub_; }

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
        enum class Via { Hub, Mirror, MirrorActive } via = Via::Hub;
        std::set<std::string> mirrorsUsed;  // since the partial file was empty
    };
    bool catchUpHash(FileTask& t, std::uint64_t upTo);
    // Appends data at offset (== t.received) and hashes it; finishes the file at its size.
    ChunkResult store(FileTask& t, std::uint64_t offset, std::string_view data);
    ChunkResult finishFile(FileTask& t);
    ChunkResult storeFromHub(FileTask& t, std::uint64_t offset, std::string_view data);
    bool outstanding() const;  // bytes asked of the hub and not on disk

    std::filesystem::path dataDir_;
    Cache& cache_;
    int maxHashFailures_;
    std::uint32_t chunkBytes_;
    int window_;
    std::vector<FileTask> tasks_;
    int inflight_ = 0;
    // CHUNKs ahead of their file's bytes on disk: (sha256, offset) -> data; at most window_.
    std::map<std::pair<std::string, std::uint64_t>, std::string> early_;
    std::int64_t lastProgressMs_ = 0;
    bool hasMirrors_ = false;
    bool bulk_ = false;
    std::int64_t bytesFromMirrors_ = 0, bytesFromHub_ = 0;  // since the agent started
};

}  // namespace microscape::player
