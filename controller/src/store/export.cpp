// The store: what the evidence export reads (docs/audit-export.md).
#include "store/export.hpp"

#include "microscape/controller/repo.hpp"
#include "store/sql_stmt.hpp"

namespace microscape::controller::evidence {

void evidencePage(DbConn& c, bool records, const std::string& playerId, std::int64_t afterSeq, std::int64_t maxSeq,
                  std::int64_t limit, const std::function<void(std::int64_t, std::string)>& each) {
    const char* sql = records ? "SELECT seq, record FROM pop_records WHERE player_id = ? AND seq > ? AND seq <= ? "
                                "ORDER BY seq LIMIT ?"
                              : "SELECT last_seq, checkpoint FROM pop_checkpoints WHERE player_id = ? AND last_seq > ? "
                                "AND last_seq <= ? ORDER BY last_seq LIMIT ?";
    SqlStmt st(c, sql);
    st.bind(1, playerId).bind(2, afterSeq).bind(3, maxSeq).bind(4, limit);
    while (st.step()) each(st.i64(0), st.str(1));
}

std::vector<audit::AuditRow> auditPage(DbConn& c, std::int64_t afterSeq, std::int64_t maxSeq, std::int64_t limit) {
    std::vector<audit::AuditRow> out;
    for (const auto& row : c.query("SELECT seq, prev_hash, hash, at, actor_id, actor, action, entity, entity_id, "
                                   "before_json, after_json FROM audit_log WHERE seq > ? AND seq <= ? "
                                   "ORDER BY seq LIMIT ?",
                                   {afterSeq, maxSeq, limit}))
        out.push_back(*repo::auditRowOf(row));
    return out;
}

std::optional<std::pair<std::int64_t, std::string>> auditHead(DbConn& c) {
    if (auto head = c.one("SELECT seq, hash FROM audit_log WHERE seq IS NOT NULL ORDER BY "
                          "seq DESC LIMIT 1"))
        return std::make_pair(head->i64(0), head->str(1));
    return std::nullopt;
}

std::vector<ExportPlayer> exportPlayers(DbConn& c) {
    std::vector<ExportPlayer> out;
    SqlStmt ps(c,
               "SELECT p.id, p.identity_key, p.enrolled_at, COALESCE(u.username, ''), "
               "COALESCE(CAST(l.id AS TEXT), ''), COALESCE(l.name, ''), COALESCE(l.venue_type, ''), "
               "COALESCE(l.district, ''), COALESCE(NULLIF(l.timezone, ''), 'Asia/Shanghai') "
               "FROM players p LEFT JOIN locations l ON l.id = p.location_id "
               "LEFT JOIN enroll_tokens t ON t.id = p.enroll_token_id LEFT JOIN users u ON u.id = t.created_by "
               "ORDER BY p.id");
    while (ps.step())
        out.push_back(ExportPlayer{ps.str(0), ps.str(1), ps.i64(2), ps.str(3), ps.str(4), ps.str(5), ps.str(6),
                                   ps.str(7), ps.str(8)});
    return out;
}

std::vector<audit::MediaName> mediaNames(DbConn& c) {
    std::vector<audit::MediaName> out;
    SqlStmt ms(c, "SELECT sha256, display_name, kind FROM media ORDER BY sha256");
    while (ms.step()) out.push_back({ms.str(0), ms.str(1), ms.str(2), "", ""});
    return out;
}

std::vector<audit::MediaName> derivedNames(DbConn& c) {
    std::vector<audit::MediaName> out;
    SqlStmt ds(c,
               "SELECT d.sha256, m.display_name, d.kind, m.sha256, d.transform FROM media_derived d "
               "JOIN media m ON m.id = d.media_id WHERE d.state = 'ready' ORDER BY d.sha256, d.id");
    while (ds.step()) out.push_back({ds.str(0), ds.str(1), ds.str(2), ds.str(3), ds.str(4)});
    return out;
}

std::int64_t maxRecordSeq(DbConn& c, const std::string& playerId) {
    return c.one("SELECT COALESCE(MAX(seq), 0) FROM pop_records WHERE player_id = ?", {playerId})->i64(0);
}

std::int64_t maxCheckpointSeq(DbConn& c, const std::string& playerId) {
    return c.one("SELECT COALESCE(MAX(last_seq), 0) FROM pop_checkpoints WHERE player_id = ?", {playerId})->i64(0);
}

std::set<std::string> manifestsNamedByPlays(DbConn& c, const std::string& playerId, std::int64_t maxSeq,
                                            std::int64_t fromMs, std::int64_t toMs) {
    std::set<std::string> wanted;
    SqlStmt named(c,
                  "SELECT DISTINCT manifest FROM pop_records WHERE player_id = ? AND seq <= ? AND manifest <> '' "
                  "AND kind = 'play' AND start_utc_ms >= ? AND start_utc_ms < ?");
    named.bind(1, playerId).bind(2, maxSeq).bind(3, fromMs).bind(4, toMs);
    while (named.step()) wanted.insert(named.str(0));
    return wanted;
}

std::optional<std::string> lastManifestNamed(DbConn& c, const std::string& playerId, std::int64_t maxSeq) {
    SqlStmt lastNamed(c,
                      "SELECT manifest FROM pop_records WHERE player_id = ? AND seq <= ? AND manifest <> '' "
                      "ORDER BY seq DESC LIMIT 1");
    lastNamed.bind(1, playerId).bind(2, maxSeq);
    if (lastNamed.step()) return lastNamed.str(0);
    return std::nullopt;
}

std::map<std::string, std::int64_t> manifestVersionsByHash(DbConn& c, const std::string& playerId,
                                                           const std::set<std::string>& sha256s) {
    std::map<std::string, std::int64_t> found;  // sha256 -> version
    SqlStmt byHash(c, "SELECT version FROM compiled_manifests WHERE player_id = ? AND sha256 = ?");
    for (const auto& sha : sha256s) {
        byHash.reset();
        byHash.bind(1, playerId).bind(2, sha);
        if (byHash.step()) found[sha] = byHash.i64(0);
    }
    return found;
}

void manifestsWithoutHash(DbConn& c, const std::string& playerId,
                          const std::function<void(std::int64_t, const std::string&)>& each) {
    SqlStmt legacy(c, "SELECT version, manifest FROM compiled_manifests WHERE player_id = ? AND sha256 IS NULL");
    legacy.bind(1, playerId);
    while (legacy.step()) each(legacy.i64(0), legacy.str(1));
}

std::vector<std::int64_t> recallConfirmedVersions(DbConn& c, const std::string& playerId) {
    std::vector<std::int64_t> out;
    SqlStmt recalled(c, "SELECT DISTINCT version FROM recall_screens WHERE player_id = ? AND version IS NOT NULL");
    recalled.bind(1, playerId);
    while (recalled.step()) out.push_back(recalled.i64(0));
    return out;
}

std::optional<std::string> manifestBytes(DbConn& c, const std::string& playerId, std::int64_t version) {
    SqlStmt one(c, "SELECT manifest FROM compiled_manifests WHERE player_id = ? AND version = ?");
    one.bind(1, playerId).bind(2, version);
    if (one.step()) return one.str(0);
    return std::nullopt;
}

}  // namespace microscape::controller::evidence
