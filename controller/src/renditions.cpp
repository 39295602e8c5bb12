#include "renditions.hpp"

#include "api.hpp"
#include "compiler.hpp"
#include "microscape/controller/repo.hpp"
#include "normalise.hpp"
#include "store/job_lock.hpp"

namespace microscape::controller {

void RenditionWorker::start() {
    thread_ = std::jthread([this](std::stop_token stop) {
        // Several nodes on one PostgreSQL: one node at a time makes renditions
        // (a round holds the job's lock); with SQLite the lock is not taken.
        sql::JobLock job(svc_.db.url());
        while (!stop.stop_requested()) {
            try {
                job.runExclusive("renditions", [&] {
                    // No other node is making one now: a rendition marked as being
                    // made was left by a controller that stopped; it is made again.
                    svc_.db.write([&](DbConn& c) { repo::requeueWorkingRenditions(c); });
                    while (!stop.stop_requested() && makeOne()) {
                    }
                });
            } catch (const std::exception& e) {
                svc_.log.error("renditions: %s", std::string(e.what()));
            }
            std::unique_lock lock(mutex_);
            cv_.wait_for(lock, stop, std::chrono::seconds(5), [&] { return woken_; });
            woken_ = false;
        }
    });
}

void RenditionWorker::stop() {
    if (thread_.joinable()) {
        thread_.request_stop();
        thread_.join();
    }
}

void RenditionWorker::wake() {
    {
        std::lock_guard lock(mutex_);
        woken_ = true;
    }
    cv_.notify_all();
}

bool RenditionWorker::makeOne() {
    auto job = svc_.db.write([&](DbConn& c) { return repo::takePendingRendition(c, svc_.nowMs()); });
    if (!job) return false;
    auto media = svc_.db.read([&](DbConn& c) { return repo::mediaById(c, job->mediaId); });
    MediaDerived d = *job;
    auto fail = [&](const std::string& why) {
        d.state = "failed";
        d.error = why;
        d.updatedAtMs = svc_.nowMs();
        svc_.db.write([&](DbConn& c) { repo::updateDerived(c, d); });
        svc_.log.error("media %Ld: rendition for %Ldx%Ld failed: %s", job->mediaId, job->boxWidth, job->boxHeight, why);
    };
    if (!media) {
        fail("the media is gone");
        return true;
    }
    NormaliseOptions opts;
    opts.timeoutMs = svc_.config.transcodeTimeoutSeconds * 1000;
    opts.memoryBytes = std::max<std::uint64_t>(svc_.config.normaliseMemoryBytes, 3ull << 30);
    opts.tmpDir = svc_.media.root() / "tmp";
    NormaliseStep step;
    svc_.log.information("media %Ld: making its rendition for %Ldx%Ld screens", media->id, job->boxWidth,
                         job->boxHeight);
    auto r = makeRendition(svc_.media.pathOf(media->sha256), static_cast<int>(job->boxWidth),
                           static_cast<int>(job->boxHeight), opts, &step);
    if (!r) {
        svc_.log.warning("media %Ld: %s", media->id, step.detail);
        fail(r.error().message);
        return true;
    }
    struct Remove {
        std::filesystem::path p;
        bool keep = false;
        ~Remove() {
            std::error_code ec;
            if (!keep) std::filesystem::remove(p, ec);
        }
    } guard{r->path};
    std::string refusal;
    auto info = svc_.probe.probe(r->path.string(), svc_.config, svc_.log, &refusal);
    if (!info) {
        fail("the rendition does not decode: " + info.error().message);
        return true;
    }
    auto stored = svc_.media.adopt(r->path);
    if (!stored) {
        fail(stored.error().message);
        return true;
    }
    if (auto st = svc_.media.commit(*stored); !st) {
        fail(st.error().message);
        return true;
    }
    guard.keep = true;
    d.state = "ready";
    d.sha256 = stored->sha256;
    d.kind = "video";
    d.mime = "video/mp4";
    d.sizeBytes = static_cast<std::int64_t>(stored->sizeBytes);
    d.durationMs = info->durationMs > 0 ? std::optional<std::int64_t>(info->durationMs) : media->durationMs;
    d.width = info->width;
    d.height = info->height;
    d.transform = r->transform;
    d.error.clear();
    d.updatedAtMs = svc_.nowMs();
    svc_.db.write([&](DbConn& c) { repo::updateDerived(c, d); });
    svc_.log.information("media %Ld: rendition for %Ldx%Ld ready: %s, %dx%d, %Ld bytes (%s)", media->id, job->boxWidth,
                         job->boxHeight, d.sha256, info->width, info->height, d.sizeBytes, step.detail);
    if (svc_.compiler)
        svc_.compiler->recompileAll("rendition of media " + std::to_string(media->id) + " for " +
                                    std::to_string(job->boxWidth) + "x" + std::to_string(job->boxHeight) + " ready");
    return true;
}

}  // namespace microscape::controller
