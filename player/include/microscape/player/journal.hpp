// The player's proof-of-play journal: play records and events appended to a
// hash chain in SQLite (WAL, synchronous=FULL), handed out in signed batches
// and deleted only after the controller has acknowledged them.
// Thread-safety: every method of Journal may be called from any thread (one
// internal mutex, mutex_); the playback thread appends, the sync thread takes
// batches and acknowledges. ClockWatch is a plain value (one thread).
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "microscape/core/crypto.hpp"
#include "microscape/core/pop.hpp"
#include "microscape/core/result.hpp"

struct sqlite3;

namespace microscape::player {

struct JournalConfig {
    std::string path;      // SQLite file, e.g. <data-dir>/state.db (tables pop_*)
    std::string playerId;  // every record is stamped with it; a journal never changes player
    // Record bytes kept on disk. Above it the oldest acknowledged records are
    // dropped; unacknowledged ones are never dropped (status().capExceeded says so).
    std::uint64_t capBytes = 64ull << 20;
    // How long a write waits for another writer of the file (SQLite's busy
    // timeout) before it fails with "database is locked".
    int busyTimeoutMs = 5000;
};

struct JournalStatus {
    std::int64_t lastSeq = 0;       // 0: nothing written yet
    std::string lastHash;           // kGenesisHash when empty
    std::int64_t ackedSeq = 0;      // highest seq the controller stored
    std::int64_t oldestSeq = 0;     // oldest record still on disk (0: none)
    std::int64_t unacked = 0;       // lastSeq - ackedSeq
    std::uint64_t storedBytes = 0;  // record bytes on disk
    std::uint64_t capBytes = 0;
    bool capExceeded = false;  // unacknowledged records alone exceed the cap
};

class Journal {
  public:
    // Opens (creating if needed) the journal tables and recovers the tip.
    // Errors: Io (cannot open/create), Usage (the file belongs to another player),
    // Internal (SQLite failed).
    static Result<std::unique_ptr<Journal>> open(const JournalConfig& config);
    ~Journal();
    Journal(const Journal&) = delete;
    Journal& operator=(const Journal&) = delete;

    // Stamps the record with the player id, the next seq and the chain's prev,
    // and commits it durably (fsync) before returning the stored record.
    // Errors: BadManifest (the record fails pop::validate), Io/Internal (SQLite).
    Result<pop::Record> append(pop::Record record);

    // The oldest unacknowledged records (at most maxRecords) with a checkpoint
    // over them signed by key; nullopt when everything is acknowledged. The
    // checkpoint (format 2) names the one made before it and is stored before it
    // is returned; until the controller acknowledges it, the same batch with the
    // same checkpoint is returned again (at-least-once delivery), so the
    // checkpoints the controller keeps are contiguous and chained.
    // Errors: Internal.
    Result<std::optional<pop::Batch>> nextBatch(std::size_t maxRecords, const crypto::PrivateKey& key,
                                                std::int64_t nowUtcMs);

    // The controller durably stored every record up to seq. Acks at or below the
    // current one are ignored (at-least-once delivery repeats them).
    // Errors: Usage (seq beyond the last record), Internal.
    Status acknowledge(std::int64_t seq);

    // Records still on disk with fromSeq <= seq <= toSeq, ascending. Errors: Internal.
    Result<std::vector<pop::Record>> records(std::int64_t fromSeq, std::int64_t toSeq);

    JournalStatus status() const;

  private:
    struct DbClose {
        void operator()(sqlite3* db) const;
    };
    explicit Journal(JournalConfig config);
    Status init();
    Status exec(const char* sql);
    Status pruneLocked();
    Result<std::vector<pop::Record>> recordsLocked(std::int64_t fromSeq, std::int64_t toSeq);
    JournalStatus statusLocked() const;

    const JournalConfig config_;
    mutable std::mutex mutex_;  // guards everything below
    std::unique_ptr<sqlite3, DbClose> db_;
    std::int64_t lastSeq_ = 0;
    std::string lastHash_;
    std::int64_t ackedSeq_ = 0;
    std::int64_t oldestSeq_ = 0;
    std::uint64_t storedBytes_ = 0;
    std::string lastCheckpointHash_ = std::string(pop::kGenesisHash);  // of the last checkpoint made
    std::optional<pop::Checkpoint> pending_;  // the last checkpoint made (resent until acknowledged)
};

// Notices the wall clock moving against the monotonic clock (NTP steps, an RTC
// reset after a power cut, someone setting the time). Feed it both clocks now
// and then; it reports a jump when their difference changes by more than the
// threshold, then follows the new wall clock.
class ClockWatch {
  public:
    struct Jump {
        std::int64_t expectedWallMs = 0;  // where the wall clock should have been
        std::int64_t actualWallMs = 0;    // where it is
        std::int64_t deltaMs() const { return actualWallMs - expectedWallMs; }
    };
    explicit ClockWatch(std::int64_t thresholdMs = 1000) : thresholdMs_(thresholdMs) {}
    std::optional<Jump> observe(std::int64_t wallMs, std::int64_t monoMs);

  private:
    std::int64_t thresholdMs_;
    bool started_ = false;
    std::int64_t offsetMs_ = 0;  // wall - mono at the last observation
};

// A clock-jump event record for the journal.
pop::Record clockJumpRecord(const ClockWatch::Jump& jump, std::int64_t bundleVersion);

// The screen's signed statement of its journal's head now (`microscape-player
// head`, and the QR code of the show_head command): player, last seq and hash,
// the time, signed by the identity key.
pop::Head signedHead(const Journal& journal, const std::string& playerId, const crypto::PrivateKey& identity,
                     std::int64_t nowMs);

}  // namespace microscape::player
