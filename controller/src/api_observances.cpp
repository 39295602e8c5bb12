// The legal-education days (普法节点) the office plans campaigns around: 中国人民
// 警察节, 全民国家安全教育日, 国际禁毒日, 全国交通安全日, 国家宪法日 and the others an
// admin keeps in the list. The console suggests a campaign for each coming one.
#include "api.hpp"
#include "microscape/controller/repo.hpp"

namespace microscape::controller {

namespace {

using repo::Observance;

Poco::JSON::Object::Ptr observanceJson(const Observance& o) {
    Poco::JSON::Object::Ptr j = new Poco::JSON::Object;
    j->set("id", Poco::Int64(o.id));
    j->set("name", o.name);
    j->set("month", Poco::Int64(o.month));
    j->set("day", Poco::Int64(o.day));
    j->set("theme", nullableStr(o.theme));
    j->set("daysBefore", Poco::Int64(o.daysBefore));
    j->set("daysAfter", Poco::Int64(o.daysAfter));
    j->set("updatedAt", isoUtc(o.updatedAtMs));
    return j;
}

Observance load(DbConn& c, std::int64_t id) {
    auto o = repo::observanceById(c, id);
    if (!o) notFound("observance " + std::to_string(id));
    return *o;
}

// The body's fields over `o` (the schema has checked types and ranges); the
// day must exist in that month (29 February does, in leap years).
void apply(const Poco::JSON::Object::Ptr& body, Observance& o) {
    if (auto v = optString(body, "name", 100)) o.name = *v;
    if (auto v = optInt(body, "month")) o.month = *v;
    if (auto v = optInt(body, "day")) o.day = *v;
    if (body->has("theme")) o.theme = optString(body, "theme", 100).value_or("");
    if (auto v = optInt(body, "daysBefore")) o.daysBefore = *v;
    if (auto v = optInt(body, "daysAfter")) o.daysAfter = *v;
    static const int kDays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (o.day > kDays[o.month - 1])
        badRequest("month " + std::to_string(o.month) + " has no day " + std::to_string(o.day));
    if (o.name.find_first_not_of(" \t") == std::string::npos) badRequest("field 'name' must not be empty");
}

void listObservances(RequestCtx& ctx) {
    Poco::JSON::Array::Ptr arr = new Poco::JSON::Array;
    ctx.svc.db.read([&](DbConn& c) {
        for (const auto& o : repo::listObservances(c)) arr->add(observanceJson(o));
    });
    Poco::JSON::Object::Ptr out = new Poco::JSON::Object;
    out->set("observances", arr);
    ctx.sendJson(200, out);
}

void createObservance(RequestCtx& ctx) {
    auto body = ctx.jsonBody();
    Observance o;
    o.name = reqString(body, "name", 100);
    apply(body, o);
    auto out = ctx.svc.db.write([&](DbConn& c) {
        o.createdAtMs = o.updatedAtMs = ctx.svc.nowMs();
        o.id = repo::insertObservance(c, o);
        auto j = observanceJson(o);
        recordAudit(c, ctx, "create", "observance", std::to_string(o.id), {}, j);
        return j;
    });
    ctx.sendJson(201, out);
}

void patchObservance(RequestCtx& ctx) {
    const auto id = ctx.idParam("id");
    auto body = ctx.jsonBody();
    auto out = ctx.svc.db.write([&](DbConn& c) {
        repo::lockForEdit(c, repo::Editable::Observance, id);
        auto o = load(c, id);
        auto before = observanceJson(o);
        apply(body, o);
        o.updatedAtMs = ctx.svc.nowMs();
        repo::updateObservance(c, o);
        auto j = observanceJson(o);
        recordAudit(c, ctx, "update", "observance", std::to_string(id), before, j);
        return j;
    });
    ctx.sendJson(200, out);
}

void deleteObservance(RequestCtx& ctx) {
    const auto id = ctx.idParam("id");
    ctx.svc.db.write([&](DbConn& c) {
        auto o = load(c, id);
        repo::deleteObservance(c, id);
        recordAudit(c, ctx, "delete", "observance", std::to_string(id), observanceJson(o), {});
    });
    ctx.sendNoContent();
}

}  // namespace

void addObservanceRoutes(Router& r) {
    r.add(Route{"GET", "/api/v1/observances", kAnyUser, "campaigns",
                "Legal-education days (普法节点) to plan campaigns around", listObservances}
              .reply("ObservanceList"));
    r.add(Route{"POST", "/api/v1/observances", kAdmin, "campaigns", "Add a legal-education day", createObservance, 201}
              .body("ObservanceCreate")
              .reply("Observance"));
    r.add(
        Route{"PATCH", "/api/v1/observances/{id}", kAdmin, "campaigns", "Change a legal-education day", patchObservance}
            .body("ObservanceChange")
            .reply("Observance"));
    r.add(Route{"DELETE", "/api/v1/observances/{id}", kAdmin, "campaigns", "Remove a legal-education day",
                deleteObservance, 204});
}

}  // namespace microscape::controller
