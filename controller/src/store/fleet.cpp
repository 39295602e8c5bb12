// The store: locations, enrolment tokens, players, mirrors and settings.
#include "microscape/controller/repo.hpp"

#include <set>

#include "microscape/core/audit.hpp"
#include "microscape/core/crypto.hpp"
#include "microscape/core/json.hpp"
#include "store/repo_rows.hpp"

namespace microscape::controller {

std::string_view playerStateName(PlayerState s) {
    return s == PlayerState::Retired ? "retired" : "enrolled";
}

std::optional<PlayerState> playerStateFromName(std::string_view n) {
    for (auto s : {PlayerState::Enrolled, PlayerState::Retired})
        if (playerStateName(s) == n) return s;
    return std::nullopt;
}

namespace repo {

// --- locations -------------------------------------------------------------------------------
std::int64_t insertLocation(DbConn& c, const Location& l) {
    c.exec(
        "INSERT INTO locations(name, venue_type, district, address, timezone, hours_json, filler_playlist_id, "
        "created_at, updated_at, admin_code, mirrors_json) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        {l.name, l.venueType, l.district, l.address, l.timezone, l.hoursJson, opt(l.fillerPlaylistId), i(l.createdAtMs),
         i(l.updatedAtMs), l.adminCode, jsonOfStrings(l.mirrors)});
    auto id = c.lastInsertId();
    setTags(c, "location_tags", "location_id", id, l.tags);
    return id;
}
std::optional<Location> locationById(DbConn& c, std::int64_t id) {
    return oneOf<Location>(c, std::string("SELECT ") + kLocationCols + " FROM locations WHERE id = ?", {i(id)},
                           [&](const DbRow& r) { return locationFrom(c, r); });
}
std::vector<Location> listLocations(DbConn& c) {
    std::vector<Location> out;
    for (auto& r : c.query(std::string("SELECT ") + kLocationCols + " FROM locations ORDER BY id"))
        out.push_back(locationFrom(c, r));
    return out;
}
void updateLocation(DbConn& c, const Location& l) {
    c.exec(
        "UPDATE locations SET name = ?, venue_type = ?, district = ?, address = ?, timezone = ?, hours_json = ?, "
        "filler_playlist_id = ?, updated_at = ?, admin_code = ?, mirrors_json = ? WHERE id = ?",
        {l.name, l.venueType, l.district, l.address, l.timezone, l.hoursJson, opt(l.fillerPlaylistId), i(l.updatedAtMs),
         l.adminCode, jsonOfStrings(l.mirrors), i(l.id)});
    setTags(c, "location_tags", "location_id", l.id, l.tags);
}
void deleteLocation(DbConn& c, std::int64_t id) {
    c.exec("DELETE FROM locations WHERE id = ?", {i(id)});
}

// --- enrolment and players ------------------------------------------------------------------
std::int64_t insertEnrollToken(DbConn& c, const EnrollToken& t, const std::string& tokenHash) {
    c.exec(
        "INSERT INTO enroll_tokens(token_hash, name, location_id, created_by, created_at, expires_at) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        {tokenHash, optText(t.name), opt(t.locationId), i(t.createdBy), i(t.createdAtMs), i(t.expiresAtMs)});
    return c.lastInsertId();
}
std::optional<EnrollToken> enrollTokenByHash(DbConn& c, const std::string& tokenHash) {
    return oneOf<EnrollToken>(c, std::string("SELECT ") + kEnrollCols + " FROM enroll_tokens WHERE token_hash = ?",
                              {tokenHash}, enrollFrom);
}
std::vector<EnrollToken> listEnrollTokens(DbConn& c) {
    std::vector<EnrollToken> out;
    for (auto& r : c.query(std::string("SELECT ") + kEnrollCols + " FROM enroll_tokens ORDER BY id"))
        out.push_back(enrollFrom(r));
    return out;
}
bool consumeEnrollToken(DbConn& c, std::int64_t id, const std::string& playerId, std::int64_t nowMs) {
    c.exec("UPDATE enroll_tokens SET used_at = ?, player_id = ? WHERE id = ? AND used_at IS NULL",
           {i(nowMs), playerId, i(id)});
    return c.changes() == 1;
}

void insertPlayer(DbConn& c, const Player& p, std::optional<std::int64_t> enrollTokenId) {
    c.exec(
        "INSERT INTO players(id, name, location_id, width, height, orientation, state, identity_key, curve_key, "
        "enroll_token_id, enrolled_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        {p.id, p.name, opt(p.locationId), opt(p.width), opt(p.height), p.orientation,
         std::string(playerStateName(p.state)), p.identityKey, p.curveKey, opt(enrollTokenId), i(p.enrolledAtMs),
         i(p.updatedAtMs)});
}
std::optional<Player> playerById(DbConn& c, const std::string& id) {
    return oneOf<Player>(c, std::string("SELECT ") + kPlayerCols + " FROM players WHERE id = ?", {id}, playerFrom);
}
std::optional<Player> playerByCurveKey(DbConn& c, const std::string& key) {
    return oneOf<Player>(c, std::string("SELECT ") + kPlayerCols + " FROM players WHERE curve_key = ?", {key},
                         playerFrom);
}
std::vector<Player> listPlayers(DbConn& c) {
    std::vector<Player> out;
    for (auto& r : c.query(std::string("SELECT ") + kPlayerCols + " FROM players ORDER BY enrolled_at, id"))
        out.push_back(playerFrom(r));
    return out;
}
void updatePlayer(DbConn& c, const Player& p) {
    c.exec(
        "UPDATE players SET name = ?, location_id = ?, width = ?, height = ?, orientation = ?, state = ?, "
        "updated_at = ? WHERE id = ?",
        {p.name, opt(p.locationId), opt(p.width), opt(p.height), p.orientation, std::string(playerStateName(p.state)),
         i(p.updatedAtMs), p.id});
}
bool notePlayerSeen(DbConn& c, const std::string& id, std::int64_t lastSeenMs, const std::string& statusJson) {
    if (statusJson.empty())
        c.exec(
            "UPDATE players SET last_seen_at = CASE WHEN last_seen_at IS NULL OR last_seen_at < ? THEN ? ELSE "
            "last_seen_at END WHERE id = ?",
            {i(lastSeenMs), i(lastSeenMs), id});
    else
        c.exec(
            "UPDATE players SET last_seen_at = CASE WHEN last_seen_at IS NULL OR last_seen_at < ? THEN ? ELSE "
            "last_seen_at END, status_json = ? WHERE id = ?",
            {i(lastSeenMs), i(lastSeenMs), statusJson, id});
    return c.changes() == 1;
}

// --- mirrors ----------------------------------------------------------------------------------
MirrorSettings mirrorSettings(DbConn& c) {
    MirrorSettings m;
    if (auto v = setting(c, "mirrors")) m.fleet = stringsOfJson(*v);
    for (auto& r : c.query("SELECT district, mirrors_json FROM district_mirrors ORDER BY district"))
        m.districts[r.str(0)] = stringsOfJson(r.str(1));
    return m;
}
void setMirrorSettings(DbConn& c, const MirrorSettings& m) {
    if (m.fleet.empty())
        c.exec("DELETE FROM settings WHERE key = 'mirrors'");
    else
        setSetting(c, "mirrors", jsonOfStrings(m.fleet));
    c.exec("DELETE FROM district_mirrors");
    for (const auto& [district, list] : m.districts)
        if (!list.empty())
            c.exec("INSERT INTO district_mirrors(district, mirrors_json) VALUES (?, ?)",
                   {district, jsonOfStrings(list)});
}
bool mediaInAnyManifest(DbConn& c, const std::string& sha256) {
    // A manifest names its media by hash; a 64-hex hash occurs nowhere else by chance.
    return c.one("SELECT 1 FROM compiled_manifests WHERE manifest LIKE '%' || ? || '%' LIMIT 1", {sha256}).has_value();
}

// --- edits ------------------------------------------------------------------------------------
void lockForEdit(DbConn& c, Editable what, std::int64_t id) {
    if (c.backend() != sql::Backend::Postgres) return;
    const char* sql = nullptr;
    switch (what) {
        case Editable::User:
            sql = "SELECT id FROM users WHERE id = ? FOR UPDATE";
            break;
        case Editable::Location:
            sql = "SELECT id FROM locations WHERE id = ? FOR UPDATE";
            break;
        case Editable::Media:
            sql = "SELECT id FROM media WHERE id = ? FOR UPDATE";
            break;
        case Editable::Playlist:
            sql = "SELECT id FROM playlists WHERE id = ? FOR UPDATE";
            break;
        case Editable::Campaign:
            sql = "SELECT id FROM campaigns WHERE id = ? FOR UPDATE";
            break;
        case Editable::Schedule:
            sql = "SELECT id FROM schedules WHERE id = ? FOR UPDATE";
            break;
        case Editable::Observance:
            sql = "SELECT id FROM observances WHERE id = ? FOR UPDATE";
            break;
    }
    c.exec(sql, {i(id)});
}
void lockPlayerForEdit(DbConn& c, const std::string& playerId) {
    if (c.backend() == sql::Backend::Postgres) c.exec("SELECT id FROM players WHERE id = ? FOR UPDATE", {playerId});
}

// --- settings ---------------------------------------------------------------------------------
std::optional<std::string> setting(DbConn& c, const std::string& key) {
    auto r = c.one("SELECT value FROM settings WHERE key = ?", {key});
    if (!r) return std::nullopt;
    return r->str(0);
}
void setSetting(DbConn& c, const std::string& key, const std::string& value) {
    c.exec("INSERT INTO settings(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
           {key, value});
}

void deleteSetting(DbConn& c, const std::string& key) {
    c.exec("DELETE FROM settings WHERE key = ?", {key});
}

}  // namespace repo
}  // namespace microscape::controller
