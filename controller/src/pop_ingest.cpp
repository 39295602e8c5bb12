#include "pop_ingest.hpp"

#include <algorithm>
#include <span>

#include "microscape/core/manifest.hpp"
#include "store/evidence.hpp"

namespace microscape::controller {

namespace {

// The lines of a batch (each without its LF); the last is the checkpoint.
std::vector<std::string_view> splitLines(std::string_view body) {
    std::vector<std::string_view> lines;
    std::size_t pos = 0;
    while (pos < body.size()) {
        auto nl = body.find('\n', pos);
        if (nl == std::string_view::npos) nl = body.size();
        lines.push_back(body.substr(pos, nl - pos));
        pos = nl + 1;
    }
    return lines;
}

// An enrolled identity key: the usual Ed25519 SubjectPublicKeyInfo PEM read
// directly (OpenSSL's generic PEM decoder costs ~0.3 ms a key, which shows with
// hundreds of players); anything else through OpenSSL.
Result<crypto::PublicKey> identityKeyFromPem(const std::string& pem) {
    static constexpr std::string_view kBegin = "-----BEGIN PUBLIC KEY-----\n", kEnd = "-----END PUBLIC KEY-----";
    static constexpr unsigned char kEd25519Spki[12] = {0x30, 0x2a, 0x30, 0x05, 0x06, 0x03,
                                                       0x2b, 0x65, 0x70, 0x03, 0x21, 0x00};
    std::string_view v(pem);
    if (v.substr(0, kBegin.size()) == kBegin) {
        auto end = v.find(kEnd);
        if (end != std::string_view::npos) {
            std::string b64;
            for (char c : v.substr(kBegin.size(), end - kBegin.size()))
                if (c != '\n' && c != '\r') b64 += c;
            if (auto der = crypto::base64Decode(b64); der && der->size() == 44 &&
                                                      std::equal(std::begin(kEd25519Spki), std::end(kEd25519Spki),
                                                                 reinterpret_cast<const unsigned char*>(der->data())))
                if (auto key = crypto::PublicKey::fromRaw(std::string_view(*der).substr(12))) return key;
        }
    }
    return crypto::PublicKey::fromPem(pem);
}

std::string range(std::int64_t from, std::int64_t to) {
    return from == to ? "record " + std::to_string(from) + " is"
                      : "records " + std::to_string(from) + ".." + std::to_string(to) + " are";
}

}  // namespace

struct PopIngest::Statements : evidence::IngestStatements {
    using IngestStatements::IngestStatements;
};

PopIngest::PopIngest(Db& db, std::string zoneinfoDir) : db_(db), zones_(std::move(zoneinfoDir)) {}

PopIngest::~PopIngest() = default;

IngestStats PopIngest::stats() const {
    std::lock_guard lock(mutex_);
    return stats_;
}

void PopIngest::invalidate() {
    std::lock_guard lock(mutex_);
    tips_.clear();
    media_.clear();
    places_.clear();
}

const PopIngest::MediaSet& PopIngest::mediaSentTo(DbConn& c, const std::string& playerId) {
    auto& set = media_[playerId];
    evidence::forEachManifestAfter(c, playerId, set.version, [&](std::int64_t version, const std::string& text) {
        set.version = version;
        if (auto m = manifest::parse(text))
            for (const auto& e : m->media) set.sha256.insert(e.sha256);
    });
    return set;
}

Result<IngestOutcome> PopIngest::ingestBatch(const std::string& playerId, std::string_view batchBytes,
                                             std::int64_t nowMs) {
    return commit(prepare(playerId, batchBytes), nowMs);
}

PopIngest::Prepared PopIngest::prepare(const std::string& playerId, std::string_view batchBytes) {
    Prepared p;
    p.playerId = playerId;
    p.sizeBytes = batchBytes.size();
    if (batchBytes.size() > kMaxProofsBatchBytes) {
        p.sha256 = crypto::sha256Hex(batchBytes);  // the only trace kept of it
        return p;
    }
    p.bytes.assign(batchBytes);
    p.batch = pop::parseBatch(p.bytes);
    if (!p.batch) return p;
    // parseBatch accepted only canonical lines, so a record's hash is the hash of
    // its line; when every link holds on those, verifyChain has nothing to report
    // and commit() runs it only to name what is wrong.
    const auto& records = p.batch->records;
    const auto& cp = p.batch->checkpoint;
    const auto lines = splitLines(p.bytes);
    p.hashes.reserve(records.size());
    crypto::Sha256 h;  // one context for all lines: setting one up costs more than hashing a line
    for (std::size_t i = 0; i < records.size(); ++i) {
        h.update(lines[i]);
        p.hashes.push_back(crypto::toHex(h.finish()));
    }
    bool linked = cp.count == static_cast<std::int64_t>(records.size()) && cp.lastHash == p.hashes.back() &&
                  (records.front().seq != 1 || records.front().prevHash == pop::kGenesisHash);
    for (std::size_t i = 0; linked && i < records.size(); ++i) {
        const auto& r = records[i];
        linked = r.playerId == playerId && r.seq == records.front().seq + static_cast<std::int64_t>(i) &&
                 (i == 0 || r.prevHash == p.hashes[i - 1]);
    }
    p.linked = linked;
    return p;
}

// One commit's state, passed along its steps.
struct PopIngest::Batch {
    Prepared& prep;
    std::int64_t nowMs;
    DbConn& conn;
    DbConn& db;
    std::vector<IngestProblem> problems;
    PlayerInfo info;
    Tip tip;
    IngestOutcome out;
    std::size_t firstNew = 0;  // the first record above the stored tip
    std::optional<Tip> newTip;
};

// A refused batch with an error (no acknowledgement): its problem stored.
Result<IngestOutcome> PopIngest::refuse(Batch& b, Errc code, std::string problemCode, std::string message) {
    b.problems.push_back({std::move(problemCode), 0, message});
    storeProblems(b);
    ++stats_.refused;
    return makeError(code, std::move(message));
}

// A batch refused for its content: problems stored, the tip acknowledged again.
IngestOutcome PopIngest::refuseContent(Batch& b) {
    storeProblems(b);
    ++stats_.refused;
    b.out.problems = b.problems;
    return b.out;
}

void PopIngest::storeProblems(Batch& b) {
    if (b.problems.empty()) return;
    const std::string& playerId = b.prep.playerId;
    const std::string_view batchBytes = b.prep.bytes;
    const bool keep = b.prep.sizeBytes <= kMaxProofsBatchBytes;
    std::string& batchSha = b.prep.sha256;  // names the batch in pop_problems
    if (batchSha.empty()) batchSha = crypto::sha256Hex(batchBytes);
    // The batch is kept whole while this player's whole batches of the last
    // hour stay within the budget; beyond it only its hash, size and first
    // 4 KiB (docs/reports.md), so a player sending garbage cannot fill the disk.
    std::string_view kept = batchBytes;
    if (keep && batchBytes.size() > kProblemBatchPrefixBytes) {
        const auto [batches, bytes] = evidence::wholeProblemBatches(b.db, playerId, b.nowMs - 3600 * 1000, batchSha);
        if (batches >= kWholeProblemBatchesPerHour ||
            bytes + static_cast<std::int64_t>(batchBytes.size()) > kWholeProblemBytesPerHour)
            kept = batchBytes.substr(0, kProblemBatchPrefixBytes);
    }
    evidence::ProblemStatement st(b.db);
    for (const auto& p : b.problems)
        st.insert(playerId, p.code, p.seq, p.message, batchSha, keep ? std::optional(kept) : std::nullopt, b.nowMs,
                  static_cast<std::int64_t>(b.prep.sizeBytes));
    stats_.problems += static_cast<std::int64_t>(b.problems.size());
}

// Step 1: the player is enrolled and its key usable. nullptr when refused (then
// refused holds the answer).
const crypto::PublicKey* PopIngest::checkPlayer(Batch& b, Result<IngestOutcome>& refused) {
    const std::string& playerId = b.prep.playerId;
    const auto row = stmts_->player(playerId);
    const bool found = row.has_value();
    if (found)
        b.info = PlayerInfo{row->identityKeyPem, playerStateFromName(row->state).value_or(PlayerState::Retired),
                            row->enrolledAtMs, row->locationId, row->zone};
    if (!found) {
        refused = refuse(b, Errc::UnknownSigner, "unknown_player", "no enrolled player " + playerId);
        return nullptr;
    }
    if (b.info.state != PlayerState::Enrolled) {
        refused = refuse(
            b, Errc::UnknownSigner, "revoked_player",
            "player " + playerId + " is " + std::string(playerStateName(b.info.state)) + "; its proofs are refused");
        return nullptr;
    }
    auto keyIt = keys_.find(b.info.identityKeyPem);
    if (keyIt == keys_.end()) {
        auto key = identityKeyFromPem(b.info.identityKeyPem);
        if (!key) {
            refused = refuse(b, Errc::UnknownSigner, "bad_key", "the enrolled identity key is unusable");
            return nullptr;
        }
        keyIt = keys_.emplace(b.info.identityKeyPem, std::move(*key)).first;
    }
    return &keyIt->second;
}

// The stored tip (last record) of the player's chain, cached.
PopIngest::Tip PopIngest::storedTip(Batch& b) {
    const std::string& playerId = b.prep.playerId;
    if (b.db.backend() == sql::Backend::Postgres) {
        // Several controller nodes may take this player's batches (it fails
        // over): its row lock orders them between nodes, and the tip is read
        // afresh, as another node may have moved it.
        evidence::lockPlayer(b.db, playerId);
        Tip t;
        if (auto tip = evidence::chainTip(b.db, playerId)) t = Tip{tip->first, tip->second};
        return t;
    }
    auto tipIt = tips_.find(playerId);
    if (tipIt == tips_.end()) {
        Tip t;
        if (auto tip = evidence::chainTip(b.db, playerId)) t = Tip{tip->first, tip->second};
        tipIt = tips_.emplace(playerId, std::move(t)).first;
    }
    return tipIt->second;
}

// Step 2: the batch on its own — well-formed, linked inside, signed over its
// last record. False when refused for its content (problems noted).
bool PopIngest::checkChain(Batch& b, const crypto::PublicKey& key) {
    const auto& records = b.prep.batch->records;
    const auto& cp = b.prep.batch->checkpoint;
    if (b.prep.linked) return true;
    std::optional<pop::Anchor> inner;
    if (records.front().seq > 1) inner = pop::Anchor{records.front().seq - 1, records.front().prevHash};
    pop::Report rep = pop::verifyChain(b.prep.playerId, records, std::span(&cp, 1), key, inner);
    if (rep.ok())
        rep.findings.push_back({pop::Problem::BadCheckpoint, cp.lastSeq, 0,
                                "the checkpoint does not cover "
                                "the batch exactly"});
    for (const auto& f : rep.findings)
        b.problems.push_back({std::string(pop::problemName(f.problem)), f.seq, f.message});
    return false;
}

// Step 3: a re-send — the part at or below the tip must be exactly what is
// stored. Sets firstNew; false when refused for its content.
bool PopIngest::checkResend(Batch& b) {
    const auto& records = b.prep.batch->records;
    const Tip& tip = b.tip;
    if (records.front().seq > tip.seq) return true;
    const std::int64_t to = std::min(records.back().seq, tip.seq);
    const std::map<std::int64_t, std::string> stored =
        evidence::storedHashes(b.db, b.prep.playerId, records.front().seq, to);
    std::size_t& i = b.firstNew;
    for (; i < records.size() && records[i].seq <= tip.seq; ++i) {
        const auto& r = records[i];
        auto it = stored.find(r.seq);
        if (it == stored.end())
            b.problems.push_back({"conflict", r.seq,
                                  "seq " + std::to_string(r.seq) +
                                      " arrives after later records were stored "
                                      "(inside a reported gap); not stored"});
        else if (it->second != b.prep.hashes[i])
            b.problems.push_back({"conflict", r.seq,
                                  "differs from the stored record with this seq "
                                  "(the player's chain was re-written); not stored"});
    }
    if (!b.problems.empty()) return false;
    b.out.duplicates = static_cast<std::int64_t>(b.firstNew);
    return true;
}

// Step 4: the new records against the stored chain (a gap or a broken link) and
// each play's plausibility: problems stored as evidence with the records.
void PopIngest::checkFresh(Batch& b, std::span<const pop::Record> fresh) {
    const std::string& playerId = b.prep.playerId;
    const auto& first = fresh.front();
    if (first.seq > b.tip.seq + 1)
        b.problems.push_back({"gap", first.seq, range(b.tip.seq + 1, first.seq - 1) + " missing"});
    else if (b.tip.seq > 0 && first.prevHash != b.tip.hash)
        b.problems.push_back(
            {"broken_link", first.seq, "prev is not the hash of the stored record " + std::to_string(b.tip.seq)});

    std::int64_t futureFirst = 0, futureCount = 0, earlyFirst = 0, earlyCount = 0;
    std::map<std::string, std::int64_t> unknownMedia;  // sha -> first seq
    const MediaSet* sent = &media_[playerId];
    bool refreshed = false;  // new manifest versions are read at most once per batch
    for (const auto& r : fresh) {
        if (r.kind != pop::Kind::Play) continue;
        if (r.startUtcMs > b.nowMs + kMaxFutureSkewMs && !futureCount++) futureFirst = r.seq;
        if (r.startUtcMs < b.info.enrolledAtMs - kMaxBeforeEnrollmentMs && !earlyCount++) earlyFirst = r.seq;
        if (!sent->sha256.count(r.mediaSha256)) {
            if (!refreshed) {
                sent = &mediaSentTo(b.conn, playerId);
                refreshed = true;
            }
            if (!sent->sha256.count(r.mediaSha256)) unknownMedia.emplace(r.mediaSha256, r.seq);
        }
    }
    if (futureCount)
        b.problems.push_back({"future_timestamp", futureFirst,
                              std::to_string(futureCount) + " play(s) start more than a day after the "
                                                            "controller's clock"});
    if (earlyCount)
        b.problems.push_back({"before_enrolment", earlyFirst,
                              std::to_string(earlyCount) + " play(s) start more than a day before the "
                                                           "player's enrolment"});
    for (const auto& [sha, seq] : unknownMedia)
        b.problems.push_back({"media_not_sent", seq, "media " + sha + " was never sent to this player"});
}

// Step 5: the new records exactly as signed, the rollups, and the checkpoint.
void PopIngest::store(Batch& b, std::span<const pop::Record> fresh) {
    const std::string& playerId = b.prep.playerId;
    const std::string_view batchBytes = b.prep.bytes;
    const auto& records = b.prep.batch->records;
    const auto& cp = b.prep.batch->checkpoint;
    if (!fresh.empty()) {
        const auto lines = splitLines(batchBytes);
        std::vector<evidence::IngestStatements::RecordRow> rows;
        rows.reserve(records.size() - b.firstNew);
        for (std::size_t i = b.firstNew; i < records.size(); ++i)
            rows.push_back({&records[i], b.prep.hashes[i], lines[i]});
        stmts_->insertRecords(playerId, rows, b.nowMs);
        const std::string_view lastHash = b.prep.hashes.back();
        // Each play where the manifest it names put the screen (else where the
        // screen is now), as the auditor's recount places it.
        const PlayerPlace now{b.info.locationId, b.info.zone};
        addToRollups(stmts_->rollups, zones_, playerId, fresh,
                     [&](const pop::Record& r) { return places_.of(b.db, playerId, r, now); });
        b.newTip = Tip{fresh.back().seq, std::string(lastHash)};
        b.out.ackSeq = fresh.back().seq;
        b.out.stored = static_cast<std::int64_t>(fresh.size());
    }
    // The checkpoint line as sent (parseBatch accepted only canonical bytes).
    const auto cpLine = batchBytes.substr(0, batchBytes.size() - 1);
    stmts_->insertCheckpoint(playerId, cp.lastSeq, cp.firstSeq, cpLine.substr(cpLine.rfind('\n') + 1), b.nowMs);
}

// The steps in one write transaction: check the player, the batch and its
// chain, then store records, checkpoint and problems.
Result<IngestOutcome> PopIngest::commitIn(Batch& b) {
    if (b.prep.sizeBytes > kMaxProofsBatchBytes)
        return refuse(b, Errc::TooLarge, "oversized",
                      "batch of " + std::to_string(b.prep.sizeBytes) + " bytes exceeds the limit of " +
                          std::to_string(kMaxProofsBatchBytes));
    // (taken from the connection's prepared statements for this batch only: the
    // next batch may run on another connection of the pool)
    stmts_ = std::make_unique<Statements>(b.db);
    struct Release {
        std::unique_ptr<Statements>& s;
        ~Release() { s.reset(); }
    } release{stmts_};
    Result<IngestOutcome> refused = makeError(Errc::Internal, "not refused");
    const crypto::PublicKey* key = checkPlayer(b, refused);
    if (!key) return refused;

    const std::string& playerId = b.prep.playerId;
    auto& batch = b.prep.batch;
    if (!batch) {
        if (batch.error().code == Errc::TooLarge) return refuse(b, Errc::TooLarge, "oversized", batch.error().str());
        return refuse(b, Errc::BadManifest, "bad_batch", batch.error().str());
    }
    const auto& cp = batch->checkpoint;
    if (cp.playerId != playerId)
        return refuse(b, Errc::UnknownSigner, "wrong_player",
                      "the checkpoint is of player " + cp.playerId + ", sent by " + playerId);
    if (auto st = pop::verifySignature(cp, *key); !st)
        return refuse(b, st.error().code, "checkpoint_signature",
                      "checkpoint over " + std::to_string(cp.firstSeq) + ".." + std::to_string(cp.lastSeq) + ": " +
                          st.error().str());

    b.tip = storedTip(b);
    b.out.ackSeq = b.tip.seq;
    if (!checkChain(b, *key) || !checkResend(b)) return refuseContent(b);
    const auto fresh = std::span(batch->records).subspan(b.firstNew);
    if (!fresh.empty()) checkFresh(b, fresh);
    store(b, fresh);
    storeProblems(b);
    b.out.accepted = true;
    b.out.problems = b.problems;
    return b.out;
}

Result<IngestOutcome> PopIngest::commit(Prepared prep, std::int64_t nowMs) {
    std::lock_guard lock(mutex_);
    ++stats_.batches;
    const std::string playerId = prep.playerId;
    std::optional<Tip> newTip;
    Result<IngestOutcome> result = makeError(Errc::Internal, "not run");
    try {
        result = db_.write([&](DbConn& conn) -> Result<IngestOutcome> {
            Batch b{prep, nowMs, conn, conn, {}, {}, {}, {}, 0, std::nullopt};
            auto r = commitIn(b);
            newTip = b.newTip;
            return r;
        });
    } catch (const std::exception& e) {
        // Nothing was stored; the cached tip may be stale.
        tips_.erase(playerId);
        return makeError(Errc::Internal, std::string("storing proofs failed: ") + e.what());
    }
    if (newTip) tips_[playerId] = *newTip;
    if (result) {
        stats_.records += result->stored;
        stats_.duplicates += result->duplicates;
    }
    return result;
}

Result<std::int64_t> PopIngest::rebuildRollups() {
    std::lock_guard lock(mutex_);
    try {
        return db_.write([&](DbConn& c) -> Result<std::int64_t> { return controller::rebuildRollups(c, zones_); });
    } catch (const std::exception& e) {
        return makeError(Errc::Internal, std::string("rebuilding rollups failed: ") + e.what());
    }
}

}  // namespace microscape::controller
