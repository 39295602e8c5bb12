// Proof-of-play ingest (docs/proof-of-play.md, docs/reports.md): verifies each
// PROOFS batch against the enrolled player's key and the stored chain, stores its
// records and checkpoint exactly once by (player, seq), records every problem as
// evidence, and updates the report rollups in the same transaction.
// Thread-safety: every public method may be called from any thread; batches are
// ingested one at a time (a mutex), and the store itself is serialised by Db.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "microscape/controller/model.hpp"

#include "microscape/controller/db.hpp"
#include "microscape/core/crypto.hpp"
#include "microscape/core/pop.hpp"
#include "microscape/core/result.hpp"
#include "store/rollups.hpp"

namespace microscape::controller {

// A batch larger than this is refused before parsing (1000 records of at most
// 4 KiB and the checkpoint line).
constexpr std::size_t kMaxProofsBatchBytes = pop::kMaxBatchRecords * (pop::kMaxRecordBytes + 1) + 4096;
// Problems keep the batch they were found in. Per player and hour, whole batches
// are kept while there are fewer than kWholeProblemBatchesPerHour of them and
// their bytes stay within kWholeProblemBytesPerHour; of later ones only the
// hash, the size and the first kProblemBatchPrefixBytes bytes.
constexpr std::int64_t kWholeProblemBatchesPerHour = 3;
constexpr std::int64_t kWholeProblemBytesPerHour = 4 << 20;
constexpr std::size_t kProblemBatchPrefixBytes = 4096;
// A play that starts more than this after the controller's clock is "far future".
constexpr std::int64_t kMaxFutureSkewMs = 24 * 3600 * 1000;
// A play that starts more than this before the player's enrolment is absurd
// (the same bound the offline verifier uses for before_enrolment).
constexpr std::int64_t kMaxBeforeEnrollmentMs = 24 * 3600 * 1000;

// One problem found in a batch. code is stable (docs/reports.md, "Problems"):
// a pop::problemName, or oversized, bad_batch, unknown_player, revoked_player,
// conflict, future_timestamp, before_enrolment, media_not_sent.
struct IngestProblem {
    std::string code;
    std::int64_t seq = 0;
    std::string message;
};

struct IngestOutcome {
    std::int64_t ackSeq = 0;              // highest seq durably stored for the player (PROOFS_ACK)
    std::int64_t stored = 0;              // records newly stored by this batch
    std::int64_t duplicates = 0;          // records already stored (a re-send)
    bool accepted = false;                // the batch's new records were stored
    std::vector<IngestProblem> problems;  // each also stored in pop_problems
};

struct IngestStats {
    std::int64_t batches = 0;
    std::int64_t records = 0;
    std::int64_t duplicates = 0;
    std::int64_t refused = 0;
    std::int64_t problems = 0;
};

class PopIngest {
  public:
    // zoneinfoDir: where IANA zones are read for local days (tests may pass another).
    explicit PopIngest(Db& db, std::string zoneinfoDir = "/usr/share/zoneinfo");
    ~PopIngest();  // before the Db: it finalizes statements prepared on the Db's connection
    PopIngest(const PopIngest&) = delete;
    PopIngest& operator=(const PopIngest&) = delete;

    // Ingests one PROOFS payload of playerId. On success the outcome's ackSeq is the
    // highest seq stored for the player (also when the batch was refused for its
    // content: the problem is stored and the ack tells the player what is safe).
    // Errors (no acknowledgement is due): TooLarge (oversized), UnknownSigner
    // (player unknown, retired, or the checkpoint names another key), Internal (the
    // store failed). Problems of refused batches are stored before returning.
    Result<IngestOutcome> ingestBatch(const std::string& playerId, std::string_view batchBytes, std::int64_t nowMs);

    // The same in two halves, so that the CPU-heavy one can run on another thread
    // while the previous batch is stored: prepare() parses the batch, hashes its
    // lines and checks the links inside it without touching the store (any thread,
    // concurrently with everything); commit() does the rest, as ingestBatch.
    struct Prepared {
        std::string playerId;
        std::string bytes;  // empty when oversized
        std::size_t sizeBytes = 0;
        std::string sha256;  // of the bytes; empty until needed (commit computes it for problems)
        Result<pop::Batch> batch = makeError(Errc::Internal, "not parsed");
        std::vector<std::string> hashes;  // of each record line
        bool linked = false;              // every link inside the batch holds
    };
    static Prepared prepare(const std::string& playerId, std::string_view batchBytes);
    Result<IngestOutcome> commit(Prepared prepared, std::int64_t nowMs);

    // Recomputes every rollup table from the raw records (one transaction).
    // Returns the number of records read. Errors: Internal.
    Result<std::int64_t> rebuildRollups();

    // Forget cached tips and media sets (after the store was changed elsewhere).
    void invalidate();

    IngestStats stats() const;

  private:
    struct PlayerInfo {
        std::string identityKeyPem;
        PlayerState state = PlayerState::Retired;
        std::int64_t enrolledAtMs = 0;
        std::int64_t locationId = 0;
        std::string zone;
    };
    struct Tip {
        std::int64_t seq = 0;
        std::string hash;
    };
    struct MediaSet {
        std::int64_t version = 0;  // highest manifest version read
        std::set<std::string> sha256;
    };

    const MediaSet& mediaSentTo(DbConn& c, const std::string& playerId);

    // commit() as named steps over one batch's state (pop_ingest.cpp).
    struct Batch;
    Result<IngestOutcome> commitIn(Batch& b);
    const crypto::PublicKey* checkPlayer(Batch& b, Result<IngestOutcome>& refused);
    Tip storedTip(Batch& b);
    bool checkChain(Batch& b, const crypto::PublicKey& key);
    bool checkResend(Batch& b);
    void checkFresh(Batch& b, std::span<const pop::Record> fresh);
    void store(Batch& b, std::span<const pop::Record> fresh);
    void storeProblems(Batch& b);
    Result<IngestOutcome> refuse(Batch& b, Errc code, std::string problemCode, std::string message);
    IngestOutcome refuseContent(Batch& b);

    struct Statements;  // the statements of one commit, on its connection

    Db& db_;
    mutable std::mutex mutex_;           // serialises commit; guards the caches, stmts_ and stats_
    std::unique_ptr<Statements> stmts_;  // during a commit only
    std::map<std::string, Tip> tips_;
    std::map<std::string, MediaSet> media_;
    ManifestPlaces places_;                          // where the manifests records name put their screens
    std::map<std::string, crypto::PublicKey> keys_;  // by PEM
    ZoneCache zones_;
    IngestStats stats_;
};

}  // namespace microscape::controller
