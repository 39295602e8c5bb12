#include "audit_export.hpp"

#include <algorithm>
#include <map>
#include <optional>
#include <set>

#include "microscape/controller/repo.hpp"
#include "microscape/core/manifest.hpp"
#include "store/export.hpp"

namespace microscape::controller {

namespace {

// One of a player's two evidence files, read a page at a time in seq order from
// the snapshot. each(line) is called for every stored line (without its LF).
template <class F>
void forEachLine(Db& db, bool records, const std::string& playerId, std::int64_t maxSeq, F&& each) {
    std::int64_t after = 0;
    std::string page;
    std::vector<std::size_t> ends;
    while (true) {
        page.clear();
        ends.clear();
        db.read([&](DbConn& c) {
            evidence::evidencePage(c, records, playerId, after, maxSeq, std::int64_t(kExportPageRows),
                                   [&](std::int64_t seq, const std::string& line) {
                                       after = seq;
                                       page += line;
                                       ends.push_back(page.size());
                                   });
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
            for (const auto& r : evidence::auditPage(c, after, maxSeq, std::int64_t(kExportPageRows))) {
                after = r.seq;
                page.push_back(audit::auditLineBytes(r));
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
    std::set<std::string> wanted = evidence::manifestsNamedByPlays(c, playerId, maxSeq, fromMs, toMs);
    std::string last;
    if (auto named = evidence::lastManifestNamed(c, playerId, maxSeq)) wanted.insert(last = *named);
    // sha256 -> version
    std::map<std::string, std::int64_t> found = evidence::manifestVersionsByHash(c, playerId, wanted);
    // (manifests compiled before their hash was stored)
    if (found.size() < wanted.size())
        evidence::manifestsWithoutHash(c, playerId, [&](std::int64_t version, const std::string& bytes) {
            if (auto sha = crypto::sha256Hex(bytes); wanted.count(sha)) found.emplace(sha, version);
        });
    PlayerManifests out;
    for (const auto& [sha, version] : found) out.versions.push_back(version);
    // The first manifest each recall gave the screen without the recalled media:
    // the verifier checks it (docs/audit-export.md, "Recalls").
    for (auto version : evidence::recallConfirmedVersions(c, playerId)) out.versions.push_back(version);
    std::sort(out.versions.begin(), out.versions.end());
    out.versions.erase(std::unique(out.versions.begin(), out.versions.end()), out.versions.end());
    if (auto it = found.find(last); it != found.end()) {
        if (auto bytes = evidence::manifestBytes(c, playerId, it->second))
            if (auto m = manifest::parse(*bytes)) out.lastLocation = m->location;
    }
    return out;
}

// Each of a player's exported manifests as one line (its manifest.json bytes).
template <class F>
void forEachManifestLine(Db& db, const std::string& playerId, const std::vector<std::int64_t>& versions, F&& each) {
    for (auto version : versions) {
        auto bytes =
            db.read([&](DbConn& c) { return evidence::manifestBytes(c, playerId, version).value_or(std::string()); });
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
            // The audit log's head: its last row now, by its stored seq and hash.
            if (auto head = evidence::auditHead(c))
                plan.manifest.auditHead = audit::AuditHead{head->first, head->second};
            else
                plan.manifest.auditHead = audit::AuditHead{};
            const std::set<std::string> wanted(req.players.begin(), req.players.end());
            std::set<std::string> found;
            for (const auto& row : evidence::exportPlayers(c)) {
                const std::string& id = row.id;
                if (!wanted.empty() && !wanted.count(id)) continue;
                found.insert(id);
                auto key = crypto::PublicKey::fromPem(row.identityKeyPem);
                if (!key) return makeError(Errc::Internal, "the stored key of player " + id + " is unreadable");
                audit::PlayerEntry e;
                e.playerId = id;
                e.publicKeyB64 = crypto::base64Encode(key->raw());
                e.keyId = key->id();
                e.enrolledAtMs = row.enrolledAtMs;
                e.enrolledBy = row.enrolledBy;
                e.locationId = row.locationId;
                e.locationName = row.locationName;
                e.venueType = row.venueType;
                e.district = row.district;
                e.timeZone = row.timeZone;
                players.push_back(std::move(e));
            }
            for (const auto& w : wanted)
                if (!found.count(w)) return makeError(Errc::NotFound, "no player " + w);
            std::set<std::string> listed;
            for (auto& m : evidence::mediaNames(c)) {
                listed.insert(m.sha256);
                media.push_back(std::move(m));
            }
            // Files screens played in place of an approved original: each names it.
            for (auto& d : evidence::derivedNames(c))
                if (listed.insert(d.sha256).second) media.push_back(std::move(d));
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
                snap.maxRecordSeq = evidence::maxRecordSeq(c, p.playerId);
                snap.maxCheckpointSeq = evidence::maxCheckpointSeq(c, p.playerId);
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
