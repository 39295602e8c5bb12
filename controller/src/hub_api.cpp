#include "hub_api.hpp"

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <system_error>
#include <thread>

#include "cluster.hpp"
#include "microscape/controller/hub.hpp"
#include "microscape/controller/repo.hpp"
#include "microscape/controller/security.hpp"
#include "microscape/core/crypto.hpp"
#include "store/change_feed.hpp"

namespace microscape::controller {
namespace {

namespace fs = std::filesystem;

constexpr std::int64_t kPreviewFreshMs = 60 * 1000;  // younger than this: served without asking the screen
constexpr std::int64_t kPreviewWaitMs = 5 * 1000;    // how long a request waits for the screen's answer
constexpr std::int64_t kPreviewRetryMs = 10 * 1000;  // no new ask sooner than this after the last one
// Screenshots held in memory at most; beyond it the oldest are dropped from memory
// (their files stay and are read again when asked for), so a large fleet's previews
// do not all sit in RAM.
constexpr std::size_t kPreviewMemoryBytes = 64u << 20;

// The latest screenshot of each screen, in memory and in <dataDir>/previews/<player>.png
// (so it survives a restart). Keyed by that file's path, so two controllers in one
// process (tests) never share entries. At most one screenshot command per screen is
// in flight; other requests for the same screen wait for its answer. At most
// kPreviewMemoryBytes of images stay in memory.
// Thread-safe: HTTP worker threads call get()/begin()/finish().
class PreviewCache {
  public:
    struct Shot {
        std::string png;
        std::int64_t takenAtMs = 0;
    };

    // The cached shot for this file (loaded from disk on first use); empty png if none.
    Shot get(const fs::path& file) {
        std::lock_guard lock(mutex_);
        return entry(file).shot;
    }

    // true: the caller must ask the screen and then call finish(). false: another
    // request is asking (this waits up to waitMs for its answer), or the last ask
    // was less than kPreviewRetryMs ago (this returns at once).
    bool beginOrWait(const fs::path& file, std::int64_t nowMs, std::int64_t waitMs) {
        std::unique_lock lock(mutex_);
        auto& e = entry(file);
        if (!e.inFlight) {
            if (e.lastAskMs && nowMs - e.lastAskMs < kPreviewRetryMs) return false;
            e.inFlight = true;
            e.lastAskMs = nowMs;
            return true;
        }
        cv_.wait_for(lock, std::chrono::milliseconds(waitMs), [&] { return !e.inFlight; });
        return false;
    }

    // Ends the request begun by beginOrWait(); stores the shot when png is not empty.
    void finish(const fs::path& file, std::string png, std::int64_t takenAtMs, Poco::Logger& log) {
        if (!png.empty()) writeFile(file, png, takenAtMs, log);
        {
            std::lock_guard lock(mutex_);
            auto& e = entry(file);
            e.inFlight = false;
            if (!png.empty()) {
                memoryBytes_ -= e.shot.png.size();
                memoryBytes_ += png.size();
                e.shot = Shot{std::move(png), takenAtMs};
                trim(file.string());
            }
        }
        cv_.notify_all();
    }

  private:
    struct Entry {
        Shot shot;
        bool loaded = false;
        bool inFlight = false;
        std::int64_t lastAskMs = 0;
    };

    Entry& entry(const fs::path& file) {
        auto& e = entries_[file.string()];
        if (!e.loaded) {
            e.loaded = true;
            std::ifstream in(file, std::ios::binary);
            std::error_code ec;
            auto mtime = fs::last_write_time(file, ec);
            if (in && !ec) {
                e.shot.png.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
                // The file's modification time is when the shot was taken (set by writeFile).
                auto sys = std::chrono::file_clock::to_sys(mtime);
                e.shot.takenAtMs =
                    std::chrono::duration_cast<std::chrono::milliseconds>(sys.time_since_epoch()).count();
                memoryBytes_ += e.shot.png.size();
                trim(file.string());
            }
        }
        return e;
    }

    // Drops the oldest images (never keep's) from memory until the rest fit; a
    // dropped entry is read from its file again on next use. Called with mutex_ held.
    void trim(const std::string& keep) {
        while (memoryBytes_ > kPreviewMemoryBytes) {
            Entry* oldest = nullptr;
            for (auto& [key, e] : entries_)
                if (key != keep && !e.shot.png.empty() && (!oldest || e.shot.takenAtMs < oldest->shot.takenAtMs))
                    oldest = &e;
            if (!oldest) return;
            memoryBytes_ -= oldest->shot.png.size();
            oldest->shot = Shot{};
            oldest->loaded = false;
        }
    }

    static void writeFile(const fs::path& file, const std::string& png, std::int64_t takenAtMs, Poco::Logger& log) {
        std::error_code ec;
        fs::create_directories(file.parent_path(), ec);
        const fs::path tmp = file.string() + ".tmp";
        {
            std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
            out.write(png.data(), static_cast<std::streamsize>(png.size()));
            if (!out) {
                log.warning("preview: cannot write %s", tmp.string());
                return;
            }
        }
        // The modification time records when the shot was taken (read back by entry()).
        fs::last_write_time(tmp,
                            std::chrono::file_clock::from_sys(
                                std::chrono::sys_time<std::chrono::milliseconds>(std::chrono::milliseconds(takenAtMs))),
                            ec);
        fs::rename(tmp, file, ec);
        if (ec) log.warning("preview: cannot store %s: %s", file.string(), ec.message());
    }

    std::mutex mutex_;  // guards entries_
    std::condition_variable cv_;
    std::map<std::string, Entry> entries_;
    std::size_t memoryBytes_ = 0;  // sum of the images in entries_
};

PreviewCache& previewCache() {
    static PreviewCache cache;  // shared by every controller in the process, keyed by file path
    return cache;
}

constexpr std::int64_t kClaimWaitMs = 2000;  // several nodes: how long a command waits for the screen's node

// A command's state: this node's hub knows the commands it sent; with several
// nodes the store knows every command and the answers other nodes received.
std::optional<CommandResult> commandResultAnywhere(Services& svc, const std::string& id) {
    if (svc.hub)
        if (auto r = svc.hub->commandResult(id)) return r;
    if (svc.db.backend() != sql::Backend::Postgres) return std::nullopt;
    auto row = svc.db.read([&](DbConn& c) { return sql::commandById(c.raw(), id); });
    if (!row) return std::nullopt;
    return commandResultOf(*row);
}

// Sends a command to a screen through this node's hub, or (several nodes on
// PostgreSQL) through the node holding its session: every command is then a row,
// so its answer can be read through any node. Returns the command's id, or
// nullopt when no node holds the screen.
std::optional<std::string> sendCommandAnywhere(Services& svc, const std::string& playerId, wire::CommandAction action) {
    const bool cluster = svc.db.backend() == sql::Backend::Postgres;
    CommandResult asked;
    asked.id = svc.hub->newCommandId();
    asked.playerId = playerId;
    asked.action = action;
    asked.sentAtMs = svc.nowMs();
    if (svc.hub->isOnline(playerId)) {
        if (cluster) svc.db.write([&](DbConn& c) { sql::insertCommand(c.raw(), storedCommand(asked, true)); });
        if (svc.hub->deliverCommand(asked.id, playerId, action)) return asked.id;
        if (cluster)
            svc.db.write([&](DbConn& c) {
                asked.ackedAtMs = svc.nowMs();
                asked.message = "the screen went offline";
                sql::storeCommandResult(c.raw(), storedCommand(asked, true));
            });
        return std::nullopt;
    }
    if (!cluster) return std::nullopt;
    svc.db.write([&](DbConn& c) {
        sql::insertCommand(c.raw(), storedCommand(asked, false));
        sql::announce(c.raw(), commandAnnouncement(asked.id, playerId));
    });
    // The node holding the screen's session claims it at once (LISTEN/NOTIFY);
    // none within kClaimWaitMs: the screen is offline everywhere.
    const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(kClaimWaitMs);
    for (;;) {
        auto row = svc.db.read([&](DbConn& c) { return sql::commandById(c.raw(), asked.id); });
        if (row && row->claimed) return asked.id;
        if (std::chrono::steady_clock::now() >= until) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    if (svc.db.write([&](DbConn& c) {
            return sql::failUnclaimedCommand(c.raw(), asked.id, svc.nowMs(), "the screen is not connected to any node");
        }))
        return std::nullopt;
    return asked.id;  // claimed at the last moment
}

Poco::JSON::Object::Ptr resultJson(const CommandResult& r) {
    Poco::JSON::Object::Ptr o = new Poco::JSON::Object;
    o->set("id", r.id);
    o->set("playerId", r.playerId);
    o->set("action", std::string(wire::commandActionName(r.action)));
    o->set("sentAt", isoUtc(r.sentAtMs));
    o->set("ackedAt", optIso(r.ackedAtMs));
    o->set("state", !r.ackedAtMs ? "sent" : (r.ok ? "done" : "failed"));
    o->set("message", r.message);
    o->set("payloadBase64",
           r.payload.empty() ? Poco::Dynamic::Var() : Poco::Dynamic::Var(crypto::base64Encode(r.payload)));
    return o;
}

void postCommand(RequestCtx& ctx) {
    const std::string id = ctx.param("id");
    auto body = ctx.jsonBody();
    const std::string action = reqString(body, "action", 32);
    wire::CommandAction a;
    if (action == "reload")
        a = wire::CommandAction::Reload;
    else if (action == "clear_cache")
        a = wire::CommandAction::ClearCache;
    else if (action == "screenshot")
        a = wire::CommandAction::Screenshot;
    else if (action == "show_head")
        a = wire::CommandAction::ShowHead;
    else
        badRequest("action must be one of reload, clear_cache, screenshot, show_head");
    auto p = ctx.svc.db.read([&](DbConn& c) { return repo::playerById(c, id); });
    if (!p) notFound("player " + id);
    if (!ctx.svc.hub) throw ApiError(503, "hub_unavailable", "the distribution hub is not running");
    auto& svc = ctx.svc;
    auto cid = sendCommandAnywhere(svc, id, a);
    if (!cid) throw ApiError(409, "player_offline", "player " + id + " is not connected");
    svc.db.write([&](DbConn& c) {
        Poco::JSON::Object::Ptr after = new Poco::JSON::Object;
        after->set("action", action);
        after->set("commandId", *cid);
        recordAudit(c, ctx, "command", "player", id, {}, after);
    });
    auto now = commandResultAnywhere(svc, *cid);
    if (!now) throw ApiError(500, "internal", "command " + *cid + " was not kept");
    ctx.sendJson(202, resultJson(*now));
}

void getCommand(RequestCtx& ctx) {
    const std::string id = ctx.param("id");
    if (!ctx.svc.hub) notFound("command " + id);
    auto r = commandResultAnywhere(ctx.svc, id);
    if (!r) notFound("command " + id);
    ctx.sendJson(200, resultJson(*r));
}

void sendPreview(RequestCtx& ctx, const PreviewCache::Shot& shot, std::int64_t nowMs) {
    ctx.resp.setStatus(Poco::Net::HTTPResponse::HTTP_OK);
    ctx.resp.setContentType("image/png");
    ctx.resp.set("Cache-Control", "no-store");
    ctx.resp.set("X-Preview-Taken-At", isoUtc(shot.takenAtMs));
    ctx.resp.set("X-Preview-Age-Seconds", std::to_string(std::max<std::int64_t>(0, nowMs - shot.takenAtMs) / 1000));
    ctx.resp.setContentLength64(static_cast<Poco::Int64>(shot.png.size()));
    ctx.resp.send().write(shot.png.data(), static_cast<std::streamsize>(shot.png.size()));
}

// The screen's latest screenshot: the cached one when younger than a minute; else
// (online) a fresh one asked for through the hub; else the last one kept, or 404.
void getPreview(RequestCtx& ctx) {
    const std::string id = ctx.param("id");
    auto p = ctx.svc.db.read([&](DbConn& c) { return repo::playerById(c, id); });
    if (!p) notFound("player " + id);
    auto& cache = previewCache();
    // Player ids are made by the controller ("scr-" + hex); the file name is a hash
    // of the id all the same, so no id can name a path.
    const fs::path file = ctx.svc.config.dataDir / "previews" / (crypto::sha256Hex(id).substr(0, 32) + ".png");
    auto shot = cache.get(file);
    const std::int64_t now = ctx.svc.nowMs();
    const bool fresh = !shot.png.empty() && now - shot.takenAtMs < kPreviewFreshMs;
    // Several nodes: the screen may be connected to another node's hub.
    const bool reachable = ctx.svc.hub && (ctx.svc.hub->isOnline(id) || ctx.svc.db.backend() == sql::Backend::Postgres);
    if (!fresh && reachable) {
        if (cache.beginOrWait(file, now, kPreviewWaitMs)) {
            std::string png;
            std::int64_t takenAt = 0;
            if (auto cid = sendCommandAnywhere(ctx.svc, id, wire::CommandAction::Screenshot)) {
                const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(kPreviewWaitMs);
                while (std::chrono::steady_clock::now() < until) {
                    auto r = commandResultAnywhere(ctx.svc, *cid);
                    if (!r) break;
                    if (r->ackedAtMs) {
                        if (r->ok && !r->payload.empty()) {
                            png = std::move(r->payload);
                            takenAt = ctx.svc.nowMs();
                        } else {
                            ctx.svc.log.information("preview of player %s: no screenshot (%s)", escapeControl(id),
                                                    escapeControl(r->message));
                        }
                        break;
                    }
                    std::this_thread::sleep_for(std::chrono::milliseconds(50));
                }
            }
            cache.finish(file, std::move(png), takenAt, ctx.svc.log);
        }
        shot = cache.get(file);
    }
    if (shot.png.empty()) notFound("preview of player " + id);
    sendPreview(ctx, shot, now);
}

}  // namespace

void addHubRoutes(Router& r) {
    r.add(textId(Route{"POST", "/api/v1/players/{id}/commands", kAdmin, "players",
                       "Send a command (reload, clear_cache, screenshot, show_head) to a connected player", postCommand,
                       202})
              .body("CommandCreate")
              .reply("Command"));
    r.add(textId(Route{"GET", "/api/v1/commands/{id}", kAnyUser, "players",
                       "A command's state and answer (screenshot in base64)", getCommand})
              .reply("Command"));
    r.add(textId(Route{"GET", "/api/v1/players/{id}/preview", kAnyUser, "players",
                       "The screen's latest screenshot (PNG; asked for when older than 60 s and "
                       "the screen is online; "
                       "X-Preview-Taken-At)",
                       getPreview})
              .replyAs("image/png"));
}

}  // namespace microscape::controller
