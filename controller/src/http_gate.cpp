#include "http_gate.hpp"

#include <Poco/Logger.h>
#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPServerConnection.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/NetException.h>
#include <Poco/Net/SocketImpl.h>
#include <Poco/Net/StreamSocket.h>
#include <Poco/Net/TCPServerConnection.h>
#include <Poco/Net/TCPServerConnectionFactory.h>
#include <Poco/Net/TCPServerDispatcher.h>
#include <Poco/ThreadPool.h>
#include <Poco/Types.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <thread>

namespace microscape::controller {

namespace {

// Whether s has bytes to read (or a connection to accept, or was closed) within timeout.
bool readableWithin(const Poco::Net::Socket& s, const Poco::Timespan& timeout) {
    Poco::Net::Socket::SocketList readable{s}, writable, failed;
    return Poco::Net::Socket::select(readable, writable, failed, timeout) > 0;
}

using Clock = std::chrono::steady_clock;
using Poco::Net::StreamSocket;

constexpr std::size_t kMaxPendingRejects = 64;                   // 503s waiting to be written
constexpr auto kRejectBudget = std::chrono::milliseconds(1500);  // per 503, write and linger
constexpr auto kStopGrace = std::chrono::milliseconds(2000);     // requests in progress at stop()

// One accepted connection. `fd` is a dup() of the socket's descriptor owned by
// the gate: shutdown() through it reaches the socket even while a worker reads,
// and the number cannot be reused by another connection until the gate closes it.
struct Conn {
    int fd = -1;
    std::string address;
    bool counted = true;     // counts against the address cap and the total (not a 503 being written)
    bool running = false;    // a worker has it
    bool inRequest = false;  // header complete, handler running
    bool cut = false;
    Clock::time_point deadline = Clock::time_point::max();
};

}  // namespace

struct HttpGate::Impl {
    Impl(Poco::Net::ServerSocket s, Poco::Net::HTTPRequestHandlerFactory::Ptr f, HttpGateOptions o, Poco::Logger& l)
        : listener(std::move(s)), factory(std::move(f)), options(o), log(l) {}

    Poco::Net::ServerSocket listener;
    Poco::Net::HTTPRequestHandlerFactory::Ptr factory;
    const HttpGateOptions options;
    Poco::Logger& log;

    std::unique_ptr<Poco::ThreadPool> pool;
    Poco::Net::TCPServerDispatcher* dispatcher = nullptr;  // reference-counted by Poco
    std::thread acceptor, reaper, rejecter;
    std::atomic<bool> stopAccepting{false};
    bool started = false;

    mutable std::mutex mu;         // guards everything below
    std::condition_variable wake;  // reaper and rejecter
    bool stopping = false;
    std::map<const Poco::Net::SocketImpl*, std::shared_ptr<Conn>> conns;
    std::map<std::string, int> perAddress;
    int counted = 0;
    std::deque<StreamSocket> rejects;
    HttpGateStats stats;

    // --- acceptor thread ---
    void acceptLoop();
    void admit(StreamSocket socket, const Poco::Net::SocketAddress& peer);
    // --- worker threads ---
    std::shared_ptr<Conn> attach(const StreamSocket& socket);
    void detach(const StreamSocket& socket);
    void headerDone(Conn& c);
    void requestDone(Conn& c);
    // --- reaper and rejecter threads ---
    void reapLoop();
    void rejectLoop();
    void reject(StreamSocket& socket);

    std::shared_ptr<Conn> registerLocked(const StreamSocket& socket, std::string address, bool counted,
                                         Clock::time_point deadline);
    void forgetLocked(const Poco::Net::SocketImpl* key);
    void cutLocked(Conn& c);
};

namespace {

// The connection a worker thread is serving, for the handler factory below.
thread_local std::shared_ptr<Conn> tConn;
thread_local HttpGate::Impl* tGate = nullptr;

// Marks the end of the request header (the factory is called once it is parsed)
// and the end of each request, so the reaper knows which deadline applies.
class GatedHandler : public Poco::Net::HTTPRequestHandler {
  public:
    explicit GatedHandler(Poco::Net::HTTPRequestHandler* inner) : inner_(inner) {}
    void handleRequest(Poco::Net::HTTPServerRequest& req, Poco::Net::HTTPServerResponse& resp) override {
        inner_->handleRequest(req, resp);
        if (tGate && tConn) tGate->requestDone(*tConn);
    }

  private:
    std::unique_ptr<Poco::Net::HTTPRequestHandler> inner_;
};

class GatedHandlerFactory : public Poco::Net::HTTPRequestHandlerFactory {
  public:
    explicit GatedHandlerFactory(Poco::Net::HTTPRequestHandlerFactory::Ptr inner) : inner_(std::move(inner)) {}
    Poco::Net::HTTPRequestHandler* createRequestHandler(const Poco::Net::HTTPServerRequest& req) override {
        if (tGate && tConn) tGate->headerDone(*tConn);
        Poco::Net::HTTPRequestHandler* h = inner_->createRequestHandler(req);
        return h ? new GatedHandler(h) : nullptr;
    }

  private:
    Poco::Net::HTTPRequestHandlerFactory::Ptr inner_;
};

class GatedConnection : public Poco::Net::TCPServerConnection {
  public:
    GatedConnection(const StreamSocket& socket, HttpGate::Impl& gate, Poco::Net::HTTPServerParams::Ptr params,
                    Poco::Net::HTTPRequestHandlerFactory::Ptr factory)
        : Poco::Net::TCPServerConnection(socket), gate_(gate), inner_(socket, params, factory) {}

    void run() override {
        tConn = gate_.attach(socket());
        tGate = &gate_;
        try {
            if (tConn) inner_.run();
        } catch (...) {
            // HTTPServerConnection reports its own errors; a cut socket ends up here.
        }
        tGate = nullptr;
        tConn.reset();
        gate_.detach(socket());
    }

  private:
    HttpGate::Impl& gate_;
    Poco::Net::HTTPServerConnection inner_;
};

class GatedConnectionFactory : public Poco::Net::TCPServerConnectionFactory {
  public:
    GatedConnectionFactory(HttpGate::Impl& gate, Poco::Net::HTTPServerParams::Ptr params,
                           Poco::Net::HTTPRequestHandlerFactory::Ptr factory)
        : gate_(gate), params_(std::move(params)), factory_(std::move(factory)) {}
    Poco::Net::TCPServerConnection* createConnection(const StreamSocket& socket) override {
        return new GatedConnection(socket, gate_, params_, factory_);
    }

  private:
    HttpGate::Impl& gate_;
    Poco::Net::HTTPServerParams::Ptr params_;
    Poco::Net::HTTPRequestHandlerFactory::Ptr factory_;
};

std::string busyResponse(const char* why) {
    const std::string body = std::string(R"({"error":{"code":"busy","message":")") + why + "\"}}";
    return "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json; charset=utf-8\r\n"
           "Content-Length: " +
           std::to_string(body.size()) + "\r\nRetry-After: 1\r\nConnection: close\r\n\r\n" + body;
}

// Closes without a word: no TLS close_notify or lingering, nothing that can block.
void closeNow(StreamSocket& socket) {
    try {
        ::shutdown(socket.impl()->sockfd(), SHUT_RDWR);
        socket.close();
    } catch (...) {
    }
}

}  // namespace

std::shared_ptr<Conn> HttpGate::Impl::registerLocked(const StreamSocket& socket, std::string address, bool isCounted,
                                                     Clock::time_point deadline) {
    auto c = std::make_shared<Conn>();
    c->fd = ::dup(socket.impl()->sockfd());
    if (c->fd < 0) return nullptr;
    c->address = std::move(address);
    c->counted = isCounted;
    c->deadline = deadline;
    if (isCounted) {
        ++perAddress[c->address];
        ++counted;
    }
    conns[socket.impl()] = c;
    wake.notify_all();
    return c;
}

void HttpGate::Impl::forgetLocked(const Poco::Net::SocketImpl* key) {
    auto it = conns.find(key);
    if (it == conns.end()) return;
    Conn& c = *it->second;
    if (c.counted) {
        --counted;
        if (--perAddress[c.address] <= 0) perAddress.erase(c.address);
    }
    ::close(c.fd);
    conns.erase(it);
}

void HttpGate::Impl::cutLocked(Conn& c) {
    if (c.cut) return;
    c.cut = true;
    ::shutdown(c.fd, SHUT_RDWR);
}

void HttpGate::Impl::acceptLoop() {
    while (!stopAccepting) {
        try {
            if (!readableWithin(listener, Poco::Timespan(0, 200000))) continue;
            Poco::Net::SocketAddress peer;
            StreamSocket socket = listener.acceptConnection(peer);
            admit(std::move(socket), peer);
        } catch (const Poco::Exception& e) {
            // Out of descriptors or a connection reset before accept: keep serving.
            log.warning("accept failed: %s", e.displayText());
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        } catch (const std::exception& e) {
            log.warning("accept failed: %s", std::string(e.what()));
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
    }
}

void HttpGate::Impl::admit(StreamSocket socket, const Poco::Net::SocketAddress& peer) {
    try {
        socket.setNoDelay(true);
    } catch (...) {
    }
    const std::string address = peer.host().toString();
    bool admitted = false;
    {
        std::lock_guard lock(mu);
        ++stats.accepted;
        const auto it = perAddress.find(address);
        const bool overCap = it != perAddress.end() && it->second >= options.maxConnectionsPerAddress;
        const bool busy = counted >= options.workers + options.maxQueued;
        if (overCap || busy) {
            ++(overCap ? stats.rejectedPerAddress : stats.rejectedBusy);
            if (rejects.size() < kMaxPendingRejects && !stopping) {
                rejects.push_back(socket);
                wake.notify_all();
                return;
            }
            ++stats.closedUnanswered;
        } else {
            // No deadline while queued: workers free up within headerTimeoutMs of a
            // slow client, and the header deadline starts when a worker takes it.
            admitted = registerLocked(socket, address, true, Clock::time_point::max()) != nullptr;
            if (!admitted) log.warning("cannot track a connection from %s: out of descriptors", address);
        }
    }
    if (!admitted) {
        closeNow(socket);
        return;
    }
    dispatcher->enqueue(socket);
}

std::shared_ptr<Conn> HttpGate::Impl::attach(const StreamSocket& socket) {
    std::lock_guard lock(mu);
    auto it = conns.find(socket.impl());
    if (it == conns.end() || it->second->cut) return nullptr;
    Conn& c = *it->second;
    c.running = true;
    c.deadline = Clock::now() + std::chrono::milliseconds(options.headerTimeoutMs);
    return it->second;
}

void HttpGate::Impl::detach(const StreamSocket& socket) {
    std::lock_guard lock(mu);
    forgetLocked(socket.impl());
    wake.notify_all();
}

void HttpGate::Impl::headerDone(Conn& c) {
    std::lock_guard lock(mu);
    // From here the socket's own timeouts (bodyIdleTimeoutMs per read or write)
    // bound a stalled body or a client that stops reading the response.
    c.inRequest = true;
    c.deadline = Clock::time_point::max();
}

void HttpGate::Impl::requestDone(Conn& c) {
    std::lock_guard lock(mu);
    c.inRequest = false;
    // Keep-alive: the next request may wait keepAliveIdleMs to start (Poco's
    // keep-alive timeout closes it) and then has headerTimeoutMs to arrive.
    c.deadline = Clock::now() + std::chrono::milliseconds(options.keepAliveIdleMs + options.headerTimeoutMs);
    if (stopping) {
        cutLocked(c);
        wake.notify_all();
    }
}

void HttpGate::Impl::reapLoop() {
    std::unique_lock lock(mu);
    HttpGateStats reported;
    auto nextReport = Clock::now() + std::chrono::seconds(10);
    while (!stopping) {
        const auto now = Clock::now();
        if (now >= nextReport) {
            // At most one line per 10 s however hard the gate is pushed.
            const auto refused = [](const HttpGateStats& s) {
                return s.rejectedPerAddress + s.rejectedBusy + s.headerTimeouts;
            };
            if (refused(stats) != refused(reported))
                log.warning(
                    "in the last 10 s: %Lu connections refused over the per-address cap and %Lu "
                    "while every worker was busy (%Lu of these closed without a 503: too many at "
                    "once); %Lu cut for a slow request header",
                    static_cast<Poco::UInt64>(stats.rejectedPerAddress - reported.rejectedPerAddress),
                    static_cast<Poco::UInt64>(stats.rejectedBusy - reported.rejectedBusy),
                    static_cast<Poco::UInt64>(stats.closedUnanswered - reported.closedUnanswered),
                    static_cast<Poco::UInt64>(stats.headerTimeouts - reported.headerTimeouts));
            reported = stats;
            nextReport = now + std::chrono::seconds(10);
        }
        auto next = now + std::chrono::milliseconds(250);
        for (auto& [key, c] : conns) {
            if (c->cut) continue;
            if (c->deadline <= now) {
                cutLocked(*c);
                if (c->counted) {
                    ++stats.headerTimeouts;
                    if (log.debug()) log.debug("cut a connection from %s: request header too slow", c->address);
                }
            } else if (c->deadline < next) {
                next = c->deadline;
            }
        }
        if (nextReport < next) next = nextReport;
        wake.wait_until(lock, next);
    }
}

void HttpGate::Impl::rejectLoop() {
    std::unique_lock lock(mu);
    for (;;) {
        wake.wait(lock, [&] { return stopping || !rejects.empty(); });
        if (rejects.empty()) return;  // stopping
        StreamSocket socket = rejects.front();
        rejects.pop_front();
        if (stopping) {
            lock.unlock();
            closeNow(socket);
            lock.lock();
            continue;
        }
        // The reaper cuts a 503 that cannot be written in time (e.g. a TLS
        // handshake that never completes).
        const bool tracked = registerLocked(socket, {}, false, Clock::now() + kRejectBudget) != nullptr;
        lock.unlock();
        if (tracked) reject(socket);
        closeNow(socket);
        lock.lock();
        forgetLocked(socket.impl());
    }
}

void HttpGate::Impl::reject(StreamSocket& socket) {
    try {
        const std::string text = busyResponse("too many connections; try again shortly");
        socket.setSendTimeout(Poco::Timespan(1, 0));
        socket.sendBytes(text.data(), static_cast<int>(text.size()));
        socket.shutdownSend();
        // Discard what the client already sent (briefly) so closing does not turn
        // into a reset that could destroy the 503 before the client reads it.
        const auto until = Clock::now() + std::chrono::milliseconds(100);
        char buf[4096];
        std::size_t total = 0;
        while (total < sizeof buf * 16) {
            const auto left = std::chrono::duration_cast<std::chrono::microseconds>(until - Clock::now());
            if (left.count() <= 0) break;
            if (!readableWithin(socket, Poco::Timespan(left.count()))) break;
            const int n = socket.receiveBytes(buf, sizeof buf);
            if (n <= 0) break;
            total += static_cast<std::size_t>(n);
        }
    } catch (...) {
        // The client went away or was cut: nothing more to tell it.
    }
}

HttpGate::HttpGate(Poco::Net::ServerSocket socket, Poco::Net::HTTPRequestHandlerFactory::Ptr factory,
                   HttpGateOptions options, Poco::Logger& log)
    : impl_(std::make_unique<Impl>(std::move(socket), std::move(factory), options, log)) {}

HttpGate::~HttpGate() {
    stop();
}

void HttpGate::start() {
    auto& d = *impl_;
    if (d.started) return;
    const auto& o = d.options;
    Poco::Net::HTTPServerParams::Ptr params = new Poco::Net::HTTPServerParams;
    params->setMaxThreads(o.workers);
    // The gate admits at most workers + maxQueued; Poco's own queue must never be
    // the one that refuses (it would drop the socket without a word).
    params->setMaxQueued(o.workers + o.maxQueued + static_cast<int>(kMaxPendingRejects));
    params->setThreadIdleTime(Poco::Timespan(10, 0));
    params->setKeepAlive(true);
    params->setKeepAliveTimeout(Poco::Timespan(static_cast<long>(o.keepAliveIdleMs) * 1000));
    params->setTimeout(Poco::Timespan(static_cast<long>(o.bodyIdleTimeoutMs) * 1000));
    Poco::Net::HTTPRequestHandlerFactory::Ptr gated = new GatedHandlerFactory(d.factory);
    d.pool = std::make_unique<Poco::ThreadPool>(1, o.workers + 2, 60);
    d.dispatcher = new Poco::Net::TCPServerDispatcher(new GatedConnectionFactory(d, params, gated), *d.pool, params);
    d.stopAccepting = false;
    {
        std::lock_guard lock(d.mu);
        d.stopping = false;
    }
    d.reaper = std::thread([&d] { d.reapLoop(); });
    d.rejecter = std::thread([&d] { d.rejectLoop(); });
    d.acceptor = std::thread([&d] { d.acceptLoop(); });
    d.started = true;
}

void HttpGate::stop() {
    auto& d = *impl_;
    if (!d.started) return;
    d.started = false;
    // 1. No new connections.
    d.stopAccepting = true;
    d.acceptor.join();
    try {
        d.listener.close();
    } catch (...) {
    }
    // 2. Connections still queued are dropped; their sockets close with the queue.
    d.dispatcher->stop();
    {
        std::unique_lock lock(d.mu);
        d.stopping = true;  // from now on a request that ends also ends its connection
        d.wake.notify_all();
        // 3. Connections between requests are cut now; requests in progress get a grace period.
        for (auto& [key, c] : d.conns)
            if (!c->inRequest) d.cutLocked(*c);
        const auto anyInRequest = [&] {
            for (auto& [key, c] : d.conns)
                if (c->running && c->inRequest && !c->cut) return true;
            return false;
        };
        const auto until = Clock::now() + kStopGrace;
        while (anyInRequest() && Clock::now() < until) d.wake.wait_until(lock, until);
        // 4. Whatever is left is cut.
        for (auto& [key, c] : d.conns) d.cutLocked(*c);
    }
    // 5. Workers return once their sockets fail.
    d.pool->joinAll();
    d.dispatcher->release();
    d.dispatcher = nullptr;
    // 6. The rejecter closes what it still holds; the reaper ends.
    d.rejecter.join();
    d.reaper.join();
    {
        std::lock_guard lock(d.mu);
        while (!d.conns.empty()) d.forgetLocked(d.conns.begin()->first);
        d.perAddress.clear();
        d.counted = 0;
    }
    d.pool.reset();
}

HttpGateStats HttpGate::stats() const {
    std::lock_guard lock(impl_->mu);
    return impl_->stats;
}

}  // namespace microscape::controller
