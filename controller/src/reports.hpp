// Proof-of-play reports (/api/v1/reports/..., docs/reports.md) served from the
// rollups, and the auditor's evidence export (/api/v1/audit/export). Handlers run
// on the HTTP worker threads and only read through Db.
#pragma once

#include <Poco/JSON/Object.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "microscape/controller/db.hpp"

namespace microscape::controller {

class Router;

void addReportRoutes(Router& r);

// The table GET /api/v1/reports/plays answers (docs/reports.md): column names,
// and rows of values (integers kept as integers).
struct ReportTable {
    std::vector<std::string> columns;
    std::vector<std::vector<DbValue>> rows;
};
struct PlaysQuery {
    std::int64_t fromDay = 0, toDay = 0;  // local dates, days since 1970-01-01, inclusive
    std::vector<std::string> by;          // dimensions in column order; empty: location, day, media
    std::vector<std::string> players;     // only these screens (empty: all)
    std::optional<std::string> campaign;  // "cmp-N" or "N"
    std::optional<std::string> location;  // a location id
};
// The plays report from the rollups, as the route serves it. Throws HttpError
// (400) for an unknown dimension or one that cannot be combined with another.
ReportTable playsTable(Db& db, const PlaysQuery& q);

// A player's proof-of-play state for GET /players/{id}: {"lastSeq", "records",
// "problems", "lastProblem": {"code", "seq", "atMs"} | null}. Problems flag the screen.
Poco::JSON::Object::Ptr popSummaryJson(DbConn& c, const std::string& playerId);

// CSV as Excel and WPS open it with Chinese text: UTF-8 with a BOM, CRLF line
// ends, fields quoted when they hold a comma, quote or line break.
std::string toCsv(const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows);

}  // namespace microscape::controller
