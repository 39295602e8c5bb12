// The store: playlists, campaigns, schedules, takeovers and CAP alerts.
#include "microscape/controller/repo.hpp"

#include <set>

#include "microscape/core/audit.hpp"
#include "microscape/core/crypto.hpp"
#include "microscape/core/json.hpp"
#include "store/repo_rows.hpp"

namespace microscape::controller {

namespace repo {

// --- playlists ---------------------------------------------------------------------------------
std::int64_t insertPlaylist(DbConn& c, const Playlist& p) {
    c.exec("INSERT INTO playlists(name, department, created_by, created_at, updated_at) VALUES (?, ?, ?, ?, ?)",
           {p.name, optText(p.department), i(p.createdBy), i(p.createdAtMs), i(p.updatedAtMs)});
    Playlist copy = p;
    copy.id = c.lastInsertId();
    writeItems(c, copy);
    return copy.id;
}
std::optional<Playlist> playlistById(DbConn& c, std::int64_t id) {
    return oneOf<Playlist>(c, std::string("SELECT ") + kPlaylistCols + " FROM playlists WHERE id = ?", {i(id)},
                           [&](const DbRow& r) { return playlistFrom(c, r); });
}
std::vector<Playlist> listPlaylists(DbConn& c) {
    std::vector<Playlist> out;
    for (auto& r : c.query(std::string("SELECT ") + kPlaylistCols + " FROM playlists ORDER BY id"))
        out.push_back(playlistFrom(c, r));
    return out;
}
void updatePlaylist(DbConn& c, const Playlist& p) {
    c.exec("UPDATE playlists SET name = ?, department = ?, updated_at = ? WHERE id = ?",
           {p.name, optText(p.department), i(p.updatedAtMs), i(p.id)});
    writeItems(c, p);
}
void deletePlaylist(DbConn& c, std::int64_t id) {
    c.exec("DELETE FROM playlists WHERE id = ?", {i(id)});
}

// --- campaigns, schedules, takeovers ---------------------------------------------------------
std::int64_t insertCampaign(DbConn& c, const Campaign& x) {
    c.exec(
        "INSERT INTO campaigns(name, theme, starts_on, ends_on, department, created_by, created_at, updated_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        {x.name, optText(x.theme), x.startsOn, x.endsOn, optText(x.department), i(x.createdBy), i(x.createdAtMs),
         i(x.updatedAtMs)});
    return c.lastInsertId();
}
std::optional<Campaign> campaignById(DbConn& c, std::int64_t id) {
    return oneOf<Campaign>(c, std::string("SELECT ") + kCampaignCols + " FROM campaigns WHERE id = ?", {i(id)},
                           campaignFrom);
}
std::vector<Campaign> listCampaigns(DbConn& c) {
    std::vector<Campaign> out;
    for (auto& r : c.query(std::string("SELECT ") + kCampaignCols + " FROM campaigns ORDER BY starts_on, id"))
        out.push_back(campaignFrom(r));
    return out;
}
void updateCampaign(DbConn& c, const Campaign& x) {
    c.exec(
        "UPDATE campaigns SET name = ?, theme = ?, starts_on = ?, ends_on = ?, department = ?, updated_at = ? "
        "WHERE id = ?",
        {x.name, optText(x.theme), x.startsOn, x.endsOn, optText(x.department), i(x.updatedAtMs), i(x.id)});
}
void deleteCampaign(DbConn& c, std::int64_t id) {
    c.exec("DELETE FROM campaigns WHERE id = ?", {i(id)});
}

std::int64_t insertSchedule(DbConn& c, const Schedule& s) {
    c.exec(
        "INSERT INTO schedules(name, playlist_id, campaign_id, priority, starts_on, ends_on, "
        "dayparts_json, "
        "target_json, created_by, created_at, updated_at, department) VALUES (?, ?, ?, ?, ?, ?, ?, "
        "?, ?, ?, ?, ?)",
        {s.name, i(s.playlistId), opt(s.campaignId), i(s.priority), s.startsOn, s.endsOn, s.daypartsJson, s.targetJson,
         i(s.createdBy), i(s.createdAtMs), i(s.updatedAtMs), optText(s.department)});
    return c.lastInsertId();
}
std::optional<Schedule> scheduleById(DbConn& c, std::int64_t id) {
    return oneOf<Schedule>(c, std::string("SELECT ") + kScheduleCols + " FROM schedules WHERE id = ?", {i(id)},
                           scheduleFrom);
}
std::vector<Schedule> listSchedules(DbConn& c) {
    std::vector<Schedule> out;
    for (auto& r : c.query(std::string("SELECT ") + kScheduleCols + " FROM schedules ORDER BY id"))
        out.push_back(scheduleFrom(r));
    return out;
}
void updateSchedule(DbConn& c, const Schedule& s) {
    c.exec(
        "UPDATE schedules SET name = ?, playlist_id = ?, campaign_id = ?, priority = ?, starts_on "
        "= ?, "
        "ends_on = ?, dayparts_json = ?, target_json = ?, updated_at = ?, department = ? WHERE id "
        "= ?",
        {s.name, i(s.playlistId), opt(s.campaignId), i(s.priority), s.startsOn, s.endsOn, s.daypartsJson, s.targetJson,
         i(s.updatedAtMs), optText(s.department), i(s.id)});
}
void deleteSchedule(DbConn& c, std::int64_t id) {
    c.exec("DELETE FROM schedules WHERE id = ?", {i(id)});
}

std::int64_t insertTakeover(DbConn& c, const Takeover& t) {
    c.exec(
        "INSERT INTO takeovers(name, playlist_id, target_json, starts_at, expires_at, created_by, "
        "created_at, "
        "department) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        {t.name, i(t.playlistId), t.targetJson, i(t.startsAtMs), i(t.expiresAtMs), i(t.createdBy), i(t.createdAtMs),
         optText(t.department)});
    return c.lastInsertId();
}
std::optional<Takeover> takeoverById(DbConn& c, std::int64_t id) {
    return oneOf<Takeover>(c, std::string(kTakeoverSelect) + "WHERE t.id = ?", {i(id)}, takeoverFrom);
}
std::vector<Takeover> listTakeovers(DbConn& c) {
    std::vector<Takeover> out;
    for (auto& r : c.query(std::string(kTakeoverSelect) + "ORDER BY t.id DESC")) out.push_back(takeoverFrom(r));
    return out;
}
bool cancelTakeover(DbConn& c, std::int64_t id, std::int64_t nowMs) {
    c.exec("UPDATE takeovers SET cancelled_at = ? WHERE id = ? AND cancelled_at IS NULL", {i(nowMs), i(id)});
    return c.changes() == 1;
}
bool updateTakeover(DbConn& c, const Takeover& t) {
    c.exec(
        "UPDATE takeovers SET name = ?, playlist_id = ?, target_json = ?, expires_at = ? WHERE id = ? AND "
        "cancelled_at IS NULL",
        {t.name, i(t.playlistId), t.targetJson, i(t.expiresAtMs), i(t.id)});
    return c.changes() == 1;
}

// --- CAP alerts --------------------------------------------------------------------------------
std::int64_t insertAlert(DbConn& c, const AlertRecord& a) {
    c.exec(
        "INSERT INTO alerts(sender, identifier, sent, sent_at, msg_type, refs, language, event, severity, headline, "
        "text, expires_at, areas_json, location_ids_json, takeover_id, media_id, signature, source, received_by, "
        "received_at, xml) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        {a.sender,       a.identifier,       a.sent,      i(a.sentAtMs),     a.msgType,
         a.refs,         a.language,         a.event,     a.severity,        a.headline,
         a.text,         opt(a.expiresAtMs), a.areasJson, a.locationIdsJson, opt(a.takeoverId),
         opt(a.mediaId), a.signature,        a.source,    i(a.receivedBy),   i(a.receivedAtMs),
         a.xml});
    return c.lastInsertId();
}
std::optional<AlertRecord> alertById(DbConn& c, std::int64_t id) {
    return oneOf<AlertRecord>(c, std::string("SELECT ") + kAlertCols + " FROM alerts WHERE id = ?", {i(id)}, alertFrom);
}
std::optional<AlertRecord> alertByKey(DbConn& c, const std::string& sender, const std::string& identifier,
                                      const std::string& sent) {
    return oneOf<AlertRecord>(
        c, std::string("SELECT ") + kAlertCols + " FROM alerts WHERE sender = ? AND identifier = ? AND sent = ?",
        {sender, identifier, sent}, alertFrom);
}
std::vector<AlertRecord> listAlerts(DbConn& c, int limit) {
    std::vector<AlertRecord> out;
    for (auto& r : c.query(std::string("SELECT ") + kAlertCols + " FROM alerts ORDER BY id DESC LIMIT ?", {i(limit)}))
        out.push_back(alertFrom(r));
    return out;
}

// --- observances -------------------------------------------------------------------------------
namespace {

constexpr const char* kObservanceColumns =
    "id, name, month, day, theme, days_before, days_after, created_at, updated_at";

Observance observanceFrom(const DbRow& r) {
    return Observance{r.i64(0), r.str(1), r.i64(2), r.i64(3), r.str(4), r.i64(5), r.i64(6), r.i64(7), r.i64(8)};
}

}  // namespace

std::int64_t insertObservance(DbConn& c, const Observance& o) {
    c.exec(
        "INSERT INTO observances(name, month, day, theme, days_before, days_after, created_at, updated_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        {o.name, o.month, o.day, o.theme.empty() ? DbValue(nullptr) : DbValue(o.theme), o.daysBefore, o.daysAfter,
         o.createdAtMs, o.updatedAtMs});
    return c.lastInsertId();
}

std::optional<Observance> observanceById(DbConn& c, std::int64_t id) {
    auto r = c.one(std::string("SELECT ") + kObservanceColumns + " FROM observances WHERE id = ?", {id});
    if (!r) return std::nullopt;
    return observanceFrom(*r);
}

std::vector<Observance> listObservances(DbConn& c) {
    std::vector<Observance> out;
    for (const auto& r :
         c.query(std::string("SELECT ") + kObservanceColumns + " FROM observances ORDER BY month, day, name"))
        out.push_back(observanceFrom(r));
    return out;
}

void updateObservance(DbConn& c, const Observance& o) {
    c.exec(
        "UPDATE observances SET name = ?, month = ?, day = ?, theme = ?, days_before = ?, days_after = ?, "
        "updated_at = ? WHERE id = ?",
        {o.name, o.month, o.day, o.theme.empty() ? DbValue(nullptr) : DbValue(o.theme), o.daysBefore, o.daysAfter,
         o.updatedAtMs, o.id});
}

void deleteObservance(DbConn& c, std::int64_t id) {
    c.exec("DELETE FROM observances WHERE id = ?", {id});
}

}  // namespace repo
}  // namespace microscape::controller
