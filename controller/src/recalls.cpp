#include "recalls.hpp"

#include <Poco/JSON/Array.h>

#include <algorithm>

#include "api.hpp"
#include "compiler.hpp"
#include "microscape/controller/hub.hpp"
#include "microscape/controller/repo.hpp"
#include "microscape/core/time.hpp"

namespace microscape::controller {

namespace {

// Recall instants keep their milliseconds: "no play started after the screen
// confirmed" compares them with play starts.
std::string iso(std::int64_t ms) {
    return timeutil::formatUtcMs(ms);
}
Poco::Dynamic::Var optIsoMs(const std::optional<std::int64_t>& ms) {
    return ms ? Poco::Dynamic::Var(iso(*ms)) : Poco::Dynamic::Var();
}

Actor playerActor(const std::string& playerId) {
    return Actor{0, "player:" + playerId, Role::Auditor, {}};
}

// The recall as the audit log records its opening: what the evidence export's
// verifier reads (docs/audit-export.md, "Recalls").
Poco::JSON::Object::Ptr openedJson(const Recall& r, const std::string& mediaName,
                                   const std::vector<RecallScreen>& screens) {
    Poco::JSON::Object::Ptr o = new Poco::JSON::Object;
    o->set("id", Poco::Int64(r.id));
    o->set("mediaId", Poco::Int64(r.mediaId));
    o->set("mediaSha256", r.mediaSha256);
    o->set("mediaName", mediaName);
    o->set("reason", r.reason);
    o->set("recalledAt", iso(r.recalledAtMs));
    o->set("recalledBy", r.actor);
    o->set("automatic", r.automatic);
    Poco::JSON::Array::Ptr arr = new Poco::JSON::Array;
    for (const auto& s : screens) {
        Poco::JSON::Object::Ptr x = new Poco::JSON::Object;
        x->set("playerId", s.playerId);
        x->set("version", nullable(s.version));
        x->set("manifestSha256", nullableStr(s.manifestSha256));
        x->set("confirmedAt", optIsoMs(s.confirmedAtMs));
        arr->add(x);
    }
    o->set("screens", arr);
    return o;
}

struct ScreenView {
    RecallScreen screen;
    std::optional<Player> player;
    repo::PlaysOf plays;
};

std::vector<ScreenView> viewScreens(DbConn& c, const Recall& r) {
    std::vector<ScreenView> out;
    for (auto& s : repo::recallScreens(c, r.id)) {
        ScreenView v{s, repo::playerById(c, s.playerId), {}};
        v.plays = repo::playsOf(c, s.playerId, r.mediaSha256, s.confirmedAtMs);
        out.push_back(std::move(v));
    }
    return out;
}

}  // namespace

Recall recallMedia(Services& svc, std::int64_t mediaId, const std::string& reason, const Actor& who, bool automatic) {
    // 1. Withdraw (the media leaves every manifest below). The recall row is
    // written in step 3 with its screens, so that nobody ever sees (or settles)
    // a recall whose screens are not recorded yet.
    Recall rec;
    std::string mediaName;
    auto refuseIfRecalled = [&](DbConn& c) {
        if (auto prior = repo::recallOfMedia(c, mediaId))
            throw ApiError(409, "already_recalled",
                           "the media was already recalled (recall " + std::to_string(prior->id) + ")");
    };
    svc.db.write([&](DbConn& c) {
        auto m = repo::mediaById(c, mediaId);
        if (!m) throw ApiError(404, "not_found", "media " + std::to_string(mediaId) + " not found");
        refuseIfRecalled(c);
        const bool wasShown =
            m->state == MediaState::Approved ||
            (m->state == MediaState::Rejected && m->reviewedAtMs && !repo::playersThatHadMedia(c, m->sha256).empty());
        if (!wasShown)
            throw ApiError(409, "invalid_state",
                           "only approved (or withdrawn) media that screens had can be recalled (state is " +
                               std::string(mediaStateName(m->state)) + ")");
        const std::int64_t now = svc.nowMs();
        auto before = mediaJson(*m);
        const MediaState from = m->state;
        m->state = MediaState::Rejected;
        if (who.userId) m->reviewedBy = who.userId;
        m->reviewedAtMs = now;
        m->reviewReason = reason;
        m->updatedAtMs = now;
        if (!repo::changeMediaState(c, *m, from))
            throw RetryableError("media " + std::to_string(mediaId) + " changed state meanwhile");
        repo::audit(c, who, "recall", "media", std::to_string(mediaId), stringify(before), stringify(mediaJson(*m)),
                    now);
        rec.mediaId = mediaId;
        rec.mediaSha256 = m->sha256;
        rec.reason = reason;
        rec.recalledAtMs = now;
        if (who.userId) rec.recalledBy = who.userId;
        rec.actor = who.name;
        rec.automatic = automatic;
        mediaName = m->displayName;
    });
    // 2. Every manifest again, without it.
    if (svc.compiler) svc.compiler->recompileAll("media " + std::to_string(mediaId) + " recalled");
    // 3. The recall, each screen that had the media with its first manifest without it.
    rec.id = svc.db.write([&](DbConn& c) { return openRecall(c, rec, mediaName, who, svc.nowMs()); });
    svc.log.information("media %Ld recalled (recall %Ld) by %s: %s", mediaId, rec.id, who.name, reason);
    return rec;
}

std::int64_t openRecall(DbConn& c, Recall rec, const std::string& mediaName, const Actor& who, std::int64_t now) {
    // A second recall of the same media may have raced this one: once the
    // media's row is ours, the other's recall is committed or not begun.
    repo::lockForEdit(c, repo::Editable::Media, rec.mediaId);
    if (auto prior = repo::recallOfMedia(c, rec.mediaId))
        throw ApiError(409, "already_recalled",
                       "the media was already recalled (recall " + std::to_string(prior->id) + ")");
    rec.id = repo::insertRecall(c, rec);
    std::vector<RecallScreen> screens;
    for (const auto& id : repo::playersThatHadMedia(c, rec.mediaSha256)) {
        RecallScreen s{rec.id, id, {}, {}, {}};
        auto p = repo::playerById(c, id);
        if (p && p->state == PlayerState::Enrolled)
            if (auto latest = repo::latestManifest(c, id, rec.mediaSha256); latest && !latest->listsMedia) {
                s.version = latest->version;
                s.manifestSha256 = latest->sha256;
                // The screen may have reported the version before this row existed.
                if (auto active = activeVersionOf(p->statusJson); active && *active >= latest->version)
                    s.confirmedAtMs = std::min(now, p->lastSeenAtMs.value_or(now));
            }
        repo::insertRecallScreen(c, s);
        screens.push_back(std::move(s));
    }
    repo::audit(c, who, "create", "recall", std::to_string(rec.id), "", stringify(openedJson(rec, mediaName, screens)),
                now);
    settleRecalls(c, now);
    return rec.id;
}

int recallExpiredMedia(Services& svc) {
    const std::int64_t now = svc.nowMs();
    auto ids = svc.db.read([&](DbConn& c) { return repo::expiredMediaIds(c, now); });
    int n = 0;
    for (auto id : ids) {
        try {
            recallMedia(svc, id, "valid until passed", Actor{0, "system", Role::Admin, {}}, true);
            ++n;
        } catch (const ApiError& e) {
            svc.log.warning("media %Ld: its expiry recall failed: %s", id, std::string(e.what()));
        }
    }
    return n;
}

std::optional<std::int64_t> activeVersionOf(const std::string& statusJson) {
    if (statusJson.empty()) return std::nullopt;
    auto v = json::parse(statusJson);
    if (!v) return std::nullopt;
    const auto* a = v->find("active_version");
    if (!a || !a->isInt()) return std::nullopt;
    return a->asInt();
}

void noteActiveVersion(DbConn& c, const std::string& playerId, std::int64_t activeVersion, std::int64_t atMs) {
    auto due = repo::unconfirmedRecallScreens(c, playerId, activeVersion);
    if (due.empty()) return;
    for (const auto& s : due) {
        if (!repo::confirmRecallScreen(c, s.recallId, playerId, atMs)) continue;
        Poco::JSON::Object::Ptr o = new Poco::JSON::Object;
        o->set("playerId", playerId);
        o->set("version", Poco::Int64(*s.version));
        o->set("manifestSha256", s.manifestSha256);
        o->set("activeVersion", Poco::Int64(activeVersion));
        o->set("confirmedAt", iso(atMs));
        repo::audit(c, playerActor(playerId), "confirm", "recall", std::to_string(s.recallId), "", stringify(o), atMs);
    }
    settleRecalls(c, atMs);
}

void settleRecalls(DbConn& c, std::int64_t nowMs) {
    for (const auto& r : repo::openRecalls(c)) {
        if (repo::unconfirmedRecallCount(c, r.id) > 0) continue;  // (cheap: most checks end here)
        bool complete = true;
        std::int64_t at = r.recalledAtMs;
        int confirmed = 0;
        for (const auto& v : viewScreens(c, r)) {
            if (!v.player || v.player->state != PlayerState::Enrolled) continue;
            if (!v.screen.confirmedAtMs || v.plays.after > 0) {
                complete = false;
                break;
            }
            ++confirmed;
            at = std::max(at, *v.screen.confirmedAtMs);
        }
        if (!complete) continue;
        if (!repo::completeRecall(c, r.id, at)) continue;
        Poco::JSON::Object::Ptr o = new Poco::JSON::Object;
        o->set("completedAt", iso(at));
        o->set("confirmedScreens", confirmed);
        repo::audit(c, Actor{0, "system", Role::Admin, {}}, "complete", "recall", std::to_string(r.id), "",
                    stringify(o), nowMs);
    }
}

Poco::JSON::Object::Ptr recallStatusJson(DbConn& c, const Recall& r,
                                         const std::function<bool(const std::string&)>& isOnline) {
    auto media = repo::mediaById(c, r.mediaId);
    Poco::JSON::Object::Ptr o = new Poco::JSON::Object;
    o->set("id", Poco::Int64(r.id));
    o->set("mediaId", Poco::Int64(r.mediaId));
    o->set("mediaSha256", r.mediaSha256);
    o->set("mediaName", media ? media->displayName : std::string());
    o->set("reason", r.reason);
    o->set("recalledAt", iso(r.recalledAtMs));
    o->set("recalledBy", r.actor);
    o->set("automatic", r.automatic);
    o->set("completedAt", optIsoMs(r.completedAtMs));
    int confirmed = 0, pending = 0, offline = 0, retired = 0;
    std::int64_t problems = 0;
    std::optional<std::int64_t> lastPlay;
    Poco::JSON::Array::Ptr arr = new Poco::JSON::Array;
    for (const auto& v : viewScreens(c, r)) {
        Poco::JSON::Object::Ptr x = new Poco::JSON::Object;
        x->set("playerId", v.screen.playerId);
        x->set("name", v.player ? v.player->name : v.screen.playerId);
        std::optional<Location> loc;
        if (v.player && v.player->locationId) loc = repo::locationById(c, *v.player->locationId);
        x->set("location", loc ? Poco::Dynamic::Var(loc->name) : Poco::Dynamic::Var());
        x->set("version", nullable(v.screen.version));
        x->set("manifestSha256", nullableStr(v.screen.manifestSha256));
        x->set("confirmedAt", optIsoMs(v.screen.confirmedAtMs));
        x->set("lastPlayAt", optIsoMs(v.plays.lastStartMs));
        x->set("playsAfterConfirmation", Poco::Int64(v.plays.after));
        if (v.plays.firstAfterSeq) {
            Poco::JSON::Object::Ptr f = new Poco::JSON::Object;
            f->set("seq", Poco::Int64(*v.plays.firstAfterSeq));
            f->set("startedAt", iso(*v.plays.firstAfterStartMs));
            x->set("firstPlayAfterConfirmation", f);
        } else {
            x->set("firstPlayAfterConfirmation", Poco::Dynamic::Var());
        }
        std::string state;
        if (!v.player || v.player->state != PlayerState::Enrolled) {
            state = "retired";
            ++retired;
        } else if (v.screen.confirmedAtMs) {
            state = "confirmed";
            ++confirmed;
        } else if (isOnline(v.screen.playerId)) {
            state = "pending";
            ++pending;
        } else {
            state = "offline";
            ++offline;
        }
        x->set("state", state);
        problems += v.plays.after;
        if (v.plays.lastStartMs) lastPlay = std::max(lastPlay.value_or(0), *v.plays.lastStartMs);
        arr->add(x);
    }
    o->set("screens", arr);
    o->set("lastPlayAt", optIsoMs(lastPlay));
    o->set("complete", pending == 0 && offline == 0 && problems == 0);
    Poco::JSON::Object::Ptr sum = new Poco::JSON::Object;
    sum->set("screens", confirmed + pending + offline + retired);
    sum->set("confirmed", confirmed);
    sum->set("pending", pending);
    sum->set("offline", offline);
    sum->set("retired", retired);
    sum->set("playsAfterConfirmation", Poco::Int64(problems));
    o->set("summary", sum);
    return o;
}

}  // namespace microscape::controller
