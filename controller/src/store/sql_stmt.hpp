// SqlStmt: a prepared statement on a borrowed connection with 1-based
// parameters, which the store's functions step through row by row.
// Thread-safety: that of the connection (one thread at a time).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "microscape/controller/db.hpp"

namespace microscape::controller {

// A prepared statement on a borrowed connection (either backend), with
// 1-based parameters; throws sql::Error (ConstraintError for a refused write).
class SqlStmt {
  public:
    SqlStmt(DbConn& c, std::string_view sql) : st_(c.raw().prepare(sql)) {}
    SqlStmt(const SqlStmt&) = delete;
    SqlStmt& operator=(const SqlStmt&) = delete;

    SqlStmt& bind(int i, std::int64_t v) {
        st_->bind(static_cast<std::size_t>(i - 1), v);
        return *this;
    }
    SqlStmt& bind(int i, std::string_view v) {
        st_->bind(static_cast<std::size_t>(i - 1), std::string(v));
        return *this;
    }
    SqlStmt& bindRef(int i, std::string_view v) { return bind(i, v); }
    SqlStmt& bindBlob(int i, std::string_view v) {
        st_->bind(static_cast<std::size_t>(i - 1), sql::Blob{std::string(v)});
        return *this;
    }
    bool step() { return st_->step(); }  // true: a row is available
    void run() { st_->run(); }           // steps to the end, then resets
    void reset() { st_->reset(); }
    std::int64_t i64(int col) const { return st_->i64(static_cast<std::size_t>(col)); }
    std::string str(int col) const { return st_->str(static_cast<std::size_t>(col)); }
    bool isNull(int col) const { return st_->isNull(static_cast<std::size_t>(col)); }
    int columns() const { return static_cast<int>(st_->columns()); }
    std::string name(int col) const { return st_->columnName(static_cast<std::size_t>(col)); }
    bool isText(int col) const { return st_->isText(static_cast<std::size_t>(col)); }

  private:
    std::unique_ptr<sql::Stmt> st_;
};

}  // namespace microscape::controller
