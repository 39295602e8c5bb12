// Plain records the repository layer reads and writes. Value types; not synchronised.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace microscape::controller {

// AlertFeed: an issuing system's account (CAP alerts, POST /api/v1/alerts and its
// own API tokens); it reaches nothing else.
enum class Role { Admin, Editor, Approver, Auditor, AlertFeed };
std::string_view roleName(Role r);
std::optional<Role> roleFromName(std::string_view name);

// Where a media item stands in review. Its names (draft, pending, approved,
// rejected) appear only at the edges: the database, JSON, messages and logs.
enum class MediaState { Draft, Pending, Approved, Rejected };
std::string_view mediaStateName(MediaState s);
std::optional<MediaState> mediaStateFromName(std::string_view name);

// A screen is enrolled (it may connect, gets bundles, its proofs are taken) or
// retired (refused everywhere). Names as for MediaState.
enum class PlayerState { Enrolled, Retired };
std::string_view playerStateName(PlayerState s);
std::optional<PlayerState> playerStateFromName(std::string_view name);

struct User {
    std::int64_t id = 0;
    std::string username;
    std::string displayName;
    Role role = Role::Editor;
    std::string department;  // editors belong to one; may be empty for other roles
    bool disabled = false;
    std::int64_t createdAtMs = 0;
    // The fleetWide right: may target the whole fleet with a schedule or takeover and
    // cancel another department's takeover (admins may always).
    bool fleetWide = false;
};

// Who is making a change: written into the audit log with every write.
struct Actor {
    std::int64_t userId = 0;  // 0 for the system itself or an enrolling player
    std::string name;         // username, or "system", or "player:<id>"
    Role role = Role::Admin;
    std::string department;
};

struct Media {
    std::int64_t id = 0;
    std::string sha256;
    std::string kind;  // image, video, audio, text
    std::string mime;
    std::int64_t sizeBytes = 0;
    std::string displayName;
    std::string originalName;
    std::string department;
    MediaState state = MediaState::Draft;
    std::int64_t uploadedBy = 0;
    std::optional<std::int64_t> reviewedBy;
    std::string reviewReason;
    std::optional<std::int64_t> reviewedAtMs;
    std::optional<std::int64_t> durationMs;
    std::optional<std::int64_t> width;
    std::optional<std::int64_t> height;
    std::string sloganJson;  // for kind text: the slogan document
    std::vector<std::string> tags;
    // After this instant the media is recalled by itself (a poster about a rule
    // that lapses); UTC ms.
    std::optional<std::int64_t> validUntilMs;
    std::int64_t createdAtMs = 0;
    std::int64_t updatedAtMs = 0;
    std::string codec;       // the first video (else audio) track's codec (libvlc fourcc); "" for stills
    std::string background;  // #RRGGBB transparency was flattened over; "" when nothing was transparent
};

// A file made from an uploaded original (docs/controller-api.md "What happens to
// an upload"): the normalised still (or the clip of an animated GIF) made at
// upload, or a rendition of a clip for one screen size. Screens play it; the
// approver sees and approves the original, whose SHA-256 it records.
struct MediaDerived {
    std::int64_t id = 0;
    std::int64_t mediaId = 0;
    std::string purpose;                       // "normalised" or "rendition"
    std::int64_t boxWidth = 0, boxHeight = 0;  // a rendition's screen size; 0 for "normalised"
    std::string state;                         // pending, working, ready, failed
    std::string sha256;                        // when ready
    std::string kind, mime;                    // when ready
    std::int64_t sizeBytes = 0;                // when ready
    std::optional<std::int64_t> durationMs, width, height;
    std::string transform;  // what was done, in words (recorded in manifests and exports)
    std::string error;      // when failed
    std::int64_t createdAtMs = 0, updatedAtMs = 0;
};

struct Location {
    std::int64_t id = 0;
    std::string name;
    std::string venueType;
    std::string district;
    std::string address;
    std::string timezone;
    // The administrative division code CAP alerts name in <geocode> (e.g. GB/T 2260
    // 450202); empty when not configured. docs/controller-api.md "Alerts".
    std::string adminCode;
    std::string hoursJson = "[]";  // [{"days":[1..7],"start":"HH:MM","end":"HH:MM"}]
    std::optional<std::int64_t> fillerPlaylistId;
    std::vector<std::string> tags;
    std::vector<std::string> mirrors;  // media mirror base URLs; empty: the district's, else the fleet's
    std::int64_t createdAtMs = 0;
    std::int64_t updatedAtMs = 0;
};

struct Player {
    std::string id;
    std::string name;
    std::optional<std::int64_t> locationId;
    std::optional<std::int64_t> width;
    std::optional<std::int64_t> height;
    std::string orientation = "landscape";
    PlayerState state = PlayerState::Enrolled;
    std::string identityKey;  // Ed25519 public key, PEM
    std::string curveKey;     // CURVE public key, Z85 (40 chars)
    std::int64_t enrolledAtMs = 0;
    std::optional<std::int64_t> lastSeenAtMs;
    std::string statusJson;
    std::int64_t updatedAtMs = 0;
};

struct EnrollToken {
    std::int64_t id = 0;
    std::string name;
    std::optional<std::int64_t> locationId;
    std::int64_t createdBy = 0;
    std::int64_t createdAtMs = 0;
    std::int64_t expiresAtMs = 0;
    std::optional<std::int64_t> usedAtMs;
    std::string playerId;
};

struct PlaylistItem {
    std::int64_t mediaId = 0;
    std::optional<std::int64_t> durationMs;  // required for stills and slogans
    std::optional<std::int64_t> validFromMs;
    std::optional<std::int64_t> validUntilMs;
};

struct Playlist {
    std::int64_t id = 0;
    std::string name;
    std::string department;
    std::int64_t createdBy = 0;
    std::vector<PlaylistItem> items;
    std::int64_t createdAtMs = 0;
    std::int64_t updatedAtMs = 0;
};

struct Campaign {
    std::int64_t id = 0;
    std::string name;
    std::string theme;
    std::string startsOn;  // YYYY-MM-DD, inclusive
    std::string endsOn;    // YYYY-MM-DD, inclusive
    std::string department;
    std::int64_t createdBy = 0;
    std::int64_t createdAtMs = 0;
    std::int64_t updatedAtMs = 0;
};

struct Schedule {
    std::int64_t id = 0;
    std::string name;
    std::int64_t playlistId = 0;
    std::optional<std::int64_t> campaignId;
    std::int64_t priority = 0;
    std::string startsOn;
    std::string endsOn;
    std::string daypartsJson;  // [{"days":[1..7],"start":"HH:MM","end":"HH:MM"}]
    std::string targetJson;    // {"all":bool,"venueTypes":[],"districts":[],"locationTags":[],"playerIds":[]}
    std::int64_t createdBy = 0;
    std::int64_t createdAtMs = 0;
    std::int64_t updatedAtMs = 0;
    std::string department;  // whose plan it is: editors change only their own department's
};

// The CAP alert a takeover follows (its latest message), shown with the takeover.
struct TakeoverAlert {
    std::int64_t alertId = 0;
    std::string sender, identifier, msgType, event, severity;
};

struct Takeover {
    std::int64_t id = 0;
    std::string name;
    std::int64_t playlistId = 0;
    std::string targetJson;
    std::int64_t startsAtMs = 0;
    std::int64_t expiresAtMs = 0;
    std::optional<std::int64_t> cancelledAtMs;
    std::int64_t createdBy = 0;
    std::int64_t createdAtMs = 0;
    std::string department;
    std::optional<TakeoverAlert> alert;  // read only: set when a CAP alert made the takeover
};

// One CAP message taken (table alerts): the first of a thread (msgType Alert) makes
// a takeover; its Update and Cancel messages change or end that takeover.
struct AlertRecord {
    std::int64_t id = 0;
    std::string sender, identifier, sent;
    std::int64_t sentAtMs = 0;
    std::string msgType;  // Alert, Update, Cancel
    std::string refs;     // <references> as sent
    std::string language, event, severity, headline, text;
    std::optional<std::int64_t> expiresAtMs;
    std::string areasJson = "[]";        // [{"areaDesc","geocodes":[{"valueName","value"}]}]
    std::string locationIdsJson = "[]";  // the locations the areas matched
    std::optional<std::int64_t> takeoverId;
    std::optional<std::int64_t> mediaId;
    std::string signature;  // verified, unverified (signed, but no trusted keys configured), unsigned
    std::string source;     // api, feed
    std::int64_t receivedBy = 0;
    std::int64_t receivedAtMs = 0;
    std::string xml;
};

// A recall: approved media withdrawn from every screen, with the proof that it
// is off them (docs/reports.md, "Recalls").
struct Recall {
    std::int64_t id = 0;
    std::int64_t mediaId = 0;
    std::string mediaSha256;
    std::string reason;
    std::int64_t recalledAtMs = 0;
    std::optional<std::int64_t> recalledBy;  // the user; none for an expiry
    std::string actor;                       // username, or "system" for an expiry
    bool automatic = false;                  // recalled by its validUntil
    std::optional<std::int64_t> completedAtMs;
};

// One screen that had the recalled media: the first manifest version it got
// without the media (none until one is compiled) and when its STATUS first said
// it played that version or a later one.
struct RecallScreen {
    std::int64_t recallId = 0;
    std::string playerId;
    std::optional<std::int64_t> version;
    std::string manifestSha256;
    std::optional<std::int64_t> confirmedAtMs;
};

struct AuditEntry {
    std::int64_t id = 0;
    std::int64_t atMs = 0;
    std::optional<std::int64_t> actorId;
    std::string actor;
    std::string action;
    std::string entity;
    std::string entityId;
    std::string beforeJson;
    std::string afterJson;
};

}  // namespace microscape::controller
