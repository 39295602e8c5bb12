#include "hub_api.hpp"

#include "microscape/controller/hub.hpp"
#include "microscape/controller/repo.hpp"
#include "microscape/core/crypto.hpp"

namespace microscape::controller {
namespace {

Poco::JSON::Object::Ptr resultJson(const CommandResult& r) {
    Poco::JSON::Object::Ptr o = new Poco::JSON::Object;
    o->set("id", r.id);
    o->set("playerId", r.playerId);
    o->set("action", r.action);
    o->set("sentAt", isoUtc(r.sentAtMs));
    o->set("ackedAt", optIso(r.ackedAtMs));
    o->set("state", !r.ackedAtMs ? "sent" : (r.ok ? "done" : "failed"));
    o->set("message", r.message);
    o->set("payloadBase64", r.payload.empty() ? Poco::Dynamic::Var() : Poco::Dynamic::Var(crypto::base64Encode(r.payload)));
    return o;
}

void postCommand(RequestCtx& ctx) {
    const std::string id = ctx.param("id");
    auto body = ctx.jsonBody();
    allowOnly(body, {"action"});
    const std::string action = reqString(body, "action", 32);
    wire::CommandAction a;
    if (action == "reload") a = wire::CommandAction::Reload;
    else if (action == "clear_cache") a = wire::CommandAction::ClearCache;
    else if (action == "screenshot") a = wire::CommandAction::Screenshot;
    else badRequest("action must be one of reload, clear_cache, screenshot");
    auto p = ctx.svc.db.read([&](DbConn& c) { return repo::playerById(c, id); });
    if (!p) notFound("player " + id);
    if (!ctx.svc.hub) throw ApiError(503, "hub_unavailable", "the distribution hub is not running");
    auto cid = ctx.svc.hub->sendCommand(id, a);
    if (!cid) throw ApiError(409, "player_offline", "player " + id + " is not connected");
    ctx.svc.db.write([&](DbConn& c) {
        Poco::JSON::Object::Ptr after = new Poco::JSON::Object;
        after->set("action", action);
        after->set("commandId", *cid);
        recordAudit(c, ctx, "command", "player", id, {}, after);
    });
    ctx.sendJson(202, resultJson(*ctx.svc.hub->commandResult(*cid)));
}

void getCommand(RequestCtx& ctx) {
    const std::string id = ctx.param("id");
    if (!ctx.svc.hub) notFound("command " + id);
    auto r = ctx.svc.hub->commandResult(id);
    if (!r) notFound("command " + id);
    ctx.sendJson(200, resultJson(*r));
}

}  // namespace

void addHubRoutes(Router& r) {
    r.add({"POST", "/api/v1/players/{id}/commands", kAdmin, "players",
           "Send a command (reload, clear_cache, screenshot) to a connected player", postCommand, 202});
    r.add({"GET", "/api/v1/commands/{id}", kAnyUser, "players", "A command's state and answer (screenshot in base64)",
           getCommand});
}

}  // namespace microscape::controller
