// The auditor's evidence export (docs/audit-export.md): its model, how it is
// written and read, and the pure offline verification that recomputes play
// counts without trusting the controller. Pure functions over plain values
// (time zones are passed in); thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "microscape/core/crypto.hpp"
#include "microscape/core/manifest.hpp"
#include "microscape/core/pop.hpp"
#include "microscape/core/result.hpp"
#include "microscape/core/tar.hpp"
#include "microscape/core/tz.hpp"

namespace microscape::audit {

// Format 2 adds the controller's hash-chained audit log (audit.jsonl) and its
// head in export.json; format 3 writes both files of every player keys.json
// lists (empty for a player with nothing to prove yet), so that a listed
// player without its files is a failure; format 4 adds each player's
// manifests.jsonl: the signed manifests its play records name (record format
// 2), from which the verifier takes where and in which zone each play was.
// Formats 1 to 3 are still read.
constexpr int kFormatVersion = 4;
inline constexpr std::string_view kExportName = "export.json";
inline constexpr std::string_view kAuditLogName = "audit.jsonl";
inline constexpr std::string_view kExportSigName = "export.sig";
inline constexpr std::string_view kKeysName = "keys.json";
inline constexpr std::string_view kMediaName = "media.json";
// Limits (docs/audit-export.md).
constexpr std::size_t kMaxJsonBytes = 64u << 20;           // export.json, keys.json, media.json
constexpr std::uint64_t kMaxPlayerFileBytes = 4ull << 30;  // one player's records or checkpoints
constexpr std::size_t kMaxPlayers = 100000;
constexpr std::size_t kMaxAuditLineBytes = 1u << 20;  // one audit log row in audit.jsonl

// One row of the controller's audit log (who changed what), hash-chained like
// proof of play (docs/audit-export.md): hash is the SHA-256 of auditRowBytes,
// which includes prevHash, the hash of row seq - 1 (kAuditGenesisHash for seq 1).
struct AuditRow {
    std::int64_t seq = 0;
    std::string prevHash;
    std::int64_t atMs = 0;
    std::optional<std::int64_t> actorId;
    std::string actor;
    std::string action;
    std::string entity;
    std::optional<std::string> entityId;
    std::optional<std::string> beforeJson;
    std::optional<std::string> afterJson;
    std::string hash;  // as stored by the controller
};
inline constexpr std::string_view kAuditGenesisHash =
    "0000000000000000000000000000000000000000000000000000000000000000";

// The last row of the audit log: its seq and stored hash (seq 0 and the genesis
// hash for an empty log).
struct AuditHead {
    std::int64_t seq = 0;
    std::string hash = std::string(kAuditGenesisHash);
    bool operator==(const AuditHead&) const = default;
};

// The canonical JSON of every field but hash: what hash covers.
std::string auditRowBytes(const AuditRow& row);
// Hex SHA-256 of auditRowBytes(row).
std::string auditRowHash(const AuditRow& row);
// One line of audit.jsonl (without LF): auditRowBytes's fields plus "hash".
std::string auditLineBytes(const AuditRow& row);
// Parses one line of audit.jsonl. Errors: BadJson, NotCanonical, BadManifest.
Result<AuditRow> parseAuditLine(std::string_view line);
// "SEQ:HASH" (as microscape-pack audit prints a head). Errors: Usage.
Result<AuditHead> parseAuditHead(std::string_view text);

struct Failure {
    std::string playerId;  // empty for export-level failures
    std::string code;      // stable: "export_signature", "file_hash", a pop::problemName, ...
    std::string message;
    std::string str() const;
};

// Checks an audit log row by row in seq order, holding only the last row's seq
// and hash: each row's hash is its content's, seqs ascend by one from 1, each
// prev is the hash of the row before, and the last row is the head that
// export.json names. Failure codes: audit_hash (a row was edited), audit_gap
// (rows deleted), audit_broken_link, audit_out_of_order, audit_head (rows
// deleted from the end, or the log differs from what was signed), audit_pin
// (an earlier head the auditor kept is not in the log: it was rewritten).
class AuditChainCheck {
  public:
    explicit AuditChainCheck(std::optional<AuditHead> pinned = std::nullopt) : pinned_(std::move(pinned)) {}
    void add(const AuditRow& row);
    std::vector<Failure> finish(const AuditHead& head);
    std::int64_t rows() const { return rows_; }

  private:
    void fail(std::string code, std::string message);
    std::int64_t rows_ = 0;
    std::int64_t lastSeq_ = 0;
    std::string lastHash_ = std::string(kAuditGenesisHash);
    std::optional<AuditHead> pinned_;
    std::optional<std::string> pinnedFound_;  // the stored hash at the pinned seq
    std::vector<Failure> failures_;
    std::size_t dropped_ = 0;  // failures beyond the cap
};

// What the controller knows about one enrolled player, as exported.
struct PlayerEntry {
    std::string playerId;
    std::string publicKeyB64;  // raw 32-byte Ed25519 key, base64
    std::string keyId;         // hex SHA-256 of the raw key
    std::int64_t enrolledAtMs = 0;
    std::string enrolledBy;  // user name of who made the enrolment token
    std::string locationId;
    std::string locationName;
    std::string venueType;
    std::string district;
    std::string timeZone = "Asia/Shanghai";
};

// A keys.json entry's five location fields as a manifest's location (format
// 2 manifests, docs/bundle-format.md), and back.
manifest::Location locationOf(const PlayerEntry& p);
void setLocation(PlayerEntry& p, const manifest::Location& where);

struct MediaName {
    std::string sha256;
    std::string name;
    std::string kind;
    // A file made from an approved original (normalised still, rendition): the
    // original's SHA-256 and what was done ("derived_from" in media.json).
    std::string derivedFromSha256;
    std::string transform;
};

struct FileEntry {
    std::string name;
    std::string sha256;
    std::uint64_t sizeBytes = 0;
};

struct ExportManifest {
    int format = kFormatVersion;
    std::string exportId;
    std::int64_t createdAtMs = 0;
    std::int64_t fromMs = 0;  // counted period [from, to), UTC
    std::int64_t toMs = 0;
    std::string signer;  // controller key id
    std::vector<FileEntry> files;
    // The audit log's last row when the export was made (format 2; required there).
    std::optional<AuditHead> auditHead;
};

// One player's evidence: its whole chain from seq 1, every checkpoint, and
// (format 4) the manifest.json bytes of the manifests its records name.
struct PlayerEvidence {
    std::vector<pop::Record> records;
    std::vector<pop::Checkpoint> checkpoints;
    std::vector<std::string> manifests;
};

struct Export {
    ExportManifest manifest;
    std::string manifestBytes;
    std::string signature;
    std::vector<PlayerEntry> players;
    std::vector<MediaName> media;
    std::map<std::string, PlayerEvidence> evidence;  // by player id (records and checkpoints)
    // manifests.jsonl of each player (format 4): the lines that are manifests,
    // as they are; a player's evidence is its records and checkpoints.
    std::map<std::string, std::vector<std::string>> manifests;
    std::vector<AuditRow> auditRows;  // audit.jsonl, in file order
    bool hasAuditLog = false;         // audit.jsonl is in the archive
    // Players with one of their two files only (records.jsonl or checkpoints.jsonl).
    std::set<std::string> incompleteEvidence;
    // Problems found while reading that do not stop the reading (a malformed
    // record line, a file whose hash differs from export.json): reported by
    // verify() alongside the chain findings.
    std::vector<std::string> readProblems;
};

// Paths inside the export tar.
std::string recordsPath(const std::string& playerId);      // players/<id>/records.jsonl
std::string checkpointsPath(const std::string& playerId);  // players/<id>/checkpoints.jsonl
std::string manifestsPath(const std::string& playerId);    // players/<id>/manifests.jsonl (format 4)

// The canonical bytes of export.json, keys.json and media.json, for writers that
// stream the player files themselves (the controller's). manifestBytes writes
// the manifest as given (format, signer and files included).
std::string manifestBytes(const ExportManifest& manifest);
std::string keysBytes(const std::vector<PlayerEntry>& players);
std::string mediaBytes(const std::vector<MediaName>& media);

// Writes a complete export (signing export.json with the controller key) in
// manifest.format (2 or 3; 2 writes files only for the players evidence holds,
// as earlier controllers did). Records and checkpoints must be in seq order.
// Errors: Io, BadManifest, UnsupportedFormat.
// auditRows: the controller's audit log in seq order (its head goes into export.json).
Status writeExport(tar::ByteSink& sink, ExportManifest manifest, const std::vector<PlayerEntry>& players,
                   const std::vector<MediaName>& media, const std::map<std::string, PlayerEvidence>& evidence,
                   const crypto::PrivateKey& controllerKey, const std::vector<AuditRow>& auditRows = {});

// Reads an export tar. Structural errors (not a tar, a missing or unparsable
// export.json/keys.json, unexpected entries) stop the reading: Errors: tar
// codes, BadJson, NotCanonical, BadManifest, UnsupportedFormat, ExtraEntry,
// DuplicateEntry, MissingMedia (a listed file absent), TooLarge.
Result<Export> readExport(tar::ByteSource& source);

// A play-count row: one media at one location on one local day.
struct CountRow {
    std::string locationId;
    std::string localDate;  // YYYY-MM-DD in the location's zone
    std::string mediaSha256;
    std::int64_t completed = 0;
    std::int64_t degraded = 0;  // ran their whole length, but froze or lost frames
    std::int64_t interrupted = 0;
    std::int64_t failed = 0;
    std::int64_t onScreenMs = 0;  // measured time of completed, degraded and interrupted plays
    bool operator==(const CountRow&) const = default;
};

struct VerifyOptions {
    std::optional<crypto::PublicKey> controllerKey;  // verify export.sig when given
    // Keys obtained independently of the controller (e.g. read off the screens):
    // when a player is listed here, its exported key must match. A non-empty map
    // is a roster: every player in the export must be pinned (unpinned_player)
    // and every pinned player must be in keys.json (pinned_player_missing) with
    // both of its files (missing_evidence).
    std::map<std::string, std::string> pinnedPlayerKeyIds;
    // Pinned keys without the roster rule: players the auditor did not pin are
    // verified under the exported key (as when nothing is pinned) and named
    // in AuditResult::unpinnedPlayers.
    bool allowUnpinned = false;
    // Heads the screens stated on site (microscape-pack audit --head): each
    // player's chain in the export must hold the head's record (head_not_reached,
    // head_mismatch); the head is signed by the player's key (head_signature)
    // and is of a listed player (head_unknown_player). A head the export does
    // not reach that was taken after the export was made is head_after_export.
    std::vector<pop::Head> heads;
    std::map<std::string, tz::Zone> zones;  // by zone name; a missing zone is a failure
    // An audit log head from an earlier export, kept by the auditor: the log must
    // still hold that row with that hash (else audit_pin: it was rewritten).
    std::optional<AuditHead> pinnedAuditHead;
};

// A recall the export's audit log records (docs/audit-export.md, "Recalls"), as
// the screens' own records show it. A play of the recalled media that started
// after the screen confirmed the manifest without it is a problem of the
// network, not a sign of tampering: it is reported here, not as a failure.
struct RecallPlay {
    std::string playerId;
    std::int64_t seq = 0;
    std::int64_t startUtcMs = 0;
    std::int64_t confirmedUtcMs = 0;  // the screen's confirmation it came after
};
struct RecallOutcome {
    std::string id;
    std::string mediaSha256;
    std::string mediaName;
    std::string reason;
    std::int64_t recalledAtMs = 0;
    std::optional<std::int64_t> completedAtMs;  // as the audit log records it
    std::size_t screens = 0;                    // screens the recall names
    std::size_t confirmed = 0;                  // of them, confirmed (audit log or the screen's records)
    std::optional<std::int64_t> lastPlayUtcMs;  // the last play of the media in the export
    std::vector<RecallPlay> playsAfterConfirmation;
};

struct AuditResult {
    std::vector<Failure> failures;
    std::vector<CountRow> counts;  // sorted by location, date, media
    std::size_t players = 0;
    std::size_t records = 0;
    std::size_t checkpoints = 0;
    bool signatureChecked = false;
    // keys.json's players whose key the auditor pinned (and it matched or not),
    // and those verified under the exported key alone; in keys.json order.
    std::vector<std::string> pinnedPlayers;
    std::vector<std::string> unpinnedPlayers;
    // Counted plays, and those of them located by a manifest the screen named
    // (format 2 records and manifests): the rest are located by keys.json, the
    // controller's word.
    std::int64_t countedPlays = 0;
    std::int64_t boundPlays = 0;
    // The display name of each location in counts: that of the counted play
    // first in (player id, seq) order, from its manifest or from keys.json.
    std::map<std::string, std::string> locationNames;
    std::vector<RecallOutcome> recalls;  // by id
    bool auditChecked = false;           // the export holds an audit log (format 2)
    std::int64_t auditRows = 0;
    bool ok() const { return failures.empty(); }
};

// Verifies everything and recomputes the counts. Counting rule (the same the
// controller's reports use): each Play record whose start lies in [from, to)
// counts once for its media, at its location, on the local date of its start
// in its location's zone, as completed, degraded, interrupted or failed. The location and
// zone are those of the manifest the record names (format 2 records, format 2
// manifests), else keys.json's for the player. Records of a player whose chain
// has findings are still counted, but the result is not ok(). options.zones
// must hold the zones of keys.json and of the manifests (verifyExport loads them).
AuditResult verify(const Export& e, const VerifyOptions& options);

// What verifyExport returns: the export's description (for printing) and the
// result of verify().
struct AuditReport {
    ExportManifest manifest;
    std::vector<PlayerEntry> players;
    std::vector<MediaName> media;
    AuditResult result;
    bool streamed = true;  // false: verified in memory (the archive was not in the controller's order)
};

// Opens the export from its beginning; called once, or twice on fallback.
using SourceOpener = std::function<Result<std::unique_ptr<tar::ByteSource>>()>;
// Loads a time zone by name for a player whose zone options.zones lacks;
// std::nullopt when unknown (verify reports unknown_zone).
using ZoneLoader = std::function<std::optional<tz::Zone>(const std::string& name)>;

// readExport + verify in bounded memory: reads the archive once, entry by entry,
// and verifies each player's chain as its records stream past, holding about
// 48 bytes per record of one player (pop::ChainStream) instead of the records.
// An archive in the controller's order (export.json, export.sig, keys.json,
// media.json, then each player's records.jsonl and checkpoints.jsonl in player
// id order) with every player's seqs ascending is verified in that one pass;
// anything else (a hand-made or tampered archive, an unreadable export.json,
// keys.json or media.json) is read again with readExport and verified in
// memory. Either way the result equals verify(*readExport(src), options), and
// the errors are readExport's.
Result<AuditReport> verifyExport(const SourceOpener& open, VerifyOptions options, const ZoneLoader& loadZone = {});

}  // namespace microscape::audit
