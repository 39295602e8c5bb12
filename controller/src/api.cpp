#include "api.hpp"

#include <Poco/DateTimeFormat.h>
#include <Poco/DateTimeFormatter.h>
#include <Poco/DateTimeParser.h>
#include <Poco/JSON/JSONException.h>
#include <Poco/JSON/Parser.h>
#include <Poco/NumberParser.h>
#include <Poco/StreamCopier.h>
#include <Poco/String.h>

#include <algorithm>
#include <cmath>
#include <sstream>

#include "microscape/controller/repo.hpp"
#include "microscape/core/json.hpp"

namespace microscape::controller {

// --- metrics --------------------------------------------------------------------------
namespace {
constexpr double kBucketBounds[8] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0};
}

void Metrics::recordRequest(const std::string& method, const std::string& route, int status, double seconds) {
    // Bounded label values: a client cannot add series with made-up methods.
    static const char* const kMethods[] = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"};
    std::string m = "other";
    for (const char* k : kMethods)
        if (method == k) m = k;
    std::lock_guard lock(mutex_);
    auto& s = series_[{m, route, status}];
    s.count++;
    s.sumSeconds += seconds;
    for (int i = 0; i < 8; ++i)
        if (seconds <= kBucketBounds[i]) s.buckets[i]++;
}

std::string Metrics::render(std::int64_t playersEnrolled, std::int64_t playersOnline) const {
    std::ostringstream o;
    o << "# HELP microscape_players_enrolled Players enrolled and not retired.\n"
         "# TYPE microscape_players_enrolled gauge\n"
      << "microscape_players_enrolled " << playersEnrolled << "\n"
      << "# HELP microscape_players_online Players seen within the heartbeat window.\n"
         "# TYPE microscape_players_online gauge\n"
      << "microscape_players_online " << playersOnline << "\n"
      << "# HELP microscape_bundles_compiled_total Per-player manifests compiled and signed.\n"
         "# TYPE microscape_bundles_compiled_total counter\n"
      << "microscape_bundles_compiled_total " << bundlesCompiled.load() << "\n"
      << "# HELP microscape_uploads_total Media uploads accepted.\n"
         "# TYPE microscape_uploads_total counter\n"
      << "microscape_uploads_total " << uploadsTotal.load() << "\n"
      << "# HELP microscape_upload_bytes_total Bytes of accepted media uploads.\n"
         "# TYPE microscape_upload_bytes_total counter\n"
      << "microscape_upload_bytes_total " << uploadBytesTotal.load() << "\n"
      << "# HELP microscape_uploads_deduplicated_total Uploads whose content was already stored.\n"
         "# TYPE microscape_uploads_deduplicated_total counter\n"
      << "microscape_uploads_deduplicated_total " << uploadsDeduplicated.load() << "\n"
      << "# HELP microscape_login_failures_total Failed login attempts.\n"
         "# TYPE microscape_login_failures_total counter\n"
      << "microscape_login_failures_total " << loginFailures.load() << "\n"
      << "# HELP microscape_logins_throttled_total Login attempts refused by the failure "
         "throttle.\n"
         "# TYPE microscape_logins_throttled_total counter\n"
      << "microscape_logins_throttled_total " << loginsThrottled.load() << "\n"
      << "# HELP microscape_recall_checks_total Rounds of the recall housekeeping (expired media recalled, open "
         "recalls settled), one a second.\n"
         "# TYPE microscape_recall_checks_total counter\n"
      << "microscape_recall_checks_total " << recallChecks.load() << "\n"
      << "# HELP microscape_cluster_manifests_announced_total Manifests announced through the store "
         "(several nodes on PostgreSQL; catch-ups after a lost connection included).\n"
         "# TYPE microscape_cluster_manifests_announced_total counter\n"
      << "microscape_cluster_manifests_announced_total " << clusterManifestsAnnounced.load() << "\n"
      << "# HELP microscape_cluster_manifests_forwarded_total Announced manifests this node read and pushed "
         "to a screen whose session its hub holds.\n"
         "# TYPE microscape_cluster_manifests_forwarded_total counter\n"
      << "microscape_cluster_manifests_forwarded_total " << clusterManifestsForwarded.load() << "\n"
      << "# HELP microscape_media_http_requests_total Media served to mirrors and players over HTTP "
         "(GET /media/{sha256}, 200 or 206).\n"
         "# TYPE microscape_media_http_requests_total counter\n"
      << "microscape_media_http_requests_total " << mediaHttpRequests.load() << "\n"
      << "# HELP microscape_media_http_bytes_sent_total Media bytes sent over HTTP (GET /media/{sha256}).\n"
         "# TYPE microscape_media_http_bytes_sent_total counter\n"
      << "microscape_media_http_bytes_sent_total " << mediaHttpBytesSent.load() << "\n";
    std::lock_guard lock(mutex_);
    o << "# HELP microscape_http_requests_total HTTP requests by method, route pattern and "
         "status.\n"
         "# TYPE microscape_http_requests_total counter\n";
    for (const auto& [k, s] : series_)
        o << "microscape_http_requests_total{method=\"" << k.method << "\",route=\"" << k.route << "\",status=\""
          << k.status << "\"} " << s.count << "\n";
    o << "# HELP microscape_http_request_duration_seconds HTTP request latency by method and route "
         "pattern.\n"
         "# TYPE microscape_http_request_duration_seconds histogram\n";
    std::map<std::pair<std::string, std::string>, Series> byRoute;
    for (const auto& [k, s] : series_) {
        auto& t = byRoute[{k.method, k.route}];
        t.count += s.count;
        t.sumSeconds += s.sumSeconds;
        for (int i = 0; i < 8; ++i) t.buckets[i] += s.buckets[i];
    }
    for (const auto& [mr, s] : byRoute) {
        const std::string labels = "method=\"" + mr.first + "\",route=\"" + mr.second + "\"";
        for (int i = 0; i < 8; ++i)
            o << "microscape_http_request_duration_seconds_bucket{" << labels << ",le=\"" << kBucketBounds[i] << "\"} "
              << s.buckets[i] << "\n";
        o << "microscape_http_request_duration_seconds_bucket{" << labels << ",le=\"+Inf\"} " << s.count << "\n";
        o << "microscape_http_request_duration_seconds_sum{" << labels << "} " << s.sumSeconds << "\n";
        o << "microscape_http_request_duration_seconds_count{" << labels << "} " << s.count << "\n";
    }
    return o.str();
}

// --- request context ---------------------------------------------------------------------
std::int64_t RequestCtx::idParam(const std::string& name) const {
    Poco::Int64 v = 0;
    if (!Poco::NumberParser::tryParse64(param(name), v) || v <= 0) throw ApiError(404, "not_found", "no such id");
    return v;
}

std::optional<std::string> RequestCtx::query(const std::string& name) const {
    if (route &&
        std::none_of(route->query.begin(), route->query.end(), [&](const QueryParam& q) { return q.name == name; }))
        throw std::logic_error("query parameter '" + name + "' is not declared on " + route->method + " " +
                               route->pattern);
    for (const auto& [k, v] : uri.getQueryParameters())
        if (k == name) return v;
    return std::nullopt;
}

Poco::JSON::Object::Ptr RequestCtx::jsonBody() {
    if (parsedBody) return parsedBody;
    const std::size_t limit = svc.config.maxJsonBytes;
    if (req.hasContentLength() && req.getContentLength64() > static_cast<Poco::Int64>(limit))
        throw ApiError(413, "too_large", "request body exceeds " + std::to_string(limit) + " bytes");
    std::string body;
    std::vector<char> buf(16384);
    auto& in = req.stream();
    while (in) {
        in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
        auto n = static_cast<std::size_t>(in.gcount());
        if (n == 0) break;
        if (body.size() + n > limit)
            throw ApiError(413, "too_large", "request body exceeds " + std::to_string(limit) + " bytes");
        body.append(buf.data(), n);
    }
    if (body.empty()) badRequest("a JSON object body is required");
    if (!json::isValidUtf8(body)) throw ApiError(400, "bad_json", "request body is not valid UTF-8");
    Poco::Dynamic::Var v;
    try {
        Poco::JSON::Parser p;
        v = p.parse(body);
    } catch (const Poco::Exception& e) {
        throw ApiError(400, "bad_json", "malformed JSON: " + e.message());
    }
    if (v.type() != typeid(Poco::JSON::Object::Ptr)) throw ApiError(400, "bad_json", "the body must be a JSON object");
    parsedBody = v.extract<Poco::JSON::Object::Ptr>();
    return parsedBody;
}

void RequestCtx::sendJson(int status, const Poco::Dynamic::Var& body) {
    // With its reason phrase: "404 Not Found", not Poco's default "404 OK".
    resp.setStatusAndReason(static_cast<Poco::Net::HTTPResponse::HTTPStatus>(status));
    resp.setContentType("application/json; charset=utf-8");
    resp.set("Cache-Control", "no-store");
    std::string text = stringify(body);
    resp.setContentLength64(static_cast<Poco::Int64>(text.size()));
    resp.send() << text;
}

void RequestCtx::sendNoContent() {
    resp.setStatusAndReason(Poco::Net::HTTPResponse::HTTP_NO_CONTENT);
    resp.setContentLength64(0);
    resp.send();
}

bool roleAllowed(unsigned access, Role r) {
    switch (r) {
        case Role::Admin:
            return access & kAdmin;
        case Role::Editor:
            return access & kEditor;
        case Role::Approver:
            return access & kApprover;
        case Role::Auditor:
            return access & kAuditor;
        case Role::AlertFeed:
            return access & kAlertFeed;
    }
    return false;
}

// --- router -------------------------------------------------------------------------------
namespace {
std::vector<std::string> splitPath(const std::string& path) {
    std::vector<std::string> out;
    std::string cur;
    for (char c : path) {
        if (c == '/') {
            if (!cur.empty()) out.push_back(cur);
            cur.clear();
        } else {
            cur += c;
        }
    }
    if (!cur.empty()) out.push_back(cur);
    return out;
}
}  // namespace

void Router::add(Route r) {
    // A misnamed or malformed schema stops the controller at start-up, not at the first request.
    static const bool kLinted = (apiSchemaSet().lintAll(), true);
    (void)kLinted;
    for (const auto* name : {&r.bodySchema, &r.replySchema})
        if (!name->empty()) apiSchemaSet().lint(schemaRef(*name), r.method + " " + r.pattern);
    r.segments = splitPath(r.pattern);
    routes_.push_back(std::move(r));
}

Router::Match Router::match(const std::string& method, const std::string& path) const {
    Match m;
    auto segs = splitPath(path);
    std::string canonical;
    for (const auto& s : segs) canonical += "/" + s;
    if (canonical != (path == "/" ? "" : path)) return m;  // a trailing or doubled slash
    // HEAD is GET without the body: Poco's response sends only the headers.
    const std::string& wanted = method == "HEAD" ? std::string("GET") : method;
    std::vector<std::string> allowed;
    for (const auto& r : routes_) {
        if (r.segments.size() != segs.size()) continue;
        std::map<std::string, std::string> params;
        bool ok = true;
        for (std::size_t i = 0; i < segs.size() && ok; ++i) {
            const auto& p = r.segments[i];
            if (p.size() > 2 && p.front() == '{' && p.back() == '}')
                params[p.substr(1, p.size() - 2)] = segs[i];
            else
                ok = p == segs[i];
        }
        if (!ok) continue;
        if (r.method != wanted) {
            m.pathKnown = true;
            allowed.push_back(r.method);
            if (r.method == "GET") allowed.push_back("HEAD");
            continue;
        }
        m.route = &r;
        m.params = std::move(params);
        return m;
    }
    std::sort(allowed.begin(), allowed.end());
    allowed.erase(std::unique(allowed.begin(), allowed.end()), allowed.end());
    for (const auto& a : allowed) m.allow += (m.allow.empty() ? "" : ", ") + a;
    return m;
}

// --- schemas ---------------------------------------------------------------------------------
QueryParam::QueryParam(std::string name, std::string type, std::string format, std::vector<std::string> values)
    : name(std::move(name)), type(std::move(type)), format(std::move(format)), values(std::move(values)) {
    schema = new Poco::JSON::Object;
    schema->set("type", this->type);
    if (!this->format.empty()) schema->set("format", this->format);
    if (!this->values.empty()) schema->set("enum", toArray(this->values));
}

Poco::JSON::Object::Ptr schemaRef(const std::string& name) {
    Poco::JSON::Object::Ptr o = new Poco::JSON::Object;
    o->set("$ref", "#/components/schemas/" + name);
    return o;
}

void checkQuery(const RequestCtx& ctx) {
    if (!ctx.route) return;
    for (const auto& [k, v] : ctx.uri.getQueryParameters()) {
        auto q = std::find_if(ctx.route->query.begin(), ctx.route->query.end(),
                              [&](const QueryParam& d) { return d.name == k; });
        if (q == ctx.route->query.end()) continue;  // not read by the handler
        if (q->type == "integer") {
            // Digits with an optional minus, within int64 (no spaces, signs or separators).
            const std::size_t from = !v.empty() && v[0] == '-' ? 1 : 0;
            Poco::Int64 n = 0;
            if (v.size() == from || v.size() > 19 + from ||
                !std::all_of(v.begin() + static_cast<std::ptrdiff_t>(from), v.end(),
                             [](char c) { return c >= '0' && c <= '9'; }) ||
                !Poco::NumberParser::tryParse64(v, n))
                badRequest("query '" + k + "' must be an integer");
        } else if (q->type == "boolean") {
            if (v != "true" && v != "false") badRequest("query '" + k + "' must be true or false");
        } else if (auto p = apiSchemaSet().check(Poco::Dynamic::Var(v), q->schema, "query '" + k + "'")) {
            badRequest(*p);
        }
    }
}

void checkBody(RequestCtx& ctx) {
    if (!ctx.route || ctx.route->bodySchema.empty() || !ctx.route->bodyTypes.empty()) return;
    if (!ctx.route->bodyRequired && !(ctx.req.hasContentLength() && ctx.req.getContentLength64() > 0) &&
        !ctx.req.getChunkedTransferEncoding())
        return;
    auto body = ctx.jsonBody();
    if (auto p = apiSchemaSet().check(Poco::Dynamic::Var(body), schemaRef(ctx.route->bodySchema), "body"))
        badRequest(*p);
}

// --- JSON helpers -----------------------------------------------------------------------------
namespace {
[[noreturn]] void wrongType(const std::string& key, const char* want) {
    badRequest("field '" + key + "' must be " + want);
}
bool isNullVar(const Poco::Dynamic::Var& v) {
    return v.isEmpty();
}
}  // namespace

bool has(const Poco::JSON::Object::Ptr& o, const std::string& key) {
    return o->has(key) && !o->isNull(key);
}

std::optional<std::string> optString(const Poco::JSON::Object::Ptr& o, const std::string& key, std::size_t maxLen) {
    if (!o->has(key)) return std::nullopt;
    auto v = o->get(key);
    if (isNullVar(v)) return std::nullopt;
    if (!v.isString()) wrongType(key, "a string");
    std::string s = v.extract<std::string>();
    if (s.size() > maxLen) badRequest("field '" + key + "' is longer than " + std::to_string(maxLen) + " bytes");
    return s;
}

std::string reqString(const Poco::JSON::Object::Ptr& o, const std::string& key, std::size_t maxLen) {
    auto s = optString(o, key, maxLen);
    if (!s) badRequest("missing field '" + key + "'");
    if (Poco::trim(*s).empty()) badRequest("field '" + key + "' must not be empty");
    return *s;
}

std::optional<std::int64_t> optInt(const Poco::JSON::Object::Ptr& o, const std::string& key) {
    if (!o->has(key)) return std::nullopt;
    auto v = o->get(key);
    if (isNullVar(v)) return std::nullopt;
    if (!v.isInteger() || v.isBoolean()) wrongType(key, "an integer");
    return v.convert<Poco::Int64>();
}

std::int64_t reqInt(const Poco::JSON::Object::Ptr& o, const std::string& key) {
    auto v = optInt(o, key);
    if (!v) badRequest("missing field '" + key + "'");
    return *v;
}

std::optional<bool> optBool(const Poco::JSON::Object::Ptr& o, const std::string& key) {
    if (!o->has(key)) return std::nullopt;
    auto v = o->get(key);
    if (isNullVar(v)) return std::nullopt;
    if (!v.isBoolean()) wrongType(key, "true or false");
    return v.extract<bool>();
}

std::optional<Poco::JSON::Array::Ptr> optArray(const Poco::JSON::Object::Ptr& o, const std::string& key) {
    if (!o->has(key) || o->isNull(key)) return std::nullopt;
    if (!o->isArray(key)) wrongType(key, "an array");
    return o->getArray(key);
}

std::optional<Poco::JSON::Object::Ptr> optObject(const Poco::JSON::Object::Ptr& o, const std::string& key) {
    if (!o->has(key) || o->isNull(key)) return std::nullopt;
    if (!o->isObject(key)) wrongType(key, "an object");
    return o->getObject(key);
}

std::optional<std::vector<std::string>> optStringArray(const Poco::JSON::Object::Ptr& o, const std::string& key) {
    auto a = optArray(o, key);
    if (!a) return std::nullopt;
    std::vector<std::string> out;
    for (std::size_t i = 0; i < (*a)->size(); ++i) {
        auto v = (*a)->get(static_cast<unsigned>(i));
        if (!v.isString()) wrongType(key, "an array of strings");
        std::string s = Poco::trim(v.extract<std::string>());
        if (s.empty() || s.size() > 200) badRequest("field '" + key + "' holds an empty or overlong string");
        if (std::find(out.begin(), out.end(), s) == out.end()) out.push_back(s);
    }
    if (out.size() > 100) badRequest("field '" + key + "' holds more than 100 entries");
    return out;
}

std::string isoUtc(std::int64_t ms) {
    Poco::Timestamp ts(static_cast<Poco::Timestamp::TimeVal>(ms) * 1000);
    return Poco::DateTimeFormatter::format(ts, "%Y-%m-%dT%H:%M:%SZ");
}

std::int64_t parseIsoField(const std::string& field, const std::string& text) {
    Poco::DateTime dt;
    int tzd = 0;
    if (text.size() < 20 || !Poco::DateTimeParser::tryParse(Poco::DateTimeFormat::ISO8601_FORMAT, text, dt, tzd)) {
        if (!Poco::DateTimeParser::tryParse(Poco::DateTimeFormat::ISO8601_FRAC_FORMAT, text, dt, tzd) ||
            text.size() < 20)
            badRequest("field '" + field + "' must be an ISO 8601 time with zone, e.g. 2025-04-15T08:00:00+08:00");
    }
    dt.makeUTC(tzd);
    return dt.timestamp().epochMicroseconds() / 1000;
}

Poco::Dynamic::Var optIso(const std::optional<std::int64_t>& ms) {
    if (!ms) return Poco::Dynamic::Var();
    return isoUtc(*ms);
}
Poco::Dynamic::Var nullable(const std::optional<std::int64_t>& v) {
    if (!v) return Poco::Dynamic::Var();
    return Poco::Int64(*v);
}
Poco::Dynamic::Var nullableStr(const std::string& s) {
    if (s.empty()) return Poco::Dynamic::Var();
    return s;
}

Poco::JSON::Array::Ptr toArray(const std::vector<std::string>& v) {
    Poco::JSON::Array::Ptr a = new Poco::JSON::Array;
    for (const auto& s : v) a->add(s);
    return a;
}

Poco::JSON::Object::Ptr parseStoredJson(const std::string& text) {
    if (text.empty()) return new Poco::JSON::Object;
    Poco::JSON::Parser p;
    return p.parse(text).extract<Poco::JSON::Object::Ptr>();
}
Poco::JSON::Array::Ptr parseStoredArray(const std::string& text) {
    if (text.empty()) return new Poco::JSON::Array;
    Poco::JSON::Parser p;
    return p.parse(text).extract<Poco::JSON::Array::Ptr>();
}

std::string stringify(const Poco::Dynamic::Var& v) {
    std::ostringstream o;
    if (v.type() == typeid(Poco::JSON::Object::Ptr))
        v.extract<Poco::JSON::Object::Ptr>()->stringify(o);
    else if (v.type() == typeid(Poco::JSON::Array::Ptr))
        v.extract<Poco::JSON::Array::Ptr>()->stringify(o);
    else
        o << Poco::Dynamic::Var::toString(v);
    return o.str();
}

void recordAudit(DbConn& c, const RequestCtx& ctx, const std::string& action, const std::string& entity,
                 const std::string& entityId, const Poco::Dynamic::Var& before, const Poco::Dynamic::Var& after) {
    Actor who = ctx.who ? ctx.who->actor() : Actor{0, "anonymous", Role::Auditor, {}};
    repo::audit(c, who, action, entity, entityId, before.isEmpty() ? std::string() : stringify(before),
                after.isEmpty() ? std::string() : stringify(after), ctx.svc.nowMs());
}

Poco::JSON::Object::Ptr userJson(const User& u) {
    Poco::JSON::Object::Ptr o = new Poco::JSON::Object;
    o->set("id", Poco::Int64(u.id));
    o->set("username", u.username);
    o->set("displayName", u.displayName);
    o->set("role", std::string(roleName(u.role)));
    o->set("department", nullableStr(u.department));
    o->set("disabled", u.disabled);
    o->set("fleetWide", u.fleetWide);
    o->set("createdAt", isoUtc(u.createdAtMs));
    return o;
}

}  // namespace microscape::controller
