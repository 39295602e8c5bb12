// Compiled manifests, bundle export, and preview through the core evaluator.
#include <fstream>

#include "api.hpp"
#include "compiler.hpp"
#include "microscape/controller/repo.hpp"
#include "microscape/core/bundle.hpp"
#include "microscape/core/json.hpp"
#include "microscape/core/stand_in.hpp"
#include "microscape/core/tar.hpp"
#include "microscape/core/tz.hpp"

namespace microscape::controller {
namespace {

constexpr std::int64_t kMaxTimelineMs = 8LL * 86'400'000;

CompiledManifest current(RequestCtx& ctx, const std::string& playerId) {
    auto p = ctx.svc.db.read([&](DbConn& c) { return repo::playerById(c, playerId); });
    if (!p) notFound("player " + playerId);
    if (p->state != PlayerState::Enrolled) throw ApiError(409, "invalid_state", "player " + playerId + " is retired");
    auto m = ctx.svc.compiler->currentFor(playerId);
    if (!m) throw ApiError(500, "compile_failed", m.error().str());
    return *m;
}

void getManifest(RequestCtx& ctx) {
    auto m = current(ctx, ctx.param("id"));
    if (ctx.query("format").value_or("") == "raw") {
        ctx.resp.setStatus(Poco::Net::HTTPResponse::HTTP_OK);
        ctx.resp.setContentType("application/json");
        ctx.resp.set("X-Microscape-Signature", crypto::base64Encode(m.signature));
        ctx.resp.set("X-Microscape-Version", std::to_string(m.version));
        ctx.resp.setContentLength64(static_cast<Poco::Int64>(m.manifestBytes.size()));
        ctx.resp.send() << m.manifestBytes;
        return;
    }
    Poco::JSON::Object::Ptr out = new Poco::JSON::Object;
    out->set("playerId", m.playerId);
    out->set("version", Poco::Int64(m.version));
    out->set("compiledAt", isoUtc(m.createdAtMs));
    out->set("manifest", parseStoredJson(m.manifestBytes));
    out->set("manifestBase64", crypto::base64Encode(m.manifestBytes));
    out->set("signatureBase64", crypto::base64Encode(m.signature));
    ctx.sendJson(200, out);
}

class OstreamSink final : public tar::ByteSink {
  public:
    explicit OstreamSink(std::ostream& out) : out_(out) {}
    Status write(const void* buf, std::size_t n) override {
        out_.write(static_cast<const char*>(buf), static_cast<std::streamsize>(n));
        if (!out_) return makeError(Errc::Io, "client went away");
        return {};
    }

  private:
    std::ostream& out_;
};

void getBundle(RequestCtx& ctx) {
    const std::string id = ctx.param("id");
    auto m = current(ctx, id);
    auto parsed = manifest::parse(m.manifestBytes);
    if (!parsed) throw ApiError(500, "internal", parsed.error().str());
    for (const auto& e : parsed->media)
        if (!ctx.svc.media.contains(e.sha256)) throw ApiError(500, "internal", "media " + e.sha256 + " missing");
    ctx.resp.setStatus(Poco::Net::HTTPResponse::HTTP_OK);
    ctx.resp.setContentType("application/x-tar");
    ctx.resp.set("Content-Disposition", "attachment; filename=\"" + id + "-v" + std::to_string(m.version) + ".tar\"");
    ctx.resp.setChunkedTransferEncoding(true);
    auto& out = ctx.resp.send();
    OstreamSink sink(out);
    tar::Writer w(sink);
    auto fail = [&](const Status& st) {
        if (!st) throw std::runtime_error("bundle stream for " + id + " failed: " + st.error().str());
    };
    fail(w.add(bundle::kManifestName, m.manifestBytes, m.createdAtMs / 1000));
    fail(w.add(bundle::kSignatureName, m.signature, m.createdAtMs / 1000));
    std::vector<char> buf(256 * 1024);
    for (const auto& e : parsed->media) {
        std::ifstream in(ctx.svc.media.pathOf(e.sha256), std::ios::binary);
        fail(w.begin(std::string(bundle::kMediaPrefix) + e.sha256, e.sizeBytes, m.createdAtMs / 1000));
        while (in) {
            in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
            if (in.gcount() <= 0) break;
            fail(w.write(buf.data(), static_cast<std::size_t>(in.gcount())));
        }
        fail(w.end());
    }
    fail(w.finish());
}

void compileNow(RequestCtx& ctx) {
    const std::string id = ctx.param("id");
    auto p = ctx.svc.db.read([&](DbConn& c) { return repo::playerById(c, id); });
    if (!p) notFound("player " + id);
    auto m = ctx.svc.compiler->compilePlayer(id);
    if (!m) throw ApiError(500, "compile_failed", m.error().str());
    Poco::JSON::Object::Ptr out = new Poco::JSON::Object;
    out->set("playerId", id);
    out->set("version", Poco::Int64(m->version));
    ctx.sendJson(200, out);
}

void contentKey(RequestCtx& ctx) {
    Poco::JSON::Object::Ptr out = new Poco::JSON::Object;
    out->set("publicKeyPem", ctx.svc.contentPublicKeyPem);
    out->set("keyId", ctx.svc.compiler->publicKey().id());
    ctx.sendJson(200, out);
}

// Resolves ?playerId= or ?locationId= into what compilation would see.
CompileSubject subjectOf(RequestCtx& ctx) {
    CompileSubject s;
    auto pid = ctx.query("playerId");
    auto lid = ctx.query("locationId");
    if (!pid == !lid) badRequest("give exactly one of ?playerId= or ?locationId=");
    ctx.svc.db.read([&](DbConn& c) {
        if (pid) {
            s.player = repo::playerById(c, *pid);
            if (!s.player) notFound("player " + *pid);
            if (s.player->locationId) s.location = repo::locationById(c, *s.player->locationId);
        } else {
            std::int64_t id = 0;
            try {
                id = std::stoll(*lid);
            } catch (...) {
                badRequest("locationId must be an integer");
            }
            s.location = repo::locationById(c, id);
            if (!s.location) notFound("location " + *lid);
        }
    });
    return s;
}

Poco::JSON::Object::Ptr itemInfo(const Compiler::Built& b, const std::string& sha, std::size_t index,
                                 const std::string& playlistId) {
    Poco::JSON::Object::Ptr o = new Poco::JSON::Object;
    o->set("mediaSha256", nullableStr(sha));
    auto it = b.mediaIds.find(sha);
    o->set("mediaId", it == b.mediaIds.end() ? Poco::Dynamic::Var() : Poco::Dynamic::Var(Poco::Int64(it->second)));
    for (const auto& e : b.media)
        if (e.sha256 == sha) o->set("mediaName", e.name);
    o->set("itemIndex", Poco::Int64(index));
    const std::string prefix = "pl-";
    o->set("playlistId", playlistId.rfind(prefix, 0) == 0
                             ? Poco::Dynamic::Var(Poco::Int64(std::stoll(playlistId.substr(3))))
                             : Poco::Dynamic::Var());
    return o;
}

std::string plainId(const std::string& prefixed) {
    auto dash = prefixed.find('-');
    return dash == std::string::npos ? prefixed : prefixed.substr(dash + 1);
}

// What proof of play says of the item on this screen: its last play failed
// (when, the player's reason, and the failures of the last day); null otherwise
// or for a location.
Poco::Dynamic::Var failedOnScreen(RequestCtx& ctx, const CompileSubject& subject, const std::string& mediaSha256,
                                  std::int64_t at) {
    if (!subject.player || mediaSha256.empty()) return {};
    auto f = ctx.svc.db.read(
        [&](DbConn& c) { return repo::lastFailure(c, subject.player->id, mediaSha256, at - 86'400'000); });
    if (!f) return {};
    Poco::JSON::Object::Ptr o = new Poco::JSON::Object;
    o->set("at", isoUtc(f->startMs));
    o->set("reason", f->reason);
    o->set("failuresLastDay", Poco::Int64(f->failuresSince));
    return o;
}

// What the screen shows in the slot of decision d when its item failed there
// (docs/player-screen.md): the engine's own rule (schedule::standIn) over the
// media whose last play on this screen failed under the bundle the screen runs
// (its STATUS's active_version; a new bundle lets the screen try them again).
// Null when the item did not fail there, or for a location.
Poco::Dynamic::Var standInOnScreen(RequestCtx& ctx, const CompileSubject& subject, const Compiler::Built& built,
                                   const schedule::Decision& d, std::int64_t at) {
    if (!subject.player || d.state != schedule::State::Playing) return {};
    std::int64_t active = -1;  // unknown: every failure counts
    if (auto st = json::parse(subject.player->statusJson); st)
        if (const auto* v = st->find("active_version"); v && v->isInt()) active = v->asInt();
    std::map<std::string, bool> memo;
    auto failed = [&](const std::string& sha) {
        auto [it, fresh] = memo.emplace(sha, false);
        if (fresh && !sha.empty()) {
            auto f = ctx.svc.db.read(
                [&](DbConn& c) { return repo::lastFailure(c, subject.player->id, sha, at - 86'400'000); });
            it->second = f && (active < 0 || f->bundleVersion >= active);
        }
        return it->second;
    };
    if (!failed(d.mediaSha256)) return {};
    const schedule::Decision s = schedule::standIn(built.schedule, d, failed);
    auto o = itemInfo(built, s.mediaSha256, s.itemIndex, s.playlistId);
    o->set("state", std::string(schedule::stateName(s.state)));
    return o;
}

// The screen's last play of the item was degraded (froze or lost frames): when,
// and its frame counts; null otherwise or for a location.
Poco::Dynamic::Var degradedOnScreen(RequestCtx& ctx, const CompileSubject& subject, const std::string& mediaSha256) {
    if (!subject.player || mediaSha256.empty()) return {};
    auto g = ctx.svc.db.read([&](DbConn& c) { return repo::lastDegraded(c, subject.player->id, mediaSha256); });
    if (!g) return {};
    Poco::JSON::Object::Ptr o = new Poco::JSON::Object;
    o->set("at", isoUtc(g->startMs));
    o->set("frames", Poco::Int64(g->frames));
    o->set("framesLate", Poco::Int64(g->framesLate));
    o->set("framesDropped", Poco::Int64(g->framesDropped));
    o->set("longestFreezeMs", Poco::Int64(g->longestFreezeMs));
    return o;
}

void preview(RequestCtx& ctx) {
    auto subject = subjectOf(ctx);
    const std::int64_t at = ctx.query("at") ? parseIsoField("at", *ctx.query("at")) : ctx.svc.nowMs();
    const std::int64_t from = at - at % 86'400'000;
    auto built = ctx.svc.compiler->build(subject, from, from + 2 * 86'400'000);
    if (!built) throw ApiError(422, "bad_schedule", built.error().str());
    auto d = schedule::evaluate(built->schedule, at);
    auto o = itemInfo(*built, d.mediaSha256, d.itemIndex, d.playlistId);
    o->set("at", isoUtc(at));
    o->set("timezone", built->schedule.zoneName);
    o->set("state", std::string(schedule::stateName(d.state)));
    o->set("source", std::string(schedule::sourceName(d.source)));
    o->set("sourceId", nullableStr(plainId(d.sourceId)));
    o->set("campaignId", nullableStr(plainId(d.campaignId)));
    if (d.state == schedule::State::Playing) {
        o->set("itemStart", isoUtc(d.itemStartUtcMs));
        o->set("itemEnd", isoUtc(d.itemEndUtcMs));
        o->set("offsetMs", Poco::Int64(d.offsetMs));
    }
    o->set("nextChange", isoUtc(d.nextChangeUtcMs));
    o->set("failedOnScreen", failedOnScreen(ctx, subject, d.mediaSha256, at));
    o->set("standIn", standInOnScreen(ctx, subject, *built, d, at));
    o->set("degradedOnScreen", degradedOnScreen(ctx, subject, d.mediaSha256));
    ctx.sendJson(200, o);
}

void timeline(RequestCtx& ctx) {
    auto subject = subjectOf(ctx);
    auto fromQ = ctx.query("from");
    auto toQ = ctx.query("to");
    auto dateQ = ctx.query("date");
    std::int64_t from = 0, to = 0;
    if (dateQ && !fromQ && !toQ) {
        // One local calendar day at the subject's location.
        int y = 0, mo = 0, d = 0;
        if (dateQ->size() != 10 || std::sscanf(dateQ->c_str(), "%4d-%2d-%2d", &y, &mo, &d) != 3)
            badRequest("date must be YYYY-MM-DD");
        const std::int64_t approx = parseIsoField("date", *dateQ + "T00:00:00Z");
        auto probe = ctx.svc.compiler->build(subject, approx - 2 * 86'400'000, approx + 3 * 86'400'000);
        if (!probe) throw ApiError(422, "bad_schedule", probe.error().str());
        from = tz::utcFromLocal(probe->schedule.offsets, approx);
        to = tz::utcFromLocal(probe->schedule.offsets, approx + 86'400'000);
    } else if (fromQ && toQ && !dateQ) {
        from = parseIsoField("from", *fromQ);
        to = parseIsoField("to", *toQ);
    } else {
        badRequest("give ?date=YYYY-MM-DD (local day) or ?from= and ?to= (ISO 8601)");
    }
    if (to <= from) unprocessable("bad_window", "'to' is not after 'from'");
    if (to - from > kMaxTimelineMs) badRequest("a timeline covers at most 8 days");
    const std::int64_t start = from - from % 86'400'000;
    auto built = ctx.svc.compiler->build(subject, start, to + 86'400'000);
    // (the payload starts at a UTC midnight, as compiled manifests do, so loop
    // positions in the preview are exactly the players')
    if (!built) throw ApiError(422, "bad_schedule", built.error().str());
    Poco::JSON::Array::Ptr segs = new Poco::JSON::Array;
    std::size_t count = 0;
    bool truncated = false;
    std::map<std::string, Poco::Dynamic::Var> failed;  // by media: failedOnScreen
    schedule::forEachSegment(built->schedule, from, to, [&](const schedule::Segment& s) {
        if (++count > 20000) {
            truncated = true;
            return false;
        }
        auto o = itemInfo(*built, s.mediaSha256, s.itemIndex, s.playlistId);
        if (subject.player && !s.mediaSha256.empty()) {
            auto it = failed.find(s.mediaSha256);
            if (it == failed.end())
                it = failed.emplace(s.mediaSha256, failedOnScreen(ctx, subject, s.mediaSha256, ctx.svc.nowMs())).first;
            if (!it->second.isEmpty()) o->set("failedOnScreen", it->second);
        }
        o->set("start", isoUtc(s.startUtcMs));
        o->set("end", isoUtc(s.endUtcMs));
        o->set("state", std::string(schedule::stateName(s.state)));
        o->set("source", std::string(schedule::sourceName(s.source)));
        o->set("sourceId", nullableStr(plainId(s.sourceId)));
        o->set("campaignId", nullableStr(plainId(s.campaignId)));
        segs->add(o);
        return true;
    });
    Poco::JSON::Object::Ptr out = new Poco::JSON::Object;
    out->set("timezone", built->schedule.zoneName);
    out->set("segments", segs);
    out->set("truncated", truncated);
    ctx.sendJson(200, out);
}

}  // namespace

void addCompileRoutes(Router& r) {
    r.add(textId(withQuery(Route{"GET", "/api/v1/players/{id}/manifest", kAnyUser, "players",
                                 "The player's current signed manifest (?format=raw for the exact signed bytes)",
                                 getManifest},
                           {{"format", "string", "", {"raw"}}}))
              .reply("ManifestAnswer"));
    r.add(textId(Route{"GET", "/api/v1/players/{id}/bundle", kAnyUser, "players",
                       "The player's current bundle as a tar (manifest.json, manifest.sig, media/<sha256>)", getBundle})
              .replyAs("application/x-tar"));
    r.add(textId(Route{"POST", "/api/v1/players/{id}/compile", kAdmin, "players", "Compile the player's manifest now",
                       compileNow})
              .reply("Compiled"));
    r.add(Route{"GET", "/api/v1/content-key", kAnyUser, "players", "The content signing public key", contentKey}.reply(
        "ContentKey"));
    r.add(withQuery(Route{"GET", "/api/v1/preview", kAnyUser, "preview",
                          "What plays on a player or at a location at ?at= (default now)", preview},
                    {{"playerId"}, {"locationId", "integer"}, {"at", "string", "date-time"}})
              .reply("Preview"));
    r.add(withQuery(
              Route{"GET", "/api/v1/preview/timeline", kAnyUser, "preview",
                    "Segments of what plays on a local ?date= or between ?from= and ?to= (at most 8 days)", timeline},
              {{"playerId"},
               {"locationId", "integer"},
               {"date", "string", "date"},
               {"from", "string", "date-time"},
               {"to", "string", "date-time"}})
              .reply("Timeline"));
}

}  // namespace microscape::controller
