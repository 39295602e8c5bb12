// The schemas of the API's request and response bodies (OpenAPI 3.0 Schema
// Objects, in the subset json_schema.hpp checks). Routes name them
// (Route::body, Route::reply); the dispatcher checks every request body
// against its route's schema before the handler runs, the OpenAPI document
// publishes them, and the tests check every response against them.
#include "api.hpp"

#include <Poco/JSON/Parser.h>

#include <utility>

namespace microscape::controller {

namespace {

// Written as JSON so that what is checked and what is published are the same
// bytes. "x-maxBytes" limits are the database's (UTF-8 bytes); maxLength is in
// characters, so a client that counts characters stays within it.
constexpr const char* kSchemas = R"json({
"Error": {"type":"object","additionalProperties":false,"required":["error"],"properties":{
  "error":{"type":"object","additionalProperties":false,"required":["code","message"],"properties":{
    "code":{"type":"string","description":"machine-readable, e.g. bad_request, not_found (docs/controller-api.md)"},
    "message":{"type":"string"}}}}},

"Id": {"type":"integer","format":"int64","minimum":1},
"Instant": {"type":"string","format":"date-time","description":"ISO 8601 in UTC, e.g. 2026-04-15T00:00:00Z"},
"InstantOrNull": {"type":"string","format":"date-time","nullable":true},
"InstantInput": {"type":"string","format":"date-time","maxLength":40,"nullable":true,
  "description":"ISO 8601 with a zone, e.g. 2026-04-15T08:00:00+08:00"},
"Date": {"type":"string","format":"date","description":"a calendar date YYYY-MM-DD, local to where it is evaluated"},
"Department": {"type":"string","nullable":true,"maxLength":100,"x-maxBytes":100},
"TagList": {"type":"array","maxItems":100,"items":{"type":"string","minLength":1,"maxLength":200,"x-maxBytes":200}},
"VenueType": {"type":"string","enum":["mall","garage_entrance","building_entrance","street_gate","community","campus","other"]},
"Role": {"type":"string","enum":["admin","editor","approver","auditor","alert_feed"]},
"Window": {"type":"object","additionalProperties":false,"required":["start","end"],
  "description":"A time window on ISO weekdays (1 = Monday; all days when left out); an end not after the start crosses midnight, 00:00-24:00 is the whole day.",
  "properties":{
    "days":{"type":"array","minItems":1,"maxItems":7,"items":{"type":"integer","minimum":1,"maximum":7}},
    "start":{"type":"string","minLength":5,"maxLength":5,"example":"06:00"},
    "end":{"type":"string","minLength":5,"maxLength":5,"example":"22:00"}}},
"Windows": {"type":"array","maxItems":32,"nullable":true,"items":{"$ref":"#/components/schemas/Window"}},
"Target": {"type":"object","additionalProperties":false,
  "description":"Which screens: all of them, or those matching any of the lists.",
  "properties":{
    "all":{"type":"boolean","nullable":true},
    "venueTypes":{"type":"array","nullable":true,"maxItems":100,"items":{"$ref":"#/components/schemas/VenueType"}},
    "districts":{"$ref":"#/components/schemas/NullableTagList"},
    "locationTags":{"$ref":"#/components/schemas/NullableTagList"},
    "playerIds":{"$ref":"#/components/schemas/NullableTagList"}}},
"NullableTagList": {"type":"array","nullable":true,"maxItems":100,"items":{"type":"string","minLength":1,"maxLength":200,"x-maxBytes":200}},
"StoredTarget": {"type":"object","additionalProperties":false,
  "required":["all","venueTypes","districts","locationTags","playerIds"],"properties":{
    "all":{"type":"boolean"},
    "venueTypes":{"type":"array","items":{"type":"string"}},
    "districts":{"type":"array","items":{"type":"string"}},
    "locationTags":{"type":"array","items":{"type":"string"}},
    "playerIds":{"type":"array","items":{"type":"string"}},
    "locationIds":{"type":"array","items":{"type":"integer"},
      "description":"only on an alert's takeover: the locations its areas matched"}}},
"StoredWindow": {"type":"object","additionalProperties":false,"required":["days","start","end"],"properties":{
    "days":{"type":"array","items":{"type":"integer","minimum":1,"maximum":7}},
    "start":{"type":"string"},"end":{"type":"string"}}},
"Row": {"oneOf":[{"type":"string"},{"type":"integer"}],
  "description":"a report cell: counts are integers, names and keys text"},

"LoginRequest": {"type":"object","additionalProperties":false,"required":["username","password"],"properties":{
  "username":{"type":"string","minLength":1,"maxLength":64,"x-maxBytes":64},
  "password":{"type":"string","minLength":1,"maxLength":1024,"x-maxBytes":1024,"writeOnly":true}}},
"User": {"type":"object","additionalProperties":false,
  "required":["id","username","displayName","role","department","disabled","fleetWide","createdAt"],"properties":{
  "id":{"$ref":"#/components/schemas/Id"},
  "username":{"type":"string"},"displayName":{"type":"string"},
  "role":{"$ref":"#/components/schemas/Role"},
  "department":{"type":"string","nullable":true},
  "disabled":{"type":"boolean"},
  "fleetWide":{"type":"boolean","description":"may plan for the whole fleet (全网发布)"},
  "createdAt":{"$ref":"#/components/schemas/Instant"}}},
"Session": {"type":"object","additionalProperties":false,"required":["user"],"properties":{
  "user":{"$ref":"#/components/schemas/User"},
  "csrfToken":{"type":"string","description":"send as X-CSRF-Token on writes (cookie sessions only)"}}},
"PasswordChange": {"type":"object","additionalProperties":false,"required":["currentPassword","newPassword"],"properties":{
  "currentPassword":{"type":"string","minLength":1,"maxLength":1024,"x-maxBytes":1024,"writeOnly":true},
  "newPassword":{"type":"string","minLength":1,"maxLength":1024,"x-maxBytes":1024,"writeOnly":true}}},
"UserCreate": {"type":"object","additionalProperties":false,"required":["username","password","role"],"properties":{
  "username":{"type":"string","minLength":1,"maxLength":64,"x-maxBytes":64},
  "password":{"type":"string","minLength":1,"maxLength":1024,"x-maxBytes":1024,"writeOnly":true},
  "role":{"$ref":"#/components/schemas/Role"},
  "department":{"$ref":"#/components/schemas/Department"},
  "displayName":{"type":"string","nullable":true,"maxLength":100,"x-maxBytes":100},
  "fleetWide":{"type":"boolean","nullable":true}}},
"UserChange": {"type":"object","additionalProperties":false,"properties":{
  "password":{"type":"string","nullable":true,"minLength":1,"maxLength":1024,"x-maxBytes":1024,"writeOnly":true},
  "role":{"$ref":"#/components/schemas/Role"},
  "department":{"$ref":"#/components/schemas/Department"},
  "displayName":{"type":"string","nullable":true,"maxLength":100,"x-maxBytes":100},
  "disabled":{"type":"boolean","nullable":true},
  "fleetWide":{"type":"boolean","nullable":true}}},
"UserList": {"type":"object","additionalProperties":false,"required":["users"],"properties":{
  "users":{"type":"array","items":{"$ref":"#/components/schemas/User"}}}},
"TokenCreate": {"type":"object","additionalProperties":false,"required":["name"],"properties":{
  "name":{"type":"string","minLength":1,"maxLength":100,"x-maxBytes":100}}},
"ApiToken": {"type":"object","additionalProperties":false,
  "required":["id","userId","name","createdAt","lastUsedAt","revokedAt"],"properties":{
  "id":{"$ref":"#/components/schemas/Id"},"userId":{"$ref":"#/components/schemas/Id"},
  "name":{"type":"string"},
  "createdAt":{"$ref":"#/components/schemas/Instant"},
  "lastUsedAt":{"$ref":"#/components/schemas/InstantOrNull"},
  "revokedAt":{"$ref":"#/components/schemas/InstantOrNull"},
  "token":{"type":"string","description":"the secret (mst_…), in the creation answer only"}}},
"ApiTokenList": {"type":"object","additionalProperties":false,"required":["tokens"],"properties":{
  "tokens":{"type":"array","items":{"$ref":"#/components/schemas/ApiToken"}}}},
"AuditList": {"type":"object","additionalProperties":false,"required":["entries"],"properties":{
  "entries":{"type":"array","items":{"type":"object","additionalProperties":false,
    "required":["id","at","actorId","actor","action","entity","entityId","before","after"],"properties":{
    "id":{"$ref":"#/components/schemas/Id"},"at":{"$ref":"#/components/schemas/Instant"},
    "actorId":{"type":"integer","nullable":true},"actor":{"type":"string"},
    "action":{"type":"string"},"entity":{"type":"string"},
    "entityId":{"type":"string","nullable":true},
    "before":{"type":"object","nullable":true,"description":"the entity before the change, as the API showed it"},
    "after":{"type":"object","nullable":true}}}}}},
"TagCatalogue": {"type":"object","additionalProperties":false,"required":["tags"],"properties":{
  "tags":{"type":"array","items":{"type":"object","additionalProperties":false,"required":["name","seeded"],
    "properties":{"name":{"type":"string"},"seeded":{"type":"boolean"}}}}}},

"Media": {"type":"object","additionalProperties":false,
  "required":["id","sha256","kind","mime","sizeBytes","name","fileName","department","state","uploadedBy",
              "reviewedBy","reviewReason","reviewedAt","durationMs","width","height","tags","validUntil",
              "contentUrl","createdAt","updatedAt"],"properties":{
  "id":{"$ref":"#/components/schemas/Id"},
  "sha256":{"type":"string","minLength":64,"maxLength":64},
  "kind":{"type":"string","enum":["image","video","audio","text"],
    "description":"how it plays: an animated GIF is a video (its clip), its mime stays image/gif"},
  "mime":{"type":"string"},"sizeBytes":{"type":"integer","minimum":0},
  "name":{"type":"string"},"fileName":{"type":"string","nullable":true},
  "codec":{"type":"string","nullable":true,"description":"a clip's or sound's codec (libvlc fourcc, e.g. h264)"},
  "background":{"type":"string","nullable":true,"minLength":7,"maxLength":7,
    "description":"the colour transparency was flattened over (null when nothing was transparent)"},
  "derived":{"type":"array","items":{"$ref":"#/components/schemas/MediaDerived"},
    "description":"files made from this original: the normalised still and renditions per screen size"},
  "department":{"type":"string","nullable":true},
  "state":{"type":"string","enum":["draft","pending","approved","rejected"]},
  "uploadedBy":{"$ref":"#/components/schemas/Id"},
  "reviewedBy":{"type":"integer","nullable":true},
  "reviewReason":{"type":"string","nullable":true},
  "reviewedAt":{"$ref":"#/components/schemas/InstantOrNull"},
  "durationMs":{"type":"integer","nullable":true},
  "width":{"type":"integer","nullable":true},"height":{"type":"integer","nullable":true},
  "tags":{"type":"array","items":{"type":"string"}},
  "validUntil":{"type":"string","format":"date-time","nullable":true,
    "description":"after this instant the media recalls itself (a recall by the system)"},
  "slogan":{"type":"object","additionalProperties":false,"required":["microscape_slogan","style","text"],
    "description":"a text slogan's stored document (kind text)","properties":{
    "microscape_slogan":{"type":"integer"},"text":{"type":"string"},
    "style":{"$ref":"#/components/schemas/SloganStyle"}}},
  "contentUrl":{"type":"string"},
  "deduplicated":{"type":"boolean","description":"true (status 200) when the same bytes were already stored"},
  "createdAt":{"$ref":"#/components/schemas/Instant"},"updatedAt":{"$ref":"#/components/schemas/Instant"}}},
"MediaDerived": {"type":"object","additionalProperties":false,
  "required":["id","purpose","state","boxWidth","boxHeight","sha256","kind","mime","sizeBytes","durationMs","width",
              "height","derivedFrom","transform","error","contentUrl","updatedAt"],"properties":{
  "id":{"$ref":"#/components/schemas/Id"},
  "purpose":{"type":"string","enum":["normalised","rendition"]},
  "state":{"type":"string","enum":["pending","working","ready","failed"],
    "description":"a rendition is pending or working until made; screens of its size play the clip once ready"},
  "boxWidth":{"type":"integer","nullable":true,"description":"a rendition's screen size"},
  "boxHeight":{"type":"integer","nullable":true},
  "sha256":{"type":"string","nullable":true},"kind":{"type":"string","nullable":true},
  "mime":{"type":"string","nullable":true},"sizeBytes":{"type":"integer","nullable":true},
  "durationMs":{"type":"integer","nullable":true},
  "width":{"type":"integer","nullable":true},"height":{"type":"integer","nullable":true},
  "derivedFrom":{"type":"string","minLength":64,"maxLength":64,"description":"the original's SHA-256"},
  "transform":{"type":"string","nullable":true,"description":"what was done to the original, in words"},
  "error":{"type":"string","nullable":true,"description":"why a rendition failed"},
  "contentUrl":{"type":"string","nullable":true},
  "updatedAt":{"$ref":"#/components/schemas/Instant"}}},
"MediaList": {"type":"object","additionalProperties":false,"required":["media"],"properties":{
  "media":{"type":"array","items":{"$ref":"#/components/schemas/Media"}}}},
"Upload": {"type":"object","required":["file"],"properties":{
  "file":{"type":"string","format":"binary","description":"the file, with its name in the part's filename"},
  "name":{"type":"string","maxLength":255,"x-maxBytes":255},
  "tags":{"type":"string","description":"comma-separated tags"},
  "department":{"type":"string","maxLength":100,"x-maxBytes":100},
  "background":{"type":"string","minLength":7,"maxLength":7,"example":"#000000",
    "description":"#RRGGBB transparent parts of a picture are shown over (default black)"}}},
"SloganStyle": {"type":"object","additionalProperties":false,"properties":{
  "background":{"type":"string","nullable":true,"minLength":7,"maxLength":7,"example":"#B40000"},
  "color":{"type":"string","nullable":true,"minLength":7,"maxLength":7,"example":"#FFFFFF"},
  "fontSizePx":{"type":"integer","nullable":true,"minimum":8,"maximum":1000},
  "scrollSpeedPxPerS":{"type":"integer","nullable":true,"minimum":0,"maximum":2000}}},
"SloganStyleInput": {"type":"object","nullable":true,"additionalProperties":false,"properties":{
  "background":{"type":"string","nullable":true,"minLength":7,"maxLength":7},
  "color":{"type":"string","nullable":true,"minLength":7,"maxLength":7},
  "fontSizePx":{"type":"integer","nullable":true,"minimum":8,"maximum":1000},
  "scrollSpeedPxPerS":{"type":"integer","nullable":true,"minimum":0,"maximum":2000}}},
"SloganCreate": {"type":"object","additionalProperties":false,"required":["text"],"properties":{
  "text":{"type":"string","minLength":1,"maxLength":2000,"x-maxBytes":2000},
  "name":{"type":"string","nullable":true,"maxLength":255,"x-maxBytes":255},
  "style":{"$ref":"#/components/schemas/SloganStyleInput"},
  "tags":{"$ref":"#/components/schemas/NullableTagList"},
  "department":{"$ref":"#/components/schemas/Department"}}},
"MediaChange": {"type":"object","additionalProperties":false,"properties":{
  "name":{"type":"string","nullable":true,"minLength":1,"maxLength":255,"x-maxBytes":255},
  "tags":{"$ref":"#/components/schemas/NullableTagList"},
  "department":{"$ref":"#/components/schemas/Department"},
  "validUntil":{"$ref":"#/components/schemas/InstantInput"}}},
"RecallCreate": {"type":"object","additionalProperties":false,"required":["reason"],"properties":{
  "reason":{"type":"string","minLength":1,"maxLength":1000,"x-maxBytes":1000}}},
"RecallScreen": {"type":"object","additionalProperties":false,
  "required":["playerId","name","location","version","manifestSha256","confirmedAt","lastPlayAt",
              "playsAfterConfirmation","firstPlayAfterConfirmation","state"],"properties":{
  "playerId":{"type":"string"},"name":{"type":"string"},"location":{"type":"string","nullable":true},
  "version":{"type":"integer","nullable":true,"description":"the first manifest version without the media"},
  "manifestSha256":{"type":"string","nullable":true},
  "confirmedAt":{"type":"string","format":"date-time","nullable":true,
    "description":"when the screen's STATUS first said it plays that version or a later one (ms precision)"},
  "lastPlayAt":{"type":"string","format":"date-time","nullable":true,"description":"start of its last play of the media"},
  "playsAfterConfirmation":{"type":"integer","minimum":0,"description":"plays that started after confirmedAt: problems"},
  "firstPlayAfterConfirmation":{"type":"object","nullable":true,"additionalProperties":false,
    "required":["seq","startedAt"],"properties":{"seq":{"type":"integer"},
    "startedAt":{"type":"string","format":"date-time"}}},
  "state":{"type":"string","enum":["confirmed","pending","offline","retired"]}}},
"Recall": {"type":"object","additionalProperties":false,
  "required":["id","mediaId","mediaSha256","mediaName","reason","recalledAt","recalledBy","automatic","completedAt",
              "screens","lastPlayAt","complete","summary"],"properties":{
  "id":{"$ref":"#/components/schemas/Id"},"mediaId":{"$ref":"#/components/schemas/Id"},
  "mediaSha256":{"type":"string","minLength":64,"maxLength":64},"mediaName":{"type":"string"},
  "reason":{"type":"string"},"recalledAt":{"type":"string","format":"date-time"},
  "recalledBy":{"type":"string","description":"the user, or system for an expiry"},
  "automatic":{"type":"boolean","description":"recalled by the media's validUntil"},
  "completedAt":{"type":"string","format":"date-time","nullable":true},
  "screens":{"type":"array","items":{"$ref":"#/components/schemas/RecallScreen"}},
  "lastPlayAt":{"type":"string","format":"date-time","nullable":true},
  "complete":{"type":"boolean","description":"every enrolled screen confirmed and no play after a confirmation"},
  "summary":{"type":"object","additionalProperties":false,
    "required":["screens","confirmed","pending","offline","retired","playsAfterConfirmation"],"properties":{
    "screens":{"type":"integer"},"confirmed":{"type":"integer"},"pending":{"type":"integer"},
    "offline":{"type":"integer"},"retired":{"type":"integer"},"playsAfterConfirmation":{"type":"integer"}}}}},
"RecallList": {"type":"object","additionalProperties":false,"required":["recalls"],"properties":{
  "recalls":{"type":"array","items":{"$ref":"#/components/schemas/Recall"}}}},
"Review": {"type":"object","additionalProperties":false,"properties":{
  "comment":{"type":"string","nullable":true,"maxLength":1000,"x-maxBytes":1000}}},
"Rejection": {"type":"object","additionalProperties":false,"required":["reason"],"properties":{
  "reason":{"type":"string","minLength":1,"maxLength":1000,"x-maxBytes":1000}}},

"LocationCreate": {"type":"object","additionalProperties":false,"required":["name","venueType","district"],"properties":{
  "name":{"type":"string","minLength":1,"maxLength":255,"x-maxBytes":255},
  "venueType":{"$ref":"#/components/schemas/VenueType"},
  "district":{"type":"string","minLength":1,"maxLength":100,"x-maxBytes":100},
  "adminCode":{"type":"string","nullable":true,"maxLength":32,"x-maxBytes":32,
    "description":"administrative division code (GB/T 2260, e.g. 450202) that CAP alerts name in <geocode>; empty or null: none","example":"450202"},
  "address":{"type":"string","nullable":true,"maxLength":500,"x-maxBytes":500},
  "tags":{"$ref":"#/components/schemas/NullableTagList"},
  "timezone":{"type":"string","nullable":true,"maxLength":128,"example":"Asia/Shanghai"},
  "operatingHours":{"$ref":"#/components/schemas/Windows"},
  "fillerPlaylistId":{"type":"integer","nullable":true,"minimum":1},
  "mirrors":{"$ref":"#/components/schemas/MirrorList"}}},
"Location": {"type":"object","additionalProperties":false,
  "required":["id","name","venueType","district","adminCode","address","timezone","operatingHours","fillerPlaylistId",
              "tags","mirrors","createdAt","updatedAt"],"properties":{
  "id":{"$ref":"#/components/schemas/Id"},"name":{"type":"string"},
  "venueType":{"$ref":"#/components/schemas/VenueType"},
  "district":{"type":"string"},"adminCode":{"type":"string"},"address":{"type":"string"},"timezone":{"type":"string"},
  "operatingHours":{"type":"array","items":{"$ref":"#/components/schemas/StoredWindow"}},
  "fillerPlaylistId":{"type":"integer","nullable":true},
  "tags":{"type":"array","items":{"type":"string"}},
  "mirrors":{"type":"array","items":{"type":"string"},"description":"this location's mirror base URLs; empty: its district's, else the fleet's"},
  "createdAt":{"$ref":"#/components/schemas/Instant"},"updatedAt":{"$ref":"#/components/schemas/Instant"}}},
"LocationList": {"type":"object","additionalProperties":false,"required":["locations"],"properties":{
  "locations":{"type":"array","items":{"$ref":"#/components/schemas/Location"}}}},

"EnrollTokenCreate": {"type":"object","additionalProperties":false,"properties":{
  "name":{"type":"string","nullable":true,"maxLength":255,"x-maxBytes":255},
  "locationId":{"type":"integer","nullable":true,"minimum":1},
  "ttlSeconds":{"type":"integer","nullable":true,"minimum":60,"description":"at most enroll.maxTokenTtlSeconds"}}},
"EnrollToken": {"type":"object","additionalProperties":false,
  "required":["id","name","locationId","createdBy","createdAt","expiresAt","usedAt","playerId","state"],"properties":{
  "id":{"$ref":"#/components/schemas/Id"},"name":{"type":"string","nullable":true},
  "locationId":{"type":"integer","nullable":true},"createdBy":{"$ref":"#/components/schemas/Id"},
  "createdAt":{"$ref":"#/components/schemas/Instant"},"expiresAt":{"$ref":"#/components/schemas/Instant"},
  "usedAt":{"$ref":"#/components/schemas/InstantOrNull"},"playerId":{"type":"string","nullable":true},
  "state":{"type":"string","enum":["open","used","expired"]},
  "token":{"type":"string","description":"the one-time secret (enr_…), in the creation answer only"},
  "controllerUrl":{"type":"string"},"contentKeyHash":{"type":"string"},
  "tlsKeyHash":{"type":"string","nullable":true},
  "command":{"type":"string","description":"the technician's microscape-player enroll command line"}}},
"EnrollTokenList": {"type":"object","additionalProperties":false,"required":["tokens"],"properties":{
  "tokens":{"type":"array","items":{"$ref":"#/components/schemas/EnrollToken"}}}},
"EnrollRequest": {"type":"object","additionalProperties":false,"required":["token","identityKey","curveKey"],"properties":{
  "token":{"type":"string","minLength":1,"maxLength":200},
  "identityKey":{"type":"string","minLength":1,"maxLength":4096,"description":"Ed25519 public key, PEM"},
  "curveKey":{"type":"string","minLength":40,"maxLength":40,"description":"CURVE public key, Z85"},
  "name":{"type":"string","nullable":true,"maxLength":255,"x-maxBytes":255},
  "width":{"type":"integer","nullable":true,"minimum":1,"maximum":16384},
  "height":{"type":"integer","nullable":true,"minimum":1,"maximum":16384},
  "orientation":{"type":"string","nullable":true,"enum":["landscape","portrait"]},
  "software":{"type":"string","nullable":true,"maxLength":200,"x-maxBytes":200}}},
"Enrolled": {"type":"object","additionalProperties":false,
  "required":["playerId","name","locationId","contentPublicKey","hub"],"properties":{
  "playerId":{"type":"string"},"name":{"type":"string"},"locationId":{"type":"integer","nullable":true},
  "contentPublicKey":{"type":"string"},
  "hub":{"type":"object","additionalProperties":false,"required":["port","curveServerKey"],"properties":{
    "port":{"type":"integer"},"curveServerKey":{"type":"string","nullable":true},
    "endpoints":{"type":"array","items":{"type":"string"},"description":"every node's hub (cluster.hubEndpoints); absent with one node"}}}}},
"Player": {"type":"object","additionalProperties":false,
  "required":["id","name","locationId","width","height","orientation","state","identityKey","curveKey","enrolledAt",
              "lastSeenAt","online","status"],"properties":{
  "id":{"type":"string"},"name":{"type":"string"},"locationId":{"type":"integer","nullable":true},
  "width":{"type":"integer","nullable":true},"height":{"type":"integer","nullable":true},
  "orientation":{"type":"string","enum":["landscape","portrait"]},
  "state":{"type":"string","enum":["enrolled","retired"]},
  "identityKey":{"type":"string"},"curveKey":{"type":"string"},
  "enrolledAt":{"$ref":"#/components/schemas/Instant"},"lastSeenAt":{"$ref":"#/components/schemas/InstantOrNull"},
  "online":{"type":"boolean"},
  "status":{"type":"object","nullable":true,"description":"the player's last heartbeat status (docs/wire-protocol.md)"},
  "proofOfPlay":{"type":"object","additionalProperties":false,"required":["lastSeq","records","problems","lastProblem"],
    "properties":{"lastSeq":{"type":"integer"},"records":{"type":"integer"},"problems":{"type":"integer"},
      "lastProblem":{"type":"object","nullable":true,"additionalProperties":false,"properties":{
        "code":{"type":"string"},"seq":{"type":"integer"},"atMs":{"type":"integer"}}}}}}},
"PlayerList": {"type":"object","additionalProperties":false,"required":["players"],"properties":{
  "players":{"type":"array","items":{"$ref":"#/components/schemas/Player"}}}},
"PlayerChange": {"type":"object","additionalProperties":false,"properties":{
  "name":{"type":"string","nullable":true,"minLength":1,"maxLength":255,"x-maxBytes":255},
  "locationId":{"type":"integer","nullable":true,"minimum":1},
  "width":{"type":"integer","nullable":true,"minimum":1,"maximum":16384},
  "height":{"type":"integer","nullable":true,"minimum":1,"maximum":16384},
  "orientation":{"type":"string","nullable":true,"enum":["landscape","portrait"]},
  "state":{"type":"string","nullable":true,"enum":["enrolled","retired"]}}},
"CommandCreate": {"type":"object","additionalProperties":false,"required":["action"],"properties":{
  "action":{"type":"string","enum":["reload","clear_cache","screenshot","show_head"]}}},
"Command": {"type":"object","additionalProperties":false,
  "required":["id","playerId","action","sentAt","ackedAt","state","message","payloadBase64"],"properties":{
  "id":{"type":"string"},"playerId":{"type":"string"},
  "action":{"type":"string","enum":["reload","clear_cache","screenshot","show_head"]},
  "sentAt":{"$ref":"#/components/schemas/Instant"},"ackedAt":{"$ref":"#/components/schemas/InstantOrNull"},
  "state":{"type":"string","enum":["sent","done","failed"]},"message":{"type":"string"},
  "payloadBase64":{"type":"string","nullable":true,"description":"a screenshot (PNG) for screenshot commands"}}},
"Manifest": {"type":"object","additionalProperties":false,
  "required":["playerId","version","compiledAt","manifest","manifestBase64","signatureBase64"],"properties":{
  "playerId":{"type":"string"},"version":{"type":"integer","minimum":1},
  "compiledAt":{"$ref":"#/components/schemas/Instant"},
  "manifest":{"type":"object","description":"the signed manifest (docs/bundle-format.md)"},
  "manifestBase64":{"type":"string","description":"the exact signed bytes"},
  "signatureBase64":{"type":"string","description":"Ed25519 over manifestBase64's bytes"}}},
"RawManifest": {"type":"object","required":["format","bundle_id","signer","target","version"],
  "description":"?format=raw: the exact signed bytes (docs/bundle-format.md); X-Microscape-Signature carries the signature"},
"ManifestAnswer": {"oneOf":[{"$ref":"#/components/schemas/Manifest"},{"$ref":"#/components/schemas/RawManifest"}]},
"OpenApiDocument": {"type":"object","required":["openapi","info","paths"],"description":"this document"},
"Compiled": {"type":"object","additionalProperties":false,"required":["playerId","version"],"properties":{
  "playerId":{"type":"string"},"version":{"type":"integer","minimum":1}}},
"ContentKey": {"type":"object","additionalProperties":false,"required":["publicKeyPem","keyId"],"properties":{
  "publicKeyPem":{"type":"string"},"keyId":{"type":"string"}}},

"PlaylistItemInput": {"type":"object","additionalProperties":false,"required":["mediaId"],"properties":{
  "mediaId":{"type":"integer","minimum":1},
  "durationMs":{"type":"integer","nullable":true,"minimum":1000,"maximum":86400000,
    "description":"how long it shows; a video's own length, or 10 s for a still, when left out"},
  "validFrom":{"$ref":"#/components/schemas/InstantInput"},
  "validUntil":{"$ref":"#/components/schemas/InstantInput"}}},
"PlaylistCreate": {"type":"object","additionalProperties":false,"required":["name"],"properties":{
  "name":{"type":"string","minLength":1,"maxLength":255,"x-maxBytes":255},
  "department":{"$ref":"#/components/schemas/Department"},
  "items":{"type":"array","nullable":true,"maxItems":1000,"items":{"$ref":"#/components/schemas/PlaylistItemInput"}}}},
"Playlist": {"type":"object","additionalProperties":false,
  "required":["id","name","department","createdBy","items","loopDurationMs","allApproved","createdAt","updatedAt"],
  "properties":{
  "id":{"$ref":"#/components/schemas/Id"},"name":{"type":"string"},"department":{"type":"string","nullable":true},
  "createdBy":{"$ref":"#/components/schemas/Id"},
  "items":{"type":"array","items":{"type":"object","additionalProperties":false,
    "required":["mediaId","durationMs","effectiveDurationMs","validFrom","validUntil"],"properties":{
    "mediaId":{"$ref":"#/components/schemas/Id"},"durationMs":{"type":"integer","nullable":true},
    "effectiveDurationMs":{"type":"integer"},
    "validFrom":{"$ref":"#/components/schemas/InstantOrNull"},"validUntil":{"$ref":"#/components/schemas/InstantOrNull"},
    "name":{"type":"string"},"kind":{"type":"string"},
    "state":{"type":"string","enum":["draft","pending","approved","rejected"]}}}},
  "loopDurationMs":{"type":"integer"},"allApproved":{"type":"boolean"},
  "createdAt":{"$ref":"#/components/schemas/Instant"},"updatedAt":{"$ref":"#/components/schemas/Instant"}}},
"PlaylistList": {"type":"object","additionalProperties":false,"required":["playlists"],"properties":{
  "playlists":{"type":"array","items":{"$ref":"#/components/schemas/Playlist"}}}},

"CampaignCreate": {"type":"object","additionalProperties":false,"required":["name","startsOn","endsOn"],"properties":{
  "name":{"type":"string","minLength":1,"maxLength":255,"x-maxBytes":255},
  "theme":{"type":"string","nullable":true,"maxLength":100,"x-maxBytes":100},
  "startsOn":{"$ref":"#/components/schemas/Date"},"endsOn":{"$ref":"#/components/schemas/Date"},
  "department":{"$ref":"#/components/schemas/Department"}}},
"Campaign": {"type":"object","additionalProperties":false,
  "required":["id","name","theme","startsOn","endsOn","department","createdBy","createdAt","updatedAt"],"properties":{
  "id":{"$ref":"#/components/schemas/Id"},"name":{"type":"string"},"theme":{"type":"string","nullable":true},
  "startsOn":{"$ref":"#/components/schemas/Date"},"endsOn":{"$ref":"#/components/schemas/Date"},
  "department":{"type":"string","nullable":true},"createdBy":{"$ref":"#/components/schemas/Id"},
  "createdAt":{"$ref":"#/components/schemas/Instant"},"updatedAt":{"$ref":"#/components/schemas/Instant"}}},
"CampaignList": {"type":"object","additionalProperties":false,"required":["campaigns"],"properties":{
  "campaigns":{"type":"array","items":{"$ref":"#/components/schemas/Campaign"}}}},

"ScheduleCreate": {"type":"object","additionalProperties":false,
  "required":["name","playlistId","startsOn","endsOn","target"],"properties":{
  "name":{"type":"string","minLength":1,"maxLength":255,"x-maxBytes":255},
  "playlistId":{"type":"integer","minimum":1},
  "campaignId":{"type":"integer","nullable":true,"minimum":1},
  "priority":{"type":"integer","nullable":true,"minimum":0,"maximum":1000},
  "startsOn":{"$ref":"#/components/schemas/Date"},"endsOn":{"$ref":"#/components/schemas/Date"},
  "dayparts":{"$ref":"#/components/schemas/Windows"},
  "target":{"$ref":"#/components/schemas/Target"},
  "department":{"$ref":"#/components/schemas/Department"}}},
"Schedule": {"type":"object","additionalProperties":false,
  "required":["id","name","playlistId","campaignId","priority","startsOn","endsOn","dayparts","target","department",
              "createdBy","createdAt","updatedAt"],"properties":{
  "id":{"$ref":"#/components/schemas/Id"},"name":{"type":"string"},
  "playlistId":{"$ref":"#/components/schemas/Id"},"campaignId":{"type":"integer","nullable":true},
  "priority":{"type":"integer"},
  "startsOn":{"$ref":"#/components/schemas/Date"},"endsOn":{"$ref":"#/components/schemas/Date"},
  "dayparts":{"type":"array","items":{"$ref":"#/components/schemas/StoredWindow"}},
  "target":{"$ref":"#/components/schemas/StoredTarget"},
  "department":{"type":"string","nullable":true},"createdBy":{"$ref":"#/components/schemas/Id"},
  "createdAt":{"$ref":"#/components/schemas/Instant"},"updatedAt":{"$ref":"#/components/schemas/Instant"}}},
"ScheduleList": {"type":"object","additionalProperties":false,"required":["schedules"],"properties":{
  "schedules":{"type":"array","items":{"$ref":"#/components/schemas/Schedule"}}}},
"TakeoverCreate": {"type":"object","additionalProperties":false,"required":["name","playlistId","target"],
  "description":"Give expiresAt or durationSeconds (counted on the controller's clock from the start).",
  "properties":{
  "name":{"type":"string","minLength":1,"maxLength":255,"x-maxBytes":255},
  "playlistId":{"type":"integer","minimum":1},
  "target":{"$ref":"#/components/schemas/Target"},
  "startsAt":{"type":"string","format":"date-time","nullable":true,"maxLength":40},
  "expiresAt":{"type":"string","format":"date-time","nullable":true,"maxLength":40},
  "durationSeconds":{"type":"integer","nullable":true,"description":"1..604800 (7 days); outside, 422 bad_window"},
  "department":{"$ref":"#/components/schemas/Department"}}},
"Takeover": {"type":"object","additionalProperties":false,
  "required":["id","name","playlistId","target","startsAt","expiresAt","cancelledAt","active","department","createdBy",
              "createdAt","source","alert"],"properties":{
  "id":{"$ref":"#/components/schemas/Id"},"name":{"type":"string"},"playlistId":{"$ref":"#/components/schemas/Id"},
  "target":{"$ref":"#/components/schemas/StoredTarget"},
  "startsAt":{"$ref":"#/components/schemas/Instant"},"expiresAt":{"$ref":"#/components/schemas/Instant"},
  "cancelledAt":{"$ref":"#/components/schemas/InstantOrNull"},"active":{"type":"boolean"},
  "department":{"type":"string","nullable":true},"createdBy":{"$ref":"#/components/schemas/Id"},
  "createdAt":{"$ref":"#/components/schemas/Instant"},
  "source":{"type":"string","enum":["console","alert"],"description":"alert: started by a CAP alert (POST /api/v1/alerts or the feed)"},
  "alert":{"type":"object","nullable":true,"additionalProperties":false,
    "required":["id","sender","identifier","msgType","event","severity"],
    "description":"the latest CAP message of the alert the takeover follows",
    "properties":{"id":{"$ref":"#/components/schemas/Id"},"sender":{"type":"string"},"identifier":{"type":"string"},
      "msgType":{"type":"string","enum":["Alert","Update","Cancel"]},"event":{"type":"string"},
      "severity":{"type":"string","enum":["Extreme","Severe","Moderate","Minor","Unknown"]}}}}},
"CapMessage": {"type":"string","description":"one OASIS CAP 1.2 <alert> document (namespace urn:oasis:names:tc:emergency:cap:1.2), UTF-8, no DOCTYPE, at most alerts.maxBytes"},
"Alert": {"type":"object","additionalProperties":false,
  "required":["id","sender","identifier","sent","msgType","references","language","event","severity","headline","text",
              "expiresAt","areas","locationIds","takeoverId","mediaId","signature","source","receivedBy","receivedAt"],
  "properties":{
  "id":{"$ref":"#/components/schemas/Id"},"sender":{"type":"string"},"identifier":{"type":"string"},
  "sent":{"type":"string","description":"<sent> as written"},
  "msgType":{"type":"string","enum":["Alert","Update","Cancel"]},
  "references":{"type":"string","nullable":true,"description":"<references> as sender,identifier,sent triples"},
  "language":{"type":"string","nullable":true,"description":"of the <info> shown (zh-CN first)"},
  "event":{"type":"string","nullable":true},
  "severity":{"type":"string","nullable":true},
  "headline":{"type":"string","nullable":true},
  "text":{"type":"string","nullable":true,"description":"what the screens show"},
  "expiresAt":{"$ref":"#/components/schemas/InstantOrNull"},
  "areas":{"type":"array","items":{"type":"object","additionalProperties":false,"required":["areaDesc","geocodes"],
    "properties":{"areaDesc":{"type":"string"},"geocodes":{"type":"array","items":{"type":"object",
      "additionalProperties":false,"required":["valueName","value"],
      "properties":{"valueName":{"type":"string"},"value":{"type":"string"}}}}}}},
  "locationIds":{"type":"array","items":{"type":"integer"},"description":"the locations the areas matched"},
  "takeoverId":{"type":"integer","nullable":true},"mediaId":{"type":"integer","nullable":true},
  "signature":{"type":"string","enum":["verified","unverified","unsigned"],
    "description":"verified under alerts.trustedKeys; unverified: signed but no trusted keys are configured"},
  "source":{"type":"string","enum":["api","feed"]},
  "receivedBy":{"$ref":"#/components/schemas/Id"},"receivedAt":{"$ref":"#/components/schemas/Instant"},
  "xml":{"type":"string","description":"the message as received (GET /api/v1/alerts/{id} only)"},
  "deduplicated":{"type":"boolean","description":"true: the same sender, identifier and sent were taken before; nothing changed"}}},
"AlertList": {"type":"object","additionalProperties":false,"required":["alerts"],"properties":{
  "alerts":{"type":"array","items":{"$ref":"#/components/schemas/Alert"}}}},
"TakeoverList": {"type":"object","additionalProperties":false,"required":["takeovers"],"properties":{
  "takeovers":{"type":"array","items":{"$ref":"#/components/schemas/Takeover"}}}},
"MirrorList": {"type":"array","maxItems":8,"items":{"type":"string","minLength":8,"maxLength":512,
  "example":"http://mirror.example.cn:8080"},
  "description":"HTTP(S) base URLs players fetch media from as <base>/media/<sha256>; no credentials, query or fragment"},
"MirrorSettings": {"type":"object","additionalProperties":false,"required":["fleet","districts"],"properties":{
  "fleet":{"$ref":"#/components/schemas/MirrorList"},
  "districts":{"type":"array","items":{"type":"object","additionalProperties":false,"required":["district","mirrors"],
    "properties":{"district":{"type":"string","minLength":1,"maxLength":100,"x-maxBytes":100},
                  "mirrors":{"$ref":"#/components/schemas/MirrorList"}}}}}},
"Filler": {"type":"object","additionalProperties":false,"required":["playlistId"],"properties":{
  "playlistId":{"type":"integer","nullable":true,"minimum":1,"description":"null: no fleet-wide filler"}}},

"ObservanceCreate": {"type":"object","additionalProperties":false,"required":["name","month","day"],"properties":{
  "name":{"type":"string","minLength":1,"maxLength":100,"x-maxBytes":100,"example":"国家宪法日"},
  "month":{"type":"integer","minimum":1,"maximum":12},"day":{"type":"integer","minimum":1,"maximum":31},
  "theme":{"type":"string","nullable":true,"maxLength":100,"x-maxBytes":100},
  "daysBefore":{"type":"integer","minimum":0,"maximum":60,"description":"the suggested campaign starts this many days before"},
  "daysAfter":{"type":"integer","minimum":0,"maximum":60,"description":"and ends this many days after"}}},
"Observance": {"type":"object","additionalProperties":false,
  "required":["id","name","month","day","theme","daysBefore","daysAfter","updatedAt"],"properties":{
  "id":{"$ref":"#/components/schemas/Id"},"name":{"type":"string"},
  "month":{"type":"integer","minimum":1,"maximum":12},"day":{"type":"integer","minimum":1,"maximum":31},
  "theme":{"type":"string","nullable":true},"daysBefore":{"type":"integer"},"daysAfter":{"type":"integer"},
  "updatedAt":{"$ref":"#/components/schemas/Instant"}}},
"ObservanceList": {"type":"object","additionalProperties":false,"required":["observances"],"properties":{
  "observances":{"type":"array","items":{"$ref":"#/components/schemas/Observance"}}}},

"Preview": {"type":"object","additionalProperties":false,
  "required":["at","timezone","state","source","sourceId","campaignId","nextChange","mediaSha256","mediaId","itemIndex",
              "playlistId"],"properties":{
  "at":{"$ref":"#/components/schemas/Instant"},"timezone":{"type":"string"},
  "state":{"type":"string","enum":["playing","idle","dark"]},
  "source":{"type":"string","enum":["none","takeover","entry","filler"]},
  "sourceId":{"type":"string","nullable":true},"campaignId":{"type":"string","nullable":true},
  "itemStart":{"$ref":"#/components/schemas/Instant"},"itemEnd":{"$ref":"#/components/schemas/Instant"},
  "offsetMs":{"type":"integer"},"nextChange":{"$ref":"#/components/schemas/Instant"},
  "mediaSha256":{"type":"string","nullable":true},"mediaId":{"type":"integer","nullable":true},
  "mediaName":{"type":"string"},"itemIndex":{"type":"integer"},"playlistId":{"type":"integer","nullable":true},
  "failedOnScreen":{"$ref":"#/components/schemas/FailedOnScreen"},
  "standIn":{"$ref":"#/components/schemas/StandIn"},
  "degradedOnScreen":{"$ref":"#/components/schemas/DegradedOnScreen"}}},
"DegradedOnScreen": {"type":"object","nullable":true,"additionalProperties":false,
  "required":["at","frames","framesLate","framesDropped","longestFreezeMs"],
  "description":"the screen's last play of this media was degraded (proof of play: it ran its slot but froze or lost frames): when, and the frame counts of its record",
  "properties":{"at":{"$ref":"#/components/schemas/Instant"},"frames":{"type":"integer"},
  "framesLate":{"type":"integer"},"framesDropped":{"type":"integer"},"longestFreezeMs":{"type":"integer"}}},
"StandIn": {"type":"object","nullable":true,"additionalProperties":false,
  "required":["state","mediaSha256","mediaId","itemIndex","playlistId"],
  "description":"what the screen shows in this slot instead, because the item failed there under the bundle it runs (docs/player-screen.md): the next item of the rotation that did not fail, else the filler's, else the status card (state idle, media null)",
  "properties":{"state":{"type":"string","enum":["playing","idle"]},
  "mediaSha256":{"type":"string","nullable":true},"mediaId":{"type":"integer","nullable":true},
  "mediaName":{"type":"string"},"itemIndex":{"type":"integer"},"playlistId":{"type":"integer","nullable":true}}},
"FailedOnScreen": {"type":"object","nullable":true,"additionalProperties":false,
  "required":["at","reason","failuresLastDay"],
  "description":"the screen's last play of this media failed (proof of play): when, the player's reason, and its failures of this media over the last day",
  "properties":{"at":{"$ref":"#/components/schemas/Instant"},"reason":{"type":"string"},
  "failuresLastDay":{"type":"integer","minimum":1}}},
"Timeline": {"type":"object","additionalProperties":false,"required":["timezone","segments","truncated"],"properties":{
  "timezone":{"type":"string"},"truncated":{"type":"boolean"},
  "segments":{"type":"array","items":{"type":"object","additionalProperties":false,
    "required":["start","end","state","source","sourceId","campaignId","mediaSha256","mediaId","itemIndex","playlistId"],
    "properties":{
    "start":{"$ref":"#/components/schemas/Instant"},"end":{"$ref":"#/components/schemas/Instant"},
    "state":{"type":"string","enum":["playing","idle","dark"]},
    "source":{"type":"string","enum":["none","takeover","entry","filler"]},
    "sourceId":{"type":"string","nullable":true},"campaignId":{"type":"string","nullable":true},
    "mediaSha256":{"type":"string","nullable":true},"mediaId":{"type":"integer","nullable":true},
    "mediaName":{"type":"string"},"itemIndex":{"type":"integer"},"playlistId":{"type":"integer","nullable":true},
    "failedOnScreen":{"$ref":"#/components/schemas/FailedOnScreen"}}}}}},

"PlaysReport": {"type":"object","additionalProperties":false,"required":["from","to","by","rows"],"properties":{
  "from":{"$ref":"#/components/schemas/Date"},"to":{"$ref":"#/components/schemas/Date"},
  "by":{"type":"array","items":{"type":"string"}},
  "rows":{"type":"array","items":{"type":"object","additionalProperties":{"$ref":"#/components/schemas/Row"},
    "required":["completed","degraded","interrupted","failed","plays","on_screen_ms"],"properties":{
    "completed":{"type":"integer"},"interrupted":{"type":"integer"},"failed":{"type":"integer"},
    "degraded":{"type":"integer","description":"plays that ran their whole length but froze or lost frames (docs/proof-of-play.md, Frames); not in completed"},
    "plays":{"type":"integer"},"on_screen_ms":{"type":"integer"},"on_screen_seconds":{"type":"string"}}}}}},
"ScheduledVsPlayed": {"type":"object","additionalProperties":false,"required":["from","to","rows"],"properties":{
  "from":{"$ref":"#/components/schemas/Date"},"to":{"$ref":"#/components/schemas/Date"},
  "rows":{"type":"array","items":{"type":"object","additionalProperties":{"$ref":"#/components/schemas/Row"},
    "required":["screen","day","scheduled_plays","scheduled_ms","completed","degraded","interrupted","failed",
                "on_screen_ms","shortfall"],"properties":{
    "screen":{"type":"string"},"screen_name":{"type":"string"},"day":{"type":"string"},
    "scheduled_plays":{"type":"integer"},"scheduled_ms":{"type":"integer"},"completed":{"type":"integer"},
    "degraded":{"type":"integer"},
    "interrupted":{"type":"integer"},"failed":{"type":"integer"},"on_screen_ms":{"type":"integer"},
    "shortfall":{"type":"integer"}}}}}},
"Uptime": {"type":"object","additionalProperties":false,"required":["from","to","rows"],"properties":{
  "from":{"$ref":"#/components/schemas/Date"},"to":{"$ref":"#/components/schemas/Date"},
  "rows":{"type":"array","items":{"type":"object","additionalProperties":{"$ref":"#/components/schemas/Row"},
    "required":["screen","day"],"properties":{"screen":{"type":"string"},"day":{"type":"string"}}}}}},
"Problems": {"type":"object","additionalProperties":false,"required":["rows"],"properties":{
  "rows":{"type":"array","items":{"type":"object","additionalProperties":{"$ref":"#/components/schemas/Row"},
    "required":["screen","code"],"properties":{"screen":{"type":"string"},"code":{"type":"string"}}}}}},
"Breakdown": {"type":"array","items":{"type":"object","additionalProperties":{"$ref":"#/components/schemas/Row"},
  "required":["screens","completed","on_screen_hours"],"properties":{
  "screens":{"type":"integer"},"completed":{"type":"integer"},"on_screen_hours":{"type":"string"}}}},
"CampaignSummary": {"type":"object","additionalProperties":false,
  "required":["campaign","name","theme","from","to","screens","locations","completed","degraded","interrupted",
              "failed","on_screen_ms","on_screen_hours","by_venue_type","by_theme","by_department"],"properties":{
  "degraded":{"type":"integer"},
  "by_venue_type":{"$ref":"#/components/schemas/Breakdown"},"by_theme":{"$ref":"#/components/schemas/Breakdown"},
  "by_department":{"$ref":"#/components/schemas/Breakdown"},
  "campaign":{"type":"string"},"name":{"type":"string"},"theme":{"type":"string"},
  "from":{"$ref":"#/components/schemas/Date"},"to":{"$ref":"#/components/schemas/Date"},
  "screens":{"type":"integer"},"locations":{"type":"integer"},"completed":{"type":"integer"},
  "interrupted":{"type":"integer"},"failed":{"type":"integer"},"on_screen_ms":{"type":"integer"},
  "on_screen_hours":{"type":"string"}}},
"YearLine": {"type":"object","additionalProperties":false,
  "required":["key","name","screens","locations","completed","degraded","interrupted","failed","plays",
              "on_screen_ms","on_screen_hours"],"properties":{
  "key":{"type":"string"},"name":{"type":"string"},"screens":{"type":"integer"},"locations":{"type":"integer"},
  "degraded":{"type":"integer"},
  "completed":{"type":"integer"},"interrupted":{"type":"integer"},"failed":{"type":"integer"},
  "plays":{"type":"integer"},"on_screen_ms":{"type":"integer"},"on_screen_hours":{"type":"string"}}},
"YearLines": {"type":"array","items":{"$ref":"#/components/schemas/YearLine"}},
"AnnualReport": {"type":"object","additionalProperties":false,
  "required":["year","from","to","total","by_venue_type","by_theme","by_department","by_month","by_campaign",
              "campaigns","takeovers","alert_takeovers","recalls","recalls_completed","scheduled","summary"],"properties":{
  "year":{"type":"integer"},"from":{"$ref":"#/components/schemas/Date"},"to":{"$ref":"#/components/schemas/Date"},
  "total":{"$ref":"#/components/schemas/YearLine"},
  "by_venue_type":{"$ref":"#/components/schemas/YearLines"},"by_theme":{"$ref":"#/components/schemas/YearLines"},
  "by_department":{"$ref":"#/components/schemas/YearLines"},"by_month":{"$ref":"#/components/schemas/YearLines"},
  "by_campaign":{"$ref":"#/components/schemas/YearLines"},
  "campaigns":{"type":"integer","description":"campaigns whose dates meet the year"},
  "takeovers":{"type":"integer","description":"takeovers that started in the year (Beijing time)"},
  "alert_takeovers":{"type":"integer","description":"of those, the ones CAP alerts started (POST /api/v1/alerts or the feed)"},
  "recalls":{"type":"integer","description":"recalls made in the year (Beijing time)"},
  "recalls_completed":{"type":"integer","description":"of them, those every screen has confirmed"},
  "scheduled":{"type":"object","additionalProperties":false,
    "description":"scheduled vs played over the year's local days that have ended (Beijing time)",
    "required":["through","scheduled_plays","scheduled_ms","completed","on_screen_ms","completion_basis_points",
                "uptime_basis_points"],"properties":{
    "through":{"type":"string","format":"date","nullable":true,"description":"the last day counted"},
    "scheduled_plays":{"type":"integer"},"scheduled_ms":{"type":"integer"},"completed":{"type":"integer"},
    "on_screen_ms":{"type":"integer"},
    "completion_basis_points":{"type":"integer","description":"completed / scheduled_plays, in 1/100 %"},
    "uptime_basis_points":{"type":"integer","description":"min(on_screen_ms, scheduled_ms) / scheduled_ms, in 1/100 %"}}},
  "summary":{"type":"string","description":"the paragraph for the yearly report, in Chinese"}}},
"Health": {"type":"object","additionalProperties":false,"required":["status","schemaVersion","time"],"properties":{
  "status":{"type":"string","enum":["ok"]},"schemaVersion":{"type":"integer"},
  "time":{"$ref":"#/components/schemas/Instant"}}}
})json";

// A change (PATCH, or PUT of a playlist) takes any of the fields of a creation,
// with the same rules: "XChange" is "XCreate" without its required list.
constexpr std::pair<const char*, const char*> kChanges[] = {{"LocationChange", "LocationCreate"},
                                                            {"PlaylistChange", "PlaylistCreate"},
                                                            {"CampaignChange", "CampaignCreate"},
                                                            {"ScheduleChange", "ScheduleCreate"},
                                                            {"ObservanceChange", "ObservanceCreate"}};

}  // namespace

const Poco::JSON::Object::Ptr& apiSchemas() {
    static const Poco::JSON::Object::Ptr kParsed = [] {
        Poco::JSON::Parser p;
        auto all = p.parse(kSchemas).extract<Poco::JSON::Object::Ptr>();
        for (const auto& [change, create] : kChanges) {
            Poco::JSON::Parser fresh;
            auto copy = fresh.parse(stringify(all->getObject(create))).extract<Poco::JSON::Object::Ptr>();
            copy->remove("required");
            copy->set("description",
                      std::string("Any of the fields of ") + create + "; those left out stay as they are.");
            all->set(change, copy);
        }
        return all;
    }();
    return kParsed;
}

const SchemaSet& apiSchemaSet() {
    static const SchemaSet kSet(apiSchemas());
    return kSet;
}

}  // namespace microscape::controller
