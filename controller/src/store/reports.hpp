// The store's side of the reports (reports.cpp, docs/reports.md): the queries
// over the rollup tables and the scheduled days kept for ended days. Built
// here from named dimensions and filters; the handlers hold no SQL.
// Thread-safety: functions take a connection borrowed inside Db::read/write.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "microscape/controller/db.hpp"

namespace microscape::controller::reports {

// A table: column names, and rows of values (integers kept as integers for JSON).
struct Table {
    std::vector<std::string> columns;
    std::vector<std::vector<DbValue>> rows;
};

// A dimension of the plays report (media, playlist, campaign, theme, tag,
// department, location, venue_type, district, screen, day, hour).
struct Dimension {
    bool hourly = false;  // available from the hour rollup
    bool daily = true;    // available from the media rollup
};
const Dimension* dimension(const std::string& name);  // nullptr: unknown

// GET /api/v1/reports/plays: by known dimensions (hour only with hourly ones;
// campaign not with hour), local dates YYYY-MM-DD inclusive.
struct PlaysQuery {
    std::vector<std::string> by;
    std::string fromDate, toDate;
    std::vector<std::string> players;     // none: all
    std::optional<std::string> campaign;  // "cmp-N" or N
    std::optional<std::int64_t> locationId;
};
Table plays(DbConn& c, const PlaysQuery& q);
// Per screen and local day: hours with plays, on-screen time, coverage, last heartbeat, problems.
Table uptime(DbConn& c, const std::string& fromDate, const std::string& toDate);
// The newest problems (of one player, or all), at most limit.
Table problems(DbConn& c, const std::optional<std::string>& playerId, std::int64_t limit);

// --- scheduled against played -------------------------------------------------------------
struct DayPlays {
    std::int64_t completed = 0, interrupted = 0, failed = 0, onScreenMs = 0;
    std::int64_t degraded = 0;  // ran their slot but froze or lost frames: not completed
};
struct KeptDay {
    std::int64_t version = 0, slots = 0, slotMs = 0;
};
// Enrolled players' names, by id.
std::map<std::string, std::string> enrolledPlayerNames(DbConn& c);
// Plays per (player, local date) over [fromDate, toDate].
std::map<std::pair<std::string, std::string>, DayPlays> playsByScreenDay(DbConn& c, const std::string& fromDate,
                                                                         const std::string& toDate);
// Ended days evaluated before, per (player, local date), with their manifest's version.
std::map<std::pair<std::string, std::string>, KeptDay> keptScheduledDays(DbConn& c, const std::string& fromDate,
                                                                         const std::string& toDate);
void keepScheduledDays(DbConn& c, const std::vector<std::tuple<std::string, std::string, KeptDay>>& days);
// Every compiled manifest, by player and version: each(player, version, createdAtMs, bytes).
void forEachCompiledManifest(DbConn& c,
                             const std::function<void(const std::string& playerId, std::int64_t version,
                                                      std::int64_t createdAtMs, const std::string& manifest)>& each);

// --- the yearly report and campaign summaries ------------------------------------------------
// One group of the yearly report: the complete plays and on-screen time of the
// year's rollups under one key.
struct YearLine {
    std::string key, name;
    std::int64_t screens = 0, locations = 0, completed = 0, interrupted = 0, failed = 0, onScreenMs = 0;
    std::int64_t degraded = 0;
    std::int64_t plays() const { return completed + degraded + interrupted + failed; }
};
enum class YearGroup { Total, VenueType, Theme, Department, Month, Campaign };
// The groups over local dates [fromDate, toDate], most completed plays first.
std::vector<YearLine> yearGroups(DbConn& c, YearGroup group, const std::string& fromDate, const std::string& toDate);
// Campaigns running on any day of [fromDate, toDate].
std::int64_t campaignsOverlapping(DbConn& c, const std::string& fromDate, const std::string& toDate);
// Takeovers starting in [fromMs, toMs), and of them those a CAP alert started.
std::int64_t takeoversStarting(DbConn& c, std::int64_t fromMs, std::int64_t toMs);
std::int64_t alertTakeoversStarting(DbConn& c, std::int64_t fromMs, std::int64_t toMs);
// Recalls made in [fromMs, toMs): (all, completed).
std::pair<std::int64_t, std::int64_t> recallsMade(DbConn& c, std::int64_t fromMs, std::int64_t toMs);

// A campaign's name and theme ("" when none).
std::optional<std::pair<std::string, std::string>> campaignNameTheme(DbConn& c, std::int64_t id);
struct CampaignTotals {
    std::int64_t screens = 0, locations = 0, completed = 0, interrupted = 0, failed = 0, onScreenMs = 0;
    std::int64_t degraded = 0;
};
// A campaign's plays (key "cmp-N") over local dates [fromDate, toDate].
CampaignTotals campaignTotals(DbConn& c, const std::string& key, const std::string& fromDate,
                              const std::string& toDate);
enum class CampaignBreakdown { VenueType, Theme, Department };
struct CampaignGroup {
    std::string key;
    std::int64_t screens = 0, completed = 0, onScreenMs = 0;
};
std::vector<CampaignGroup> campaignBreakdown(DbConn& c, CampaignBreakdown by, const std::string& key,
                                             const std::string& fromDate, const std::string& toDate);

// --- a player's proof-of-play summary -------------------------------------------------------------
struct PopSummary {
    std::int64_t lastSeq = 0, records = 0, problems = 0;
    struct Problem {
        std::string code;
        std::int64_t seq = 0, atMs = 0;
    };
    std::optional<Problem> lastProblem;
};
PopSummary popSummary(DbConn& c, const std::string& playerId);

}  // namespace microscape::controller::reports
