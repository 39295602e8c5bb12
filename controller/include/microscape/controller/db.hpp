// The controller's database handle over the store's SQL layer
// (controller/src/store/, which also holds every statement: repo.hpp's
// functions and the store's own headers): an embedded SQLite file by default,
// or PostgreSQL shared by several controller nodes (store.url). Forward-only
// schema migrations for each backend run when it opens (store/db.cpp). Every
// access goes through read() or write() (one transaction, run again if it
// loses a race with another node); the handle may be shared by all threads.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "store/database.hpp"
#include "store/sql.hpp"

namespace microscape::controller {

using DbValue = sql::Value;
using DbParams = sql::Params;
using DbRow = sql::Row;
using ConstraintError = sql::ConstraintError;
// Thrown inside Db::write when a guarded UPDATE finds that another transaction
// changed the row since it was read: the whole transaction runs again and
// decides on what is committed now (PostgreSQL; SQLite has one writer).
using RetryableError = sql::RetryableError;

// A connection borrowed inside Db::read/write; never store it.
class DbConn {
  public:
    explicit DbConn(sql::Conn& c) : conn_(c) {}
    void exec(std::string_view sql, const DbParams& params = {}) { conn_.exec(sql, params); }
    std::vector<DbRow> query(std::string_view sql, const DbParams& params = {}) { return conn_.query(sql, params); }
    std::optional<DbRow> one(std::string_view sql, const DbParams& params = {}) { return conn_.one(sql, params); }
    // The id of the row the last INSERT on this connection made.
    std::int64_t lastInsertId();
    std::int64_t changes() { return conn_.changes(); }
    sql::Backend backend() const { return conn_.backend(); }
    sql::Conn& raw() { return conn_; }

  private:
    sql::Conn& conn_;
};

class Db {
  public:
    // Opens (creating if needed) the SQLite database file, then migrates.
    explicit Db(const std::filesystem::path& file);
    // Opens the store at url (parsed by sql::parseStoreUrl), then migrates.
    // Throws on failure (start-up only), with the reason.
    explicit Db(const sql::StoreUrl& url, const sql::DatabaseOptions& options = {});
    ~Db();
    Db(const Db&) = delete;
    Db& operator=(const Db&) = delete;

    // f(DbConn&) inside a transaction: committed if f returns, rolled back if
    // it throws; run again when it loses a race (so f touches nothing but c).
    template <class F>
    auto write(F&& f) {
        return database_->write([&](sql::Conn& raw) {
            DbConn c(raw);
            return f(c);
        });
    }

    template <class F>
    auto read(F&& f) {
        return database_->read([&](sql::Conn& raw) {
            DbConn c(raw);
            return f(c);
        });
    }

    int schemaVersion();
    sql::Backend backend() const { return database_->backend(); }
    const sql::StoreUrl& url() const { return url_; }
    sql::Database& database() { return *database_; }

  private:
    void migrate();

    sql::StoreUrl url_;
    std::unique_ptr<sql::Database> database_;
};

}  // namespace microscape::controller
