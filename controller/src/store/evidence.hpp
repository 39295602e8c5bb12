// The store's side of proof-of-play ingest (pop_ingest.cpp): the player a batch
// names, its chain's stored tip, the records and checkpoints as signed, and the
// problems kept as evidence. Thread-safety: functions and IngestStatements run
// on a connection borrowed inside Db::read/write, one thread at a time.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>

#include "microscape/controller/db.hpp"
#include "microscape/core/pop.hpp"
#include "store/rollups.hpp"
#include "store/sql_stmt.hpp"

namespace microscape::controller::evidence {

// A player as the ingest needs it: its identity key, state, enrolment and place.
struct PlayerRow {
    std::string identityKeyPem;
    std::string state;
    std::int64_t enrolledAtMs = 0;
    std::int64_t locationId = 0;  // 0: none
    std::string zone;             // its location's, else Asia/Shanghai
};

// The statements one ingest commit runs for each batch and record, prepared
// once on its connection (destroyed before the connection is given back).
class IngestStatements {
  public:
    explicit IngestStatements(DbConn& db);
    std::optional<PlayerRow> player(const std::string& playerId);
    // One record exactly as signed (line), with its hash.
    void insertRecord(const std::string& playerId, const pop::Record& r, std::string_view hash, std::string_view line,
                      std::int64_t receivedAtMs);
    // Many records of one player, in order. On PostgreSQL several rows go in one
    // INSERT (a round trip each record cost more than the insert itself); on
    // SQLite one prepared insert per record is already the fastest.
    struct RecordRow {
        const pop::Record* record = nullptr;
        std::string_view hash, line;
    };
    void insertRecords(const std::string& playerId, std::span<const RecordRow> rows, std::int64_t receivedAtMs);
    // A checkpoint as sent; a checkpoint stored before is kept.
    void insertCheckpoint(const std::string& playerId, std::int64_t lastSeq, std::int64_t firstSeq,
                          std::string_view line, std::int64_t receivedAtMs);
    RollupStatements rollups;

  private:
    DbConn& db_;
    SqlStmt player_, insertRecord_, insertCheckpoint_;
};

// Each manifest compiled for the player above version afterVersion, oldest first.
void forEachManifestAfter(DbConn& c, const std::string& playerId, std::int64_t afterVersion,
                          const std::function<void(std::int64_t version, const std::string& manifest)>& f);

// Takes the player's row lock until the transaction ends (PostgreSQL: batches
// of one screen taken by several nodes are stored in order).
void lockPlayer(DbConn& c, const std::string& playerId);
// The last record of the player's stored chain: (seq, hash).
std::optional<std::pair<std::int64_t, std::string>> chainTip(DbConn& c, const std::string& playerId);
// The stored records' hashes with seq in [fromSeq, toSeq], by seq.
std::map<std::int64_t, std::string> storedHashes(DbConn& c, const std::string& playerId, std::int64_t fromSeq,
                                                 std::int64_t toSeq);

// The distinct batches kept whole among the player's problems since sinceMs
// (other than batchSha256): (how many, their bytes).
std::pair<std::int64_t, std::int64_t> wholeProblemBatches(DbConn& c, const std::string& playerId, std::int64_t sinceMs,
                                                          const std::string& batchSha256);

// Stores the problems of one batch (a problem stored before is kept).
class ProblemStatement {
  public:
    explicit ProblemStatement(DbConn& db);
    // batch: the bytes kept (whole or a prefix), none when not kept at all.
    void insert(const std::string& playerId, const std::string& code, std::int64_t seq, const std::string& message,
                const std::string& batchSha256, std::optional<std::string_view> batch, std::int64_t detectedAtMs,
                std::int64_t batchSizeBytes);

  private:
    SqlStmt st_;
};

}  // namespace microscape::controller::evidence
