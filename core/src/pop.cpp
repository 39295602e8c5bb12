#include "microscape/core/pop.hpp"
#include "microscape/core/time.hpp"

#include <algorithm>
#include <cstdlib>
#include <map>
#include <set>

#include "microscape/core/json_fields.hpp"
#include "microscape/core/manifest.hpp"

namespace microscape::pop {

namespace {

using timeutil::kMaxUtcMs;  // year 10000, exclusive

Error bad(std::string msg) {
    return makeError(Errc::BadManifest, std::move(msg));
}

bool optionalId(std::string_view s) {
    return s.empty() || manifest::isValidId(s);
}

}  // namespace

std::string_view kindName(Kind k) {
    switch (k) {
        case Kind::Play:
            return "play";
        case Kind::ScreenOff:
            return "screen_off";
        case Kind::ClockJump:
            return "clock_jump";
        case Kind::Start:
            return "start";
    }
    return "play";
}

std::string_view outcomeName(Outcome o) {
    switch (o) {
        case Outcome::None:
            return "";
        case Outcome::Completed:
            return "completed";
        case Outcome::Interrupted:
            return "interrupted";
        case Outcome::Failed:
            return "failed";
        case Outcome::Degraded:
            return "degraded";
    }
    return "";
}

std::optional<Kind> kindFromName(std::string_view s) {
    for (Kind k : {Kind::Play, Kind::ScreenOff, Kind::ClockJump, Kind::Start})
        if (kindName(k) == s) return k;
    return std::nullopt;
}

std::optional<Outcome> outcomeFromName(std::string_view s) {
    for (Outcome o : {Outcome::None, Outcome::Completed, Outcome::Interrupted, Outcome::Failed, Outcome::Degraded})
        if (outcomeName(o) == s) return o;
    return std::nullopt;
}

Outcome classify(std::int64_t scheduledMs, std::int64_t measuredMs) {
    return std::llabs(measuredMs - scheduledMs) <= kCompletionToleranceMs ? Outcome::Completed : Outcome::Interrupted;
}

bool framesDegraded(std::int64_t frames, std::int64_t framesLate, std::int64_t framesDropped,
                    std::int64_t longestFreezeMs) {
    if (longestFreezeMs >= kDegradedFreezeMs) return true;
    return (framesLate + framesDropped) * 100 > kDegradedSharePercent * (frames + framesDropped);
}

Outcome classify(const Record& r) {
    Outcome o = classify(r.scheduledMs, r.measuredMs);
    if (o == Outcome::Completed && framesDegraded(r.frames, r.framesLate, r.framesDropped, r.longestFreezeMs))
        return Outcome::Degraded;
    return o;
}

Status validate(const Record& r) {
    if (r.format < 1 || r.format > kFormatVersion)
        return makeError(Errc::UnsupportedFormat, "record: format " + std::to_string(r.format) + " is not understood");
    if (r.format == 1 ? !r.manifestSha256.empty() : !r.manifestSha256.empty() && !crypto::isSha256Hex(r.manifestSha256))
        return bad("record: manifest must be empty or 64 lowercase hex digits (format 2 only)");
    if (r.format < 3 &&
        (r.frames || r.framesLate || r.framesDropped || r.longestFreezeMs || r.outcome == Outcome::Degraded))
        return bad("record: frames, frames_late, frames_dropped, longest_freeze_ms and degraded are format 3 only");
    if (r.frames < 0 || r.frames > kMaxSeq || r.framesLate < 0 || r.framesLate > r.frames || r.framesDropped < 0 ||
        r.framesDropped > kMaxSeq || r.longestFreezeMs < 0 || r.longestFreezeMs > kMaxUtcMs)
        return bad("record: frames, frames_dropped and longest_freeze_ms must be 0 .. 2^53-1, frames_late 0 .. frames");
    if (!manifest::isValidId(r.playerId)) return bad("record: player must be 1-128 characters of [A-Za-z0-9._:@-]");
    if (r.seq < 1 || r.seq > kMaxSeq) return bad("record: seq out of range");
    if (!crypto::isSha256Hex(r.prevHash)) return bad("record: prev must be 64 lowercase hex digits");
    if (r.bundleVersion < 0) return bad("record: bundle_version must not be negative");
    if (!optionalId(r.playlistId)) return bad("record: playlist is not a valid id");
    if (!optionalId(r.scheduleId)) return bad("record: schedule is not a valid id");
    if (!optionalId(r.campaignId)) return bad("record: campaign is not a valid id");
    if (!r.source.empty() && r.source != "entry" && r.source != "takeover" && r.source != "filler")
        return bad("record: source must be \"entry\", \"takeover\", \"filler\" or empty");
    if (r.startUtcMs < 0 || r.startUtcMs >= kMaxUtcMs || r.endUtcMs < 0 || r.endUtcMs >= kMaxUtcMs)
        return bad("record: start_utc_ms/end_utc_ms out of range");
    if (r.kind != Kind::ClockJump && r.endUtcMs < r.startUtcMs) return bad("record: end_utc_ms before start_utc_ms");
    if (r.scheduledMs < 0 || r.scheduledMs > kMaxUtcMs) return bad("record: scheduled_ms out of range");
    if (r.measuredMs < 0 || r.measuredMs > kMaxUtcMs) return bad("record: measured_ms out of range");
    if (std::llabs(r.clockSkewMs) >= kMaxUtcMs) return bad("record: clock_skew_ms out of range");
    if (!r.frameDigest.empty() && !crypto::isSha256Hex(r.frameDigest))
        return bad("record: frame_digest must be empty or 64 lowercase hex digits");
    if (r.detail.size() > kMaxDetailBytes || !json::isValidUtf8(r.detail))
        return bad("record: detail must be valid UTF-8 of at most 512 bytes");
    if (r.kind == Kind::Play) {
        if (!crypto::isSha256Hex(r.mediaSha256)) return bad("record: a play needs media (64 lowercase hex digits)");
        if (r.outcome == Outcome::None) return bad("record: a play needs an outcome");
        if ((r.outcome == Outcome::Completed || r.outcome == Outcome::Degraded) &&
            classify(r.scheduledMs, r.measuredMs) != Outcome::Completed)
            return bad("record: " + std::string(outcomeName(r.outcome)) +
                       ", but measured_ms is not within 500 ms of scheduled_ms");
        const bool degraded = framesDegraded(r.frames, r.framesLate, r.framesDropped, r.longestFreezeMs);
        if (r.outcome == Outcome::Completed && degraded)
            return bad(
                "record: completed, but its frames say degraded (a freeze of 500 ms or more, or more than 5% "
                "of its frames late or dropped)");
        if (r.outcome == Outcome::Degraded && !degraded)
            return bad(
                "record: degraded, but its frames say completed (no freeze of 500 ms, at most 5% of its "
                "frames late or dropped)");
    } else {
        if (!r.mediaSha256.empty()) return bad("record: only a play names media");
        if (r.outcome != Outcome::None) return bad("record: only a play has an outcome");
        if (r.frames || r.framesLate || r.framesDropped || r.longestFreezeMs)
            return bad("record: only a play has frames");
    }
    return {};
}

json::Value toJson(const Record& r) {
    json::Object o;
    o["format"] = r.format;
    if (r.format >= 2) o["manifest"] = r.manifestSha256;
    o["player"] = r.playerId;
    o["seq"] = r.seq;
    o["prev"] = r.prevHash;
    o["kind"] = std::string(kindName(r.kind));
    o["bundle_version"] = r.bundleVersion;
    o["media"] = r.mediaSha256;
    o["playlist"] = r.playlistId;
    o["schedule"] = r.scheduleId;
    o["source"] = r.source;
    o["campaign"] = r.campaignId;
    o["start_utc_ms"] = r.startUtcMs;
    o["end_utc_ms"] = r.endUtcMs;
    o["scheduled_ms"] = r.scheduledMs;
    o["measured_ms"] = r.measuredMs;
    o["outcome"] = std::string(outcomeName(r.outcome));
    o["frame_digest"] = r.frameDigest;
    o["clock_skew_ms"] = r.clockSkewMs;
    o["detail"] = r.detail;
    if (r.format >= 3) {
        o["frames"] = r.frames;
        o["frames_late"] = r.framesLate;
        o["frames_dropped"] = r.framesDropped;
        o["longest_freeze_ms"] = r.longestFreezeMs;
    }
    return json::Value(std::move(o));
}

std::string canonicalBytes(const Record& r) {
    return json::canonical(toJson(r));
}

std::string recordHash(const Record& r) {
    return crypto::sha256Hex(canonicalBytes(r));
}

Result<Record> recordFromJson(const json::Value& v) {
    auto fields = json::Fields::of(v, "record");
    if (!fields) return fields.error();
    json::Fields& f = *fields;
    std::int64_t format = 0;
    MS_TRY(f.read("format", format));
    if (format < 1 || format > kFormatVersion)
        return makeError(Errc::UnsupportedFormat, "record: format " + std::to_string(format) + " is not understood");
    Record r;
    r.format = static_cast<int>(format);
    if (r.format >= 2) MS_TRY(f.read("manifest", r.manifestSha256));
    std::string kind, outcome;
    MS_TRY(f.read("player", r.playerId));
    MS_TRY(f.read("seq", r.seq));
    MS_TRY(f.read("prev", r.prevHash));
    MS_TRY(f.read("kind", kind));
    MS_TRY(f.read("bundle_version", r.bundleVersion));
    MS_TRY(f.read("media", r.mediaSha256));
    MS_TRY(f.read("playlist", r.playlistId));
    MS_TRY(f.read("schedule", r.scheduleId));
    MS_TRY(f.read("source", r.source));
    MS_TRY(f.read("campaign", r.campaignId));
    MS_TRY(f.read("start_utc_ms", r.startUtcMs));
    MS_TRY(f.read("end_utc_ms", r.endUtcMs));
    MS_TRY(f.read("scheduled_ms", r.scheduledMs));
    MS_TRY(f.read("measured_ms", r.measuredMs));
    MS_TRY(f.read("outcome", outcome));
    MS_TRY(f.read("frame_digest", r.frameDigest));
    MS_TRY(f.read("clock_skew_ms", r.clockSkewMs));
    MS_TRY(f.read("detail", r.detail));
    if (r.format >= 3) {
        MS_TRY(f.read("frames", r.frames));
        MS_TRY(f.read("frames_late", r.framesLate));
        MS_TRY(f.read("frames_dropped", r.framesDropped));
        MS_TRY(f.read("longest_freeze_ms", r.longestFreezeMs));
    }
    MS_TRY(f.finish());
    auto k = kindFromName(kind);
    if (!k) return bad("record: unknown kind \"" + kind + "\"");
    r.kind = *k;
    auto o = outcomeFromName(outcome);
    if (!o) return bad("record: unknown outcome \"" + outcome + "\"");
    r.outcome = *o;
    MS_TRY(validate(r));
    return r;
}

namespace {

// A reader for the usual case, several times faster than the generic one: the
// line is exactly a canonical record (every field, in sorted order, integers in
// shortest form, strings without escapes or control characters) whose fields
// validate. Anything else gives nullopt and the generic parser decides, so the
// two accept exactly the same lines.
class FastRecordReader {
  public:
    explicit FastRecordReader(std::string_view s) : s_(s) {}

    std::optional<Record> read() {
        Record r;
        std::int64_t format = 0;
        std::string kind, outcome;
        if (!(lit("{\"bundle_version\":") && integer(r.bundleVersion) && lit(",\"campaign\":") && str(r.campaignId) &&
              lit(",\"clock_skew_ms\":") && integer(r.clockSkewMs) && lit(",\"detail\":") && str(r.detail) &&
              lit(",\"end_utc_ms\":") && integer(r.endUtcMs) && lit(",\"format\":") && integer(format) &&
              lit(",\"frame_digest\":") && str(r.frameDigest) && framesFields(format, r) && lit(",\"kind\":") &&
              str(kind) && freezeField(format, r) && manifestField(format, r.manifestSha256) &&
              lit(",\"measured_ms\":") && integer(r.measuredMs) && lit(",\"media\":") && str(r.mediaSha256) &&
              lit(",\"outcome\":") && str(outcome) && lit(",\"player\":") && str(r.playerId) && lit(",\"playlist\":") &&
              str(r.playlistId) && lit(",\"prev\":") && str(r.prevHash) && lit(",\"schedule\":") && str(r.scheduleId) &&
              lit(",\"scheduled_ms\":") && integer(r.scheduledMs) && lit(",\"seq\":") && integer(r.seq) &&
              lit(",\"source\":") && str(r.source) && lit(",\"start_utc_ms\":") && integer(r.startUtcMs) && lit("}") &&
              pos_ == s_.size()))
            return std::nullopt;
        if (format < 1 || format > kFormatVersion) return std::nullopt;
        r.format = static_cast<int>(format);
        auto k = kindFromName(kind);
        auto o = outcomeFromName(outcome);
        if (!k || !o) return std::nullopt;
        r.kind = *k;
        r.outcome = *o;
        if (!validate(r)) return std::nullopt;  // validate checks detail's UTF-8; the other fields are ASCII
        return r;
    }

  private:
    // Format 2's "manifest" (between "kind" and "measured_ms"); the format is
    // read before it, and format 1 has none.
    // Format 3's frame counts: "frames", "frames_dropped", "frames_late" after
    // "frame_digest", and "longest_freeze_ms" after "kind".
    bool framesFields(std::int64_t format, Record& r) {
        if (format < 3) return true;
        return lit(",\"frames\":") && integer(r.frames) && lit(",\"frames_dropped\":") && integer(r.framesDropped) &&
               lit(",\"frames_late\":") && integer(r.framesLate);
    }
    bool freezeField(std::int64_t format, Record& r) {
        if (format < 3) return true;
        return lit(",\"longest_freeze_ms\":") && integer(r.longestFreezeMs);
    }
    bool manifestField(std::int64_t format, std::string& out) {
        if (format == 1) return true;
        return lit(",\"manifest\":") && str(out);
    }
    bool lit(std::string_view l) {
        if (s_.compare(pos_, l.size(), l) != 0) return false;
        pos_ += l.size();
        return true;
    }
    bool str(std::string& out) {
        if (pos_ >= s_.size() || s_[pos_] != '"') return false;
        const std::size_t start = ++pos_;
        while (pos_ < s_.size()) {
            const auto c = static_cast<unsigned char>(s_[pos_]);
            if (c == '"') break;
            if (c == '\\' || c < 0x20) return false;
            ++pos_;
        }
        if (pos_ >= s_.size()) return false;
        out.assign(s_.data() + start, pos_ - start);
        ++pos_;
        return true;
    }
    bool integer(std::int64_t& out) {
        const bool neg = pos_ < s_.size() && s_[pos_] == '-';
        if (neg) ++pos_;
        auto digit = [&] { return pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9'; };
        if (!digit()) return false;
        if (s_[pos_] == '0') {  // "0" alone; no "-0", no leading zeros
            ++pos_;
            out = 0;
            return !neg && !digit();
        }
        const std::size_t start = pos_;
        std::int64_t v = 0;
        while (digit()) {
            if (pos_ - start >= 16) return false;  // 2^53-1 has 16 digits
            v = v * 10 + (s_[pos_] - '0');
            ++pos_;
        }
        if (v > 9007199254740991LL) return false;
        out = neg ? -v : v;
        return true;
    }

    std::string_view s_;
    std::size_t pos_ = 0;
};

}  // namespace

Result<Record> parseRecord(std::string_view bytes) {
    if (bytes.size() > kMaxRecordBytes) return makeError(Errc::TooLarge, "record: longer than 4096 bytes");
    if (auto fast = FastRecordReader(bytes).read()) return std::move(*fast);
    auto v = json::parseCanonical(bytes);
    if (!v) return v.error();
    return recordFromJson(*v);
}

// ---------------------------------------------------------------------------
// Checkpoints.

namespace {

json::Object checkpointFields(const Checkpoint& c) {
    json::Object o;
    o["format"] = c.format;
    if (c.format >= 2) o["prev_checkpoint"] = c.prevCheckpoint;
    o["type"] = "checkpoint";
    o["player"] = c.playerId;
    o["first_seq"] = c.firstSeq;
    o["last_seq"] = c.lastSeq;
    o["last_hash"] = c.lastHash;
    o["count"] = c.count;
    o["created_utc_ms"] = c.createdUtcMs;
    o["key"] = c.keyId;
    return o;
}

Status validateCheckpoint(const Checkpoint& c) {
    if (c.format != 1 && c.format != kCheckpointFormat)
        return makeError(Errc::UnsupportedFormat,
                         "checkpoint: format " + std::to_string(c.format) + " is not understood");
    if (c.format >= 2 ? !crypto::isSha256Hex(c.prevCheckpoint) : !c.prevCheckpoint.empty())
        return bad("checkpoint: prev_checkpoint must be 64 lowercase hex digits (format 2 only)");
    if (!manifest::isValidId(c.playerId)) return bad("checkpoint: player is not a valid id");
    if (c.firstSeq < 1 || c.lastSeq < c.firstSeq || c.lastSeq > kMaxSeq)
        return bad("checkpoint: need 1 <= first_seq <= last_seq");
    if (c.count != c.lastSeq - c.firstSeq + 1) return bad("checkpoint: count is not last_seq - first_seq + 1");
    if (!crypto::isSha256Hex(c.lastHash)) return bad("checkpoint: last_hash must be 64 lowercase hex digits");
    if (c.createdUtcMs < 0 || c.createdUtcMs >= kMaxUtcMs) return bad("checkpoint: created_utc_ms out of range");
    if (!crypto::isSha256Hex(c.keyId)) return bad("checkpoint: key must be 64 lowercase hex digits");
    if (c.signature.size() != 64) return bad("checkpoint: signature must be 64 bytes");
    return {};
}

}  // namespace

std::string signedBytes(const Checkpoint& c) {
    return json::canonical(json::Value(checkpointFields(c)));
}

void sign(Checkpoint& c, const crypto::PrivateKey& key) {
    c.keyId = key.publicKey().id();
    c.signature = key.sign(signedBytes(c));
}

Status verifySignature(const Checkpoint& c, const crypto::PublicKey& key) {
    if (c.keyId != key.id())
        return makeError(Errc::UnknownSigner, "checkpoint: signed by key " + c.keyId + ", expected " + key.id());
    if (!key.verify(signedBytes(c), c.signature))
        return makeError(Errc::BadSignature, "checkpoint: signature does not verify");
    return {};
}

json::Value toJson(const Checkpoint& c) {
    json::Object o = checkpointFields(c);
    o["sig"] = crypto::base64Encode(c.signature);
    return json::Value(std::move(o));
}

std::string canonicalBytes(const Checkpoint& c) {
    return json::canonical(toJson(c));
}

Result<Checkpoint> checkpointFromJson(const json::Value& v) {
    auto fields = json::Fields::of(v, "checkpoint");
    if (!fields) return fields.error();
    json::Fields& f = *fields;
    std::int64_t format = 0;
    MS_TRY(f.read("format", format));
    if (format != 1 && format != kCheckpointFormat)
        return makeError(Errc::UnsupportedFormat,
                         "checkpoint: format " + std::to_string(format) + " is not understood");
    std::string type, sig;
    MS_TRY(f.read("type", type));
    if (type != "checkpoint") return bad("checkpoint: type must be \"checkpoint\"");
    Checkpoint c;
    c.format = static_cast<int>(format);
    if (c.format >= 2) MS_TRY(f.read("prev_checkpoint", c.prevCheckpoint));
    MS_TRY(f.read("player", c.playerId));
    MS_TRY(f.read("first_seq", c.firstSeq));
    MS_TRY(f.read("last_seq", c.lastSeq));
    MS_TRY(f.read("last_hash", c.lastHash));
    MS_TRY(f.read("count", c.count));
    MS_TRY(f.read("created_utc_ms", c.createdUtcMs));
    MS_TRY(f.read("key", c.keyId));
    MS_TRY(f.read("sig", sig));
    MS_TRY(f.finish());
    auto raw = crypto::base64Decode(sig);
    if (!raw) return bad("checkpoint: sig is not base64");
    c.signature = std::move(*raw);
    MS_TRY(validateCheckpoint(c));
    return c;
}

Result<Checkpoint> parseCheckpoint(std::string_view bytes) {
    if (bytes.size() > kMaxRecordBytes) return makeError(Errc::TooLarge, "checkpoint: longer than 4096 bytes");
    auto v = json::parseCanonical(bytes);
    if (!v) return v.error();
    return checkpointFromJson(*v);
}

std::string checkpointHash(const Checkpoint& c) {
    return crypto::sha256Hex(canonicalBytes(c));
}

Checkpoint makeCheckpoint(std::span<const Record> records, std::int64_t createdUtcMs, const crypto::PrivateKey& key,
                          const std::optional<std::string>& prevCheckpoint) {
    assert(!records.empty());
    Checkpoint c;
    c.format = prevCheckpoint ? kCheckpointFormat : 1;
    c.prevCheckpoint = prevCheckpoint.value_or("");
    c.playerId = records.front().playerId;
    c.firstSeq = records.front().seq;
    c.lastSeq = records.back().seq;
    c.lastHash = recordHash(records.back());
    c.count = c.lastSeq - c.firstSeq + 1;
    c.createdUtcMs = createdUtcMs;
    sign(c, key);
    return c;
}

std::string encodeBatch(const Batch& b) {
    std::string out;
    for (const auto& r : b.records) {
        out += canonicalBytes(r);
        out += '\n';
    }
    out += canonicalBytes(b.checkpoint);
    out += '\n';
    return out;
}

Result<Batch> parseBatch(std::string_view body) {
    if (body.size() > (kMaxBatchRecords + 1) * (kMaxRecordBytes + 1))
        return makeError(Errc::TooLarge, "batch: too large");
    if (body.empty() || body.back() != '\n') return bad("batch: must end with a newline");
    std::vector<std::string_view> lines;
    std::size_t pos = 0;
    while (pos < body.size()) {
        std::size_t nl = body.find('\n', pos);
        lines.push_back(body.substr(pos, nl - pos));
        pos = nl + 1;
    }
    if (lines.size() < 2) return bad("batch: needs at least one record and a checkpoint");
    if (lines.size() - 1 > kMaxBatchRecords) return makeError(Errc::TooLarge, "batch: more than 1000 records");
    Batch b;
    for (std::size_t i = 0; i + 1 < lines.size(); ++i) {
        auto r = parseRecord(lines[i]);
        if (!r) return makeError(r.error().code, "batch line " + std::to_string(i + 1) + ": " + r.error().message);
        b.records.push_back(std::move(*r));
    }
    auto c = parseCheckpoint(lines.back());
    if (!c) return makeError(c.error().code, "batch: last line: " + c.error().message);
    b.checkpoint = std::move(*c);
    if (b.checkpoint.firstSeq != b.records.front().seq || b.checkpoint.lastSeq != b.records.back().seq)
        return bad("batch: the checkpoint does not cover exactly the records of the batch");
    return b;
}

// ---------------------------------------------------------------------------
// Head statements.

namespace {

json::Object headFields(const Head& h) {
    json::Object o;
    o["format"] = 1;
    o["type"] = "head";
    o["player"] = h.playerId;
    o["seq"] = h.seq;
    o["hash"] = h.hash;
    o["created_utc_ms"] = h.createdUtcMs;
    o["key"] = h.keyId;
    return o;
}

Status validateHead(const Head& h) {
    if (!manifest::isValidId(h.playerId)) return bad("head: player is not a valid id");
    if (h.seq < 0 || h.seq > kMaxSeq) return bad("head: seq out of range");
    if (!crypto::isSha256Hex(h.hash)) return bad("head: hash must be 64 lowercase hex digits");
    if (h.seq == 0 && h.hash != kGenesisHash) return bad("head: seq 0 goes with the genesis hash");
    if (h.createdUtcMs < 0 || h.createdUtcMs >= kMaxUtcMs) return bad("head: created_utc_ms out of range");
    if (!crypto::isSha256Hex(h.keyId)) return bad("head: key must be 64 lowercase hex digits");
    if (h.signature.size() != 64) return bad("head: signature must be 64 bytes");
    return {};
}

}  // namespace

std::string signedBytes(const Head& h) {
    return json::canonical(json::Value(headFields(h)));
}

void sign(Head& h, const crypto::PrivateKey& key) {
    h.keyId = key.publicKey().id();
    h.signature = key.sign(signedBytes(h));
}

Status verifySignature(const Head& h, const crypto::PublicKey& key) {
    if (h.keyId != key.id())
        return makeError(Errc::UnknownSigner, "head: signed by key " + h.keyId + ", expected " + key.id());
    if (!key.verify(signedBytes(h), h.signature))
        return makeError(Errc::BadSignature, "head: signature does not verify");
    return {};
}

std::string canonicalBytes(const Head& h) {
    json::Object o = headFields(h);
    o["sig"] = crypto::base64Encode(h.signature);
    return json::canonical(json::Value(std::move(o)));
}

Result<Head> parseHead(std::string_view bytes) {
    if (bytes.size() > kMaxRecordBytes) return makeError(Errc::TooLarge, "head: longer than 4096 bytes");
    auto v = json::parseCanonical(bytes);
    if (!v) return v.error();
    auto fields = json::Fields::of(*v, "head");
    if (!fields) return fields.error();
    json::Fields& f = *fields;
    std::int64_t format = 0;
    MS_TRY(f.read("format", format));
    if (format != 1)
        return makeError(Errc::UnsupportedFormat, "head: format " + std::to_string(format) + " is not understood");
    std::string type, sig;
    MS_TRY(f.read("type", type));
    if (type != "head") return bad("head: type must be \"head\"");
    Head h;
    MS_TRY(f.read("player", h.playerId));
    MS_TRY(f.read("seq", h.seq));
    MS_TRY(f.read("hash", h.hash));
    MS_TRY(f.read("created_utc_ms", h.createdUtcMs));
    MS_TRY(f.read("key", h.keyId));
    MS_TRY(f.read("sig", sig));
    MS_TRY(f.finish());
    auto raw = crypto::base64Decode(sig);
    if (!raw) return bad("head: sig is not base64");
    h.signature = std::move(*raw);
    MS_TRY(validateHead(h));
    return h;
}

// ---------------------------------------------------------------------------
// Verification.

void CheckpointOrderCheck::add(const Checkpoint& c, std::size_t index, std::vector<Finding>& out) {
    auto add = [&](Problem p, std::string msg) { out.push_back(Finding{p, c.lastSeq, index, std::move(msg)}); };
    auto range = [](std::int64_t from, std::int64_t to) {
        return from == to ? "record " + std::to_string(from) + " is"
                          : "records " + std::to_string(from) + ".." + std::to_string(to) + " are";
    };
    if (!any_) {
        if (c.firstSeq > anchorSeq_ + 1)
            add(Problem::CheckpointGap, range(anchorSeq_ + 1, c.firstSeq - 1) +
                                            " under no checkpoint of their own: the checkpoint before this one was "
                                            "removed");
        else if (c.format >= 2 && !anchored_ && c.prevCheckpoint != kGenesisHash)
            add(Problem::CheckpointBrokenLink,
                "the first checkpoint names a checkpoint before it (prev_checkpoint is not 64 "
                "zeros)");
    } else if (c.lastSeq == lastSeq_) {
        return add(Problem::CheckpointDuplicate,
                   "a second checkpoint ends at seq " + std::to_string(c.lastSeq) + " (copied or re-made)");
    } else if (c.lastSeq < lastSeq_) {
        return add(Problem::CheckpointOrder, "ends before the checkpoint before it (seq " + std::to_string(lastSeq_) +
                                                 "): checkpoints out of order");
    } else {
        if (c.firstSeq > lastSeq_ + 1)
            add(Problem::CheckpointGap, range(lastSeq_ + 1, c.firstSeq - 1) +
                                            " under no checkpoint of their own: a checkpoint between was removed");
        else if (c.format >= 2 && lastFormat_ >= 2 && c.firstSeq <= lastSeq_)
            add(Problem::CheckpointOverlap, "starts at seq " + std::to_string(c.firstSeq) +
                                                ", inside the checkpoint before it (up to seq " +
                                                std::to_string(lastSeq_) + ")");
        if (c.format >= 2) {
            const bool linked = c.prevCheckpoint == lastHash_ || (lastFormat_ < 2 && c.prevCheckpoint == kGenesisHash);
            if (!linked)
                add(Problem::CheckpointBrokenLink,
                    "prev_checkpoint is not the hash of the checkpoint before it (ending at seq " +
                        std::to_string(lastSeq_) + "): a checkpoint was removed or replaced");
        } else if (lastFormat_ >= 2) {
            add(Problem::CheckpointBrokenLink, "an unchained (format 1) checkpoint after a chained one");
        }
    }
    any_ = true;
    lastSeq_ = c.lastSeq;
    lastFormat_ = c.format;
    lastHash_ = checkpointHash(c);
}

std::string_view problemName(Problem p) {
    switch (p) {
        case Problem::BadRecord:
            return "bad_record";
        case Problem::WrongPlayer:
            return "wrong_player";
        case Problem::OutOfOrder:
            return "out_of_order";
        case Problem::Duplicate:
            return "duplicate";
        case Problem::Conflict:
            return "conflict";
        case Problem::Gap:
            return "gap";
        case Problem::BrokenLink:
            return "broken_link";
        case Problem::BadGenesis:
            return "bad_genesis";
        case Problem::AnchorMismatch:
            return "anchor_mismatch";
        case Problem::BadCheckpoint:
            return "bad_checkpoint";
        case Problem::CheckpointSignature:
            return "checkpoint_signature";
        case Problem::CheckpointMismatch:
            return "checkpoint_mismatch";
        case Problem::CheckpointMissing:
            return "checkpoint_missing";
        case Problem::Unsigned:
            return "unsigned";
        case Problem::CheckpointOrder:
            return "checkpoint_order";
        case Problem::CheckpointDuplicate:
            return "checkpoint_duplicate";
        case Problem::CheckpointGap:
            return "checkpoint_gap";
        case Problem::CheckpointOverlap:
            return "checkpoint_overlap";
        case Problem::CheckpointBrokenLink:
            return "checkpoint_broken_link";
    }
    return "bad_record";
}

std::string Finding::str() const {
    std::string s(problemName(problem));
    if (seq != 0) s += " seq " + std::to_string(seq);
    return s + ": " + message;
}

namespace {

struct ChainEntry {
    const Record* rec;
    std::string hash;
    std::size_t index;  // position in the input
};
using BySeq = std::map<std::int64_t, ChainEntry>;

struct Findings {
    Report& rep;
    void operator()(Problem p, std::int64_t seq, std::size_t index, std::string msg) const {
        rep.findings.push_back(Finding{p, seq, index, std::move(msg)});
    }
};

BySeq indexRecords(std::string_view playerId, std::span<const Record> records, Report& rep) {
    const Findings add{rep};
    // Pass 1, in input order: well-formed, this player's, ascending, distinct.
    BySeq bySeq;
    std::int64_t maxSeen = 0;
    for (std::size_t i = 0; i < records.size(); ++i) {
        const Record& r = records[i];
        if (auto st = validate(r); !st) {
            add(Problem::BadRecord, r.seq, i, st.error().message);
            continue;
        }
        if (r.playerId != playerId) {
            add(Problem::WrongPlayer, r.seq, i,
                "record of player \"" + r.playerId + "\" in the chain of \"" + std::string(playerId) + "\"");
            continue;
        }
        std::string h = recordHash(r);
        auto it = bySeq.find(r.seq);
        if (it != bySeq.end()) {
            if (it->second.hash == h)
                add(Problem::Duplicate, r.seq, i,
                    "the record at position " + std::to_string(it->second.index) + " appears again at position " +
                        std::to_string(i));
            else
                add(Problem::Conflict, r.seq, i,
                    "two different records with this seq (positions " + std::to_string(it->second.index) + " and " +
                        std::to_string(i) + ")");
            continue;
        }
        if (r.seq < maxSeen)
            add(Problem::OutOfOrder, r.seq, i, "comes after seq " + std::to_string(maxSeen) + " in the input");
        maxSeen = std::max(maxSeen, r.seq);
        bySeq.emplace(r.seq, ChainEntry{&r, std::move(h), i});
    }
    rep.records = bySeq.size();
    return bySeq;
}

void checkLinks(const BySeq& bySeq, const std::optional<Anchor>& anchor, Report& rep) {
    const Findings add{rep};
    // Pass 2, in seq order: contiguous and linked.
    const ChainEntry* prev = nullptr;
    for (const auto& [seq, e] : bySeq) {
        const Record& r = *e.rec;
        if (!prev) {
            if (anchor) {
                if (seq <= anchor->seq)
                    add(Problem::AnchorMismatch, seq, e.index,
                        "at or before the anchor seq " + std::to_string(anchor->seq));
                else if (seq != anchor->seq + 1)
                    add(Problem::Gap, seq, e.index,
                        "records " + std::to_string(anchor->seq + 1) + ".." + std::to_string(seq - 1) + " are missing");
                else if (r.prevHash != anchor->hash)
                    add(Problem::AnchorMismatch, seq, e.index, "prev does not match the anchor's hash " + anchor->hash);
            } else if (seq != 1) {
                add(Problem::Gap, seq, e.index, "records 1.." + std::to_string(seq - 1) + " are missing");
            } else if (r.prevHash != kGenesisHash) {
                add(Problem::BadGenesis, seq, e.index, "seq 1 must have the genesis prev (64 zeros)");
            }
        } else if (seq != prev->rec->seq + 1) {
            std::int64_t from = prev->rec->seq + 1;
            add(Problem::Gap, seq, e.index,
                (from == seq - 1
                     ? "record " + std::to_string(from) + " is missing"
                     : "records " + std::to_string(from) + ".." + std::to_string(seq - 1) + " are missing"));
        } else if (r.prevHash != prev->hash) {
            add(Problem::BrokenLink, seq, e.index,
                "prev " + r.prevHash.substr(0, 16) + "... is not the hash of seq " + std::to_string(prev->rec->seq) +
                    " (" + prev->hash.substr(0, 16) + "...): one of the two records was altered, or one inserted");
        }
        prev = &e;
    }
    if (!bySeq.empty()) {
        rep.firstSeq = bySeq.begin()->first;
        rep.lastSeq = bySeq.rbegin()->first;
        rep.lastHash = bySeq.rbegin()->second.hash;
    }
}

void checkCheckpoints(std::string_view playerId, const BySeq& bySeq, std::span<const Checkpoint> checkpoints,
                      const crypto::PublicKey& playerKey, const std::optional<Anchor>& anchor, Report& rep) {
    const Findings add{rep};
    // Checkpoints: signed by this player, naming records that hash as they say.
    std::int64_t covered = anchor ? anchor->seq : 0;
    CheckpointOrderCheck order(anchor ? anchor->seq : 0, anchor.has_value());
    for (std::size_t j = 0; j < checkpoints.size(); ++j) {
        const Checkpoint& c = checkpoints[j];
        if (auto st = validateCheckpoint(c); !st) {
            add(Problem::BadCheckpoint, c.lastSeq, j, st.error().message);
            continue;
        }
        if (c.playerId != playerId) {
            add(Problem::WrongPlayer, c.lastSeq, j, "checkpoint of player \"" + c.playerId + "\"");
            continue;
        }
        if (auto st = verifySignature(c, playerKey); !st) {
            add(Problem::CheckpointSignature, c.lastSeq, j, st.error().message);
            continue;
        }
        order.add(c, j, rep.findings);
        auto it = bySeq.find(c.lastSeq);
        if (it == bySeq.end()) {
            if (!(anchor && c.lastSeq <= anchor->seq))
                add(Problem::CheckpointMissing, c.lastSeq, j, "the checkpoint names a record that is not present");
            continue;
        }
        if (it->second.hash != c.lastHash) {
            add(Problem::CheckpointMismatch, c.lastSeq, j,
                "the record hashes to " + it->second.hash.substr(0, 16) + "..., the signed checkpoint says " +
                    c.lastHash.substr(0, 16) + "...");
            continue;
        }
        covered = std::max(covered, c.lastSeq);
    }
    if (!bySeq.empty() && rep.lastSeq > covered) {
        auto it = bySeq.upper_bound(covered);
        add(Problem::Unsigned, it->first, it->second.index,
            "records " + std::to_string(it->first) + ".." + std::to_string(rep.lastSeq) +
                " are not covered by a valid checkpoint");
    }
}

}  // namespace

Report verifyChain(std::string_view playerId, std::span<const Record> records, std::span<const Checkpoint> checkpoints,
                   const crypto::PublicKey& playerKey, const std::optional<Anchor>& anchor) {
    Report rep;
    const BySeq bySeq = indexRecords(playerId, records, rep);
    checkLinks(bySeq, anchor, rep);
    checkCheckpoints(playerId, bySeq, checkpoints, playerKey, anchor, rep);
    return rep;
}

std::optional<std::string> ChainStream::hashAt(std::int64_t seq) const {
    const Entry* e = find(seq);
    if (!e) return std::nullopt;
    return crypto::toHex(e->hash);
}

ChainStream::ChainStream(std::string playerId, crypto::PublicKey playerKey)
    : playerId_(std::move(playerId)), key_(std::move(playerKey)) {}

const ChainStream::Entry* ChainStream::find(std::int64_t seq) const {
    auto it = std::lower_bound(entries_.begin(), entries_.end(), seq,
                               [](const Entry& e, std::int64_t s) { return e.seq < s; });
    return it != entries_.end() && it->seq == seq ? &*it : nullptr;
}

bool ChainStream::addRecord(const Record& r) {
    const std::size_t i = recordIndex_++;
    auto add = [&](std::vector<Finding>& to, Problem p, std::string msg) {
        to.push_back(Finding{p, r.seq, i, std::move(msg)});
    };
    if (auto st = validate(r); !st) {
        add(pass1_, Problem::BadRecord, st.error().message);
        return true;
    }
    if (r.playerId != playerId_) {
        add(pass1_, Problem::WrongPlayer,
            "record of player \"" + r.playerId + "\" in the chain of \"" + playerId_ + "\"");
        return true;
    }
    crypto::Digest h = crypto::sha256(canonicalBytes(r));
    if (!entries_.empty() && r.seq <= maxSeen_) {
        const Entry* e = find(r.seq);
        if (!e) return false;  // below the highest seq seen: verifyChain's order differs from the input's
        if (e->hash == h)
            add(pass1_, Problem::Duplicate,
                "the record at position " + std::to_string(e->index) + " appears again at position " +
                    std::to_string(i));
        else
            add(pass1_, Problem::Conflict,
                "two different records with this seq (positions " + std::to_string(e->index) + " and " +
                    std::to_string(i) + ")");
        return true;
    }
    maxSeen_ = std::max(maxSeen_, r.seq);
    // verifyChain's second pass, in seq order, which here is the input order.
    if (entries_.empty()) {
        if (r.seq != 1)
            add(pass2_, Problem::Gap, "records 1.." + std::to_string(r.seq - 1) + " are missing");
        else if (r.prevHash != kGenesisHash)
            add(pass2_, Problem::BadGenesis, "seq 1 must have the genesis prev (64 zeros)");
    } else {
        const Entry& prev = entries_.back();
        if (r.seq != prev.seq + 1) {
            std::int64_t from = prev.seq + 1;
            add(pass2_, Problem::Gap,
                (from == r.seq - 1
                     ? "record " + std::to_string(from) + " is missing"
                     : "records " + std::to_string(from) + ".." + std::to_string(r.seq - 1) + " are missing"));
        } else if (std::string prevHex = crypto::toHex(prev.hash); r.prevHash != prevHex) {
            add(pass2_, Problem::BrokenLink,
                "prev " + r.prevHash.substr(0, 16) + "... is not the hash of seq " + std::to_string(prev.seq) + " (" +
                    prevHex.substr(0, 16) + "...): one of the two records was altered, or one inserted");
        }
    }
    entries_.push_back(Entry{r.seq, i, h});
    return true;
}

void ChainStream::addCheckpoint(const Checkpoint& c) {
    const std::size_t j = checkpointIndex_++;
    auto add = [&](Problem p, std::string msg) { checks_.push_back(Finding{p, c.lastSeq, j, std::move(msg)}); };
    if (auto st = validateCheckpoint(c); !st) return add(Problem::BadCheckpoint, st.error().message);
    if (c.playerId != playerId_) return add(Problem::WrongPlayer, "checkpoint of player \"" + c.playerId + "\"");
    if (auto st = verifySignature(c, key_); !st) return add(Problem::CheckpointSignature, st.error().message);
    order_.add(c, j, checks_);
    const Entry* e = find(c.lastSeq);
    if (!e) return add(Problem::CheckpointMissing, "the checkpoint names a record that is not present");
    if (std::string h = crypto::toHex(e->hash); h != c.lastHash)
        return add(Problem::CheckpointMismatch, "the record hashes to " + h.substr(0, 16) +
                                                    "..., the signed checkpoint says " + c.lastHash.substr(0, 16) +
                                                    "...");
    covered_ = std::max(covered_, c.lastSeq);
}

Report ChainStream::finish() {
    Report rep;
    rep.records = entries_.size();
    rep.findings = std::move(pass1_);
    rep.findings.insert(rep.findings.end(), pass2_.begin(), pass2_.end());
    rep.findings.insert(rep.findings.end(), checks_.begin(), checks_.end());
    if (!entries_.empty()) {
        rep.firstSeq = entries_.front().seq;
        rep.lastSeq = entries_.back().seq;
        rep.lastHash = crypto::toHex(entries_.back().hash);
        if (rep.lastSeq > covered_) {
            auto it = std::upper_bound(entries_.begin(), entries_.end(), covered_,
                                       [](std::int64_t s, const Entry& e) { return s < e.seq; });
            rep.findings.push_back(Finding{Problem::Unsigned, it->seq, it->index,
                                           "records " + std::to_string(it->seq) + ".." + std::to_string(rep.lastSeq) +
                                               " are not covered by a valid checkpoint"});
        }
    }
    return rep;
}

}  // namespace microscape::pop
