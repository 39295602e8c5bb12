// The auditor's evidence export (docs/audit-export.md) built from the store:
// every selected player's whole chain and checkpoints, the enrolled keys with who
// enrolled them, media names, all signed with the controller's content key by
// audit::writeExport. Thread-safety: reads through Db (serialised); the sink is
// the caller's.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "microscape/controller/db.hpp"
#include "microscape/core/audit.hpp"
#include "microscape/core/crypto.hpp"
#include "microscape/core/tar.hpp"

namespace microscape::controller {

struct ExportRequest {
    std::int64_t fromMs = 0;           // counted period [from, to), UTC
    std::int64_t toMs = 0;
    std::vector<std::string> players;  // empty: every player
    std::int64_t nowMs = 0;
    std::string exportId;
};

// Loads the evidence into the export model (for the writer and for tests).
// Errors: NotFound (a requested player is unknown), Internal (stored evidence
// unreadable).
struct ExportData {
    audit::ExportManifest manifest;
    std::vector<audit::PlayerEntry> players;
    std::vector<audit::MediaName> media;
    std::map<std::string, audit::PlayerEvidence> evidence;
    std::size_t records = 0;
};
Result<ExportData> loadExport(Db& db, const ExportRequest& req);

// Loads and writes the export tar to sink. Errors: those of loadExport, Io.
Status writeAuditExport(Db& db, const ExportRequest& req, const crypto::PrivateKey& controllerKey,
                        tar::ByteSink& sink);

}  // namespace microscape::controller
