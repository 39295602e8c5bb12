// Proof-of-play reports (/api/v1/reports/..., docs/reports.md) served from the
// rollups, and the auditor's evidence export (/api/v1/audit/export). Handlers run
// on the HTTP worker threads and only read through Db.
#pragma once

#include <Poco/JSON/Object.h>

#include <string>
#include <vector>

namespace microscape::controller {

class Router;
class DbConn;

void addReportRoutes(Router& r);

// A player's proof-of-play state for GET /players/{id}: {"lastSeq", "records",
// "problems", "lastProblem": {"code", "seq", "atMs"} | null}. Problems flag the screen.
Poco::JSON::Object::Ptr popSummaryJson(DbConn& c, const std::string& playerId);

// CSV as Excel and WPS open it with Chinese text: UTF-8 with a BOM, CRLF line
// ends, fields quoted when they hold a comma, quote or line break.
std::string toCsv(const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows);

}  // namespace microscape::controller
