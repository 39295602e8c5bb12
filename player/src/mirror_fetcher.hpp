// Media from HTTP mirrors (docs/wire-protocol.md, "Media from HTTP mirrors"):
// one worker thread downloads one file at a time as GET <base>/media/<sha256>
// over HTTP or HTTPS (system CA store), from a given offset with Range, trying
// the job's mirrors in order. It never touches the data directory: it posts the
// bytes, in order, and what went wrong to the agent thread, which appends them
// to the partial file and hashes them exactly as CHUNKs from the hub, then
// wakes it. The bytes it may post are bounded by the job's size, and the bytes
// waiting for the agent by kMaxQueuedBytes (the worker waits).
// submit(), cancel(), take() and busy() are for the agent thread only; the
// worker is started on the first submit() and joined by stop() or the destructor.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace microscape::player {

struct MirrorOptions {
    std::int64_t connectTimeoutMs = 5000;  // TCP (and TLS) set-up
    std::int64_t idleTimeoutMs = 15000;    // a read or write making no progress this long fails
    int maxRedirects = 3;                  // to http(s) URLs only
    std::string userAgent = "microscape-player";
};

class MirrorFetcher {
  public:
    static constexpr std::size_t kReadBytes = 256 * 1024;
    static constexpr std::size_t kMaxQueuedBytes = 8u << 20;

    struct Job {
        std::uint64_t id = 0;  // chosen by the agent; echoed in each event
        std::string sha256;
        std::uint64_t sizeBytes = 0;
        std::uint64_t offsetBytes = 0;     // bytes already on disk: asked for with Range
        std::vector<std::string> mirrors;  // base URLs, tried in order
    };
    struct Event {
        enum class Kind {
            Data,    // bytes [offset, offset + data.size()) of the file, from mirror
            Failed,  // mirror failed (error says why); the next one is tried from where it stopped
            Ended,   // the job is over: every byte delivered (ok) or every mirror failed
        };
        Kind kind = Kind::Data;
        std::uint64_t jobId = 0;
        std::string sha256;
        std::string mirror;
        std::uint64_t offsetBytes = 0;
        std::string data;
        std::string error;
        bool ok = false;
    };

    // wake: called on the worker thread after it posted events (must only signal).
    MirrorFetcher(MirrorOptions options, std::function<void()> wake);
    ~MirrorFetcher();
    MirrorFetcher(const MirrorFetcher&) = delete;
    MirrorFetcher& operator=(const MirrorFetcher&) = delete;

    // Starts a job; the previous one must have ended (busy() false) or been cancelled.
    void submit(Job job);
    // Abandons the current job (its events not yet taken are dropped).
    void cancel();
    // A job is running (submitted and not yet Ended or cancelled).
    bool busy() const;
    // The events posted since the last call, in order.
    std::vector<Event> take();
    void stop();

  private:
    void run();
    void runJob(const Job& job);
    // Downloads from one mirror from pos on; false with error when it failed.
    bool fetchFrom(const Job& job, const std::string& base, std::uint64_t& pos, std::string& error);
    bool post(Event e);  // false when the job was cancelled

    MirrorOptions options_;
    std::function<void()> wake_;
    std::thread thread_;
    mutable std::mutex mutex_;  // guards everything below
    std::condition_variable cv_;
    bool stopping_ = false;
    bool hasJob_ = false;
    bool running_ = false;  // a job is running or waiting to run
    Job job_;
    std::uint64_t cancelled_ = 0;  // id of the last cancelled job
    std::deque<Event> events_;
    std::size_t queuedBytes_ = 0;
};

}  // namespace microscape::player
