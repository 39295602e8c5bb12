// Playlists, campaigns, schedules, takeovers and the fleet-wide filler. Every
// write that can change what a screen shows asks the compiler to recompile.
#include <Poco/DateTime.h>

#include <set>

#include "api.hpp"
#include "compiler.hpp"
#include "microscape/controller/repo.hpp"
#include "microscape/core/json.hpp"

namespace microscape::controller {

const std::vector<std::string>& venueTypes();
std::string normaliseWindows(const std::string& field, const Poco::JSON::Array::Ptr& arr);

namespace {

constexpr std::int64_t kDefaultStillMs = 10'000;
constexpr std::int64_t kMaxItemMs = 24LL * 3600 * 1000;
constexpr std::size_t kMaxItems = 1000;

// "YYYY-MM-DD" with a real calendar date.
std::string checkedDate(const std::string& field, const std::string& s) {
    int y = 0, m = 0, d = 0;
    if (s.size() != 10 || s[4] != '-' || s[7] != '-' || std::sscanf(s.c_str(), "%4d-%2d-%2d", &y, &m, &d) != 3 ||
        y < 2000 || y > 9999 || !Poco::DateTime::isValid(y, m, d))
        badRequest(field + " must be a date YYYY-MM-DD");
    return s;
}

void checkDateRange(const std::string& from, const std::string& to) {
    if (to < from) unprocessable("bad_window", "the date range ends (" + to + ") before it starts (" + from + ")");
}

}  // namespace

// --- playlists ------------------------------------------------------------------------------

Poco::JSON::Object::Ptr playlistJson(DbConn& c, const Playlist& p) {
    Poco::JSON::Object::Ptr o = new Poco::JSON::Object;
    o->set("id", Poco::Int64(p.id));
    o->set("name", p.name);
    o->set("department", nullableStr(p.department));
    o->set("createdBy", Poco::Int64(p.createdBy));
    Poco::JSON::Array::Ptr items = new Poco::JSON::Array;
    std::int64_t loopMs = 0;
    bool allApproved = true;
    for (const auto& it : p.items) {
        Poco::JSON::Object::Ptr io = new Poco::JSON::Object;
        io->set("mediaId", Poco::Int64(it.mediaId));
        auto m = repo::mediaById(c, it.mediaId);
        const std::int64_t d = it.durationMs.value_or(m && m->durationMs ? *m->durationMs : kDefaultStillMs);
        io->set("durationMs", nullable(it.durationMs));
        io->set("effectiveDurationMs", Poco::Int64(d));
        io->set("validFrom", optIso(it.validFromMs));
        io->set("validUntil", optIso(it.validUntilMs));
        if (m) {
            io->set("name", m->displayName);
            io->set("kind", m->kind);
            io->set("state", std::string(mediaStateName(m->state)));
            allApproved = allApproved && m->state == MediaState::Approved;
        }
        loopMs += d;
        items->add(io);
    }
    o->set("items", items);
    o->set("loopDurationMs", Poco::Int64(loopMs));
    o->set("allApproved", allApproved);
    o->set("createdAt", isoUtc(p.createdAtMs));
    o->set("updatedAt", isoUtc(p.updatedAtMs));
    return o;
}

namespace {

std::vector<PlaylistItem> parseItems(DbConn& c, const Poco::JSON::Array::Ptr& arr) {
    if (arr->size() > kMaxItems) badRequest("a playlist holds at most 1000 items");
    std::vector<PlaylistItem> items;
    for (std::size_t i = 0; i < arr->size(); ++i) {
        const std::string where = "items[" + std::to_string(i) + "]";
        if (!arr->isObject(static_cast<unsigned>(i))) badRequest(where + " must be an object");
        auto o = arr->getObject(static_cast<unsigned>(i));
        PlaylistItem it;
        it.mediaId = reqInt(o, "mediaId");
        auto m = repo::mediaById(c, it.mediaId);
        if (!m)
            unprocessable("unknown_reference",
                          where + ".mediaId: media " + std::to_string(it.mediaId) + " does not exist");
        it.durationMs = optInt(o, "durationMs");
        if (it.durationMs && (*it.durationMs < 1000 || *it.durationMs > kMaxItemMs))
            badRequest(where + ".durationMs must be within 1000..86400000");
        if (auto v = optString(o, "validFrom", 40)) it.validFromMs = parseIsoField(where + ".validFrom", *v);
        if (auto v = optString(o, "validUntil", 40)) it.validUntilMs = parseIsoField(where + ".validUntil", *v);
        if (it.validFromMs && it.validUntilMs && *it.validUntilMs <= *it.validFromMs)
            unprocessable("bad_window", where + ": validUntil is not after validFrom");
        items.push_back(it);
    }
    return items;
}

void listPlaylists(RequestCtx& ctx) {
    Poco::JSON::Array::Ptr arr = new Poco::JSON::Array;
    ctx.svc.db.read([&](DbConn& c) {
        for (const auto& p : repo::listPlaylists(c)) arr->add(playlistJson(c, p));
    });
    Poco::JSON::Object::Ptr out = new Poco::JSON::Object;
    out->set("playlists", arr);
    ctx.sendJson(200, out);
}

Playlist loadPlaylist(DbConn& c, std::int64_t id) {
    auto p = repo::playlistById(c, id);
    if (!p) notFound("playlist " + std::to_string(id));
    return *p;
}

void createPlaylist(RequestCtx& ctx) {
    auto body = ctx.jsonBody();
    auto& svc = ctx.svc;
    auto out = svc.db.write([&](DbConn& c) {
        Playlist p;
        p.name = reqString(body, "name", 255);
        p.department = departmentFor(ctx, optString(body, "department", 100));
        if (auto a = optArray(body, "items")) p.items = parseItems(c, *a);
        p.createdBy = ctx.principal().user.id;
        p.createdAtMs = p.updatedAtMs = svc.nowMs();
        p.id = repo::insertPlaylist(c, p);
        auto j = playlistJson(c, p);
        recordAudit(c, ctx, "create", "playlist", std::to_string(p.id), {}, j);
        return j;
    });
    ctx.sendJson(201, out);
}

void getPlaylist(RequestCtx& ctx) {
    auto id = ctx.idParam("id");
    ctx.sendJson(200, ctx.svc.db.read([&](DbConn& c) { return playlistJson(c, loadPlaylist(c, id)); }));
}

void updatePlaylist(RequestCtx& ctx) {
    auto id = ctx.idParam("id");
    auto body = ctx.jsonBody();
    auto& svc = ctx.svc;
    auto out = svc.db.write([&](DbConn& c) {
        repo::lockForEdit(c, repo::Editable::Playlist, id);
        auto p = loadPlaylist(c, id);
        requireSameDepartment(ctx, p.department);
        auto before = playlistJson(c, p);
        if (auto v = optString(body, "name", 255)) p.name = *v;
        if (body->has("department")) {
            p.department = departmentFor(ctx, optString(body, "department", 100));
        }
        if (auto a = optArray(body, "items")) p.items = parseItems(c, *a);
        p.updatedAtMs = svc.nowMs();
        repo::updatePlaylist(c, p);
        auto j = playlistJson(c, p);
        recordAudit(c, ctx, "update", "playlist", std::to_string(id), before, j);
        return j;
    });
    svc.compiler->recompileAll("playlist " + std::to_string(id) + " changed");
    ctx.sendJson(200, out);
}

void deletePlaylist(RequestCtx& ctx) {
    auto id = ctx.idParam("id");
    auto& svc = ctx.svc;
    try {
        svc.db.write([&](DbConn& c) {
            auto p = loadPlaylist(c, id);
            requireSameDepartment(ctx, p.department);
            auto before = playlistJson(c, p);
            repo::deletePlaylist(c, id);
            recordAudit(c, ctx, "delete", "playlist", std::to_string(id), before, {});
        });
    } catch (const ConstraintError&) {
        throw ApiError(409, "in_use", "schedules, takeovers or locations still use this playlist");
    }
    ctx.sendNoContent();
}

// --- campaigns ---------------------------------------------------------------------------------

Poco::JSON::Object::Ptr campaignJson(const Campaign& x) {
    Poco::JSON::Object::Ptr o = new Poco::JSON::Object;
    o->set("id", Poco::Int64(x.id));
    o->set("name", x.name);
    o->set("theme", nullableStr(x.theme));
    o->set("startsOn", x.startsOn);
    o->set("endsOn", x.endsOn);
    o->set("department", nullableStr(x.department));
    o->set("createdBy", Poco::Int64(x.createdBy));
    o->set("createdAt", isoUtc(x.createdAtMs));
    o->set("updatedAt", isoUtc(x.updatedAtMs));
    return o;
}

Campaign loadCampaign(DbConn& c, std::int64_t id) {
    auto x = repo::campaignById(c, id);
    if (!x) notFound("campaign " + std::to_string(id));
    return *x;
}

void applyCampaign(const RequestCtx& ctx, const Poco::JSON::Object::Ptr& body, Campaign& x, bool creating) {
    if (creating || body->has("name")) x.name = reqString(body, "name", 255);
    if (body->has("theme")) x.theme = optString(body, "theme", 100).value_or("");
    if (creating || body->has("startsOn")) x.startsOn = checkedDate("startsOn", reqString(body, "startsOn", 10));
    if (creating || body->has("endsOn")) x.endsOn = checkedDate("endsOn", reqString(body, "endsOn", 10));
    if (creating)
        x.department = departmentFor(ctx, optString(body, "department", 100));
    else if (body->has("department"))
        x.department = departmentFor(ctx, optString(body, "department", 100));
    checkDateRange(x.startsOn, x.endsOn);
}

void listCampaigns(RequestCtx& ctx) {
    Poco::JSON::Array::Ptr arr = new Poco::JSON::Array;
    for (const auto& x : ctx.svc.db.read([](DbConn& c) { return repo::listCampaigns(c); })) arr->add(campaignJson(x));
    Poco::JSON::Object::Ptr out = new Poco::JSON::Object;
    out->set("campaigns", arr);
    ctx.sendJson(200, out);
}

void createCampaign(RequestCtx& ctx) {
    auto body = ctx.jsonBody();
    auto& svc = ctx.svc;
    auto saved = svc.db.write([&](DbConn& c) {
        Campaign x;
        applyCampaign(ctx, body, x, true);
        x.createdBy = ctx.principal().user.id;
        x.createdAtMs = x.updatedAtMs = svc.nowMs();
        x.id = repo::insertCampaign(c, x);
        recordAudit(c, ctx, "create", "campaign", std::to_string(x.id), {}, campaignJson(x));
        return x;
    });
    ctx.sendJson(201, campaignJson(saved));
}

void getCampaign(RequestCtx& ctx) {
    auto id = ctx.idParam("id");
    ctx.sendJson(200, campaignJson(ctx.svc.db.read([&](DbConn& c) { return loadCampaign(c, id); })));
}

void patchCampaign(RequestCtx& ctx) {
    auto id = ctx.idParam("id");
    auto body = ctx.jsonBody();
    auto& svc = ctx.svc;
    auto saved = svc.db.write([&](DbConn& c) {
        repo::lockForEdit(c, repo::Editable::Campaign, id);
        auto x = loadCampaign(c, id);
        requireSameDepartment(ctx, x.department);
        auto before = campaignJson(x);
        applyCampaign(ctx, body, x, false);
        x.updatedAtMs = svc.nowMs();
        repo::updateCampaign(c, x);
        recordAudit(c, ctx, "update", "campaign", std::to_string(id), before, campaignJson(x));
        return x;
    });
    svc.compiler->recompileAll("campaign " + std::to_string(id) + " changed");
    ctx.sendJson(200, campaignJson(saved));
}

void deleteCampaign(RequestCtx& ctx) {
    auto id = ctx.idParam("id");
    auto& svc = ctx.svc;
    try {
        svc.db.write([&](DbConn& c) {
            auto x = loadCampaign(c, id);
            requireSameDepartment(ctx, x.department);
            repo::deleteCampaign(c, id);
            recordAudit(c, ctx, "delete", "campaign", std::to_string(id), campaignJson(x), {});
        });
    } catch (const ConstraintError&) {
        throw ApiError(409, "in_use", "schedules still belong to this campaign");
    }
    ctx.sendNoContent();
}

// --- targets, schedules, takeovers ---------------------------------------------------------------

std::string parseTarget(DbConn& c, const Poco::JSON::Object::Ptr& body) {
    auto t = optObject(body, "target");
    if (!t) badRequest("missing field 'target'");
    const bool all = optBool(*t, "all").value_or(false);
    auto venues = optStringArray(*t, "venueTypes").value_or(std::vector<std::string>{});
    auto districts = optStringArray(*t, "districts").value_or(std::vector<std::string>{});
    auto tags = optStringArray(*t, "locationTags").value_or(std::vector<std::string>{});
    auto players = optStringArray(*t, "playerIds").value_or(std::vector<std::string>{});
    for (const auto& v : venues)
        if (std::find(venueTypes().begin(), venueTypes().end(), v) == venueTypes().end())
            badRequest("target.venueTypes: unknown venue type '" + v + "'");
    for (const auto& p : players)
        if (!repo::playerById(c, p)) unprocessable("unknown_reference", "target.playerIds: no player '" + p + "'");
    if (!all && venues.empty() && districts.empty() && tags.empty() && players.empty())
        badRequest("target selects nothing: give venueTypes, districts, locationTags, playerIds or all=true");
    auto arr = [](std::vector<std::string> v) {
        std::sort(v.begin(), v.end());
        json::Array a;
        for (auto& s : v) a.emplace_back(s);
        return json::Value(a);
    };
    return json::canonical(json::Object{{"all", all},
                                        {"venueTypes", arr(venues)},
                                        {"districts", arr(districts)},
                                        {"locationTags", arr(tags)},
                                        {"playerIds", arr(players)}});
}

// Department scoping of plans (docs/controller-api.md "Departments"): a target with
// all=true reaches every screen, so it needs the admin role or the user's fleetWide
// right, as does cancelling another department's takeover.
bool hasFleetRight(const RequestCtx& ctx) {
    const auto& u = ctx.principal().user;
    return u.role == Role::Admin || u.fleetWide;
}

bool isFleetWide(const std::string& targetJson) {
    return parseStoredJson(targetJson)->optValue<bool>("all", false);
}

void requireFleetRight(const RequestCtx& ctx, const std::string& what) {
    if (!hasFleetRight(ctx)) forbidden(what + " needs the admin role or the fleetWide right");
}

// Only approved media reach screens: a playlist with anything else cannot be scheduled.
void requireSchedulable(DbConn& c, std::int64_t playlistId) {
    auto p = repo::playlistById(c, playlistId);
    if (!p) unprocessable("unknown_reference", "playlist " + std::to_string(playlistId) + " does not exist");
    if (p->items.empty()) unprocessable("empty_playlist", "playlist " + std::to_string(playlistId) + " has no items");
    for (const auto& it : p->items) {
        auto m = repo::mediaById(c, it.mediaId);
        if (!m || m->state != MediaState::Approved)
            unprocessable("media_not_approved", "playlist " + std::to_string(playlistId) + " contains media " +
                                                    std::to_string(it.mediaId) + " that is not approved");
    }
}

Poco::JSON::Object::Ptr scheduleJson(const Schedule& s) {
    Poco::JSON::Object::Ptr o = new Poco::JSON::Object;
    o->set("id", Poco::Int64(s.id));
    o->set("name", s.name);
    o->set("playlistId", Poco::Int64(s.playlistId));
    o->set("campaignId", nullable(s.campaignId));
    o->set("priority", Poco::Int64(s.priority));
    o->set("startsOn", s.startsOn);
    o->set("endsOn", s.endsOn);
    o->set("dayparts", parseStoredArray(s.daypartsJson));
    o->set("target", parseStoredJson(s.targetJson));
    o->set("department", nullableStr(s.department));
    o->set("createdBy", Poco::Int64(s.createdBy));
    o->set("createdAt", isoUtc(s.createdAtMs));
    o->set("updatedAt", isoUtc(s.updatedAtMs));
    return o;
}

void applySchedule(const RequestCtx& ctx, DbConn& c, const Poco::JSON::Object::Ptr& body, Schedule& s, bool creating) {
    const bool wasFleetWide = !creating && isFleetWide(s.targetJson);
    if (creating || body->has("department")) s.department = departmentFor(ctx, optString(body, "department", 100));
    if (creating || body->has("name")) s.name = reqString(body, "name", 255);
    if (creating || body->has("playlistId")) s.playlistId = reqInt(body, "playlistId");
    if (body->has("campaignId")) {
        s.campaignId = optInt(body, "campaignId");
        if (s.campaignId && !repo::campaignById(c, *s.campaignId))
            unprocessable("unknown_reference", "campaign " + std::to_string(*s.campaignId) + " does not exist");
    }
    if (auto p = optInt(body, "priority")) {
        if (*p < 0 || *p > 1000) badRequest("priority must be within 0..1000");
        s.priority = *p;
    }
    if (creating || body->has("startsOn")) s.startsOn = checkedDate("startsOn", reqString(body, "startsOn", 10));
    if (creating || body->has("endsOn")) s.endsOn = checkedDate("endsOn", reqString(body, "endsOn", 10));
    if (body->has("dayparts")) {
        auto a = optArray(body, "dayparts");
        s.daypartsJson = a ? normaliseWindows("dayparts", *a) : "[]";
    } else if (creating) {
        s.daypartsJson = "[]";
    }
    if (creating || body->has("target")) s.targetJson = parseTarget(c, body);
    if (wasFleetWide || isFleetWide(s.targetJson)) requireFleetRight(ctx, "a fleet-wide schedule");
    checkDateRange(s.startsOn, s.endsOn);
    requireSchedulable(c, s.playlistId);
}

Schedule loadSchedule(DbConn& c, std::int64_t id) {
    auto s = repo::scheduleById(c, id);
    if (!s) notFound("schedule " + std::to_string(id));
    return *s;
}

void listSchedules(RequestCtx& ctx) {
    Poco::JSON::Array::Ptr arr = new Poco::JSON::Array;
    auto campaign = ctx.query("campaignId");
    for (const auto& s : ctx.svc.db.read([](DbConn& c) { return repo::listSchedules(c); })) {
        if (campaign && (!s.campaignId || std::to_string(*s.campaignId) != *campaign)) continue;
        arr->add(scheduleJson(s));
    }
    Poco::JSON::Object::Ptr out = new Poco::JSON::Object;
    out->set("schedules", arr);
    ctx.sendJson(200, out);
}

void createSchedule(RequestCtx& ctx) {
    auto body = ctx.jsonBody();
    auto& svc = ctx.svc;
    auto saved = svc.db.write([&](DbConn& c) {
        Schedule s;
        applySchedule(ctx, c, body, s, true);
        s.createdBy = ctx.principal().user.id;
        s.createdAtMs = s.updatedAtMs = svc.nowMs();
        s.id = repo::insertSchedule(c, s);
        recordAudit(c, ctx, "create", "schedule", std::to_string(s.id), {}, scheduleJson(s));
        return s;
    });
    svc.compiler->recompileAll("schedule " + std::to_string(saved.id) + " created");
    ctx.sendJson(201, scheduleJson(saved));
}

void getSchedule(RequestCtx& ctx) {
    auto id = ctx.idParam("id");
    ctx.sendJson(200, scheduleJson(ctx.svc.db.read([&](DbConn& c) { return loadSchedule(c, id); })));
}

void patchSchedule(RequestCtx& ctx) {
    auto id = ctx.idParam("id");
    auto body = ctx.jsonBody();
    auto& svc = ctx.svc;
    auto saved = svc.db.write([&](DbConn& c) {
        repo::lockForEdit(c, repo::Editable::Schedule, id);
        auto s = loadSchedule(c, id);
        requireSameDepartment(ctx, s.department);
        auto before = scheduleJson(s);
        applySchedule(ctx, c, body, s, false);
        s.updatedAtMs = svc.nowMs();
        repo::updateSchedule(c, s);
        recordAudit(c, ctx, "update", "schedule", std::to_string(id), before, scheduleJson(s));
        return s;
    });
    svc.compiler->recompileAll("schedule " + std::to_string(id) + " changed");
    ctx.sendJson(200, scheduleJson(saved));
}

void deleteSchedule(RequestCtx& ctx) {
    auto id = ctx.idParam("id");
    auto& svc = ctx.svc;
    svc.db.write([&](DbConn& c) {
        auto s = loadSchedule(c, id);
        requireSameDepartment(ctx, s.department);
        if (isFleetWide(s.targetJson)) requireFleetRight(ctx, "deleting a fleet-wide schedule");
        repo::deleteSchedule(c, id);
        recordAudit(c, ctx, "delete", "schedule", std::to_string(id), scheduleJson(s), {});
    });
    svc.compiler->recompileAll("schedule " + std::to_string(id) + " deleted");
    ctx.sendNoContent();
}

}  // namespace

Poco::JSON::Object::Ptr takeoverJson(const Takeover& t, std::int64_t nowMs) {
    Poco::JSON::Object::Ptr o = new Poco::JSON::Object;
    o->set("id", Poco::Int64(t.id));
    o->set("name", t.name);
    o->set("playlistId", Poco::Int64(t.playlistId));
    o->set("target", parseStoredJson(t.targetJson));
    o->set("startsAt", isoUtc(t.startsAtMs));
    o->set("expiresAt", isoUtc(t.expiresAtMs));
    o->set("cancelledAt", optIso(t.cancelledAtMs));
    o->set("active", !t.cancelledAtMs && t.startsAtMs <= nowMs && nowMs < t.expiresAtMs);
    o->set("department", nullableStr(t.department));
    o->set("createdBy", Poco::Int64(t.createdBy));
    o->set("createdAt", isoUtc(t.createdAtMs));
    o->set("source", t.alert ? "alert" : "console");
    if (t.alert) {
        Poco::JSON::Object::Ptr a = new Poco::JSON::Object;
        a->set("id", Poco::Int64(t.alert->alertId));
        a->set("sender", t.alert->sender);
        a->set("identifier", t.alert->identifier);
        a->set("msgType", t.alert->msgType);
        a->set("event", t.alert->event);
        a->set("severity", t.alert->severity);
        o->set("alert", a);
    } else {
        o->set("alert", Poco::Dynamic::Var());
    }
    return o;
}

namespace {

void listTakeovers(RequestCtx& ctx) {
    const auto now = ctx.svc.nowMs();
    const bool activeOnly = ctx.query("active").value_or("") == "true";
    Poco::JSON::Array::Ptr arr = new Poco::JSON::Array;
    for (const auto& t : ctx.svc.db.read([](DbConn& c) { return repo::listTakeovers(c); })) {
        auto j = takeoverJson(t, now);
        if (activeOnly && !j->getValue<bool>("active")) continue;
        arr->add(j);
    }
    Poco::JSON::Object::Ptr out = new Poco::JSON::Object;
    out->set("takeovers", arr);
    ctx.sendJson(200, out);
}

void createTakeover(RequestCtx& ctx) {
    auto body = ctx.jsonBody();
    auto& svc = ctx.svc;
    const std::int64_t now = svc.nowMs();
    auto saved = svc.db.write([&](DbConn& c) {
        Takeover t;
        t.name = reqString(body, "name", 255);
        t.playlistId = reqInt(body, "playlistId");
        t.targetJson = parseTarget(c, body);
        t.department = departmentFor(ctx, optString(body, "department", 100));
        if (isFleetWide(t.targetJson)) requireFleetRight(ctx, "a fleet-wide takeover");
        t.startsAtMs =
            optString(body, "startsAt", 40) ? parseIsoField("startsAt", *optString(body, "startsAt", 40)) : now;
        // Either an instant, or a length counted by this controller's clock from the
        // start: a console whose PC clock is off still sends "60 minutes from now".
        const auto durationS = optInt(body, "durationSeconds");
        if (durationS && body->has("expiresAt"))
            unprocessable("bad_window", "give either expiresAt or durationSeconds, not both");
        if (durationS) {
            if (*durationS <= 0 || *durationS > 7LL * 24 * 3600)
                unprocessable("bad_window", "durationSeconds must be between 1 and 604800 (7 days)");
            t.expiresAtMs = t.startsAtMs + *durationS * 1000;
        } else {
            t.expiresAtMs = parseIsoField("expiresAt", reqString(body, "expiresAt", 40));
        }
        if (t.expiresAtMs <= t.startsAtMs)
            unprocessable("bad_window", "the takeover expires before (or when) it starts");
        if (t.expiresAtMs <= now) unprocessable("bad_window", "the takeover has already expired");
        if (t.expiresAtMs - t.startsAtMs > 7LL * 24 * 3600 * 1000)
            unprocessable("bad_window", "a takeover lasts at most 7 days; use a schedule for longer");
        requireSchedulable(c, t.playlistId);
        t.createdBy = ctx.principal().user.id;
        t.createdAtMs = now;
        t.id = repo::insertTakeover(c, t);
        recordAudit(c, ctx, "create", "takeover", std::to_string(t.id), {}, takeoverJson(t, now));
        return t;
    });
    svc.compiler->recompileAll("takeover " + std::to_string(saved.id) + " created");
    ctx.sendJson(201, takeoverJson(saved, now));
}

void cancelTakeover(RequestCtx& ctx) {
    auto id = ctx.idParam("id");
    auto& svc = ctx.svc;
    const std::int64_t now = svc.nowMs();
    auto saved = svc.db.write([&](DbConn& c) {
        auto t = repo::takeoverById(c, id);
        if (!t) notFound("takeover " + std::to_string(id));
        const auto& u = ctx.principal().user;
        if (u.role == Role::Editor && u.department != t->department)
            requireFleetRight(ctx, "cancelling another department's takeover");
        if (isFleetWide(t->targetJson)) requireFleetRight(ctx, "cancelling a fleet-wide takeover");
        if (t->cancelledAtMs) throw ApiError(409, "invalid_state", "the takeover was already cancelled");
        auto before = takeoverJson(*t, now);
        if (!repo::cancelTakeover(c, id, now))  // a concurrent cancel won
            throw ApiError(409, "invalid_state", "the takeover was already cancelled");
        t->cancelledAtMs = now;
        recordAudit(c, ctx, "cancel", "takeover", std::to_string(id), before, takeoverJson(*t, now));
        return *t;
    });
    svc.compiler->recompileAll("takeover " + std::to_string(id) + " cancelled");
    ctx.sendJson(200, takeoverJson(saved, now));
}

void getFiller(RequestCtx& ctx) {
    auto v = ctx.svc.db.read([](DbConn& c) { return repo::setting(c, "filler_playlist_id"); });
    Poco::JSON::Object::Ptr out = new Poco::JSON::Object;
    out->set("playlistId", v ? Poco::Dynamic::Var(Poco::Int64(std::stoll(*v))) : Poco::Dynamic::Var());
    ctx.sendJson(200, out);
}

void putFiller(RequestCtx& ctx) {
    auto body = ctx.jsonBody();
    auto id = optInt(body, "playlistId");
    if (!body->has("playlistId")) badRequest("missing field 'playlistId' (null clears the filler)");
    auto& svc = ctx.svc;
    svc.db.write([&](DbConn& c) {
        auto before = repo::setting(c, "filler_playlist_id");
        if (id) {
            requireSchedulable(c, *id);
            repo::setSetting(c, "filler_playlist_id", std::to_string(*id));
        } else {
            repo::deleteSetting(c, "filler_playlist_id");
        }
        Poco::JSON::Object::Ptr b = new Poco::JSON::Object, a = new Poco::JSON::Object;
        b->set("playlistId", before ? Poco::Dynamic::Var(*before) : Poco::Dynamic::Var());
        a->set("playlistId", id ? Poco::Dynamic::Var(std::to_string(*id)) : Poco::Dynamic::Var());
        recordAudit(c, ctx, "update", "setting", "filler_playlist_id", b, a);
    });
    svc.compiler->recompileAll("filler changed");
    getFiller(ctx);
}

}  // namespace

void addScheduleRoutes(Router& r) {
    const unsigned kPlanners = kAdmin | kEditor;
    r.add(Route{"GET", "/api/v1/playlists", kAnyUser, "playlists", "List playlists", listPlaylists}.reply(
        "PlaylistList"));
    r.add(Route{"POST", "/api/v1/playlists", kPlanners, "playlists", "Create a playlist", createPlaylist, 201}
              .body("PlaylistCreate")
              .reply("Playlist"));
    r.add(
        Route{"GET", "/api/v1/playlists/{id}", kAnyUser, "playlists", "Get a playlist", getPlaylist}.reply("Playlist"));
    r.add(Route{"PUT", "/api/v1/playlists/{id}", kPlanners, "playlists", "Rename or replace the items of a playlist",
                updatePlaylist}
              .body("PlaylistChange")
              .reply("Playlist"));
    r.add(
        {"DELETE", "/api/v1/playlists/{id}", kPlanners, "playlists", "Delete an unused playlist", deletePlaylist, 204});
    r.add(Route{"GET", "/api/v1/campaigns", kAnyUser, "campaigns", "List campaigns", listCampaigns}.reply(
        "CampaignList"));
    r.add(Route{"POST", "/api/v1/campaigns", kPlanners, "campaigns", "Create a campaign", createCampaign, 201}
              .body("CampaignCreate")
              .reply("Campaign"));
    r.add(
        Route{"GET", "/api/v1/campaigns/{id}", kAnyUser, "campaigns", "Get a campaign", getCampaign}.reply("Campaign"));
    r.add(Route{"PATCH", "/api/v1/campaigns/{id}", kPlanners, "campaigns", "Change a campaign", patchCampaign}
              .body("CampaignChange")
              .reply("Campaign"));
    r.add({"DELETE", "/api/v1/campaigns/{id}", kPlanners, "campaigns", "Delete a campaign without schedules",
           deleteCampaign, 204});
    r.add(withQuery(
              Route{"GET", "/api/v1/schedules", kAnyUser, "schedules", "List schedules (?campaignId=)", listSchedules},
              {{"campaignId", "integer"}})
              .reply("ScheduleList"));
    r.add(Route{"POST", "/api/v1/schedules", kPlanners, "schedules",
                "Put an approved playlist on a target for a date range and dayparts", createSchedule, 201}
              .body("ScheduleCreate")
              .reply("Schedule"));
    r.add(
        Route{"GET", "/api/v1/schedules/{id}", kAnyUser, "schedules", "Get a schedule", getSchedule}.reply("Schedule"));
    r.add(Route{"PATCH", "/api/v1/schedules/{id}", kPlanners, "schedules", "Change a schedule", patchSchedule}
              .body("ScheduleChange")
              .reply("Schedule"));
    r.add({"DELETE", "/api/v1/schedules/{id}", kPlanners, "schedules", "Delete a schedule", deleteSchedule, 204});
    r.add(withQuery(
              Route{"GET", "/api/v1/takeovers", kAnyUser, "takeovers", "List takeovers (?active=true)", listTakeovers},
              {{"active", "boolean"}})
              .reply("TakeoverList"));
    r.add(Route{"POST", "/api/v1/takeovers", kPlanners, "takeovers", "Start an urgent takeover with an expiry",
                createTakeover, 201}
              .body("TakeoverCreate")
              .reply("Takeover"));
    r.add(Route{"POST", "/api/v1/takeovers/{id}/cancel", kPlanners, "takeovers", "Cancel a takeover", cancelTakeover}
              .reply("Takeover"));
    r.add(Route{"GET", "/api/v1/settings/filler", kAnyUser, "schedules", "The fleet-wide filler playlist", getFiller}
              .reply("Filler"));
    r.add(Route{"PUT", "/api/v1/settings/filler", kAdmin, "schedules",
                "Set (or clear with null) the fleet-wide filler playlist", putFiller}
              .body("Filler")
              .reply("Filler"));
}

}  // namespace microscape::controller
