// The compiler turns the store's plans into one signed manifest per player: it
// resolves targets to the player, keeps only approved media, covers the next
// compile.horizonDays days, and signs with the content key. A player gets a new
// (monotonic) version only when the compiled content differs from its last one.
// Thread-safety: all public methods may be called from any thread; compilation is
// serialised on one mutex so versions never interleave.
#pragma once

#include <Poco/Logger.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "microscape/controller/config.hpp"
#include "microscape/controller/db.hpp"
#include "microscape/controller/model.hpp"
#include "microscape/core/crypto.hpp"
#include "microscape/core/manifest.hpp"
#include "microscape/core/schedule.hpp"

namespace microscape::controller {

class Metrics;

struct CompiledManifest {
    std::string playerId;
    std::int64_t version = 0;
    std::string contentHash;
    std::string manifestBytes;  // canonical JSON, exactly as signed
    std::string signature;      // 64 raw bytes
    std::int64_t createdAtMs = 0;
};

// What a screen at some place would be given (for preview and compilation).
struct CompileSubject {
    std::optional<Player> player;      // a real player, or
    std::optional<Location> location;  // just a place (preview by location)
};

class Compiler {
  public:
    Compiler(Db& db, const ControllerConfig& config, crypto::PrivateKey key, Metrics& metrics, Poco::Logger& log,
             std::function<std::int64_t()> clock);

    // Recompiles every enrolled player; returns how many got a new version.
    // Never throws: a failure is logged (the previous manifests stay valid).
    int recompileAll(const std::string& reason);

    // Compiles one player now (new version only if the content changed).
    // Errors: NotFound, BadManifest (the plans do not form a valid schedule).
    Result<CompiledManifest> compilePlayer(const std::string& playerId);

    // The latest stored manifest of a player, compiling one if there is none yet
    // or the stored one has used up half of its horizon.
    Result<CompiledManifest> currentFor(const std::string& playerId);

    // The schedule payload for a subject over [fromUtcMs, fromUtcMs + horizon):
    // exactly what compilation would sign. Also returns media names by sha256.
    struct Built {
        schedule::Schedule schedule;
        std::vector<manifest::MediaEntry> media;
        std::map<std::string, std::int64_t> mediaIds;  // sha256 (of what plays) -> media id
        // Clips left out because their rendition for this screen size is not ready
        // yet: (media id, width, height) to make.
        std::vector<std::tuple<std::int64_t, std::int64_t, std::int64_t>> renditionsWanted;
    };
    Result<Built> build(const CompileSubject& subject, std::int64_t fromUtcMs, std::int64_t untilUtcMs);

    const crypto::PublicKey& publicKey() const { return publicKey_; }

    // Called after each new manifest version is stored (the distribution hub uses
    // it to push MANIFEST). It runs on the compiling thread with the compiler's
    // mutex held: it must only enqueue and return, never call back in here.
    using Listener = std::function<void(const CompiledManifest&)>;
    void setListener(Listener listener);
    // Called (with the compiler's mutex held: enqueue and return) when a
    // compilation asked for a rendition that did not exist yet.
    void setRenditionHook(std::function<void()> hook);

    // Everything compilation reads, loaded in one read so that recompiling a whole
    // fleet costs one pass over the store, not one per player.
    struct Snapshot;

  private:
    std::shared_ptr<Snapshot> loadSnapshot();
    Result<Built> buildFrom(Snapshot& snap, const CompileSubject& subject, std::int64_t fromUtcMs,
                            std::int64_t untilUtcMs);
    Result<CompiledManifest> compileLocked(Snapshot& snap, const Player& player);
    Result<CompiledManifest> compileLocked(const std::string& playerId);

    Db& db_;
    const ControllerConfig& config_;
    crypto::PrivateKey key_;
    crypto::PublicKey publicKey_;
    Metrics& metrics_;
    Poco::Logger& log_;
    std::function<std::int64_t()> clock_;
    std::mutex mutex_;  // serialises compilations; guards listener_ and renditionHook_
    Listener listener_;
    std::function<void()> renditionHook_;
};

}  // namespace microscape::controller
