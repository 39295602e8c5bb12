// Login, sessions, users, API tokens, audit log and tags.
#include <Poco/Net/HTTPCookie.h>
#include <Poco/Net/MediaType.h>
#include <Poco/String.h>

#include <thread>

#include "api.hpp"
#include "microscape/controller/login_throttle.hpp"
#include "microscape/controller/repo.hpp"
#include "microscape/controller/security.hpp"

namespace microscape::controller {
namespace {

// The configured password policy (auth.passwordMinLength / auth.passwordMinClasses).
void checkPassword(const RequestCtx& ctx, const std::string& pw) {
    if (pw.size() > 1024) badRequest("password too long");
    const auto& cfg = ctx.svc.config;
    if (auto why = passwordPolicyViolation(pw, cfg.passwordMinLength, cfg.passwordMinClasses))
        unprocessable("weak_password", *why);
}

// Login CSRF: a login must be a JSON request (a form or text/plain cannot be sent
// cross-site without a preflight) and, when the browser names its Origin, come from
// this very host.
void requireSameOriginJson(const RequestCtx& ctx) {
    std::string type;
    try {
        Poco::Net::MediaType mt(ctx.req.getContentType());
        type = Poco::toLower(mt.getType() + "/" + mt.getSubType());
    } catch (const Poco::Exception&) {
    }
    if (type != "application/json")
        throw ApiError(415, "unsupported_media_type", "log in with Content-Type: application/json");
    if (!ctx.req.has("Origin")) return;
    const std::string origin = ctx.req.get("Origin");
    const std::string host = Poco::toLower(ctx.req.getHost());
    bool same = false;
    try {
        Poco::URI o(origin);
        if ((o.getScheme() == "http" || o.getScheme() == "https") && !o.getHost().empty() && o.getPath().empty()) {
            const std::string authority = Poco::toLower(o.getHost()) + ":" + std::to_string(o.getPort());
            // The Host header may leave out the scheme's default port.
            std::string hostPort = host;
            const auto colon = host.rfind(':');
            if (colon == std::string::npos || host.back() == ']')
                hostPort += ":" + std::to_string(o.getScheme() == "https" ? 443 : 80);
            same = !host.empty() && (hostPort == authority || Poco::toLower(o.getAuthority()) == host);
        }
    } catch (const Poco::Exception&) {
    }
    if (!same) forbidden("login from another origin is refused");
}

void setSessionCookie(RequestCtx& ctx, const std::string& value, int maxAgeSeconds) {
    Poco::Net::HTTPCookie cookie("ms_session", value);
    cookie.setPath("/");
    cookie.setHttpOnly(true);
    cookie.setSameSite(Poco::Net::HTTPCookie::SAME_SITE_STRICT);
    cookie.setSecure(ctx.svc.config.secureCookies || ctx.svc.config.tls);
    cookie.setMaxAge(maxAgeSeconds);
    ctx.resp.addCookie(cookie);
}

std::string checkedUsername(const std::string& s) {
    if (s.size() > 64) badRequest("username longer than 64 bytes");
    for (unsigned char c : s)
        if (!(std::isalnum(c) || c == '.' || c == '_' || c == '-'))
            badRequest("username may hold only letters, digits, '.', '_' and '-'");
    return s;
}

Role checkedRole(const std::string& s) {
    auto r = roleFromName(s);
    if (!r) badRequest("role must be one of admin, editor, approver, auditor, alert_feed");
    return *r;
}

Poco::JSON::Object::Ptr tokenJson(const repo::ApiTokenRow& t) {
    Poco::JSON::Object::Ptr o = new Poco::JSON::Object;
    o->set("id", Poco::Int64(t.id));
    o->set("userId", Poco::Int64(t.userId));
    o->set("name", t.name);
    o->set("createdAt", isoUtc(t.createdAtMs));
    o->set("lastUsedAt", optIso(t.lastUsedAtMs));
    o->set("revokedAt", optIso(t.revokedAtMs));
    return o;
}

void login(RequestCtx& ctx) {
    requireSameOriginJson(ctx);
    auto body = ctx.jsonBody();
    const std::string username = reqString(body, "username", 64);
    const std::string password = reqString(body, "password", 1024);
    auto& svc = ctx.svc;
    auto& throttle = *svc.loginThrottle;
    const std::string address = LoginThrottle::addressKey(ctx.req.clientAddress().host().toString());
    const std::int64_t started = svc.nowMs();
    // Login-failure handling (docs/controller-api.md "Login throttling"): growing waits
    // per address and per (address, username); a username attacked from everywhere is
    // only slowed down, so its owner can still log in from elsewhere.
    const auto decision = throttle.check(address, username, started);
    if (!decision.allowed) {
        svc.metrics.loginsThrottled++;
        const std::int64_t secs = (decision.retryAfterMs + 999) / 1000;
        ctx.resp.set("Retry-After", std::to_string(secs));
        throw ApiError(429, "too_many_attempts",
                       "too many failed logins from this address; try again in " + std::to_string(secs) + " s");
    }
    // The attempt counts as a failure until it ends (LoginThrottle::check);
    // one that throws before it is decided is abandoned.
    struct Attempt {
        LoginThrottle& throttle;
        const std::string& address;
        const std::string& username;
        bool ended = false;
        ~Attempt() {
            if (!ended) throttle.abandon(address, username);
        }
    } attempt{throttle, address, username};
    if (decision.slowdownMs > 0) std::this_thread::sleep_for(std::chrono::milliseconds(decision.slowdownMs));
    auto user = svc.db.read([&](DbConn& c) { return repo::userByName(c, username); });
    std::string stored =
        user ? svc.db.read([&](DbConn& c) { return repo::passwordHashOf(c, user->id).value_or(""); }) : std::string();
    // Hash even for an unknown user, at the configured cost, so response time does not
    // reveal which names exist.
    if (stored.empty()) stored = dummyPasswordHash(svc.config.pbkdf2Iterations);
    bool ok = verifyPassword(password, stored) && user && !user->disabled;
    if (!ok) {
        throttle.recordFailure(address, username, started);
        attempt.ended = true;
        svc.metrics.loginFailures++;
        // Unauthenticated failures are bounded in the log and the audit table: at most
        // a few per minute are written, the rest are counted in the next row.
        const auto ticket = throttle.auditTicket(started);
        if (ticket.record) {
            const std::string name = escapeControl(username);
            svc.log.notice("failed login for '%s' from %s%s", name, address,
                           ticket.suppressedBefore > 0
                               ? " (" + std::to_string(ticket.suppressedBefore) + " earlier failures not logged)"
                               : std::string());
            Poco::JSON::Object::Ptr after = new Poco::JSON::Object;
            after->set("address", address);
            if (ticket.suppressedBefore > 0)
                after->set("unrecordedFailuresBefore", Poco::Int64(ticket.suppressedBefore));
            svc.db.write([&](DbConn& c) {
                repo::audit(c, Actor{0, "anonymous", Role::Auditor, {}}, "login_failed", "session", name, "",
                            stringify(after), started);
            });
        }
        throw ApiError(401, "invalid_credentials", "wrong username or password");
    }
    throttle.recordSuccess(address, username);
    attempt.ended = true;
    const std::string token = randomToken(32);
    const std::string csrf = randomToken(24);
    const std::int64_t now = svc.nowMs();
    svc.db.write([&](DbConn& c) {
        repo::purgeIdleSessions(c, now - std::int64_t(svc.config.sessionIdleSeconds) * 1000);
        repo::insertSession(c, sha256Hex(token), user->id, csrf, now,
                            now + std::int64_t(svc.config.sessionTtlSeconds) * 1000);
        ctx.who = Principal{*user, true, {}};
        Poco::JSON::Object::Ptr after = new Poco::JSON::Object;
        after->set("address", address);
        recordAudit(c, ctx, "login", "session", std::to_string(user->id), {}, after);
    });
    setSessionCookie(ctx, token, svc.config.sessionTtlSeconds);
    Poco::JSON::Object::Ptr out = new Poco::JSON::Object;
    out->set("user", userJson(*user));
    out->set("csrfToken", csrf);
    ctx.sendJson(200, out);
}

void logout(RequestCtx& ctx) {
    if (ctx.principal().viaCookie)
        ctx.svc.db.write([&](DbConn& c) { repo::deleteSession(c, ctx.principal().sessionHash); });
    setSessionCookie(ctx, "", 0);
    ctx.sendNoContent();
}

void me(RequestCtx& ctx) {
    Poco::JSON::Object::Ptr out = new Poco::JSON::Object;
    out->set("user", userJson(ctx.principal().user));
    if (ctx.principal().viaCookie) {
        auto s = ctx.svc.db.read([&](DbConn& c) { return repo::sessionByHash(c, ctx.principal().sessionHash); });
        if (s) out->set("csrfToken", s->csrf);
    }
    ctx.sendJson(200, out);
}

void changeOwnPassword(RequestCtx& ctx) {
    auto body = ctx.jsonBody();
    const std::string current = reqString(body, "currentPassword", 1024);
    const std::string next = reqString(body, "newPassword", 1024);
    checkPassword(ctx, next);
    auto& svc = ctx.svc;
    const auto id = ctx.principal().user.id;
    auto stored = svc.db.read([&](DbConn& c) { return repo::passwordHashOf(c, id).value_or(""); });
    if (!verifyPassword(current, stored)) throw ApiError(403, "invalid_credentials", "current password is wrong");
    const std::string hash = hashPassword(next, svc.config.pbkdf2Iterations);
    svc.db.write([&](DbConn& c) {
        const std::int64_t now = svc.nowMs();
        repo::setPassword(c, id, hash, now);
        // Whoever else holds a session or token of this account loses it; the
        // session that made the change carries on.
        if (ctx.principal().viaCookie)
            repo::deleteOtherSessionsOf(c, id, ctx.principal().sessionHash);
        else
            repo::deleteSessionsOf(c, id);
        repo::revokeApiTokensOf(c, id, now);
        recordAudit(c, ctx, "change_password", "user", std::to_string(id), {}, {});
    });
    ctx.sendNoContent();
}

void listUsers(RequestCtx& ctx) {
    Poco::JSON::Array::Ptr arr = new Poco::JSON::Array;
    for (const auto& u : ctx.svc.db.read([](DbConn& c) { return repo::listUsers(c); })) arr->add(userJson(u));
    Poco::JSON::Object::Ptr out = new Poco::JSON::Object;
    out->set("users", arr);
    ctx.sendJson(200, out);
}

void createUser(RequestCtx& ctx) {
    auto body = ctx.jsonBody();
    User u;
    u.username = checkedUsername(reqString(body, "username", 64));
    const std::string password = reqString(body, "password", 1024);
    checkPassword(ctx, password);
    u.fleetWide = optBool(body, "fleetWide").value_or(false);
    u.role = checkedRole(reqString(body, "role", 20));
    u.department = optString(body, "department", 100).value_or("");
    u.displayName = optString(body, "displayName", 100).value_or(u.username);
    if (u.role == Role::Editor && u.department.empty())
        badRequest("an editor belongs to a department: field 'department' is required");
    const std::string hash = hashPassword(password, ctx.svc.config.pbkdf2Iterations);
    auto& svc = ctx.svc;
    auto created = svc.db.write([&](DbConn& c) {
        if (repo::userByName(c, u.username)) throw ApiError(409, "conflict", "user '" + u.username + "' exists");
        auto id = repo::insertUser(c, u, hash, svc.nowMs());
        auto stored = *repo::userById(c, id);
        recordAudit(c, ctx, "create", "user", std::to_string(id), {}, userJson(stored));
        return stored;
    });
    ctx.sendJson(201, userJson(created));
}

void getUser(RequestCtx& ctx) {
    auto id = ctx.idParam("id");
    auto u = ctx.svc.db.read([&](DbConn& c) { return repo::userById(c, id); });
    if (!u) notFound("user");
    ctx.sendJson(200, userJson(*u));
}

void patchUser(RequestCtx& ctx) {
    auto id = ctx.idParam("id");
    auto body = ctx.jsonBody();
    std::optional<std::string> hash;
    if (auto pw = optString(body, "password", 1024)) {
        checkPassword(ctx, *pw);
        hash = hashPassword(*pw, ctx.svc.config.pbkdf2Iterations);
    }
    auto& svc = ctx.svc;
    auto updated = svc.db.write([&](DbConn& c) {
        repo::lockForEdit(c, repo::Editable::User, id);
        auto u = repo::userById(c, id);
        if (!u) notFound("user");
        auto before = userJson(*u);
        if (auto v = optString(body, "displayName", 100)) u->displayName = *v;
        if (auto v = optString(body, "role", 20)) u->role = checkedRole(*v);
        if (body->has("department")) u->department = optString(body, "department", 100).value_or("");
        if (auto v = optBool(body, "disabled")) u->disabled = *v;
        if (auto v = optBool(body, "fleetWide")) u->fleetWide = *v;
        if (u->role == Role::Editor && u->department.empty()) badRequest("an editor needs a department");
        if (u->id == ctx.principal().user.id && (u->disabled || u->role != Role::Admin))
            unprocessable("self_lockout", "admins cannot disable or demote themselves");
        repo::updateUser(c, *u, svc.nowMs());
        if (hash) repo::setPassword(c, id, *hash, svc.nowMs());
        if (hash) {
            // A reset ends every session and token of the account (the admin's own
            // current session excepted when resetting their own password).
            if (id == ctx.principal().user.id && ctx.principal().viaCookie)
                repo::deleteOtherSessionsOf(c, id, ctx.principal().sessionHash);
            else
                repo::deleteSessionsOf(c, id);
            repo::revokeApiTokensOf(c, id, svc.nowMs());
        } else if (u->disabled) {
            repo::deleteSessionsOf(c, id);
        }
        recordAudit(c, ctx, "update", "user", std::to_string(id), before, userJson(*u));
        return *u;
    });
    ctx.sendJson(200, userJson(updated));
}

void listTokens(RequestCtx& ctx) {
    const auto& p = ctx.principal();
    std::optional<std::int64_t> only;
    if (p.user.role != Role::Admin) only = p.user.id;
    Poco::JSON::Array::Ptr arr = new Poco::JSON::Array;
    for (const auto& t : ctx.svc.db.read([&](DbConn& c) { return repo::listApiTokens(c, only); }))
        arr->add(tokenJson(t));
    Poco::JSON::Object::Ptr out = new Poco::JSON::Object;
    out->set("tokens", arr);
    ctx.sendJson(200, out);
}

void createToken(RequestCtx& ctx) {
    auto body = ctx.jsonBody();
    const std::string name = reqString(body, "name", 100);
    const std::string token = "mst_" + randomToken(32);
    auto& svc = ctx.svc;
    auto row = svc.db.write([&](DbConn& c) {
        auto id = repo::insertApiToken(c, ctx.principal().user.id, name, sha256Hex(token), svc.nowMs());
        auto t = *repo::apiTokenById(c, id);
        recordAudit(c, ctx, "create", "api_token", std::to_string(id), {}, tokenJson(t));
        return t;
    });
    auto out = tokenJson(row);
    out->set("token", token);  // shown once; only its hash is stored
    ctx.sendJson(201, out);
}

void revokeToken(RequestCtx& ctx) {
    auto id = ctx.idParam("id");
    auto& svc = ctx.svc;
    svc.db.write([&](DbConn& c) {
        auto t = repo::apiTokenById(c, id);
        if (!t || (t->userId != ctx.principal().user.id && ctx.principal().user.role != Role::Admin)) notFound("token");
        repo::revokeApiToken(c, id, svc.nowMs());
        recordAudit(c, ctx, "revoke", "api_token", std::to_string(id), tokenJson(*t), {});
    });
    ctx.sendNoContent();
}

void listAudit(RequestCtx& ctx) {
    std::int64_t before = std::numeric_limits<std::int64_t>::max();
    int limit = 100;
    if (auto b = ctx.query("before")) {
        try {
            before = std::stoll(*b);
        } catch (...) {
            badRequest("query 'before' must be an integer");
        }
    }
    if (auto l = ctx.query("limit")) {
        try {
            limit = std::stoi(*l);
        } catch (...) {
            badRequest("query 'limit' must be an integer");
        }
        if (limit < 1 || limit > 1000) badRequest("query 'limit' must be within 1..1000");
    }
    const std::string entity = ctx.query("entity").value_or("");
    auto rows = ctx.svc.db.read([&](DbConn& c) { return repo::listAudit(c, before, limit, entity); });
    Poco::JSON::Array::Ptr arr = new Poco::JSON::Array;
    for (const auto& e : rows) {
        Poco::JSON::Object::Ptr o = new Poco::JSON::Object;
        o->set("id", Poco::Int64(e.id));
        o->set("at", isoUtc(e.atMs));
        o->set("actorId", nullable(e.actorId));
        o->set("actor", e.actor);
        o->set("action", e.action);
        o->set("entity", e.entity);
        o->set("entityId", nullableStr(e.entityId));
        o->set("before",
               e.beforeJson.empty() ? Poco::Dynamic::Var() : Poco::Dynamic::Var(parseStoredJson(e.beforeJson)));
        o->set("after", e.afterJson.empty() ? Poco::Dynamic::Var() : Poco::Dynamic::Var(parseStoredJson(e.afterJson)));
        arr->add(o);
    }
    Poco::JSON::Object::Ptr out = new Poco::JSON::Object;
    out->set("entries", arr);
    ctx.sendJson(200, out);
}

void listTags(RequestCtx& ctx) {
    Poco::JSON::Array::Ptr arr = new Poco::JSON::Array;
    for (const auto& [name, seeded] : ctx.svc.db.read([](DbConn& c) { return repo::listTags(c); })) {
        Poco::JSON::Object::Ptr o = new Poco::JSON::Object;
        o->set("name", name);
        o->set("seeded", seeded);
        arr->add(o);
    }
    Poco::JSON::Object::Ptr out = new Poco::JSON::Object;
    out->set("tags", arr);
    ctx.sendJson(200, out);
}

}  // namespace

void addAuthRoutes(Router& r) {
    r.add(Route{"POST", "/api/v1/login", kPublic, "auth", "Log in; sets the session cookie and returns the CSRF token",
                login}
              .body("LoginRequest")
              .reply("Session"));
    r.add({"POST", "/api/v1/logout", kOwnAccount, "auth", "End the cookie session", logout, 204});
    r.add(Route{"GET", "/api/v1/me", kOwnAccount, "auth", "The current user (and CSRF token for cookie sessions)", me}
              .reply("Session"));
    r.add(Route{"PUT", "/api/v1/me/password", kOwnAccount, "auth", "Change one's own password", changeOwnPassword, 204}
              .body("PasswordChange"));
    r.add(Route{"GET", "/api/v1/users", kAdmin, "users", "List users", listUsers}.reply("UserList"));
    r.add(Route{"POST", "/api/v1/users", kAdmin, "users", "Create a user", createUser, 201}
              .body("UserCreate")
              .reply("User"));
    r.add(Route{"GET", "/api/v1/users/{id}", kAdmin, "users", "Get a user", getUser}.reply("User"));
    r.add(Route{"PATCH", "/api/v1/users/{id}", kAdmin, "users",
                "Change role, department, name, fleetWide right, password or disable", patchUser}
              .body("UserChange")
              .reply("User"));
    r.add(
        Route{"GET", "/api/v1/tokens", kOwnAccount, "auth", "List API tokens (own; admins see all)", listTokens}.reply(
            "ApiTokenList"));
    r.add(Route{"POST", "/api/v1/tokens", kOwnAccount, "auth", "Create an API token (shown once)", createToken, 201}
              .body("TokenCreate")
              .reply("ApiToken"));
    r.add({"DELETE", "/api/v1/tokens/{id}", kOwnAccount, "auth", "Revoke an API token", revokeToken, 204});
    r.add(withQuery(Route{"GET", "/api/v1/audit", kAdmin | kAuditor, "audit",
                          "Audit log, newest first (?before=&limit=&entity=)", listAudit},
                    {{"before", "integer"}, {"limit", "integer"}, {"entity"}})
              .reply("AuditList"));
    r.add(Route{"GET", "/api/v1/tags", kAnyUser, "media", "Theme tags (seeded ones first)", listTags}.reply(
        "TagCatalogue"));
}

}  // namespace microscape::controller
