// The store: the manifests compiled for each screen (compiled_manifests).
#include "microscape/controller/repo.hpp"

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

std::vector<std::pair<std::string, std::int64_t>> newestManifestVersions(DbConn& c) {
    std::vector<std::pair<std::string, std::int64_t>> out;
    for (const auto& r : c.query("SELECT player_id, MAX(version) FROM compiled_manifests GROUP BY player_id"))
        out.emplace_back(r.str(0), r.i64(1));
    return out;
}

}  // namespace microscape::controller::repo
