// Media mirrors (docs/controller-api.md "Mirrors"): GET /media/{sha256}, the
// origin an nginx proxy_cache, a CDN or players themselves fetch media from,
// and the fleet's and districts' mirror base URLs that compilation puts into
// each screen's manifest.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <set>

#include "api.hpp"
#include "compiler.hpp"
#include "microscape/controller/media_http.hpp"
#include "microscape/controller/repo.hpp"
#include "microscape/core/crypto.hpp"
#include "microscape/core/manifest.hpp"

namespace microscape::controller {

namespace {

class Fd {
  public:
    explicit Fd(int fd) : fd_(fd) {}
    ~Fd() {
        if (fd_ >= 0) ::close(fd_);
    }
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    int get() const { return fd_; }

  private:
    int fd_;
};

void serveMedia(RequestCtx& ctx) {
    auto& svc = ctx.svc;
    const std::string sha = ctx.param("sha256");
    // Approved media that some manifest names; nothing else, and the same 404 for
    // every other case (unknown, unapproved, recalled, malformed), without a path.
    if (!crypto::isSha256Hex(sha)) notFound("media");
    auto& known = *svc.mediaInManifests;
    const bool servable = svc.db.read([&](DbConn& c) {
        auto m = repo::mediaBySha(c, sha);
        if (!m || m->state != MediaState::Approved) return false;
        if (known.has(sha)) return true;
        if (!repo::mediaInAnyManifest(c, sha)) return false;
        known.add(sha);
        return true;
    });
    if (!servable) notFound("media");
    Fd fd(::open(svc.media.pathOf(sha).c_str(), O_RDONLY | O_CLOEXEC));
    struct stat st {};
    if (fd.get() < 0 || ::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) {
        svc.log.error("media %s is approved but missing from the store", sha);
        notFound("media");
    }
    const auto answer = sendMediaFile(ctx.req, ctx.resp, fd.get(), static_cast<std::uint64_t>(st.st_size), sha);
    if (answer.status == 416) throw ApiError(416, "bad_range", "range not satisfiable");
    if ((answer.status == 200 || answer.status == 206) && ctx.req.getMethod() != "HEAD") {
        svc.metrics.mediaHttpRequests++;
        svc.metrics.mediaHttpBytesSent += static_cast<std::int64_t>(answer.bodyBytes);
    }
}

Poco::JSON::Object::Ptr mirrorSettingsJson(const repo::MirrorSettings& m) {
    Poco::JSON::Object::Ptr o = new Poco::JSON::Object;
    o->set("fleet", toArray(m.fleet));
    Poco::JSON::Array::Ptr districts = new Poco::JSON::Array;
    for (const auto& [district, list] : m.districts) {
        Poco::JSON::Object::Ptr d = new Poco::JSON::Object;
        d->set("district", district);
        d->set("mirrors", toArray(list));
        districts->add(d);
    }
    o->set("districts", districts);
    return o;
}

void getMirrors(RequestCtx& ctx) {
    ctx.sendJson(200, mirrorSettingsJson(ctx.svc.db.read([](DbConn& c) { return repo::mirrorSettings(c); })));
}

void putMirrors(RequestCtx& ctx) {
    auto body = ctx.jsonBody();
    repo::MirrorSettings next;
    next.fleet = checkedMirrors("fleet", optArray(body, "fleet"));
    auto districts = optArray(body, "districts");
    if (districts)
        for (std::size_t i = 0; i < (*districts)->size(); ++i) {
            auto d = (*districts)->getObject(static_cast<unsigned>(i));
            const std::string field = "districts[" + std::to_string(i) + "]";
            if (!d) badRequest(field + " must be an object");
            const std::string name = reqString(d, "district", 100);
            if (name.empty()) badRequest(field + ".district must not be empty");
            if (next.districts.count(name)) badRequest("district '" + name + "' is listed twice");
            auto list = checkedMirrors(field + ".mirrors", optArray(d, "mirrors"));
            if (!list.empty()) next.districts[name] = std::move(list);
        }
    auto& svc = ctx.svc;
    svc.db.write([&](DbConn& c) {
        auto before = repo::mirrorSettings(c);
        repo::setMirrorSettings(c, next);
        recordAudit(c, ctx, "update", "setting", "mirrors", mirrorSettingsJson(before), mirrorSettingsJson(next));
    });
    svc.compiler->recompileAll("mirrors changed");
    getMirrors(ctx);
}

}  // namespace

std::vector<std::string> checkedMirrors(const std::string& field, const std::optional<Poco::JSON::Array::Ptr>& list) {
    std::vector<std::string> out;
    if (!list || !*list) return out;
    if ((*list)->size() > manifest::kMaxMirrors)
        badRequest(field + " may list at most " + std::to_string(manifest::kMaxMirrors) + " mirrors");
    for (std::size_t i = 0; i < (*list)->size(); ++i) {
        const auto v = (*list)->get(static_cast<unsigned>(i));
        if (!v.isString()) badRequest(field + " must be a list of URLs");
        std::string url = v.extract<std::string>();
        if (url.size() > 8 && url.back() == '/') url.pop_back();
        if (!manifest::isValidMirrorUrl(url)) {
            std::string shown = url.substr(0, 100);
            for (auto& c : shown)
                if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
            badRequest(field + ": '" + shown +
                       "' is not a mirror base URL: http:// or https://, a host and optional port and path, "
                       "no user name or password, query or fragment, at most " +
                       std::to_string(manifest::kMaxMirrorUrlBytes) + " bytes (e.g. http://mirror.example.cn:8080)");
        }
        if (std::find(out.begin(), out.end(), url) != out.end()) badRequest(field + ": " + url + " is listed twice");
        out.push_back(url);
    }
    return out;
}

void addMirrorRoutes(Router& r) {
    r.add(textId(Route{"GET", "/media/{sha256}", kPublic, "media",
                       "Media by SHA-256 for mirrors and players: approved media that a manifest names, immutable "
                       "(ETag, If-None-Match, a single Range)",
                       serveMedia})
              .replyAs("application/octet-stream")
              .also(206)
              .also(304));
    r.add(Route{"GET", "/api/v1/settings/mirrors", kAnyUser, "locations", "The fleet's and districts' media mirrors",
                getMirrors}
              .reply("MirrorSettings"));
    r.add(Route{"PUT", "/api/v1/settings/mirrors", kAdmin, "locations",
                "Set the fleet's and districts' media mirrors (replaces both lists)", putMirrors}
              .body("MirrorSettings")
              .reply("MirrorSettings"));
}

}  // namespace microscape::controller
