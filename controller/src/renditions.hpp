// Renditions of clips per screen size (docs/controller-api.md "Renditions"): the
// compiler asks for one when a screen's size needs it (repo::requestRendition);
// this worker makes them one at a time with ffmpeg in a confined process (on
// one node at a time when several share PostgreSQL: store/job_lock.hpp),
// checks that the result decodes, and recompiles so that the screens get it.
// start/stop/wake may be called from any thread.
#pragma once

#include <condition_variable>
#include <mutex>
#include <thread>

namespace microscape::controller {

struct Services;

class RenditionWorker {
  public:
    explicit RenditionWorker(Services& svc) : svc_(svc) {}
    ~RenditionWorker() { stop(); }
    void start();
    void stop();
    void wake();
    // Makes the oldest pending rendition; false when there was none. (The worker
    // thread's step; tests may call it directly.)
    bool makeOne();

  private:
    Services& svc_;
    std::mutex mutex_;  // guards woken_
    std::condition_variable_any cv_;
    bool woken_ = false;
    std::jthread thread_;
};

}  // namespace microscape::controller
