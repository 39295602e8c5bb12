#include "store/rollups.hpp"

#include <charconv>
#include <climits>
#include <tuple>

#include "microscape/core/manifest.hpp"
#include "microscape/core/time.hpp"

namespace microscape::controller {

const tz::Zone* ZoneCache::get(const std::string& name) {
    auto it = zones_.find(name);
    if (it != zones_.end()) return it->second.get();
    std::unique_ptr<tz::Zone> z;
    if (auto bytes = tz::loadZoneFile(name, dir_))
        if (auto parsed = tz::parseTzif(*bytes)) z = std::make_unique<tz::Zone>(std::move(*parsed));
    return zones_.emplace(name, std::move(z)).first->second.get();
}

LocalTime localTimeOf(const tz::Zone* zone, std::int64_t utcMs) {
    const std::int64_t offsetS = zone ? tz::utcOffsetAt(*zone, utcMs) : 8 * 3600;
    const std::int64_t local = utcMs + offsetS * 1000;
    const std::int64_t day = local >= 0 ? local / 86400000 : (local - 86399999) / 86400000;
    LocalTime t;
    t.date = timeutil::formatDate(timeutil::civilFromDays(day));
    t.hour = static_cast<int>((local - day * 86400000) / 3600000);
    return t;
}

namespace {

struct Sums {
    std::int64_t completed = 0, interrupted = 0, failed = 0, onScreenMs = 0, degraded = 0;
    void add(const pop::Record& r) {
        switch (r.outcome) {
            case pop::Outcome::Completed:
                ++completed;
                onScreenMs += r.measuredMs;
                break;
            case pop::Outcome::Degraded:
                ++degraded;
                onScreenMs += r.measuredMs;
                break;
            case pop::Outcome::Interrupted:
                ++interrupted;
                onScreenMs += r.measuredMs;
                break;
            case pop::Outcome::Failed:
                ++failed;
                break;
            case pop::Outcome::None:
                break;
        }
    }
    void add(const Sums& o) {
        completed += o.completed;
        interrupted += o.interrupted;
        failed += o.failed;
        onScreenMs += o.onScreenMs;
        degraded += o.degraded;
    }
};

constexpr const char* kUpsertMedia =
    "INSERT INTO pop_rollup_media(player_id, local_date, media, playlist, campaign, completed, interrupted, failed, "
    "on_screen_ms, degraded) VALUES (?,?,?,?,?,?,?,?,?,?) ON CONFLICT(player_id, local_date, media, playlist, "
    "campaign) DO UPDATE "
    "SET completed = pop_rollup_media.completed + excluded.completed, interrupted = pop_rollup_media.interrupted + "
    "excluded.interrupted, "
    "failed = pop_rollup_media.failed + excluded.failed, on_screen_ms = pop_rollup_media.on_screen_ms + "
    "excluded.on_screen_ms, degraded = pop_rollup_media.degraded + excluded.degraded";
constexpr const char* kUpsertHour =
    "INSERT INTO pop_rollup_hour(player_id, local_date, hour, completed, interrupted, failed, on_screen_ms, degraded) "
    "VALUES (?,?,?,?,?,?,?,?) ON CONFLICT(player_id, local_date, hour) DO UPDATE "
    "SET completed = pop_rollup_hour.completed + excluded.completed, interrupted = pop_rollup_hour.interrupted + "
    "excluded.interrupted, "
    "failed = pop_rollup_hour.failed + excluded.failed, on_screen_ms = pop_rollup_hour.on_screen_ms + "
    "excluded.on_screen_ms, degraded = pop_rollup_hour.degraded + excluded.degraded";
constexpr const char* kUpsertLocation =
    "INSERT INTO pop_rollup_location(location_id, local_date, media, completed, interrupted, failed, on_screen_ms, "
    "degraded) VALUES (?,?,?,?,?,?,?,?) ON CONFLICT(location_id, local_date, media) DO UPDATE "
    "SET completed = pop_rollup_location.completed + excluded.completed, interrupted = pop_rollup_location.interrupted "
    "+ excluded.interrupted, "
    "failed = pop_rollup_location.failed + excluded.failed, on_screen_ms = pop_rollup_location.on_screen_ms + "
    "excluded.on_screen_ms, degraded = pop_rollup_location.degraded + excluded.degraded";
constexpr const char* kUpsertCampaign =
    "INSERT INTO pop_rollup_campaign(campaign, location_id, local_date, completed, interrupted, failed, on_screen_ms, "
    "degraded) VALUES (?,?,?,?,?,?,?,?) ON CONFLICT(campaign, location_id, local_date) DO UPDATE "
    "SET completed = pop_rollup_campaign.completed + excluded.completed, interrupted = pop_rollup_campaign.interrupted "
    "+ excluded.interrupted, "
    "failed = pop_rollup_campaign.failed + excluded.failed, on_screen_ms = pop_rollup_campaign.on_screen_ms + "
    "excluded.on_screen_ms, degraded = pop_rollup_campaign.degraded + excluded.degraded";

// Rollup deltas of many records, written with one statement per distinct key.
struct Deltas {
    std::map<std::tuple<std::string, std::string, std::string, std::string, std::string>, Sums> media;
    std::map<std::tuple<std::string, std::string, int>, Sums> hour;
    std::map<std::tuple<std::string, std::int64_t, std::string>, Sums> campaign;
    std::map<std::tuple<std::int64_t, std::string, std::string>, Sums> location;

    void add(const std::string& playerId, const PlayerPlace& place, const tz::Zone* zone, const pop::Record& r) {
        if (r.kind != pop::Kind::Play) return;
        auto t = localTimeOf(zone, r.startUtcMs);
        Sums one;
        one.add(r);
        add(playerId, place, t, r.mediaSha256, r.playlistId, r.campaignId, one);
    }
    void add(const std::string& playerId, const PlayerPlace& place, const LocalTime& t, std::string_view mediaSha,
             std::string_view playlist, std::string_view campaignId, const Sums& s) {
        media[{playerId, t.date, std::string(mediaSha), std::string(playlist), std::string(campaignId)}].add(s);
        hour[{playerId, t.date, t.hour}].add(s);
        campaign[{std::string(campaignId), place.locationId, t.date}].add(s);
        location[{place.locationId, t.date, std::string(mediaSha)}].add(s);
    }

    void write(DbConn& db) {
        RollupStatements st(db);
        write(st);
    }
    void write(RollupStatements& st) {
        SqlStmt &m = st.media, &h = st.hour, &c = st.campaign, &l = st.location;
        auto sums = [](SqlStmt& st, int i, const Sums& s) {
            st.bind(i, s.completed).bind(i + 1, s.interrupted).bind(i + 2, s.failed).bind(i + 3, s.onScreenMs);
            st.bind(i + 4, s.degraded);
        };
        for (const auto& [k, s] : media) {
            m.bind(1, std::get<0>(k))
                .bind(2, std::get<1>(k))
                .bind(3, std::get<2>(k))
                .bind(4, std::get<3>(k))
                .bind(5, std::get<4>(k));
            sums(m, 6, s);
            m.run();
        }
        for (const auto& [k, s] : hour) {
            h.bind(1, std::get<0>(k)).bind(2, std::get<1>(k)).bind(3, static_cast<std::int64_t>(std::get<2>(k)));
            sums(h, 4, s);
            h.run();
        }
        for (const auto& [k, s] : campaign) {
            c.bind(1, std::get<0>(k)).bind(2, std::get<1>(k)).bind(3, std::get<2>(k));
            sums(c, 4, s);
            c.run();
        }
        for (const auto& [k, s] : location) {
            l.bind(1, std::get<0>(k)).bind(2, std::get<1>(k)).bind(3, std::get<2>(k));
            sums(l, 4, s);
            l.run();
        }
    }
};

}  // namespace

RollupStatements::RollupStatements(DbConn& db)
    : media(db, kUpsertMedia), hour(db, kUpsertHour), campaign(db, kUpsertCampaign), location(db, kUpsertLocation) {}

void addToRollups(RollupStatements& statements, ZoneCache& zones, const std::string& playerId, const PlayerPlace& place,
                  std::span<const pop::Record> records) {
    // One player's batch: first summed by local hour and the record's own fields
    // (views into the records, nothing copied per record), then spread over the
    // rollup keys, so each table gets one upsert per key.
    const tz::Zone* zone = zones.get(place.zone);
    using Key = std::tuple<std::int64_t, std::string_view, std::string_view, std::string_view>;  // local hour
    std::map<Key, Sums> byHour;
    for (const auto& r : records) {
        if (r.kind != pop::Kind::Play) continue;
        const std::int64_t offsetS = zone ? tz::utcOffsetAt(*zone, r.startUtcMs) : 8 * 3600;
        const std::int64_t local = r.startUtcMs + offsetS * 1000;
        const std::int64_t localHour = local >= 0 ? local / 3600000 : (local - 3599999) / 3600000;
        byHour[{localHour, r.mediaSha256, r.playlistId, r.campaignId}].add(r);
    }
    Deltas d;
    std::int64_t day = INT64_MIN;
    LocalTime t;
    for (const auto& [k, sums] : byHour) {
        const std::int64_t localHour = std::get<0>(k);
        const std::int64_t thisDay = localHour >= 0 ? localHour / 24 : (localHour - 23) / 24;
        if (thisDay != day) {
            day = thisDay;
            t.date = timeutil::formatDate(timeutil::civilFromDays(day));
        }
        t.hour = static_cast<int>(localHour - day * 24);
        d.add(playerId, place, t, std::get<1>(k), std::get<2>(k), std::get<3>(k), sums);
    }
    d.write(statements);
}

void addToRollups(RollupStatements& statements, ZoneCache& zones, const std::string& playerId,
                  std::span<const pop::Record> records, const std::function<PlayerPlace(const pop::Record&)>& placeOf) {
    std::size_t from = 0;
    PlayerPlace place;
    for (std::size_t i = 0; i < records.size(); ++i) {
        PlayerPlace here = placeOf(records[i]);
        if (i > from && here != place) {
            addToRollups(statements, zones, playerId, place, records.subspan(from, i - from));
            from = i;
        }
        place = std::move(here);
    }
    if (from < records.size()) addToRollups(statements, zones, playerId, place, records.subspan(from));
}

PlayerPlace ManifestPlaces::of(DbConn& db, const std::string& playerId, const pop::Record& r,
                               const PlayerPlace& fallback) {
    if (r.manifestSha256.empty()) return fallback;
    auto [it, fresh] = cache_.try_emplace({playerId, r.manifestSha256});
    if (fresh) {
        SqlStmt st(db, "SELECT manifest FROM compiled_manifests WHERE player_id = ? AND sha256 = ?");
        st.bind(1, playerId).bind(2, r.manifestSha256);
        if (st.step())
            if (auto m = manifest::parse(st.str(0)); m && m->location) {
                PlayerPlace p;
                p.zone = m->location->timeZone;
                const std::string& id = m->location->id;
                std::int64_t n = 0;
                if (std::from_chars(id.data(), id.data() + id.size(), n).ec == std::errc{}) p.locationId = n;
                it->second = p;
            }
    }
    return it->second.value_or(fallback);
}

std::map<std::string, PlayerPlace> playerPlaces(DbConn& db) {
    std::map<std::string, PlayerPlace> out;
    SqlStmt st(db,
               "SELECT p.id, COALESCE(p.location_id, 0), COALESCE(NULLIF(l.timezone, ''), 'Asia/Shanghai') "
               "FROM players p LEFT JOIN locations l ON l.id = p.location_id");
    while (st.step()) out[st.str(0)] = PlayerPlace{st.i64(1), st.str(2)};
    return out;
}

std::int64_t rebuildRollups(DbConn& db, ZoneCache& zones) {
    for (const char* t : {"pop_rollup_media", "pop_rollup_hour", "pop_rollup_campaign", "pop_rollup_location"}) {
        SqlStmt del(db, std::string("DELETE FROM ") + t);
        del.run();
    }
    auto places = playerPlaces(db);
    ManifestPlaces byManifest;
    SqlStmt st(db,
               "SELECT player_id, media, playlist, campaign, start_utc_ms, measured_ms, outcome, manifest "
               "FROM pop_records WHERE kind = 'play' ORDER BY player_id");
    Deltas d;
    std::int64_t n = 0;
    std::string current;
    const PlayerPlace* place = nullptr;
    const tz::Zone* zone = nullptr;
    static const PlayerPlace kNowhere;
    while (st.step()) {
        std::string pid = st.str(0);
        if (!place || pid != current) {
            current = pid;
            auto it = places.find(pid);
            place = it != places.end() ? &it->second : &kNowhere;
            zone = zones.get(place->zone);
        }
        pop::Record r;
        r.kind = pop::Kind::Play;
        r.mediaSha256 = st.str(1);
        r.playlistId = st.str(2);
        r.campaignId = st.str(3);
        r.startUtcMs = st.i64(4);
        r.measuredMs = st.i64(5);
        r.outcome = pop::outcomeFromName(st.str(6)).value_or(pop::Outcome::None);
        r.manifestSha256 = st.str(7);
        if (r.manifestSha256.empty()) {
            d.add(pid, *place, zone, r);
        } else {
            const PlayerPlace at = byManifest.of(db, pid, r, *place);
            d.add(pid, at, zones.get(at.zone), r);
        }
        ++n;
        if (d.media.size() > 200000) {  // bound memory on large stores
            d.write(db);
            d = Deltas{};
        }
    }
    d.write(db);
    return n;
}

}  // namespace microscape::controller
