// Test support: a valid proof-of-play evidence export made from signed chains,
// and a generator of broken variants of it, each with the failure an auditor's
// verifier must report. Used by the audit tests (library and CLI).
#pragma once

#include <algorithm>
#include <cstdio>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "microscape/core/audit.hpp"
#include "microscape/core/crypto.hpp"
#include "microscape/core/json.hpp"
#include "microscape/core/manifest.hpp"
#include "microscape/core/pop.hpp"
#include "microscape/core/tar.hpp"
#include "microscape/core/time.hpp"

namespace microscape::testing {

// 2026-04-15T00:00:00Z: 国家安全教育日.
constexpr std::int64_t kExportDay = 1776211200000;

struct ExportWorld {
    using Key = std::shared_ptr<const crypto::PrivateKey>;
    static Key newKey() { return std::make_shared<const crypto::PrivateKey>(crypto::PrivateKey::generate().value()); }
    Key controllerKey = newKey();
    Key attackerKey = newKey();
    std::map<std::string, Key> playerKeys;
    audit::ExportManifest manifest;
    std::vector<audit::PlayerEntry> players;
    std::vector<audit::MediaName> media;
    std::map<std::string, audit::PlayerEvidence> evidence;
    // The SHA-256 of the manifest each player's new records name (record format
    // 2); none: format 1 records, as players wrote them before.
    std::map<std::string, std::string> inForce;
    // The controller's audit log (audit.jsonl), chained.
    std::vector<audit::AuditRow> auditRows;

    std::string write() const {
        tar::StringSink sink;
        auto s = audit::writeExport(sink, manifest, players, media, evidence, *controllerKey, auditRows);
        if (!s) throw std::runtime_error(s.error().str());
        return sink.data;
    }
};

inline const std::string kPosterSha = crypto::sha256Hex("反诈防骗海报");
inline const std::string kClipSha = crypto::sha256Hex("禁毒短片");

// A manifest for the player at a location, signed by key (the controller's,
// unless a test forges one): its canonical bytes.
inline std::string signedManifestFor(const std::string& playerId, const manifest::Location& where, std::int64_t version,
                                     const crypto::PrivateKey& key) {
    manifest::Manifest m;
    m.bundleId = "player-" + playerId;
    m.version = version;
    m.issuedAtMs = kExportDay - 2 * 86400000LL;
    m.expiresAtMs = kExportDay + 30 * 86400000LL;
    m.target = playerId;
    m.schedule = json::Object{{"zone", where.timeZone}};
    m.location = where;
    return manifest::sign(m, key).bytes;
}

// The controller issues the player a new manifest at `where`: its records name
// it from now on, and the export carries it.
inline void issueManifest(ExportWorld& w, const std::string& playerId, const manifest::Location& where,
                          std::int64_t version) {
    std::string bytes = signedManifestFor(playerId, where, version, *w.controllerKey);
    w.inForce[playerId] = crypto::sha256Hex(bytes);
    w.evidence[playerId].manifests.push_back(std::move(bytes));
}

// Appends a play to a player's chain (every checkpointEvery records a signed checkpoint).
inline void appendPlay(ExportWorld& w, const std::string& playerId, const std::string& media, std::int64_t startMs,
                       std::int64_t scheduledMs, std::int64_t measuredMs) {
    auto& ev = w.evidence[playerId];
    pop::Record r;
    r.playerId = playerId;
    r.seq = static_cast<std::int64_t>(ev.records.size()) + 1;
    r.prevHash = ev.records.empty() ? std::string(pop::kGenesisHash) : pop::recordHash(ev.records.back());
    r.kind = pop::Kind::Play;
    if (auto m = w.inForce.find(playerId); m != w.inForce.end())
        r.manifestSha256 = m->second;
    else
        r.format = 1;
    r.bundleVersion = 3;
    r.mediaSha256 = media;
    r.playlistId = "pl-1";
    r.scheduleId = "sch-1";
    r.source = "entry";
    r.campaignId = "cmp-2026-nsed";
    r.startUtcMs = startMs;
    r.endUtcMs = startMs + measuredMs;
    r.scheduledMs = scheduledMs;
    r.measuredMs = measuredMs;
    r.outcome = pop::classify(scheduledMs, measuredMs);
    r.frameDigest = crypto::sha256Hex("frame" + std::to_string(r.seq));
    ev.records.push_back(r);
}

// chained: a format 2 checkpoint naming the one before (as players make them
// now); else format 1 (as players made them before).
inline void checkpointAll(ExportWorld& w, const std::string& playerId, std::int64_t atMs, bool chained = true) {
    auto& ev = w.evidence[playerId];
    std::int64_t from = ev.checkpoints.empty() ? 1 : ev.checkpoints.back().lastSeq + 1;
    std::vector<pop::Record> batch(ev.records.begin() + (from - 1), ev.records.end());
    if (batch.empty()) return;
    std::optional<std::string> prev;
    if (chained)
        prev = ev.checkpoints.empty() ? std::string(pop::kGenesisHash) : pop::checkpointHash(ev.checkpoints.back());
    ev.checkpoints.push_back(pop::makeCheckpoint(batch, atMs, *w.playerKeys.at(playerId), prev));
}

// A head statement by a player over its record seq (signed with key).
inline pop::Head headOf(const ExportWorld& w, const std::string& playerId, std::int64_t seq, std::int64_t atMs,
                        const crypto::PrivateKey& key) {
    pop::Head h;
    h.playerId = playerId;
    h.seq = seq;
    h.hash = pop::recordHash(w.evidence.at(playerId).records.at(static_cast<std::size_t>(seq - 1)));
    h.createdUtcMs = atMs;
    pop::sign(h, key);
    return h;
}

// Recomputes prev links from index i on (a forger re-chaining after an edit).
inline void rechain(std::vector<pop::Record>& recs, std::size_t from) {
    for (std::size_t i = std::max<std::size_t>(from, 1); i < recs.size(); ++i)
        recs[i].prevHash = pop::recordHash(recs[i - 1]);
}

// Rewrites a player's chain as the screen would have written it: edit applied
// to every record, links and checkpoints (every 5 records; chained unless
// format 1) made again with the player's key.
inline void remakeChain(ExportWorld& w, const std::string& playerId, const std::function<void(pop::Record&)>& edit,
                        bool chainedCheckpoints = true) {
    auto& ev = w.evidence.at(playerId);
    for (auto& r : ev.records) edit(r);
    rechain(ev.records, 0);
    ev.checkpoints.clear();
    for (std::size_t from = 0; from < ev.records.size(); from += 5) {
        std::optional<std::string> prev;
        if (chainedCheckpoints)
            prev = ev.checkpoints.empty() ? std::string(pop::kGenesisHash) : pop::checkpointHash(ev.checkpoints.back());
        ev.checkpoints.push_back(
            pop::makeCheckpoint(std::span(ev.records).subspan(from, std::min<std::size_t>(5, ev.records.size() - from)),
                                kExportDay, *w.playerKeys.at(playerId), prev));
    }
}

// The clip's plays of a player carry their frame counts (record format 3):
// 25 frames a second, none lost, except its play at index `degradedAt` (a
// clip play), which froze for 720 ms and lost 30 frames, and so is degraded
// (docs/proof-of-play.md, "Frames"). outcome: what that play claims.
inline void withFrames(ExportWorld& w, const std::string& playerId, std::size_t degradedAt,
                       pop::Outcome outcome = pop::Outcome::Degraded) {
    std::size_t i = 0;
    remakeChain(w, playerId, [&](pop::Record& r) {
        const std::size_t at = i++;
        if (r.mediaSha256 != kClipSha || r.format < 3) return;
        r.frames = r.measuredMs / 40;
        r.longestFreezeMs = 80;
        if (at == degradedAt) {
            r.frames -= 30;
            r.framesDropped = 30;
            r.framesLate = 3;
            r.longestFreezeMs = 720;
            r.outcome = outcome;
        }
    });
}

// The screen had been at `where` all along: keys.json, a manifest there and
// every record naming it.
inline void relocate(ExportWorld& w, std::size_t playerIndex, const manifest::Location& where) {
    audit::PlayerEntry& p = w.players.at(playerIndex);
    audit::setLocation(p, where);
    w.evidence[p.playerId].manifests.clear();
    issueManifest(w, p.playerId, where, 3);
    const std::string sha = w.inForce.at(p.playerId);
    remakeChain(w, p.playerId, [&](pop::Record& r) { r.manifestSha256 = sha; });
}

// A screen moved on its record fromSeq: from there on its records name a new
// manifest at `where`, and keys.json gives where it is now.
inline void moveFrom(ExportWorld& w, std::size_t playerIndex, const manifest::Location& where, std::int64_t fromSeq) {
    audit::PlayerEntry& p = w.players.at(playerIndex);
    audit::setLocation(p, where);
    issueManifest(w, p.playerId, where, 4);
    const std::string sha = w.inForce.at(p.playerId);
    remakeChain(w, p.playerId, [&](pop::Record& r) {
        if (r.seq >= fromSeq) r.manifestSha256 = sha;
    });
}

// Appends a row to the world's audit log, chained as the controller chains it.
inline void appendAuditRow(ExportWorld& w, const std::string& actor, const std::string& action,
                           const std::string& entity, const std::string& entityId, const json::Value& after,
                           std::int64_t atMs) {
    audit::AuditRow r;
    r.seq = static_cast<std::int64_t>(w.auditRows.size()) + 1;
    r.prevHash = w.auditRows.empty() ? std::string(audit::kAuditGenesisHash) : w.auditRows.back().hash;
    r.atMs = atMs;
    r.actor = actor;
    r.action = action;
    r.entity = entity;
    r.entityId = entityId;
    r.afterJson = json::canonical(after);
    r.hash = audit::auditRowHash(r);
    w.auditRows.push_back(std::move(r));
}

// One screen of a recall (docs/audit-export.md, "Recalls"): the controller
// compiles it a manifest (version 5) without the media — or, lying, with it —
// which the export carries unless told not to; it confirms at confirmAtMs (in
// the audit log); the screen's records name that manifest from runsFromSeq on.
struct RecallScreenSpec {
    std::string playerId;
    std::optional<std::int64_t> confirmAtMs;
    std::optional<std::int64_t> runsFromSeq;
    bool manifestListsMedia = false;
    bool manifestInExport = true;
};

// A recall of `media` at atMs, in the audit log as the controller writes it:
// create (with the screens), one confirm per confirmation, and complete when
// every screen confirmed.
inline void addRecall(ExportWorld& w, const std::string& recallId, const std::string& media, std::int64_t atMs,
                      const std::vector<RecallScreenSpec>& screens) {
    json::Array list;
    std::optional<std::int64_t> last;
    bool all = true;
    for (const auto& spec : screens) {
        const audit::PlayerEntry& p = *std::find_if(w.players.begin(), w.players.end(),
                                                    [&](const auto& e) { return e.playerId == spec.playerId; });
        manifest::Manifest m;
        m.bundleId = "player-" + spec.playerId;
        m.version = 5;
        m.issuedAtMs = atMs;
        m.expiresAtMs = atMs + 30 * 86400000LL;
        m.target = spec.playerId;
        m.schedule = json::Object{{"zone", p.timeZone}};
        m.location = audit::locationOf(p);
        if (spec.manifestListsMedia) {
            manifest::MediaEntry e;
            e.sha256 = media;
            e.sizeBytes = 1000;
            e.kind = MediaKind::Image;
            e.mime = "image/png";
            e.name = "recalled";
            e.fileName = "recalled.png";
            m.media.push_back(e);
        }
        const std::string bytes = manifest::sign(m, *w.controllerKey).bytes;
        const std::string sha = crypto::sha256Hex(bytes);
        if (spec.manifestInExport) w.evidence[spec.playerId].manifests.push_back(bytes);
        if (spec.runsFromSeq)
            remakeChain(w, spec.playerId, [&](pop::Record& r) {
                if (r.seq >= *spec.runsFromSeq) r.manifestSha256 = sha;
            });
        list.push_back(json::Object{
            {"playerId", spec.playerId}, {"version", 5}, {"manifestSha256", sha}, {"confirmedAt", nullptr}});
        if (spec.confirmAtMs)
            last = std::max(last.value_or(*spec.confirmAtMs), *spec.confirmAtMs);
        else
            all = false;
    }
    appendAuditRow(w, "approver", "create", "recall", recallId,
                   json::Object{{"id", recallId},
                                {"mediaSha256", media},
                                {"mediaName", "反诈防骗海报"},
                                {"reason", "海报上的举报电话已变更"},
                                {"recalledAt", timeutil::formatUtcMs(atMs)},
                                {"recalledBy", "approver"},
                                {"automatic", false},
                                {"screens", std::move(list)}},
                   atMs);
    for (const auto& spec : screens)
        if (spec.confirmAtMs)
            appendAuditRow(w, "player:" + spec.playerId, "confirm", "recall", recallId,
                           json::Object{{"playerId", spec.playerId},
                                        {"version", 5},
                                        {"confirmedAt", timeutil::formatUtcMs(*spec.confirmAtMs)}},
                           *spec.confirmAtMs);
    if (all && last)
        appendAuditRow(w, "system", "complete", "recall", recallId,
                       json::Object{{"completedAt", timeutil::formatUtcMs(*last)},
                                    {"confirmedScreens", static_cast<std::int64_t>(screens.size())}},
                       *last);
}

// The export as an earlier controller made it from earlier players: export
// format 2 (format 1 checkpoints) or 3 (chained ones), records of format 1,
// no manifests.
inline void makeLegacy(ExportWorld& w, int exportFormat = 2) {
    w.manifest.format = exportFormat;
    w.inForce.clear();
    for (auto& [id, ev] : w.evidence) {
        ev.manifests.clear();
        remakeChain(
            w, id,
            [](pop::Record& r) {
                r.format = 1;
                r.manifestSha256.clear();
            },
            exportFormat >= 3);
    }
}

// Two players (a garage entrance and a mall), plays on 04-14 (local), 04-15 and
// 04-16, with checkpoints every 5 records. The counted period is 04-15 local day.
// Each player's plays name the manifest (at its location) the controller issued
// it. legacy: an export as made before chained checkpoints, rosters and signed
// locations (export format 2, format 1 checkpoints and records, no manifests).
inline ExportWorld makeExportWorld(bool legacy = false) {
    ExportWorld w;
    struct P {
        const char* id;
        const char* loc;
        const char* name;
        const char* venue;
    };
    for (P p : {P{"garage-01", "loc-wanda-garage", "万达广场地下车库入口", "garage_entrance"},
                P{"mall-02", "loc-wanda-mall", "万达广场一楼中庭", "mall"}}) {
        w.playerKeys.emplace(p.id, ExportWorld::newKey());
        audit::PlayerEntry e;
        e.playerId = p.id;
        auto pub = w.playerKeys.at(p.id)->publicKey();
        e.publicKeyB64 = crypto::base64Encode(pub.raw());
        e.keyId = pub.id();
        e.enrolledAtMs = kExportDay - 30LL * 86400000;
        e.enrolledBy = "admin";
        e.locationId = p.loc;
        e.locationName = p.name;
        e.venueType = p.venue;
        e.district = "江汉区";
        e.timeZone = "Asia/Shanghai";
        w.players.push_back(e);
        if (!legacy) issueManifest(w, p.id, audit::locationOf(e), 3);
        // Local 04-14 23:59:50 (+08:00) = 15:59:50Z on 04-14: counts for 04-14, not 04-15.
        std::int64_t t = kExportDay - 8 * 3600000LL - 10000;
        for (int i = 0; i < 14; ++i) {
            bool clip = i % 3 == 2;
            std::int64_t sched = clip ? 15000 : 10000;
            std::int64_t measured = (i == 6) ? 4000 : sched + (i % 2 ? 120 : -80);  // one interrupted play
            appendPlay(w, p.id, clip ? kClipSha : kPosterSha, t, sched, measured);
            if (i % 5 == 4) checkpointAll(w, p.id, t + sched, !legacy);
            t += sched + 3600000;  // an hour apart: spans 04-14 .. 04-15 local
        }
        checkpointAll(w, p.id, t, !legacy);
    }
    w.media = {{kPosterSha, "反诈防骗海报", "image"}, {kClipSha, "禁毒短片", "video"}};
    w.manifest.exportId = "exp-test-1";
    w.manifest.createdAtMs = kExportDay + 3 * 86400000LL;
    w.manifest.fromMs = kExportDay - 8 * 3600000LL;  // 04-15 00:00 local
    w.manifest.toMs = w.manifest.fromMs + 86400000;
    if (legacy) w.manifest.format = 2;
    return w;
}

struct BrokenExport {
    std::string name;
    std::string bytes;
    std::string expected;               // a failure code verify() reports, or an Errc name readExport returns
    bool pinPlayerKeys = false;         // verify with the genuine player keys pinned
    std::vector<pop::Head> heads = {};  // verify with these heads (collected on site)
};

// Re-signs one checkpoint with a key (as a forger would).
inline void resign(pop::Checkpoint& c, const crypto::PrivateKey& key) {
    pop::sign(c, key);
}

// Rewrites an export's entries (all but export.json and export.sig, in archive
// order) with edit, then lists them again in export.json and re-signs it with
// the controller key: a controller that packs what it likes.
inline std::string rewriteExport(const ExportWorld& w, const std::string& bytes,
                                 const std::function<void(std::vector<std::pair<std::string, std::string>>&)>& edit) {
    tar::MemorySource src(bytes);
    auto e = audit::readExport(src);
    if (!e) throw std::runtime_error(e.error().str());
    tar::MemorySource again(bytes);
    tar::Reader reader(again);
    std::vector<std::pair<std::string, std::string>> entries;
    while (true) {
        auto h = reader.next();
        if (!h) throw std::runtime_error(h.error().str());
        if (!*h) break;
        auto data = tar::readEntry(reader, **h, 1u << 30);
        if (!data) throw std::runtime_error(data.error().str());
        if ((*h)->name != audit::kExportName && (*h)->name != audit::kExportSigName)
            entries.emplace_back((*h)->name, std::move(*data));
    }
    edit(entries);
    audit::ExportManifest m = e->manifest;
    m.files.clear();
    for (const auto& [name, data] : entries) m.files.push_back({name, crypto::sha256Hex(data), data.size()});
    const std::string mb = audit::manifestBytes(m);
    tar::StringSink sink;
    tar::Writer tw(sink);
    auto ok = [](const Status& st) {
        if (!st) throw std::runtime_error(st.error().str());
    };
    ok(tw.add(audit::kExportName, mb));
    ok(tw.add(audit::kExportSigName, w.controllerKey->sign(mb)));
    for (const auto& [name, data] : entries) ok(tw.add(name, data));
    ok(tw.finish());
    return sink.data;
}

// Drops the named entries (and their lines in export.json, re-signed).
inline std::string withoutEntries(const ExportWorld& w, const std::vector<std::string>& names) {
    return rewriteExport(w, w.write(), [&](std::vector<std::pair<std::string, std::string>>& entries) {
        std::erase_if(entries,
                      [&](const auto& e) { return std::find(names.begin(), names.end(), e.first) != names.end(); });
    });
}

// Adds a third screen "phantom-03" to keys.json, with its own key (which the
// auditor never read off any screen) and a valid signed chain of completed
// plays at the mall's location: counts that no physical screen made.
inline void addPhantomScreen(ExportWorld& w, const ExportWorld::Key& key) {
    audit::PlayerEntry e = w.players.back();
    e.playerId = "phantom-03";
    auto pub = key->publicKey();
    e.publicKeyB64 = crypto::base64Encode(pub.raw());
    e.keyId = pub.id();
    w.players.push_back(e);
    std::int64_t t = kExportDay - 8 * 3600000LL + 3600000;
    for (int i = 0; i < 3; ++i) {
        pop::Record r;
        auto& ev = w.evidence[e.playerId];
        r.playerId = e.playerId;
        r.seq = static_cast<std::int64_t>(ev.records.size()) + 1;
        r.prevHash = ev.records.empty() ? std::string(pop::kGenesisHash) : pop::recordHash(ev.records.back());
        r.bundleVersion = 3;
        r.mediaSha256 = kPosterSha;
        r.playlistId = "pl-1";
        r.scheduleId = "sch-1";
        r.source = "entry";
        r.campaignId = "cmp-2026-nsed";
        r.startUtcMs = t;
        r.endUtcMs = t + 10000;
        r.scheduledMs = r.measuredMs = 10000;
        r.outcome = pop::Outcome::Completed;
        ev.records.push_back(r);
        t += 60000;
    }
    w.evidence[e.playerId].checkpoints.push_back(pop::makeCheckpoint(w.evidence[e.playerId].records, t, *key));
}

inline std::vector<BrokenExport> brokenExports(const ExportWorld& good) {
    std::vector<BrokenExport> out;
    auto variant = [&](std::string name, std::string expected, const std::function<void(ExportWorld&)>& edit,
                       bool pin = false) {
        ExportWorld w = good;
        edit(w);
        out.push_back({std::move(name), w.write(), std::move(expected), pin});
    };
    auto& g = "garage-01";
    variant("one changed field (media) in one record", "broken_link",
            [&](ExportWorld& w) { w.evidence[g].records[2].mediaSha256 = kPosterSha; });
    variant("outcome edited: interrupted to completed", "bad_record",
            [&](ExportWorld& w) { w.evidence[g].records[6].outcome = pop::Outcome::Completed; });
    variant("measured time inflated on an interrupted play", "broken_link",
            [&](ExportWorld& w) { w.evidence[g].records[6].measuredMs = 4500; });
    variant("start timestamp moved by a day", "broken_link", [&](ExportWorld& w) {
        w.evidence[g].records[8].startUtcMs += 86400000;
        w.evidence[g].records[8].endUtcMs += 86400000;
    });
    variant("deleted record in the middle", "gap", [&](ExportWorld& w) {
        auto& r = w.evidence[g].records;
        r.erase(r.begin() + 7);
    });
    variant("the last record deleted", "checkpoint_missing", [&](ExportWorld& w) { w.evidence[g].records.pop_back(); });
    variant("the first record deleted", "gap", [&](ExportWorld& w) {
        auto& r = w.evidence[g].records;
        r.erase(r.begin());
    });
    variant("two records swapped", "out_of_order",
            [&](ExportWorld& w) { std::swap(w.evidence[g].records[3], w.evidence[g].records[4]); });
    variant("a duplicated record", "duplicate", [&](ExportWorld& w) {
        auto& r = w.evidence[g].records;
        r.insert(r.begin() + 5, r[4]);
    });
    variant("a forged record inserted and the rest re-chained", "checkpoint_mismatch", [&](ExportWorld& w) {
        auto& r = w.evidence[g].records;
        pop::Record fake = r[9];
        fake.startUtcMs += 1000;
        fake.endUtcMs += 1000;
        r.insert(r.begin() + 10, fake);
        for (std::size_t i = 10; i < r.size(); ++i) r[i].seq = static_cast<std::int64_t>(i) + 1;
        rechain(r, 10);
    });
    variant("a record edited and the chain re-linked after it", "checkpoint_mismatch", [&](ExportWorld& w) {
        auto& r = w.evidence[g].records;
        r[11].measuredMs = r[11].scheduledMs;
        r[11].outcome = pop::Outcome::Completed;
        rechain(r, 12);
    });
    variant("a checkpoint signed by another key", "checkpoint_signature",
            [&](ExportWorld& w) { resign(w.evidence[g].checkpoints[1], *w.attackerKey); });
    variant("a checkpoint's last hash altered", "checkpoint_signature",
            [&](ExportWorld& w) { w.evidence[g].checkpoints[0].lastHash = std::string(64, 'a'); });
    variant("the last checkpoint removed", "unsigned", [&](ExportWorld& w) { w.evidence[g].checkpoints.pop_back(); });
    variant("a record of another player spliced in", "wrong_player", [&](ExportWorld& w) {
        auto& r = w.evidence[g].records;
        r.insert(r.begin() + 3, w.evidence["mall-02"].records[3]);
    });
    variant("records of the two players exchanged", "wrong_player",
            [&](ExportWorld& w) { std::swap(w.evidence["garage-01"], w.evidence["mall-02"]); });
    variant("a forged player key in the key list", "checkpoint_signature", [&](ExportWorld& w) {
        auto pub = w.attackerKey->publicKey();
        w.players[0].publicKeyB64 = crypto::base64Encode(pub.raw());
        w.players[0].keyId = pub.id();
    });
    variant(
        "a forged key with every checkpoint re-signed, pinned keys given", "key_not_pinned",
        [&](ExportWorld& w) {
            auto pub = w.attackerKey->publicKey();
            w.players[0].publicKeyB64 = crypto::base64Encode(pub.raw());
            w.players[0].keyId = pub.id();
            for (auto& c : w.evidence[g].checkpoints) resign(c, *w.attackerKey);
        },
        true);
    variant("key id does not match the key", "key_id",
            [&](ExportWorld& w) { w.players[1].keyId = std::string(64, 'b'); });
    variant("evidence for a player not in the key list", "unknown_player",
            [&](ExportWorld& w) { w.evidence["ghost-9"] = w.evidence["mall-02"]; });
    variant("plays long before enrolment", "before_enrolment",
            [&](ExportWorld& w) { w.players[0].enrolledAtMs = kExportDay + 5 * 86400000LL; });
    variant("an unknown time zone", "unknown_zone",
            [&](ExportWorld& w) { w.players[1].timeZone = "Mars/Olympus_Mons"; });

    // Where and in which zone: the screens' manifests, not keys.json.
    variant("a screen's location relabelled in keys.json", "location_mismatch", [&](ExportWorld& w) {
        w.players[1].locationId = w.players[0].locationId;
        w.players[1].locationName = w.players[0].locationName;
    });
    variant("a screen's time zone relabelled in keys.json", "location_mismatch",
            [&](ExportWorld& w) { w.players[0].timeZone = "Asia/Tokyo"; });
    variant("the manifest the plays name left out", "manifest_missing",
            [&](ExportWorld& w) { w.evidence[g].manifests.clear(); });
    variant("the manifest replaced by one at another location, signed by the controller", "manifest_missing",
            [&](ExportWorld& w) {
                manifest::Location elsewhere = audit::locationOf(w.players[1]);
                w.evidence[g].manifests[0] = signedManifestFor(g, elsewhere, 3, *w.controllerKey);
                audit::setLocation(w.players[0], elsewhere);  // keys.json agrees with the swapped manifest
            });
    variant("a manifest of another screen among a screen's manifests", "manifest_player",
            [&](ExportWorld& w) { w.evidence[g].manifests.push_back(w.evidence["mall-02"].manifests.at(0)); });

    // Checkpoints: ordered, contiguous, each naming the one before.
    variant("a recall naming a manifest that still lists the recalled media", "recall_manifest", [&](ExportWorld& w) {
        addRecall(w, "1", kPosterSha, kExportDay + 2 * 86400000LL,
                  {{.playerId = g, .confirmAtMs = kExportDay + 2 * 86400000LL + 60000, .manifestListsMedia = true},
                   {.playerId = "mall-02", .confirmAtMs = kExportDay + 2 * 86400000LL + 90000}});
    });
    variant("a recall naming a manifest left out of the export", "recall_manifest", [&](ExportWorld& w) {
        addRecall(w, "1", kPosterSha, kExportDay + 2 * 86400000LL,
                  {{.playerId = g, .confirmAtMs = kExportDay + 2 * 86400000LL + 60000, .manifestInExport = false},
                   {.playerId = "mall-02", .confirmAtMs = kExportDay + 2 * 86400000LL + 90000}});
    });
    variant("a checkpoint in the middle removed", "checkpoint_gap",
            [&](ExportWorld& w) { w.evidence[g].checkpoints.erase(w.evidence[g].checkpoints.begin() + 1); });
    variant("the same checkpoint twice", "checkpoint_duplicate", [&](ExportWorld& w) {
        auto& c = w.evidence[g].checkpoints;
        c.insert(c.begin() + 1, c[1]);
    });
    variant("checkpoints in reverse order", "checkpoint_order",
            [&](ExportWorld& w) { std::reverse(w.evidence[g].checkpoints.begin(), w.evidence[g].checkpoints.end()); });
    variant("overlapping checkpoints", "checkpoint_overlap", [&](ExportWorld& w) {
        // The player's key re-making the second checkpoint over 3..10 (chained):
        // ranges that overlap are refused even when every signature holds.
        auto& ev = w.evidence[g];
        const auto& key = *w.playerKeys.at(g);
        ev.checkpoints[1] = pop::makeCheckpoint(std::span(ev.records).subspan(2, 8), ev.checkpoints[1].createdUtcMs,
                                                key, pop::checkpointHash(ev.checkpoints[0]));
        ev.checkpoints[2] = pop::makeCheckpoint(std::span(ev.records).subspan(10, 4), ev.checkpoints[2].createdUtcMs,
                                                key, pop::checkpointHash(ev.checkpoints[1]));
    });
    {
        // The tail dropped with the checkpoint naming it: the chain that is left
        // is consistent, so only the screen's own head statement shows it.
        ExportWorld w = good;
        auto& ev = w.evidence[g];
        const pop::Head head = headOf(good, g, 14, kExportDay + 2 * 86400000LL, *good.playerKeys.at(g));
        ev.records.resize(10);
        ev.checkpoints.pop_back();
        out.push_back({"the tail dropped with its checkpoint, the screen's head given",
                       w.write(),
                       "head_not_reached",
                       false,
                       {head}});
        ExportWorld other = good;
        other.evidence[g].records[13].measuredMs += 1;
        out.push_back({"a head whose record differs in the export",
                       good.write(),
                       "head_mismatch",
                       false,
                       {headOf(other, g, 14, kExportDay + 2 * 86400000LL, *good.playerKeys.at(g))}});
        out.push_back({"a head not signed by the screen",
                       good.write(),
                       "head_signature",
                       false,
                       {headOf(good, g, 14, kExportDay + 2 * 86400000LL, *good.attackerKey)}});
        out.push_back({"a head taken after the export was made, not reached",
                       w.write(),
                       "head_after_export",
                       false,
                       {headOf(good, g, 14, good.manifest.createdAtMs + 1000, *good.playerKeys.at(g))}});
        pop::Head ghost = headOf(good, g, 14, kExportDay + 2 * 86400000LL, *good.attackerKey);
        ghost.playerId = "ghost-9";
        out.push_back(
            {"a head of a player the export does not list", good.write(), "head_unknown_player", false, {ghost}});
    }

    // The roster: with the screens' keys pinned, the export holds exactly them.
    variant(
        "a phantom screen with its own key and chain, every real screen pinned", "unpinned_player",
        [&](ExportWorld& w) { addPhantomScreen(w, w.attackerKey); }, true);
    variant(
        "a pinned screen left out of the export", "pinned_player_missing",
        [&](ExportWorld& w) {
            w.players.pop_back();
            w.evidence.erase("mall-02");
        },
        true);
    const std::vector<std::string> mallFiles = {audit::manifestsPath("mall-02"), audit::recordsPath("mall-02"),
                                                audit::checkpointsPath("mall-02")};
    out.push_back({"a listed screen without its files", withoutEntries(good, mallFiles), "missing_evidence"});
    out.push_back(
        {"a listed screen without its files, keys pinned", withoutEntries(good, mallFiles), "missing_evidence", true});
    out.push_back({"a listed screen with records but no checkpoints file",
                   withoutEntries(good, {audit::checkpointsPath("mall-02")}), "missing_evidence"});

    // Edits below the signed layer: the tar itself.
    std::string base = good.write();
    auto replaceOnce = [](std::string s, const std::string& from, const std::string& to) {
        auto at = s.find(from);
        if (at != std::string::npos) s.replace(at, from.size(), to);
        return s;
    };
    {
        // Change one digit inside a records file without touching export.json.
        std::string s = base;
        auto at = s.find("\"measured_ms\":4000");
        s[at + 14] = '9';
        out.push_back({"a records file edited after signing", s, "file_hash"});
    }
    out.push_back({"export.json period edited without re-signing",
                   replaceOnce(base, "\"from\":\"2026-04-14T16:00:00Z\"", "\"from\":\"2026-04-13T16:00:00Z\""),
                   "export_signature"});
    {
        ExportWorld w = good;
        w.controllerKey = w.attackerKey;
        out.push_back({"export signed by another controller key", w.write(), "export_signer"});
    }
    {
        // Loose tar fields (docs/bundle-format.md): each header patched and its
        // checksum made right again, so only the strict field rules catch them.
        auto patchHeader = [&](std::size_t at, const std::string& bytes) {
            std::string s = base;
            std::copy(bytes.begin(), bytes.end(), s.begin() + static_cast<std::ptrdiff_t>(at));
            std::fill(s.begin() + 148, s.begin() + 156, ' ');
            unsigned sum = 0;
            for (std::size_t i = 0; i < 512; ++i) sum += static_cast<unsigned char>(s[i]);
            char field[8];
            std::snprintf(field, sizeof field, "%06o", sum);
            std::copy(field, field + 7, s.begin() + 148);
            s[155] = ' ';
            return s;
        };
        out.push_back({"tar: a non-octal mtime", patchHeader(136, std::string("1234567890x\0", 12)), "BadTar"});
        out.push_back({"tar: uname with non-ASCII bytes", patchHeader(265, "\xe7\x8e\x8b"), "BadTar"});
        out.push_back({"tar: a link name on a regular file", patchHeader(157, "keys.json"), "BadTar"});
        std::string padded = base;
        const std::size_t size = std::stoul(base.substr(124, 11), nullptr, 8);  // export.json's size
        padded[512 + size + (size % 512 ? 1 : 0)] = 'x';
        out.push_back({"tar: non-zero padding after export.json", padded, "BadTar"});
    }
    out.push_back({"truncated file", base.substr(0, base.size() / 2 + 100), "Truncated"});
    out.push_back({"truncated inside the first header", base.substr(0, 300), "Truncated"});
    out.push_back({"not a tar at all", std::string(2048, 'x'), "BadTar"});
    {
        tar::StringSink sink;
        tar::Writer tw(sink);
        tar::MemorySource src(base);
        tar::Reader reader(src);
        while (true) {
            auto h = reader.next();
            if (!h.ok() || !*h) break;
            std::string data((*h)->sizeBytes, '\0');
            std::size_t got = 0;
            while (got < data.size()) got += *reader.read(data.data() + got, data.size() - got);
            (void)tw.add((*h)->name, data);
        }
        (void)tw.add("players/garage-01/notes.txt", "extra");
        (void)tw.finish();
        out.push_back({"an extra file in the archive", sink.data, "ExtraEntry"});
    }
    return out;
}

}  // namespace microscape::testing
