#include "audit_export.hpp"

#include <algorithm>
#include <map>
#include <optional>
#include <set>

#include "microscape/controller/repo.hpp"
#include "microscape/core/manifest.hpp"
#include "store/rollups.hpp"

namespace microscape::controller {

namespace {

// One of a player's two evidence files, read a page at a time in seq order from
// the snapshot. each(line) is called for every stored line (without its LF).
template <class F>
void forEachLine(Db& db, bool records, const std::string& playerId, std::int64_t maxSeq, F&& each) {
    const char* sql = records ? "SELECT seq, record FROM pop_records WHERE player_id = ? AND seq > ? AND seq <= ? "
                                "ORDER BY seq LIMIT ?"
                              : "SELECT last_seq, checkpoint FROM pop_checkpoints WHERE player_id = ? AND last_seq > ? "
                                "AND last_seq <= ? ORDER BY last_seq LIMIT ?";
    std::int64_t after = 0;
    std::string page;
    std::vector<std::size_t> ends;
    while (true) {
        page.clear();
        ends.clear();
        db.read([&](DbConn& c) {
            SqlStmt st(c, sql);
            st.bind(1, playerId).bind(2, after).bind(3, maxSeq).bind(4, std::int64_t(kExportPageRows));
            while (st.step()) {
                after = st.i64(0);
                page += st.str(1);
                ends.push_back(page.size());
            }
        });
        std::size_t begin = 0;
        for (auto end : ends) {
            each(std::string_view(page).substr(begin, end - begin));
            begin = end;
        }
        if (ends.size() < static_cast<std::size_t>(kExportPageRows)) return;
    }
}

// The audit log up to maxSeq, a page at a time in seq order, as audit.jsonl lines.
template <class F>
void forEachAuditLine(Db& db, std::int64_t maxSeq, F&& each) {
    std::int64_t after = 0;
    std::vector<std::string> page;
    while (true) {
        page.clear();
        db.read([&](DbConn& c) {
            for (const auto& row :
                 c.query("SELECT seq, prev_hash, hash, at, actor_id, actor, action, entity, entity_id, "
                         "before_json, after_json FROM audit_log WHERE seq > ? AND seq <= ? "
                         "ORDER BY seq LIMIT ?",
                         {after, maxSeq, std::int64_t(kExportPageRows)})) {
                auto r = repo::auditRowOf(row);
                after = r->seq;
                page.push_back(audit::auditLineBytes(*r));
            }
        });
        for (const auto& line : page) each(std::string_view(line));
        if (page.size() < static_cast<std::size_t>(kExportPageRows)) return;
    }
}

audit::FileEntry hashAuditFile(Db& db, std::int64_t maxSeq) {
    crypto::Sha256 h;
    audit::FileEntry f;
    f.name = std::string(audit::kAuditLogName);
    forEachAuditLine(db, maxSeq, [&](std::string_view line) {
        h.update(line);
        h.update("\n", 1);
        f.sizeBytes += line.size() + 1;
    });
    f.sha256 = crypto::toHex(h.finish());
    return f;
}

// Hashes and sizes one file of the snapshot (and counts its lines).
audit::FileEntry hashFile(Db& db, bool records, const std::string& playerId, std::int64_t maxSeq,
                          std::uint64_t& lines) {
    crypto::Sha256 h;
    audit::FileEntry f;
    f.name = records ? audit::recordsPath(playerId) : audit::checkpointsPath(playerId);
    forEachLine(db, records, playerId, maxSeq, [&](std::string_view line) {
        h.update(line);
        h.update("\n", 1);
        f.sizeBytes += line.size() + 1;
        ++lines;
    });
    f.sha256 = crypto::toHex(h.finish());
    return f;
}

// The manifests of one player that its export carries (format 4): those its
// counted plays name and the one its last record naming a manifest names,
// found by their hash, in version order; and that last manifest's location,
// which keys.json gives for the player (the screen's own word on where it is).
struct PlayerManifests {
    std::vector<std::int64_t> versions;
    std::optional<manifest::Location> lastLocation;
};

PlayerManifests findManifests(DbConn& c, const std::string& playerId, std::int64_t maxSeq, std::int64_t fromMs,
                              std::int64_t toMs) {
    DbConn& h = c;
    std::set<std::string> wanted;
    SqlStmt named(h,
                  "SELECT DISTINCT manifest FROM pop_records WHERE player_id = ? AND seq <= ? AND manifest <> '' "
                  "AND kind = 'play' AND start_utc_ms >= ? AND start_utc_ms < ?");
    named.bind(1, playerId).bind(2, maxSeq).bind(3, fromMs).bind(4, toMs);
    while (named.step()) wanted.insert(named.str(0));
    std::string last;
    SqlStmt lastNamed(h,
                      "SELECT manifest FROM pop_records WHERE player_id = ? AND seq <= ? AND manifest <> '' "
                      "ORDER BY seq DESC LIMIT 1");
    lastNamed.bind(1, playerId).bind(2, maxSeq);
    if (lastNamed.step()) wanted.insert(last = lastNamed.str(0));
    std::map<std::string, std::int64_t> found;  // sha256 -> version
    SqlStmt byHash(h, "SELECT version FROM compiled_manifests WHERE player_id = ? AND sha256 = ?");
    for (const auto& sha : wanted) {
        byHash.reset();
        byHash.bind(1, playerId).bind(2, sha);
        if (byHash.step()) found[sha] = byHash.i64(0);
    }
    if (found.size() < wanted.size()) {  // manifests compiled before their hash was stored
        SqlStmt legacy(h, "SELECT version, manifest FROM compiled_manifests WHERE player_id = ? AND sha256 IS NULL");
        legacy.bind(1, playerId);
        while (legacy.step())
            if (auto sha = crypto::sha256Hex(legacy.str(1)); wanted.count(sha)) found.emplace(sha, legacy.i64(0));
    }
    PlayerManifests out;
    for (const auto& [sha, version] : found) out.versions.push_back(version);
    // The first manifest each recall gave the screen without the recalled media:
    // the verifier checks it (docs/audit-export.md, "Recalls").
    SqlStmt recalled(h, "SELECT DISTINCT version FROM recall_screens WHERE player_id = ? AND version IS NOT NULL");
    recalled.bind(1, playerId);
    while (recalled.step()) out.versions.push_back(recalled.i64(0));
    std::sort(out.versions.begin(), out.versions.end());
    out.versions.erase(std::unique(out.versions.begin(), out.versions.end()), out.versions.end());
    if (auto it = found.find(last); it != found.end()) {
        SqlStmt one(h, "SELECT manifest FROM compiled_manifests WHERE player_id = ? AND version = ?");
        one.bind(1, playerId).bind(2, it->second);
        if (one.step())
            if (auto m = manifest::parse(one.str(0))) out.lastLocation = m->location;
    }
    return out;
}

// Each of a player's exported manifests as one line (its manifest.json bytes).
template <class F>
void forEachManifestLine(Db& db, const std::string& playerId, const std::vector<std::int64_t>& versions, F&& each) {
    for (auto version : versions) {
        auto bytes = db.read([&](DbConn& c) {
            SqlStmt st(c, "SELECT manifest FROM compiled_manifests WHERE player_id = ? AND version = ?");
            st.bind(1, playerId).bind(2, version);
            return st.step() ? st.str(0) : std::string();
        });
        each(std::string_view(bytes));
    }
}

audit::FileEntry hashManifestsFile(Db& db, const std::string& playerId, const std::vector<std::int64_t>& versions) {
    crypto::Sha256 h;
    audit::FileEntry f;
    f.name = audit::manifestsPath(playerId);
    forEachManifestLine(db, playerId, versions, [&](std::string_view line) {
        h.update(line);
        h.update("\n", 1);
        f.sizeBytes += line.size() + 1;
    });
    f.sha256 = crypto::toHex(h.finish());
    return f;
}

// Buffers small writes into large ones and hashes what passes.
class HashingWriter {
  public:
    explicit HashingWriter(tar::Writer& w) : w_(w) {}
    Status add(std::string_view bytes) {
        h_.update(bytes);
        buf_.append(bytes);
        if (buf_.size() >= (1u << 18)) return flush();
        return {};
    }
    Status flush() {
        auto st = w_.write(buf_.data(), buf_.size());
        buf_.clear();
        return st;
    }
    std::string hex() { return crypto::toHex(h_.finish()); }

  private:
    tar::Writer& w_;
    crypto::Sha256 h_;
    std::string buf_;
};

}  // namespace

Result<ExportPlan> planExport(Db& db, const ExportRequest& req) {
    ExportPlan plan;
    std::vector<audit::PlayerEntry> players;
    std::vector<audit::MediaName> media;
    try {
        auto st = db.read([&](DbConn& c) -> Status {
            DbConn& h = c;
            // The audit log's head: its last row now, by its stored seq and hash.
            if (auto head = c.one("SELECT seq, hash FROM audit_log WHERE seq IS NOT NULL ORDER BY "
                                  "seq DESC LIMIT 1"))
                plan.manifest.auditHead = audit::AuditHead{head->i64(0), head->str(1)};
            else
                plan.manifest.auditHead = audit::AuditHead{};
            const std::set<std::string> wanted(req.players.begin(), req.players.end());
            std::set<std::string> found;
            SqlStmt ps(h,
                       "SELECT p.id, p.identity_key, p.enrolled_at, COALESCE(u.username, ''), "
                       "COALESCE(CAST(l.id AS TEXT), ''), COALESCE(l.name, ''), COALESCE(l.venue_type, ''), "
                       "COALESCE(l.district, ''), COALESCE(NULLIF(l.timezone, ''), 'Asia/Shanghai') "
                       "FROM players p LEFT JOIN locations l ON l.id = p.location_id "
                       "LEFT JOIN enroll_tokens t ON t.id = p.enroll_token_id LEFT JOIN users u ON u.id = t.created_by "
                       "ORDER BY p.id");
            while (ps.step()) {
                std::string id = ps.str(0);
                if (!wanted.empty() && !wanted.count(id)) continue;
                found.insert(id);
                auto key = crypto::PublicKey::fromPem(ps.str(1));
                if (!key) return makeError(Errc::Internal, "the stored key of player " + id + " is unreadable");
                audit::PlayerEntry e;
                e.playerId = id;
                e.publicKeyB64 = crypto::base64Encode(key->raw());
                e.keyId = key->id();
                e.enrolledAtMs = ps.i64(2);
                e.enrolledBy = ps.str(3);
                e.locationId = ps.str(4);
                e.locationName = ps.str(5);
                e.venueType = ps.str(6);
                e.district = ps.str(7);
                e.timeZone = ps.str(8);
                players.push_back(std::move(e));
            }
            for (const auto& w : wanted)
                if (!found.count(w)) return makeError(Errc::NotFound, "no player " + w);
            SqlStmt ms(h, "SELECT sha256, display_name, kind FROM media ORDER BY sha256");
            std::set<std::string> listed;
            while (ms.step()) {
                media.push_back({ms.str(0), ms.str(1), ms.str(2), "", ""});
                listed.insert(ms.str(0));
            }
            // Files screens played in place of an approved original: each names it.
            SqlStmt ds(h,
                       "SELECT d.sha256, m.display_name, d.kind, m.sha256, d.transform FROM media_derived d "
                       "JOIN media m ON m.id = d.media_id WHERE d.state = 'ready' ORDER BY d.sha256, d.id");
            while (ds.step())
                if (listed.insert(ds.str(0)).second)
                    media.push_back({ds.str(0), ds.str(1), ds.str(2), ds.str(3), ds.str(4)});
            std::sort(media.begin(), media.end(),
                      [](const audit::MediaName& a, const audit::MediaName& b) { return a.sha256 < b.sha256; });
            return {};
        });
        if (!st) return st.error();

        // Each player's files; keys.json then gives where each screen last said it was.
        std::vector<audit::FileEntry> playerFiles;
        for (auto& p : players) {
            if (!manifest::isValidId(p.playerId))
                return makeError(Errc::Internal, "stored player id '" + p.playerId + "' cannot name a file");
            // The snapshot of this player's evidence: what is stored now. A
            // player's records and checkpoints are stored in seq order (each
            // batch extends its chain), so "seq at most the maximum now" is
            // exactly what existed now, on either backend.
            auto& snap = plan.snapshot[p.playerId];
            db.read([&](DbConn& c) {
                snap.maxRecordSeq =
                    c.one("SELECT COALESCE(MAX(seq), 0) FROM pop_records WHERE player_id = ?", {p.playerId})->i64(0);
                snap.maxCheckpointSeq =
                    c.one("SELECT COALESCE(MAX(last_seq), 0) FROM pop_checkpoints WHERE player_id = ?", {p.playerId})
                        ->i64(0);
            });
            auto pm = db.read(
                [&](DbConn& c) { return findManifests(c, p.playerId, snap.maxRecordSeq, req.fromMs, req.toMs); });
            if (pm.lastLocation) audit::setLocation(p, *pm.lastLocation);
            playerFiles.push_back(hashManifestsFile(db, p.playerId, pm.versions));
            plan.manifestVersions[p.playerId] = std::move(pm.versions);
            std::uint64_t records = 0, checkpoints = 0;
            // A player with nothing to prove yet gets empty files (format 3): a
            // listed player without its files is then a failure for the auditor.
            playerFiles.push_back(hashFile(db, true, p.playerId, snap.maxRecordSeq, records));
            playerFiles.push_back(hashFile(db, false, p.playerId, snap.maxCheckpointSeq, checkpoints));
            plan.records += records;
            plan.playersWithEvidence.push_back(p.playerId);
        }
        plan.keysJson = audit::keysBytes(players);
        plan.mediaJson = audit::mediaBytes(media);
        auto& m = plan.manifest;
        m.exportId = req.exportId;
        m.createdAtMs = req.nowMs;
        m.fromMs = req.fromMs;
        m.toMs = req.toMs;
        m.files.push_back({std::string(audit::kKeysName), crypto::sha256Hex(plan.keysJson), plan.keysJson.size()});
        m.files.push_back({std::string(audit::kMediaName), crypto::sha256Hex(plan.mediaJson), plan.mediaJson.size()});
        m.files.push_back(hashAuditFile(db, m.auditHead->seq));
        for (auto& f : playerFiles) m.files.push_back(std::move(f));
        for (const auto& f : m.files) plan.totalBytes += f.sizeBytes;
        return plan;
    } catch (const std::exception& e) {
        return makeError(Errc::Internal, std::string("reading the evidence failed: ") + e.what());
    }
}

Status streamExport(Db& db, const ExportPlan& plan, const crypto::PrivateKey& controllerKey, tar::ByteSink& sink) {
    audit::ExportManifest m = plan.manifest;
    m.format = audit::kFormatVersion;
    m.signer = controllerKey.publicKey().id();
    const std::string manifestBytes = audit::manifestBytes(m);
    const std::int64_t mtime = m.createdAtMs / 1000;
    tar::Writer w(sink);
    MS_TRY(w.add(audit::kExportName, manifestBytes, mtime));
    MS_TRY(w.add(audit::kExportSigName, controllerKey.sign(manifestBytes), mtime));
    MS_TRY(w.add(audit::kKeysName, plan.keysJson, mtime));
    MS_TRY(w.add(audit::kMediaName, plan.mediaJson, mtime));
    // One entry streamed from the store: its lines, each with a newline, must
    // hash to what export.json (signed above) says.
    auto streamEntry = [&](const audit::FileEntry& f, auto&& forEachLineOf) -> Status {
        MS_TRY(w.begin(f.name, f.sizeBytes, mtime));
        HashingWriter out(w);
        Status st;  // the first write error, if any
        forEachLineOf([&](std::string_view line) {
            if (!st) return;
            st = out.add(line);
            if (st) st = out.add("\n");
        });
        if (st) st = out.flush();
        if (!st) return st;
        if (out.hex() != f.sha256) return makeError(Errc::Internal, f.name + " changed while the export was streamed");
        MS_TRY(w.end());  // Usage if the size changed: also fatal
        return {};
    };
    std::size_t fileIndex = 3;  // after keys.json, media.json and audit.jsonl
    try {
        MS_TRY(streamEntry(m.files.at(2), [&](auto&& onLine) { forEachAuditLine(db, m.auditHead->seq, onLine); }));
        for (const auto& id : plan.playersWithEvidence) {
            MS_TRY(streamEntry(m.files.at(fileIndex++), [&](auto&& onLine) {
                forEachManifestLine(db, id, plan.manifestVersions.at(id), onLine);
            }));
            for (bool records : {true, false}) {
                MS_TRY(streamEntry(m.files.at(fileIndex++), [&](auto&& onLine) {
                    const auto& snap = plan.snapshot.at(id);
                    forEachLine(db, records, id, records ? snap.maxRecordSeq : snap.maxCheckpointSeq, onLine);
                }));
            }
        }
    } catch (const std::exception& e) {
        return makeError(Errc::Internal, std::string("reading the evidence failed: ") + e.what());
    }
    return w.finish();
}

Status writeAuditExport(Db& db, const ExportRequest& req, const crypto::PrivateKey& controllerKey,
                        tar::ByteSink& sink) {
    auto plan = planExport(db, req);
    if (!plan) return plan.error();
    return streamExport(db, *plan, controllerKey, sink);
}

}  // namespace microscape::controller
