#include "microscape/controller/repo.hpp"

#include <set>

#include "microscape/core/audit.hpp"
#include "microscape/core/crypto.hpp"
#include "microscape/core/json.hpp"

namespace microscape::controller {

std::string_view roleName(Role r) {
    switch (r) {
        case Role::Admin:
            return "admin";
        case Role::Editor:
            return "editor";
        case Role::Approver:
            return "approver";
        case Role::Auditor:
            return "auditor";
        case Role::AlertFeed:
            return "alert_feed";
    }
    return "editor";
}

std::optional<Role> roleFromName(std::string_view n) {
    if (n == "admin") return Role::Admin;
    if (n == "editor") return Role::Editor;
    if (n == "approver") return Role::Approver;
    if (n == "auditor") return Role::Auditor;
    if (n == "alert_feed") return Role::AlertFeed;
    return std::nullopt;
}

std::string_view mediaStateName(MediaState s) {
    switch (s) {
        case MediaState::Draft:
            return "draft";
        case MediaState::Pending:
            return "pending";
        case MediaState::Approved:
            return "approved";
        case MediaState::Rejected:
            return "rejected";
    }
    return "draft";
}

std::optional<MediaState> mediaStateFromName(std::string_view n) {
    for (auto s : {MediaState::Draft, MediaState::Pending, MediaState::Approved, MediaState::Rejected})
        if (mediaStateName(s) == n) return s;
    return std::nullopt;
}

std::string_view playerStateName(PlayerState s) {
    return s == PlayerState::Retired ? "retired" : "enrolled";
}

std::optional<PlayerState> playerStateFromName(std::string_view n) {
    for (auto s : {PlayerState::Enrolled, PlayerState::Retired})
        if (playerStateName(s) == n) return s;
    return std::nullopt;
}

namespace repo {
namespace {

DbValue opt(const std::optional<std::int64_t>& v) {
    return v ? DbValue(*v) : DbValue(nullptr);
}
DbValue optText(const std::string& s) {
    return s.empty() ? DbValue(nullptr) : DbValue(s);
}
DbValue i(std::int64_t v) {
    return DbValue(v);
}

const char* kUserCols = "id, username, display_name, role, department, disabled, created_at, fleet_wide";
User userFrom(const DbRow& r) {
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

const char* kTokenCols = "id, user_id, name, created_at, last_used_at, revoked_at";
ApiTokenRow tokenFrom(const DbRow& r) {
    return ApiTokenRow{r.i64(0), r.i64(1), r.str(2), r.i64(3), r.optI64(4), r.optI64(5)};
}

std::vector<std::string> tagsOf(DbConn& c, const char* table, const char* col, std::int64_t id) {
    std::vector<std::string> out;
    for (auto& r : c.query(std::string("SELECT tag FROM ") + table + " WHERE " + col + " = ? ORDER BY tag", {i(id)}))
        out.push_back(r.str(0));
    return out;
}

void setTags(DbConn& c, const char* table, const char* col, std::int64_t id, const std::vector<std::string>& tags) {
    c.exec(std::string("DELETE FROM ") + table + " WHERE " + col + " = ?", {i(id)});
    for (const auto& t : tags)
        c.exec(std::string("INSERT INTO ") + table + "(" + col + ", tag) VALUES (?, ?) ON CONFLICT DO NOTHING",
               {i(id), t});
}

const char* kMediaCols =
    "id, sha256, kind, mime, size_bytes, display_name, original_name, department, state, uploaded_by, "
    "reviewed_by, review_reason, reviewed_at, duration_ms, width, height, slogan_json, created_at, updated_at, "
    "valid_until, codec, background";
Media mediaFrom(DbConn& c, const DbRow& r) {
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

const char* kLocationCols =
    "id, name, venue_type, district, address, timezone, hours_json, filler_playlist_id, created_at, updated_at, "
    "admin_code, mirrors_json";

// A stored JSON array of strings (mirror base URLs); empty when unreadable.
std::vector<std::string> stringsOfJson(const std::string& stored) {
    std::vector<std::string> out;
    auto v = json::parse(stored);
    if (!v || !v->isArray()) return out;
    for (const auto& s : v->asArray())
        if (s.isString()) out.push_back(s.asString());
    return out;
}
std::string jsonOfStrings(const std::vector<std::string>& list) {
    json::Array a;
    for (const auto& s : list) a.push_back(s);
    return json::canonical(json::Value(std::move(a)));
}
Location locationFrom(DbConn& c, const DbRow& r) {
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

const char* kEnrollCols = "id, name, location_id, created_by, created_at, expires_at, used_at, player_id";
EnrollToken enrollFrom(const DbRow& r) {
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

const char* kPlayerCols =
    "id, name, location_id, width, height, orientation, state, identity_key, curve_key, enrolled_at, "
    "last_seen_at, status_json, updated_at";
Player playerFrom(const DbRow& r) {
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

const char* kPlaylistCols = "id, name, department, created_by, created_at, updated_at";
Playlist playlistFrom(DbConn& c, const DbRow& r) {
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

void writeItems(DbConn& c, const Playlist& p) {
    c.exec("DELETE FROM playlist_items WHERE playlist_id = ?", {i(p.id)});
    std::int64_t pos = 0;
    for (const auto& it : p.items)
        c.exec(
            "INSERT INTO playlist_items(playlist_id, position, media_id, duration_ms, valid_from, valid_until) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            {i(p.id), i(pos++), i(it.mediaId), opt(it.durationMs), opt(it.validFromMs), opt(it.validUntilMs)});
}

const char* kCampaignCols = "id, name, theme, starts_on, ends_on, department, created_by, created_at, updated_at";
Campaign campaignFrom(const DbRow& r) {
    return Campaign{r.i64(0), r.str(1), r.str(2), r.str(3), r.str(4), r.str(5), r.i64(6), r.i64(7), r.i64(8)};
}

const char* kScheduleCols =
    "id, name, playlist_id, campaign_id, priority, starts_on, ends_on, dayparts_json, target_json, "
    "created_by, "
    "created_at, updated_at, department";
Schedule scheduleFrom(const DbRow& r) {
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
const char* kTakeoverSelect =
    "SELECT t.id, t.name, t.playlist_id, t.target_json, t.starts_at, t.expires_at, t.cancelled_at, t.created_by, "
    "t.created_at, t.department, a.id, a.sender, a.identifier, a.msg_type, a.event, a.severity FROM takeovers t "
    "LEFT JOIN alerts a ON a.id = (SELECT MAX(x.id) FROM alerts x WHERE x.takeover_id = t.id) ";
Takeover takeoverFrom(const DbRow& r) {
    Takeover t{r.i64(0),    r.str(1), r.i64(2), r.str(3), r.i64(4),    r.i64(5),
               r.optI64(6), r.i64(7), r.i64(8), r.str(9), std::nullopt};
    if (!r.isNull(10)) t.alert = TakeoverAlert{r.i64(10), r.str(11), r.str(12), r.str(13), r.str(14), r.str(15)};
    return t;
}

const char* kAlertCols =
    "id, sender, identifier, sent, sent_at, msg_type, refs, language, event, severity, headline, text, expires_at, "
    "areas_json, location_ids_json, takeover_id, media_id, signature, source, received_by, received_at, xml";
AlertRecord alertFrom(const DbRow& r) {
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
std::optional<T> oneOf(DbConn& c, const std::string& sql, const DbParams& params, F&& from) {
    auto r = c.one(sql, params);
    if (!r) return std::nullopt;
    return from(*r);
}

}  // namespace

// --- users -------------------------------------------------------------------------------
std::int64_t insertUser(DbConn& c, const User& u, const std::string& passwordHash, std::int64_t nowMs) {
    c.exec(
        "INSERT INTO users(username, display_name, role, department, password_hash, disabled, "
        "created_at, "
        "updated_at, fleet_wide) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        {u.username, u.displayName, std::string(roleName(u.role)), optText(u.department), passwordHash,
         i(u.disabled ? 1 : 0), i(nowMs), i(nowMs), i(u.fleetWide ? 1 : 0)});
    return c.lastInsertId();
}

std::optional<User> userById(DbConn& c, std::int64_t id) {
    return oneOf<User>(c, std::string("SELECT ") + kUserCols + " FROM users WHERE id = ?", {i(id)}, userFrom);
}
std::optional<User> userByName(DbConn& c, const std::string& username) {
    return oneOf<User>(c, std::string("SELECT ") + kUserCols + " FROM users WHERE username = ?", {username}, userFrom);
}
std::optional<std::string> passwordHashOf(DbConn& c, std::int64_t userId) {
    auto r = c.one("SELECT password_hash FROM users WHERE id = ?", {i(userId)});
    if (!r) return std::nullopt;
    return r->str(0);
}
std::vector<User> listUsers(DbConn& c) {
    std::vector<User> out;
    for (auto& r : c.query(std::string("SELECT ") + kUserCols + " FROM users ORDER BY id")) out.push_back(userFrom(r));
    return out;
}
void updateUser(DbConn& c, const User& u, std::int64_t nowMs) {
    c.exec(
        "UPDATE users SET display_name = ?, role = ?, department = ?, disabled = ?, updated_at = "
        "?, "
        "fleet_wide = ? WHERE id = ?",
        {u.displayName, std::string(roleName(u.role)), optText(u.department), i(u.disabled ? 1 : 0), i(nowMs),
         i(u.fleetWide ? 1 : 0), i(u.id)});
}
void setPassword(DbConn& c, std::int64_t userId, const std::string& passwordHash, std::int64_t nowMs) {
    c.exec("UPDATE users SET password_hash = ?, updated_at = ? WHERE id = ?", {passwordHash, i(nowMs), i(userId)});
}
std::int64_t countUsers(DbConn& c) {
    return c.one("SELECT COUNT(*) FROM users")->i64(0);
}

void insertSession(DbConn& c, const std::string& tokenHash, std::int64_t userId, const std::string& csrf,
                   std::int64_t nowMs, std::int64_t expiresAtMs) {
    c.exec("DELETE FROM sessions WHERE expires_at < ?", {i(nowMs)});
    c.exec(
        "INSERT INTO sessions(token_hash, user_id, csrf_token, created_at, expires_at, "
        "last_seen_at) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        {tokenHash, i(userId), csrf, i(nowMs), i(expiresAtMs), i(nowMs)});
}
std::optional<SessionRow> sessionByHash(DbConn& c, const std::string& tokenHash) {
    auto r = c.one(
        "SELECT user_id, csrf_token, expires_at, created_at, last_seen_at FROM sessions WHERE "
        "token_hash = ?",
        {tokenHash});
    if (!r) return std::nullopt;
    return SessionRow{r->i64(0), r->str(1), r->i64(2), r->i64(3), r->i64(4)};
}
void touchSession(DbConn& c, const std::string& tokenHash, std::int64_t nowMs) {
    c.exec("UPDATE sessions SET last_seen_at = ? WHERE token_hash = ?", {i(nowMs), tokenHash});
}
void purgeIdleSessions(DbConn& c, std::int64_t lastSeenBeforeMs) {
    c.exec("DELETE FROM sessions WHERE last_seen_at < ?", {i(lastSeenBeforeMs)});
}
void deleteOtherSessionsOf(DbConn& c, std::int64_t userId, const std::string& keepTokenHash) {
    c.exec("DELETE FROM sessions WHERE user_id = ? AND token_hash <> ?", {i(userId), keepTokenHash});
}
void revokeApiTokensOf(DbConn& c, std::int64_t userId, std::int64_t nowMs) {
    c.exec("UPDATE api_tokens SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL", {i(nowMs), i(userId)});
}
void deleteSession(DbConn& c, const std::string& tokenHash) {
    c.exec("DELETE FROM sessions WHERE token_hash = ?", {tokenHash});
}
void deleteSessionsOf(DbConn& c, std::int64_t userId) {
    c.exec("DELETE FROM sessions WHERE user_id = ?", {i(userId)});
}

std::int64_t insertApiToken(DbConn& c, std::int64_t userId, const std::string& name, const std::string& tokenHash,
                            std::int64_t nowMs) {
    c.exec("INSERT INTO api_tokens(user_id, name, token_hash, created_at) VALUES (?, ?, ?, ?)",
           {i(userId), name, tokenHash, i(nowMs)});
    return c.lastInsertId();
}
std::optional<ApiTokenRow> apiTokenByHash(DbConn& c, const std::string& tokenHash) {
    return oneOf<ApiTokenRow>(c, std::string("SELECT ") + kTokenCols + " FROM api_tokens WHERE token_hash = ?",
                              {tokenHash}, tokenFrom);
}
std::optional<ApiTokenRow> apiTokenById(DbConn& c, std::int64_t id) {
    return oneOf<ApiTokenRow>(c, std::string("SELECT ") + kTokenCols + " FROM api_tokens WHERE id = ?", {i(id)},
                              tokenFrom);
}
std::vector<ApiTokenRow> listApiTokens(DbConn& c, std::optional<std::int64_t> userId) {
    std::vector<ApiTokenRow> out;
    auto rows = userId ? c.query(std::string("SELECT ") + kTokenCols + " FROM api_tokens WHERE user_id = ? ORDER BY id",
                                 {i(*userId)})
                       : c.query(std::string("SELECT ") + kTokenCols + " FROM api_tokens ORDER BY id");
    for (auto& r : rows) out.push_back(tokenFrom(r));
    return out;
}
void revokeApiToken(DbConn& c, std::int64_t id, std::int64_t nowMs) {
    c.exec("UPDATE api_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL", {i(nowMs), i(id)});
}
void touchApiToken(DbConn& c, std::int64_t id, std::int64_t nowMs) {
    c.exec("UPDATE api_tokens SET last_used_at = ? WHERE id = ?", {i(nowMs), i(id)});
}

// --- audit ---------------------------------------------------------------------------------
namespace {

// The chain's canonical encoding is JSON, which holds only UTF-8: any other byte
// is stored as '?' (such text cannot come from the JSON API anyway).
std::string utf8(const std::string& s) {
    if (json::isValidUtf8(s)) return s;
    std::string out = s;
    for (char& ch : out)
        if (static_cast<unsigned char>(ch) >= 0x80) ch = '?';
    return out;
}
std::optional<std::string> optUtf8(const std::string& s) {
    if (s.empty()) return std::nullopt;
    return utf8(s);
}
DbValue dbOpt(const std::optional<std::string>& s) {
    return s ? DbValue(*s) : DbValue(nullptr);
}

// The last chained row: (seq, hash), or (0, genesis).
audit::AuditHead auditHead(DbConn& c) {
    auto last = c.one("SELECT seq, hash FROM audit_log WHERE seq IS NOT NULL ORDER BY seq DESC LIMIT 1");
    if (!last) return {};
    return {last->i64(0), last->str(1)};
}

}  // namespace

// Each row is chained to the one before (docs/audit-export.md): the read of the
// last row and the insert run in the caller's write transaction, which Db
// serialises, so two rows never claim the same seq.
void audit(DbConn& c, const Actor& who, const std::string& action, const std::string& entity,
           const std::string& entityId, const std::string& beforeJson, const std::string& afterJson,
           std::int64_t nowMs) {
    const auto head = auditHead(c);
    audit::AuditRow r;
    r.seq = head.seq + 1;
    r.prevHash = head.hash;
    r.atMs = nowMs;
    if (who.userId) r.actorId = who.userId;
    r.actor = utf8(who.name);
    r.action = utf8(action);
    r.entity = utf8(entity);
    r.entityId = optUtf8(entityId);
    r.beforeJson = optUtf8(beforeJson);
    r.afterJson = optUtf8(afterJson);
    r.hash = audit::auditRowHash(r);
    c.exec(
        "INSERT INTO audit_log(at, actor_id, actor, action, entity, entity_id, before_json, "
        "after_json, seq, "
        "prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        {i(nowMs), r.actorId ? DbValue(*r.actorId) : DbValue(nullptr), r.actor, r.action, r.entity, dbOpt(r.entityId),
         dbOpt(r.beforeJson), dbOpt(r.afterJson), i(r.seq), r.prevHash, r.hash});
}

std::optional<audit::AuditRow> auditRowOf(const DbRow& row) {
    // Columns: seq, prev_hash, hash, at, actor_id, actor, action, entity, entity_id, before_json,
    // after_json.
    audit::AuditRow r;
    r.seq = row.i64(0);
    r.prevHash = row.str(1);
    r.hash = row.str(2);
    r.atMs = row.i64(3);
    r.actorId = row.optI64(4);
    r.actor = row.str(5);
    r.action = row.str(6);
    r.entity = row.str(7);
    r.entityId = row.optStr(8);
    r.beforeJson = row.optStr(9);
    r.afterJson = row.optStr(10);
    return r;
}

std::int64_t chainAuditLog(DbConn& c) {
    std::int64_t chained = 0;
    auto head = auditHead(c);
    while (true) {
        auto rows = c.query(
            "SELECT id, at, actor_id, actor, action, entity, entity_id, before_json, after_json "
            "FROM audit_log WHERE hash IS NULL ORDER BY id LIMIT 1000");
        if (rows.empty()) return chained;
        for (const auto& row : rows) {
            audit::AuditRow r;
            r.seq = head.seq + 1;
            r.prevHash = head.hash;
            r.atMs = row.i64(1);
            r.actorId = row.optI64(2);
            r.actor = utf8(row.str(3));
            r.action = utf8(row.str(4));
            r.entity = utf8(row.str(5));
            if (auto v = row.optStr(6)) r.entityId = utf8(*v);
            if (auto v = row.optStr(7)) r.beforeJson = utf8(*v);
            if (auto v = row.optStr(8)) r.afterJson = utf8(*v);
            r.hash = audit::auditRowHash(r);
            c.exec(
                "UPDATE audit_log SET actor = ?, action = ?, entity = ?, entity_id = ?, "
                "before_json = ?, "
                "after_json = ?, seq = ?, prev_hash = ?, hash = ? WHERE id = ?",
                {r.actor, r.action, r.entity, dbOpt(r.entityId), dbOpt(r.beforeJson), dbOpt(r.afterJson), i(r.seq),
                 r.prevHash, r.hash, i(row.i64(0))});
            head = {r.seq, r.hash};
            ++chained;
        }
    }
}

std::int64_t countAudit(DbConn& c, const std::string& action, const std::string& entityId, std::int64_t sinceMs) {
    return c
        .one("SELECT COUNT(*) FROM audit_log WHERE action = ? AND entity_id = ? AND at >= ?",
             {action, entityId, i(sinceMs)})
        ->i64(0);
}

std::vector<AuditEntry> listAudit(DbConn& c, std::int64_t beforeId, int limit, const std::string& entity) {
    std::string sql =
        "SELECT id, at, actor_id, actor, action, entity, entity_id, before_json, after_json FROM audit_log "
        "WHERE id < ?";
    DbParams params{i(beforeId)};
    if (!entity.empty()) {
        sql += " AND entity = ?";
        params.emplace_back(entity);
    }
    sql += " ORDER BY id DESC LIMIT ?";
    params.emplace_back(std::int64_t(limit));
    std::vector<AuditEntry> out;
    for (auto& r : c.query(sql, params))
        out.push_back(
            AuditEntry{r.i64(0), r.i64(1), r.optI64(2), r.str(3), r.str(4), r.str(5), r.str(6), r.str(7), r.str(8)});
    return out;
}

// --- tags -----------------------------------------------------------------------------------
std::vector<std::pair<std::string, bool>> listTags(DbConn& c) {
    std::vector<std::pair<std::string, bool>> out;
    for (auto& r : c.query("SELECT name, seeded FROM tags ORDER BY seeded DESC, name"))
        out.emplace_back(r.str(0), r.i64(1) != 0);
    return out;
}
void ensureTags(DbConn& c, const std::vector<std::string>& tags) {
    for (const auto& t : tags) c.exec("INSERT INTO tags(name, seeded) VALUES (?, 0) ON CONFLICT DO NOTHING", {t});
}

// --- media -----------------------------------------------------------------------------------
std::int64_t insertMedia(DbConn& c, const Media& m) {
    c.exec(
        "INSERT INTO media(sha256, kind, mime, size_bytes, display_name, original_name, department, state, "
        "uploaded_by, duration_ms, width, height, slogan_json, created_at, updated_at, codec, background) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        {m.sha256, m.kind, m.mime, i(m.sizeBytes), m.displayName, optText(m.originalName), optText(m.department),
         std::string(mediaStateName(m.state)), i(m.uploadedBy), opt(m.durationMs), opt(m.width), opt(m.height),
         optText(m.sloganJson), i(m.createdAtMs), i(m.updatedAtMs), m.codec, m.background});
    auto id = c.lastInsertId();
    ensureTags(c, m.tags);
    setTags(c, "media_tags", "media_id", id, m.tags);
    return id;
}
std::optional<Media> mediaById(DbConn& c, std::int64_t id) {
    return oneOf<Media>(c, std::string("SELECT ") + kMediaCols + " FROM media WHERE id = ?", {i(id)},
                        [&](const DbRow& r) { return mediaFrom(c, r); });
}
std::optional<Media> mediaBySha(DbConn& c, const std::string& sha) {
    return oneOf<Media>(c, std::string("SELECT ") + kMediaCols + " FROM media WHERE sha256 = ?", {sha},
                        [&](const DbRow& r) { return mediaFrom(c, r); });
}
std::vector<Media> listMedia(DbConn& c, const MediaFilter& f) {
    std::string sql = std::string("SELECT ") + kMediaCols + " FROM media WHERE 1 = 1";
    DbParams params;
    if (f.state) sql += " AND state = ?", params.emplace_back(std::string(mediaStateName(*f.state)));
    if (!f.kind.empty()) sql += " AND kind = ?", params.emplace_back(f.kind);
    if (!f.department.empty()) sql += " AND department = ?", params.emplace_back(f.department);
    if (!f.tag.empty()) sql += " AND id IN (SELECT media_id FROM media_tags WHERE tag = ?)", params.emplace_back(f.tag);
    sql += " ORDER BY id";
    std::vector<Media> out;
    for (auto& r : c.query(sql, params)) out.push_back(mediaFrom(c, r));
    return out;
}
void updateMedia(DbConn& c, const Media& m) {
    c.exec(
        "UPDATE media SET display_name = ?, department = ?, state = ?, reviewed_by = ?, review_reason = ?, "
        "reviewed_at = ?, duration_ms = ?, width = ?, height = ?, updated_at = ?, valid_until = ? WHERE id = ?",
        {m.displayName, optText(m.department), std::string(mediaStateName(m.state)), opt(m.reviewedBy),
         optText(m.reviewReason), opt(m.reviewedAtMs), opt(m.durationMs), opt(m.width), opt(m.height), i(m.updatedAtMs),
         opt(m.validUntilMs), i(m.id)});
    ensureTags(c, m.tags);
    setTags(c, "media_tags", "media_id", m.id, m.tags);
}

std::vector<std::int64_t> expiredMediaIds(DbConn& c, std::int64_t nowMs) {
    std::vector<std::int64_t> out;
    for (auto& r : c.query("SELECT id FROM media WHERE state = 'approved' AND valid_until IS NOT NULL AND "
                           "valid_until <= ? ORDER BY valid_until, id",
                           {i(nowMs)}))
        out.push_back(r.i64(0));
    return out;
}

// --- recalls ----------------------------------------------------------------------------------
namespace {
const char* kRecallCols =
    "id, media_id, media_sha256, reason, recalled_at, recalled_by, actor, automatic, completed_at";
Recall recallFrom(const DbRow& r) {
    Recall x;
    x.id = r.i64(0);
    x.mediaId = r.i64(1);
    x.mediaSha256 = r.str(2);
    x.reason = r.str(3);
    x.recalledAtMs = r.i64(4);
    x.recalledBy = r.optI64(5);
    x.actor = r.str(6);
    x.automatic = r.i64(7) != 0;
    x.completedAtMs = r.optI64(8);
    return x;
}
std::vector<Recall> recallsWhere(DbConn& c, const std::string& tail, const DbParams& params = {}) {
    std::vector<Recall> out;
    for (auto& r : c.query(std::string("SELECT ") + kRecallCols + " FROM recalls " + tail, params))
        out.push_back(recallFrom(r));
    return out;
}
RecallScreen recallScreenFrom(const DbRow& r) {
    return RecallScreen{r.i64(0), r.str(1), r.optI64(2), r.str(3), r.optI64(4)};
}
}  // namespace

std::int64_t insertRecall(DbConn& c, const Recall& r) {
    c.exec(
        "INSERT INTO recalls(media_id, media_sha256, reason, recalled_at, recalled_by, actor, automatic) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        {i(r.mediaId), r.mediaSha256, r.reason, i(r.recalledAtMs), opt(r.recalledBy), r.actor, i(r.automatic ? 1 : 0)});
    return c.lastInsertId();
}
std::optional<Recall> recallById(DbConn& c, std::int64_t id) {
    auto v = recallsWhere(c, "WHERE id = ?", {i(id)});
    if (v.empty()) return std::nullopt;
    return v.front();
}
std::optional<Recall> recallOfMedia(DbConn& c, std::int64_t mediaId) {
    auto v = recallsWhere(c, "WHERE media_id = ? ORDER BY id DESC LIMIT 1", {i(mediaId)});
    if (v.empty()) return std::nullopt;
    return v.front();
}
std::vector<Recall> listRecalls(DbConn& c) {
    return recallsWhere(c, "ORDER BY id DESC");
}
std::vector<Recall> openRecalls(DbConn& c) {
    return recallsWhere(c, "WHERE completed_at IS NULL ORDER BY id");
}
void completeRecall(DbConn& c, std::int64_t id, std::int64_t atMs) {
    c.exec("UPDATE recalls SET completed_at = ? WHERE id = ? AND completed_at IS NULL", {i(atMs), i(id)});
}
void insertRecallScreen(DbConn& c, const RecallScreen& s) {
    c.exec(
        "INSERT INTO recall_screens(recall_id, player_id, version, manifest_sha256, confirmed_at) "
        "VALUES (?, ?, ?, ?, ?)",
        {i(s.recallId), s.playerId, opt(s.version), s.manifestSha256, opt(s.confirmedAtMs)});
}
std::vector<RecallScreen> recallScreens(DbConn& c, std::int64_t recallId) {
    std::vector<RecallScreen> out;
    for (auto& r : c.query("SELECT recall_id, player_id, version, manifest_sha256, confirmed_at FROM recall_screens "
                           "WHERE recall_id = ? ORDER BY player_id",
                           {i(recallId)}))
        out.push_back(recallScreenFrom(r));
    return out;
}
std::vector<RecallScreen> unconfirmedRecallScreens(DbConn& c, const std::string& playerId, std::int64_t version) {
    std::vector<RecallScreen> out;
    for (auto& r : c.query("SELECT s.recall_id, s.player_id, s.version, s.manifest_sha256, s.confirmed_at "
                           "FROM recall_screens s JOIN recalls r ON r.id = s.recall_id WHERE r.completed_at IS NULL "
                           "AND s.player_id = ? AND s.confirmed_at IS NULL AND s.version IS NOT NULL AND "
                           "s.version <= ? ORDER BY s.recall_id",
                           {playerId, i(version)}))
        out.push_back(recallScreenFrom(r));
    return out;
}
std::int64_t unconfirmedRecallCount(DbConn& c, std::int64_t recallId) {
    auto r = c.one(
        "SELECT COUNT(*) FROM recall_screens s JOIN players p ON p.id = s.player_id WHERE s.recall_id = ? "
        "AND p.state = 'enrolled' AND s.confirmed_at IS NULL",
        {i(recallId)});
    return r ? r->i64(0) : 0;
}
void confirmRecallScreen(DbConn& c, std::int64_t recallId, const std::string& playerId, std::int64_t atMs) {
    c.exec("UPDATE recall_screens SET confirmed_at = ? WHERE recall_id = ? AND player_id = ? AND confirmed_at IS NULL",
           {i(atMs), i(recallId), playerId});
}
std::vector<std::string> playersThatHadMedia(DbConn& c, const std::string& sha256) {
    std::set<std::string> ids;
    // A manifest names its media by hash; a 64-hex hash occurs nowhere else by chance.
    for (auto& r :
         c.query("SELECT DISTINCT player_id FROM compiled_manifests WHERE manifest LIKE '%' || ? || '%'", {sha256}))
        ids.insert(r.str(0));
    // Plays of a file derived from it (normalised still, rendition) are plays of it.
    for (auto& r : c.query("SELECT DISTINCT player_id FROM pop_records WHERE (media = ? OR media IN (SELECT d.sha256 "
                           "FROM media_derived d JOIN media o ON o.id = d.media_id WHERE o.sha256 = ? AND d.sha256 <> "
                           "'')) AND kind = 'play'",
                           {sha256, sha256}))
        ids.insert(r.str(0));
    return {ids.begin(), ids.end()};
}
std::optional<ManifestRef> latestManifest(DbConn& c, const std::string& playerId, const std::string& mediaSha256) {
    auto r = c.one(
        "SELECT version, sha256, manifest FROM compiled_manifests WHERE player_id = ? "
        "ORDER BY version DESC LIMIT 1",
        {playerId});
    if (!r) return std::nullopt;
    const std::string bytes = r->str(2);
    ManifestRef out{r->i64(0), r->str(1), bytes.find(mediaSha256) != std::string::npos};
    if (out.sha256.empty()) out.sha256 = crypto::sha256Hex(bytes);
    return out;
}
PlaysOf playsOf(DbConn& c, const std::string& playerId, const std::string& sha256,
                std::optional<std::int64_t> afterMs) {
    PlaysOf out;
    if (auto r = c.one("SELECT MAX(start_utc_ms) FROM pop_records WHERE (media = ? OR media IN (SELECT d.sha256 FROM "
                       "media_derived d JOIN media o ON o.id = d.media_id WHERE o.sha256 = ? AND d.sha256 <> '')) AND "
                       "player_id = ? AND kind = 'play'",
                       {sha256, sha256, playerId});
        r && !r->isNull(0))
        out.lastStartMs = r->i64(0);
    if (afterMs && out.lastStartMs && *out.lastStartMs > *afterMs) {
        auto rows = c.query(
            "SELECT seq, start_utc_ms FROM pop_records WHERE (media = ? OR media IN (SELECT d.sha256 FROM "
            "media_derived d JOIN media o ON o.id = d.media_id WHERE o.sha256 = ? AND d.sha256 <> '')) AND player_id = "
            "? AND kind = 'play' AND "
            "start_utc_ms > ? ORDER BY seq",
            {sha256, sha256, playerId, i(*afterMs)});
        out.after = static_cast<std::int64_t>(rows.size());
        if (!rows.empty()) {
            out.firstAfterSeq = rows.front().i64(0);
            out.firstAfterStartMs = rows.front().i64(1);
        }
    }
    return out;
}

std::optional<LastFailure> lastFailure(DbConn& c, const std::string& playerId, const std::string& sha256,
                                       std::int64_t sinceMs) {
    auto last = c.one(
        "SELECT start_utc_ms, outcome, record FROM pop_records WHERE media = ? AND player_id = ? AND kind = 'play' "
        "ORDER BY start_utc_ms DESC, seq DESC LIMIT 1",
        {sha256, playerId});
    if (!last || last->str(1) != "failed") return std::nullopt;
    LastFailure f;
    f.startMs = last->i64(0);
    if (auto doc = json::parse(last->str(2)); doc) {
        if (const auto* d = doc->find("detail"); d && d->isString()) f.reason = d->asString();
        if (const auto* v = doc->find("bundle_version"); v && v->isInt()) f.bundleVersion = v->asInt();
    }
    if (auto n = c.one("SELECT COUNT(*) FROM pop_records WHERE media = ? AND player_id = ? AND kind = 'play' AND "
                       "outcome = 'failed' AND start_utc_ms >= ?",
                       {sha256, playerId, i(sinceMs)}))
        f.failuresSince = n->i64(0);
    return f;
}

std::optional<LastDegraded> lastDegraded(DbConn& c, const std::string& playerId, const std::string& sha256) {
    auto last = c.one(
        "SELECT start_utc_ms, outcome, frames, frames_late, frames_dropped, longest_freeze_ms FROM pop_records "
        "WHERE media = ? AND player_id = ? AND kind = 'play' ORDER BY start_utc_ms DESC, seq DESC LIMIT 1",
        {sha256, playerId});
    if (!last || last->str(1) != "degraded") return std::nullopt;
    return LastDegraded{last->i64(0), last->i64(2), last->i64(3), last->i64(4), last->i64(5)};
}

void deleteMedia(DbConn& c, std::int64_t id) {
    c.exec("DELETE FROM media_derived WHERE media_id = ?", {i(id)});
    c.exec("DELETE FROM media WHERE id = ?", {i(id)});
}

const char* kDerivedCols =
    "id, media_id, purpose, box_width, box_height, state, sha256, kind, mime, size_bytes, duration_ms, width, "
    "height, transform, error, created_at, updated_at";
MediaDerived derivedFrom(const DbRow& r) {
    MediaDerived d;
    d.id = r.i64(0);
    d.mediaId = r.i64(1);
    d.purpose = r.str(2);
    d.boxWidth = r.i64(3);
    d.boxHeight = r.i64(4);
    d.state = r.str(5);
    d.sha256 = r.str(6);
    d.kind = r.str(7);
    d.mime = r.str(8);
    d.sizeBytes = r.i64(9);
    d.durationMs = r.optI64(10);
    d.width = r.optI64(11);
    d.height = r.optI64(12);
    d.transform = r.str(13);
    d.error = r.str(14);
    d.createdAtMs = r.i64(15);
    d.updatedAtMs = r.i64(16);
    return d;
}
std::int64_t insertDerived(DbConn& c, const MediaDerived& d) {
    c.exec(
        "INSERT INTO media_derived(media_id, purpose, box_width, box_height, state, sha256, kind, mime, size_bytes, "
        "duration_ms, width, height, transform, error, created_at, updated_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        {i(d.mediaId), d.purpose, i(d.boxWidth), i(d.boxHeight), d.state, d.sha256, d.kind, d.mime, i(d.sizeBytes),
         opt(d.durationMs), opt(d.width), opt(d.height), d.transform, d.error, i(d.createdAtMs), i(d.updatedAtMs)});
    return c.lastInsertId();
}
void updateDerived(DbConn& c, const MediaDerived& d) {
    c.exec(
        "UPDATE media_derived SET state = ?, sha256 = ?, kind = ?, mime = ?, size_bytes = ?, duration_ms = ?, "
        "width = ?, height = ?, transform = ?, error = ?, updated_at = ? WHERE id = ?",
        {d.state, d.sha256, d.kind, d.mime, i(d.sizeBytes), opt(d.durationMs), opt(d.width), opt(d.height), d.transform,
         d.error, i(d.updatedAtMs), i(d.id)});
}
std::vector<MediaDerived> derivedOf(DbConn& c, std::int64_t mediaId) {
    std::vector<MediaDerived> out;
    for (auto& r : c.query(std::string("SELECT ") + kDerivedCols +
                               " FROM media_derived WHERE media_id = ? ORDER BY purpose, box_width, box_height, id",
                           {i(mediaId)}))
        out.push_back(derivedFrom(r));
    return out;
}
std::vector<MediaDerived> listDerived(DbConn& c) {
    std::vector<MediaDerived> out;
    for (auto& r : c.query(std::string("SELECT ") + kDerivedCols + " FROM media_derived ORDER BY id"))
        out.push_back(derivedFrom(r));
    return out;
}
std::optional<MediaDerived> derivedById(DbConn& c, std::int64_t id) {
    auto r = c.one(std::string("SELECT ") + kDerivedCols + " FROM media_derived WHERE id = ?", {i(id)});
    if (!r) return std::nullopt;
    return derivedFrom(*r);
}
bool requestRendition(DbConn& c, std::int64_t mediaId, std::int64_t boxWidth, std::int64_t boxHeight,
                      std::int64_t nowMs) {
    c.exec(
        "INSERT INTO media_derived(media_id, purpose, box_width, box_height, state, created_at, "
        "updated_at) VALUES (?, 'rendition', ?, ?, 'pending', ?, ?) ON CONFLICT DO NOTHING",
        {i(mediaId), i(boxWidth), i(boxHeight), i(nowMs), i(nowMs)});
    return c.changes() > 0;
}
std::optional<MediaDerived> takePendingRendition(DbConn& c, std::int64_t nowMs) {
    auto r = c.one(std::string("SELECT ") + kDerivedCols +
                   " FROM media_derived WHERE purpose = 'rendition' AND state = 'pending' ORDER BY id LIMIT 1");
    if (!r) return std::nullopt;
    auto d = derivedFrom(*r);
    c.exec("UPDATE media_derived SET state = 'working', updated_at = ? WHERE id = ?", {i(nowMs), i(d.id)});
    d.state = "working";
    return d;
}
bool contentInUse(DbConn& c, const std::string& sha256) {
    return c
        .one("SELECT 1 FROM media WHERE sha256 = ? UNION ALL SELECT 1 FROM media_derived WHERE sha256 = ? LIMIT 1",
             {sha256, sha256})
        .has_value();
}

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
        "last_seen_at = ?, status_json = ?, updated_at = ? WHERE id = ?",
        {p.name, opt(p.locationId), opt(p.width), opt(p.height), p.orientation, std::string(playerStateName(p.state)),
         opt(p.lastSeenAtMs), optText(p.statusJson), i(p.updatedAtMs), p.id});
}

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
void cancelTakeover(DbConn& c, std::int64_t id, std::int64_t nowMs) {
    c.exec("UPDATE takeovers SET cancelled_at = ? WHERE id = ? AND cancelled_at IS NULL", {i(nowMs), i(id)});
}
void updateTakeover(DbConn& c, const Takeover& t) {
    c.exec("UPDATE takeovers SET name = ?, playlist_id = ?, target_json = ?, expires_at = ? WHERE id = ?",
           {t.name, i(t.playlistId), t.targetJson, i(t.expiresAtMs), i(t.id)});
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

}  // namespace repo
}  // namespace microscape::controller
