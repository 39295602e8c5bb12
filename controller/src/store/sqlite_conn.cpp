// sql::Conn over SQLite's C API. Statements are prepared once per connection
// (SQLITE_PREPARE_PERSISTENT) and kept by their text; a statement in use is
// not shared, so a query may run inside the loop over another one's rows.
#include <sqlite3.h>

#include <map>

#include "microscape/pack/file_io.hpp"
#include "store/backends.hpp"

namespace microscape::controller::sql {
namespace {

[[noreturn]] void fail(sqlite3* db, int rc, std::string_view what) {
    const int primary = rc & 0xff;
    std::string msg = std::string(what) + ": " + (db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
    if (primary == SQLITE_CONSTRAINT) throw ConstraintError(msg);
    if (primary == SQLITE_BUSY || primary == SQLITE_LOCKED) throw RetryableError(msg);
    throw Error(msg);
}

class SqliteConn;

class SqliteStmt final : public Stmt {
  public:
    SqliteStmt(SqliteConn& conn, std::string sql, sqlite3_stmt* st) : conn_(conn), sql_(std::move(sql)), st_(st) {}
    ~SqliteStmt() override;

    Stmt& bind(std::size_t index, const Value& v) override {
        const int i = static_cast<int>(index) + 1;
        int rc = SQLITE_OK;
        if (auto p = std::get_if<std::int64_t>(&v))
            rc = sqlite3_bind_int64(st_, i, *p);
        else if (auto s = std::get_if<std::string>(&v))
            rc = sqlite3_bind_text64(st_, i, s->data(), s->size(), SQLITE_TRANSIENT, SQLITE_UTF8);
        else if (auto b = std::get_if<Blob>(&v))
            rc = sqlite3_bind_blob64(st_, i, b->bytes.data(), b->bytes.size(), SQLITE_TRANSIENT);
        else
            rc = sqlite3_bind_null(st_, i);
        if (rc != SQLITE_OK) fail(sqlite3_db_handle(st_), rc, "binding a parameter");
        return *this;
    }

    bool step() override;

    void reset() override {
        sqlite3_reset(st_);
        sqlite3_clear_bindings(st_);
    }
    std::size_t columns() const override { return static_cast<std::size_t>(sqlite3_column_count(st_)); }
    std::string columnName(std::size_t col) const override { return sqlite3_column_name(st_, static_cast<int>(col)); }
    bool isNull(std::size_t col) const override {
        return sqlite3_column_type(st_, static_cast<int>(col)) == SQLITE_NULL;
    }
    bool isText(std::size_t col) const override {
        return sqlite3_column_type(st_, static_cast<int>(col)) == SQLITE_TEXT;
    }
    std::int64_t i64(std::size_t col) const override { return sqlite3_column_int64(st_, static_cast<int>(col)); }
    std::string str(std::size_t col) const override {
        const int c = static_cast<int>(col);
        const void* p = sqlite3_column_blob(st_, c);  // text or bytes, as stored
        const int n = sqlite3_column_bytes(st_, c);
        return p ? std::string(static_cast<const char*>(p), static_cast<std::size_t>(n)) : std::string();
    }

  private:
    SqliteConn& conn_;
    std::string sql_;
    sqlite3_stmt* st_;
};

class SqliteConn final : public Conn {
  public:
    explicit SqliteConn(sqlite3* db) : db_(db) {}
    ~SqliteConn() override {
        for (auto& [sql, list] : idle_)
            for (auto* st : list) sqlite3_finalize(st);
        sqlite3_close_v2(db_);
    }

    Backend backend() const override { return Backend::Sqlite; }

    std::unique_ptr<Stmt> prepare(std::string_view sql) override {
        std::string key(sql);
        if (auto it = idle_.find(key); it != idle_.end() && !it->second.empty()) {
            sqlite3_stmt* st = it->second.back();
            it->second.pop_back();
            return std::make_unique<SqliteStmt>(*this, std::move(key), st);
        }
        sqlite3_stmt* st = nullptr;
        const int rc =
            sqlite3_prepare_v3(db_, key.data(), static_cast<int>(key.size()), SQLITE_PREPARE_PERSISTENT, &st, nullptr);
        if (rc != SQLITE_OK) fail(db_, rc, "preparing a statement");
        return std::make_unique<SqliteStmt>(*this, std::move(key), st);
    }

    void giveBack(std::string sql, sqlite3_stmt* st) {
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
        idle_[std::move(sql)].push_back(st);
    }

    void execScript(std::string_view sql) override {
        char* err = nullptr;
        const std::string text(sql);
        const int rc = sqlite3_exec(db_, text.c_str(), nullptr, nullptr, &err);
        if (rc != SQLITE_OK) {
            std::string msg = err ? err : sqlite3_errstr(rc);
            sqlite3_free(err);
            if ((rc & 0xff) == SQLITE_CONSTRAINT) throw ConstraintError(msg);
            throw Error(msg);
        }
    }

    std::int64_t changes() const override { return sqlite3_changes64(db_); }

    void begin() override { execScript("BEGIN IMMEDIATE"); }
    void commit() override { execScript("COMMIT"); }
    void rollback() noexcept override {
        // The transaction may already be gone (SQLite rolls back on some errors).
        if (!sqlite3_get_autocommit(db_)) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    }

    sqlite3* handle() { return db_; }

  private:
    sqlite3* db_;
    std::map<std::string, std::vector<sqlite3_stmt*>, std::less<>> idle_;
};

SqliteStmt::~SqliteStmt() {
    conn_.giveBack(std::move(sql_), st_);
}

bool SqliteStmt::step() {
    const int rc = sqlite3_step(st_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    sqlite3* db = sqlite3_db_handle(st_);
    const std::string msg = sqlite3_errmsg(db);
    sqlite3_reset(st_);
    const int primary = rc & 0xff;
    if (primary == SQLITE_CONSTRAINT) throw ConstraintError(msg);
    if (primary == SQLITE_BUSY || primary == SQLITE_LOCKED) throw RetryableError(msg);
    throw Error(msg);
}

}  // namespace

std::unique_ptr<Conn> openSqlite(const std::filesystem::path& file, const SqliteSettings& settings) {
    // 0600 before SQLite creates it, so that its -wal and -shm files get 0600 too.
    if (auto st = pack::restrictSqliteFiles(file.string()); !st) throw Error(st.error().message);
    sqlite3* db = nullptr;
    const int rc =
        sqlite3_open_v2(file.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
    if (rc != SQLITE_OK) {
        std::string msg = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
        sqlite3_close_v2(db);
        throw Error("opening " + file.string() + ": " + msg);
    }
    auto conn = std::make_unique<SqliteConn>(db);
    sqlite3_busy_timeout(db, settings.busyTimeoutMs);
    sqlite3_extended_result_codes(db, 1);
    conn->query("PRAGMA journal_mode=WAL");
    conn->execScript("PRAGMA foreign_keys=ON");
    // FULL: a commit is on disk before it returns (one fsync per transaction in WAL mode).
    conn->execScript(settings.syncFull ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL");
    return conn;
}

}  // namespace microscape::controller::sql
