#include "audit_export.hpp"

#include <set>

#include "rollups.hpp"

namespace microscape::controller {

Result<ExportData> loadExport(Db& db, const ExportRequest& req) {
    try {
        return db.read([&](DbConn& c) -> Result<ExportData> {
            sqlite3* h = sqliteOf(c);
            ExportData d;
            d.manifest.exportId = req.exportId;
            d.manifest.createdAtMs = req.nowMs;
            d.manifest.fromMs = req.fromMs;
            d.manifest.toMs = req.toMs;
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
                d.players.push_back(std::move(e));
            }
            for (const auto& w : wanted)
                if (!found.count(w)) return makeError(Errc::NotFound, "no player " + w);

            SqlStmt rs(h, "SELECT record FROM pop_records WHERE player_id = ? ORDER BY seq");
            SqlStmt cs(h, "SELECT checkpoint FROM pop_checkpoints WHERE player_id = ? ORDER BY last_seq");
            for (const auto& p : d.players) {
                audit::PlayerEvidence ev;
                rs.bind(1, p.playerId);
                while (rs.step()) {
                    auto r = pop::parseRecord(rs.str(0));
                    if (!r) return makeError(Errc::Internal, "a stored record of " + p.playerId + " is unreadable");
                    ev.records.push_back(std::move(*r));
                }
                rs.reset();
                cs.bind(1, p.playerId);
                while (cs.step()) {
                    auto cp = pop::parseCheckpoint(cs.str(0));
                    if (!cp) return makeError(Errc::Internal, "a stored checkpoint of " + p.playerId + " is unreadable");
                    ev.checkpoints.push_back(std::move(*cp));
                }
                cs.reset();
                if (ev.records.empty() && ev.checkpoints.empty()) continue;
                d.records += ev.records.size();
                d.evidence.emplace(p.playerId, std::move(ev));
            }
            SqlStmt ms(h, "SELECT sha256, display_name, kind FROM media ORDER BY sha256");
            while (ms.step()) d.media.push_back({ms.str(0), ms.str(1), ms.str(2)});
            return d;
        });
    } catch (const std::exception& e) {
        return makeError(Errc::Internal, std::string("reading the evidence failed: ") + e.what());
    }
}

Status writeAuditExport(Db& db, const ExportRequest& req, const crypto::PrivateKey& controllerKey,
                        tar::ByteSink& sink) {
    auto d = loadExport(db, req);
    if (!d) return d.error();
    return audit::writeExport(sink, d->manifest, d->players, d->media, d->evidence, controllerKey);
}

}  // namespace microscape::controller
