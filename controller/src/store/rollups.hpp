// Report rollups of proof-of-play records (docs/reports.md): per player × local
// day × media × playlist × campaign, per player × local day × hour, and per
// campaign × location × local day; kept in the same transaction as the raw
// records and rebuildable from them.
// Thread-safety: functions take a connection borrowed inside Db::read/write.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "microscape/controller/db.hpp"
#include "microscape/core/pop.hpp"
#include "microscape/core/tz.hpp"
#include "store/sql_stmt.hpp"

namespace microscape::controller {

// Zones by IANA name, read from zoneinfoDir once. A zone that cannot be read
// falls back to UTC+8 (Asia/Shanghai) so that ingest never stops; the offline
// verifier reports an unknown zone as a failure.
class ZoneCache {
  public:
    explicit ZoneCache(std::string zoneinfoDir) : dir_(std::move(zoneinfoDir)) {}
    const tz::Zone* get(const std::string& name);

  private:
    std::string dir_;
    std::map<std::string, std::unique_ptr<tz::Zone>> zones_;  // nullptr: unreadable
};

struct LocalTime {
    std::string date;  // YYYY-MM-DD
    int hour = 0;      // 0..23
};
LocalTime localTimeOf(const tz::Zone* zone, std::int64_t utcMs);

// Where a player's plays are attributed: its location (0: none) and zone.
struct PlayerPlace {
    std::int64_t locationId = 0;
    std::string zone = "Asia/Shanghai";
    bool operator==(const PlayerPlace&) const = default;
};

// Where the manifest a play record names put the screen (record format 2,
// manifest format 2): the rollups count the play there, as the auditor's
// recount does (docs/audit-export.md, "Where each play was"), so that a screen
// moved while it still played under its old manifest is counted where it was.
// Cached by player and manifest hash; read through the connection given.
class ManifestPlaces {
  public:
    // The place a record's play counts at: its manifest's, else fallback (a
    // format 1 record, no manifest, a manifest without a location or unknown here).
    PlayerPlace of(DbConn& db, const std::string& playerId, const pop::Record& r, const PlayerPlace& fallback);
    void clear() { cache_.clear(); }

  private:
    std::map<std::pair<std::string, std::string>, std::optional<PlayerPlace>> cache_;
};

// The rollup upserts, prepared once on a connection and reused (they must be
// destroyed before the connection closes).
struct RollupStatements {
    explicit RollupStatements(DbConn& db);
    SqlStmt media, hour, campaign, location;
};

// Adds one player's play records to the rollup tables: summed in memory first,
// then one UPSERT per rollup key.
void addToRollups(RollupStatements& statements, ZoneCache& zones, const std::string& playerId, const PlayerPlace& place,
                  std::span<const pop::Record> records);
// The same, each run of records at the place placeOf gives it.
void addToRollups(RollupStatements& statements, ZoneCache& zones, const std::string& playerId,
                  std::span<const pop::Record> records, const std::function<PlayerPlace(const pop::Record&)>& placeOf);

// Deletes every rollup row and recomputes them from pop_records, each play at
// its manifest's place (else its player's current place). Returns the number
// of records read.
std::int64_t rebuildRollups(DbConn& db, ZoneCache& zones);

// The place of every player (location and its zone), by id.
std::map<std::string, PlayerPlace> playerPlaces(DbConn& db);

}  // namespace microscape::controller
