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
#include "microscape/controller/repo.hpp"
#include "microscape/core/crypto.hpp"
#include "microscape/core/manifest.hpp"

namespace microscape::controller {

namespace {

// Media are immutable: a hash names the same bytes forever.
constexpr const char* kImmutable = "public, max-age=31536000, immutable";

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

// Whether If-None-Match names etag (or is "*").
bool etagMatches(const std::string& header, const std::string& etag) {
    if (header.empty()) return false;
    std::size_t pos = 0;
    while (pos < header.size()) {
        auto comma = header.find(',', pos);
        std::string tag = header.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
        tag.erase(0, tag.find_first_not_of(" \t"));
        tag.erase(tag.find_last_not_of(" \t") + 1);
        if (tag == "*" || tag == etag || tag == "W/" + etag) return true;
        if (comma == std::string::npos) break;
        pos = comma + 1;
    }
    return false;
}

enum class RangeKind { None, Satisfiable, Unsatisfiable };

// One "bytes=" range (RFC 9110 14.1.2); several ranges or a malformed header
// are answered with the whole file (as the RFC allows).
RangeKind parseRange(const std::string& h, std::uint64_t size, std::uint64_t& first, std::uint64_t& last) {
    if (h.rfind("bytes=", 0) != 0 || h.find(',') != std::string::npos) return RangeKind::None;
    const std::string spec = h.substr(6);
    const auto dash = spec.find('-');
    if (dash == std::string::npos) return RangeKind::None;
    const std::string a = spec.substr(0, dash), b = spec.substr(dash + 1);
    auto digits = [](const std::string& s) {
        return !s.empty() && s.size() <= 19 &&
               std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
    };
    if (a.empty()) {  // the last b bytes
        if (!digits(b)) return RangeKind::None;
        const std::uint64_t n = std::stoull(b);
        if (n == 0 || size == 0) return RangeKind::Unsatisfiable;
        first = n >= size ? 0 : size - n;
        last = size - 1;
        return RangeKind::Satisfiable;
    }
    if (!digits(a) || (!b.empty() && !digits(b))) return RangeKind::None;
    first = std::stoull(a);
    last = b.empty() ? size - 1 : std::stoull(b);
    if (!b.empty() && last < first) return RangeKind::None;
    if (first >= size) return RangeKind::Unsatisfiable;
    last = std::min<std::uint64_t>(last, size - 1);
    return RangeKind::Satisfiable;
}

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
    const auto size = static_cast<std::uint64_t>(st.st_size);
    const std::string etag = "\"" + sha + "\"";
    auto& resp = ctx.resp;
    resp.set("ETag", etag);
    resp.set("Cache-Control", kImmutable);
    resp.set("Accept-Ranges", "bytes");
    if (etagMatches(ctx.req.get("If-None-Match", ""), etag)) {
        resp.setStatusAndReason(Poco::Net::HTTPResponse::HTTP_NOT_MODIFIED);
        resp.setContentLength(0);
        resp.send();
        return;
    }
    std::uint64_t first = 0, last = size == 0 ? 0 : size - 1;
    RangeKind range = RangeKind::None;
    const std::string ifRange = ctx.req.get("If-Range", "");
    if (ctx.req.has("Range") && (ifRange.empty() || ifRange == etag))
        range = parseRange(ctx.req.get("Range"), size, first, last);
    if (range == RangeKind::Unsatisfiable) {
        resp.set("Content-Range", "bytes */" + std::to_string(size));
        throw ApiError(416, "bad_range", "range not satisfiable");
    }
    resp.setContentType("application/octet-stream");
    if (range == RangeKind::Satisfiable) {
        resp.setStatusAndReason(Poco::Net::HTTPResponse::HTTP_PARTIAL_CONTENT);
        resp.set("Content-Range",
                 "bytes " + std::to_string(first) + "-" + std::to_string(last) + "/" + std::to_string(size));
    } else {
        resp.setStatus(Poco::Net::HTTPResponse::HTTP_OK);
    }
    const std::uint64_t length = size == 0 ? 0 : last - first + 1;
    resp.setContentLength64(static_cast<Poco::Int64>(length));
    auto& out = resp.send();
    if (ctx.req.getMethod() == "HEAD") return;
    svc.metrics.mediaHttpRequests++;
    // Streamed from the file, never held whole in memory.
    std::vector<char> buf(256 * 1024);
    std::uint64_t at = first, left = length;
    while (left > 0 && out) {
        const ssize_t n =
            ::pread(fd.get(), buf.data(), std::min<std::uint64_t>(left, buf.size()), static_cast<off_t>(at));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        out.write(buf.data(), n);
        if (!out) break;
        svc.metrics.mediaHttpBytesSent += n;
        at += static_cast<std::uint64_t>(n);
        left -= static_cast<std::uint64_t>(n);
    }
    // A short file or a broken connection: the client sees fewer bytes than
    // Content-Length says, and the connection closes.
    if (left > 0) resp.setKeepAlive(false);
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
