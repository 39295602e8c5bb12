// The controller's one way of speaking SQL, over either backend: SQLite
// (embedded, the default) or PostgreSQL 15 (several controller nodes on one
// database). Statements are written once, with '?' placeholders, in the subset
// of SQL both engines accept (docs/store.md lists it: RETURNING instead of
// last-insert ids, ON CONFLICT instead of INSERT OR IGNORE, no date functions);
// each backend turns them into its own form.
//
// Thread-safety: a Conn and its Stmts are used by one thread at a time; they
// are borrowed from a Database inside read()/write() and never kept. A
// Database may be shared by all threads.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace microscape::controller::sql {

enum class Backend { Sqlite, Postgres };
std::string_view backendName(Backend b);

// Bytes stored as a BLOB (SQLite) or bytea (PostgreSQL); a std::string binds as text.
struct Blob {
    std::string bytes;
};
using Value = std::variant<std::nullptr_t, std::int64_t, std::string, Blob>;
using Params = std::vector<Value>;

// One result row, columns by index in SELECT order.
class Row {
  public:
    explicit Row(std::vector<Value> cols) : cols_(std::move(cols)) {}
    bool isNull(std::size_t i) const { return std::holds_alternative<std::nullptr_t>(cols_.at(i)); }
    std::int64_t i64(std::size_t i) const;  // NULL reads as 0; text is parsed
    std::string str(std::size_t i) const;   // NULL reads as ""
    std::optional<std::int64_t> optI64(std::size_t i) const;
    std::optional<std::string> optStr(std::size_t i) const;
    std::size_t size() const { return cols_.size(); }
    const Value& value(std::size_t i) const { return cols_.at(i); }

  private:
    std::vector<Value> cols_;
};

// Any failure of the database; what() carries the engine's message.
struct Error : std::runtime_error {
    Error(const std::string& message, std::string sqlstate = {})
        : std::runtime_error(message), sqlState(std::move(sqlstate)) {}
    std::string sqlState;  // PostgreSQL's SQLSTATE; "" for SQLite
};
// A UNIQUE, FOREIGN KEY, NOT NULL or CHECK constraint refused a write.
struct ConstraintError : Error {
    using Error::Error;
};
// The transaction lost a race with another one (PostgreSQL serialization
// failure or deadlock; SQLite busy past its timeout): Database::write runs it again.
struct RetryableError : Error {
    using Error::Error;
};

// A prepared statement. step() runs it (the first time after binding) and
// moves to the next row; reset() makes it ready to bind and run again. Rows
// stream from the engine one at a time; another statement may run on the same
// connection between two rows (docs/store.md, "One SQL layer").
class Stmt {
  public:
    virtual ~Stmt() = default;
    virtual Stmt& bind(std::size_t index, const Value& v) = 0;  // 0-based
    Stmt& bindAll(const Params& params);
    virtual bool step() = 0;  // true: a row is available
    virtual void reset() = 0;
    virtual std::size_t columns() const = 0;
    virtual std::string columnName(std::size_t col) const = 0;
    virtual bool isNull(std::size_t col) const = 0;
    // The column holds text (not a number, bytes or NULL) in the current row.
    virtual bool isText(std::size_t col) const = 0;
    virtual std::int64_t i64(std::size_t col) const = 0;  // NULL: 0
    virtual std::string str(std::size_t col) const = 0;   // NULL: ""; a BLOB/bytea column: its bytes
    // Steps to the end, then resets.
    void run();
    // The current row as values (integers stay integers only where the engine says so).
    Row row() const;
};

class Conn {
  public:
    virtual ~Conn() = default;
    virtual Backend backend() const = 0;
    // A statement for sql ('?' placeholders); prepared once per connection and reused.
    virtual std::unique_ptr<Stmt> prepare(std::string_view sql) = 0;
    // Several statements without parameters (schema migrations).
    virtual void execScript(std::string_view sql) = 0;
    // Rows changed by the last INSERT, UPDATE or DELETE run on this connection.
    virtual std::int64_t changes() const = 0;
    // False once the connection to the server is lost (Database then drops it).
    virtual bool healthy() const { return true; }

    void exec(std::string_view sql, const Params& params = {});
    std::vector<Row> query(std::string_view sql, const Params& params = {});
    std::optional<Row> one(std::string_view sql, const Params& params = {});

    // Transactions, used by Database (nothing else begins or ends one).
    virtual void begin() = 0;
    virtual void commit() = 0;
    virtual void rollback() noexcept = 0;
};

// '?' placeholders to PostgreSQL's $1, $2, ... outside string literals,
// quoted identifiers and comments. Returns the parameter count in *count.
std::string toDollarPlaceholders(std::string_view sql, std::size_t* count = nullptr);

}  // namespace microscape::controller::sql
