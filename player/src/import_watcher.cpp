#include "import_watcher.hpp"

#include <Poco/Logger.h>

#include <algorithm>
#include <vector>

#include "microscape/player/cache.hpp"

namespace microscape::player {

namespace fs = std::filesystem;

ImportWatcher::ImportWatcher(const PlayerConfig& config, Poco::Logger& log, std::function<void()> wake)
    : config_(config), log_(log), wake_(std::move(wake)) {}

void ImportWatcher::poll(std::int64_t steadyMs, std::int64_t wallMs, std::int64_t scanEveryMs) {
    if (config_.importDir.empty() || steadyMs - lastScanMs_ < scanEveryMs) return;
    lastScanMs_ = steadyMs;
    if (!importing_.empty()) return;
    std::error_code ec;
    std::vector<fs::path> found;
    for (auto it = fs::directory_iterator(config_.importDir, ec); !ec && it != fs::directory_iterator();
         it.increment(ec))
        if (it->is_regular_file() && it->path().extension() == ".tar") found.push_back(it->path());
    if (found.empty()) return;
    std::sort(found.begin(), found.end());
    start(found.front(), wallMs);
}

void ImportWatcher::start(const fs::path& file, std::int64_t wallMs) {
    importing_ = file;
    cancel_ = false;
    ImportOptions io;
    io.reserveBytes = config_.quotaBytes ? 0 : config_.reserveBytes;
    io.cancel = &cancel_;
    log_.information("player %s: importing %s", config_.playerId, importing_.string());
    thread_ = std::thread([this, path = importing_, wallMs, io] {
        std::optional<Result<ImportResult>> r;
        try {
            BundleStore s(config_.dataDir, config_.contentKeys, config_.playerId);
            Cache c(config_.dataDir, config_.quotaBytes);
            r.emplace(importBundle(path, s, c, wallMs, io));
        } catch (const std::exception& e) {
            r.emplace(makeError(Errc::Internal, std::string("import failed: ") + e.what()));
        }
        {
            std::lock_guard lock(mutex_);
            done_.emplace(path, std::move(*r));
        }
        wake_();
    });
}

std::optional<ImportWatcher::Finished> ImportWatcher::takeFinished() {
    std::optional<Finished> done;
    {
        std::lock_guard lock(mutex_);
        done.swap(done_);
    }
    if (!done) return done;
    thread_.join();
    importing_.clear();
    const auto& [p, r] = *done;
    std::error_code ec;
    const fs::path sub = fs::path(config_.importDir) / (r ? "done" : "failed");
    fs::create_directories(sub, ec);
    fs::rename(p, sub / p.filename(), ec);
    return done;
}

void ImportWatcher::stop() {
    if (!thread_.joinable()) return;
    cancel_ = true;
    thread_.join();
    importing_.clear();
    done_.reset();  // the file stays where it is and is imported at the next start
}

}  // namespace microscape::player
