// Moving a deployment from its embedded SQLite store into an empty PostgreSQL
// database (microscape-controller --copy-store-to URL): every row of every
// table, ids kept, evidence and audit log byte for byte, so that the evidence
// export of any period verifies and counts the same after the move. Runs with
// the controller stopped; single-threaded.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>

#include "microscape/controller/db.hpp"
#include "microscape/core/result.hpp"

namespace microscape::controller {

struct CopyReport {
    std::map<std::string, std::int64_t> rows;  // by table
    std::int64_t totalRows = 0;
};

// Copies from (SQLite, any version this program knows: migrated first) into to
// (PostgreSQL, migrated to the same version, holding no rows of its own but
// the schema's seeds). Tables go in foreign-key order, each in transactions of
// batchRows rows; identity sequences then continue after the copied ids.
// progress(table, rowsSoFar) is called after each transaction.
// Errors: Usage (the target is not PostgreSQL, not empty, or at another schema
// version), Internal (a database error, with its message; the target may hold a
// partial copy: drop and recreate it before trying again).
Result<CopyReport> copyStore(Db& from, Db& to, int batchRows = 5000,
                             const std::function<void(const std::string&, std::int64_t)>& progress = {});

}  // namespace microscape::controller
