// Recall with proof (docs/reports.md, "Recalls"): approved media withdrawn from
// every screen at once, and the evidence that it is off each of them: the first
// manifest version a screen got without it, when the screen's STATUS confirmed
// that version, and its plays of the media (a play starting after the
// confirmation is a problem). Media with a validUntil recall themselves.
#pragma once

#include <Poco/JSON/Object.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "microscape/controller/db.hpp"
#include "microscape/controller/model.hpp"

namespace microscape::controller {

struct Services;

// Withdraws approved media everywhere (state rejected, with the reason),
// recompiles every manifest and records each screen that had the media with the
// first manifest version without it. Audit log: the media's "recall" and the
// recall's "create". Throws ApiError 404/409 (not approved, already recalled).
Recall recallMedia(Services& svc, std::int64_t mediaId, const std::string& reason, const Actor& who, bool automatic);

// recallMedia's last step, in the caller's transaction: the recall `rec` (its
// media already withdrawn and recompiled) and each screen that had the media
// with its first manifest version without it, audited ("create") and settled.
// Takes the media's row lock first (PostgreSQL), so that of two recalls of the
// same media at once the second sees the first: ApiError 409 already_recalled.
// Returns the recall's id.
std::int64_t openRecall(DbConn& c, Recall rec, const std::string& mediaName, const Actor& who, std::int64_t nowMs);

// Recalls every approved media item whose validUntil has passed; returns how many.
int recallExpiredMedia(Services& svc);

// The active_version of a STATUS as the hub stores it (players.status_json).
std::optional<std::int64_t> activeVersionOf(const std::string& statusJson);

// A player's STATUS said it plays `activeVersion` (received at `atMs`): confirms
// the open recalls of that player at or below that version (audit "confirm").
void noteActiveVersion(DbConn& c, const std::string& playerId, std::int64_t activeVersion, std::int64_t atMs);

// Completes (completed_at, audit "complete") each open recall whose enrolled
// screens have all confirmed, none with a play of the media after confirming.
void settleRecalls(DbConn& c, std::int64_t nowMs);

// The recall as GET /api/v1/media/{id}/recall gives it: per screen, its state
// (confirmed, pending, offline, retired), versions, last play and problems.
Poco::JSON::Object::Ptr recallStatusJson(DbConn& c, const Recall& r,
                                         const std::function<bool(const std::string&)>& isOnline);

}  // namespace microscape::controller
