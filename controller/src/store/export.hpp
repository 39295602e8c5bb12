// The store's side of the evidence export (audit_export.cpp, docs/audit-export.md):
// the players, media, manifests, evidence lines and audit log rows an export
// carries, read page by page. Thread-safety: functions take a connection
// borrowed inside Db::read, one thread at a time.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "microscape/controller/db.hpp"
#include "microscape/core/audit.hpp"

namespace microscape::controller::evidence {

// One page of a player's records (records) or checkpoints, in seq order: the
// lines with seq in (afterSeq, maxSeq], at most limit; each(seq, line).
void evidencePage(DbConn& c, bool records, const std::string& playerId, std::int64_t afterSeq, std::int64_t maxSeq,
                  std::int64_t limit, const std::function<void(std::int64_t seq, std::string line)>& each);
// One page of the audit log: rows with seq in (afterSeq, maxSeq], at most limit.
std::vector<audit::AuditRow> auditPage(DbConn& c, std::int64_t afterSeq, std::int64_t maxSeq, std::int64_t limit);
// The audit log's last chained row: (seq, hash).
std::optional<std::pair<std::int64_t, std::string>> auditHead(DbConn& c);

// A player as its export lists it (keys.json).
struct ExportPlayer {
    std::string id, identityKeyPem;
    std::int64_t enrolledAtMs = 0;
    std::string enrolledBy;  // the username that made its enrolment token; "" when unknown
    std::string locationId, locationName, venueType, district, timeZone;
};
std::vector<ExportPlayer> exportPlayers(DbConn& c);  // by id
// Every media item (sha256, display name, kind), by sha256.
std::vector<audit::MediaName> mediaNames(DbConn& c);
// Every ready derived file with the original it stands for, by sha256.
std::vector<audit::MediaName> derivedNames(DbConn& c);

// A player's highest stored record and checkpoint seq (0: none).
std::int64_t maxRecordSeq(DbConn& c, const std::string& playerId);
std::int64_t maxCheckpointSeq(DbConn& c, const std::string& playerId);

// The manifests (by hash) the player's plays starting in [fromMs, toMs) name,
// among its records up to maxSeq.
std::set<std::string> manifestsNamedByPlays(DbConn& c, const std::string& playerId, std::int64_t maxSeq,
                                            std::int64_t fromMs, std::int64_t toMs);
// The manifest (hash) the player's last record up to maxSeq naming one names.
std::optional<std::string> lastManifestNamed(DbConn& c, const std::string& playerId, std::int64_t maxSeq);
// The versions of the player's manifests with these hashes (those found).
std::map<std::string, std::int64_t> manifestVersionsByHash(DbConn& c, const std::string& playerId,
                                                           const std::set<std::string>& sha256s);
// The player's manifests compiled before their hash was stored: each(version, bytes).
void manifestsWithoutHash(DbConn& c, const std::string& playerId,
                          const std::function<void(std::int64_t version, const std::string& manifest)>& each);
// The versions the player's recall screens confirmed (with duplicates removed).
std::vector<std::int64_t> recallConfirmedVersions(DbConn& c, const std::string& playerId);
// The bytes of one of the player's manifests.
std::optional<std::string> manifestBytes(DbConn& c, const std::string& playerId, std::int64_t version);

}  // namespace microscape::controller::evidence
