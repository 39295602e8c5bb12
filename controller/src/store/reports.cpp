// The store: the reports' queries over the rollup tables (docs/reports.md).
#include "store/reports.hpp"

#include <algorithm>

#include "store/sql_stmt.hpp"

namespace microscape::controller::reports {

namespace {

// Runs a report's statement: its column names, and each row's values (text as
// text, everything else as an integer).
Table runQuery(DbConn& c, const std::string& sql, const std::vector<DbValue>& params) {
    Table t;
    SqlStmt st(c, sql);
    for (std::size_t i = 0; i < params.size(); ++i) {
        const int n = static_cast<int>(i) + 1;
        if (auto v = std::get_if<std::int64_t>(&params[i]))
            st.bind(n, *v);
        else if (auto s = std::get_if<std::string>(&params[i]))
            st.bind(n, *s);
    }
    for (int i = 0; i < st.columns(); ++i) t.columns.push_back(st.name(i));
    while (st.step()) {
        std::vector<DbValue> row;
        for (int i = 0; i < st.columns(); ++i) {
            if (st.isText(i))
                row.emplace_back(st.str(i));
            else
                row.emplace_back(st.i64(i));
        }
        t.rows.push_back(std::move(row));
    }
    return t;
}

std::string placeholders(std::size_t n) {
    std::string s;
    for (std::size_t i = 0; i < n; ++i) s += i ? ",?" : "?";
    return s;
}

// " GROUP BY 1,2,… ORDER BY 1,2,…" over the first n columns.
std::string groupAndOrderBy(std::size_t n) {
    std::string group;
    for (std::size_t i = 1; i <= n; ++i) {
        if (i > 1) group += ',';
        group += std::to_string(i);
    }
    return " GROUP BY " + group + " ORDER BY " + group;
}

struct Dim {
    std::vector<std::string> select;  // "expr AS alias"
    std::vector<std::string> joins;   // names of joins needed, in order
    Dimension available;
};

// The media a play's file belongs to: the file itself, or the original a derived
// file (normalised still, rendition) was made from. The derived files are
// joined as one grouped table (one row per derived hash, so no play counts
// twice), not looked up per row: PostgreSQL ran a correlated subquery once for
// every row of the rollup.
constexpr const char* kMediaJoin =
    "LEFT JOIN (SELECT d.sha256 AS derived, MIN(o.sha256) AS original FROM media_derived d JOIN media o ON o.id = "
    "d.media_id WHERE d.sha256 <> '' GROUP BY d.sha256) dv ON dv.derived = r.media "
    "LEFT JOIN media m ON m.sha256 = COALESCE(dv.original, r.media)";

const std::map<std::string, Dim>& dims() {
    static const std::map<std::string, Dim> d = {
        {"media", {{"r.media AS media", "COALESCE(m.display_name, '') AS media_name"}, {"m"}, {false, true}}},
        {"playlist", {{"r.playlist AS playlist"}, {}, {false, true}}},
        {"campaign", {{"r.campaign AS campaign", "COALESCE(cg.name, '') AS campaign_name"}, {"cg"}, {false, true}}},
        {"theme", {{"COALESCE(cg.theme, '') AS theme"}, {"cg"}, {false, true}}},
        {"tag", {{"COALESCE(mt.tag, '') AS tag"}, {"m", "mt"}, {false, true}}},
        // 谁执法谁普法: the department (警种) that uploaded the media answers for it.
        {"department", {{"COALESCE(m.department, '') AS department"}, {"m"}, {false, true}}},
        {"location",
         {{"COALESCE(CAST(l.id AS TEXT), '') AS location_id", "COALESCE(l.name, '') AS location"},
          {"p", "l"},
          {true, true}}},
        {"venue_type", {{"COALESCE(l.venue_type, '') AS venue_type"}, {"p", "l"}, {true, true}}},
        {"district", {{"COALESCE(l.district, '') AS district"}, {"p", "l"}, {true, true}}},
        {"screen", {{"r.player_id AS screen", "COALESCE(p.name, '') AS screen_name"}, {"p"}, {true, true}}},
        {"day", {{"r.local_date AS day"}, {}, {true, true}}},
        {"hour", {{"r.hour AS hour"}, {}, {true, false}}},
    };
    return d;
}

const std::map<std::string, std::string>& joinSql() {
    static const std::map<std::string, std::string> j = {
        {"m", kMediaJoin},
        {"mt", "LEFT JOIN media_tags mt ON mt.media_id = m.id"},
        {"cg", "LEFT JOIN campaigns cg ON r.campaign = 'cmp-' || CAST(cg.id AS TEXT)"},
        {"p", "LEFT JOIN players p ON p.id = r.player_id"},
        {"l", "LEFT JOIN locations l ON l.id = p.location_id"},
    };
    return j;
}

}  // namespace

const Dimension* dimension(const std::string& name) {
    auto it = dims().find(name);
    return it == dims().end() ? nullptr : &it->second.available;
}

Table plays(DbConn& c, const PlaysQuery& q) {
    const auto& by = q.by;
    bool hourly = false;
    for (const auto& b : by)
        if (b == "hour") hourly = true;
    std::vector<std::string> select, joins;
    for (const auto& b : by) {
        const Dim& d = dims().at(b);
        for (const auto& s : d.select) select.push_back(s);
        for (const auto& j : d.joins)
            if (std::find(joins.begin(), joins.end(), j) == joins.end()) joins.push_back(j);
    }
    std::vector<DbValue> params{q.fromDate, q.toDate};
    std::string where = " WHERE r.local_date BETWEEN ? AND ?";
    const auto& players = q.players;
    // The auditor's table and its coarser cuts come from the location rollup,
    // which holds about as many rows as the report returns.
    bool byLocation = !hourly && players.empty() && !q.campaign;
    for (const auto& b : by)
        if (b != "location" && b != "venue_type" && b != "district" && b != "day" && b != "media") byLocation = false;
    if (byLocation) {
        if (q.locationId) {
            where += " AND r.location_id = ?";
            params.emplace_back(*q.locationId);
        }
        std::string sql = "SELECT ";
        for (const auto& s : select) sql += s + ", ";
        sql +=
            "SUM(r.completed) AS completed, SUM(r.degraded) AS degraded, SUM(r.interrupted) AS interrupted, "
            "SUM(r.failed) AS failed, SUM(r.completed + r.degraded + r.interrupted + r.failed) AS plays, "
            "SUM(r.on_screen_ms) AS on_screen_ms "
            "FROM pop_rollup_location r";
        if (std::find(joins.begin(), joins.end(), "m") != joins.end()) sql += " " + joinSql().at("m");
        if (std::find(joins.begin(), joins.end(), "l") != joins.end())
            sql += " LEFT JOIN locations l ON l.id = r.location_id";
        sql += where + groupAndOrderBy(select.size());
        return runQuery(c, sql, params);
    }
    if (!players.empty()) {
        where += " AND r.player_id IN (" + placeholders(players.size()) + ")";
        for (auto& p : players) params.emplace_back(p);
    }
    if (q.campaign) {
        const std::string& cmp = *q.campaign;
        where += " AND r.campaign = ?";
        params.emplace_back(cmp.rfind("cmp-", 0) == 0 ? cmp : "cmp-" + cmp);
    }
    if (q.locationId) {
        if (std::find(joins.begin(), joins.end(), "p") == joins.end()) joins.push_back("p");
        where += " AND p.location_id = ?";
        params.emplace_back(*q.locationId);
    }
    // Joins in dependency order.
    std::string joinText;
    for (const char* j : {"m", "mt", "cg", "p", "l"})
        if (std::find(joins.begin(), joins.end(), j) != joins.end()) joinText += " " + joinSql().at(j);
    std::string sql = "SELECT ";
    for (const auto& s : select) sql += s + ", ";
    sql +=
        "SUM(r.completed) AS completed, SUM(r.degraded) AS degraded, SUM(r.interrupted) AS interrupted, "
        "SUM(r.failed) AS failed, SUM(r.completed + r.degraded + r.interrupted + r.failed) AS plays, "
        "SUM(r.on_screen_ms) AS on_screen_ms FROM ";
    sql += hourly ? "pop_rollup_hour r" : "pop_rollup_media r";
    sql += joinText + where;
    sql += groupAndOrderBy(select.size());
    return runQuery(c, sql, params);
}

Table uptime(DbConn& c, const std::string& fromDate, const std::string& toDate) {
    return runQuery(c,
                    "SELECT p.id AS screen, p.name AS screen_name, h.local_date AS day, "
                    "COUNT(h.hour) AS hours_with_plays, COALESCE(SUM(h.on_screen_ms), 0) AS on_screen_ms, "
                    "CAST(COALESCE(SUM(h.on_screen_ms), 0) AS BIGINT) * 10000 / 86400000 AS coverage_basis_points, "
                    "COALESCE(p.last_seen_at, 0) AS last_seen_at_ms, "
                    "(SELECT COUNT(*) FROM pop_problems x WHERE x.player_id = p.id) AS problems "
                    "FROM players p JOIN pop_rollup_hour h ON h.player_id = p.id "
                    "WHERE h.local_date BETWEEN ? AND ? GROUP BY p.id, h.local_date ORDER BY p.id, h.local_date",
                    {fromDate, toDate});
}

Table problems(DbConn& c, const std::optional<std::string>& playerId, std::int64_t limit) {
    std::string sql =
        "SELECT id, player_id AS screen, code, seq, message, batch_sha256, detected_at AS detected_at_ms "
        "FROM pop_problems";
    std::vector<DbValue> params;
    if (playerId) {
        sql += " WHERE player_id = ?";
        params.emplace_back(*playerId);
    }
    sql += " ORDER BY id DESC LIMIT ?";
    params.emplace_back(limit);
    return runQuery(c, sql, params);
}

// --- scheduled against played -------------------------------------------------------------

std::map<std::string, std::string> enrolledPlayerNames(DbConn& c) {
    std::map<std::string, std::string> names;
    SqlStmt n(c, "SELECT id, name FROM players WHERE state = 'enrolled'");
    while (n.step()) names[n.str(0)] = n.str(1);
    return names;
}

std::map<std::pair<std::string, std::string>, DayPlays> playsByScreenDay(DbConn& c, const std::string& fromDate,
                                                                         const std::string& toDate) {
    std::map<std::pair<std::string, std::string>, DayPlays> played;
    SqlStmt p(c,
              "SELECT player_id, local_date, SUM(completed), SUM(interrupted), SUM(failed), SUM(on_screen_ms), "
              "SUM(degraded) FROM pop_rollup_hour WHERE local_date BETWEEN ? AND ? GROUP BY player_id, local_date");
    p.bind(1, fromDate).bind(2, toDate);
    while (p.step()) played[{p.str(0), p.str(1)}] = DayPlays{p.i64(2), p.i64(3), p.i64(4), p.i64(5), p.i64(6)};
    return played;
}

std::map<std::pair<std::string, std::string>, KeptDay> keptScheduledDays(DbConn& c, const std::string& fromDate,
                                                                         const std::string& toDate) {
    std::map<std::pair<std::string, std::string>, KeptDay> cached;
    SqlStmt k(c,
              "SELECT player_id, local_date, manifest_version, slots, slot_ms FROM scheduled_days "
              "WHERE local_date BETWEEN ? AND ?");
    k.bind(1, fromDate).bind(2, toDate);
    while (k.step()) cached[{k.str(0), k.str(1)}] = KeptDay{k.i64(2), k.i64(3), k.i64(4)};
    return cached;
}

void keepScheduledDays(DbConn& c, const std::vector<std::tuple<std::string, std::string, KeptDay>>& days) {
    SqlStmt ins(c,
                "INSERT INTO scheduled_days(player_id, local_date, manifest_version, slots, slot_ms) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (player_id, local_date) DO UPDATE SET "
                "manifest_version = excluded.manifest_version, slots = excluded.slots, slot_ms = excluded.slot_ms");
    for (const auto& [id, date, k] : days) {
        ins.bind(1, id).bind(2, date).bind(3, k.version).bind(4, k.slots).bind(5, k.slotMs);
        ins.run();
    }
}

void forEachCompiledManifest(
    DbConn& c, const std::function<void(const std::string&, std::int64_t, std::int64_t, const std::string&)>& each) {
    SqlStmt m(c,
              "SELECT player_id, version, created_at, manifest FROM compiled_manifests "
              "ORDER BY player_id, version");
    while (m.step()) each(m.str(0), m.i64(1), m.i64(2), m.str(3));
}

// --- the yearly report and campaign summaries ------------------------------------------------

std::vector<YearLine> yearGroups(DbConn& c, YearGroup group, const std::string& from, const std::string& to) {
    std::string keyExpr = "''", nameExpr = "''", joins;
    switch (group) {
        case YearGroup::Total:
            break;
        case YearGroup::VenueType:
            keyExpr = "COALESCE(l.venue_type, '')";
            break;
        case YearGroup::Theme:
            keyExpr = "COALESCE(mt.tag, '')";
            joins = std::string(kMediaJoin) + " LEFT JOIN media_tags mt ON mt.media_id = m.id";
            break;
        case YearGroup::Department:
            keyExpr = "COALESCE(m.department, '')";
            joins = kMediaJoin;
            break;
        case YearGroup::Month:
            keyExpr = "SUBSTR(r.local_date, 1, 7)";
            break;
        case YearGroup::Campaign:
            keyExpr = "r.campaign";
            nameExpr = "COALESCE(cg.name, '')";
            joins = "LEFT JOIN campaigns cg ON r.campaign = 'cmp-' || CAST(cg.id AS TEXT)";
            break;
    }
    SqlStmt st(c, "SELECT " + keyExpr + " AS k, " + nameExpr +
                      " AS n, COUNT(DISTINCT r.player_id), COUNT(DISTINCT p.location_id), "
                      "COALESCE(SUM(r.completed), 0), COALESCE(SUM(r.interrupted), 0), COALESCE(SUM(r.failed), 0), "
                      "COALESCE(SUM(r.on_screen_ms), 0), COALESCE(SUM(r.degraded), 0) FROM pop_rollup_media r "
                      "LEFT JOIN players p ON p.id = r.player_id LEFT JOIN locations l ON l.id = p.location_id " +
                      joins + " WHERE r.local_date BETWEEN ? AND ? GROUP BY k, n ORDER BY 5 DESC, k");
    st.bind(1, from).bind(2, to);
    std::vector<YearLine> out;
    while (st.step())
        out.push_back(
            {st.str(0), st.str(1), st.i64(2), st.i64(3), st.i64(4), st.i64(5), st.i64(6), st.i64(7), st.i64(8)});
    return out;
}

std::int64_t campaignsOverlapping(DbConn& c, const std::string& fromDate, const std::string& toDate) {
    SqlStmt cc(c, "SELECT COUNT(*) FROM campaigns WHERE starts_on <= ? AND ends_on >= ?");
    cc.bind(1, toDate).bind(2, fromDate);
    return cc.step() ? cc.i64(0) : 0;
}

std::int64_t takeoversStarting(DbConn& c, std::int64_t fromMs, std::int64_t toMs) {
    SqlStmt tk(c, "SELECT COUNT(*) FROM takeovers WHERE starts_at >= ? AND starts_at < ?");
    tk.bind(1, fromMs).bind(2, toMs);
    return tk.step() ? tk.i64(0) : 0;
}

std::int64_t alertTakeoversStarting(DbConn& c, std::int64_t fromMs, std::int64_t toMs) {
    // (an alert's Updates change its one takeover)
    SqlStmt ak(c,
               "SELECT COUNT(*) FROM takeovers t WHERE t.starts_at >= ? AND t.starts_at < ? "
               "AND EXISTS (SELECT 1 FROM alerts a WHERE a.takeover_id = t.id)");
    ak.bind(1, fromMs).bind(2, toMs);
    return ak.step() ? ak.i64(0) : 0;
}

std::pair<std::int64_t, std::int64_t> recallsMade(DbConn& c, std::int64_t fromMs, std::int64_t toMs) {
    // completed: every screen confirmed
    SqlStmt rc(c, "SELECT COUNT(*), COUNT(completed_at) FROM recalls WHERE recalled_at >= ? AND recalled_at < ?");
    rc.bind(1, fromMs).bind(2, toMs);
    if (rc.step()) return {rc.i64(0), rc.i64(1)};
    return {0, 0};
}

std::optional<std::pair<std::string, std::string>> campaignNameTheme(DbConn& c, std::int64_t id) {
    SqlStmt cg(c, "SELECT name, COALESCE(theme, '') FROM campaigns WHERE id = ?");
    cg.bind(1, id);
    if (!cg.step()) return std::nullopt;
    return std::make_pair(cg.str(0), cg.str(1));
}

CampaignTotals campaignTotals(DbConn& c, const std::string& key, const std::string& fromDate,
                              const std::string& toDate) {
    SqlStmt tot(c,
                "SELECT COUNT(DISTINCT r.player_id), COUNT(DISTINCT p.location_id), COALESCE(SUM(r.completed), 0), "
                "COALESCE(SUM(r.interrupted), 0), COALESCE(SUM(r.failed), 0), COALESCE(SUM(r.on_screen_ms), 0), "
                "COALESCE(SUM(r.degraded), 0) FROM pop_rollup_media r LEFT JOIN players p ON p.id = r.player_id "
                "WHERE r.campaign = ? AND r.local_date BETWEEN ? AND ?");
    tot.bind(1, key).bind(2, fromDate).bind(3, toDate);
    tot.step();
    return CampaignTotals{tot.i64(0), tot.i64(1), tot.i64(2), tot.i64(3), tot.i64(4), tot.i64(5), tot.i64(6)};
}

std::vector<CampaignGroup> campaignBreakdown(DbConn& c, CampaignBreakdown by, const std::string& key,
                                             const std::string& fromDate, const std::string& toDate) {
    std::string expr, joins;
    switch (by) {
        case CampaignBreakdown::VenueType:
            expr = "COALESCE(l.venue_type, '')";
            joins = "LEFT JOIN players p ON p.id = r.player_id LEFT JOIN locations l ON l.id = p.location_id";
            break;
        case CampaignBreakdown::Theme:
            expr = "COALESCE(mt.tag, '')";
            joins = std::string(kMediaJoin) + " LEFT JOIN media_tags mt ON mt.media_id = m.id";
            break;
        case CampaignBreakdown::Department:
            expr = "COALESCE(m.department, '')";
            joins = kMediaJoin;
            break;
    }
    SqlStmt st(c, "SELECT " + expr +
                      " AS k, COUNT(DISTINCT r.player_id), SUM(r.completed), "
                      "SUM(r.on_screen_ms) FROM pop_rollup_media r " +
                      joins + " WHERE r.campaign = ? AND r.local_date BETWEEN ? AND ? GROUP BY k ORDER BY k");
    st.bind(1, key).bind(2, fromDate).bind(3, toDate);
    std::vector<CampaignGroup> out;
    while (st.step()) out.push_back(CampaignGroup{st.str(0), st.i64(1), st.i64(2), st.i64(3)});
    return out;
}

// --- a player's proof-of-play summary -------------------------------------------------------------

PopSummary popSummary(DbConn& c, const std::string& playerId) {
    PopSummary out;
    SqlStmt rec(c, "SELECT COALESCE(MAX(seq), 0), COUNT(*) FROM pop_records WHERE player_id = ?");
    rec.bind(1, playerId);
    rec.step();
    out.lastSeq = rec.i64(0);
    out.records = rec.i64(1);
    SqlStmt pr(c, "SELECT COUNT(*), MAX(id) FROM pop_problems WHERE player_id = ?");
    pr.bind(1, playerId);
    pr.step();
    out.problems = pr.i64(0);
    if (pr.i64(0) > 0) {
        SqlStmt one(c, "SELECT code, seq, detected_at FROM pop_problems WHERE id = ?");
        one.bind(1, pr.i64(1));
        if (one.step()) out.lastProblem = PopSummary::Problem{one.str(0), one.i64(1), one.i64(2)};
    }
    return out;
}

}  // namespace microscape::controller::reports
