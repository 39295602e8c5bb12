// The store: proof-of-play records, checkpoints and problems as the ingest
// stores them (docs/reports.md).
#include "store/evidence.hpp"

namespace microscape::controller::evidence {

namespace {

constexpr const char* kRecordColumns =
    "INSERT INTO pop_records(player_id, seq, hash, kind, media, playlist, schedule, campaign, start_utc_ms, "
    "end_utc_ms, measured_ms, outcome, record, received_at, manifest, frames, frames_late, frames_dropped, "
    "longest_freeze_ms) VALUES ";
constexpr int kRecordParams = 19;
// Rows per multi-row INSERT: 256 x 19 parameters, far below PostgreSQL's 65535;
// a batch's remainder gets a statement of its own size (at most 255 more texts
// prepared per connection, each once).
constexpr std::size_t kRowsPerInsert = 256;

std::string multiRowInsert(std::size_t rows) {
    std::string tuple = "(";
    for (int i = 0; i < kRecordParams; ++i) tuple += i ? ",?" : "?";
    tuple += ')';
    std::string sql = kRecordColumns;
    for (std::size_t i = 0; i < rows; ++i) {
        if (i) sql += ',';
        sql += tuple;
    }
    return sql;
}

// Binds one record's columns at parameters base+1 .. base+kRecordParams.
void bindRecord(SqlStmt& st, int base, const std::string& playerId, const pop::Record& r, std::string_view hash,
                std::string_view line, std::int64_t receivedAtMs) {
    st.bindRef(base + 1, playerId)
        .bind(base + 2, r.seq)
        .bindRef(base + 3, hash)
        .bindRef(base + 4, pop::kindName(r.kind))
        .bindRef(base + 5, r.mediaSha256)
        .bindRef(base + 6, r.playlistId)
        .bindRef(base + 7, r.scheduleId)
        .bindRef(base + 8, r.campaignId)
        .bind(base + 9, r.startUtcMs)
        .bind(base + 10, r.endUtcMs)
        .bind(base + 11, r.measuredMs)
        .bindRef(base + 12, pop::outcomeName(r.outcome))
        .bindRef(base + 13, line)
        .bind(base + 14, receivedAtMs)
        .bindRef(base + 15, r.manifestSha256)
        .bind(base + 16, r.frames)
        .bind(base + 17, r.framesLate)
        .bind(base + 18, r.framesDropped)
        .bind(base + 19, r.longestFreezeMs);
}

}  // namespace

IngestStatements::IngestStatements(DbConn& db)
    : rollups(db),
      db_(db),
      player_(db,
              "SELECT p.identity_key, p.state, p.enrolled_at, COALESCE(p.location_id, 0), "
              "COALESCE(NULLIF(l.timezone, ''), 'Asia/Shanghai') FROM players p "
              "LEFT JOIN locations l ON l.id = p.location_id WHERE p.id = ?"),
      insertRecord_(db, multiRowInsert(1)),
      insertCheckpoint_(db,
                        "INSERT INTO pop_checkpoints(player_id, last_seq, first_seq, checkpoint, "
                        "received_at) VALUES (?,?,?,?,?) ON CONFLICT DO NOTHING") {}

std::optional<PlayerRow> IngestStatements::player(const std::string& playerId) {
    SqlStmt& st = player_;
    st.reset();
    st.bind(1, playerId);
    std::optional<PlayerRow> out;
    if (st.step()) out = PlayerRow{st.str(0), st.str(1), st.i64(2), st.i64(3), st.str(4)};
    st.reset();
    return out;
}

void IngestStatements::insertRecord(const std::string& playerId, const pop::Record& r, std::string_view hash,
                                    std::string_view line, std::int64_t receivedAtMs) {
    bindRecord(insertRecord_, 0, playerId, r, hash, line, receivedAtMs);
    insertRecord_.run();
}

void IngestStatements::insertRecords(const std::string& playerId, std::span<const RecordRow> rows,
                                     std::int64_t receivedAtMs) {
    if (db_.backend() != sql::Backend::Postgres) {
        for (const auto& row : rows) insertRecord(playerId, *row.record, row.hash, row.line, receivedAtMs);
        return;
    }
    for (std::size_t at = 0; at < rows.size(); at += kRowsPerInsert) {
        const std::size_t n = std::min(kRowsPerInsert, rows.size() - at);
        SqlStmt ins(db_, multiRowInsert(n));
        for (std::size_t k = 0; k < n; ++k) {
            const RecordRow& row = rows[at + k];
            bindRecord(ins, static_cast<int>(k) * kRecordParams, playerId, *row.record, row.hash, row.line,
                       receivedAtMs);
        }
        ins.run();
    }
}

void IngestStatements::insertCheckpoint(const std::string& playerId, std::int64_t lastSeq, std::int64_t firstSeq,
                                        std::string_view line, std::int64_t receivedAtMs) {
    SqlStmt& st = insertCheckpoint_;
    st.bindRef(1, playerId).bind(2, lastSeq).bind(3, firstSeq).bindRef(4, line).bind(5, receivedAtMs);
    st.run();
}

void forEachManifestAfter(DbConn& c, const std::string& playerId, std::int64_t afterVersion,
                          const std::function<void(std::int64_t, const std::string&)>& f) {
    SqlStmt st(c,
               "SELECT version, manifest FROM compiled_manifests WHERE player_id = ? AND version > ? "
               "ORDER BY version");
    st.bind(1, playerId).bind(2, afterVersion);
    while (st.step()) f(st.i64(0), st.str(1));
}

void lockPlayer(DbConn& c, const std::string& playerId) {
    c.exec("SELECT id FROM players WHERE id = ? FOR UPDATE", {playerId});
}

std::optional<std::pair<std::int64_t, std::string>> chainTip(DbConn& c, const std::string& playerId) {
    SqlStmt st(c, "SELECT seq, hash FROM pop_records WHERE player_id = ? ORDER BY seq DESC LIMIT 1");
    st.bind(1, playerId);
    if (st.step()) return std::make_pair(st.i64(0), st.str(1));
    return std::nullopt;
}

std::map<std::int64_t, std::string> storedHashes(DbConn& c, const std::string& playerId, std::int64_t fromSeq,
                                                 std::int64_t toSeq) {
    std::map<std::int64_t, std::string> stored;
    SqlStmt st(c, "SELECT seq, hash FROM pop_records WHERE player_id = ? AND seq BETWEEN ? AND ?");
    st.bind(1, playerId).bind(2, fromSeq).bind(3, toSeq);
    while (st.step()) stored.emplace(st.i64(0), st.str(1));
    return stored;
}

std::pair<std::int64_t, std::int64_t> wholeProblemBatches(DbConn& c, const std::string& playerId, std::int64_t sinceMs,
                                                          const std::string& batchSha256) {
    SqlStmt whole(c,
                  "SELECT COUNT(*), COALESCE(SUM(size), 0) FROM (SELECT MAX(batch_size) AS size "
                  "FROM pop_problems WHERE player_id = ? AND detected_at >= ? AND batch_sha256 <> ? "
                  "AND batch_size IS NOT NULL AND LENGTH(batch) = batch_size GROUP BY batch_sha256) AS kept");
    whole.bind(1, playerId).bind(2, sinceMs).bind(3, batchSha256);
    whole.step();
    return {whole.i64(0), whole.i64(1)};
}

ProblemStatement::ProblemStatement(DbConn& db)
    : st_(db,
          "INSERT INTO pop_problems(player_id, code, seq, message, batch_sha256, batch, "
          "detected_at, batch_size) VALUES (?,?,?,?,?,?,?,?) ON CONFLICT DO NOTHING") {}

void ProblemStatement::insert(const std::string& playerId, const std::string& code, std::int64_t seq,
                              const std::string& message, const std::string& batchSha256,
                              std::optional<std::string_view> batch, std::int64_t detectedAtMs,
                              std::int64_t batchSizeBytes) {
    SqlStmt& st = st_;
    st.bind(1, playerId).bind(2, code).bind(3, seq).bind(4, message).bind(5, batchSha256);
    if (batch) st.bindBlob(6, *batch);
    st.bind(7, detectedAtMs).bind(8, batchSizeBytes);
    st.run();
}

}  // namespace microscape::controller::evidence
