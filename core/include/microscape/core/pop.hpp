// Proof of play: the play record, its canonical bytes and hash, the hash chain,
// signed checkpoints, and the pure verifier that an auditor, the controller's
// ingest and the player itself run over them (docs/proof-of-play.md).
// Pure functions over plain values; nothing reads a clock or a file. Thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "microscape/core/crypto.hpp"
#include "microscape/core/json.hpp"
#include "microscape/core/result.hpp"

namespace microscape::pop {

// Record format 2 adds "manifest": the SHA-256 of the signed manifest in force
// when the record was made, so that the screen's own signature covers where it
// was (the manifest's location and zone). Format 3 adds the frame counts of a
// video play ("frames", "frames_late", "frames_dropped", "longest_freeze_ms")
// and the outcome "degraded". Format 1 and 2 records are still read.
constexpr int kFormatVersion = 3;
// A play is complete when it ran its whole scheduled length within this tolerance
// (the usual DOOH auditing rule).
constexpr std::int64_t kCompletionToleranceMs = 500;
// A play that ran its whole length is degraded instead of completed when it
// froze this long (ms between two frames on screen) ...
constexpr std::int64_t kDegradedFreezeMs = 500;
// ... or when more than this share (percent) of its due frames were late or
// dropped: (frames_late + frames_dropped) * 100 > kDegradedSharePercent *
// (frames + frames_dropped), in integers (docs/proof-of-play.md, "Frames").
constexpr std::int64_t kDegradedSharePercent = 5;
// prev of the first record of every player's chain (seq 1): 64 "0" digits.
inline constexpr std::string_view kGenesisHash = "0000000000000000000000000000000000000000000000000000000000000000";
// Documented limits (docs/proof-of-play.md, "Limits").
constexpr std::size_t kMaxRecordBytes = 4096;
constexpr std::size_t kMaxDetailBytes = 512;
constexpr std::size_t kMaxIdBytes = 128;
constexpr std::int64_t kMaxSeq = 9007199254740991;  // 2^53 - 1 (exact in JSON)

enum class Kind {
    Play,       // one item on screen (or its failed attempt)
    ScreenOff,  // the output was dark on purpose (outside operating hours)
    ClockJump,  // the wall clock moved against the monotonic clock
    Start,      // the player (re)started its engine; detail names the software
};
enum class Outcome { None, Completed, Interrupted, Failed, Degraded };

std::string_view kindName(Kind k);        // "play", "screen_off", "clock_jump", "start"
std::string_view outcomeName(Outcome o);  // "", "completed", "interrupted", "failed", "degraded"
std::optional<Kind> kindFromName(std::string_view s);
std::optional<Outcome> outcomeFromName(std::string_view s);

// One entry of a player's journal. Every field is always present in the
// canonical form; strings that do not apply are empty and integers zero.
struct Record {
    int format = kFormatVersion;  // 1: no manifest field; 2: no frame fields
    std::string playerId;
    std::int64_t seq = 0;  // 1, 2, 3 ... per player, gapless
    std::string prevHash;  // hash of record seq-1, kGenesisHash for seq 1
    Kind kind = Kind::Play;
    std::int64_t bundleVersion = 0;
    // Format 2: hex SHA-256 of the manifest.json bytes in force (for a takeover
    // play, of the takeover's manifest); empty before the first bundle, and
    // always in format 1.
    std::string manifestSha256;
    std::string mediaSha256;  // Play: the media; otherwise empty
    std::string playlistId;
    std::string scheduleId;  // entry or takeover id; empty for the filler
    std::string source;      // "entry", "takeover", "filler" or empty
    std::string campaignId;
    std::int64_t startUtcMs = 0;      // first frame on screen (ScreenOff: dark from)
    std::int64_t endUtcMs = 0;        // last frame on screen (ScreenOff: dark until)
    std::int64_t scheduledMs = 0;     // Play: length of the item's slot
    std::int64_t measuredMs = 0;      // monotonic clock, start to end
    Outcome outcome = Outcome::None;  // Play only
    std::string frameDigest;          // hex SHA-256 of a rendered frame; empty: absent
    std::int64_t clockSkewMs = 0;     // last known (player - controller) offset
    std::string detail;               // failure reason or event text, UTF-8
    // Format 3, a video play: frames shown on air, of them shown late, frames
    // due but never shown, and the longest time between two frames on screen
    // (ms). Zero for stills, audio, failed plays and other kinds, and always
    // in formats 1 and 2.
    std::int64_t frames = 0;
    std::int64_t framesLate = 0;
    std::int64_t framesDropped = 0;
    std::int64_t longestFreezeMs = 0;

    bool operator==(const Record&) const = default;
};

// True when a play's frame counts make it degraded (kDegradedFreezeMs,
// kDegradedSharePercent); false for all zeros.
bool framesDegraded(std::int64_t frames, std::int64_t framesLate, std::int64_t framesDropped,
                    std::int64_t longestFreezeMs);

// Outcome rule for a play that reached the screen: Completed when it ran within
// kCompletionToleranceMs of its whole scheduled length, Interrupted otherwise.
Outcome classify(std::int64_t scheduledMs, std::int64_t measuredMs);
// The same, then Degraded instead of Completed when framesDegraded(r's counts).
Outcome classify(const Record& r);

// Field checks (ids, hex, ranges, consistency of kind and outcome).
// Errors: BadManifest naming the field.
Status validate(const Record& r);

json::Value toJson(const Record& r);
// The exact bytes that are hashed (canonical JSON, docs/canonical-json.md).
std::string canonicalBytes(const Record& r);
// Lowercase hex SHA-256 of canonicalBytes(r).
std::string recordHash(const Record& r);
// Reads canonical record bytes: size limit, strict canonical JSON, every field,
// no unknown ones, then validate(). Errors: TooLarge, BadJson, NotCanonical,
// UnsupportedFormat, BadManifest.
Result<Record> parseRecord(std::string_view bytes);
Result<Record> recordFromJson(const json::Value& v);

// Checkpoint format 2 chains checkpoints: each names the hash of the one before
// (prev_checkpoint). Format 1 checkpoints (without it) are still read.
constexpr int kCheckpointFormat = 2;

// A player's signed statement: "my chain up to lastSeq ends in lastHash".
// count = lastSeq - firstSeq + 1 records since the previous checkpoint (a batch).
struct Checkpoint {
    int format = kCheckpointFormat;
    // Format 2: checkpointHash of the checkpoint this player made before this
    // one; kGenesisHash for its first (or its first after an upgrade from
    // format 1). Empty in format 1.
    std::string prevCheckpoint;
    std::string playerId;
    std::int64_t firstSeq = 0;
    std::int64_t lastSeq = 0;
    std::string lastHash;
    std::int64_t count = 0;
    std::int64_t createdUtcMs = 0;
    std::string keyId;      // id() of the signing public key
    std::string signature;  // 64 raw bytes (base64 in JSON)

    bool operator==(const Checkpoint&) const = default;
};

// The bytes that are signed: canonical JSON of every field except the signature.
std::string signedBytes(const Checkpoint& c);
// Fills keyId and signature.
void sign(Checkpoint& c, const crypto::PrivateKey& key);
// Errors: UnknownSigner (keyId is not the key's id), BadSignature.
Status verifySignature(const Checkpoint& c, const crypto::PublicKey& key);
json::Value toJson(const Checkpoint& c);
std::string canonicalBytes(const Checkpoint& c);
Result<Checkpoint> parseCheckpoint(std::string_view bytes);
Result<Checkpoint> checkpointFromJson(const json::Value& v);

// Lowercase hex SHA-256 of canonicalBytes(c) (signature included): what the
// next checkpoint's prev_checkpoint names.
std::string checkpointHash(const Checkpoint& c);

// Builds a checkpoint over records (ascending, contiguous) and signs it: format
// 2 naming prevCheckpoint when given, else a format 1 checkpoint (as players
// made before checkpoints were chained). Precondition: !records.empty().
Checkpoint makeCheckpoint(std::span<const Record> records, std::int64_t createdUtcMs, const crypto::PrivateKey& key,
                          const std::optional<std::string>& prevCheckpoint = std::nullopt);

// A screen's own statement of its journal's head, collected on site
// (`microscape-player head`) independently of the controller: "my chain ends
// at seq with hash" at createdUtcMs, signed by the player's identity key. An
// export that does not reach it has lost records from its end.
struct Head {
    std::string playerId;
    std::int64_t seq = 0;  // 0: nothing journalled yet (hash is kGenesisHash)
    std::string hash;      // hash of record seq
    std::int64_t createdUtcMs = 0;
    std::string keyId;
    std::string signature;  // 64 raw bytes (base64 in JSON)
    bool operator==(const Head&) const = default;
};
std::string signedBytes(const Head& h);
void sign(Head& h, const crypto::PrivateKey& key);
// Errors: UnknownSigner (keyId is not the key's id), BadSignature.
Status verifySignature(const Head& h, const crypto::PublicKey& key);
std::string canonicalBytes(const Head& h);
// Errors: TooLarge, BadJson, NotCanonical, UnsupportedFormat, BadManifest.
Result<Head> parseHead(std::string_view bytes);

// A batch as uploaded (the PROOFS payload) and as exported: one canonical record
// per line in seq order, then the checkpoint over them on the last line; every
// line ends in "\n" (docs/proof-of-play.md, "Batch").
constexpr std::size_t kMaxBatchRecords = 1000;
struct Batch {
    std::vector<Record> records;
    Checkpoint checkpoint;
};
std::string encodeBatch(const Batch& b);
// Parses the lines (each record and the checkpoint as by parseRecord and
// parseCheckpoint) and checks the shape: 1..kMaxBatchRecords records, the
// checkpoint last and naming exactly the first and last record's seqs. It does
// not verify links or signatures: that is verifyChain's job.
// Errors: TooLarge, BadJson, NotCanonical, UnsupportedFormat, BadManifest.
Result<Batch> parseBatch(std::string_view body);

// ---------------------------------------------------------------------------
// Verification.

enum class Problem {
    BadRecord,             // a record is not well-formed (validate failed)
    WrongPlayer,           // a record or checkpoint of another player
    OutOfOrder,            // seq not above the one before it in the input (reordered)
    Duplicate,             // the same record twice
    Conflict,              // two different records with the same seq (forged or inserted)
    Gap,                   // seqs missing (removed records)
    BrokenLink,            // prev does not match the hash of the record before (altered or inserted)
    BadGenesis,            // seq 1 does not start from the genesis hash
    AnchorMismatch,        // the first record does not continue the given anchor
    BadCheckpoint,         // not well-formed, or count/firstSeq inconsistent
    CheckpointSignature,   // signature does not verify under the player's key
    CheckpointMismatch,    // the record at lastSeq does not hash to lastHash (altered)
    CheckpointMissing,     // the checkpoint names a seq that is not among the records (removed)
    Unsigned,              // records after the last checkpoint
    CheckpointOrder,       // a checkpoint ends before the one before it (reordered)
    CheckpointDuplicate,   // two checkpoints end at the same seq
    CheckpointGap,         // records under no checkpoint of their own batch (one removed)
    CheckpointOverlap,     // a chained checkpoint starts inside the one before it
    CheckpointBrokenLink,  // prev_checkpoint is not the hash of the checkpoint before
};
std::string_view problemName(Problem p);  // "broken_link", ... (stable; printed by tools)

struct Finding {
    Problem problem = Problem::BadRecord;
    std::int64_t seq = 0;   // the record (or checkpoint lastSeq) concerned; 0 if none
    std::size_t index = 0;  // position in the input list (records or checkpoints)
    std::string message;

    std::string str() const;  // "broken_link seq 12: ..."
};

// Where a partial chain continues from: the last record already verified and
// stored (the controller's ingest), or none for a chain from seq 1.
struct Anchor {
    std::int64_t seq = 0;
    std::string hash;
};

struct Report {
    std::vector<Finding> findings;
    std::int64_t firstSeq = 0;  // of the verified chain (after ordering)
    std::int64_t lastSeq = 0;
    std::string lastHash;
    std::size_t records = 0;  // distinct records examined
    bool ok() const { return findings.empty(); }
};

// Verifies one player's records and checkpoints: every record well-formed and of
// this player, seqs strictly ascending in the input and contiguous, each prev the
// hash of the record before (or the genesis/anchor), every checkpoint signed by
// playerKey and matching the record it names, and every record covered by a
// checkpoint. Reports every finding (not only the first); the order of findings
// follows the input. Records are expected in seq order (an export's order).
Report verifyChain(std::string_view playerId, std::span<const Record> records, std::span<const Checkpoint> checkpoints,
                   const crypto::PublicKey& playerKey, const std::optional<Anchor>& anchor = std::nullopt);

// The order of one player's checkpoints, fed the signed, well-formed ones in
// input order: each ends after the one before (CheckpointOrder,
// CheckpointDuplicate) and starts no later than just after it (CheckpointGap;
// the first starts at seq 1, or just after the anchor); a format 2 checkpoint
// starts exactly there (CheckpointOverlap) and names the one before
// (CheckpointBrokenLink). Format 1 checkpoints may overlap (players re-made a
// re-sent batch's checkpoint over more records), and so may the first format 2
// checkpoint after them. One thread at a time.
class CheckpointOrderCheck {
  public:
    explicit CheckpointOrderCheck(std::int64_t anchorSeq = 0, bool anchored = false)
        : anchorSeq_(anchorSeq), anchored_(anchored) {}
    void add(const Checkpoint& c, std::size_t index, std::vector<Finding>& out);

  private:
    std::int64_t anchorSeq_;
    bool anchored_;
    bool any_ = false;
    std::int64_t lastSeq_ = 0;
    int lastFormat_ = 0;
    std::string lastHash_;
};

// verifyChain one record at a time, for a chain from seq 1 read from a stream
// (an evidence export): it holds 48 bytes per record (seq, position, hash), not
// the records. Fed records in ascending seq order (duplicates and conflicts
// included), it reports exactly what verifyChain reports over the same lists.
// A record whose seq is below one already seen and not present (a reordered
// chain) cannot be checked in one pass: addRecord returns false and the caller
// must run verifyChain over the whole list instead. One thread at a time.
class ChainStream {
  public:
    ChainStream(std::string playerId, crypto::PublicKey playerKey);
    // Feed every record of the input list, in input order. Returns false if the
    // chain is reordered (see above); the stream is then unusable.
    [[nodiscard]] bool addRecord(const Record& r);
    // Feed every checkpoint, in input order, after the last record.
    void addCheckpoint(const Checkpoint& c);
    // The report verifyChain would give. Call once, last.
    Report finish();
    // The hash of the first record fed with this seq (nullopt: none). Valid after finish().
    std::optional<std::string> hashAt(std::int64_t seq) const;

  private:
    struct Entry {
        std::int64_t seq;
        std::size_t index;
        crypto::Digest hash;
    };
    const Entry* find(std::int64_t seq) const;

    std::string playerId_;
    crypto::PublicKey key_;
    std::vector<Entry> entries_;   // ascending seq
    std::vector<Finding> pass1_;   // per record, as verifyChain's first pass
    std::vector<Finding> pass2_;   // contiguity and links
    std::vector<Finding> checks_;  // checkpoints
    CheckpointOrderCheck order_;
    std::size_t recordIndex_ = 0;
    std::size_t checkpointIndex_ = 0;
    std::int64_t maxSeen_ = 0;
    std::int64_t covered_ = 0;
};

}  // namespace microscape::pop
