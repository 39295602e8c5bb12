// The auditor's evidence export (docs/audit-export.md), streamed from the store:
// every selected player's whole chain and checkpoints, exactly as the players
// signed them, the enrolled keys with who enrolled them and media names, listed
// with their hashes in export.json and signed with the controller's content key.
// Memory is bounded by one page of rows whatever the number of records: a first
// pass hashes and sizes each player's files (export.json, written first, lists
// them), a second pass writes them. Both passes read a snapshot of the
// append-only evidence (rows up to the rowids seen when the plan was made), a
// page at a time, so ingest goes on while an export streams.
// Thread-safety: reads through Db (serialised per page); the sink is the caller's.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "microscape/controller/db.hpp"
#include "microscape/core/audit.hpp"
#include "microscape/core/crypto.hpp"
#include "microscape/core/tar.hpp"

namespace microscape::controller {

struct ExportRequest {
    std::int64_t fromMs = 0;  // counted period [from, to), UTC
    std::int64_t toMs = 0;
    std::vector<std::string> players;  // empty: every player
    std::int64_t nowMs = 0;
    std::string exportId;
};

// What an export will hold, hashed (the first pass).
struct ExportPlan {
    audit::ExportManifest manifest;                // files listed, not yet signed
    std::string keysJson;                          // keys.json bytes
    std::string mediaJson;                         // media.json bytes
    std::vector<std::string> playersWithEvidence;  // every listed player, in file order
    // The compiled manifest versions in each player's manifests.jsonl (format 4).
    std::map<std::string, std::vector<std::int64_t>> manifestVersions;
    struct Snapshot {
        std::int64_t maxRecordSeq = 0;  // a player's records up to this seq
        std::int64_t maxCheckpointSeq = 0;
    };
    std::map<std::string, Snapshot> snapshot;  // by player: what the export holds
    std::uint64_t records = 0;
    std::uint64_t totalBytes = 0;  // of all files listed (without tar overhead)
};

// Rows read per page (and per Db lock).
constexpr int kExportPageRows = 2000;

// The first pass. Errors: NotFound (a requested player is unknown), Internal
// (stored evidence unreadable).
Result<ExportPlan> planExport(Db& db, const ExportRequest& req);

// The second pass: writes the tar (export.json, export.sig, keys.json,
// media.json, audit.jsonl, then each player's manifests, records and
// checkpoints) to sink. Errors: Io
// (the sink failed), Internal (the store changed under the snapshot, or failed;
// the tar is then incomplete and must be discarded).
Status streamExport(Db& db, const ExportPlan& plan, const crypto::PrivateKey& controllerKey, tar::ByteSink& sink);

// Both passes.
Status writeAuditExport(Db& db, const ExportRequest& req, const crypto::PrivateKey& controllerKey, tar::ByteSink& sink);

}  // namespace microscape::controller
