// The controller's database handle: one Poco::Data session (SQLite by default),
// forward-only schema migrations, and transactions. Every access goes through
// read() or write(), which serialise on one mutex, so the handle may be shared by
// all HTTP worker threads. SQL lives only in the repository layer (store.cpp) and
// in migrations.cpp; nothing else sees a Db.
#pragma once

#include <Poco/Data/Session.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace microscape::controller {

using DbValue = std::variant<std::nullptr_t, std::int64_t, std::string>;
using DbParams = std::vector<DbValue>;

// One result row. Column access by index, in SELECT order.
class DbRow {
  public:
    explicit DbRow(std::vector<DbValue> cols) : cols_(std::move(cols)) {}
    bool isNull(std::size_t i) const { return std::holds_alternative<std::nullptr_t>(cols_.at(i)); }
    std::int64_t i64(std::size_t i) const;  // NULL reads as 0
    std::string str(std::size_t i) const;   // NULL reads as ""
    std::optional<std::int64_t> optI64(std::size_t i) const;
    std::optional<std::string> optStr(std::size_t i) const;
    std::size_t size() const { return cols_.size(); }

  private:
    std::vector<DbValue> cols_;
};

// A connection borrowed inside Db::read/write; never store it.
class DbConn {
  public:
    explicit DbConn(Poco::Data::Session& s) : session_(s) {}
    void exec(const std::string& sql, const DbParams& params = {});
    std::vector<DbRow> query(const std::string& sql, const DbParams& params = {});
    std::optional<DbRow> one(const std::string& sql, const DbParams& params = {});
    std::int64_t lastInsertId();
    std::int64_t changes();  // rows changed by the last INSERT/UPDATE/DELETE
    // The underlying session, for code that needs the raw SQLite handle (bulk
    // proof-of-play ingest); valid only inside the read/write call.
    Poco::Data::Session& session() { return session_; }

  private:
    Poco::Data::Session& session_;
};

// Thrown when a UNIQUE / FOREIGN KEY / CHECK constraint rejects a write.
struct ConstraintError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

class Db {
  public:
    // Opens (creating if needed) the SQLite database with WAL and foreign keys on,
    // then applies pending migrations. Throws on failure (start-up only).
    explicit Db(const std::filesystem::path& file);
    ~Db();
    Db(const Db&) = delete;
    Db& operator=(const Db&) = delete;

    // Runs f inside a transaction; commits if f returns, rolls back if it throws.
    template <class F>
    auto write(F&& f) {
        std::lock_guard lock(mutex_);
        begin();
        try {
            DbConn c(*session_);
            if constexpr (std::is_void_v<decltype(f(c))>) {
                f(c);
                commit();
            } else {
                auto r = f(c);
                commit();
                return r;
            }
        } catch (...) {
            rollback();
            throw;
        }
    }

    template <class F>
    auto read(F&& f) {
        std::lock_guard lock(mutex_);
        DbConn c(*session_);
        return f(c);
    }

    int schemaVersion();

  private:
    void begin();
    void commit();
    void rollback();
    void migrate();

    std::mutex mutex_;  // guards session_
    std::unique_ptr<Poco::Data::Session> session_;
};

}  // namespace microscape::controller
