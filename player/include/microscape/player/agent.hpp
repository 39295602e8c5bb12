// The player's sync agent (docs/wire-protocol.md): one thread owns the DEALER
// to the controller hub, verifies pushed manifests, fetches missing media in a
// credit window with resume, activates bundles atomically, collects garbage,
// watches an import directory, reports STATUS and answers COMMANDs.
//
// Seam for the playback engine: activeBundle() at any time, an activation
// listener (called on the agent thread after each switch; it must only enqueue
// and return), a screenshot handler (called on the agent thread; it must
// answer promptly) and setPlayback() for the "playback" part of STATUS.
// All public methods are thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "microscape/core/json.hpp"
#include "microscape/core/result.hpp"
#include "microscape/core/wire.hpp"
#include "microscape/player/config.hpp"
#include "microscape/player/sync.hpp"

namespace Poco {
class Logger;
}

namespace microscape::player {

struct AgentOptions {
    std::function<std::int64_t()> clock;  // UTC ms; default: system clock
    std::int64_t heartbeatMs = 5000;       // until WELCOME says otherwise
    std::int64_t backoffMinMs = 500;
    std::int64_t backoffMaxMs = 30000;
    std::int64_t importScanMs = 5000;
    std::string software = "microscape-player";
    int maxHashFailures = 3;               // per file and manifest, then sync_state = error
};

class SyncAgent {
public:
    SyncAgent(PlayerConfig config, AgentOptions options, Poco::Logger& log);
    ~SyncAgent();  // stops
    SyncAgent(const SyncAgent&) = delete;
    SyncAgent& operator=(const SyncAgent&) = delete;

    // Loads and re-verifies the active bundle, then starts the agent thread.
    Status start();
    void stop();  // idempotent

    using ActivationListener = std::function<void(const ActivatedBundle&)>;
    void setActivationListener(ActivationListener listener);  // before start()
    struct Screenshot {
        bool ok = false;
        std::string message;
        std::string png;
    };
    using ScreenshotHandler = std::function<Screenshot()>;
    void setScreenshotHandler(ScreenshotHandler handler);  // before start()
    void setPlayback(json::Object playback);

    std::optional<ActivatedBundle> activeBundle() const;
    wire::StatusReport status() const;
    bool connected() const;  // WELCOME received and the link is alive

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace microscape::player
