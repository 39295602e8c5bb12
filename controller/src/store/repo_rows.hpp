// The row readers and column lists the store's repo functions share
// (store/accounts.cpp, media.cpp, fleet.cpp, plans.cpp); internal to the store.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "microscape/controller/repo.hpp"
#include "microscape/core/json.hpp"

namespace microscape::controller::repo {

inline DbValue opt(const std::optional<std::int64_t>& v) {
    return v ? DbValue(*v) : DbValue(nullptr);
}
inline DbValue optText(const std::string& s) {
    return s.empty() ? DbValue(nullptr) : DbValue(s);
}
inline DbValue i(std::int64_t v) {
    return DbValue(v);
}

inline const char* kUserCols = "id, username, display_name, role, department, disabled, created_at, fleet_wide";
inline User userFrom(const DbRow& r) {
    User u;
    u.id = r.i64(0);
    u.username = r.str(1);
    u.displayName = r.str(2);
    u.role = roleFromName(r.str(3)).value_or(Role::Auditor);
    u.department = r.str(4);
    u.disabled = r.i64(5) != 0;
    u.createdAtMs = r.i64(6);
    u.fleetWide = r.i64(7) != 0;
    return u;
}

inline const char* kTokenCols = "id, user_id, name, created_at, last_used_at, revoked_at";
inline ApiTokenRow tokenFrom(const DbRow& r) {
    return ApiTokenRow{r.i64(0), r.i64(1), r.str(2), r.i64(3), r.optI64(4), r.optI64(5)};
}

inline std::vector<std::string> tagsOf(DbConn& c, const char* table, const char* col, std::int64_t id) {
    std::vector<std::string> out;
    for (auto& r : c.query(std::string("SELECT tag FROM ") + table + " WHERE " + col + " = ? ORDER BY tag", {i(id)}))
        out.push_back(r.str(0));
    return out;
}

inline void setTags(DbConn& c, const char* table, const char* col, std::int64_t id,
                    const std::vector<std::string>& tags) {
    c.exec(std::string("DELETE FROM ") + table + " WHERE " + col + " = ?", {i(id)});
    for (const auto& t : tags)
        c.exec(std::string("INSERT INTO ") + table + "(" + col + ", tag) VALUES (?, ?) ON CONFLICT DO NOTHING",
               {i(id), t});
}

inline const char* kMediaCols =
    "id, sha256, kind, mime, size_bytes, display_name, original_name, department, state, uploaded_by, "
    "reviewed_by, review_reason, reviewed_at, duration_ms, width, height, slogan_json, created_at, updated_at, "
    "valid_until, codec, background";
inline Media mediaFrom(DbConn& c, const DbRow& r) {
    Media m;
    m.id = r.i64(0);
    m.sha256 = r.str(1);
    m.kind = r.str(2);
    m.mime = r.str(3);
    m.sizeBytes = r.i64(4);
    m.displayName = r.str(5);
    m.originalName = r.str(6);
    m.department = r.str(7);
    m.state = mediaStateFromName(r.str(8)).value_or(MediaState::Draft);  // unknown: never shown
    m.uploadedBy = r.i64(9);
    m.reviewedBy = r.optI64(10);
    m.reviewReason = r.str(11);
    m.reviewedAtMs = r.optI64(12);
    m.durationMs = r.optI64(13);
    m.width = r.optI64(14);
    m.height = r.optI64(15);
    m.sloganJson = r.str(16);
    m.createdAtMs = r.i64(17);
    m.updatedAtMs = r.i64(18);
    m.codec = r.str(20);
    m.background = r.str(21);
    m.validUntilMs = r.optI64(19);
    m.tags = tagsOf(c, "media_tags", "media_id", m.id);
    return m;
}

inline const char* kLocationCols =
    "id, name, venue_type, district, address, timezone, hours_json, filler_playlist_id, created_at, updated_at, "
    "admin_code, mirrors_json";

// A stored JSON array of strings (mirror base URLs); empty when unreadable.
inline std::vector<std::string> stringsOfJson(const std::string& stored) {
    std::vector<std::string> out;
    auto v = json::parse(stored);
    if (!v || !v->isArray()) return out;
    for (const auto& s : v->asArray())
        if (s.isString()) out.push_back(s.asString());
    return out;
}
inline std::string jsonOfStrings(const std::vector<std::string>& list) {
    json::Array a;
    for (const auto& s : list) a.push_back(s);
    return json::canonical(json::Value(std::move(a)));
}
inline Location locationFrom(DbConn& c, const DbRow& r) {
    Location l;
    l.id = r.i64(0);
    l.name = r.str(1);
    l.venueType = r.str(2);
    l.district = r.str(3);
    l.address = r.str(4);
    l.timezone = r.str(5);
    l.hoursJson = r.str(6);
    l.fillerPlaylistId = r.optI64(7);
    l.createdAtMs = r.i64(8);
    l.updatedAtMs = r.i64(9);
    l.adminCode = r.str(10);
    l.mirrors = stringsOfJson(r.str(11));
    l.tags = tagsOf(c, "location_tags", "location_id", l.id);
    return l;
}

inline const char* kEnrollCols = "id, name, location_id, created_by, created_at, expires_at, used_at, player_id";
inline EnrollToken enrollFrom(const DbRow& r) {
    EnrollToken t;
    t.id = r.i64(0);
    t.name = r.str(1);
    t.locationId = r.optI64(2);
    t.createdBy = r.i64(3);
    t.createdAtMs = r.i64(4);
    t.expiresAtMs = r.i64(5);
    t.usedAtMs = r.optI64(6);
    t.playerId = r.str(7);
    return t;
}

inline const char* kPlayerCols =
    "id, name, location_id, width, height, orientation, state, identity_key, curve_key, enrolled_at, "
    "last_seen_at, status_json, updated_at";
inline Player playerFrom(const DbRow& r) {
    Player p;
    p.id = r.str(0);
    p.name = r.str(1);
    p.locationId = r.optI64(2);
    p.width = r.optI64(3);
    p.height = r.optI64(4);
    p.orientation = r.str(5);
    p.state = playerStateFromName(r.str(6)).value_or(PlayerState::Retired);  // unknown: refused
    p.identityKey = r.str(7);
    p.curveKey = r.str(8);
    p.enrolledAtMs = r.i64(9);
    p.lastSeenAtMs = r.optI64(10);
    p.statusJson = r.str(11);
    p.updatedAtMs = r.i64(12);
    return p;
}

inline const char* kPlaylistCols = "id, name, department, created_by, created_at, updated_at";
inline Playlist playlistFrom(DbConn& c, const DbRow& r) {
    Playlist p;
    p.id = r.i64(0);
    p.name = r.str(1);
    p.department = r.str(2);
    p.createdBy = r.i64(3);
    p.createdAtMs = r.i64(4);
    p.updatedAtMs = r.i64(5);
    for (auto& ir : c.query("SELECT media_id, duration_ms, valid_from, valid_until FROM playlist_items "
                            "WHERE playlist_id = ? ORDER BY position",
                            {i(p.id)}))
        p.items.push_back(PlaylistItem{ir.i64(0), ir.optI64(1), ir.optI64(2), ir.optI64(3)});
    return p;
}

inline void writeItems(DbConn& c, const Playlist& p) {
    c.exec("DELETE FROM playlist_items WHERE playlist_id = ?", {i(p.id)});
    std::int64_t pos = 0;
    for (const auto& it : p.items)
        c.exec(
            "INSERT INTO playlist_items(playlist_id, position, media_id, duration_ms, valid_from, valid_until) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            {i(p.id), i(pos++), i(it.mediaId), opt(it.durationMs), opt(it.validFromMs), opt(it.validUntilMs)});
}

inline const char* kCampaignCols =
    "id, name, theme, starts_on, ends_on, department, created_by, created_at, updated_at";
inline Campaign campaignFrom(const DbRow& r) {
    return Campaign{r.i64(0), r.str(1), r.str(2), r.str(3), r.str(4), r.str(5), r.i64(6), r.i64(7), r.i64(8)};
}

inline const char* kScheduleCols =
    "id, name, playlist_id, campaign_id, priority, starts_on, ends_on, dayparts_json, target_json, "
    "created_by, "
    "created_at, updated_at, department";
inline Schedule scheduleFrom(const DbRow& r) {
    Schedule s;
    s.id = r.i64(0);
    s.name = r.str(1);
    s.playlistId = r.i64(2);
    s.campaignId = r.optI64(3);
    s.priority = r.i64(4);
    s.startsOn = r.str(5);
    s.endsOn = r.str(6);
    s.daypartsJson = r.str(7);
    s.targetJson = r.str(8);
    s.createdBy = r.i64(9);
    s.createdAtMs = r.i64(10);
    s.updatedAtMs = r.i64(11);
    s.department = r.str(12);
    return s;
}

// A takeover with the latest CAP message of the alert it follows, if any.
inline const char* kTakeoverSelect =
    "SELECT t.id, t.name, t.playlist_id, t.target_json, t.starts_at, t.expires_at, t.cancelled_at, t.created_by, "
    "t.created_at, t.department, a.id, a.sender, a.identifier, a.msg_type, a.event, a.severity FROM takeovers t "
    "LEFT JOIN alerts a ON a.id = (SELECT MAX(x.id) FROM alerts x WHERE x.takeover_id = t.id) ";
inline Takeover takeoverFrom(const DbRow& r) {
    Takeover t{r.i64(0),    r.str(1), r.i64(2), r.str(3), r.i64(4),    r.i64(5),
               r.optI64(6), r.i64(7), r.i64(8), r.str(9), std::nullopt};
    if (!r.isNull(10)) t.alert = TakeoverAlert{r.i64(10), r.str(11), r.str(12), r.str(13), r.str(14), r.str(15)};
    return t;
}

inline const char* kAlertCols =
    "id, sender, identifier, sent, sent_at, msg_type, refs, language, event, severity, headline, text, expires_at, "
    "areas_json, location_ids_json, takeover_id, media_id, signature, source, received_by, received_at, xml";
inline AlertRecord alertFrom(const DbRow& r) {
    AlertRecord a;
    a.id = r.i64(0);
    a.sender = r.str(1);
    a.identifier = r.str(2);
    a.sent = r.str(3);
    a.sentAtMs = r.i64(4);
    a.msgType = r.str(5);
    a.refs = r.str(6);
    a.language = r.str(7);
    a.event = r.str(8);
    a.severity = r.str(9);
    a.headline = r.str(10);
    a.text = r.str(11);
    a.expiresAtMs = r.optI64(12);
    a.areasJson = r.str(13);
    a.locationIdsJson = r.str(14);
    a.takeoverId = r.optI64(15);
    a.mediaId = r.optI64(16);
    a.signature = r.str(17);
    a.source = r.str(18);
    a.receivedBy = r.i64(19);
    a.receivedAtMs = r.i64(20);
    a.xml = r.str(21);
    return a;
}

template <class T, class F>
inline std::optional<T> oneOf(DbConn& c, const std::string& sql, const DbParams& params, F&& from) {
    auto r = c.one(sql, params);
    if (!r) return std::nullopt;
    return from(*r);
}

}  // namespace microscape::controller::repo
