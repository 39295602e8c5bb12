// The import directory of the sync agent (USB delivery): every scan interval,
// the first bundle file (*.tar, by name) is imported on a worker thread with
// its own BundleStore and Cache (a copy may take minutes; it touches only the
// data directory, under its locks). When it ends the worker wakes the agent
// thread, which takes the result (takeFinished) — the file is then moved to
// done/ or failed/ — and reloads the active bundle itself. One import at a
// time. Owned and called by the agent thread only; stop() cancels a running
// import and leaves its file where it is, to be imported at the next start.
// Errors: an import's failure is its result (Result<ImportResult>).
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>

#include "microscape/core/result.hpp"
#include "microscape/player/config.hpp"
#include "microscape/player/sync.hpp"

namespace Poco {
class Logger;
}

namespace microscape::player {

class ImportWatcher {
  public:
    using Finished = std::pair<std::filesystem::path, Result<ImportResult>>;

    // wake: called on the worker thread when an import ends (must only signal).
    ImportWatcher(const PlayerConfig& config, Poco::Logger& log, std::function<void()> wake);
    ~ImportWatcher() { stop(); }
    ImportWatcher(const ImportWatcher&) = delete;
    ImportWatcher& operator=(const ImportWatcher&) = delete;

    // Scans the directory when scanEveryMs have passed since the last scan and
    // no import runs; starts importing the first bundle file found.
    void poll(std::int64_t steadyMs, std::int64_t wallMs, std::int64_t scanEveryMs);
    // A finished import, its file already moved to done/ or failed/; or nothing.
    std::optional<Finished> takeFinished();
    void stop();

  private:
    void start(const std::filesystem::path& file, std::int64_t wallMs);

    const PlayerConfig& config_;
    Poco::Logger& log_;
    std::function<void()> wake_;
    std::thread thread_;
    std::atomic<bool> cancel_{false};
    std::mutex mutex_;                 // guards done_
    std::optional<Finished> done_;     // set by the worker
    std::filesystem::path importing_;  // the file being imported, or empty
    std::int64_t lastScanMs_ = 0;
};

}  // namespace microscape::player
