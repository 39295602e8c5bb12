#include "compiler.hpp"

#include <Poco/JSON/Parser.h>

#include <set>

#include "api.hpp"
#include "cluster.hpp"
#include "microscape/controller/repo.hpp"
#include "microscape/core/json.hpp"
#include "microscape/core/tz.hpp"
#include "store/change_feed.hpp"

namespace microscape::controller {

namespace {

constexpr std::int64_t kDayMs = 86'400'000;
constexpr std::int64_t kDefaultStillMs = 10'000;

// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
std::int64_t daysFromCivil(int y, unsigned m, unsigned d) {
    y -= m <= 2;
    const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = static_cast<unsigned>(y - era * 400);
    const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

std::int64_t dayOf(const std::string& ymd) {
    int y = 0;
    unsigned m = 0, d = 0;
    std::sscanf(ymd.c_str(), "%d-%u-%u", &y, &m, &d);
    return daysFromCivil(y, m, d);
}

int minuteOf(const std::string& hhmm) {
    int v = ((hhmm[0] - '0') * 10 + (hhmm[1] - '0')) * 60 + (hhmm[3] - '0') * 10 + (hhmm[4] - '0');
    return v % 1440;  // "24:00" as an end is midnight
}

// Stored windows [{"days":[..],"start","end"}] as evaluator dayparts.
std::vector<schedule::Daypart> daypartsOf(const std::string& stored) {
    std::vector<schedule::Daypart> out;
    auto v = json::parse(stored);
    if (!v || !v->isArray()) return out;
    for (const auto& w : v->asArray()) {
        schedule::Daypart d;
        for (const auto& day : w.find("days")->asArray())
            d.weekdays |= static_cast<std::uint8_t>(1u << (day.asInt() - 1));
        d.startMinute = minuteOf(w.find("start")->asString());
        d.endMinute = minuteOf(w.find("end")->asString());
        out.push_back(d);
    }
    return out;
}

struct Target {
    bool all = false;
    std::set<std::string> venueTypes, districts, locationTags, playerIds;
    std::set<std::int64_t> locationIds;  // set only by CAP alerts (the locations their areas matched)
};

Target targetOf(const std::string& stored) {
    Target t;
    auto v = json::parse(stored);
    if (!v || !v->isObject()) return t;
    if (auto a = v->find("all"); a && a->isBool()) t.all = a->asBool();
    auto fill = [&](const char* key, std::set<std::string>& out) {
        if (auto a = v->find(key); a && a->isArray())
            for (const auto& s : a->asArray()) out.insert(s.asString());
    };
    fill("venueTypes", t.venueTypes);
    fill("districts", t.districts);
    fill("locationTags", t.locationTags);
    fill("playerIds", t.playerIds);
    if (auto a = v->find("locationIds"); a && a->isArray())
        for (const auto& id : a->asArray())
            if (id.isInt()) t.locationIds.insert(id.asInt());
    return t;
}

// Target rule (docs/controller-api.md): all, or an explicit player, or an explicit
// location (an alert's), or a location matching every location criterion given
// (venue type AND district AND any tag).
bool matches(const Target& t, const CompileSubject& s) {
    if (t.all) return true;
    if (s.player && t.playerIds.count(s.player->id)) return true;
    if (s.location && t.locationIds.count(s.location->id)) return true;
    const bool anyLocationCriterion = !t.venueTypes.empty() || !t.districts.empty() || !t.locationTags.empty();
    if (!anyLocationCriterion || !s.location) return false;
    const Location& l = *s.location;
    if (!t.venueTypes.empty() && !t.venueTypes.count(l.venueType)) return false;
    if (!t.districts.empty() && !t.districts.count(l.district)) return false;
    if (!t.locationTags.empty()) {
        bool any = false;
        for (const auto& tag : l.tags) any = any || t.locationTags.count(tag);
        if (!any) return false;
    }
    return true;
}

std::string playlistKey(std::int64_t id) {
    return "pl-" + std::to_string(id);
}

// The size a screen's renditions are made for: its enrolled resolution, else
// full HD (docs/controller-api.md "Renditions").
std::pair<std::int64_t, std::int64_t> screenBox(const CompileSubject& s) {
    if (s.player && s.player->width && s.player->height && *s.player->width > 0 && *s.player->height > 0)
        return {*s.player->width, *s.player->height};
    return {1920, 1080};
}

// A clip a screen decodes in real time as it is: H.264 in MP4, no larger than the screen.
bool clipFitsScreen(const Media& m, std::pair<std::int64_t, std::int64_t> box) {
    return m.codec == "h264" && m.mime == "video/mp4" && m.width && m.height && *m.width <= box.first &&
           *m.height <= box.second;
}

}  // namespace

Compiler::Compiler(Db& db, const ControllerConfig& config, crypto::PrivateKey key, Metrics& metrics, Poco::Logger& log,
                   std::function<std::int64_t()> clock)
    : db_(db),
      config_(config),
      key_(std::move(key)),
      publicKey_(key_.publicKey()),
      metrics_(metrics),
      log_(log),
      clock_(std::move(clock)) {}

struct Compiler::Snapshot {
    struct PlannedSchedule {
        Schedule row;
        Target target;
        std::vector<schedule::Daypart> dayparts;
    };
    struct PlannedTakeover {
        Takeover row;
        Target target;
    };
    std::vector<PlannedSchedule> schedules;
    std::vector<PlannedTakeover> takeovers;
    std::map<std::int64_t, Playlist> playlists;
    std::map<std::int64_t, Media> media;
    std::map<std::int64_t, std::vector<MediaDerived>> derived;  // by media id
    std::map<std::int64_t, Location> locations;
    std::optional<std::int64_t> fleetFiller;
    repo::MirrorSettings mirrors;           // the fleet's and districts' (a location's are on it)
    std::map<std::string, tz::Zone> zones;  // parsed on first use
};

std::shared_ptr<Compiler::Snapshot> Compiler::loadSnapshot() {
    auto snap = std::make_shared<Snapshot>();
    db_.read([&](DbConn& c) {
        for (auto& sch : repo::listSchedules(c)) {
            auto target = targetOf(sch.targetJson);
            auto dayparts = daypartsOf(sch.daypartsJson);
            snap->schedules.push_back({std::move(sch), std::move(target), std::move(dayparts)});
        }
        for (auto& t : repo::listTakeovers(c)) {
            if (t.cancelledAtMs) continue;
            auto target = targetOf(t.targetJson);
            snap->takeovers.push_back({std::move(t), std::move(target)});
        }
        for (auto& p : repo::listPlaylists(c)) snap->playlists.emplace(p.id, std::move(p));
        repo::MediaFilter approved;
        approved.state = MediaState::Approved;  // withdrawn or unreviewed content never reaches a screen
        for (auto& m : repo::listMedia(c, approved)) snap->media.emplace(m.id, std::move(m));
        for (auto& d : repo::listDerived(c))
            if (snap->media.count(d.mediaId)) snap->derived[d.mediaId].push_back(std::move(d));
        for (auto& l : repo::listLocations(c)) snap->locations.emplace(l.id, std::move(l));
        if (auto v = repo::setting(c, "filler_playlist_id")) snap->fleetFiller = std::stoll(*v);
        snap->mirrors = repo::mirrorSettings(c);
    });
    return snap;
}

Result<Compiler::Built> Compiler::build(const CompileSubject& subject, std::int64_t fromUtcMs,
                                        std::int64_t untilUtcMs) {
    auto snap = loadSnapshot();
    return buildFrom(*snap, subject, fromUtcMs, untilUtcMs);
}

Result<Compiler::Built> Compiler::buildFrom(Snapshot& snap, const CompileSubject& subject, std::int64_t fromUtcMs,
                                            std::int64_t untilUtcMs) {
    Built out;
    schedule::Schedule& s = out.schedule;
    s.zoneName = subject.location ? subject.location->timezone : "Asia/Shanghai";
    auto zit = snap.zones.find(s.zoneName);
    if (zit == snap.zones.end()) {
        auto zoneBytes = tz::loadZoneFile(s.zoneName);
        if (!zoneBytes) return zoneBytes.error();
        auto zone = tz::parseTzif(*zoneBytes);
        if (!zone) return zone.error();
        zit = snap.zones.emplace(s.zoneName, std::move(*zone)).first;
    }
    auto offsets = schedule::offsetsFor(zit->second, fromUtcMs, untilUtcMs);
    if (!offsets) return offsets.error();
    s.offsets = std::move(*offsets);
    s.fromUtcMs = fromUtcMs;
    s.untilUtcMs = untilUtcMs;
    if (subject.location) {
        auto hours = daypartsOf(subject.location->hoursJson);
        if (!hours.empty()) s.operatingHours = hours;
    }
    const std::int64_t fromDay = (tz::localFromUtc(s.offsets, fromUtcMs)) / kDayMs - 1;
    const std::int64_t untilDay = (tz::localFromUtc(s.offsets, untilUtcMs)) / kDayMs + 1;

    std::set<std::int64_t> playlistIds;
    for (const auto& ps : snap.schedules) {
        const Schedule& sch = ps.row;
        schedule::Entry e;
        e.startDay = dayOf(sch.startsOn);
        e.endDay = dayOf(sch.endsOn);
        if (e.endDay < fromDay || e.startDay > untilDay) continue;
        if (!matches(ps.target, subject)) continue;
        e.id = "sch-" + std::to_string(sch.id);
        e.playlistId = playlistKey(sch.playlistId);
        e.campaignId = sch.campaignId ? "cmp-" + std::to_string(*sch.campaignId) : "";
        e.priority = static_cast<std::int32_t>(sch.priority);
        e.dayparts = ps.dayparts;
        s.entries.push_back(std::move(e));
        playlistIds.insert(sch.playlistId);
    }
    for (const auto& pt : snap.takeovers) {
        const Takeover& t = pt.row;
        if (t.expiresAtMs <= fromUtcMs || t.startsAtMs >= untilUtcMs) continue;
        if (!matches(pt.target, subject)) continue;
        s.takeovers.push_back({"tko-" + std::to_string(t.id), playlistKey(t.playlistId), t.startsAtMs, t.expiresAtMs});
        playlistIds.insert(t.playlistId);
    }
    std::optional<std::int64_t> filler = snap.fleetFiller;
    if (subject.location && subject.location->fillerPlaylistId) filler = subject.location->fillerPlaylistId;
    if (filler) playlistIds.insert(*filler);

    std::set<std::string> usable;  // playlists that still hold approved items
    std::set<std::string> mediaSeen;
    for (auto id : playlistIds) {
        auto pit = snap.playlists.find(id);
        if (pit == snap.playlists.end()) continue;
        schedule::Playlist pl;
        pl.id = playlistKey(id);
        pl.name = pit->second.name;
        for (const auto& it : pit->second.items) {
            auto mit = snap.media.find(it.mediaId);
            if (mit == snap.media.end()) continue;  // not approved (the snapshot holds only approved media)
            const Media& m = mit->second;
            // What this screen plays: the normalised file when one was made, a
            // rendition for its size when the clip is more than it should decode,
            // else the original. The approver approved the original; the entry
            // says which original a derived file comes from.
            manifest::MediaEntry me;
            me.sha256 = m.sha256;
            me.sizeBytes = static_cast<std::uint64_t>(m.sizeBytes);
            me.kind = mediaKindFromName(m.kind);
            me.mime = m.mime;
            me.durationMs = m.durationMs.value_or(0);
            me.name = m.displayName;
            me.fileName = m.originalName.empty() ? m.sha256 : m.originalName;
            const MediaDerived* use = nullptr;
            bool wait = false;
            if (auto dit = snap.derived.find(m.id); dit != snap.derived.end()) {
                for (const auto& d : dit->second)
                    if (d.purpose == "normalised" && d.state == "ready") use = &d;
                if (!use && m.kind == "video" && config_.renditions) {
                    const auto box = screenBox(subject);
                    if (!clipFitsScreen(m, box)) {
                        wait = true;
                        for (const auto& d : dit->second)
                            if (d.purpose == "rendition" && d.boxWidth == box.first && d.boxHeight == box.second) {
                                if (d.state == "ready") use = &d, wait = false;
                                break;
                            }
                    }
                }
            }
            if (!use && !wait && m.kind == "video" && config_.renditions && !snap.derived.count(m.id) &&
                !clipFitsScreen(m, screenBox(subject)))
                wait = true;
            if (wait) {
                const auto box = screenBox(subject);
                out.renditionsWanted.emplace_back(m.id, box.first, box.second);
                continue;  // playable on this screen once its rendition is ready
            }
            if (use) {
                me.sha256 = use->sha256;
                me.sizeBytes = static_cast<std::uint64_t>(use->sizeBytes);
                me.kind = mediaKindFromName(use->kind);
                me.mime = use->mime;
                me.durationMs = use->durationMs.value_or(me.durationMs);
                me.derivedFrom = manifest::MediaEntry::DerivedFrom{m.sha256, use->transform};
            }
            schedule::Item item;
            item.mediaSha256 = me.sha256;
            item.durationMs = it.durationMs.value_or(me.durationMs > 0 ? me.durationMs : kDefaultStillMs);
            item.audio = m.kind == "audio";
            item.validFromUtcMs = it.validFromMs;
            item.validUntilUtcMs = it.validUntilMs;
            pl.items.push_back(item);
            if (mediaSeen.insert(me.sha256).second) {
                out.mediaIds[me.sha256] = m.id;
                out.media.push_back(std::move(me));
            }
        }
        if (pl.items.empty()) continue;
        usable.insert(pl.id);
        s.playlists.push_back(std::move(pl));
    }
    std::erase_if(s.entries, [&](const schedule::Entry& e) { return !usable.count(e.playlistId); });
    std::erase_if(s.takeovers, [&](const schedule::Takeover& t) { return !usable.count(t.playlistId); });
    if (filler && usable.count(playlistKey(*filler))) s.fillerPlaylistId = playlistKey(*filler);
    std::sort(out.media.begin(), out.media.end(),
              [](const manifest::MediaEntry& a, const manifest::MediaEntry& b) { return a.sha256 < b.sha256; });
    MS_TRY(schedule::validate(s));
    return out;
}

Result<CompiledManifest> Compiler::compileLocked(const std::string& playerId) {
    auto player = db_.read([&](DbConn& c) { return repo::playerById(c, playerId); });
    if (!player) return makeError(Errc::NotFound, "no player " + playerId);
    auto snap = loadSnapshot();
    return compileLocked(*snap, *player);
}

Result<CompiledManifest> Compiler::compileLocked(Snapshot& snap, const Player& player) {
    const std::string& playerId = player.id;
    CompileSubject subject;
    subject.player = player;
    if (player.locationId) {
        auto lit = snap.locations.find(*player.locationId);
        if (lit != snap.locations.end()) subject.location = lit->second;
    }
    const std::int64_t now = clock_();
    // The window starts at the UTC day so the content (and its hash) is stable for
    // a day; a player keeps a plan for the whole horizon when cut off.
    const std::int64_t from = now - now % kDayMs;
    const std::int64_t until = from + std::int64_t(config_.compileHorizonDays + 1) * kDayMs;
    auto built = buildFrom(snap, subject, from, until);
    if (!built) return built.error();
    if (!built->renditionsWanted.empty()) {
        bool asked = false;
        db_.write([&](DbConn& c) {
            for (const auto& [id, w, h] : built->renditionsWanted)
                asked = repo::requestRendition(c, id, w, h, now) || asked;
        });
        if (asked && renditionHook_) renditionHook_();
    }

    manifest::Manifest m;
    m.bundleId = "player-" + playerId;
    m.kind = manifest::BundleKind::Schedule;
    m.target = playerId;
    m.schedule = schedule::toJson(built->schedule);
    m.media = built->media;
    // Where the screen is, under the manifest's signature and (through the
    // manifest's hash in each play record) the screen's own (format 2).
    manifest::Location where;
    if (subject.location) {
        where.id = std::to_string(subject.location->id);
        where.name = subject.location->name;
        where.venueType = subject.location->venueType;
        where.district = subject.location->district;
    }
    where.timeZone = built->schedule.zoneName;
    m.location = where;
    // Media mirrors: the location's, else its district's, else the fleet's (format 3).
    if (subject.location && !subject.location->mirrors.empty()) {
        m.mirrors = subject.location->mirrors;
    } else if (auto dit = subject.location ? snap.mirrors.districts.find(subject.location->district)
                                           : snap.mirrors.districts.end();
               dit != snap.mirrors.districts.end()) {
        m.mirrors = dit->second;
    } else {
        m.mirrors = snap.mirrors.fleet;
    }
    const json::Value mj = manifest::toJson(m);
    const json::Value* mediaJson = mj.find("media");
    const json::Value* locationJson = mj.find("location");
    json::Object hashed{{"media", mediaJson ? *mediaJson : json::Value()},
                        {"location", locationJson ? *locationJson : json::Value()},
                        {"schedule", m.schedule},
                        {"target", m.target}};
    if (const json::Value* mirrorsJson = mj.find("mirrors")) hashed["mirrors"] = *mirrorsJson;  // only when set
    const std::string contentHash = crypto::sha256Hex(json::canonical(json::Value(std::move(hashed))));

    // Read the last version and store the next one in one transaction. With
    // several controller nodes on one PostgreSQL, a per-screen advisory lock
    // makes the second node to compile the same screen wait and then find the
    // first one's manifest: a screen's manifest is compiled once and its
    // versions only go up. The new version is announced to every node's hub.
    bool fresh = false;
    auto stored = db_.write([&](DbConn& c) -> Result<CompiledManifest> {
        fresh = false;
        repo::lockForCompile(c, compileLockKey(playerId));
        auto last = repo::newestManifestKey(c, playerId);
        if (last && last->second == contentHash) {
            auto row = repo::manifestAt(c, playerId, last->first);
            auto sig = crypto::base64Decode(row->signatureB64);
            if (!sig) return sig.error();
            return CompiledManifest{playerId, row->version, row->contentHash, row->manifest, *sig, row->createdAtMs};
        }
        m.version = last ? last->first + 1 : 1;
        m.issuedAtMs = now - now % 1000;
        m.expiresAtMs = until;
        auto signedM = manifest::sign(m, key_);
        repo::insertManifest(
            c, playerId,
            repo::StoredManifest{m.version, contentHash, signedM.bytes, crypto::base64Encode(signedM.signature), now},
            crypto::sha256Hex(signedM.bytes));
        repo::audit(c, Actor{0, "system", Role::Admin, {}}, "compile", "manifest", playerId, "",
                    R"({"version":)" + std::to_string(m.version) + "}", now);
        sql::announce(c.raw(), manifestAnnouncement(playerId, m.version));
        fresh = true;
        return CompiledManifest{playerId, m.version, contentHash, signedM.bytes, signedM.signature, now};
    });
    if (!stored || !fresh) return stored;
    const CompiledManifest& out = *stored;
    metrics_.bundlesCompiled++;
    if (listener_) listener_(out);
    log_.information("player %s: compiled manifest version %Ld (%z media, %z entries, %z takeovers)", playerId,
                     m.version, m.media.size(), built->schedule.entries.size(), built->schedule.takeovers.size());
    return out;
}

void Compiler::setRenditionHook(std::function<void()> hook) {
    std::lock_guard lock(mutex_);
    renditionHook_ = std::move(hook);
}

void Compiler::setListener(Listener listener) {
    std::lock_guard lock(mutex_);
    listener_ = std::move(listener);
}

Result<CompiledManifest> Compiler::compilePlayer(const std::string& playerId) {
    std::lock_guard lock(mutex_);
    return compileLocked(playerId);
}

Result<CompiledManifest> Compiler::currentFor(const std::string& playerId) {
    std::lock_guard lock(mutex_);
    auto row = db_.read([&](DbConn& c) { return repo::newestManifest(c, playerId); });
    const std::int64_t now = clock_();
    const std::int64_t halfHorizon = std::int64_t(config_.compileHorizonDays) * kDayMs / 2;
    if (row && now - row->createdAtMs < halfHorizon) {
        auto sig = crypto::base64Decode(row->signatureB64);
        if (!sig) return sig.error();
        return CompiledManifest{playerId, row->version, row->contentHash, row->manifest, *sig, row->createdAtMs};
    }
    return compileLocked(playerId);
}

int Compiler::recompileAll(const std::string& reason) {
    std::lock_guard lock(mutex_);
    int changed = 0;
    try {
        auto players = db_.read([](DbConn& c) { return repo::listPlayers(c); });
        auto snap = loadSnapshot();
        for (const auto& p : players) {
            if (p.state != PlayerState::Enrolled) continue;
            auto before = db_.read([&](DbConn& c) { return repo::maxManifestVersion(c, p.id); });
            auto r = compileLocked(*snap, p);
            if (!r) {
                log_.error("player %s: compilation failed (%s): %s", p.id, reason, r.error().str());
                continue;
            }
            if (r->version != before) ++changed;
        }
    } catch (const std::exception& e) {
        log_.error("recompilation after '%s' failed: %s", reason, std::string(e.what()));
    }
    if (changed) log_.information("%d player(s) got a new manifest after: %s", changed, reason);
    return changed;
}

}  // namespace microscape::controller
