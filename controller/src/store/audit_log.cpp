// The store: the hash-chained audit log (docs/audit-export.md).
#include "microscape/controller/repo.hpp"

#include <set>

#include "microscape/core/audit.hpp"
#include "microscape/core/crypto.hpp"
#include "microscape/core/json.hpp"
#include "store/repo_rows.hpp"

namespace microscape::controller {

namespace repo {

// --- audit ---------------------------------------------------------------------------------
namespace {

// The chain's canonical encoding is JSON, which holds only UTF-8: any other byte
// is stored as '?' (such text cannot come from the JSON API anyway).
std::string utf8(const std::string& s) {
    if (json::isValidUtf8(s)) return s;
    std::string out = s;
    for (char& ch : out)
        if (static_cast<unsigned char>(ch) >= 0x80) ch = '?';
    return out;
}
std::optional<std::string> optUtf8(const std::string& s) {
    if (s.empty()) return std::nullopt;
    return utf8(s);
}
DbValue dbOpt(const std::optional<std::string>& s) {
    return s ? DbValue(*s) : DbValue(nullptr);
}

// Any value: the advisory lock that makes the audit log's writers take turns
// on PostgreSQL ("MSAUDITL").
constexpr std::int64_t kAuditChainLock = 0x4d53'4155'4449'544c;

// PostgreSQL: waits for the audit log's lock, held to the end of the
// transaction, so that the next statement reads the head as the previous
// writer committed it (READ COMMITTED: two transactions would otherwise both
// read the same head and claim the same seq). SQLite: one writer at a time.
void lockAuditChain(DbConn& c) {
    if (c.backend() == sql::Backend::Postgres) c.exec("SELECT pg_advisory_xact_lock(?)", {kAuditChainLock});
}

// The last chained row: (seq, hash), or (0, genesis).
audit::AuditHead auditHead(DbConn& c) {
    auto last = c.one("SELECT seq, hash FROM audit_log WHERE seq IS NOT NULL ORDER BY seq DESC LIMIT 1");
    if (!last) return {};
    return {last->i64(0), last->str(1)};
}

}  // namespace

// Each row is chained to the one before (docs/audit-export.md): the read of the
// last row and the insert run in the caller's write transaction, under the
// audit log's lock (SQLite: the one writer), so two rows never claim the same
// seq; a writer of another node waits for the commit of the one before.
void audit(DbConn& c, const Actor& who, const std::string& action, const std::string& entity,
           const std::string& entityId, const std::string& beforeJson, const std::string& afterJson,
           std::int64_t nowMs) {
    lockAuditChain(c);
    const auto head = auditHead(c);
    audit::AuditRow r;
    r.seq = head.seq + 1;
    r.prevHash = head.hash;
    r.atMs = nowMs;
    if (who.userId) r.actorId = who.userId;
    r.actor = utf8(who.name);
    r.action = utf8(action);
    r.entity = utf8(entity);
    r.entityId = optUtf8(entityId);
    r.beforeJson = optUtf8(beforeJson);
    r.afterJson = optUtf8(afterJson);
    r.hash = audit::auditRowHash(r);
    c.exec(
        "INSERT INTO audit_log(at, actor_id, actor, action, entity, entity_id, before_json, "
        "after_json, seq, "
        "prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        {i(nowMs), r.actorId ? DbValue(*r.actorId) : DbValue(nullptr), r.actor, r.action, r.entity, dbOpt(r.entityId),
         dbOpt(r.beforeJson), dbOpt(r.afterJson), i(r.seq), r.prevHash, r.hash});
}

std::optional<audit::AuditRow> auditRowOf(const DbRow& row) {
    // Columns: seq, prev_hash, hash, at, actor_id, actor, action, entity, entity_id, before_json,
    // after_json.
    audit::AuditRow r;
    r.seq = row.i64(0);
    r.prevHash = row.str(1);
    r.hash = row.str(2);
    r.atMs = row.i64(3);
    r.actorId = row.optI64(4);
    r.actor = row.str(5);
    r.action = row.str(6);
    r.entity = row.str(7);
    r.entityId = row.optStr(8);
    r.beforeJson = row.optStr(9);
    r.afterJson = row.optStr(10);
    return r;
}

std::int64_t chainAuditLog(DbConn& c) {
    std::int64_t chained = 0;
    // (A node starting while others write finds nothing to chain, and need not
    // wait for their lock.)
    if (!c.one("SELECT 1 FROM audit_log WHERE hash IS NULL LIMIT 1")) return 0;
    lockAuditChain(c);
    auto head = auditHead(c);
    while (true) {
        auto rows = c.query(
            "SELECT id, at, actor_id, actor, action, entity, entity_id, before_json, after_json "
            "FROM audit_log WHERE hash IS NULL ORDER BY id LIMIT 1000");
        if (rows.empty()) return chained;
        for (const auto& row : rows) {
            audit::AuditRow r;
            r.seq = head.seq + 1;
            r.prevHash = head.hash;
            r.atMs = row.i64(1);
            r.actorId = row.optI64(2);
            r.actor = utf8(row.str(3));
            r.action = utf8(row.str(4));
            r.entity = utf8(row.str(5));
            if (auto v = row.optStr(6)) r.entityId = utf8(*v);
            if (auto v = row.optStr(7)) r.beforeJson = utf8(*v);
            if (auto v = row.optStr(8)) r.afterJson = utf8(*v);
            r.hash = audit::auditRowHash(r);
            c.exec(
                "UPDATE audit_log SET actor = ?, action = ?, entity = ?, entity_id = ?, "
                "before_json = ?, "
                "after_json = ?, seq = ?, prev_hash = ?, hash = ? WHERE id = ?",
                {r.actor, r.action, r.entity, dbOpt(r.entityId), dbOpt(r.beforeJson), dbOpt(r.afterJson), i(r.seq),
                 r.prevHash, r.hash, i(row.i64(0))});
            head = {r.seq, r.hash};
            ++chained;
        }
    }
}

std::int64_t countAudit(DbConn& c, const std::string& action, const std::string& entityId, std::int64_t sinceMs) {
    return c
        .one("SELECT COUNT(*) FROM audit_log WHERE action = ? AND entity_id = ? AND at >= ?",
             {action, entityId, i(sinceMs)})
        ->i64(0);
}

std::vector<AuditEntry> listAudit(DbConn& c, std::int64_t beforeId, int limit, const std::string& entity) {
    std::string sql =
        "SELECT id, at, actor_id, actor, action, entity, entity_id, before_json, after_json FROM audit_log "
        "WHERE id < ?";
    DbParams params{i(beforeId)};
    if (!entity.empty()) {
        sql += " AND entity = ?";
        params.emplace_back(entity);
    }
    sql += " ORDER BY id DESC LIMIT ?";
    params.emplace_back(std::int64_t(limit));
    std::vector<AuditEntry> out;
    for (auto& r : c.query(sql, params))
        out.push_back(
            AuditEntry{r.i64(0), r.i64(1), r.optI64(2), r.str(3), r.str(4), r.str(5), r.str(6), r.str(7), r.str(8)});
    return out;
}

}  // namespace repo
}  // namespace microscape::controller
