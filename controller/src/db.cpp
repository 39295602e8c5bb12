#include "microscape/controller/db.hpp"

#include <Poco/Data/RecordSet.h>
#include <Poco/Data/SQLite/Connector.h>
#include <Poco/Data/SQLite/SQLiteException.h>
#include <Poco/Data/Statement.h>
#include <Poco/Logger.h>
#include <Poco/Nullable.h>

#include "microscape/controller/repo.hpp"
#include "microscape/pack/file_io.hpp"
#include "migrations.hpp"

namespace microscape::controller {

using Poco::Data::Keywords::bind;

std::int64_t DbRow::i64(std::size_t i) const {
    const auto& v = cols_.at(i);
    if (auto p = std::get_if<std::int64_t>(&v)) return *p;
    if (auto s = std::get_if<std::string>(&v)) return s->empty() ? 0 : std::stoll(*s);
    return 0;
}
std::string DbRow::str(std::size_t i) const {
    const auto& v = cols_.at(i);
    if (auto s = std::get_if<std::string>(&v)) return *s;
    if (auto p = std::get_if<std::int64_t>(&v)) return std::to_string(*p);
    return {};
}
std::optional<std::int64_t> DbRow::optI64(std::size_t i) const {
    if (isNull(i)) return std::nullopt;
    return i64(i);
}
std::optional<std::string> DbRow::optStr(std::size_t i) const {
    if (isNull(i)) return std::nullopt;
    return str(i);
}

namespace {

void bindAll(Poco::Data::Statement& st, const DbParams& params) {
    for (const auto& p : params) {
        if (auto i = std::get_if<std::int64_t>(&p))
            st.addBind(bind(static_cast<Poco::Int64>(*i)));
        else if (auto s = std::get_if<std::string>(&p))
            st.addBind(bind(*s));
        else
            st.addBind(bind(Poco::Nullable<std::string>()));
    }
}

template <class F>
auto translate(F&& f) {
    try {
        return f();
    } catch (const Poco::Data::SQLite::ConstraintViolationException& e) {
        throw ConstraintError(e.displayText());
    }
}

}  // namespace

void DbConn::exec(const std::string& sql, const DbParams& params) {
    translate([&] {
        Poco::Data::Statement st(session_);
        st << sql;
        bindAll(st, params);
        st.execute();
    });
}

std::vector<DbRow> DbConn::query(const std::string& sql, const DbParams& params) {
    return translate([&] {
        Poco::Data::Statement st(session_);
        st << sql;
        bindAll(st, params);
        st.execute();
        Poco::Data::RecordSet rs(st);
        std::vector<DbRow> rows;
        const std::size_t ncols = rs.columnCount();
        const std::size_t nrows = rs.rowCount();
        rows.reserve(nrows);
        for (std::size_t r = 0; r < nrows; ++r) {
            std::vector<DbValue> cols;
            cols.reserve(ncols);
            for (std::size_t c = 0; c < ncols; ++c) {
                if (rs.isNull(c, r)) {
                    cols.emplace_back(nullptr);
                    continue;
                }
                Poco::Dynamic::Var v = rs.value(c, r);
                if (v.isEmpty())
                    cols.emplace_back(nullptr);
                else if (v.isInteger())
                    cols.emplace_back(static_cast<std::int64_t>(v.convert<Poco::Int64>()));
                else
                    cols.emplace_back(v.convert<std::string>());
            }
            rows.emplace_back(std::move(cols));
        }
        return rows;
    });
}

std::optional<DbRow> DbConn::one(const std::string& sql, const DbParams& params) {
    auto rows = query(sql, params);
    if (rows.empty()) return std::nullopt;
    return std::move(rows.front());
}

std::int64_t DbConn::lastInsertId() {
    return one("SELECT last_insert_rowid()")->i64(0);
}
std::int64_t DbConn::changes() {
    return one("SELECT changes()")->i64(0);
}

Db::Db(const std::filesystem::path& file) {
    // 0600 before SQLite creates it, so that its -wal and -shm files get 0600 too.
    if (auto st = pack::restrictSqliteFiles(file.string()); !st) throw std::runtime_error(st.error().message);
    Poco::Data::SQLite::Connector::registerConnector();
    session_ = std::make_unique<Poco::Data::Session>("SQLite", file.string());
    DbConn c(*session_);
    c.query("PRAGMA journal_mode=WAL");
    c.exec("PRAGMA foreign_keys=ON");
    // FULL: a commit is on disk before it returns, so what the controller
    // acknowledges (PROOFS_ACK, after which a player deletes its records) survives
    // a power cut. In WAL mode this is one fsync per transaction (~0.15 ms here);
    // ingest commits a whole batch per transaction (docs/proof-of-play.md).
    c.exec("PRAGMA synchronous=FULL");
    c.exec("PRAGMA busy_timeout=5000");
    migrate();
}

Db::~Db() = default;

void Db::begin() {
    session_->begin();
}
void Db::commit() {
    session_->commit();
}
void Db::rollback() {
    try {
        session_->rollback();
    } catch (...) {
        // The transaction may already be gone (SQLite rolls back on some errors).
    }
}

int Db::schemaVersion() {
    return read([](DbConn& c) { return static_cast<int>(c.one("SELECT MAX(version) FROM schema_version")->i64(0)); });
}

void Db::migrate() {
    std::lock_guard lock(mutex_);
    DbConn c(*session_);
    c.exec("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)");
    auto row = c.one("SELECT MAX(version) FROM schema_version");
    int current = row && !row->isNull(0) ? static_cast<int>(row->i64(0)) : 0;
    const auto& migrations = schemaMigrations();
    if (current > static_cast<int>(migrations.size()))
        throw std::runtime_error("database schema version " + std::to_string(current) +
                                 " is newer than this program knows (" + std::to_string(migrations.size()) + ")");
    // Migrations run with foreign keys off (SQLite's procedure for rebuilding a
    // table: with them on, DROP TABLE would cascade into the rows that refer to it,
    // and the pragma cannot change inside a transaction); each one's references are
    // checked before it commits.
    if (current < static_cast<int>(migrations.size())) c.exec("PRAGMA foreign_keys=OFF");
    for (int v = current + 1; v <= static_cast<int>(migrations.size()); ++v) {
        begin();
        try {
            for (const auto& sql : migrations[v - 1]) c.exec(sql);
            if (!c.query("PRAGMA foreign_key_check").empty())
                throw std::runtime_error("schema migration " + std::to_string(v) + " broke a foreign key");
            c.exec("INSERT INTO schema_version(version, applied_at) VALUES (?, strftime('%s','now') * 1000)",
                   {std::int64_t(v)});
            commit();
        } catch (...) {
            rollback();
            c.exec("PRAGMA foreign_keys=ON");
            throw;
        }
    }
    c.exec("PRAGMA foreign_keys=ON");
    // Rows of the audit log from before it was hash-chained (migration 6).
    begin();
    try {
        if (auto n = repo::chainAuditLog(c); n > 0)
            Poco::Logger::get("controller.db").information("audit log: %Ld earlier rows hash-chained", n);
        commit();
    } catch (...) {
        rollback();
        throw;
    }
}

}  // namespace microscape::controller
