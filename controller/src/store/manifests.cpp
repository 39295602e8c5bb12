// The store: the manifests compiled for each screen (compiled_manifests).
#include "microscape/controller/repo.hpp"

#include <algorithm>
#include <set>

namespace microscape::controller::repo {

namespace {

StoredManifest manifestFrom(const DbRow& row) {
    return StoredManifest{row.i64(0), row.str(1), row.str(2), row.str(3), row.i64(4)};
}

}  // namespace

void lockForCompile(DbConn& c, std::int64_t key) {
    if (c.backend() == sql::Backend::Postgres) c.exec("SELECT pg_advisory_xact_lock(?)", {key});
}

std::optional<std::pair<std::int64_t, std::string>> newestManifestKey(DbConn& c, const std::string& playerId) {
    auto last =
        c.one("SELECT version, content_hash FROM compiled_manifests WHERE player_id = ? ORDER BY version DESC LIMIT 1",
              {playerId});
    if (!last) return std::nullopt;
    return std::make_pair(last->i64(0), last->str(1));
}

std::optional<StoredManifest> newestManifest(DbConn& c, const std::string& playerId) {
    auto row = c.one(
        "SELECT version, content_hash, manifest, signature, created_at FROM compiled_manifests "
        "WHERE player_id = ? ORDER BY version DESC LIMIT 1",
        {playerId});
    if (!row) return std::nullopt;
    return manifestFrom(*row);
}

std::optional<StoredManifest> manifestAt(DbConn& c, const std::string& playerId, std::int64_t version) {
    auto row = c.one(
        "SELECT version, content_hash, manifest, signature, created_at FROM compiled_manifests "
        "WHERE player_id = ? AND version = ?",
        {playerId, version});
    if (!row) return std::nullopt;
    return manifestFrom(*row);
}

void insertManifest(DbConn& c, const std::string& playerId, const StoredManifest& m, const std::string& sha256) {
    c.exec(
        "INSERT INTO compiled_manifests(player_id, version, content_hash, manifest, signature, created_at, "
        "sha256) VALUES (?, ?, ?, ?, ?, ?, ?)",
        {playerId, m.version, m.contentHash, m.manifest, m.signatureB64, m.createdAtMs, sha256});
}

std::int64_t maxManifestVersion(DbConn& c, const std::string& playerId) {
    auto r = c.one("SELECT MAX(version) FROM compiled_manifests WHERE player_id = ?", {playerId});
    return r ? r->i64(0) : 0;
}

std::vector<std::pair<std::string, StoredManifest>> manifestsAt(
    DbConn& c, const std::vector<std::pair<std::string, std::int64_t>>& wanted) {
    std::vector<std::pair<std::string, StoredManifest>> out;
    out.reserve(wanted.size());
    std::set<std::pair<std::string, std::int64_t>> seen;
    auto take = [&](const DbRow& r) {
        std::string playerId = r.str(0);
        if (!seen.emplace(playerId, r.i64(1)).second) return;
        out.emplace_back(std::move(playerId), StoredManifest{r.i64(1), r.str(2), r.str(3), r.str(4), r.i64(5)});
    };
    if (c.backend() == sql::Backend::Postgres) {
        // PostgreSQL: the pairs as two arrays, joined with the table (one index
        // probe per pair), 1,000 pairs a statement.
        constexpr std::size_t kChunk = 1000;
        for (std::size_t at = 0; at < wanted.size(); at += kChunk) {
            const std::size_t n = std::min(kChunk, wanted.size() - at);
            std::string ids = "{", versions = "{";
            for (std::size_t i = 0; i < n; ++i) {
                const auto& [playerId, version] = wanted[at + i];
                if (i) {
                    ids += ',';
                    versions += ',';
                }
                ids += '"';
                for (char ch : playerId) {
                    if (ch == '"' || ch == '\\') ids += '\\';
                    ids += ch;
                }
                ids += '"';
                versions += std::to_string(version);
            }
            ids += '}';
            versions += '}';
            for (const auto& r :
                 c.query("SELECT cm.player_id, cm.version, cm.content_hash, cm.manifest, cm.signature, cm.created_at "
                         "FROM unnest(CAST(? AS TEXT[]), CAST(? AS BIGINT[])) AS w(player_id, version) "
                         "JOIN compiled_manifests cm ON cm.player_id = w.player_id AND cm.version = w.version",
                         {ids, versions}))
                take(r);
        }
        return out;
    }
    // SQLite: OR-ed pairs, chunks padded to a power of two (the last pair
    // repeated) so a connection prepares a handful of texts.
    constexpr std::size_t kChunk = 128;
    for (std::size_t at = 0; at < wanted.size(); at += kChunk) {
        const std::size_t n = std::min(kChunk, wanted.size() - at);
        std::size_t width = 1;
        while (width < n) width *= 2;
        std::string sql =
            "SELECT player_id, version, content_hash, manifest, signature, created_at FROM compiled_manifests WHERE ";
        DbParams params;
        params.reserve(2 * width);
        for (std::size_t i = 0; i < width; ++i) {
            const auto& [playerId, version] = wanted[at + std::min(i, n - 1)];
            sql += i ? " OR (player_id = ? AND version = ?)" : "(player_id = ? AND version = ?)";
            params.emplace_back(playerId);
            params.emplace_back(version);
        }
        for (const auto& r : c.query(sql, params)) take(r);
    }
    return out;
}

std::vector<std::pair<std::string, std::int64_t>> newestManifestVersions(DbConn& c) {
    std::vector<std::pair<std::string, std::int64_t>> out;
    for (const auto& r : c.query("SELECT player_id, MAX(version) FROM compiled_manifests GROUP BY player_id"))
        out.emplace_back(r.str(0), r.i64(1));
    return out;
}

}  // namespace microscape::controller::repo
