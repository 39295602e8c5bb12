// The controller's HTTP front door: accepts connections from a listening socket
// (plain or TLS), caps connections per source address and in total, and cuts
// clients that are slow to send their request header, so that slow or idle
// clients never hold the worker threads that serve everyone else.
// start() and stop() are called from the owner's thread; everything else runs on
// the gate's own threads (acceptor, reaper, rejecter) and the worker pool.
#pragma once

#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/ServerSocket.h>

#include <cstdint>
#include <memory>

namespace Poco {
class Logger;
}

namespace microscape::controller {

struct HttpGateOptions {
    int workers = 32;                   // worker threads serving requests
    int maxQueued = 32;                 // accepted connections waiting for a worker; more get 503
    int headerTimeoutMs = 5000;         // request line + headers must arrive within this
    int bodyIdleTimeoutMs = 15000;      // a body (or response) read/write making no progress this long fails
    int keepAliveIdleMs = 2000;         // an idle keep-alive connection is closed after this
    int maxConnectionsPerAddress = 16;  // open connections per source address; more get 503
};

struct HttpGateStats {
    std::uint64_t accepted = 0;
    std::uint64_t rejectedPerAddress = 0;  // 503: the address had too many connections
    std::uint64_t rejectedBusy = 0;        // 503: every worker busy and the queue full
    std::uint64_t closedUnanswered = 0;    // over a limit while the 503 writer was backed up
    std::uint64_t headerTimeouts = 0;      // cut: request header not complete in time
};

class HttpGate {
  public:
    // Serves `socket` (already bound and listening; may be a SecureServerSocket)
    // with `factory`. Nothing runs before start().
    HttpGate(Poco::Net::ServerSocket socket, Poco::Net::HTTPRequestHandlerFactory::Ptr factory, HttpGateOptions options,
             Poco::Logger& log);
    ~HttpGate();  // stops if running
    HttpGate(const HttpGate&) = delete;
    HttpGate& operator=(const HttpGate&) = delete;

    // Starts the acceptor, reaper and rejecter threads. Throws Poco::Exception only
    // if a thread cannot be created.
    void start();
    // Shutdown order: stop accepting and close the listening socket; drop
    // connections still waiting in the queue; cut connections between requests at
    // once and give requests in progress up to 2 s; cut the rest; join the workers;
    // then stop the rejecter and the reaper. Returns within about 3 s. Idempotent.
    void stop();

    HttpGateStats stats() const;

    struct Impl;

  private:
    std::unique_ptr<Impl> impl_;
};

}  // namespace microscape::controller
