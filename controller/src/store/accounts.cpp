// The store: users, their roles, browser sessions and API tokens.
#include "microscape/controller/repo.hpp"

#include <set>

#include "microscape/core/audit.hpp"
#include "microscape/core/crypto.hpp"
#include "microscape/core/json.hpp"
#include "store/repo_rows.hpp"

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

namespace repo {

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

}  // namespace repo
}  // namespace microscape::controller
