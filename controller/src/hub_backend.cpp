#include <Poco/Logger.h>

#include "hub_backend.hpp"

#include <sys/statvfs.h>

#include "microscape/controller/repo.hpp"
#include "recalls.hpp"

namespace microscape::controller {

std::optional<std::string> StoreHubBackend::playerForCurveKey(const std::string& z85) {
    auto p = db_.read([&](DbConn& c) { return repo::playerByCurveKey(c, z85); });
    if (!p || p->state != PlayerState::Enrolled) return std::nullopt;
    return p->id;
}

bool StoreHubBackend::playerActive(const std::string& playerId) {
    auto p = db_.read([&](DbConn& c) { return repo::playerById(c, playerId); });
    return p && p->state == PlayerState::Enrolled;
}

std::optional<std::uint64_t> StoreHubBackend::freeDiskBytes() {
    if (dataDir_.empty()) return std::nullopt;
    struct statvfs st {};
    if (::statvfs(dataDir_.c_str(), &st) != 0) return std::nullopt;
    return static_cast<std::uint64_t>(st.f_bavail) * st.f_frsize;
}

std::optional<HubManifest> StoreHubBackend::currentManifest(const std::string& playerId) {
    auto p = db_.read([&](DbConn& c) { return repo::playerById(c, playerId); });
    if (!p || p->state != PlayerState::Enrolled) return std::nullopt;
    auto m = compiler_.currentFor(playerId);
    if (!m) return std::nullopt;
    return HubManifest{m->playerId, m->version, m->manifestBytes, m->signature};
}

std::string StoreHubBackend::mediaPath(const std::string& sha256) {
    if (!media_.contains(sha256)) return {};
    return media_.pathOf(sha256).string();
}

void storeSeenIn(DbConn& c, const std::vector<HubBackend::Seen>& seen) {
    for (const auto& s : seen) {
        // Only what the hub saw, in one statement: rewriting the row as read
        // would undo an admin's change committed meanwhile (a retirement).
        if (!repo::notePlayerSeen(c, s.playerId, s.lastSeenMs, s.statusJson)) continue;
        if (!s.statusJson.empty())
            if (auto active = activeVersionOf(s.statusJson)) noteActiveVersion(c, s.playerId, *active, s.lastSeenMs);
    }
}

void StoreHubBackend::storeSeen(const std::vector<Seen>& seen) {
    db_.write([&](DbConn& c) { storeSeenIn(c, seen); });
}

std::optional<std::int64_t> StoreHubBackend::storeProofs(const std::string& playerId, const wire::Proofs& proofs) {
    if (!ingest_) return std::nullopt;
    auto out = ingest_->ingestBatch(playerId, proofs.body, clock_());
    if (!out) {
        if (out.code() == Errc::Internal)  // (a refused batch is recorded as a problem; this one is not)
            Poco::Logger::get("controller.ingest")
                .error("player %s: proofs not stored: %s", playerId, out.error().message);
        return std::nullopt;
    }
    return out->ackSeq;
}

}  // namespace microscape::controller
