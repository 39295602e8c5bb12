// The store's functions over domain data (users, media, fleet, plans, audit
// log, ...), defined by concern in controller/src/store/ (accounts.cpp,
// audit_log.cpp, media.cpp, fleet.cpp, plans.cpp, manifests.cpp), which holds
// every SQL statement of the controller. Functions take a DbConn borrowed
// inside Db::read/write, so callers compose several of them (and the audit
// record) into one transaction. Thread-safety is that of the DbConn (one thread
// at a time, enforced by Db).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "microscape/controller/db.hpp"
#include "microscape/controller/model.hpp"
#include "microscape/core/audit.hpp"

namespace microscape::controller::repo {

// --- edits ---------------------------------------------------------------------------
// The rows an edit reads whole, merges a request into and writes back.
enum class Editable { User, Location, Media, Playlist, Campaign, Schedule, Observance };
// PostgreSQL: takes the row's lock to the end of the transaction (SELECT ...
// FOR UPDATE) before the edit reads it, so the read comes after every other
// edit of the row has committed (at READ COMMITTED two edits would read the
// same row and the later commit would write back the fields the other had
// just changed: a disabled account enabled again). SQLite: nothing (one writer).
void lockForEdit(DbConn& c, Editable what, std::int64_t id);
void lockPlayerForEdit(DbConn& c, const std::string& playerId);

// --- users, sessions, API tokens ------------------------------------------------
std::int64_t insertUser(DbConn& c, const User& u, const std::string& passwordHash, std::int64_t nowMs);
std::optional<User> userById(DbConn& c, std::int64_t id);
std::optional<User> userByName(DbConn& c, const std::string& username);
std::optional<std::string> passwordHashOf(DbConn& c, std::int64_t userId);
std::vector<User> listUsers(DbConn& c);
void updateUser(DbConn& c, const User& u, std::int64_t nowMs);
void setPassword(DbConn& c, std::int64_t userId, const std::string& passwordHash, std::int64_t nowMs);
std::int64_t countUsers(DbConn& c);

void insertSession(DbConn& c, const std::string& tokenHash, std::int64_t userId, const std::string& csrf,
                   std::int64_t nowMs, std::int64_t expiresAtMs);
struct SessionRow {
    std::int64_t userId = 0;
    std::string csrf;
    std::int64_t expiresAtMs = 0;  // absolute lifetime
    std::int64_t createdAtMs = 0;
    std::int64_t lastSeenAtMs = 0;  // for the idle timeout
};
std::optional<SessionRow> sessionByHash(DbConn& c, const std::string& tokenHash);
void touchSession(DbConn& c, const std::string& tokenHash, std::int64_t nowMs);
void purgeIdleSessions(DbConn& c, std::int64_t lastSeenBeforeMs);
void deleteSession(DbConn& c, const std::string& tokenHash);
void deleteSessionsOf(DbConn& c, std::int64_t userId);
// Ends every session of the user but the one given (a password change keeps the caller's).
void deleteOtherSessionsOf(DbConn& c, std::int64_t userId, const std::string& keepTokenHash);

struct ApiTokenRow {
    std::int64_t id = 0;
    std::int64_t userId = 0;
    std::string name;
    std::int64_t createdAtMs = 0;
    std::optional<std::int64_t> lastUsedAtMs;
    std::optional<std::int64_t> revokedAtMs;
};
std::int64_t insertApiToken(DbConn& c, std::int64_t userId, const std::string& name, const std::string& tokenHash,
                            std::int64_t nowMs);
std::optional<ApiTokenRow> apiTokenByHash(DbConn& c, const std::string& tokenHash);
std::optional<ApiTokenRow> apiTokenById(DbConn& c, std::int64_t id);
std::vector<ApiTokenRow> listApiTokens(DbConn& c, std::optional<std::int64_t> userId);
void revokeApiToken(DbConn& c, std::int64_t id, std::int64_t nowMs);
void touchApiToken(DbConn& c, std::int64_t id, std::int64_t nowMs);
void revokeApiTokensOf(DbConn& c, std::int64_t userId, std::int64_t nowMs);

// --- audit -------------------------------------------------------------------------
void audit(DbConn& c, const Actor& who, const std::string& action, const std::string& entity,
           const std::string& entityId, const std::string& beforeJson, const std::string& afterJson,
           std::int64_t nowMs);
std::int64_t countAudit(DbConn& c, const std::string& action, const std::string& entityId, std::int64_t sinceMs);
// Chains the rows written before the audit log was hash-chained (hash NULL), in
// id order after the last chained row; returns how many. Run at start-up.
std::int64_t chainAuditLog(DbConn& c);
// An audit_log row read as "SELECT seq, prev_hash, hash, at, actor_id, actor,
// action, entity, entity_id, before_json, after_json".
std::optional<audit::AuditRow> auditRowOf(const DbRow& row);
std::vector<AuditEntry> listAudit(DbConn& c, std::int64_t beforeId, int limit, const std::string& entity);

// --- tags ----------------------------------------------------------------------------
std::vector<std::pair<std::string, bool>> listTags(DbConn& c);  // (name, seeded)
void ensureTags(DbConn& c, const std::vector<std::string>& tags);

// --- media ---------------------------------------------------------------------------
std::int64_t insertMedia(DbConn& c, const Media& m);
// insertMedia unless a row with the same content exists (committed, or by a
// transaction this one waited for): its id, or nullopt when the content was taken.
std::optional<std::int64_t> insertMediaIfNew(DbConn& c, const Media& m);
std::optional<Media> mediaById(DbConn& c, std::int64_t id);
std::optional<Media> mediaBySha(DbConn& c, const std::string& sha256);
struct MediaFilter {
    std::optional<MediaState> state;
    std::string kind, tag, department;
};
std::vector<Media> listMedia(DbConn& c, const MediaFilter& f);
// The editable details: name, department, validUntil, duration, size, tags and
// updatedAt; never the state or review (changeMediaState), so that an edit
// made from an older read cannot undo a concurrent decision.
void updateMedia(DbConn& c, const Media& m);
// The state and review of m (and updatedAt) when the row is still in state
// `from`; false when another transaction changed its state first (the caller
// decided on a stale read: on PostgreSQL it throws RetryableError to decide again).
bool changeMediaState(DbConn& c, const Media& m, MediaState from);
void deleteMedia(DbConn& c, std::int64_t id);  // and its derived files' rows
// Derived files (normalised stills, renditions).
std::int64_t insertDerived(DbConn& c, const MediaDerived& d);
void updateDerived(DbConn& c, const MediaDerived& d);
std::vector<MediaDerived> derivedOf(DbConn& c, std::int64_t mediaId);
std::vector<MediaDerived> listDerived(DbConn& c);  // every row, by id
std::optional<MediaDerived> derivedById(DbConn& c, std::int64_t id);
// Asks for a rendition of a clip for a screen size; true when a new request was made.
bool requestRendition(DbConn& c, std::int64_t mediaId, std::int64_t boxWidth, std::int64_t boxHeight,
                      std::int64_t nowMs);
// Renditions left working (the controller stopped while making them) made pending again.
void requeueWorkingRenditions(DbConn& c);
// The oldest pending rendition, marked working.
std::optional<MediaDerived> takePendingRendition(DbConn& c, std::int64_t nowMs);
// Whether any media or derived row still names this content (before removing a blob).
bool contentInUse(DbConn& c, const std::string& sha256);
// Approved media whose validUntil has passed (to recall), oldest first.
std::vector<std::int64_t> expiredMediaIds(DbConn& c, std::int64_t nowMs);

// --- recalls ----------------------------------------------------------------------------------
std::int64_t insertRecall(DbConn& c, const Recall& r);
std::optional<Recall> recallById(DbConn& c, std::int64_t id);
std::optional<Recall> recallOfMedia(DbConn& c, std::int64_t mediaId);  // the latest
std::vector<Recall> listRecalls(DbConn& c);                            // newest first
std::vector<Recall> openRecalls(DbConn& c);
// Marks an open recall complete; false when another transaction already did
// (two nodes settling the same recall at once: only the winner audits it).
bool completeRecall(DbConn& c, std::int64_t id, std::int64_t atMs);
void insertRecallScreen(DbConn& c, const RecallScreen& s);
std::vector<RecallScreen> recallScreens(DbConn& c, std::int64_t recallId);
// The open recalls' screens of one player not yet confirmed at a version <= `version`.
std::vector<RecallScreen> unconfirmedRecallScreens(DbConn& c, const std::string& playerId, std::int64_t version);
// The recall's screens still enrolled that have not confirmed.
std::int64_t unconfirmedRecallCount(DbConn& c, std::int64_t recallId);
// False when the screen had already confirmed (a concurrent status report won).
bool confirmRecallScreen(DbConn& c, std::int64_t recallId, const std::string& playerId, std::int64_t atMs);
// Players any of whose compiled manifests lists the media, or that played it.
std::vector<std::string> playersThatHadMedia(DbConn& c, const std::string& sha256);
// A player's newest compiled manifest: its version, the SHA-256 of its bytes and
// whether it lists a media item.
struct ManifestRef {
    std::int64_t version = 0;
    std::string sha256;
    bool listsMedia = false;
};
std::optional<ManifestRef> latestManifest(DbConn& c, const std::string& playerId, const std::string& mediaSha256);
// Plays of a media item by one player: the last start, and those starting after an instant.
struct PlaysOf {
    std::optional<std::int64_t> lastStartMs;
    std::int64_t after = 0;                     // plays starting after `afterMs`
    std::optional<std::int64_t> firstAfterSeq;  // the first of them (seq)
    std::optional<std::int64_t> firstAfterStartMs;
};
PlaysOf playsOf(DbConn& c, const std::string& playerId, const std::string& sha256, std::optional<std::int64_t> afterMs);
// A player's last play of a media item when it failed (its start and the
// player's reason), with the failures of that media since `sinceMs`; none when
// its last play did not fail.
struct LastFailure {
    std::int64_t startMs = 0;
    std::string reason;
    std::int64_t failuresSince = 0;
    std::int64_t bundleVersion = 0;  // of the manifest the failed play came from
};
std::optional<LastFailure> lastFailure(DbConn& c, const std::string& playerId, const std::string& sha256,
                                       std::int64_t sinceMs);
// A player's last play of a media item when it was degraded (it ran its slot
// but froze or lost frames: docs/proof-of-play.md "Frames"): its start and the
// frame counts of its record; none when its last play was not degraded.
struct LastDegraded {
    std::int64_t startMs = 0;
    std::int64_t frames = 0, framesLate = 0, framesDropped = 0, longestFreezeMs = 0;
};
std::optional<LastDegraded> lastDegraded(DbConn& c, const std::string& playerId, const std::string& sha256);

// --- locations ------------------------------------------------------------------------
std::int64_t insertLocation(DbConn& c, const Location& l);
std::optional<Location> locationById(DbConn& c, std::int64_t id);
std::vector<Location> listLocations(DbConn& c);
void updateLocation(DbConn& c, const Location& l);
void deleteLocation(DbConn& c, std::int64_t id);

// --- enrolment and players ----------------------------------------------------------------
std::int64_t insertEnrollToken(DbConn& c, const EnrollToken& t, const std::string& tokenHash);
std::optional<EnrollToken> enrollTokenByHash(DbConn& c, const std::string& tokenHash);
std::vector<EnrollToken> listEnrollTokens(DbConn& c);
// Marks the token used; returns false if it was used concurrently.
bool consumeEnrollToken(DbConn& c, std::int64_t id, const std::string& playerId, std::int64_t nowMs);

void insertPlayer(DbConn& c, const Player& p, std::optional<std::int64_t> enrollTokenId);
std::optional<Player> playerById(DbConn& c, const std::string& id);
std::optional<Player> playerByCurveKey(DbConn& c, const std::string& curveKey);
std::vector<Player> listPlayers(DbConn& c);
// What an admin edits (name, location, size, orientation, state, updatedAt);
// never the liveness the hub keeps (notePlayerSeen).
void updatePlayer(DbConn& c, const Player& p);
// The hub's bookkeeping in one statement: last seen (only ever forward) and,
// when statusJson is not empty, the latest STATUS; nothing else of the row.
// False when no such player.
bool notePlayerSeen(DbConn& c, const std::string& id, std::int64_t lastSeenMs, const std::string& statusJson);

// --- playlists -------------------------------------------------------------------------------
std::int64_t insertPlaylist(DbConn& c, const Playlist& p);
std::optional<Playlist> playlistById(DbConn& c, std::int64_t id);
std::vector<Playlist> listPlaylists(DbConn& c);
void updatePlaylist(DbConn& c, const Playlist& p);  // replaces items
void deletePlaylist(DbConn& c, std::int64_t id);

// --- campaigns, schedules, takeovers ------------------------------------------------------
std::int64_t insertCampaign(DbConn& c, const Campaign& x);
std::optional<Campaign> campaignById(DbConn& c, std::int64_t id);
std::vector<Campaign> listCampaigns(DbConn& c);
void updateCampaign(DbConn& c, const Campaign& x);
void deleteCampaign(DbConn& c, std::int64_t id);

std::int64_t insertSchedule(DbConn& c, const Schedule& s);
std::optional<Schedule> scheduleById(DbConn& c, std::int64_t id);
std::vector<Schedule> listSchedules(DbConn& c);
void updateSchedule(DbConn& c, const Schedule& s);
void deleteSchedule(DbConn& c, std::int64_t id);

std::int64_t insertTakeover(DbConn& c, const Takeover& t);
std::optional<Takeover> takeoverById(DbConn& c, std::int64_t id);
std::vector<Takeover> listTakeovers(DbConn& c);
// False when the takeover was already cancelled (by a concurrent request).
bool cancelTakeover(DbConn& c, std::int64_t id, std::int64_t nowMs);
// Name, playlist, target and expiry of a takeover not cancelled; false when it
// was cancelled meanwhile.
bool updateTakeover(DbConn& c, const Takeover& t);

// --- observances (legal-education days campaigns are planned around) --------------------------
struct Observance {
    std::int64_t id = 0;
    std::string name;
    std::int64_t month = 1, day = 1;
    std::string theme;
    std::int64_t daysBefore = 3, daysAfter = 3;
    std::int64_t createdAtMs = 0, updatedAtMs = 0;
};
std::int64_t insertObservance(DbConn& c, const Observance& o);
std::optional<Observance> observanceById(DbConn& c, std::int64_t id);
std::vector<Observance> listObservances(DbConn& c);     // by month, day, name
void updateObservance(DbConn& c, const Observance& o);  // all but createdAt
void deleteObservance(DbConn& c, std::int64_t id);

// --- CAP alerts (docs/controller-api.md "Alerts") --------------------------------------------
std::int64_t insertAlert(DbConn& c, const AlertRecord& a);
std::optional<AlertRecord> alertById(DbConn& c, std::int64_t id);
// The message (sender, identifier, sent) names, if it was taken.
std::optional<AlertRecord> alertByKey(DbConn& c, const std::string& sender, const std::string& identifier,
                                      const std::string& sent);
std::vector<AlertRecord> listAlerts(DbConn& c, int limit);  // newest first

// --- mirrors ----------------------------------------------------------------------------------
// The fleet's and each district's mirror base URLs (a location's are in Location::mirrors).
struct MirrorSettings {
    std::vector<std::string> fleet;
    std::map<std::string, std::vector<std::string>> districts;  // only districts that have some
};
MirrorSettings mirrorSettings(DbConn& c);
void setMirrorSettings(DbConn& c, const MirrorSettings& m);  // replaces all
// Whether any manifest ever compiled names media sha256.
bool mediaInAnyManifest(DbConn& c, const std::string& sha256);

// --- compiled manifests (store/manifests.cpp) ---------------------------------------------------
struct StoredManifest {
    std::int64_t version = 0;
    std::string contentHash;
    std::string manifest;      // the signed bytes
    std::string signatureB64;  // base64 of the Ed25519 signature
    std::int64_t createdAtMs = 0;
};
// PostgreSQL: waits for the screen's compile lock (pg_advisory_xact_lock(key),
// held to the end of the transaction); SQLite: nothing (one writer at a time).
void lockForCompile(DbConn& c, std::int64_t key);
// The newest version of a screen's manifests and its content hash.
std::optional<std::pair<std::int64_t, std::string>> newestManifestKey(DbConn& c, const std::string& playerId);
std::optional<StoredManifest> newestManifest(DbConn& c, const std::string& playerId);
std::optional<StoredManifest> manifestAt(DbConn& c, const std::string& playerId, std::int64_t version);
// Many screens' manifests at the given versions, in few statements (those
// stored; in no particular order, each pair once).
std::vector<std::pair<std::string, StoredManifest>> manifestsAt(
    DbConn& c, const std::vector<std::pair<std::string, std::int64_t>>& wanted);
void insertManifest(DbConn& c, const std::string& playerId, const StoredManifest& m, const std::string& sha256);
// The newest version of a screen's manifests; 0 when none.
std::int64_t maxManifestVersion(DbConn& c, const std::string& playerId);
// Every screen's newest manifest version, by screen.
std::vector<std::pair<std::string, std::int64_t>> newestManifestVersions(DbConn& c);

// --- settings ---------------------------------------------------------------------------------
std::optional<std::string> setting(DbConn& c, const std::string& key);
void setSetting(DbConn& c, const std::string& key, const std::string& value);
void deleteSetting(DbConn& c, const std::string& key);

}  // namespace microscape::controller::repo
