// /healthz, /metrics and the OpenAPI document generated from the route table, so
// the document cannot drift from the routes.
#include <Poco/JSON/Parser.h>

#include <map>
#include <set>
#include <sstream>

#include "api.hpp"
#include "microscape/controller/hub.hpp"
#include "microscape/controller/repo.hpp"

namespace microscape::controller {
namespace {

constexpr std::int64_t kOnlineWindowMs = 90'000;

void healthz(RequestCtx& ctx) {
    int schema = ctx.svc.db.schemaVersion();
    Poco::JSON::Object::Ptr out = new Poco::JSON::Object;
    out->set("status", "ok");
    out->set("schemaVersion", schema);
    out->set("time", isoUtc(ctx.svc.nowMs()));
    ctx.sendJson(200, out);
}

// One metric in Prometheus' text format, with its HELP and TYPE lines.
void appendMetric(std::string& text, const char* name, const char* type, const char* help, std::uint64_t value) {
    text += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n" + name + " " +
            std::to_string(value) + "\n";
}

// The proof-of-play journal failures a player last reported in STATUS
// (playback.journal_errors); 0 when it reported none or no STATUS yet.
std::uint64_t journalErrorsOf(const Player& p) {
    if (p.statusJson.empty()) return 0;
    try {
        Poco::JSON::Parser parser;
        auto status = parser.parse(p.statusJson).extract<Poco::JSON::Object::Ptr>();
        auto playback = status ? status->getObject("playback") : nullptr;
        if (!playback || !playback->has("journal_errors")) return 0;
        const auto n = playback->getValue<std::int64_t>("journal_errors");
        return n > 0 ? static_cast<std::uint64_t>(n) : 0;
    } catch (const Poco::Exception&) {
        return 0;  // a STATUS we cannot read counts as none (it is shown as sent)
    }
}

// A non-negative integer field of a player's last STATUS; 0 when absent or unreadable.
std::uint64_t statusCountOf(const Player& p, const char* field) {
    if (p.statusJson.empty()) return 0;
    try {
        Poco::JSON::Parser parser;
        auto status = parser.parse(p.statusJson).extract<Poco::JSON::Object::Ptr>();
        if (!status || !status->has(field)) return 0;
        const auto n = status->getValue<std::int64_t>(field);
        return n > 0 ? static_cast<std::uint64_t>(n) : 0;
    } catch (const Poco::Exception&) {
        return 0;
    }
}

void metrics(RequestCtx& ctx) {
    const std::int64_t now = ctx.svc.nowMs();
    std::int64_t enrolled = 0, online = 0;
    std::uint64_t journalErrors = 0, playersWithJournalErrors = 0;
    std::uint64_t bytesMirror = 0, bytesHub = 0;
    for (const auto& p : ctx.svc.db.read([](DbConn& c) { return repo::listPlayers(c); })) {
        if (p.state != PlayerState::Enrolled) continue;
        ++enrolled;
        if (p.lastSeenAtMs && now - *p.lastSeenAtMs <= kOnlineWindowMs) ++online;
        const auto n = journalErrorsOf(p);
        journalErrors += n;
        if (n > 0) ++playersWithJournalErrors;
        bytesMirror += statusCountOf(p, "media_bytes_mirror");
        bytesHub += statusCountOf(p, "media_bytes_hub");
    }
    if (ctx.svc.hub) online = static_cast<std::int64_t>(ctx.svc.hub->onlineCount());
    std::string text = ctx.svc.metrics.render(enrolled, online);
    appendMetric(text, "microscape_players_journal_errors", "gauge",
                 "Proof-of-play records the enrolled players could not write to their journals, as "
                 "they last "
                 "reported (STATUS playback.journal_errors).",
                 journalErrors);
    appendMetric(text, "microscape_players_with_journal_errors", "gauge",
                 "Enrolled players whose last STATUS reports proof-of-play records not written.",
                 playersWithJournalErrors);
    text +=
        "# HELP microscape_players_media_bytes Media bytes the enrolled players stored since they started, by "
        "source (an HTTP mirror or the hub), as they last reported (STATUS media_bytes_mirror, media_bytes_hub).\n"
        "# TYPE microscape_players_media_bytes gauge\n"
        "microscape_players_media_bytes{source=\"mirror\"} " +
        std::to_string(bytesMirror) + "\nmicroscape_players_media_bytes{source=\"hub\"} " + std::to_string(bytesHub) +
        "\n";
    if (ctx.svc.hub) {
        const auto h = ctx.svc.hub->stats();
        appendMetric(text, "microscape_hub_messages_received_total", "counter",
                     "Messages received from players by the hub.", h.received);
        appendMetric(text, "microscape_hub_messages_dropped_total", "counter",
                     "Player messages dropped unread (malformed, unknown type, before HELLO, spoofed id).", h.dropped);
        appendMetric(text, "microscape_hub_chunk_bytes_sent_total", "counter",
                     "Media bytes sent to players in CHUNK messages.", h.bytesSent);
        appendMetric(text, "microscape_hub_chunk_bytes_sealed_total", "counter",
                     "Of those, bytes sent sealed (AES-256-GCM) on the bulk channel.", h.bytesSealed);
        appendMetric(text, "microscape_hub_sealed_bytes_out", "gauge",
                     "Sealed chunk bytes in the hub's memory, not yet written out (bounded by zmq.sealedBudgetMiB).",
                     h.sealedBytesOut);
        appendMetric(text, "microscape_hub_chunks_waited_total", "counter",
                     "Sealed chunks that waited for room in zmq.sealedBudgetMiB.", h.chunksWaited);
        appendMetric(text, "microscape_hub_manifests_sent_total", "counter", "MANIFEST messages sent to players.",
                     h.manifestsSent);
        appendMetric(text, "microscape_hub_zap_denied_total", "counter",
                     "Connections refused by the CURVE key check (not enrolled or retired).", h.zapDenied);
        appendMetric(text, "microscape_hub_connections_closed_total", "counter",
                     "Player connections closed by the hub (another's routing id, silent, retired).",
                     h.connectionsClosed);
        appendMetric(text, "microscape_hub_proofs_rate_limited_total", "counter",
                     "PROOFS batches answered rate_limited.", h.proofsRateLimited);
        appendMetric(text, "microscape_hub_proofs_paused_total", "counter",
                     "PROOFS batches answered ingest_paused (disk guard).", h.proofsPaused);
        appendMetric(text, "microscape_hub_ingest_paused", "gauge",
                     "1 while the disk guard pauses proof-of-play ingest.", h.ingestPaused ? 1 : 0);
    }
    ctx.resp.setStatus(Poco::Net::HTTPResponse::HTTP_OK);
    ctx.resp.setContentType("text/plain; version=0.0.4; charset=utf-8");
    ctx.resp.setContentLength64(static_cast<Poco::Int64>(text.size()));
    ctx.resp.send() << text;
}

std::string accessText(unsigned access) {
    if (access == kPublic) return "public";
    std::string s;
    auto add = [&](unsigned bit, const char* n) {
        if (access & bit) s += (s.empty() ? "" : ", ") + std::string(n);
    };
    add(kAdmin, "admin");
    add(kEditor, "editor");
    add(kApprover, "approver");
    add(kAuditor, "auditor");
    add(kAlertFeed, "alert_feed");
    return s;
}

Poco::JSON::Object::Ptr errorResponse(const char* description) {
    Poco::JSON::Object::Ptr r = new Poco::JSON::Object;
    r->set("description", description);
    Poco::JSON::Object::Ptr content = new Poco::JSON::Object;
    Poco::JSON::Object::Ptr media = new Poco::JSON::Object;
    media->set("schema", schemaRef("Error"));
    content->set("application/json", media);
    r->set("content", content);
    return r;
}

Poco::JSON::Object::Ptr mediaWith(const Poco::JSON::Object::Ptr& schema) {
    Poco::JSON::Object::Ptr m = new Poco::JSON::Object;
    m->set("schema", schema);
    return m;
}

Poco::JSON::Object::Ptr binarySchema() {
    Poco::JSON::Object::Ptr b = new Poco::JSON::Object;
    b->set("type", "string");
    b->set("format", "binary");
    return b;
}

// The body the dispatcher checks (JSON), or the one the handler reads (bodyTypes).
Poco::JSON::Object::Ptr requestBody(const Route& r) {
    Poco::JSON::Object::Ptr body = new Poco::JSON::Object;
    body->set("required", r.bodyRequired);
    Poco::JSON::Object::Ptr content = new Poco::JSON::Object;
    if (r.bodyTypes.empty()) {
        content->set("application/json", mediaWith(schemaRef(r.bodySchema)));
    } else {
        for (std::size_t i = 0; i < r.bodyTypes.size(); ++i)
            content->set(r.bodyTypes[i], mediaWith(i == 0 ? schemaRef(r.bodySchema) : binarySchema()));
    }
    body->set("content", content);
    return body;
}

Poco::JSON::Object::Ptr successResponse(const Route& r, int status) {
    Poco::JSON::Object::Ptr ok = new Poco::JSON::Object;
    ok->set("description", status == 204                        ? "done"
                           : status == 304                      ? "not modified (If-None-Match)"
                           : status == 200 && r.okStatus == 201 ? "already there"
                                                                : "success");
    if (status == 204 || status == 304) return ok;
    Poco::JSON::Object::Ptr content = new Poco::JSON::Object;
    if (!r.replySchema.empty()) content->set("application/json", mediaWith(schemaRef(r.replySchema)));
    for (const auto& t : r.replyTypes) {
        Poco::JSON::Object::Ptr text = new Poco::JSON::Object;
        text->set("type", "string");
        content->set(t, mediaWith(t.rfind("text/", 0) == 0 ? text : binarySchema()));
    }
    if (content->size() > 0) ok->set("content", content);
    return ok;
}

// One line per tag of the route table; a tag without a line here is described by its name.
std::string tagDescription(const std::string& tag) {
    static const std::map<std::string, std::string> kText = {
        {"alerts", "CAP 1.2 alerts from issuing systems, played as takeovers on the screens of their areas."},
        {"audit", "The audit log: who changed what, with before/after snapshots."},
        {"auth", "Sign-in, sessions, API tokens and the caller's own account."},
        {"campaigns", "Campaigns: what plays, when, where, and their approval."},
        {"locations", "Locations: the sites and zones players belong to."},
        {"media", "Media library: upload, metadata, approval and deletion."},
        {"meta", "Liveness, Prometheus metrics and this document."},
        {"players", "Players: enrolment, state, commands and their bundles."},
        {"playlists", "Playlists: ordered media with durations."},
        {"preview", "What a player or location shows at a given time."},
        {"reports", "Proof-of-play reports and evidence exports."},
        {"schedules", "Schedules: dayparts and recurrence of campaigns."},
        {"takeovers", "Takeovers: urgent content that preempts schedules."},
        {"users", "User accounts and their roles (administrators)."},
    };
    auto it = kText.find(tag);
    return it == kText.end() ? tag : it->second;
}

}  // namespace

Poco::JSON::Object::Ptr openApiDocument(const Router& all) {
    Poco::JSON::Object::Ptr doc = new Poco::JSON::Object;
    doc->set("openapi", "3.0.3");
    Poco::JSON::Object::Ptr info = new Poco::JSON::Object;
    info->set("title", "Microscape controller API");
    info->set("version", "1");
    info->set("description",
              "Signed-content signage controller. Errors are {\"error\":{\"code\",\"message\"}}. "
              "Cookie sessions send X-CSRF-Token on POST/PUT/PATCH/DELETE.");
    // deploy/debian/copyright: "License: Microscape" (proprietary, no public text).
    Poco::JSON::Object::Ptr license = new Poco::JSON::Object;
    license->set("name", "Microscape (proprietary)");
    info->set("license", license);
    doc->set("info", info);
    // Relative to the origin that served this document: the paths already carry /api/v1.
    Poco::JSON::Parser sp;
    doc->set("servers", sp.parse(R"([{"url":"/","description":"this controller"}])"));
    std::set<std::string> usedTags;
    Poco::JSON::Object::Ptr paths = new Poco::JSON::Object;
    for (const auto& r : all.routes()) {
        Poco::JSON::Object::Ptr item;
        if (paths->has(r.pattern))
            item = paths->getObject(r.pattern);
        else {
            item = new Poco::JSON::Object;
            paths->set(r.pattern, item);
        }
        Poco::JSON::Object::Ptr op = new Poco::JSON::Object;
        op->set("summary", r.summary);
        op->set("description", "Roles: " + accessText(r.access) + ".");
        op->set("tags", toArray({r.tag}));
        usedTags.insert(r.tag);
        std::string opId = r.method;
        for (char c : r.pattern) opId += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
        op->set("operationId", opId);
        Poco::JSON::Array::Ptr params = new Poco::JSON::Array;
        for (const auto& seg : r.segments) {
            if (seg.size() > 2 && seg.front() == '{') {
                Poco::JSON::Object::Ptr p = new Poco::JSON::Object;
                p->set("name", seg.substr(1, seg.size() - 2));
                p->set("in", "path");
                p->set("required", true);
                // A row id: RequestCtx::idParam takes a positive 64-bit integer and answers
                // 404 for anything else. Players and commands have text ids (Route::textId).
                Poco::JSON::Object::Ptr sch = new Poco::JSON::Object;
                if (r.textId) {
                    sch->set("type", "string");
                    if (seg == "{sha256}") sch->set("pattern", "^[0-9a-f]{64}$");
                } else {
                    sch->set("type", "integer");
                    sch->set("format", "int64");
                    sch->set("minimum", 1);
                }
                p->set("schema", sch);
                params->add(p);
            }
        }
        for (const auto& q : r.query) {
            Poco::JSON::Object::Ptr p = new Poco::JSON::Object;
            p->set("name", q.name);
            p->set("in", "query");
            p->set("required", false);
            p->set("schema", q.schema);
            params->add(p);
        }
        if (params->size() > 0) op->set("parameters", params);
        if (r.access == kPublic) op->set("security", Poco::JSON::Array::Ptr(new Poco::JSON::Array));
        if (!r.bodySchema.empty()) op->set("requestBody", requestBody(r));
        Poco::JSON::Object::Ptr responses = new Poco::JSON::Object;
        responses->set(std::to_string(r.okStatus), successResponse(r, r.okStatus));
        for (int status : r.alsoOk) responses->set(std::to_string(status), successResponse(r, status));
        responses->set("4XX", errorResponse("client error"));
        responses->set("5XX", errorResponse("server error"));
        op->set("responses", responses);
        std::string m = r.method;
        for (auto& c : m) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        item->set(m, op);
    }
    doc->set("paths", paths);
    Poco::JSON::Array::Ptr tags = new Poco::JSON::Array;
    for (const auto& t : usedTags) {
        Poco::JSON::Object::Ptr tag = new Poco::JSON::Object;
        tag->set("name", t);
        tag->set("description", tagDescription(t));
        tags->add(tag);
    }
    doc->set("tags", tags);
    Poco::JSON::Object::Ptr comps = new Poco::JSON::Object;
    Poco::JSON::Parser parser;
    comps->set("schemas", apiSchemas());
    comps->set("securitySchemes", parser.parse(R"({"bearer":{"type":"http","scheme":"bearer"},
            "cookie":{"type":"apiKey","in":"cookie","name":"ms_session"}})"));
    doc->set("components", comps);
    doc->set("security", parser.parse(R"([{"bearer":[]},{"cookie":[]}])"));
    return doc;
}

std::string openApiJson() {
    Router r;
    addAllRoutes(r);
    std::ostringstream o;
    openApiDocument(r)->stringify(o, 1);
    return o.str();
}

void addMetaRoutes(Router& r, const Router* all) {
    r.add(Route{"GET", "/healthz", kPublic, "meta", "Liveness and schema version", healthz}.reply("Health"));
    r.add(Route{"GET", "/metrics", kPublic, "meta", "Prometheus metrics", metrics}.replyAs("text/plain"));
    r.add(Route{
        "GET", "/api/v1/openapi.json", kPublic, "meta", "This document", [all](RequestCtx& ctx) {
            ctx.sendJson(200, openApiDocument(*all));
        }}.reply("OpenApiDocument"));
}

}  // namespace microscape::controller
