// The controller's side of the hub seam: players and keys from the store,
// manifests from the compiler, media from the media store, proofs to the ingest.
// Used on the hub thread, and storeProofs on the hub's two ingest workers
// (HubBackend contract); the Db, Compiler and PopIngest it calls are themselves
// safe to share between those threads and the HTTP workers.
#pragma once

#include <functional>

#include "compiler.hpp"
#include "microscape/controller/db.hpp"
#include "microscape/controller/hub.hpp"
#include "microscape/controller/media_store.hpp"
#include "pop_ingest.hpp"

namespace microscape::controller {

// What storeSeen writes in its transaction: each screen's liveness and latest
// STATUS, and the recall confirmations that STATUS brings.
void storeSeenIn(DbConn& c, const std::vector<HubBackend::Seen>& seen);

class StoreHubBackend final : public HubBackend {
  public:
    StoreHubBackend(Db& db, Compiler& compiler, MediaStore& media, std::function<std::int64_t()> clock)
        : db_(db), compiler_(compiler), media_(media), clock_(std::move(clock)) {}

    std::optional<std::string> playerForCurveKey(const std::string& z85) override;
    std::optional<HubManifest> currentManifest(const std::string& playerId) override;
    std::string mediaPath(const std::string& sha256) override;
    void storeSeen(const std::vector<Seen>& seen) override;
    std::int64_t nowMs() override { return clock_(); }
    // PROOFS: verified and stored by the ingest (nullopt, no ack, when it refuses the
    // batch outright or none is set).
    std::optional<std::int64_t> storeProofs(const std::string& playerId, const wire::Proofs& proofs) override;
    void setIngest(PopIngest* ingest) { ingest_ = ingest; }
    bool playerActive(const std::string& playerId) override;
    // Free space of the file system that holds dataDir (statvfs), for the disk guard.
    std::optional<std::uint64_t> freeDiskBytes() override;
    void setDataDir(std::filesystem::path dir) { dataDir_ = std::move(dir); }

  private:
    Db& db_;
    Compiler& compiler_;
    MediaStore& media_;
    std::function<std::int64_t()> clock_;
    PopIngest* ingest_ = nullptr;
    std::filesystem::path dataDir_;
};

}  // namespace microscape::controller
