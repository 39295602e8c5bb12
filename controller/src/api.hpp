// HTTP plumbing shared by the API handlers: errors, the route table, request
// context, JSON field helpers and the services handlers may use.
// Handlers run on Poco's HTTP worker threads; everything in Services is safe to
// use from any of them (Db serialises, Metrics is atomic/mutex-guarded).
#pragma once

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/Logger.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/URI.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <semaphore>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "microscape/controller/config.hpp"
#include "microscape/controller/db.hpp"
#include "microscape/controller/json_schema.hpp"
#include "microscape/controller/login_throttle.hpp"
#include "microscape/controller/media_store.hpp"
#include "microscape/controller/model.hpp"
#include "microscape/pack/probe.hpp"

namespace microscape::controller {

// An error that becomes {"error":{"code","message"}} with the given HTTP status.
// Thrown by handlers and caught by the dispatcher: the request is the boundary.
struct ApiError : std::runtime_error {
    ApiError(int status, std::string code, const std::string& message)
        : std::runtime_error(message), status(status), code(std::move(code)) {}
    int status;
    std::string code;
};

[[noreturn]] inline void badRequest(const std::string& msg) {
    throw ApiError(400, "bad_request", msg);
}
[[noreturn]] inline void notFound(const std::string& what) {
    throw ApiError(404, "not_found", what + " not found");
}
[[noreturn]] inline void forbidden(const std::string& msg) {
    throw ApiError(403, "forbidden", msg);
}
[[noreturn]] inline void unprocessable(const std::string& code, const std::string& msg) {
    throw ApiError(422, code, msg);
}

class Metrics {
  public:
    // route: the matched route's pattern ("/api/v1/media/{id}"), or "unmatched";
    // method: the request's, counted as "other" unless it is a standard one.
    void recordRequest(const std::string& method, const std::string& route, int status, double seconds);
    std::atomic<std::int64_t> uploadsTotal{0};
    std::atomic<std::int64_t> uploadBytesTotal{0};
    std::atomic<std::int64_t> uploadsDeduplicated{0};
    std::atomic<std::int64_t> bundlesCompiled{0};
    std::atomic<std::int64_t> loginFailures{0};
    std::atomic<std::int64_t> loginsThrottled{0};
    std::atomic<std::int64_t> recallChecks{0};  // rounds of the recall housekeeping
    // Several nodes: manifests announced through the store, and those this
    // node read and pushed because its own hub holds the screen's session.
    std::atomic<std::int64_t> clusterManifestsAnnounced{0};
    std::atomic<std::int64_t> clusterManifestsForwarded{0};
    std::atomic<std::int64_t> mediaHttpBytesSent{0};  // GET /media/{sha256} body bytes
    std::atomic<std::int64_t> mediaHttpRequests{0};   // GET/HEAD /media/{sha256} answered 200/206
    std::string render(std::int64_t playersEnrolled, std::int64_t playersOnline) const;

  private:
    struct Series {
        std::int64_t count = 0;
        double sumSeconds = 0;
        std::int64_t buckets[8] = {};
    };
    struct Key {
        std::string method, route;
        int status;
        auto operator<=>(const Key&) const = default;
    };
    mutable std::mutex mutex_;  // guards series_
    std::map<Key, Series> series_;
};

// Probes uploads in a separate, confined process each (probe_process.hpp), at
// most kMaxConcurrent at a time; safe to use from any worker thread.
// Errors: those of probeInHelper.
class ProbeService {
  public:
    static constexpr int kMaxConcurrent = 2;
    // refusal, when given, receives the refusal code of a BadMedia answer.
    Result<pack::MediaInfo> probe(const std::string& path, const ControllerConfig& config, Poco::Logger& log,
                                  std::string* refusal = nullptr);

  private:
    std::counting_semaphore<kMaxConcurrent> slots_{kMaxConcurrent};
    std::atomic<bool> sandboxLogged_{false};
};

// Hashes of media some compiled manifest names (GET /media/{sha256}); a compiled
// manifest is never removed, so a hash once found stays. Any thread.
class MediaInManifests {
  public:
    bool has(const std::string& sha) const {
        std::lock_guard lock(mutex_);
        return known_.count(sha) > 0;
    }
    void add(const std::string& sha) {
        std::lock_guard lock(mutex_);
        if (known_.size() < 100000) known_.insert(sha);
    }

  private:
    mutable std::mutex mutex_;  // guards known_
    std::set<std::string> known_;
};

class Compiler;
class Hub;
namespace cap {
class SignatureVerifier;
}

struct Services {
    const ControllerConfig& config;
    Db& db;
    MediaStore& media;
    ProbeService& probe;
    Metrics& metrics;
    Poco::Logger& log;
    std::function<std::int64_t()> nowMs;
    std::string contentPublicKeyPem;
    Compiler* compiler = nullptr;
    Hub* hub = nullptr;             // distribution hub (null when not running)
    std::string hubCurvePublicKey;  // Z85, given to enrolling players
    // What the technician's enrolment command carries (set before the first request):
    std::string publicUrl;       // http.publicUrl or derived from the bind address and port
    std::string contentKeyHash;  // sha256:<hex> of the content signing key's SubjectPublicKeyInfo
    std::string tlsKeyHash;      // the same for the HTTPS key; "" when none is served or configured
    // Login-failure state, in memory (it starts empty after a restart).
    std::shared_ptr<LoginThrottle> loginThrottle = std::make_shared<LoginThrottle>();
    // Checks CAP alerts' XML signatures against alerts.trustedKeys (null when none are configured).
    const cap::SignatureVerifier* alertVerifier = nullptr;
    std::shared_ptr<MediaInManifests> mediaInManifests = std::make_shared<MediaInManifests>();
};

// Strict-Transport-Security on every HTTPS response: one year.
constexpr const char* kHsts = "max-age=31536000";

struct Principal {
    User user;
    bool viaCookie = false;
    std::string sessionHash;  // set for cookie sessions
    Actor actor() const { return Actor{user.id, user.username, user.role, user.department}; }
};

struct Route;

class RequestCtx {
  public:
    RequestCtx(Poco::Net::HTTPServerRequest& req, Poco::Net::HTTPServerResponse& resp, Services& svc)
        : req(req), resp(resp), svc(svc), uri(req.getURI()) {}

    Poco::Net::HTTPServerRequest& req;
    Poco::Net::HTTPServerResponse& resp;
    Services& svc;
    Poco::URI uri;
    std::map<std::string, std::string> params;  // path parameters
    std::optional<Principal> who;
    const Route* route = nullptr;        // the matched route, once routed
    Poco::JSON::Object::Ptr parsedBody;  // the JSON body, once read

    const Principal& principal() const { return *who; }
    std::string param(const std::string& name) const { return params.at(name); }
    std::int64_t idParam(const std::string& name) const;  // 404 if not a positive integer
    // The query parameter `name`, which the route must declare (else std::logic_error, a 500).
    std::optional<std::string> query(const std::string& name) const;
    // Reads the body (bounded by http.maxJsonBytes) and parses a JSON object; later
    // calls return the same object.
    Poco::JSON::Object::Ptr jsonBody();

    void sendJson(int status, const Poco::Dynamic::Var& body);
    void sendNoContent();
};

// Department rules shared by media and plans: editors act only for their own
// department; other roles are not limited by department.
inline void requireSameDepartment(const RequestCtx& ctx, const std::string& department) {
    const auto& u = ctx.principal().user;
    if (u.role == Role::Editor && u.department != department)
        forbidden("editors may change only their own department's content and plans");
}

// The department a new item belongs to: an editor's own (asking for another is
// refused); for other roles the one requested, else their own.
inline std::string departmentFor(const RequestCtx& ctx, const std::optional<std::string>& requested) {
    const auto& u = ctx.principal().user;
    if (u.role == Role::Editor) {
        if (requested && *requested != u.department) forbidden("editors work for their own department only");
        return u.department;
    }
    return requested.value_or(u.department);
}

// Access bits: which roles may call a route. kPublic means no login at all.
enum Access : unsigned {
    kPublic = 0,
    kAdmin = 1u << 0,
    kEditor = 1u << 1,
    kApprover = 1u << 2,
    kAuditor = 1u << 3,
    kAnyUser = kAdmin | kEditor | kApprover | kAuditor,
    // An issuing system's account: the alert routes and its own account and tokens.
    kAlertFeed = 1u << 4,
    kOwnAccount = kAnyUser | kAlertFeed,
};
bool roleAllowed(unsigned access, Role r);

// A query parameter a route reads. RequestCtx::query refuses (500) a name its route
// does not declare, so the OpenAPI document lists every parameter a handler reads.
struct QueryParam {
    QueryParam(std::string name, std::string type = "string", std::string format = "",
               std::vector<std::string> values = {});
    std::string name;
    std::string type;                 // OpenAPI type: string, integer or boolean
    std::string format;               // e.g. date, date-time; empty when none
    std::vector<std::string> values;  // the closed set (enum); empty when open
    // {"type", "format"?, "enum"?}: what the document publishes and checkQuery checks.
    Poco::JSON::Object::Ptr schema;
};

struct Route {
    Route(std::string method, std::string pattern, unsigned access, std::string tag, std::string summary,
          std::function<void(RequestCtx&)> handler, int okStatus = 200)
        : method(std::move(method)),
          pattern(std::move(pattern)),
          access(access),
          tag(std::move(tag)),
          summary(std::move(summary)),
          handler(std::move(handler)),
          okStatus(okStatus) {}
    std::string method;
    std::string pattern;  // e.g. /api/v1/media/{id}
    unsigned access = kAnyUser;
    std::string tag;      // OpenAPI tag
    std::string summary;  // OpenAPI summary
    std::function<void(RequestCtx&)> handler;
    int okStatus = 200;
    std::vector<std::string> segments;  // split pattern
    bool textId = false;                // {id} is a text id (players, commands), not a row number
    std::vector<QueryParam> query;      // every query parameter the handler reads

    // The request body: a schema in apiSchemas() by name. The dispatcher checks the
    // body against it before the handler runs (400 naming the field); an optional
    // body is checked only when one is sent. "" = the route reads no JSON body.
    std::string bodySchema;
    bool bodyRequired = true;
    // Set when the body is not JSON: its media types (the first with bodySchema,
    // the others raw bytes); the handler reads and checks it.
    std::vector<std::string> bodyTypes;
    // The success answer: a JSON schema in apiSchemas() by name, and/or the media
    // types of a non-JSON answer (e.g. application/x-tar); both empty for 204.
    std::string replySchema;
    std::vector<std::string> replyTypes;
    std::vector<int> alsoOk;  // other success statuses with the same answer (200 for a deduplicated upload)

    Route& body(std::string schema, bool required = true) {
        bodySchema = std::move(schema);
        bodyRequired = required;
        return *this;
    }
    Route& bodyAs(std::string mediaType) {
        bodyTypes.push_back(std::move(mediaType));
        return *this;
    }
    Route& reply(std::string schema) {
        replySchema = std::move(schema);
        return *this;
    }
    Route& replyAs(std::string mediaType) {
        replyTypes.push_back(std::move(mediaType));
        return *this;
    }
    Route& also(int status) {
        alsoOk.push_back(status);
        return *this;
    }
};

// Declared next to a route: its {id} is text (see Route::textId).
inline Route textId(Route r) {
    r.textId = true;
    return r;
}
// Declared next to a route: the query parameters its handler reads.
inline Route withQuery(Route r, std::vector<QueryParam> query) {
    r.query = std::move(query);
    return r;
}

class Router {
  public:
    void add(Route r);
    struct Match {
        const Route* route = nullptr;
        std::map<std::string, std::string> params;
        bool pathKnown = false;  // some route has this path with another method
        std::string allow;       // then: the methods it has, for a 405's Allow header
    };
    // Matches exactly one spelling of a path: "/metrics/" and "//metrics" match
    // nothing (docs/controller-api.md). HEAD matches the GET route.
    Match match(const std::string& method, const std::string& path) const;
    const std::vector<Route>& routes() const { return routes_; }

  private:
    std::vector<Route> routes_;
};

// The API's body schemas (api_schemas.cpp), parsed once; and a checker over them.
const Poco::JSON::Object::Ptr& apiSchemas();
const SchemaSet& apiSchemaSet();
// {"$ref":"#/components/schemas/NAME"}
Poco::JSON::Object::Ptr schemaRef(const std::string& name);
// Checks the declared query parameters a request carries against their types,
// formats and closed sets (400 naming the parameter).
void checkQuery(const RequestCtx& ctx);
// Checks the request body against the route's schema (400 naming the field).
void checkBody(RequestCtx& ctx);

// --- JSON field helpers: each throws ApiError(400) naming the field ------------------
std::string reqString(const Poco::JSON::Object::Ptr& o, const std::string& key, std::size_t maxLen = 1000);
std::optional<std::string> optString(const Poco::JSON::Object::Ptr& o, const std::string& key,
                                     std::size_t maxLen = 1000);
std::int64_t reqInt(const Poco::JSON::Object::Ptr& o, const std::string& key);
std::optional<std::int64_t> optInt(const Poco::JSON::Object::Ptr& o, const std::string& key);  // null -> nullopt
std::optional<bool> optBool(const Poco::JSON::Object::Ptr& o, const std::string& key);
std::optional<std::vector<std::string>> optStringArray(const Poco::JSON::Object::Ptr& o, const std::string& key);
std::optional<Poco::JSON::Array::Ptr> optArray(const Poco::JSON::Object::Ptr& o, const std::string& key);
std::optional<Poco::JSON::Object::Ptr> optObject(const Poco::JSON::Object::Ptr& o, const std::string& key);
bool has(const Poco::JSON::Object::Ptr& o, const std::string& key);

// ISO 8601 UTC ("2025-04-15T08:00:00Z") <-> milliseconds.
std::string isoUtc(std::int64_t ms);
std::int64_t parseIsoField(const std::string& field, const std::string& text);  // 400 on error
Poco::Dynamic::Var optIso(const std::optional<std::int64_t>& ms);
Poco::Dynamic::Var nullable(const std::optional<std::int64_t>& v);
Poco::Dynamic::Var nullableStr(const std::string& s);
Poco::JSON::Array::Ptr toArray(const std::vector<std::string>& v);
Poco::JSON::Object::Ptr parseStoredJson(const std::string& text);  // object stored by us
Poco::JSON::Array::Ptr parseStoredArray(const std::string& text);
std::string stringify(const Poco::Dynamic::Var& v);

// Writes an audit row (who, what, which id, before/after snapshots) in the same
// transaction as the change it describes.
void recordAudit(DbConn& c, const RequestCtx& ctx, const std::string& action, const std::string& entity,
                 const std::string& entityId, const Poco::Dynamic::Var& before, const Poco::Dynamic::Var& after);

Poco::JSON::Object::Ptr userJson(const User& u);

// Route registration, one function per resource family.
void addAuthRoutes(Router& r);
void addMediaRoutes(Router& r);
void addFleetRoutes(Router& r);
void addScheduleRoutes(Router& r);
Poco::JSON::Object::Ptr mediaJson(const Media& m);
// The same with the files derived from it ("derived": normalised still, renditions).
Poco::JSON::Object::Ptr mediaJson(DbConn& c, const Media& m);
Poco::JSON::Object::Ptr takeoverJson(const Takeover& t, std::int64_t nowMs);
Poco::JSON::Object::Ptr playlistJson(DbConn& c, const Playlist& p);
void addAlertRoutes(Router& r);
void addMetaRoutes(Router& r, const Router* all);
void addCompileRoutes(Router& r);
void addHubRoutes(Router& r);
void addReportRoutes(Router& r);
void addObservanceRoutes(Router& r);
// GET /media/{sha256} (the mirrors' origin) and the fleet's and districts' mirror settings.
void addMirrorRoutes(Router& r);
// A list of mirror base URLs from a request (null: none), each normalised (one
// trailing '/' dropped) and checked (manifest::isValidMirrorUrl), at most
// manifest::kMaxMirrors, no repeats; 400 naming the field otherwise.
std::vector<std::string> checkedMirrors(const std::string& field, const std::optional<Poco::JSON::Array::Ptr>& list);
// Every route of the API, in the order the server serves them.
void addAllRoutes(Router& r);
// The OpenAPI 3.0 document of a route table (GET /api/v1/openapi.json).
Poco::JSON::Object::Ptr openApiDocument(const Router& all);

}  // namespace microscape::controller
