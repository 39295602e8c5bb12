// CAP 1.2 alerts: POST /api/v1/alerts (an alert_feed account) and the list the
// console shows; ingestAlert, shared with the feed poller (alert_feed.hpp).
#include <Poco/JSON/Parser.h>
#include <Poco/String.h>

#include <algorithm>
#include <set>

#include "alerts.hpp"
#include "cap.hpp"
#include "cap_signature.hpp"
#include "compiler.hpp"
#include "microscape/controller/repo.hpp"
#include "microscape/controller/security.hpp"
#include "microscape/core/json.hpp"

namespace microscape::controller {

namespace {

constexpr std::int64_t kMaxTakeoverMs = 7LL * 24 * 3600 * 1000;  // as POST /api/v1/takeovers allows
constexpr std::int64_t kSloganItemMs = 20'000;
constexpr std::size_t kSloganTextBytes = 1000;
constexpr int kSloganFontPx = 72;
constexpr int kSloganScrollPxPerS = 160;

// How a takeover is named after its alert's level (the console shows the name).
const char* levelName(const std::string& severity) {
    if (severity == "Extreme") return "【红色预警】";
    if (severity == "Severe") return "【橙色预警】";
    if (severity == "Moderate") return "【黄色预警】";
    if (severity == "Minor") return "【蓝色预警】";
    return "【预警】";
}

// A refusal from the CAP parsers or the signature check as the API's error.
[[noreturn]] void refuse(const cap::Problem& p) {
    const std::string& c = p.code;
    if (c == "too_large") throw ApiError(413, c, p.message);
    if (c == "unsigned") throw ApiError(422, "signature_required", p.message + "; alerts.requireSignature is on");
    if (c == "bad_signature") throw ApiError(422, c, p.message);
    if (c == "internal") throw ApiError(500, c, p.message);
    throw ApiError(400, c, p.message);
}

std::string referencesText(const cap::Message& m) {
    std::string out;
    for (const auto& r : m.references) out += (out.empty() ? "" : " ") + r.sender + "," + r.identifier + "," + r.sent;
    return out;
}

std::string areasJson(const std::vector<cap::Area>& areas) {
    json::Array arr;
    for (const auto& a : areas) {
        json::Array codes;
        for (const auto& g : a.geocodes)
            codes.emplace_back(json::Object{{"valueName", g.valueName}, {"value", g.value}});
        arr.emplace_back(json::Object{{"areaDesc", a.areaDesc}, {"geocodes", json::Value(codes)}});
    }
    return json::canonical(json::Value(arr));
}

std::string idsJson(const std::vector<std::int64_t>& ids) {
    json::Array arr;
    for (auto id : ids) arr.emplace_back(id);
    return json::canonical(json::Value(arr));
}

// The stored target of an alert's takeover: exactly the matched locations.
std::string targetJson(const std::vector<std::int64_t>& locationIds) {
    json::Array none;
    json::Array ids;
    for (auto id : locationIds) ids.emplace_back(id);
    return json::canonical(json::Object{{"all", false},
                                        {"venueTypes", json::Value(none)},
                                        {"districts", json::Value(none)},
                                        {"locationTags", json::Value(none)},
                                        {"playerIds", json::Value(none)},
                                        {"locationIds", json::Value(ids)}});
}

std::string cut(const std::string& s, std::size_t maxBytes) {
    if (s.size() <= maxBytes) return s;
    std::size_t n = maxBytes;
    while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
    return s.substr(0, n);
}

// What an Alert or Update asks for: the text, where and until when.
struct Plan {
    const cap::Info* info = nullptr;
    std::string text;
    std::string sloganDoc;
    std::vector<std::int64_t> locationIds;
    std::int64_t startsAtMs = 0;
    std::int64_t expiresAtMs = 0;
    std::string name;
};

Plan planFor(Services& svc, const cap::Message& m, std::int64_t now) {
    Plan p;
    p.info = cap::chooseInfo(m);
    if (!p.info) throw ApiError(400, "missing_element", "an " + m.msgType + " message needs an <info> block");
    const cap::Info& info = *p.info;
    p.expiresAtMs = info.expiresMs.value_or(std::max(now, m.sentMs) + svc.config.alertDefaultMinutes * 60'000LL);
    if (p.expiresAtMs <= now)
        throw ApiError(422, "expired",
                       "the alert expired at " + isoUtc(p.expiresAtMs) + " (controller time " + isoUtc(now) + ")");
    p.startsAtMs = std::max(now, info.effectiveMs.value_or(now));
    if (p.startsAtMs >= p.expiresAtMs)
        throw ApiError(422, "expired", "the alert becomes effective only when it expires");
    // A takeover lasts at most 7 days; a longer alert plays its first 7 days.
    p.expiresAtMs = std::min(p.expiresAtMs, p.startsAtMs + kMaxTakeoverMs);
    std::vector<cap::Place> places;
    svc.db.read([&](DbConn& c) {
        for (const auto& l : repo::listLocations(c)) places.push_back({l.id, l.district, l.adminCode});
    });
    p.locationIds = cap::matchPlaces(info.areas, places);
    if (p.locationIds.empty()) {
        std::string names;
        for (const auto& a : info.areas) names += (names.empty() ? "" : ", ") + a.areaDesc;
        throw ApiError(422, "out_of_area",
                       info.areas.empty()
                           ? "the alert's <info> names no <area>"
                           : "no location's district or adminCode matches the alert's areas (" + names + ")");
    }
    p.text = cap::sloganText(info, kSloganTextBytes);
    if (p.text.empty()) throw ApiError(400, "missing_element", "the alert has no headline, description or event");
    const auto colours = cap::coloursFor(info.severity);
    const bool scroll = p.text.size() > 60;  // about 20 CJK characters fit a line at 72 px
    json::Object style{{"background", colours.background},
                       {"color", colours.text},
                       {"fontSizePx", kSloganFontPx},
                       {"scrollSpeedPxPerS", scroll ? kSloganScrollPxPerS : 0}};
    p.sloganDoc = json::canonical(json::Object{{"microscape_slogan", 1}, {"style", style}, {"text", p.text}});
    p.name = cut(std::string(levelName(info.severity)) + (info.headline.empty() ? info.event : info.headline), 255);
    return p;
}

// The approved slogan media of a plan (an existing item with the same bytes is
// reused, and approved if it was not): an alert from its issuing system needs no
// second review (docs/controller-api.md "Alerts").
std::int64_t sloganMedia(DbConn& c, const Plan& p, const User& account, const cap::Message& m, const Actor& who,
                         std::int64_t now, const std::string& sha256) {
    const std::string reason = "CAP alert " + m.sender + "/" + m.identifier;
    auto reuse = [&](Media existing) {
        if (existing.state != MediaState::Approved) {
            auto before = mediaJson(existing);
            const MediaState from = existing.state;
            existing.state = MediaState::Approved;
            existing.reviewedBy = account.id;
            existing.reviewReason = reason;
            existing.reviewedAtMs = now;
            existing.updatedAtMs = now;
            if (!repo::changeMediaState(c, existing, from))
                throw RetryableError("media " + std::to_string(existing.id) + " changed state meanwhile");
            repo::audit(c, who, "approve", "media", std::to_string(existing.id), stringify(before),
                        stringify(mediaJson(existing)), now);
        }
        return existing.id;
    };
    if (auto existing = repo::mediaBySha(c, sha256)) return reuse(*existing);
    Media md;
    md.sha256 = sha256;
    md.kind = "text";
    md.mime = "application/vnd.microscape.slogan+json";
    md.sizeBytes = static_cast<std::int64_t>(p.sloganDoc.size());
    md.displayName = cut(p.name, 255);
    md.originalName = "slogan-" + sha256.substr(0, 12) + ".json";
    md.department = account.department;
    md.state = MediaState::Approved;
    md.uploadedBy = account.id;
    md.reviewedBy = account.id;
    md.reviewReason = reason;
    md.reviewedAtMs = now;
    md.sloganJson = p.sloganDoc;
    md.createdAtMs = md.updatedAtMs = now;
    // Another alert with the same slogan may be storing it at this moment: then
    // its row (committed once this insert has waited for it) is used.
    auto id = repo::insertMediaIfNew(c, md);
    if (!id) {
        auto other = repo::mediaBySha(c, sha256);
        if (!other) throw RetryableError("the slogan's media went away meanwhile");
        return reuse(*other);
    }
    md.id = *id;
    repo::audit(c, who, "create", "media", std::to_string(md.id), "", stringify(mediaJson(*repo::mediaById(c, md.id))),
                now);
    return md.id;
}

// The takeovers of the messages `m` references (all from m's sender); 422 when none is known.
std::vector<Takeover> referencedTakeovers(DbConn& c, const cap::Message& m) {
    if (m.references.empty()) throw ApiError(400, "missing_element", "an " + m.msgType + " message needs <references>");
    std::set<std::int64_t> ids;
    for (const auto& r : m.references) {
        if (r.sender != m.sender)
            throw ApiError(422, "unknown_reference",
                           "<references> names a message of another sender (" + r.sender +
                               "); a sender may change "
                               "or end only its own alerts");
        auto a = repo::alertByKey(c, r.sender, r.identifier, r.sent);
        if (a && a->takeoverId) ids.insert(*a->takeoverId);
    }
    if (ids.empty())
        throw ApiError(422, "unknown_reference",
                       "the " + m.msgType + " references no alert taken here (" + referencesText(m) + ")");
    std::vector<Takeover> out;
    for (auto id : ids)
        if (auto t = repo::takeoverById(c, id)) out.push_back(*t);
    return out;  // by id: the latest last
}

AlertRecord recordOf(const cap::Message& m, const std::string& xml, const User& account, const std::string& source,
                     const std::string& signature, std::int64_t now) {
    AlertRecord a;
    a.sender = m.sender;
    a.identifier = m.identifier;
    a.sent = m.sent;
    a.sentAtMs = m.sentMs;
    a.msgType = m.msgType;
    a.refs = referencesText(m);
    if (const auto* info = cap::chooseInfo(m)) {
        a.language = info->language;
        a.event = info->event;
        a.severity = info->severity;
        a.headline = info->headline;
        a.expiresAtMs = info->expiresMs;
        a.areasJson = areasJson(info->areas);
    }
    a.signature = signature;
    a.source = source;
    a.receivedBy = account.id;
    a.receivedAtMs = now;
    a.xml = xml;
    return a;
}

}  // namespace

Poco::JSON::Object::Ptr alertJson(const AlertRecord& a, bool withXml) {
    Poco::JSON::Object::Ptr o = new Poco::JSON::Object;
    o->set("id", Poco::Int64(a.id));
    o->set("sender", a.sender);
    o->set("identifier", a.identifier);
    o->set("sent", a.sent);
    o->set("msgType", a.msgType);
    o->set("references", nullableStr(a.refs));
    o->set("language", nullableStr(a.language));
    o->set("event", nullableStr(a.event));
    o->set("severity", nullableStr(a.severity));
    o->set("headline", nullableStr(a.headline));
    o->set("text", nullableStr(a.text));
    o->set("expiresAt", optIso(a.expiresAtMs));
    o->set("areas", parseStoredArray(a.areasJson));
    o->set("locationIds", parseStoredArray(a.locationIdsJson));
    o->set("takeoverId", nullable(a.takeoverId));
    o->set("mediaId", nullable(a.mediaId));
    o->set("signature", a.signature);
    o->set("source", a.source);
    o->set("receivedBy", Poco::Int64(a.receivedBy));
    o->set("receivedAt", isoUtc(a.receivedAtMs));
    if (withXml) o->set("xml", a.xml);
    return o;
}

namespace {

// One message being taken: what start, update and cancel share. They run inside
// the write transaction and fill in the record; the caller stores it.
struct Taking {
    Services& svc;
    const cap::Message& m;
    const User& account;
    Actor who;
    std::int64_t now = 0;
    std::optional<Plan> plan;    // Alert and Update
    std::string sloganSha;       // their slogan, already in the media store
    std::string takeoverBefore;  // an Update's takeover as it was, for the audit log

    // Alert: a playlist of the slogan and a takeover on the matched locations.
    void start(DbConn& c, AlertRecord& a) {
        a.mediaId = sloganMedia(c, *plan, account, m, who, now, sloganSha);
        Playlist pl;
        pl.name = cut("CAP " + m.identifier, 255);
        pl.department = account.department;
        pl.createdBy = account.id;
        pl.items = {PlaylistItem{*a.mediaId, kSloganItemMs, std::nullopt, std::nullopt}};
        pl.createdAtMs = pl.updatedAtMs = now;
        pl.id = repo::insertPlaylist(c, pl);
        repo::audit(c, who, "create", "playlist", std::to_string(pl.id), "", stringify(playlistJson(c, pl)), now);
        Takeover t;
        t.name = plan->name;
        t.playlistId = pl.id;
        t.targetJson = targetJson(plan->locationIds);
        t.startsAtMs = plan->startsAtMs;
        t.expiresAtMs = plan->expiresAtMs;
        t.createdBy = account.id;
        t.createdAtMs = now;
        t.department = account.department;
        a.takeoverId = repo::insertTakeover(c, t);
    }

    // Update: the same takeover with the new slogan, area and expiry.
    void update(DbConn& c, AlertRecord& a) {
        Takeover t = referencedTakeovers(c, m).back();
        if (t.cancelledAtMs)
            throw ApiError(
                409, "alert_ended",
                "the alert this Update references was already ended (takeover " + std::to_string(t.id) + " cancelled)");
        takeoverBefore = stringify(takeoverJson(t, now));
        a.mediaId = sloganMedia(c, *plan, account, m, who, now, sloganSha);
        auto pl = *repo::playlistById(c, t.playlistId);
        const auto plBefore = stringify(playlistJson(c, pl));
        pl.items = {PlaylistItem{*a.mediaId, kSloganItemMs, std::nullopt, std::nullopt}};
        pl.updatedAtMs = now;
        repo::updatePlaylist(c, pl);
        repo::audit(c, who, "update", "playlist", std::to_string(pl.id), plBefore, stringify(playlistJson(c, pl)), now);
        t.name = plan->name;
        t.targetJson = targetJson(plan->locationIds);
        t.expiresAtMs = std::min(plan->expiresAtMs, t.startsAtMs + kMaxTakeoverMs);
        if (t.expiresAtMs <= now) throw ApiError(422, "expired", "the updated alert would end before now");
        if (!repo::updateTakeover(c, t))  // a Cancel (or a person) ended it since it was read
            throw ApiError(
                409, "alert_ended",
                "the alert this Update references was already ended (takeover " + std::to_string(t.id) + " cancelled)");
        a.takeoverId = t.id;
    }

    // Cancel: every takeover the references lead to ends now.
    void cancel(DbConn& c, AlertRecord& a) {
        auto targets = referencedTakeovers(c, m);
        bool ended = false;
        for (auto& x : targets) {
            if (x.cancelledAtMs) continue;
            const auto before = stringify(takeoverJson(x, now));
            if (!repo::cancelTakeover(c, x.id, now)) continue;  // cancelled meanwhile by another request
            repo::audit(c, who, "cancel", "takeover", std::to_string(x.id), before,
                        stringify(takeoverJson(*repo::takeoverById(c, x.id), now)), now);
            ended = true;
        }
        if (!ended) throw ApiError(409, "alert_ended", "the alert this Cancel references was already ended");
        const Takeover& t = targets.back();
        a.takeoverId = t.id;
        // A Cancel may carry no <info>: it ends the alert as the alert was.
        if (a.severity.empty() && t.alert) {
            a.event = t.alert->event;
            a.severity = t.alert->severity;
        }
    }
};

}  // namespace

AlertOutcome ingestAlert(Services& svc, const std::string& xml, const User& account, const std::string& source) {
    const auto& cfg = svc.config;
    auto parsed = cap::parseMessage(xml, cfg.alertMaxBytes);
    if (!parsed) refuse(parsed.problem());
    const cap::Message& m = *parsed;
    std::string signature = m.signaturePresent ? "unverified" : "unsigned";
    if (svc.alertVerifier && (m.signaturePresent || cfg.alertRequireSignature)) {
        auto v = svc.alertVerifier->verify(xml, cfg.alertMaxBytes);
        if (!v) refuse(v.problem());
        signature = "verified";
    }
    if (cfg.alertRequireSignature && signature != "verified")
        throw ApiError(422, "signature_required", "alerts.requireSignature is on and the alert is not signed");
    auto replay = [&]() -> std::optional<AlertOutcome> {
        auto seen = svc.db.read([&](DbConn& c) { return repo::alertByKey(c, m.sender, m.identifier, m.sent); });
        if (!seen) return std::nullopt;
        auto j = alertJson(*seen, false);
        j->set("deduplicated", true);
        return AlertOutcome{false, j};
    };
    // Delivered again (a feed is polled; a sender retries): the same answer, nothing changed.
    if (auto again = replay()) return *again;
    if (m.status != "Actual")
        throw ApiError(422, "not_actual",
                       "status " + m.status + ": only Actual alerts reach public screens (nothing was changed)");
    if (m.scope != "Public")
        throw ApiError(422, "not_public", "scope " + m.scope + ": only Public alerts reach public screens");
    if (m.msgType != "Alert" && m.msgType != "Update" && m.msgType != "Cancel")
        throw ApiError(422, "unsupported_msg_type", "msgType " + m.msgType + " is not acted on");

    const std::int64_t now = svc.nowMs();
    Taking taking{svc,          m,  account, Actor{account.id, account.username, account.role, account.department}, now,
                  std::nullopt, {}, {}};
    if (m.msgType != "Cancel") {
        taking.plan = planFor(svc, m, now);
        // Content-addressed and harmless if the transaction below refuses: stored first.
        auto s = svc.media.receiveBytes(taking.plan->sloganDoc);
        Status committed = s ? svc.media.commit(*s) : Status(s.error());
        if (!committed) {
            svc.log.error("alert %s/%s: slogan not stored: %s", m.sender, m.identifier, committed.error().message);
            throw ApiError(500, "internal", "the alert's slogan could not be stored");
        }
        taking.sloganSha = s->sha256;
    }
    AlertRecord saved;
    try {
        saved = svc.db.write([&](DbConn& c) {
            AlertRecord a = recordOf(m, xml, account, source, signature, now);
            if (m.msgType == "Alert")
                taking.start(c, a);
            else if (m.msgType == "Update")
                taking.update(c, a);
            else
                taking.cancel(c, a);
            if (taking.plan) {
                a.text = taking.plan->text;
                a.locationIdsJson = idsJson(taking.plan->locationIds);
                a.expiresAtMs = taking.plan->expiresAtMs;
            }
            a.id = repo::insertAlert(c, a);
            repo::audit(c, taking.who, "receive", "alert", std::to_string(a.id), "", stringify(alertJson(a, false)),
                        now);
            // The takeover as it now stands, with the alert it follows.
            const auto after = stringify(takeoverJson(*repo::takeoverById(c, *a.takeoverId), now));
            if (m.msgType == "Alert")
                repo::audit(c, taking.who, "create", "takeover", std::to_string(*a.takeoverId), "", after, now);
            else if (m.msgType == "Update")
                repo::audit(c, taking.who, "update", "takeover", std::to_string(*a.takeoverId), taking.takeoverBefore,
                            after, now);
            return a;
        });
    } catch (const ConstraintError&) {
        // Taken by a concurrent request in the meantime.
        if (auto again = replay()) return *again;
        throw;
    }
    svc.log.information("alert %Ld: %s %s/%s (%s) -> takeover %Ld", saved.id, saved.msgType, saved.sender,
                        saved.identifier, saved.severity, saved.takeoverId.value_or(0));
    svc.compiler->recompileAll("alert " + std::to_string(saved.id) + " (" + saved.msgType + ")");
    return AlertOutcome{true, alertJson(saved, false)};
}

namespace {

std::string bareType(const std::string& contentType) {
    return Poco::toLower(Poco::trim(contentType.substr(0, contentType.find(';'))));
}

void postAlert(RequestCtx& ctx) {
    const std::string type = bareType(ctx.req.getContentType());
    if (type != "application/cap+xml" && type != "application/xml" && type != "text/xml")
        throw ApiError(415, "unsupported_media_type",
                       "send the CAP message as application/cap+xml (or application/xml, text/xml)");
    const auto lowered = Poco::toLower(ctx.req.getContentType());
    if (auto cs = lowered.find("charset="); cs != std::string::npos) {
        std::string charset = Poco::trim(lowered.substr(cs + 8));
        charset = charset.substr(0, charset.find(';'));
        if (!charset.empty() && charset.front() == '"') charset = charset.substr(1, charset.find('"', 1) - 1);
        if (charset != "utf-8" && charset != "utf8")
            throw ApiError(415, "unsupported_media_type", "CAP messages are taken in UTF-8 only");
    }
    const std::size_t limit = ctx.svc.config.alertMaxBytes;
    if (ctx.req.hasContentLength() && ctx.req.getContentLength64() > static_cast<Poco::Int64>(limit))
        throw ApiError(413, "too_large", "the alert is larger than " + std::to_string(limit) + " bytes");
    std::string body;
    std::vector<char> buf(16384);
    auto& in = ctx.req.stream();
    while (in) {
        in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
        const auto n = static_cast<std::size_t>(in.gcount());
        if (n == 0) break;
        if (body.size() + n > limit)
            throw ApiError(413, "too_large", "the alert is larger than " + std::to_string(limit) + " bytes");
        body.append(buf.data(), n);
    }
    if (body.empty()) badRequest("the body must be a CAP 1.2 <alert> document");
    try {
        auto out = ingestAlert(ctx.svc, body, ctx.principal().user, "api");
        ctx.sendJson(out.created ? 201 : 200, out.json);
    } catch (const ApiError& e) {
        // Refusals change nothing, so they are not in the audit log; the log keeps them.
        ctx.svc.log.warning("alert from %s refused: %d %s: %s", ctx.principal().user.username, e.status, e.code,
                            escapeControl(e.what()));
        throw;
    }
}

void listAlertsRoute(RequestCtx& ctx) {
    int limit = 100;
    if (auto v = ctx.query("limit")) {
        try {
            limit = std::clamp(std::stoi(*v), 1, 1000);
        } catch (...) {
            badRequest("query 'limit' must be an integer");
        }
    }
    Poco::JSON::Array::Ptr arr = new Poco::JSON::Array;
    for (const auto& a : ctx.svc.db.read([&](DbConn& c) { return repo::listAlerts(c, limit); }))
        arr->add(alertJson(a, false));
    Poco::JSON::Object::Ptr out = new Poco::JSON::Object;
    out->set("alerts", arr);
    ctx.sendJson(200, out);
}

void getAlert(RequestCtx& ctx) {
    auto id = ctx.idParam("id");
    auto a = ctx.svc.db.read([&](DbConn& c) { return repo::alertById(c, id); });
    if (!a) notFound("alert " + std::to_string(id));
    ctx.sendJson(200, alertJson(*a, true));
}

}  // namespace

void addAlertRoutes(Router& r) {
    r.add(Route{"POST", "/api/v1/alerts", kAlertFeed, "alerts",
                "Take a CAP 1.2 alert: start, change (Update) or end (Cancel) its takeover", postAlert, 201}
              .body("CapMessage")
              .bodyAs("application/cap+xml")
              .bodyAs("application/xml")
              .bodyAs("text/xml")
              .reply("Alert")
              .also(200));
    r.add(withQuery(Route{"GET", "/api/v1/alerts", kAnyUser | kAlertFeed, "alerts",
                          "CAP messages taken, newest first (?limit=)", listAlertsRoute},
                    {{"limit", "integer"}})
              .reply("AlertList"));
    r.add(Route{"GET", "/api/v1/alerts/{id}", kAnyUser | kAlertFeed, "alerts",
                "One CAP message taken, with its XML as received", getAlert}
              .reply("Alert"));
}

}  // namespace microscape::controller
