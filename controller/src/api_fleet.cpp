// Locations, enrolment tokens, player enrolment and players.
#include <Poco/String.h>

#include <set>

#include "api.hpp"
#include "cluster.hpp"
#include "compiler.hpp"
#include "keys.hpp"
#include "microscape/controller/hub.hpp"
#include "microscape/controller/repo.hpp"
#include "microscape/controller/security.hpp"
#include "microscape/core/crypto.hpp"
#include "microscape/core/json.hpp"
#include "microscape/core/tz.hpp"
#include "reports.hpp"
#include "store/change_feed.hpp"
#include "tls.hpp"

namespace microscape::controller {

const std::vector<std::string>& venueTypes() {
    static const std::vector<std::string> kVenues = {
        "mall", "garage_entrance", "building_entrance", "street_gate", "community", "campus", "other"};
    return kVenues;
}

namespace {

constexpr std::int64_t kOnlineWindowMs = 90'000;

Poco::JSON::Object::Ptr locationJson(const Location& l) {
    Poco::JSON::Object::Ptr o = new Poco::JSON::Object;
    o->set("id", Poco::Int64(l.id));
    o->set("name", l.name);
    o->set("venueType", l.venueType);
    o->set("district", l.district);
    o->set("adminCode", l.adminCode);
    o->set("address", l.address);
    o->set("timezone", l.timezone);
    o->set("operatingHours", parseStoredArray(l.hoursJson));
    o->set("fillerPlaylistId", nullable(l.fillerPlaylistId));
    o->set("tags", toArray(l.tags));
    o->set("mirrors", toArray(l.mirrors));
    o->set("createdAt", isoUtc(l.createdAtMs));
    o->set("updatedAt", isoUtc(l.updatedAtMs));
    return o;
}

Poco::JSON::Object::Ptr playerJson(const Player& p, std::int64_t nowMs) {
    Poco::JSON::Object::Ptr o = new Poco::JSON::Object;
    o->set("id", p.id);
    o->set("name", p.name);
    o->set("locationId", nullable(p.locationId));
    o->set("width", nullable(p.width));
    o->set("height", nullable(p.height));
    o->set("orientation", p.orientation);
    o->set("state", std::string(playerStateName(p.state)));
    o->set("identityKey", p.identityKey);
    o->set("curveKey", p.curveKey);
    o->set("enrolledAt", isoUtc(p.enrolledAtMs));
    o->set("lastSeenAt", optIso(p.lastSeenAtMs));
    o->set("online", p.lastSeenAtMs && nowMs - *p.lastSeenAtMs <= kOnlineWindowMs);
    o->set("status", p.statusJson.empty() ? Poco::Dynamic::Var() : Poco::Dynamic::Var(parseStoredJson(p.statusJson)));
    return o;
}

Poco::JSON::Object::Ptr enrollTokenJson(const EnrollToken& t, std::int64_t nowMs) {
    Poco::JSON::Object::Ptr o = new Poco::JSON::Object;
    o->set("id", Poco::Int64(t.id));
    o->set("name", nullableStr(t.name));
    o->set("locationId", nullable(t.locationId));
    o->set("createdBy", Poco::Int64(t.createdBy));
    o->set("createdAt", isoUtc(t.createdAtMs));
    o->set("expiresAt", isoUtc(t.expiresAtMs));
    o->set("usedAt", optIso(t.usedAtMs));
    o->set("playerId", nullableStr(t.playerId));
    o->set("state", t.usedAtMs ? "used" : (t.expiresAtMs <= nowMs ? "expired" : "open"));
    return o;
}

}  // namespace

// "HH:MM" (00:00..24:00) -> minute of day; 400 naming the field otherwise.
int parseClock(const std::string& field, const std::string& s) {
    if (s.size() != 5 || s[2] != ':' || !std::isdigit(static_cast<unsigned char>(s[0])) ||
        !std::isdigit(static_cast<unsigned char>(s[1])) || !std::isdigit(static_cast<unsigned char>(s[3])) ||
        !std::isdigit(static_cast<unsigned char>(s[4])))
        badRequest(field + " must be HH:MM");
    int h = (s[0] - '0') * 10 + (s[1] - '0'), m = (s[3] - '0') * 10 + (s[4] - '0');
    if (m > 59 || h > 24 || (h == 24 && m != 0)) badRequest(field + " must be a time of day between 00:00 and 24:00");
    return h * 60 + m;
}

// Validates [{"days":[1..7],"start":"HH:MM","end":"HH:MM"}] and returns it in the
// stored (normalised) form. A window whose end is not after its start crosses
// midnight; "00:00"-"24:00" is the whole day.
std::string normaliseWindows(const std::string& field, const Poco::JSON::Array::Ptr& arr) {
    if (arr->size() > 32) badRequest(field + " holds more than 32 windows");
    json::Array out;
    for (std::size_t i = 0; i < arr->size(); ++i) {
        const std::string where = field + "[" + std::to_string(i) + "]";
        if (!arr->isObject(static_cast<unsigned>(i))) badRequest(where + " must be an object");
        auto w = arr->getObject(static_cast<unsigned>(i));
        std::set<std::int64_t> days;
        if (auto d = optArray(w, "days")) {
            for (std::size_t k = 0; k < (*d)->size(); ++k) {
                auto v = (*d)->get(static_cast<unsigned>(k));
                if (!v.isInteger() || v.convert<int>() < 1 || v.convert<int>() > 7)
                    badRequest(where + ".days holds ISO weekdays 1 (Monday) .. 7 (Sunday)");
                days.insert(v.convert<int>());
            }
            if (days.empty()) badRequest(where + ".days must not be empty");
        } else {
            days = {1, 2, 3, 4, 5, 6, 7};
        }
        int start = parseClock(where + ".start", reqString(w, "start", 5));
        int end = parseClock(where + ".end", reqString(w, "end", 5));
        if (start == 1440) badRequest(where + ".start cannot be 24:00");
        if (start == end) badRequest(where + ": start and end are equal; use 00:00-24:00 for a whole day");
        json::Array d;
        for (auto x : days) d.emplace_back(x);
        out.emplace_back(
            json::Object{{"days", d}, {"start", reqString(w, "start", 5)}, {"end", reqString(w, "end", 5)}});
    }
    return json::canonical(json::Value(out));
}

std::string checkedZone(const std::string& zone) {
    if (!tz::isValidZoneName(zone)) badRequest("timezone must be an IANA zone name like Asia/Shanghai");
    auto bytes = tz::loadZoneFile(zone);
    if (!bytes || !tz::parseTzif(*bytes)) badRequest("unknown time zone '" + zone + "'");
    return zone;
}

namespace {

std::optional<std::int64_t> checkedPlaylistRef(DbConn& c, const std::optional<std::int64_t>& id) {
    if (id && !repo::playlistById(c, *id))
        unprocessable("unknown_reference", "playlist " + std::to_string(*id) + " does not exist");
    return id;
}

void applyLocation(DbConn& c, const Poco::JSON::Object::Ptr& body, Location& l, bool creating) {
    if (creating || body->has("name")) l.name = reqString(body, "name", 255);
    if (creating || body->has("venueType")) {
        l.venueType = reqString(body, "venueType", 40);
        const auto& v = venueTypes();
        if (std::find(v.begin(), v.end(), l.venueType) == v.end())
            badRequest(
                "venueType must be one of mall, garage_entrance, building_entrance, street_gate, community, "
                "campus, other");
    }
    if (creating || body->has("district")) l.district = reqString(body, "district", 100);
    if (body->has("adminCode")) {
        l.adminCode = Poco::trim(optString(body, "adminCode", 32).value_or(""));
        for (char ch : l.adminCode)
            if (!std::isalnum(static_cast<unsigned char>(ch)) && ch != '.' && ch != '-')
                badRequest("adminCode may hold only letters, digits, '.' and '-'");
    }
    if (auto v = optString(body, "address", 500)) l.address = *v;
    if (auto v = optStringArray(body, "tags")) l.tags = *v;
    if (auto v = optString(body, "timezone", 128))
        l.timezone = checkedZone(*v);
    else if (creating)
        l.timezone = "Asia/Shanghai";
    if (body->has("operatingHours")) {
        auto a = optArray(body, "operatingHours");
        l.hoursJson = a ? normaliseWindows("operatingHours", *a) : "[]";
    }
    if (body->has("fillerPlaylistId")) l.fillerPlaylistId = checkedPlaylistRef(c, optInt(body, "fillerPlaylistId"));
    if (body->has("mirrors")) l.mirrors = checkedMirrors("mirrors", optArray(body, "mirrors"));
}

void listLocations(RequestCtx& ctx) {
    Poco::JSON::Array::Ptr arr = new Poco::JSON::Array;
    for (const auto& l : ctx.svc.db.read([](DbConn& c) { return repo::listLocations(c); })) arr->add(locationJson(l));
    Poco::JSON::Object::Ptr out = new Poco::JSON::Object;
    out->set("locations", arr);
    ctx.sendJson(200, out);
}

void createLocation(RequestCtx& ctx) {
    auto body = ctx.jsonBody();
    auto& svc = ctx.svc;
    auto saved = svc.db.write([&](DbConn& c) {
        Location l;
        applyLocation(c, body, l, true);
        l.createdAtMs = l.updatedAtMs = svc.nowMs();
        auto id = repo::insertLocation(c, l);
        auto s = *repo::locationById(c, id);
        recordAudit(c, ctx, "create", "location", std::to_string(id), {}, locationJson(s));
        return s;
    });
    ctx.sendJson(201, locationJson(saved));
}

Location loadLocation(DbConn& c, std::int64_t id) {
    auto l = repo::locationById(c, id);
    if (!l) notFound("location " + std::to_string(id));
    return *l;
}

void getLocation(RequestCtx& ctx) {
    auto id = ctx.idParam("id");
    ctx.sendJson(200, locationJson(ctx.svc.db.read([&](DbConn& c) { return loadLocation(c, id); })));
}

void patchLocation(RequestCtx& ctx) {
    auto id = ctx.idParam("id");
    auto body = ctx.jsonBody();
    auto& svc = ctx.svc;
    auto saved = svc.db.write([&](DbConn& c) {
        repo::lockForEdit(c, repo::Editable::Location, id);
        auto l = loadLocation(c, id);
        auto before = locationJson(l);
        applyLocation(c, body, l, false);
        l.updatedAtMs = svc.nowMs();
        repo::updateLocation(c, l);
        recordAudit(c, ctx, "update", "location", std::to_string(id), before, locationJson(l));
        return l;
    });
    svc.compiler->recompileAll("location " + std::to_string(id) + " changed");
    ctx.sendJson(200, locationJson(saved));
}

void deleteLocation(RequestCtx& ctx) {
    auto id = ctx.idParam("id");
    auto& svc = ctx.svc;
    try {
        svc.db.write([&](DbConn& c) {
            auto l = loadLocation(c, id);
            repo::deleteLocation(c, id);
            recordAudit(c, ctx, "delete", "location", std::to_string(id), locationJson(l), {});
        });
    } catch (const ConstraintError&) {
        throw ApiError(409, "in_use", "players or enrolment tokens still refer to this location");
    }
    ctx.sendNoContent();
}

// --- enrolment ----------------------------------------------------------------------------

void createEnrollToken(RequestCtx& ctx) {
    auto body = ctx.jsonBody();
    auto& svc = ctx.svc;
    const std::int64_t ttl = optInt(body, "ttlSeconds").value_or(24 * 3600);
    if (ttl < 60 || ttl > svc.config.maxEnrollTokenTtlSeconds)
        badRequest("ttlSeconds must be within 60.." + std::to_string(svc.config.maxEnrollTokenTtlSeconds));
    const std::string token = "enr_" + randomToken(24);
    auto saved = svc.db.write([&](DbConn& c) {
        EnrollToken t;
        t.name = optString(body, "name", 255).value_or("");
        t.locationId = optInt(body, "locationId");
        if (t.locationId) loadLocation(c, *t.locationId);
        t.createdBy = ctx.principal().user.id;
        t.createdAtMs = svc.nowMs();
        t.expiresAtMs = t.createdAtMs + ttl * 1000;
        t.id = repo::insertEnrollToken(c, t, sha256Hex(token));
        recordAudit(c, ctx, "create", "enroll_token", std::to_string(t.id), {}, enrollTokenJson(t, t.createdAtMs));
        return t;
    });
    auto out = enrollTokenJson(saved, svc.nowMs());
    out->set("token", token);  // shown once
    // The technician's command names the controller as configured (http.publicUrl),
    // never as the request's Host header says, and pins its keys.
    out->set("controllerUrl", svc.publicUrl);
    out->set("contentKeyHash", svc.contentKeyHash);
    out->set("tlsKeyHash", svc.tlsKeyHash.empty() ? Poco::Dynamic::Var() : Poco::Dynamic::Var(svc.tlsKeyHash));
    out->set("command", enrollCommand(svc.publicUrl, token, svc.contentKeyHash, svc.tlsKeyHash));
    ctx.sendJson(201, out);
}

void listEnrollTokens(RequestCtx& ctx) {
    const auto now = ctx.svc.nowMs();
    Poco::JSON::Array::Ptr arr = new Poco::JSON::Array;
    for (const auto& t : ctx.svc.db.read([](DbConn& c) { return repo::listEnrollTokens(c); }))
        arr->add(enrollTokenJson(t, now));
    Poco::JSON::Object::Ptr out = new Poco::JSON::Object;
    out->set("tokens", arr);
    ctx.sendJson(200, out);
}

bool isZ85Key(const std::string& s) {
    static const std::string kZ85 =
        "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#";
    return s.size() == 40 && s.find_first_not_of(kZ85) == std::string::npos;
}

void enroll(RequestCtx& ctx) {
    auto body = ctx.jsonBody();
    const std::string token = reqString(body, "token", 200);
    const std::string identity = reqString(body, "identityKey", 4096);
    const std::string curve = reqString(body, "curveKey", 40);
    if (!isEd25519PublicPem(identity))
        throw ApiError(400, "bad_key", "identityKey must be an Ed25519 public key in PEM (SubjectPublicKeyInfo) form");
    if (!isZ85Key(curve)) throw ApiError(400, "bad_key", "curveKey must be a 40-character Z85 CURVE public key");
    auto width = optInt(body, "width");
    auto height = optInt(body, "height");
    if ((width && (*width < 1 || *width > 16384)) || (height && (*height < 1 || *height > 16384)))
        badRequest("width and height must be within 1..16384");
    std::string orientation = optString(body, "orientation", 20).value_or("landscape");
    if (orientation != "landscape" && orientation != "portrait")
        badRequest("orientation must be landscape or portrait");
    auto name = optString(body, "name", 255);
    auto& svc = ctx.svc;
    const std::int64_t now = svc.nowMs();
    auto player = svc.db.write([&](DbConn& c) {
        auto t = repo::enrollTokenByHash(c, sha256Hex(token));
        if (!t) throw ApiError(401, "invalid_token", "unknown enrolment token");
        if (t->usedAtMs) throw ApiError(409, "token_used", "this enrolment token was already used");
        if (t->expiresAtMs <= now) throw ApiError(410, "token_expired", "this enrolment token has expired");
        if (repo::playerByCurveKey(c, curve))
            throw ApiError(409, "conflict", "a player with this CURVE key is already enrolled");
        Player p;
        p.id = "scr-" + Poco::toLower(sha256Hex(randomToken(16)).substr(0, 16));
        p.name = name.value_or(t->name.empty() ? p.id : t->name);
        p.locationId = t->locationId;
        p.width = width;
        p.height = height;
        p.orientation = orientation;
        p.identityKey = identity;
        p.curveKey = curve;
        p.enrolledAtMs = p.updatedAtMs = now;
        if (auto sw = optString(body, "software", 200))
            p.statusJson = stringify(parseStoredJson(R"({"software":)" + json::canonical(json::Value(*sw)) + "}"));
        repo::insertPlayer(c, p, t->id);
        if (!repo::consumeEnrollToken(c, t->id, p.id, now))
            throw ApiError(409, "token_used", "this enrolment token was already used");
        Actor who{0, "player:" + p.id, Role::Editor, {}};
        repo::audit(c, who, "enroll", "player", p.id, "", stringify(playerJson(p, now)), now);
        return p;
    });
    svc.log.information("player %s enrolled (%s)", player.id, escapeControl(player.name));
    if (auto m = svc.compiler->compilePlayer(player.id); !m)
        svc.log.error("player %s: first compilation failed: %s", player.id, m.error().str());
    Poco::JSON::Object::Ptr out = new Poco::JSON::Object;
    out->set("playerId", player.id);
    out->set("name", player.name);
    out->set("locationId", nullable(player.locationId));
    out->set("contentPublicKey", svc.contentPublicKeyPem);
    Poco::JSON::Object::Ptr hub = new Poco::JSON::Object;
    hub->set("port", svc.hub ? static_cast<int>(svc.hub->port()) : svc.config.zmqPort);
    hub->set("curveServerKey",
             svc.hubCurvePublicKey.empty() ? Poco::Dynamic::Var() : Poco::Dynamic::Var(svc.hubCurvePublicKey));
    // Several nodes (cluster.hubEndpoints): every node's hub, in the operator's
    // order; the screen fails over between them (all nodes share the hub's key).
    if (!svc.config.clusterHubEndpoints.empty()) {
        Poco::JSON::Array::Ptr endpoints = new Poco::JSON::Array;
        for (const auto& e : svc.config.clusterHubEndpoints) endpoints->add(e);
        hub->set("endpoints", endpoints);
    }
    out->set("hub", hub);
    ctx.sendJson(201, out);
}

// --- players ------------------------------------------------------------------------------------

Player loadPlayer(DbConn& c, const std::string& id) {
    auto p = repo::playerById(c, id);
    if (!p) notFound("player " + id);
    return *p;
}

void listPlayers(RequestCtx& ctx) {
    const auto now = ctx.svc.nowMs();
    auto locFilter = ctx.query("locationId");
    Poco::JSON::Array::Ptr arr = new Poco::JSON::Array;
    for (const auto& p : ctx.svc.db.read([](DbConn& c) { return repo::listPlayers(c); })) {
        if (locFilter && (!p.locationId || std::to_string(*p.locationId) != *locFilter)) continue;
        auto o = playerJson(p, now);
        if (ctx.svc.hub) o->set("online", ctx.svc.hub->isOnline(p.id));
        arr->add(o);
    }
    Poco::JSON::Object::Ptr out = new Poco::JSON::Object;
    out->set("players", arr);
    ctx.sendJson(200, out);
}

void getPlayer(RequestCtx& ctx) {
    auto id = ctx.param("id");
    auto o = playerJson(ctx.svc.db.read([&](DbConn& c) { return loadPlayer(c, id); }), ctx.svc.nowMs());
    if (ctx.svc.hub) o->set("online", ctx.svc.hub->isOnline(id));
    o->set("proofOfPlay", ctx.svc.db.read([&](DbConn& c) { return popSummaryJson(c, id); }));
    ctx.sendJson(200, o);
}

void patchPlayer(RequestCtx& ctx) {
    auto id = ctx.param("id");
    auto body = ctx.jsonBody();
    auto& svc = ctx.svc;
    auto saved = svc.db.write([&](DbConn& c) {
        repo::lockPlayerForEdit(c, id);
        auto p = loadPlayer(c, id);
        auto before = playerJson(p, svc.nowMs());
        if (auto v = optString(body, "name", 255)) p.name = *v;
        if (body->has("locationId")) {
            p.locationId = optInt(body, "locationId");
            if (p.locationId) loadLocation(c, *p.locationId);
        }
        if (body->has("width")) p.width = optInt(body, "width");
        if (body->has("height")) p.height = optInt(body, "height");
        if (auto v = optString(body, "orientation", 20)) {
            if (*v != "landscape" && *v != "portrait") badRequest("orientation must be landscape or portrait");
            p.orientation = *v;
        }
        if (auto v = optString(body, "state", 20)) {
            auto state = playerStateFromName(*v);
            if (!state) badRequest("state must be enrolled or retired");
            p.state = *state;
        }
        p.updatedAtMs = svc.nowMs();
        repo::updatePlayer(c, p);
        recordAudit(c, ctx, "update", "player", id, before, playerJson(p, svc.nowMs()));
        // (the other controller nodes end its session too, wherever it is connected)
        if (p.state == PlayerState::Retired) sql::announce(c.raw(), retireAnnouncement(id));
        return p;
    });
    if (saved.state == PlayerState::Enrolled) (void)svc.compiler->compilePlayer(id);
    // A retired player's live session ends now: offline, its connection closed,
    // its messages refused (the ZAP handler refuses its key from here on).
    if (saved.state == PlayerState::Retired && svc.hub) svc.hub->endSession(id);
    ctx.sendJson(200, playerJson(saved, svc.nowMs()));
}

}  // namespace

void addFleetRoutes(Router& r) {
    r.add(Route{"GET", "/api/v1/locations", kAnyUser, "locations", "List locations", listLocations}.reply(
        "LocationList"));
    r.add(Route{"POST", "/api/v1/locations", kAdmin, "locations", "Create a location", createLocation, 201}
              .body("LocationCreate")
              .reply("Location"));
    r.add(
        Route{"GET", "/api/v1/locations/{id}", kAnyUser, "locations", "Get a location", getLocation}.reply("Location"));
    r.add(Route{"PATCH", "/api/v1/locations/{id}", kAdmin, "locations", "Change a location", patchLocation}
              .body("LocationChange")
              .reply("Location"));
    r.add({"DELETE", "/api/v1/locations/{id}", kAdmin, "locations", "Delete an unused location", deleteLocation, 204});
    r.add(Route{"GET", "/api/v1/enrollment-tokens", kAdmin, "players", "List enrolment tokens", listEnrollTokens}.reply(
        "EnrollTokenList"));
    r.add(Route{"POST", "/api/v1/enrollment-tokens", kAdmin, "players",
                "Create a one-time, expiring enrolment token (shown once, with the technician's command)",
                createEnrollToken, 201}
              .body("EnrollTokenCreate")
              .reply("EnrollToken"));
    r.add(Route{"POST", "/api/v1/enroll", kPublic, "players",
                "Enrol a player with a token: registers its Ed25519 identity and CURVE public keys", enroll, 201}
              .body("EnrollRequest")
              .reply("Enrolled"));
    r.add(withQuery(Route{"GET", "/api/v1/players", kAnyUser, "players", "List players (?locationId=)", listPlayers},
                    {{"locationId", "integer"}})
              .reply("PlayerList"));
    r.add(textId(Route{"GET", "/api/v1/players/{id}", kAnyUser, "players", "Get a player", getPlayer}).reply("Player"));
    r.add(textId(Route{"PATCH", "/api/v1/players/{id}", kAdmin, "players", "Rename, move, resize or retire a player",
                       patchPlayer})
              .body("PlayerChange")
              .reply("Player"));
}

}  // namespace microscape::controller
