// The store: tags, media, their derived files (stills, renditions) and recalls.
#include "microscape/controller/repo.hpp"

#include <set>

#include "microscape/core/audit.hpp"
#include "microscape/core/crypto.hpp"
#include "microscape/core/json.hpp"
#include "store/repo_rows.hpp"

namespace microscape::controller {

std::string_view mediaStateName(MediaState s) {
    switch (s) {
        case MediaState::Draft:
            return "draft";
        case MediaState::Pending:
            return "pending";
        case MediaState::Approved:
            return "approved";
        case MediaState::Rejected:
            return "rejected";
    }
    return "draft";
}

std::optional<MediaState> mediaStateFromName(std::string_view n) {
    for (auto s : {MediaState::Draft, MediaState::Pending, MediaState::Approved, MediaState::Rejected})
        if (mediaStateName(s) == n) return s;
    return std::nullopt;
}

namespace repo {

// --- tags -----------------------------------------------------------------------------------
std::vector<std::pair<std::string, bool>> listTags(DbConn& c) {
    std::vector<std::pair<std::string, bool>> out;
    for (auto& r : c.query("SELECT name, seeded FROM tags ORDER BY seeded DESC, name"))
        out.emplace_back(r.str(0), r.i64(1) != 0);
    return out;
}
void ensureTags(DbConn& c, const std::vector<std::string>& tags) {
    for (const auto& t : tags) c.exec("INSERT INTO tags(name, seeded) VALUES (?, 0) ON CONFLICT DO NOTHING", {t});
}

// --- media -----------------------------------------------------------------------------------
namespace {
constexpr const char* kInsertMedia =
    "INSERT INTO media(sha256, kind, mime, size_bytes, display_name, original_name, department, state, "
    "uploaded_by, duration_ms, width, height, slogan_json, created_at, updated_at, codec, background) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
DbParams mediaParams(const Media& m) {
    return {m.sha256,
            m.kind,
            m.mime,
            i(m.sizeBytes),
            m.displayName,
            optText(m.originalName),
            optText(m.department),
            std::string(mediaStateName(m.state)),
            i(m.uploadedBy),
            opt(m.durationMs),
            opt(m.width),
            opt(m.height),
            optText(m.sloganJson),
            i(m.createdAtMs),
            i(m.updatedAtMs),
            m.codec,
            m.background};
}
}  // namespace

std::int64_t insertMedia(DbConn& c, const Media& m) {
    c.exec(kInsertMedia, mediaParams(m));
    auto id = c.lastInsertId();
    ensureTags(c, m.tags);
    setTags(c, "media_tags", "media_id", id, m.tags);
    return id;
}
std::optional<std::int64_t> insertMediaIfNew(DbConn& c, const Media& m) {
    // PostgreSQL: a concurrent insert of the same content makes this one wait
    // for its transaction, then do nothing if it committed.
    c.exec(std::string(kInsertMedia) + " ON CONFLICT (sha256) DO NOTHING", mediaParams(m));
    if (c.changes() == 0) return std::nullopt;
    auto id = c.lastInsertId();
    ensureTags(c, m.tags);
    setTags(c, "media_tags", "media_id", id, m.tags);
    return id;
}
std::optional<Media> mediaById(DbConn& c, std::int64_t id) {
    return oneOf<Media>(c, std::string("SELECT ") + kMediaCols + " FROM media WHERE id = ?", {i(id)},
                        [&](const DbRow& r) { return mediaFrom(c, r); });
}
std::optional<Media> mediaBySha(DbConn& c, const std::string& sha) {
    return oneOf<Media>(c, std::string("SELECT ") + kMediaCols + " FROM media WHERE sha256 = ?", {sha},
                        [&](const DbRow& r) { return mediaFrom(c, r); });
}
std::vector<Media> listMedia(DbConn& c, const MediaFilter& f) {
    std::string sql = std::string("SELECT ") + kMediaCols + " FROM media WHERE 1 = 1";
    DbParams params;
    if (f.state) sql += " AND state = ?", params.emplace_back(std::string(mediaStateName(*f.state)));
    if (!f.kind.empty()) sql += " AND kind = ?", params.emplace_back(f.kind);
    if (!f.department.empty()) sql += " AND department = ?", params.emplace_back(f.department);
    if (!f.tag.empty()) sql += " AND id IN (SELECT media_id FROM media_tags WHERE tag = ?)", params.emplace_back(f.tag);
    sql += " ORDER BY id";
    std::vector<Media> out;
    for (auto& r : c.query(sql, params)) out.push_back(mediaFrom(c, r));
    return out;
}
void updateMedia(DbConn& c, const Media& m) {
    c.exec(
        "UPDATE media SET display_name = ?, department = ?, duration_ms = ?, width = ?, height = ?, updated_at = ?, "
        "valid_until = ? WHERE id = ?",
        {m.displayName, optText(m.department), opt(m.durationMs), opt(m.width), opt(m.height), i(m.updatedAtMs),
         opt(m.validUntilMs), i(m.id)});
    ensureTags(c, m.tags);
    setTags(c, "media_tags", "media_id", m.id, m.tags);
}
bool changeMediaState(DbConn& c, const Media& m, MediaState from) {
    c.exec(
        "UPDATE media SET state = ?, reviewed_by = ?, review_reason = ?, reviewed_at = ?, updated_at = ? "
        "WHERE id = ? AND state = ?",
        {std::string(mediaStateName(m.state)), opt(m.reviewedBy), optText(m.reviewReason), opt(m.reviewedAtMs),
         i(m.updatedAtMs), i(m.id), std::string(mediaStateName(from))});
    return c.changes() == 1;
}

std::vector<std::int64_t> expiredMediaIds(DbConn& c, std::int64_t nowMs) {
    std::vector<std::int64_t> out;
    for (auto& r : c.query("SELECT id FROM media WHERE state = 'approved' AND valid_until IS NOT NULL AND "
                           "valid_until <= ? ORDER BY valid_until, id",
                           {i(nowMs)}))
        out.push_back(r.i64(0));
    return out;
}

// --- recalls ----------------------------------------------------------------------------------
namespace {
const char* kRecallCols =
    "id, media_id, media_sha256, reason, recalled_at, recalled_by, actor, automatic, completed_at";
Recall recallFrom(const DbRow& r) {
    Recall x;
    x.id = r.i64(0);
    x.mediaId = r.i64(1);
    x.mediaSha256 = r.str(2);
    x.reason = r.str(3);
    x.recalledAtMs = r.i64(4);
    x.recalledBy = r.optI64(5);
    x.actor = r.str(6);
    x.automatic = r.i64(7) != 0;
    x.completedAtMs = r.optI64(8);
    return x;
}
std::vector<Recall> recallsWhere(DbConn& c, const std::string& tail, const DbParams& params = {}) {
    std::vector<Recall> out;
    for (auto& r : c.query(std::string("SELECT ") + kRecallCols + " FROM recalls " + tail, params))
        out.push_back(recallFrom(r));
    return out;
}
RecallScreen recallScreenFrom(const DbRow& r) {
    return RecallScreen{r.i64(0), r.str(1), r.optI64(2), r.str(3), r.optI64(4)};
}
}  // namespace

std::int64_t insertRecall(DbConn& c, const Recall& r) {
    c.exec(
        "INSERT INTO recalls(media_id, media_sha256, reason, recalled_at, recalled_by, actor, automatic) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        {i(r.mediaId), r.mediaSha256, r.reason, i(r.recalledAtMs), opt(r.recalledBy), r.actor, i(r.automatic ? 1 : 0)});
    return c.lastInsertId();
}
std::optional<Recall> recallById(DbConn& c, std::int64_t id) {
    auto v = recallsWhere(c, "WHERE id = ?", {i(id)});
    if (v.empty()) return std::nullopt;
    return v.front();
}
std::optional<Recall> recallOfMedia(DbConn& c, std::int64_t mediaId) {
    auto v = recallsWhere(c, "WHERE media_id = ? ORDER BY id DESC LIMIT 1", {i(mediaId)});
    if (v.empty()) return std::nullopt;
    return v.front();
}
std::vector<Recall> listRecalls(DbConn& c) {
    return recallsWhere(c, "ORDER BY id DESC");
}
std::vector<Recall> openRecalls(DbConn& c) {
    return recallsWhere(c, "WHERE completed_at IS NULL ORDER BY id");
}
bool completeRecall(DbConn& c, std::int64_t id, std::int64_t atMs) {
    c.exec("UPDATE recalls SET completed_at = ? WHERE id = ? AND completed_at IS NULL", {i(atMs), i(id)});
    return c.changes() == 1;
}
void insertRecallScreen(DbConn& c, const RecallScreen& s) {
    c.exec(
        "INSERT INTO recall_screens(recall_id, player_id, version, manifest_sha256, confirmed_at) "
        "VALUES (?, ?, ?, ?, ?)",
        {i(s.recallId), s.playerId, opt(s.version), s.manifestSha256, opt(s.confirmedAtMs)});
}
std::vector<RecallScreen> recallScreens(DbConn& c, std::int64_t recallId) {
    std::vector<RecallScreen> out;
    for (auto& r : c.query("SELECT recall_id, player_id, version, manifest_sha256, confirmed_at FROM recall_screens "
                           "WHERE recall_id = ? ORDER BY player_id",
                           {i(recallId)}))
        out.push_back(recallScreenFrom(r));
    return out;
}
std::vector<RecallScreen> unconfirmedRecallScreens(DbConn& c, const std::string& playerId, std::int64_t version) {
    std::vector<RecallScreen> out;
    for (auto& r : c.query("SELECT s.recall_id, s.player_id, s.version, s.manifest_sha256, s.confirmed_at "
                           "FROM recall_screens s JOIN recalls r ON r.id = s.recall_id WHERE r.completed_at IS NULL "
                           "AND s.player_id = ? AND s.confirmed_at IS NULL AND s.version IS NOT NULL AND "
                           "s.version <= ? ORDER BY s.recall_id",
                           {playerId, i(version)}))
        out.push_back(recallScreenFrom(r));
    return out;
}
std::int64_t unconfirmedRecallCount(DbConn& c, std::int64_t recallId) {
    auto r = c.one(
        "SELECT COUNT(*) FROM recall_screens s JOIN players p ON p.id = s.player_id WHERE s.recall_id = ? "
        "AND p.state = 'enrolled' AND s.confirmed_at IS NULL",
        {i(recallId)});
    return r ? r->i64(0) : 0;
}
bool confirmRecallScreen(DbConn& c, std::int64_t recallId, const std::string& playerId, std::int64_t atMs) {
    c.exec("UPDATE recall_screens SET confirmed_at = ? WHERE recall_id = ? AND player_id = ? AND confirmed_at IS NULL",
           {i(atMs), i(recallId), playerId});
    return c.changes() == 1;
}
std::vector<std::string> playersThatHadMedia(DbConn& c, const std::string& sha256) {
    std::set<std::string> ids;
    // A manifest names its media by hash; a 64-hex hash occurs nowhere else by chance.
    for (auto& r :
         c.query("SELECT DISTINCT player_id FROM compiled_manifests WHERE manifest LIKE '%' || ? || '%'", {sha256}))
        ids.insert(r.str(0));
    // Plays of a file derived from it (normalised still, rendition) are plays of it.
    for (auto& r : c.query("SELECT DISTINCT player_id FROM pop_records WHERE (media = ? OR media IN (SELECT d.sha256 "
                           "FROM media_derived d JOIN media o ON o.id = d.media_id WHERE o.sha256 = ? AND d.sha256 <> "
                           "'')) AND kind = 'play'",
                           {sha256, sha256}))
        ids.insert(r.str(0));
    return {ids.begin(), ids.end()};
}
std::optional<ManifestRef> latestManifest(DbConn& c, const std::string& playerId, const std::string& mediaSha256) {
    auto r = c.one(
        "SELECT version, sha256, manifest FROM compiled_manifests WHERE player_id = ? "
        "ORDER BY version DESC LIMIT 1",
        {playerId});
    if (!r) return std::nullopt;
    const std::string bytes = r->str(2);
    ManifestRef out{r->i64(0), r->str(1), bytes.find(mediaSha256) != std::string::npos};
    if (out.sha256.empty()) out.sha256 = crypto::sha256Hex(bytes);
    return out;
}
PlaysOf playsOf(DbConn& c, const std::string& playerId, const std::string& sha256,
                std::optional<std::int64_t> afterMs) {
    PlaysOf out;
    if (auto r = c.one("SELECT MAX(start_utc_ms) FROM pop_records WHERE (media = ? OR media IN (SELECT d.sha256 FROM "
                       "media_derived d JOIN media o ON o.id = d.media_id WHERE o.sha256 = ? AND d.sha256 <> '')) AND "
                       "player_id = ? AND kind = 'play'",
                       {sha256, sha256, playerId});
        r && !r->isNull(0))
        out.lastStartMs = r->i64(0);
    if (afterMs && out.lastStartMs && *out.lastStartMs > *afterMs) {
        auto rows = c.query(
            "SELECT seq, start_utc_ms FROM pop_records WHERE (media = ? OR media IN (SELECT d.sha256 FROM "
            "media_derived d JOIN media o ON o.id = d.media_id WHERE o.sha256 = ? AND d.sha256 <> '')) AND player_id = "
            "? AND kind = 'play' AND "
            "start_utc_ms > ? ORDER BY seq",
            {sha256, sha256, playerId, i(*afterMs)});
        out.after = static_cast<std::int64_t>(rows.size());
        if (!rows.empty()) {
            out.firstAfterSeq = rows.front().i64(0);
            out.firstAfterStartMs = rows.front().i64(1);
        }
    }
    return out;
}

std::optional<LastFailure> lastFailure(DbConn& c, const std::string& playerId, const std::string& sha256,
                                       std::int64_t sinceMs) {
    auto last = c.one(
        "SELECT start_utc_ms, outcome, record FROM pop_records WHERE media = ? AND player_id = ? AND kind = 'play' "
        "ORDER BY start_utc_ms DESC, seq DESC LIMIT 1",
        {sha256, playerId});
    if (!last || last->str(1) != "failed") return std::nullopt;
    LastFailure f;
    f.startMs = last->i64(0);
    if (auto doc = json::parse(last->str(2)); doc) {
        if (const auto* d = doc->find("detail"); d && d->isString()) f.reason = d->asString();
        if (const auto* v = doc->find("bundle_version"); v && v->isInt()) f.bundleVersion = v->asInt();
    }
    if (auto n = c.one("SELECT COUNT(*) FROM pop_records WHERE media = ? AND player_id = ? AND kind = 'play' AND "
                       "outcome = 'failed' AND start_utc_ms >= ?",
                       {sha256, playerId, i(sinceMs)}))
        f.failuresSince = n->i64(0);
    return f;
}

std::optional<LastDegraded> lastDegraded(DbConn& c, const std::string& playerId, const std::string& sha256) {
    auto last = c.one(
        "SELECT start_utc_ms, outcome, frames, frames_late, frames_dropped, longest_freeze_ms FROM pop_records "
        "WHERE media = ? AND player_id = ? AND kind = 'play' ORDER BY start_utc_ms DESC, seq DESC LIMIT 1",
        {sha256, playerId});
    if (!last || last->str(1) != "degraded") return std::nullopt;
    return LastDegraded{last->i64(0), last->i64(2), last->i64(3), last->i64(4), last->i64(5)};
}

void deleteMedia(DbConn& c, std::int64_t id) {
    c.exec("DELETE FROM media_derived WHERE media_id = ?", {i(id)});
    c.exec("DELETE FROM media WHERE id = ?", {i(id)});
}

const char* kDerivedCols =
    "id, media_id, purpose, box_width, box_height, state, sha256, kind, mime, size_bytes, duration_ms, width, "
    "height, transform, error, created_at, updated_at";
MediaDerived derivedFrom(const DbRow& r) {
    MediaDerived d;
    d.id = r.i64(0);
    d.mediaId = r.i64(1);
    d.purpose = r.str(2);
    d.boxWidth = r.i64(3);
    d.boxHeight = r.i64(4);
    d.state = r.str(5);
    d.sha256 = r.str(6);
    d.kind = r.str(7);
    d.mime = r.str(8);
    d.sizeBytes = r.i64(9);
    d.durationMs = r.optI64(10);
    d.width = r.optI64(11);
    d.height = r.optI64(12);
    d.transform = r.str(13);
    d.error = r.str(14);
    d.createdAtMs = r.i64(15);
    d.updatedAtMs = r.i64(16);
    return d;
}
std::int64_t insertDerived(DbConn& c, const MediaDerived& d) {
    c.exec(
        "INSERT INTO media_derived(media_id, purpose, box_width, box_height, state, sha256, kind, mime, size_bytes, "
        "duration_ms, width, height, transform, error, created_at, updated_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        {i(d.mediaId), d.purpose, i(d.boxWidth), i(d.boxHeight), d.state, d.sha256, d.kind, d.mime, i(d.sizeBytes),
         opt(d.durationMs), opt(d.width), opt(d.height), d.transform, d.error, i(d.createdAtMs), i(d.updatedAtMs)});
    return c.lastInsertId();
}
void updateDerived(DbConn& c, const MediaDerived& d) {
    c.exec(
        "UPDATE media_derived SET state = ?, sha256 = ?, kind = ?, mime = ?, size_bytes = ?, duration_ms = ?, "
        "width = ?, height = ?, transform = ?, error = ?, updated_at = ? WHERE id = ?",
        {d.state, d.sha256, d.kind, d.mime, i(d.sizeBytes), opt(d.durationMs), opt(d.width), opt(d.height), d.transform,
         d.error, i(d.updatedAtMs), i(d.id)});
}
std::vector<MediaDerived> derivedOf(DbConn& c, std::int64_t mediaId) {
    std::vector<MediaDerived> out;
    for (auto& r : c.query(std::string("SELECT ") + kDerivedCols +
                               " FROM media_derived WHERE media_id = ? ORDER BY purpose, box_width, box_height, id",
                           {i(mediaId)}))
        out.push_back(derivedFrom(r));
    return out;
}
std::vector<MediaDerived> listDerived(DbConn& c) {
    std::vector<MediaDerived> out;
    for (auto& r : c.query(std::string("SELECT ") + kDerivedCols + " FROM media_derived ORDER BY id"))
        out.push_back(derivedFrom(r));
    return out;
}
std::optional<MediaDerived> derivedById(DbConn& c, std::int64_t id) {
    auto r = c.one(std::string("SELECT ") + kDerivedCols + " FROM media_derived WHERE id = ?", {i(id)});
    if (!r) return std::nullopt;
    return derivedFrom(*r);
}
bool requestRendition(DbConn& c, std::int64_t mediaId, std::int64_t boxWidth, std::int64_t boxHeight,
                      std::int64_t nowMs) {
    c.exec(
        "INSERT INTO media_derived(media_id, purpose, box_width, box_height, state, created_at, "
        "updated_at) VALUES (?, 'rendition', ?, ?, 'pending', ?, ?) ON CONFLICT DO NOTHING",
        {i(mediaId), i(boxWidth), i(boxHeight), i(nowMs), i(nowMs)});
    return c.changes() > 0;
}
void requeueWorkingRenditions(DbConn& c) {
    c.exec("UPDATE media_derived SET state = 'pending' WHERE state = 'working' AND purpose = 'rendition'");
}

std::optional<MediaDerived> takePendingRendition(DbConn& c, std::int64_t nowMs) {
    auto r = c.one(std::string("SELECT ") + kDerivedCols +
                   " FROM media_derived WHERE purpose = 'rendition' AND state = 'pending' ORDER BY id LIMIT 1");
    if (!r) return std::nullopt;
    auto d = derivedFrom(*r);
    c.exec("UPDATE media_derived SET state = 'working', updated_at = ? WHERE id = ?", {i(nowMs), i(d.id)});
    d.state = "working";
    return d;
}
bool contentInUse(DbConn& c, const std::string& sha256) {
    return c
        .one("SELECT 1 FROM media WHERE sha256 = ? UNION ALL SELECT 1 FROM media_derived WHERE sha256 = ? LIMIT 1",
             {sha256, sha256})
        .has_value();
}

}  // namespace repo
}  // namespace microscape::controller
