#include "microscape/player/journal.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <cstdlib>

#include "microscape/pack/file_io.hpp"

namespace microscape::player {

namespace {

struct StmtFree {
    void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
};
using Stmt = std::unique_ptr<sqlite3_stmt, StmtFree>;

Error dbError(sqlite3* db, const std::string& what) {
    return makeError(Errc::Internal, "journal: " + what + ": " + sqlite3_errmsg(db));
}

Result<Stmt> prepare(sqlite3* db, const char* sql) {
    sqlite3_stmt* s = nullptr;
    if (sqlite3_prepare_v2(db, sql, -1, &s, nullptr) != SQLITE_OK) return dbError(db, sql);
    return Stmt(s);
}

std::string columnBytes(sqlite3_stmt* s, int i) {
    const auto* p = static_cast<const char*>(sqlite3_column_blob(s, i));
    return p ? std::string(p, static_cast<std::size_t>(sqlite3_column_bytes(s, i))) : std::string();
}

void bindText(sqlite3_stmt* s, int i, const std::string& v) {
    sqlite3_bind_text(s, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
}

}  // namespace

void Journal::DbClose::operator()(sqlite3* db) const {
    sqlite3_close_v2(db);
}

Journal::Journal(JournalConfig config) : config_(std::move(config)) {}
Journal::~Journal() = default;

Status Journal::exec(const char* sql) {
    char* err = nullptr;
    if (sqlite3_exec(db_.get(), sql, nullptr, nullptr, &err) != SQLITE_OK) {
        std::string msg = err ? err : "unknown error";
        sqlite3_free(err);
        return makeError(Errc::Internal, std::string("journal: ") + sql + ": " + msg);
    }
    return {};
}

Result<std::unique_ptr<Journal>> Journal::open(const JournalConfig& config) {
    if (config.playerId.empty()) return makeError(Errc::Usage, "journal: no player id");
    std::unique_ptr<Journal> j(new Journal(config));
    // 0600 before SQLite opens it; its -wal and -shm files then get 0600 too.
    MS_TRY(pack::restrictSqliteFiles(config.path));
    sqlite3* db = nullptr;
    int rc = sqlite3_open_v2(config.path.c_str(), &db,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, nullptr);
    j->db_.reset(db);
    if (rc != SQLITE_OK)
        return makeError(Errc::Io,
                         "journal: cannot open " + config.path + ": " + (db ? sqlite3_errmsg(db) : sqlite3_errstr(rc)));
    sqlite3_busy_timeout(db, config.busyTimeoutMs);
    MS_TRY(j->init());
    return j;
}

Status Journal::init() {
    std::lock_guard lock(mutex_);
    MS_TRY(exec("PRAGMA journal_mode=WAL"));
    // A record counts only once it is on disk: every commit is fsynced.
    MS_TRY(exec("PRAGMA synchronous=FULL"));
    MS_TRY(exec("CREATE TABLE IF NOT EXISTS pop_meta (k TEXT PRIMARY KEY, v TEXT NOT NULL)"));
    MS_TRY(
        exec("CREATE TABLE IF NOT EXISTS pop_records (seq INTEGER PRIMARY KEY, hash TEXT NOT NULL, "
             "body BLOB NOT NULL)"));
    sqlite3* db = db_.get();
    {
        auto s = prepare(db, "SELECT k, v FROM pop_meta");
        if (!s) return s.error();
        std::string player;
        lastHash_ = std::string(pop::kGenesisHash);
        int rc;
        while ((rc = sqlite3_step(s->get())) == SQLITE_ROW) {
            std::string k = columnBytes(s->get(), 0), v = columnBytes(s->get(), 1);
            if (k == "player")
                player = v;
            else if (k == "last_seq")
                lastSeq_ = std::atoll(v.c_str());
            else if (k == "last_hash")
                lastHash_ = v;
            else if (k == "acked_seq")
                ackedSeq_ = std::atoll(v.c_str());
            else if (k == "last_checkpoint")
                lastCheckpointHash_ = v;
            else if (k == "pending_checkpoint") {
                // Unreadable: forgotten, and the next batch gets a new checkpoint.
                if (auto c = pop::parseCheckpoint(v)) pending_ = std::move(*c);
            }
        }
        if (rc != SQLITE_DONE) return dbError(db, "reading pop_meta");
        if (player.empty()) {
            auto ins = prepare(db, "INSERT INTO pop_meta VALUES ('player', ?1)");
            if (!ins) return ins.error();
            bindText(ins->get(), 1, config_.playerId);
            if (sqlite3_step(ins->get()) != SQLITE_DONE) return dbError(db, "writing pop_meta");
        } else if (player != config_.playerId) {
            return makeError(Errc::Usage, "journal: " + config_.path + " belongs to player \"" + player + "\", not \"" +
                                              config_.playerId + "\"");
        }
    }
    {
        auto s = prepare(db, "SELECT COALESCE(MIN(seq), 0), COALESCE(SUM(LENGTH(body)), 0) FROM pop_records");
        if (!s) return s.error();
        if (sqlite3_step(s->get()) != SQLITE_ROW) return dbError(db, "reading pop_records");
        oldestSeq_ = sqlite3_column_int64(s->get(), 0);
        storedBytes_ = static_cast<std::uint64_t>(sqlite3_column_int64(s->get(), 1));
    }
    return {};
}

Result<pop::Record> Journal::append(pop::Record record) {
    std::lock_guard lock(mutex_);
    record.playerId = config_.playerId;
    record.seq = lastSeq_ + 1;
    record.prevHash = lastHash_;
    MS_TRY(pop::validate(record));
    std::string body = pop::canonicalBytes(record);
    std::string hash = crypto::sha256Hex(body);
    sqlite3* db = db_.get();

    MS_TRY(exec("BEGIN IMMEDIATE"));
    auto fail = [&](const char* what) -> Error {
        Error e = dbError(db, what);
        sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
        return e;
    };
    {
        auto s = prepare(db, "INSERT INTO pop_records (seq, hash, body) VALUES (?1, ?2, ?3)");
        if (!s) return fail("prepare insert");
        sqlite3_bind_int64(s->get(), 1, record.seq);
        bindText(s->get(), 2, hash);
        sqlite3_bind_blob(s->get(), 3, body.data(), static_cast<int>(body.size()), SQLITE_TRANSIENT);
        if (sqlite3_step(s->get()) != SQLITE_DONE) return fail("insert record");
    }
    {
        auto s = prepare(db, "INSERT OR REPLACE INTO pop_meta VALUES ('last_seq', ?1), ('last_hash', ?2)");
        if (!s) return fail("prepare meta");
        bindText(s->get(), 1, std::to_string(record.seq));
        bindText(s->get(), 2, hash);
        if (sqlite3_step(s->get()) != SQLITE_DONE) return fail("update meta");
    }
    if (sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr) != SQLITE_OK) return fail("commit");

    lastSeq_ = record.seq;
    lastHash_ = hash;
    if (oldestSeq_ == 0) oldestSeq_ = record.seq;
    storedBytes_ += body.size();
    if (storedBytes_ > config_.capBytes) (void)pruneLocked();  // best effort; status reports the cap
    return record;
}

Result<std::optional<pop::Batch>> Journal::nextBatch(std::size_t maxRecords, const crypto::PrivateKey& key,
                                                     std::int64_t nowUtcMs) {
    std::lock_guard lock(mutex_);
    if (ackedSeq_ >= lastSeq_) return std::optional<pop::Batch>();
    maxRecords = std::clamp<std::size_t>(maxRecords, 1, pop::kMaxBatchRecords);
    // The batch sent before and not acknowledged yet goes again exactly, with
    // its checkpoint: the controller stores one checkpoint per batch, so the
    // checkpoints it exports are contiguous and each names the one before.
    if (pending_ && pending_->firstSeq == ackedSeq_ + 1 && pending_->lastSeq <= lastSeq_ &&
        pending_->keyId == key.publicKey().id()) {
        auto again = recordsLocked(pending_->firstSeq, pending_->lastSeq);
        if (!again) return again.error();
        if (static_cast<std::int64_t>(again->size()) == pending_->count)
            return std::optional<pop::Batch>(pop::Batch{std::move(*again), *pending_});
    }
    auto s = prepare(db_.get(), "SELECT body FROM pop_records WHERE seq > ?1 ORDER BY seq LIMIT ?2");
    if (!s) return s.error();
    sqlite3_bind_int64(s->get(), 1, ackedSeq_);
    sqlite3_bind_int64(s->get(), 2, static_cast<sqlite3_int64>(maxRecords));
    pop::Batch b;
    int rc;
    while ((rc = sqlite3_step(s->get())) == SQLITE_ROW) {
        auto r = pop::parseRecord(columnBytes(s->get(), 0));
        if (!r) return makeError(Errc::Internal, "journal: stored record unreadable: " + r.error().message);
        b.records.push_back(std::move(*r));
    }
    if (rc != SQLITE_DONE) return dbError(db_.get(), "reading records");
    if (b.records.empty()) return makeError(Errc::Internal, "journal: unacknowledged records are missing");
    b.checkpoint = pop::makeCheckpoint(b.records, nowUtcMs, key, lastCheckpointHash_);
    // Durable before it leaves: a restart re-sends this checkpoint, and the
    // next one names it.
    const std::string cpBytes = pop::canonicalBytes(b.checkpoint);
    const std::string cpHash = crypto::sha256Hex(cpBytes);
    sqlite3* db = db_.get();
    MS_TRY(exec("BEGIN IMMEDIATE"));
    for (auto [k, v] : {std::pair{"pending_checkpoint", &cpBytes}, std::pair{"last_checkpoint", &cpHash}}) {
        auto st = prepare(db, "INSERT OR REPLACE INTO pop_meta VALUES (?1, ?2)");
        if (!st) {
            sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
            return st.error();
        }
        bindText(st->get(), 1, k);
        bindText(st->get(), 2, *v);
        if (sqlite3_step(st->get()) != SQLITE_DONE) {
            Error e = dbError(db, "writing the checkpoint");
            sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
            return e;
        }
    }
    if (sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr) != SQLITE_OK) {
        Error e = dbError(db, "committing the checkpoint");
        sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
        return e;
    }
    pending_ = b.checkpoint;
    lastCheckpointHash_ = cpHash;
    return std::optional<pop::Batch>(std::move(b));
}

Status Journal::acknowledge(std::int64_t seq) {
    std::lock_guard lock(mutex_);
    if (seq > lastSeq_)
        return makeError(Errc::Usage, "journal: ack for seq " + std::to_string(seq) + " beyond the last record " +
                                          std::to_string(lastSeq_));
    if (seq <= ackedSeq_) return {};
    auto s = prepare(db_.get(), "INSERT OR REPLACE INTO pop_meta VALUES ('acked_seq', ?1)");
    if (!s) return s.error();
    bindText(s->get(), 1, std::to_string(seq));
    if (sqlite3_step(s->get()) != SQLITE_DONE) return dbError(db_.get(), "writing acked_seq");
    ackedSeq_ = seq;
    if (storedBytes_ > config_.capBytes) MS_TRY(pruneLocked());
    return {};
}

// Drops the oldest acknowledged records until the stored bytes fit the cap.
Status Journal::pruneLocked() {
    sqlite3* db = db_.get();
    while (storedBytes_ > config_.capBytes && oldestSeq_ != 0 && oldestSeq_ <= ackedSeq_) {
        // Work out how far to delete: enough rows to get under the cap, in one transaction.
        auto s = prepare(db, "SELECT seq, LENGTH(body) FROM pop_records WHERE seq <= ?1 ORDER BY seq");
        if (!s) return s.error();
        sqlite3_bind_int64(s->get(), 1, ackedSeq_);
        std::uint64_t freed = 0;
        std::int64_t upTo = 0;
        while (storedBytes_ - freed > config_.capBytes && sqlite3_step(s->get()) == SQLITE_ROW) {
            upTo = sqlite3_column_int64(s->get(), 0);
            freed += static_cast<std::uint64_t>(sqlite3_column_int64(s->get(), 1));
        }
        s->reset();
        if (upTo == 0) break;
        auto d = prepare(db, "DELETE FROM pop_records WHERE seq <= ?1");
        if (!d) return d.error();
        sqlite3_bind_int64(d->get(), 1, upTo);
        if (sqlite3_step(d->get()) != SQLITE_DONE) return dbError(db, "deleting acknowledged records");
        storedBytes_ -= std::min(freed, storedBytes_);
        oldestSeq_ = upTo < lastSeq_ ? upTo + 1 : 0;
    }
    return {};
}

Result<std::vector<pop::Record>> Journal::records(std::int64_t fromSeq, std::int64_t toSeq) {
    std::lock_guard lock(mutex_);
    return recordsLocked(fromSeq, toSeq);
}

Result<std::vector<pop::Record>> Journal::recordsLocked(std::int64_t fromSeq, std::int64_t toSeq) {
    auto s = prepare(db_.get(), "SELECT body FROM pop_records WHERE seq >= ?1 AND seq <= ?2 ORDER BY seq");
    if (!s) return s.error();
    sqlite3_bind_int64(s->get(), 1, fromSeq);
    sqlite3_bind_int64(s->get(), 2, toSeq);
    std::vector<pop::Record> out;
    int rc;
    while ((rc = sqlite3_step(s->get())) == SQLITE_ROW) {
        auto r = pop::parseRecord(columnBytes(s->get(), 0));
        if (!r) return makeError(Errc::Internal, "journal: stored record unreadable: " + r.error().message);
        out.push_back(std::move(*r));
    }
    if (rc != SQLITE_DONE) return dbError(db_.get(), "reading records");
    return out;
}

JournalStatus Journal::statusLocked() const {
    JournalStatus st;
    st.lastSeq = lastSeq_;
    st.lastHash = lastHash_;
    st.ackedSeq = ackedSeq_;
    st.oldestSeq = oldestSeq_;
    st.unacked = lastSeq_ - ackedSeq_;
    st.storedBytes = storedBytes_;
    st.capBytes = config_.capBytes;
    st.capExceeded = storedBytes_ > config_.capBytes && (oldestSeq_ == 0 || oldestSeq_ > ackedSeq_);
    return st;
}

JournalStatus Journal::status() const {
    std::lock_guard lock(mutex_);
    return statusLocked();
}

// ---------------------------------------------------------------------------

std::optional<ClockWatch::Jump> ClockWatch::observe(std::int64_t wallMs, std::int64_t monoMs) {
    std::int64_t offset = wallMs - monoMs;
    if (!started_) {
        started_ = true;
        offsetMs_ = offset;
        return std::nullopt;
    }
    std::int64_t drift = offset - offsetMs_;
    if (std::llabs(drift) <= thresholdMs_) {
        offsetMs_ = offset;  // slow drift (NTP slewing) is followed without a report
        return std::nullopt;
    }
    Jump j{monoMs + offsetMs_, wallMs};
    offsetMs_ = offset;
    return j;
}

pop::Head signedHead(const Journal& journal, const std::string& playerId, const crypto::PrivateKey& identity,
                     std::int64_t nowMs) {
    const auto st = journal.status();
    pop::Head h;
    h.playerId = playerId;
    h.seq = st.lastSeq;
    h.hash = st.lastSeq ? st.lastHash : std::string(pop::kGenesisHash);
    h.createdUtcMs = nowMs;
    pop::sign(h, identity);
    return h;
}

pop::Record clockJumpRecord(const ClockWatch::Jump& jump, std::int64_t bundleVersion) {
    pop::Record r;
    r.kind = pop::Kind::ClockJump;
    r.bundleVersion = bundleVersion;
    r.startUtcMs = std::max<std::int64_t>(0, jump.expectedWallMs);
    r.endUtcMs = std::max<std::int64_t>(0, jump.actualWallMs);
    r.detail = "wall clock moved " + std::to_string(jump.deltaMs()) + " ms against the monotonic clock";
    return r;
}

}  // namespace microscape::player
