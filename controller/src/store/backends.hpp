// The two backends of sql::Conn. Used by Database only; a connection is used
// by one thread at a time.
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include "store/sql.hpp"

namespace microscape::controller::sql {

struct SqliteSettings {
    int busyTimeoutMs = 5000;
    bool syncFull = true;
};
// Opens (creating, mode 0600) the SQLite file with WAL and foreign keys on.
// Throws Error.
std::unique_ptr<Conn> openSqlite(const std::filesystem::path& file, const SqliteSettings& settings);

// Connects with libpq (conninfo is a URI or key=value string; password may be
// empty). Sets the session to UTC, UTF-8 and a statement timeout. Throws Error.
std::unique_ptr<Conn> openPostgres(const std::string& conninfo, const std::string& password);

}  // namespace microscape::controller::sql
