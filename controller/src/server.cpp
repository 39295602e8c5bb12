#include "microscape/controller/server.hpp"
#include "cluster.hpp"
#include "store/change_feed.hpp"

#include <Poco/Logger.h>
#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/NameValueCollection.h>
#include <Poco/Net/NetException.h>
#include <Poco/Net/ServerSocket.h>
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <stop_token>
#include <thread>
#include <unordered_map>
#include <utility>

#include "alert_feed.hpp"
#include "api.hpp"
#include "cap_signature.hpp"
#include "compiler.hpp"
#include "http_gate.hpp"
#include "hub_api.hpp"
#include "hub_backend.hpp"
#include "keys.hpp"
#include "microscape/controller/hub.hpp"
#include "microscape/controller/repo.hpp"
#include "microscape/controller/security.hpp"
#include "microscape/core/pin.hpp"
#include "microscape/pack/file_io.hpp"
#include "pop_ingest.hpp"
#include "recalls.hpp"
#include "renditions.hpp"
#include "reports.hpp"
#include "static_files.hpp"
#include "store/job_lock.hpp"
#include "tls.hpp"

namespace microscape::controller {

namespace fs = std::filesystem;

namespace {

std::int64_t systemNowMs() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

bool isStateChanging(const std::string& m) {
    return m == "POST" || m == "PUT" || m == "PATCH" || m == "DELETE";
}

// Resolves the caller from a Bearer token or a session cookie. Returns nullopt when
// no credentials were presented; throws 401 when they were presented but are bad.
std::optional<Principal> authenticate(RequestCtx& ctx) {
    auto& svc = ctx.svc;
    const std::int64_t now = svc.nowMs();
    const std::string authz = ctx.req.get("Authorization", "");
    if (!authz.empty()) {
        if (authz.rfind("Bearer ", 0) != 0)
            throw ApiError(401, "unauthorized", "Authorization must be 'Bearer <token>'");
        const std::string hash = sha256Hex(authz.substr(7));
        return svc.db.write([&](DbConn& c) -> std::optional<Principal> {
            auto tok = repo::apiTokenByHash(c, hash);
            if (!tok || tok->revokedAtMs) throw ApiError(401, "unauthorized", "invalid or revoked API token");
            auto user = repo::userById(c, tok->userId);
            if (!user || user->disabled) throw ApiError(401, "unauthorized", "the token's user is disabled");
            repo::touchApiToken(c, tok->id, now);
            return Principal{*user, false, {}};
        });
    }
    Poco::Net::NameValueCollection cookies;
    ctx.req.getCookies(cookies);
    if (!cookies.has("ms_session")) return std::nullopt;
    const std::string hash = sha256Hex(cookies.get("ms_session"));
    // A session ends at its absolute lifetime (auth.sessionTtlSeconds) or after
    // auth.sessionIdleSeconds without a request; use is recorded at most every
    // tenth of the idle time (and every minute) to spare writes.
    const std::int64_t idleMs = std::int64_t(svc.config.sessionIdleSeconds) * 1000;
    const std::int64_t touchEveryMs = std::min<std::int64_t>(60'000, idleMs / 10);
    bool touch = false, idle = false;
    auto principal = svc.db.read([&](DbConn& c) -> std::optional<Principal> {
        auto s = repo::sessionByHash(c, hash);
        if (!s || s->expiresAtMs <= now) throw ApiError(401, "unauthorized", "session expired; log in again");
        if (now - s->lastSeenAtMs >= idleMs) {
            idle = true;
            return std::nullopt;
        }
        touch = now - s->lastSeenAtMs >= touchEveryMs;
        auto user = repo::userById(c, s->userId);
        if (!user || user->disabled) throw ApiError(401, "unauthorized", "the session's user is disabled");
        Principal p{*user, true, hash};
        return p;
    });
    if (idle) {
        svc.db.write([&](DbConn& c) { repo::deleteSession(c, hash); });
        throw ApiError(401, "unauthorized", "session ended after inactivity; log in again");
    }
    if (touch) svc.db.write([&](DbConn& c) { repo::touchSession(c, hash, now); });
    return principal;
}

std::string csrfOf(Services& svc, const std::string& sessionHash) {
    return svc.db.read([&](DbConn& c) {
        auto s = repo::sessionByHash(c, sessionHash);
        return s ? s->csrf : std::string();
    });
}

// Reads and discards what is left of the request body, so that the response
// reaches the client instead of a reset and the connection can carry the next
// request. A body declared (or, chunked, found) larger than `limitBytes` is not
// read at all: waiting for 10 GB that may never come held a worker for the whole
// socket timeout. False then (or on a stalled or broken body): the caller closes
// the connection.
constexpr std::uint64_t kErrorDrainSlackBytes = 1 << 20;

bool drainBody(Poco::Net::HTTPServerRequest& req, std::uint64_t limitBytes) {
    if (req.hasContentLength() && req.getContentLength64() > static_cast<Poco::Int64>(limitBytes)) return false;
    try {
        auto& in = req.stream();
        char buf[65536];
        std::uint64_t total = 0;
        while (in) {
            in.read(buf, sizeof buf);
            if (in.gcount() <= 0) break;
            total += static_cast<std::uint64_t>(in.gcount());
            if (total > limitBytes) return false;
        }
        return in.eof();
    } catch (...) {
        return false;
    }
}

class Dispatcher : public Poco::Net::HTTPRequestHandler {
  public:
    Dispatcher(const Router& router, Services& svc) : router_(router), svc_(svc) {}

    void handleRequest(Poco::Net::HTTPServerRequest& req, Poco::Net::HTTPServerResponse& resp) override {
        const auto started = std::chrono::steady_clock::now();
        RequestCtx ctx(req, resp, svc_);
        std::string label = "unmatched", routePattern = "unmatched";
        resp.set("X-Content-Type-Options", "nosniff");
        resp.set("Referrer-Policy", "no-referrer");
        if (req.secure()) resp.set("Strict-Transport-Security", kHsts);
        try {
            auto m = router_.match(req.getMethod(), ctx.uri.getPath());
            if (!m.route) {
                if (m.pathKnown) {
                    resp.set("Allow", m.allow);
                    throw ApiError(405, "method_not_allowed", req.getMethod() + " is not allowed here");
                }
                throw ApiError(404, "not_found", "no such route: " + ctx.uri.getPath());
            }
            const Route& route = *m.route;
            label = route.method + " " + route.pattern;
            routePattern = route.pattern;
            ctx.params = std::move(m.params);
            ctx.route = &route;
            if (route.access != kPublic) {
                ctx.who = authenticate(ctx);
                if (!ctx.who) throw ApiError(401, "unauthorized", "log in or send an API token");
                if (!roleAllowed(route.access, ctx.who->user.role))
                    throw ApiError(403, "forbidden",
                                   "role '" + std::string(roleName(ctx.who->user.role)) + "' may not do this");
                if (ctx.who->viaCookie && isStateChanging(req.getMethod())) {
                    const std::string sent = req.get("X-CSRF-Token", "");
                    if (sent.empty() || !constantTimeEquals(sent, csrfOf(svc_, ctx.who->sessionHash)))
                        throw ApiError(403, "csrf_failed", "missing or wrong X-CSRF-Token header");
                }
            } else {
                try {
                    ctx.who = authenticate(ctx);
                } catch (const ApiError&) {
                    // Public routes ignore stale credentials.
                }
            }
            checkQuery(ctx);
            checkBody(ctx);
            route.handler(ctx);
        } catch (const ApiError& e) {
            sendError(ctx, e.status, e.code, e.what());
        } catch (const ConstraintError& e) {
            sendError(ctx, 409, "conflict", "the change conflicts with existing data");
            svc_.log.information("conflict on %s: %s", label, std::string(e.what()));
        } catch (const Poco::Exception& e) {
            svc_.log.error("internal error on %s: %s", label, e.displayText());
            sendError(ctx, 500, "internal", "internal error");
        } catch (const std::exception& e) {
            svc_.log.error("internal error on %s: %s", label, std::string(e.what()));
            sendError(ctx, 500, "internal", "internal error");
        }
        // A handler may answer without reading the body (e.g. {} sent to an action
        // route); what it left would be parsed as the next request on this
        // keep-alive connection, so consume it here.
        if ((req.hasContentLength() || req.getChunkedTransferEncoding()) && !drainBody(req, svc_.config.maxJsonBytes))
            resp.setKeepAlive(false);
        const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
        const int status = static_cast<int>(resp.getStatus());
        svc_.metrics.recordRequest(req.getMethod(), routePattern, status, secs);
        if (svc_.log.debug())
            svc_.log.debug("%s %s -> %d (%s, %.1f ms)", escapeControl(req.getMethod()),
                           escapeControl(ctx.uri.getPath()), status,
                           ctx.who ? ctx.who->user.username : std::string("-"), secs * 1000.0);
    }

  private:
    void sendError(RequestCtx& ctx, int status, const std::string& code, const std::string& message) {
        if (ctx.resp.sent()) return;  // a streamed response broke off; nothing more to say
        if (ctx.req.hasContentLength() || ctx.req.getChunkedTransferEncoding()) {
            // Up to 1 MiB more than a JSON body may hold is still read and dropped,
            // so that a client that sends a slightly too large body reads the 413
            // instead of a reset; a larger one is not read at all.
            drainBody(ctx.req, svc_.config.maxJsonBytes + kErrorDrainSlackBytes);
            ctx.resp.setKeepAlive(false);
        }
        if (status == 401) ctx.resp.set("WWW-Authenticate", "Bearer");
        Poco::JSON::Object::Ptr err = new Poco::JSON::Object;
        err->set("code", code);
        err->set("message", message);
        Poco::JSON::Object::Ptr body = new Poco::JSON::Object;
        body->set("error", err);
        ctx.sendJson(status, body);
    }

    const Router& router_;
    Services& svc_;
};

}  // namespace

void addAllRoutes(Router& r) {
    addAuthRoutes(r);
    addMediaRoutes(r);
    addFleetRoutes(r);
    addScheduleRoutes(r);
    addObservanceRoutes(r);
    addMirrorRoutes(r);
    addCompileRoutes(r);
    addHubRoutes(r);
    addReportRoutes(r);
    addAlertRoutes(r);
    addMetaRoutes(r, &r);
}

namespace {

// GET/HEAD of a path outside /api/ that no route claims: a web console file.
bool isConsoleRequest(const Router& router, const Poco::Net::HTTPServerRequest& req) {
    const std::string& method = req.getMethod();
    if (method != "GET" && method != "HEAD") return false;
    try {
        const std::string path = Poco::URI(req.getURI()).getPath();
        if (path.rfind("/api/", 0) == 0) return false;
        const auto m = router.match(method, path);
        return !m.route && !m.pathKnown;
    } catch (const Poco::Exception&) {
        return false;  // the dispatcher answers malformed requests
    }
}

class Factory : public Poco::Net::HTTPRequestHandlerFactory {
  public:
    Factory(const Router& router, Services& svc, const StaticFiles& files)
        : router_(router), svc_(svc), files_(files) {}
    Poco::Net::HTTPRequestHandler* createRequestHandler(const Poco::Net::HTTPServerRequest& req) override {
        if (isConsoleRequest(router_, req)) return files_.newHandler();
        return new Dispatcher(router_, svc_);
    }

  private:
    const Router& router_;
    Services& svc_;
    const StaticFiles& files_;
};

}  // namespace

Status prepareDataDir(const ControllerConfig& config) {
    std::error_code ec;
    fs::create_directories(config.dataDir, ec);
    if (ec) return makeError(Errc::Io, "cannot create data directory " + config.dataDir.string() + ": " + ec.message());
    MS_TRY(pack::restrictDir(config.dataDir.string()));  // 0700 whatever the umask (docs/guide-operator.md)
    fs::create_directories(config.dataDir / "media", ec);
    if (ec) return makeError(Errc::Io, "cannot create " + (config.dataDir / "media").string() + ": " + ec.message());
    fs::create_directories(config.dataDir / "keys", ec);
    if (ec) return makeError(Errc::Io, "cannot create " + (config.dataDir / "keys").string() + ": " + ec.message());
    // keys/ owner-only too, whatever the umask (docs/security.md).
    MS_TRY(pack::restrictDir((config.dataDir / "keys").string()));
    if (::access(config.dataDir.c_str(), W_OK) != 0)
        return makeError(Errc::Io, "data directory " + config.dataDir.string() + " is not writable");
    return {};
}

// The controller's wall clock (the one tests set) with the machine's steady
// clock, for the hub: command times agree with everything else the controller
// stamps, and heartbeats keep real time even when a test freezes the wall.
class HubClock final : public Clock {
  public:
    explicit HubClock(const std::function<std::int64_t()>& wall) : wall_(wall) {}
    std::int64_t wallMs() const override { return wall_(); }
    std::int64_t steadyUs() const override { return systemClock().steadyUs(); }

  private:
    const std::function<std::int64_t()>& wall_;
};

namespace {

// Several nodes on one PostgreSQL: the manifests other nodes announce, pushed
// to the screens whose sessions this node's hub holds. The feed's thread only
// queues (the newest version per screen); this thread takes what is queued,
// keeps the screens online here (a screen that says HELLO later reads its
// newest manifest itself: the hub marks it online before it reads), reads
// their manifests in a few statements and publishes them in the order announced.
class ManifestFanOut {
  public:
    ManifestFanOut(Db& db, Hub& hub, Metrics& metrics, Poco::Logger& log)
        : db_(db), hub_(hub), metrics_(metrics), log_(log), thread_([this](std::stop_token st) { run(st); }) {}

    void announced(const std::string& playerId, std::int64_t version) {
        {
            std::lock_guard lock(mutex_);
            auto [it, fresh] = pending_.try_emplace(playerId, version);
            if (fresh)
                order_.push_back(playerId);
            else
                it->second = std::max(it->second, version);
        }
        cv_.notify_one();
    }
    // After the feed lost its server: every screen's newest manifest again
    // (the hub sends only what a connected screen lacks).
    void resync() {
        {
            std::lock_guard lock(mutex_);
            resync_ = true;
        }
        cv_.notify_one();
    }

  private:
    void run(std::stop_token stop) {
        for (;;) {
            std::vector<std::pair<std::string, std::int64_t>> batch;
            bool resync = false;
            {
                std::unique_lock lock(mutex_);
                if (!cv_.wait(lock, stop, [&] { return resync_ || !order_.empty(); })) return;
                resync = std::exchange(resync_, false);
                batch.reserve(order_.size());
                for (auto& id : order_) {
                    const std::int64_t version = pending_[id];
                    batch.emplace_back(std::move(id), version);
                }
                order_.clear();
                pending_.clear();
            }
            try {
                if (resync) {
                    auto rows = db_.read([](DbConn& c) { return repo::newestManifestVersions(c); });
                    batch.insert(batch.end(), rows.begin(), rows.end());
                }
                metrics_.clusterManifestsAnnounced += static_cast<std::int64_t>(batch.size());
                std::erase_if(batch, [&](const auto& p) { return !hub_.isOnline(p.first); });
                if (batch.empty()) continue;
                auto rows = db_.read([&](DbConn& c) { return repo::manifestsAt(c, batch); });
                std::unordered_map<std::string, repo::StoredManifest> newest;  // by screen
                for (auto& [playerId, m] : rows) {
                    auto it = newest.find(playerId);
                    if (it == newest.end())
                        newest.emplace(playerId, std::move(m));
                    else if (m.version > it->second.version)
                        it->second = std::move(m);
                }
                for (const auto& [playerId, version] : batch) {
                    auto it = newest.find(playerId);
                    if (it == newest.end() || it->second.version != version) continue;
                    auto sig = crypto::base64Decode(it->second.signatureB64);
                    if (sig) {
                        hub_.publish(HubManifest{playerId, version, std::move(it->second.manifest), *sig});
                        ++metrics_.clusterManifestsForwarded;
                    }
                    newest.erase(it);
                }
            } catch (const std::exception& e) {
                log_.error("pushing the manifests other nodes announced: %s", std::string(e.what()));
            }
        }
    }

    Db& db_;
    Hub& hub_;
    Metrics& metrics_;
    Poco::Logger& log_;
    std::mutex mutex_;
    std::condition_variable_any cv_;
    std::unordered_map<std::string, std::int64_t> pending_;  // screen -> newest version announced
    std::vector<std::string> order_;                         // the screens pending, first announced first
    bool resync_ = false;
    std::jthread thread_;  // last: starts once the rest exists, stops (joins) first
};

}  // namespace

struct ControllerServer::Impl {
    ControllerConfig config;
    Poco::Logger& log;
    std::function<std::int64_t()> clock;
    HubClock hubClock{clock};  // outlives the hub
    std::unique_ptr<Db> db;
    std::unique_ptr<MediaStore> media;
    Metrics metrics;
    ProbeService probe;
    std::unique_ptr<Compiler> compiler;
    std::unique_ptr<PopIngest> popIngest;
    std::unique_ptr<StoreHubBackend> hubBackend;
    std::unique_ptr<Hub> hub;
    std::unique_ptr<Services> services;
    std::unique_ptr<cap::SignatureVerifier> alertVerifier;  // outlives services
    std::unique_ptr<AlertFeedPoller> alertFeed;             // stopped before services go
    Router router;
    std::unique_ptr<StaticFiles> staticFiles;  // web console; outlives http
    std::unique_ptr<HttpGate> http;
    std::uint16_t port = 0;
    // Recalls: media past its validUntil recalled, open recalls settled, once a second.
    std::jthread housekeeper;
    // With PostgreSQL: what the other nodes change, for this node's hub.
    std::unique_ptr<sql::ChangeFeed> feed;
    std::unique_ptr<ManifestFanOut> fanOut;       // fed by feed
    std::unique_ptr<RenditionWorker> renditions;  // stopped before services go

    Impl(ControllerConfig c, Poco::Logger& l) : config(std::move(c)), log(l) {}
};

namespace {

// The HTTP API's listening socket (HTTPS unless http.tls is off) and what the
// technician's enrolment command carries: the public URL and the key pins.
Result<Poco::Net::ServerSocket> openListeningSocket(const ControllerConfig& config, Services& svc,
                                                    std::uint16_t& port) {
    auto contentPin = crypto::pinOfPem(svc.contentPublicKeyPem);
    if (!contentPin) return contentPin.error();
    svc.contentKeyHash = *contentPin;
    std::optional<TlsMaterial> tls;
    if (config.tls) {
        // Names for a new self-signed certificate: the public host (by default the
        // bind address, or this host's name for a wildcard bind) and the bind address.
        std::vector<std::string> names{publicHostOf(config)};
        if (config.httpBind != "0.0.0.0" && config.httpBind != "::") names.push_back(config.httpBind);
        auto m = ensureTlsMaterial(config, names);
        if (!m) return m.error();
        tls = std::move(*m);
        svc.tlsKeyHash = tls->publicKeyHash;
    } else {
        svc.tlsKeyHash = config.publicTlsKeyHash;  // the proxy's key, if one terminates TLS
    }
    auto socket = openHttpSocket(config, tls ? &*tls : nullptr);
    if (!socket) return socket.error();
    port = socket->address().port();
    svc.publicUrl = publicUrlOf(config, port);
    if (auto st = checkPublicUrl(svc.publicUrl, config.tls); !st)
        return makeError(Errc::Usage, "the derived public URL " + svc.publicUrl + " cannot be used (" +
                                          st.error().message + "); set http.publicUrl");
    return socket;
}

}  // namespace

ControllerServer::ControllerServer(ControllerConfig config, Poco::Logger& log, std::function<std::int64_t()> clock)
    : impl_(std::make_unique<Impl>(std::move(config), log)) {
    impl_->clock = clock ? std::move(clock) : systemNowMs;
}

ControllerServer::~ControllerServer() {
    stop();
}

const ControllerConfig& ControllerServer::config() const {
    return impl_->config;
}
std::uint16_t ControllerServer::httpPort() const {
    return impl_->port;
}
std::string ControllerServer::publicUrl() const {
    return impl_->services ? impl_->services->publicUrl : std::string();
}
std::string ControllerServer::tlsKeyHash() const {
    return impl_->services ? impl_->services->tlsKeyHash : std::string();
}
std::string ControllerServer::contentKeyHash() const {
    return impl_->services ? impl_->services->contentKeyHash : std::string();
}
std::uint16_t ControllerServer::zmqPort() const {
    return impl_->hub ? impl_->hub->port() : 0;
}

Status ControllerServer::start() {
    auto& d = *impl_;
    MS_TRY(prepareDataDir(d.config));
    try {
        d.db = std::make_unique<Db>(storeUrl(d.config), storeOptions(d.config));
    } catch (const std::exception& e) {
        return makeError(Errc::Io, "cannot open the database: " + std::string(e.what()));
    }
    try {
        d.media = std::make_unique<MediaStore>(d.config.dataDir / "media");
    } catch (const std::exception& e) {
        return makeError(Errc::Io, "cannot open the media store: " + std::string(e.what()));
    }
    auto key = ensureSigningKey(d.config.dataDir / "keys");
    if (!key) return key.error();
    auto privateKey = crypto::PrivateKey::load((d.config.dataDir / "keys" / kSigningKeyFile).string());
    if (!privateKey) return privateKey.error();
    d.compiler = std::make_unique<Compiler>(*d.db, d.config, std::move(*privateKey), d.metrics,
                                            Poco::Logger::get(d.log.name() + ".compiler"), d.clock);
    d.services = std::make_unique<Services>(Services{d.config,
                                                     *d.db,
                                                     *d.media,
                                                     d.probe,
                                                     d.metrics,
                                                     Poco::Logger::get(d.log.name() + ".api"),
                                                     d.clock,
                                                     *key,
                                                     d.compiler.get(),
                                                     nullptr,
                                                     {},
                                                     {},
                                                     {},
                                                     {}});
    if (!d.config.alertTrustedKeyPems.empty()) {
        auto verifier = cap::SignatureVerifier::create(d.config.alertTrustedKeyPems);
        if (!verifier) return makeError(Errc::Usage, "alerts.trustedKeys: " + verifier.error().message);
        d.alertVerifier = std::move(*verifier);
        d.services->alertVerifier = d.alertVerifier.get();
    }
    // Distribution hub (docs/wire-protocol.md): pushes each new manifest version.
    HubConfig hubConfig;
    hubConfig.bind = d.config.zmqBind;
    hubConfig.port = d.config.zmqPort;
    hubConfig.curve = d.config.zmqCurve;
    hubConfig.heartbeatMs = d.config.zmqHeartbeatMs;
    if (d.config.zmqBulkPort) {
        hubConfig.bulkPort = *d.config.zmqBulkPort;
    } else {
        hubConfig.bulkPort = d.config.zmqPort == 0 || d.config.zmqPort == 65535 ? 0 : d.config.zmqPort + 1;
        hubConfig.bulkPortAnyIfTaken = true;
    }
    hubConfig.sealedBudgetBytes = static_cast<std::size_t>(d.config.zmqSealedBudgetMiB) << 20;
    hubConfig.proofsPerMinute = d.config.zmqProofsPerMinute;
    hubConfig.minFreeDiskBytes = d.config.zmqMinFreeDiskBytes;
    hubConfig.clock = &d.hubClock;
    if (hubConfig.curve) {
        auto curve = ensureHubCurveKey(d.config.dataDir / "keys");
        if (!curve) return curve.error();
        hubConfig.curveSecretZ85 = curve->secretZ85;
        d.services->hubCurvePublicKey = curve->publicZ85;
    }
    d.popIngest = std::make_unique<PopIngest>(*d.db);
    d.hubBackend = std::make_unique<StoreHubBackend>(*d.db, *d.compiler, *d.media, d.clock);
    d.hubBackend->setIngest(d.popIngest.get());
    d.hubBackend->setDataDir(d.config.dataDir);
    d.hub = std::make_unique<Hub>(hubConfig, *d.hubBackend, Poco::Logger::get(d.log.name() + ".hub"));
    // Several nodes: a command's answer is stored for the node that was asked for it.
    if (d.db->backend() == sql::Backend::Postgres)
        d.hub->setCommandListener([&d](const CommandResult& r) {
            d.db->write([&](DbConn& c) { sql::storeCommandResult(c.raw(), storedCommand(r, true)); });
        });
    MS_TRY(d.hub->start());
    d.services->hub = d.hub.get();
    d.compiler->setListener([hub = d.hub.get()](const CompiledManifest& m) {
        hub->publish(HubManifest{m.playerId, m.version, m.manifestBytes, m.signature});
    });
    // Several nodes on one PostgreSQL: a manifest another node compiled, or a
    // screen it retired, reaches the screens connected to this node's hub.
    if (d.db->backend() == sql::Backend::Postgres) {
        // (on the feed's thread; the hub takes work from any thread)
        d.fanOut = std::make_unique<ManifestFanOut>(*d.db, *d.hub, d.metrics, d.log);
        sql::ChangeFeed::Callbacks cb;
        cb.onChange = [&d](const std::string& text) {
            const Announcement a = parseAnnouncement(text);
            try {
                if (a.kind == Announcement::Kind::Manifest) d.fanOut->announced(a.playerId, a.version);
                if (a.kind == Announcement::Kind::Retire) d.hub->endSession(a.playerId);
                if (a.kind == Announcement::Kind::Command && d.hub->isOnline(a.playerId)) {
                    // This node holds the screen's session: claim the command and send it.
                    auto cmd = d.db->write([&](DbConn& c) -> std::optional<CommandResult> {
                        if (!sql::claimCommand(c.raw(), a.commandId)) return std::nullopt;
                        auto stored = sql::commandById(c.raw(), a.commandId);
                        return stored ? commandResultOf(*stored) : std::nullopt;
                    });
                    if (cmd && cmd->playerId == a.playerId &&
                        !d.hub->deliverCommand(a.commandId, a.playerId, cmd->action)) {
                        cmd->ackedAtMs = d.services->nowMs();
                        cmd->message = "the screen went offline";
                        d.db->write([&](DbConn& c) { sql::storeCommandResult(c.raw(), storedCommand(*cmd, true)); });
                    }
                }
            } catch (const std::exception& e) {
                d.log.error("a change from the store (%s): %s", text, std::string(e.what()));
            }
        };
        // After the feed lost its server: every screen's newest manifest again.
        cb.onResync = [&d] { d.fanOut->resync(); };
        d.feed = std::make_unique<sql::ChangeFeed>(d.db->url(), std::move(cb));
    }

    d.renditions = std::make_unique<RenditionWorker>(*d.services);
    d.compiler->setRenditionHook([w = d.renditions.get()] { w->wake(); });
    d.renditions->start();

    d.housekeeper = std::jthread([&d](std::stop_token stop) {
        std::mutex m;
        std::condition_variable_any cv;
        std::unique_lock lock(m);
        // Several nodes on one PostgreSQL: one node at a time does a round (the
        // others skip it); with SQLite the lock is not taken.
        sql::JobLock job(d.db->url());
        while (true) {
            cv.wait_for(lock, stop, std::chrono::seconds(1), [] { return false; });
            if (stop.stop_requested()) break;
            try {
                job.runExclusive("recalls", [&d] {
                    recallExpiredMedia(*d.services);
                    d.db->write([&](DbConn& c) { settleRecalls(c, d.services->nowMs()); });
                    d.metrics.recallChecks++;
                });
            } catch (const std::exception& e) {
                d.log.error("recall housekeeping: %s", std::string(e.what()));
            }
        }
    });

    addAllRoutes(d.router);
    d.staticFiles = std::make_unique<StaticFiles>(StaticFilesOptions{d.config.webRoot, d.config.vendorRoot});
    if (d.staticFiles->webRoot().empty())
        d.log.warning(
            "web console files not found (looked beside the binary, in the source tree and in "
            "/usr/share/microscape/web); the API works without them");
    else
        d.log.information("web console from %s", d.staticFiles->webRoot().string());

    auto socket = openListeningSocket(d.config, *d.services, d.port);
    if (!socket) return socket.error();
    try {
        HttpGateOptions gate;
        gate.workers = d.config.httpThreads;
        gate.maxQueued = std::max(64, 2 * d.config.httpThreads);
        gate.headerTimeoutMs = d.config.httpHeaderTimeoutMs;
        gate.bodyIdleTimeoutMs = d.config.httpBodyIdleTimeoutMs;
        gate.keepAliveIdleMs = d.config.httpKeepAliveIdleMs;
        gate.maxConnectionsPerAddress = d.config.httpMaxConnectionsPerAddress;
        if (gate.maxConnectionsPerAddress >= gate.workers)
            d.log.warning(
                "http.maxConnectionsPerAddress (%d) is not below http.threads (%d): one address "
                "can "
                "occupy every worker",
                gate.maxConnectionsPerAddress, gate.workers);
        d.http = std::make_unique<HttpGate>(*socket, new Factory(d.router, *d.services, *d.staticFiles), gate,
                                            Poco::Logger::get(d.log.name() + ".http"));
        d.http->start();
    } catch (const Poco::Exception& e) {
        return makeError(Errc::Usage, "cannot listen on " + d.config.httpBind + ":" +
                                          std::to_string(d.config.httpPort) + ": " + e.displayText());
    }
    if (!d.config.alertFeedUrl.empty()) {
        d.alertFeed = std::make_unique<AlertFeedPoller>(*d.services, Poco::Logger::get(d.log.name() + ".alerts"));
        d.alertFeed->start();
    }
    d.log.information("HTTP API listening on %s:%hu (%s), data in %s", d.config.httpBind, d.port,
                      std::string(d.config.tls ? "HTTPS, TLS key " + d.services->tlsKeyHash : "plain HTTP"),
                      d.config.dataDir.string());
    return {};
}

void ControllerServer::stop() {
    auto& d = *impl_;
    if (d.alertFeed) {
        d.alertFeed->stop();
        d.alertFeed.reset();
    }
    if (d.http) {
        // In-flight requests get a bounded time to finish (HttpGate::stop).
        d.http->stop();
        d.http.reset();
        d.log.information("HTTP API stopped");
    }
    if (d.housekeeper.joinable()) {
        d.housekeeper.request_stop();
        d.housekeeper.join();
    }
    d.feed.reset();  // before the hub it publishes to
    d.fanOut.reset();
    if (d.renditions) {
        d.compiler->setRenditionHook({});
        d.renditions->stop();
        d.renditions.reset();
    }
    if (d.hub) {
        d.compiler->setListener({});
        d.hub->stop();
    }
    d.services.reset();
    d.alertVerifier.reset();
    d.hub.reset();
    d.hubBackend.reset();
    d.popIngest.reset();
    d.compiler.reset();
    d.media.reset();
    d.db.reset();
}

Result<std::string> initAdmin(const ControllerConfig& config, const std::string& username, std::string password) {
    MS_TRY(prepareDataDir(config));
    if (username.empty() || username.size() > 64) return makeError(Errc::Usage, "admin name must be 1-64 characters");
    if (password.empty()) {
        // Generated: 24 random characters, drawn again in the rare case one lacks a class.
        do password = randomToken(std::max<std::size_t>(18, std::size_t(config.passwordMinLength)));
        while (passwordPolicyViolation(password, config.passwordMinLength, config.passwordMinClasses));
    }
    if (auto why = passwordPolicyViolation(password, config.passwordMinLength, config.passwordMinClasses))
        return makeError(Errc::Usage, "admin password refused: " + *why);
    try {
        Db db(storeUrl(config), storeOptions(config));
        const std::int64_t now = systemNowMs();
        return db.write([&](DbConn& c) -> Result<std::string> {
            if (repo::userByName(c, username)) return makeError(Errc::Exists, "user '" + username + "' already exists");
            User u;
            u.username = username;
            u.displayName = username;
            u.role = Role::Admin;
            auto id = repo::insertUser(c, u, hashPassword(password, config.pbkdf2Iterations), now);
            repo::audit(c, Actor{0, "system", Role::Admin, {}}, "create", "user", std::to_string(id), "",
                        stringify(userJson(*repo::userById(c, id))), now);
            return password;
        });
    } catch (const std::exception& e) {
        return makeError(Errc::Io, std::string("cannot create the admin: ") + e.what());
    }
}

}  // namespace microscape::controller
