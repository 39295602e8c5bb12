#include "microscape/controller/hub.hpp"

#include <Poco/Logger.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <fstream>
#include <mutex>
#include <set>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <zmq.hpp>
#include <zmq_addon.hpp>

#include "microscape/controller/security.hpp"
#include "microscape/core/crypto.hpp"
#include "microscape/core/manifest.hpp"
#include "microscape/core/sealed.hpp"

namespace microscape::controller {

namespace fs = std::filesystem;

namespace {

constexpr const char* kZapDomain = "microscape";
constexpr const char* kZapEndpoint = "inproc://zeromq.zap.01";
constexpr int kMissedBeats = 3;  // a peer silent this many intervals is offline
constexpr std::int64_t kSeenFlushMs = 1000;
constexpr std::int64_t kSeenRefreshMs = 10'000;
constexpr std::size_t kMaxCommandResults = 1000;
constexpr std::size_t kMaxOpenFiles = 64;
constexpr long kSealedWaitPollMs = 1;
// PROOFS batches waiting for the ingest workers. A player keeps one batch in
// flight, so this is reached only when the store is far behind; a batch beyond
// it gets no ack and its player sends it again after its timeout.
constexpr std::size_t kMaxQueuedProofs = 4096;
// Two workers: one verifies (parses, hashes, checks signatures) the next batch
// while the other's batch is being stored (the store itself is one at a time).
constexpr int kProofsWorkers = 2;
// ZMQ_ZAP_ENFORCE_DOMAIN: declared in zmq.h's draft section, honoured by libzmq 4.3.
constexpr int kZapEnforceDomain = 93;
constexpr const char* kMonitorEndpoint = "inproc://microscape.hub.monitor";
// How often the free space of the data directory is read (disk guard).
constexpr std::int64_t kDiskCheckMs = 1000;
// Players whose PROOFS rate is tracked at most (beyond it the table restarts).
constexpr std::size_t kMaxBuckets = 100000;

using ShaSet = std::shared_ptr<const std::set<std::string>>;

ShaSet mediaOf(const std::string& manifestBytes) {
    auto m = manifest::parse(manifestBytes);
    auto out = std::make_shared<std::set<std::string>>();
    if (m)
        for (const auto& e : m->media) out->insert(e.sha256);
    return out;
}

// Bytes of sealed CHUNK frames made and not yet written out by libzmq: the one
// heap cost of the bulk channel (plain frames point into the page cache).
// Shared with the frames, which may outlive their session and the hub.
using SealedBytes = std::shared_ptr<std::atomic<std::size_t>>;

struct Peer {
    int fd = -1;                  // the connection the session is bound to (ZMQ_SRCFD of its HELLO)
    std::int64_t lastRecvMs = 0;  // steady
    std::int64_t lastSentMs = 0;  // steady
    std::int64_t activeVersion = 0;
    std::int64_t stagedVersion = 0;
    std::int64_t sentVersion = 0;
    ShaSet allowed, allowedPrev;  // media of the last two manifests sent
    std::int64_t seenStoredMs = 0;
    bool statusDirty = false;
    std::string statusJson;
    // The bulk channel of this session: token and key from its WELCOME; ready
    // once a READY proved the key; seq of the last sealed CHUNK.
    std::string bulkToken, bulkKey;
    bool bulkReady = false;
    std::uint64_t bulkSeq = 0;
    // This session's sealed bytes not yet written out, and waiting for the
    // hub's budget: together at most a window of chunks.
    SealedBytes sealedOut = std::make_shared<std::atomic<std::size_t>>(0);
    std::size_t sealedWaiting = 0;
};

struct Op {
    enum Kind { Publish, Command, ProofsAck } kind = Publish;
    HubManifest manifest;
    std::string playerId;
    wire::Command command;
    std::int64_t ackSeq = 0;  // ProofsAck
};

// One accepted TCP connection, from the ROUTER's monitor (ZMQ_EVENT_ACCEPTED).
struct Conn {
    std::int64_t acceptedMs = 0;  // steady
    bool proven = false;          // delivered a message whose routing id is its CURVE identity
};

// PROOFS rate of one player (token bucket).
struct Bucket {
    double tokens = 0;
    std::int64_t refilledMs = 0;  // steady
};

struct ProofsJob {
    std::string playerId;
    wire::Proofs proofs;
};

// A media file mapped read-only. CHUNK data frames point into the mapping
// (zmq_msg_init_data) instead of being read into a copy; each frame holds a
// reference, so the mapping outlives the hub's cache while chunks of it are
// queued. Media files are written once (to a temporary name, then renamed) and
// never changed in place, which is what makes mapping them safe.
struct MappedFile {
    const char* base = nullptr;
    std::uint64_t size = 0;
    MappedFile() = default;
    MappedFile(const MappedFile&) = delete;
    MappedFile& operator=(const MappedFile&) = delete;
    ~MappedFile() {
        if (base) ::munmap(const_cast<char*>(base), static_cast<std::size_t>(size));
    }
};
using MappedPtr = std::shared_ptr<const MappedFile>;

// A message whose data is [offset, offset + len) of the mapping, without a copy.
zmq::message_t frameOf(const MappedPtr& file, std::uint64_t offset, std::size_t len) {
    if (len == 0) return zmq::message_t();
    auto* ref = new MappedPtr(file);
    return zmq::message_t(
        const_cast<char*>(file->base) + offset, len, [](void*, void* hint) { delete static_cast<MappedPtr*>(hint); },
        ref);
}

// A frame of `size` bytes for sealing into, counted in the hub's and its
// session's SealedBytes until libzmq lets go of it (on an I/O thread once
// written, or here if never sent).
zmq::message_t sealedFrame(const SealedBytes& hubOut, const SealedBytes& peerOut, std::size_t size) {
    struct Buffer {
        SealedBytes hubOut, peerOut;
        std::size_t size;
        std::unique_ptr<char[]> data;
    };
    auto* b = new Buffer{hubOut, peerOut, size, std::unique_ptr<char[]>(new char[size])};
    hubOut->fetch_add(size);
    peerOut->fetch_add(size);
    return zmq::message_t(
        b->data.get(), size,
        [](void*, void* hint) {
            auto* buf = static_cast<Buffer*>(hint);
            buf->hubOut->fetch_sub(buf->size);
            buf->peerOut->fetch_sub(buf->size);
            delete buf;
        },
        b);
}

std::string z85Encode32(const void* data) {
    char out[41] = {};
    zmq_z85_encode(out, static_cast<const std::uint8_t*>(data), 32);
    return std::string(out, 40);
}

}  // namespace

struct Hub::Impl {
    HubConfig config;
    HubBackend& backend;
    Poco::Logger& log;

    zmq::context_t ctx{config.ioThreads};  // I/O threads do the CURVE encryption and the socket copies
    std::optional<zmq::socket_t> router;
    std::optional<zmq::socket_t> zap;
    std::optional<zmq::socket_t> monitor;  // ROUTER connection events (PAIR)
    std::optional<zmq::socket_t> bulk;     // the bulk channel's ROUTER (CURVE sessions)
    std::uint16_t bulkPortBound = 0;
    int wakeFd = -1;
    std::uint16_t port = 0;
    std::thread thread;
    std::atomic<bool> stopping{false};
    bool started = false;

    mutable std::mutex queueMutex;  // guards queue, ended
    std::deque<Op> queue;
    std::vector<std::string> ended;       // endSession() requests not yet applied
    std::atomic<bool> endPending{false};  // ended is not empty
    std::atomic<bool> ingestPaused{false};

    // The ingest workers: verify and store PROOFS batches off the hub thread (a
    // big batch must not hold up distribution) and post each ack back through
    // queue once its batch is committed. A player's batches are taken in arrival
    // order and never two at once.
    std::vector<std::thread> proofsThreads;
    std::mutex proofsMutex;  // guards proofsJobs, proofsBusy, proofsStopping
    std::condition_variable proofsCv;
    std::deque<ProofsJob> proofsJobs;
    std::unordered_set<std::string> proofsBusy;  // players with a batch being stored
    bool proofsStopping = false;

    mutable std::mutex sharedMutex;  // guards onlineIds, results, resultOrder, stats
    std::unordered_set<std::string> onlineIds;
    std::unordered_map<std::string, CommandResult> results;
    std::deque<std::string> resultOrder;
    HubStats stats;
    std::atomic<std::uint64_t> commandSeq{0};
    // Command ids are unique across the nodes of a deployment: time, sequence and this hub's nonce.
    const std::string commandNonce = sha256Hex(randomToken(16)).substr(0, 8);
    // Called on the hub thread with a command's answer or failure (set before start()).
    std::function<void(const CommandResult&)> commandListener;

    // Hub thread only.
    std::unordered_map<std::string, Peer> peers;
    std::unordered_map<std::string, std::int64_t> nagged;     // routing id -> last hello_required (steady)
    std::unordered_map<std::string, MappedPtr> openFiles;     // sha256 -> its mapping
    std::unordered_map<int, Conn> conns;                      // accepted connections by socket fd
    std::unordered_map<int, std::string> sessionByFd;         // fd -> routing id of the session bound to it
    std::unordered_map<std::string, std::string> bulkTokens;  // bulk token -> routing id of its session
    // Sealed CHUNKs wait here, in arrival order, while config.sealedBudgetBytes
    // of them are already on their way out.
    struct WaitingChunk {
        std::string rid, sha;
        MappedPtr file;
        std::uint64_t offset = 0;
        std::size_t len = 0;
    };
    std::deque<WaitingChunk> waitingChunks;
    const SealedBytes sealedInFlight = std::make_shared<std::atomic<std::size_t>>(0);
    std::unordered_map<std::string, Bucket> buckets;  // player -> PROOFS tokens
    std::int64_t lastDiskCheckMs = 0;
    std::vector<HubBackend::Seen> pendingSeen;  // of sessions ended between sweeps
    std::int64_t lastSweepMs = 0;
    std::int64_t lastFlushMs = 0;
    std::uint64_t logBudget = 0;  // rate-limits warnings about bad input
    std::int64_t logBudgetResetMs = 0;

    Impl(HubConfig c, HubBackend& b, Poco::Logger& l) : config(std::move(c)), backend(b), log(l) {}

    std::int64_t steadyMs() const { return config.clock->steadyMs(); }

    void count(std::uint64_t HubStats::*field, std::uint64_t n = 1) {
        std::lock_guard lock(sharedMutex);
        stats.*field += n;
    }

    void wake() {
        std::uint64_t one = 1;
        ssize_t n = ::write(wakeFd, &one, sizeof one);
        (void)n;
    }

    bool mayLog() {
        const auto now = steadyMs();
        if (now - logBudgetResetMs > 1000) {
            logBudgetResetMs = now;
            logBudget = 0;
        }
        return ++logBudget <= 20;
    }

    // ---------------------------------------------------------------- sending
    bool sendFrames(const std::string& rid, std::vector<zmq::message_t>& frames) {
        return sendFramesOn(*router, rid, rid, frames);
    }

    // Sends frames to routing id `to` on socket `sock` (the ROUTER or the bulk
    // channel's); rid names the session.
    bool sendFramesOn(zmq::socket_t& sock, const std::string& rid, const std::string& to,
                      std::vector<zmq::message_t>& frames) {
        try {
            auto r = sock.send(zmq::buffer(to), zmq::send_flags::sndmore | zmq::send_flags::dontwait);
            if (!r) {
                count(&HubStats::sendFailures);
                return false;
            }
            for (std::size_t i = 0; i < frames.size(); ++i)
                (void)sock.send(frames[i], i + 1 < frames.size() ? zmq::send_flags::sndmore : zmq::send_flags::none);
        } catch (const zmq::error_t& e) {
            count(&HubStats::sendFailures);
            if (mayLog()) log.warning("hub: cannot send to %s: %s", rid, std::string(e.what()));
            return false;
        }
        if (auto it = peers.find(rid); it != peers.end()) it->second.lastSentMs = steadyMs();
        return true;
    }

    bool send(const std::string& rid, const wire::Envelope& e) {
        auto encoded = wire::encode(e);
        std::vector<zmq::message_t> frames;
        frames.reserve(encoded.size());
        for (auto& f : encoded) frames.emplace_back(f.data(), f.size());
        return sendFrames(rid, frames);
    }

    void sendError(const std::string& rid, const std::string& code, const std::string& message,
                   const std::string& ref = {}) {
        send(rid, wire::toEnvelope(wire::ErrorMsg{code, message.substr(0, wire::kMaxTextBytes), ref}));
    }

    void sendManifest(const std::string& rid, Peer& peer, const HubManifest& m) {
        peer.allowedPrev = peer.allowed;
        peer.allowed = mediaOf(m.manifestBytes);
        if (send(rid, wire::toEnvelope(wire::ManifestPush{m.version, m.manifestBytes, m.signature}))) {
            peer.sentVersion = m.version;
            count(&HubStats::manifestsSent);
            log.information("hub: player %s: MANIFEST version %Ld sent", rid, m.version);
        }
    }

    // ---------------------------------------------------------------- connections
    // A routing id is bound to its CURVE key before anything is routed to it
    // (docs/wire-protocol.md, "Sessions"): the ROUTER keeps the first connection
    // that claims a routing id (no ROUTER_HANDOVER), a session is made only by a
    // HELLO whose routing id is the CURVE identity the ZAP handler gave its
    // connection, the session is bound to that connection, and it ends the moment
    // that connection closes (monitor events), so a later holder of the routing id
    // must say HELLO under its own key first. Connections that send something
    // under another identity, or nothing under their own, are closed.

    // Ends a session at once: offline from here on, nothing more is routed to it.
    void endPeer(const std::string& rid, const std::string& why) {
        auto it = peers.find(rid);
        if (it == peers.end()) return;
        Peer& p = it->second;
        const auto now = steadyMs();
        pendingSeen.push_back({rid, backend.nowMs() - (now - p.lastRecvMs), p.statusDirty ? p.statusJson : ""});
        if (auto s = sessionByFd.find(p.fd); s != sessionByFd.end() && s->second == rid) sessionByFd.erase(s);
        {
            std::lock_guard lock(sharedMutex);
            onlineIds.erase(rid);
            stats.online = onlineIds.size();
        }
        if (!p.bulkToken.empty()) bulkTokens.erase(p.bulkToken);
        peers.erase(it);
        log.information("hub: player %s offline (%s)", rid, why);
    }

    // Closes one of the ROUTER's TCP connections; libzmq then ends its pipe and
    // frees its routing id. Only a connected socket whose local port is the hub's
    // is touched, so a stale descriptor number never closes anything else.
    void closeConnection(int fd, const std::string& why) {
        if (fd < 0) return;
        conns.erase(fd);
        if (auto s = sessionByFd.find(fd); s != sessionByFd.end()) {
            const std::string rid = s->second;
            endPeer(rid, why);
        }
        sockaddr_storage local{}, peer{};
        socklen_t len = sizeof local, plen = sizeof peer;
        if (::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &len) != 0 ||
            ::getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &plen) != 0)
            return;
        std::uint16_t localPort = 0;
        if (local.ss_family == AF_INET)
            localPort = ntohs(reinterpret_cast<sockaddr_in*>(&local)->sin_port);
        else if (local.ss_family == AF_INET6)
            localPort = ntohs(reinterpret_cast<sockaddr_in6*>(&local)->sin6_port);
        if (localPort != port) return;
        ::shutdown(fd, SHUT_RDWR);
        count(&HubStats::connectionsClosed);
        if (mayLog()) log.warning("hub: closed a player connection: %s", why);
    }

    // The ROUTER's connection events: which connections exist, and when one ends.
    void handleMonitor() {
        if (!monitor) return;
        while (true) {
            std::vector<zmq::message_t> ev;
            try {
                if (!zmq::recv_multipart(*monitor, std::back_inserter(ev), zmq::recv_flags::dontwait)) return;
            } catch (const zmq::error_t&) {
                return;
            }
            if (ev.empty() || ev[0].size() < 6) continue;
            std::uint16_t event = 0;
            std::uint32_t value = 0;
            std::memcpy(&event, ev[0].data(), sizeof event);
            std::memcpy(&value, ev[0].data<char>() + 2, sizeof value);
            const int fd = static_cast<int>(value);
            if (event == ZMQ_EVENT_ACCEPTED) {
                conns[fd] = Conn{steadyMs(), false};
            } else if (event == ZMQ_EVENT_DISCONNECTED) {
                conns.erase(fd);
                if (auto s = sessionByFd.find(fd); s != sessionByFd.end()) {
                    const std::string rid = s->second;
                    sessionByFd.erase(s);
                    endPeer(rid, "connection closed");
                }
            }
        }
    }

    // A message came under its own CURVE identity over this connection.
    void markProven(int fd) {
        auto it = conns.find(fd);
        if (it == conns.end()) {
            handleMonitor();  // its ACCEPTED event precedes its first message
            it = conns.find(fd);
        }
        if (it != conns.end()) it->second.proven = true;
    }

    // endSession() requests, applied before the next message is handled.
    void applyEnds() {
        std::vector<std::string> ids;
        {
            std::lock_guard lock(queueMutex);
            ids.swap(ended);
            endPending = false;
        }
        for (const auto& id : ids) {
            buckets.erase(id);
            auto it = peers.find(id);
            if (it == peers.end()) continue;
            const int fd = it->second.fd;
            endPeer(id, "session ended by the controller (retired)");
            closeConnection(fd, "player " + id + " was retired");
        }
    }

    // ---------------------------------------------------------------- ZAP
    void handleZap() {
        while (true) {
            std::vector<zmq::message_t> req;
            std::optional<std::size_t> got;
            try {
                got = zmq::recv_multipart(*zap, std::back_inserter(req), zmq::recv_flags::dontwait);
            } catch (const zmq::error_t&) {
                return;
            }
            if (!got) return;
            if (req.size() < 6) continue;  // not a ZAP request; REP needs a reply anyway
            const std::string version = req[0].to_string();
            const std::string requestId = req[1].to_string();
            const std::string domain = req[2].to_string();
            const std::string address = req[3].to_string();
            const std::string mechanism = req[5].to_string();
            std::string status = "400", text = "refused", userId;
            if (version != "1.0") {
                text = "bad ZAP version";
            } else if (domain != kZapDomain) {
                text = "wrong domain";
            } else if (mechanism != "CURVE" || req.size() < 7 || req[6].size() != 32) {
                text = "CURVE required";
            } else {
                const std::string key = z85Encode32(req[6].data());
                std::optional<std::string> player;
                try {
                    player = backend.playerForCurveKey(key);
                } catch (const std::exception& e) {
                    log.error("hub: ZAP lookup failed: %s", std::string(e.what()));
                }
                if (player) {
                    status = "200";
                    text = "OK";
                    userId = *player;
                } else {
                    text = "unknown key";
                    count(&HubStats::zapDenied);
                    if (mayLog()) log.warning("hub: refused CURVE key %s from %s (not enrolled)", key, address);
                }
            }
            std::array<zmq::const_buffer, 6> reply = {zmq::str_buffer("1.0"), zmq::buffer(requestId),
                                                      zmq::buffer(status),    zmq::buffer(text),
                                                      zmq::buffer(userId),    zmq::str_buffer("")};
            try {
                zmq::send_multipart(*zap, reply);
            } catch (const zmq::error_t& e) {
                log.error("hub: ZAP reply failed: %s", std::string(e.what()));
            }
        }
    }

    // ---------------------------------------------------------------- receiving
    void handleRouter() {
        for (int budget = 0; budget < 2000; ++budget) {
            std::vector<zmq::message_t> parts;
            std::optional<std::size_t> got;
            try {
                got = zmq::recv_multipart(*router, std::back_inserter(parts), zmq::recv_flags::dontwait);
            } catch (const zmq::error_t& e) {
                if (mayLog()) log.warning("hub: receive failed: %s", std::string(e.what()));
                return;
            }
            if (!got) return;
            count(&HubStats::received);
            if (parts.size() < 2) {
                count(&HubStats::dropped);
                continue;
            }
            const std::string rid = parts[0].to_string();
            const int fd = zmq_msg_get(parts[1].handle(), ZMQ_SRCFD);
            if (endPending.load()) applyEnds();
            if (config.curve) {
                const char* user = nullptr;
                try {
                    user = parts[1].gets("User-Id");
                } catch (const zmq::error_t&) {
                }
                if (!user || rid != user) {
                    // Another player's routing id (or none of its own): nothing is
                    // routed to this connection, and it is closed so that it cannot
                    // hold that routing id against its owner.
                    count(&HubStats::dropped);
                    if (mayLog())
                        log.warning("hub: dropped a message whose routing id '%s' is not its CURVE identity '%s'",
                                    escapeControl(rid), std::string(user ? user : "-"));
                    closeConnection(fd, "routing id '" + escapeControl(rid) + "' claimed by CURVE identity '" +
                                            std::string(user ? user : "-") + "'");
                    continue;
                }
                markProven(fd);
            }
            try {
                handleMessage(rid, fd, parts);
            } catch (const std::exception& e) {
                count(&HubStats::dropped);
                log.error("hub: player %s: message handling failed: %s", rid, std::string(e.what()));
            }
        }
    }

    void handleMessage(const std::string& rid, int fd, std::vector<zmq::message_t>& parts) {
        std::vector<std::string_view> frames;
        for (std::size_t i = 1; i < parts.size(); ++i) frames.emplace_back(parts[i].data<char>(), parts[i].size());
        auto env = wire::decode(frames);
        auto peerIt = peers.find(rid);
        if (peerIt != peers.end() && peerIt->second.fd != fd) {
            // The routing id arrives over another connection: the session's own has
            // closed (its event may not be read yet). That session is over; the new
            // connection starts its own with HELLO.
            handleMonitor();
            peerIt = peers.find(rid);
            if (peerIt != peers.end() && peerIt->second.fd != fd)
                endPeer(rid, "its routing id moved to a new connection");
            peerIt = peers.find(rid);
        }
        if (!env) {
            count(&HubStats::dropped);
            if (mayLog())
                log.warning("hub: player %s: dropped a malformed message: %s", escapeControl(rid),
                            escapeControl(env.error().str()));
            if (peerIt != peers.end()) {
                peerIt->second.lastRecvMs = steadyMs();
                sendError(rid, "bad_message", env.error().message);
            }
            return;
        }
        if (env->type == wire::Type::Hello) return handleHello(rid, fd, *env);
        if (peerIt == peers.end()) {
            count(&HubStats::dropped);
            const auto now = steadyMs();
            auto& last = nagged[rid];
            if (now - last >= 1000) {
                last = now;
                if (nagged.size() > 20000) nagged.clear();
                sendError(rid, "hello_required", "say HELLO first");
            }
            return;
        }
        Peer& peer = peerIt->second;
        peer.lastRecvMs = steadyMs();
        switch (env->type) {
            case wire::Type::Heartbeat:
                return;
            case wire::Type::Fetch:
                return handleFetch(rid, peer, *env);
            case wire::Type::Status:
                return handleStatus(rid, peer, *env);
            case wire::Type::CommandAck:
                return handleAck(rid, *env);
            case wire::Type::Proofs:
                return handleProofs(rid, *env);
            case wire::Type::Error: {
                auto e = wire::parseError(*env);
                if (e)
                    log.warning("hub: player %s reports %s: %s", escapeControl(rid), escapeControl(e->code),
                                escapeControl(e->message));
                return;
            }
            default:
                count(&HubStats::dropped);
                if (mayLog())
                    log.warning("hub: player %s sent %s, which players do not send", rid,
                                std::string(wire::typeName(env->type)));
                sendError(rid, "bad_message", std::string(wire::typeName(env->type)) + " is not accepted here");
        }
    }

    void handleHello(const std::string& rid, int fd, const wire::Envelope& env) {
        auto hello = wire::parseHello(env);
        if (!hello) {
            count(&HubStats::dropped);
            sendError(rid, "bad_message", hello.error().message);
            return;
        }
        if (hello->playerId != rid) {
            count(&HubStats::dropped);
            sendError(rid, "bad_message", "HELLO names another player than the connection's identity");
            return;
        }
        if (hello->protocol != wire::kProtocolVersion) {
            count(&HubStats::dropped);
            sendError(rid, "protocol", "this controller speaks protocol " + std::to_string(wire::kProtocolVersion));
            return;
        }
        bool active = false;
        try {
            active = backend.playerActive(rid);
        } catch (const std::exception& e) {
            log.error("hub: player %s: cannot read its state: %s", rid, std::string(e.what()));
        }
        if (!active) {
            count(&HubStats::dropped);
            endPeer(rid, "not enrolled");
            sendError(rid, "retired", "this player is not enrolled (retired)");
            closeConnection(fd, "player " + rid + " is not enrolled");
            return;
        }
        handleMonitor();  // a closed connection whose descriptor this one reuses ends its session
                          // first
        const bool wasOnline = peers.count(rid) > 0;
        Peer& peer = peers[rid];
        if (peer.fd != fd) {
            if (auto s = sessionByFd.find(peer.fd); s != sessionByFd.end() && s->second == rid) sessionByFd.erase(s);
            peer.fd = fd;
        }
        sessionByFd[fd] = rid;
        peer.lastRecvMs = steadyMs();
        peer.activeVersion = hello->activeVersion;
        peer.stagedVersion = hello->stagedVersion;
        peer.sentVersion = 0;
        {
            std::lock_guard lock(sharedMutex);
            onlineIds.insert(rid);
            stats.online = onlineIds.size();
        }
        std::optional<HubManifest> current;
        try {
            current = backend.currentManifest(rid);
        } catch (const std::exception& e) {
            log.error("hub: player %s: no current manifest: %s", rid, std::string(e.what()));
        }
        wire::Welcome w;
        w.timeMs = backend.nowMs();
        w.heartbeatMs = config.heartbeatMs;
        w.currentVersion = current ? current->version : 0;
        w.maxChunkBytes = config.maxChunkBytes;
        w.maxWindow = config.maxWindow;
        newBulkSession(rid, peer, w);
        send(rid, wire::toEnvelope(w));
        log.information("hub: player %s %s (%s, active v%Ld, staged v%Ld, current v%Ld)", rid,
                        std::string(wasOnline ? "said HELLO again" : "online"), hello->software, hello->activeVersion,
                        hello->stagedVersion, w.currentVersion);
        peer.seenStoredMs = 0;  // store lastSeen at the next flush
        if (current && current->version > hello->activeVersion)
            sendManifest(rid, peer, *current);
        else if (current) {
            peer.allowed = mediaOf(current->manifestBytes);
            peer.sentVersion = current->version;
        }
        resendUnanswered(rid);
    }

    // Every session (every HELLO) gets a new bulk token and key, offered in its
    // WELCOME; the previous session's are forgotten.
    void newBulkSession(const std::string& rid, Peer& peer, wire::Welcome& w) {
        if (!peer.bulkToken.empty()) bulkTokens.erase(peer.bulkToken);
        peer.bulkToken.clear();
        peer.bulkKey.clear();
        peer.bulkReady = false;
        peer.bulkSeq = 0;
        if (!bulk) return;
        auto keys = wire::sealed::newSession();
        if (!keys) {
            log.error("hub: player %s: no bulk channel: %s", rid, keys.error().str());
            return;
        }
        peer.bulkToken = keys->token;
        peer.bulkKey = keys->key;
        bulkTokens[peer.bulkToken] = rid;
        w.bulkPort = bulkPortBound;
        w.bulkToken = peer.bulkToken;
        w.bulkKey = peer.bulkKey;
    }

    // The bulk channel's ROUTER: READY from a live session's token with a tag
    // under its key makes the session's sealed CHUNKs go there; anything else
    // is dropped.
    void handleBulk() {
        for (int budget = 0; budget < 256; ++budget) {
            std::vector<zmq::message_t> parts;
            std::optional<std::size_t> got;
            try {
                got = zmq::recv_multipart(*bulk, std::back_inserter(parts), zmq::recv_flags::dontwait);
            } catch (const zmq::error_t& e) {
                if (mayLog()) log.warning("hub: bulk channel: receive failed: %s", std::string(e.what()));
                return;
            }
            if (!got) return;
            count(&HubStats::received);
            const std::string token = parts[0].to_string();
            auto it = bulkTokens.find(token);
            Peer* peer = nullptr;
            if (it != bulkTokens.end())
                if (auto p = peers.find(it->second); p != peers.end()) peer = &p->second;
            const bool ok = peer && parts.size() == 3 && parts[1].to_string_view() == wire::sealed::kReady &&
                            wire::sealed::readyValid(peer->bulkKey, token, parts[2].to_string_view());
            if (!ok) {
                count(&HubStats::dropped);
                if (mayLog())
                    log.warning("hub: bulk channel: dropped a message that is not a valid READY (token '%s')",
                                escapeControl(token.substr(0, 64)));
                continue;
            }
            peer->bulkReady = true;
            log.information("hub: player %s: bulk channel ready", it->second);
        }
    }

    // A CHUNK sealed on the bulk channel; false if it could not be sent there
    // (the caller then sends it on the ROUTER).
    bool sendSealed(const std::string& rid, Peer& peer, const std::string& sha, const MappedPtr& file,
                    std::uint64_t offset, std::size_t len) {
        const std::uint64_t seq = ++peer.bulkSeq;
        const std::string header = wire::sealed::chunkHeader(sha, offset, file->size, seq);
        zmq::message_t data = sealedFrame(sealedInFlight, peer.sealedOut, len + wire::sealed::kTagBytes);
        if (!wire::sealed::seal(peer.bulkKey, wire::sealed::Direction::HubToPlayer, seq, header,
                                len ? file->base + offset : nullptr, len, data.data())) {
            log.error("hub: player %s: sealing a CHUNK failed", rid);
            return false;
        }
        if (!sendChunk(*bulk, rid, peer.bulkToken, header, std::move(data), len, true)) {
            // Its bulk connection is gone or full: a new READY brings it back.
            peer.bulkReady = false;
            return false;
        }
        return true;
    }

    // The commands this player has not answered, sent again with their ids: a
    // command (or its answer) sent while the link was dropping is lost with the
    // connection. The player answers an id it has seen from memory, without
    // acting twice.
    void resendUnanswered(const std::string& rid) {
        std::vector<wire::Command> again;
        {
            std::lock_guard lock(sharedMutex);
            for (const auto& id : resultOrder) {
                auto it = results.find(id);
                if (it != results.end() && it->second.playerId == rid && !it->second.ackedAtMs)
                    again.push_back(wire::Command{id, it->second.action});
            }
        }
        for (const auto& cmd : again) {
            log.information("hub: player %s: command %s sent again", rid, cmd.id);
            send(rid, wire::toEnvelope(cmd));
        }
    }

    // Unanswered commands older than kCommandAnswerMs have failed: the console
    // stops waiting and says why.
    void expireCommands() {
        const std::int64_t wall = config.clock->wallMs();
        std::vector<CommandResult> ended;
        {
            std::lock_guard lock(sharedMutex);
            for (auto& [id, r] : results) {
                if (r.ackedAtMs || wall - r.sentAtMs < kCommandAnswerMs) continue;
                r.ackedAtMs = wall;
                r.ok = false;
                r.message = "no answer from the screen within " + std::to_string(kCommandAnswerMs / 1000) + " s";
                log.warning("hub: player %s: command %s: %s", r.playerId, id, r.message);
                if (commandListener) ended.push_back(r);
            }
        }
        for (const auto& r : ended) tellCommandListener(r);
    }

    void tellCommandListener(const CommandResult& r) {
        try {
            commandListener(r);
        } catch (const std::exception& e) {
            log.error("hub: command %s: storing its answer: %s", r.id, std::string(e.what()));
        }
    }

    // The media file mapped (cached: the last kMaxOpenFiles files), or null.
    MappedPtr fileFor(const std::string& sha) {
        if (auto it = openFiles.find(sha); it != openFiles.end()) return it->second;
        const std::string path = backend.mediaPath(sha);
        if (path.empty()) return nullptr;
        const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0) return nullptr;
        struct stat st {};
        auto file = std::make_shared<MappedFile>();
        bool ok = ::fstat(fd, &st) == 0;
        if (ok) file->size = static_cast<std::uint64_t>(st.st_size);
        if (ok && file->size > 0) {
            void* p = ::mmap(nullptr, static_cast<std::size_t>(file->size), PROT_READ, MAP_SHARED, fd, 0);
            ok = p != MAP_FAILED;
            if (ok) {
                file->base = static_cast<const char*>(p);
                ::madvise(p, static_cast<std::size_t>(file->size), MADV_SEQUENTIAL);
            }
        }
        ::close(fd);
        if (!ok) return nullptr;
        if (openFiles.size() >= kMaxOpenFiles) closeFiles();
        openFiles[sha] = file;
        return file;
    }

    void closeFiles() { openFiles.clear(); }

    void handleFetch(const std::string& rid, Peer& peer, const wire::Envelope& env) {
        auto f = wire::parseFetch(env);
        if (!f) {
            count(&HubStats::dropped);
            sendError(rid, "bad_message", f.error().message);
            return;
        }
        const bool allowed = (peer.allowed && peer.allowed->count(f->sha256)) ||
                             (peer.allowedPrev && peer.allowedPrev->count(f->sha256));
        if (!allowed) {
            count(&HubStats::dropped);
            if (mayLog()) log.warning("hub: player %s: refused FETCH of %s (not in its manifest)", rid, f->sha256);
            sendError(rid, "not_in_manifest", "that media is not in your manifest", f->sha256);
            return;
        }
        const MappedPtr file = fileFor(f->sha256);
        if (!file) {
            log.error("hub: player %s: media %s is missing from the store", rid, f->sha256);
            sendError(rid, "unavailable", "media missing on the controller", f->sha256);
            return;
        }
        const auto size = file->size;
        if (f->offset > size) {
            sendError(rid, "bad_range", "offset past the end of the file", f->sha256);
            return;
        }
        const std::size_t len =
            static_cast<std::size_t>(std::min<std::uint64_t>({f->length, config.maxChunkBytes, size - f->offset}));
        // A session holds at most a window of sealed chunks; one that asks
        // past it without reading them gets the rest on the ROUTER (no heap).
        const std::size_t sealedLen = len + wire::sealed::kTagBytes;
        const bool withinWindow = peer.sealedOut->load() + peer.sealedWaiting + sealedLen <=
                                  std::size_t{config.maxWindow} * (config.maxChunkBytes + wire::sealed::kTagBytes);
        if (f->bulk && peer.bulkReady && bulk && withinWindow) {
            if (!waitingChunks.empty() || !sealedBudgetAllows(len)) {
                waitingChunks.push_back({rid, f->sha256, file, f->offset, len});
                peer.sealedWaiting += sealedLen;
                count(&HubStats::chunksWaited);
                return;
            }
            if (sendSealed(rid, peer, f->sha256, file, f->offset, len)) return;
        }
        sendPlain(rid, f->sha256, file, f->offset, len);
    }

    // A CHUNK on the ROUTER: in the clear, or encrypted by CURVE in libzmq.
    void sendPlain(const std::string& rid, const std::string& sha, const MappedPtr& file, std::uint64_t offset,
                   std::size_t len) {
        const std::string header =
            json::canonical(json::Value(wire::toEnvelope(wire::Chunk{sha, offset, file->size, {}}).header));
        sendChunk(*router, rid, rid, header, frameOf(file, offset, len), len, false);
    }

    // Another sealed chunk of len bytes fits the hub's budget (one always does
    // when none is out, so a budget below a chunk still moves).
    bool sealedBudgetAllows(std::size_t len) const {
        const std::size_t out = sealedInFlight->load();
        return out == 0 || out + len + wire::sealed::kTagBytes <= config.sealedBudgetBytes;
    }

    // Sends the waiting sealed CHUNKs the budget now allows, oldest first. A
    // session that ended meanwhile is skipped; one whose bulk channel dropped
    // gets its chunk on the ROUTER.
    void sendWaitingChunks() {
        while (!waitingChunks.empty() && sealedBudgetAllows(waitingChunks.front().len)) {
            WaitingChunk w = std::move(waitingChunks.front());
            waitingChunks.pop_front();
            auto it = peers.find(w.rid);
            if (it == peers.end()) continue;
            it->second.sealedWaiting -= std::min(it->second.sealedWaiting, w.len + wire::sealed::kTagBytes);
            if (it->second.bulkReady && sendSealed(w.rid, it->second, w.sha, w.file, w.offset, w.len)) continue;
            sendPlain(w.rid, w.sha, w.file, w.offset, w.len);
        }
    }

    // CHUNK frames (type, header, data of len media bytes) to routing id `to`
    // on sock: the ROUTER, or the bulk channel when sealed.
    bool sendChunk(zmq::socket_t& sock, const std::string& rid, const std::string& to, const std::string& header,
                   zmq::message_t data, std::size_t len, bool sealed) {
        std::vector<zmq::message_t> frames;
        frames.emplace_back(wire::typeName(wire::Type::Chunk).data(), wire::typeName(wire::Type::Chunk).size());
        frames.emplace_back(header.data(), header.size());
        frames.push_back(std::move(data));
        if (!sendFramesOn(sock, rid, to, frames)) return false;
        std::lock_guard lock(sharedMutex);
        stats.chunksSent++;
        stats.bytesSent += len;
        if (sealed) stats.bytesSealed += len;
        return true;
    }

    void handleStatus(const std::string& rid, Peer& peer, const wire::Envelope& env) {
        auto s = wire::parseStatus(env);
        if (!s) {
            count(&HubStats::dropped);
            sendError(rid, "bad_message", s.error().message);
            return;
        }
        peer.activeVersion = s->activeVersion;
        peer.stagedVersion = s->stagedVersion;
        peer.statusJson = json::canonical(wire::statusToJson(*s));
        peer.statusDirty = true;
    }

    void handleAck(const std::string& rid, const wire::Envelope& env) {
        auto a = wire::parseCommandAck(env);
        if (!a) {
            count(&HubStats::dropped);
            return;
        }
        std::optional<CommandResult> answered;
        {
            std::lock_guard lock(sharedMutex);
            auto it = results.find(a->id);
            if (it == results.end() || it->second.playerId != rid) return;
            const bool first = !it->second.ackedAtMs;
            it->second.ackedAtMs = backend.nowMs();
            it->second.ok = a->ok;
            it->second.message = a->message;
            if (a->payload) it->second.payload = *a->payload;
            log.information("hub: player %s: command %s (%s) %s: %s", escapeControl(rid), escapeControl(a->id),
                            std::string(wire::commandActionName(it->second.action)),
                            std::string(a->ok ? "done" : "failed"), escapeControl(a->message));
            if (first && commandListener) answered = it->second;
        }
        if (answered) tellCommandListener(*answered);
    }

    void handleProofs(const std::string& rid, const wire::Envelope& env) {
        auto p = wire::parseProofs(env);
        if (!p) {
            count(&HubStats::dropped);
            sendError(rid, "bad_message", p.error().message);
            return;
        }
        if (ingestPaused.load()) {
            count(&HubStats::proofsPaused);
            sendError(rid, "ingest_paused",
                      "the controller is short of disk space; keep these proofs and send them "
                      "again later");
            return;
        }
        if (!takeToken(rid)) {
            count(&HubStats::proofsRateLimited);
            if (mayLog()) log.warning("hub: player %s: PROOFS over the rate limit; asked to send it again later", rid);
            sendError(rid, "rate_limited",
                      "more than " + std::to_string(config.proofsPerMinute) +
                          " PROOFS batches a minute; send this one again later");
            return;
        }
        {
            std::lock_guard lock(proofsMutex);
            if (proofsJobs.size() < kMaxQueuedProofs) {
                proofsJobs.push_back({rid, std::move(*p)});
                proofsCv.notify_one();
                return;
            }
        }
        count(&HubStats::dropped);
        if (mayLog()) log.warning("hub: player %s: PROOFS not queued (the ingest is behind); it will be re-sent", rid);
    }

    // One PROOFS batch from this player's bucket (a minute's worth, refilled
    // continuously); false when it is empty.
    bool takeToken(const std::string& rid) {
        if (config.proofsPerMinute <= 0) return true;
        const auto now = steadyMs();
        const double capacity = config.proofsPerMinute;
        auto it = buckets.find(rid);
        if (it == buckets.end()) {
            if (buckets.size() >= kMaxBuckets) buckets.clear();
            it = buckets.emplace(rid, Bucket{capacity, now}).first;
        }
        Bucket& b = it->second;
        b.tokens = std::min(capacity, b.tokens + static_cast<double>(now - b.refilledMs) * capacity / 60000.0);
        b.refilledMs = now;
        if (b.tokens < 1.0) return false;
        b.tokens -= 1.0;
        return true;
    }

    // The disk guard: ingest pauses while the store's free space is under the threshold.
    void checkDisk(std::int64_t now) {
        if (config.minFreeDiskBytes == 0 || now - lastDiskCheckMs < kDiskCheckMs) return;
        lastDiskCheckMs = now;
        std::optional<std::uint64_t> free;
        try {
            free = backend.freeDiskBytes();
        } catch (const std::exception& e) {
            log.error("hub: cannot read the free disk space: %s", std::string(e.what()));
        }
        if (!free) return;
        const bool paused = *free < config.minFreeDiskBytes;
        if (paused == ingestPaused.load()) return;
        ingestPaused = paused;
        {
            std::lock_guard lock(sharedMutex);
            stats.ingestPaused = paused;
        }
        if (paused)
            log.warning(
                "hub: proof-of-play ingest PAUSED: %Lu bytes free, under the %Lu bytes of "
                "zmq.minFreeDiskBytes; "
                "players keep their proofs until there is room",
                static_cast<unsigned long long>(*free), static_cast<unsigned long long>(config.minFreeDiskBytes));
        else
            log.warning("hub: proof-of-play ingest resumed: %Lu bytes free", static_cast<unsigned long long>(*free));
    }

    // Ingest worker thread: takes the oldest batch of a player that has none being
    // stored, so each player's batches are stored in the order it sent them.
    void runProofs() {
        while (true) {
            ProofsJob job;
            {
                std::unique_lock lock(proofsMutex);
                std::deque<ProofsJob>::iterator it;
                proofsCv.wait(lock, [&] {
                    if (proofsStopping) return true;
                    it = std::find_if(proofsJobs.begin(), proofsJobs.end(),
                                      [&](const ProofsJob& j) { return !proofsBusy.count(j.playerId); });
                    return it != proofsJobs.end();
                });
                if (proofsStopping) return;  // what is queued is not acked, so players re-send it
                job = std::move(*it);
                proofsJobs.erase(it);
                proofsBusy.insert(job.playerId);
            }
            std::optional<std::int64_t> seq;
            try {
                // Queued before the disk guard tripped: not stored, not acked, sent again.
                if (!ingestPaused.load()) seq = backend.storeProofs(job.playerId, job.proofs);
            } catch (const std::exception& e) {
                log.error("hub: player %s: storing PROOFS failed: %s", job.playerId, std::string(e.what()));
            }
            {
                std::lock_guard lock(proofsMutex);
                proofsBusy.erase(job.playerId);
            }
            proofsCv.notify_all();  // that player's next batch may be waiting
            if (!seq) continue;
            {
                std::lock_guard lock(queueMutex);
                Op op;
                op.kind = Op::ProofsAck;
                op.playerId = job.playerId;
                op.ackSeq = *seq;
                queue.push_back(std::move(op));
            }
            wake();
        }
    }

    // ---------------------------------------------------------------- queue and timers
    void drainQueue() {
        std::uint64_t v = 0;
        ssize_t n = ::read(wakeFd, &v, sizeof v);
        (void)n;
        handleMonitor();  // no session whose connection has closed is sent to
        if (endPending.load()) applyEnds();
        std::deque<Op> ops;
        {
            std::lock_guard lock(queueMutex);
            ops.swap(queue);
        }
        for (auto& op : ops) {
            auto it = peers.find(op.kind == Op::Publish ? op.manifest.playerId : op.playerId);
            if (it == peers.end()) continue;  // offline: catch-up happens at its HELLO
            if (op.kind == Op::Publish) {
                if (op.manifest.version > it->second.activeVersion && op.manifest.version != it->second.sentVersion)
                    sendManifest(it->first, it->second, op.manifest);
            } else if (op.kind == Op::ProofsAck) {
                send(it->first, wire::toEnvelope(wire::ProofsAck{op.ackSeq}));
            } else {
                send(it->first, wire::toEnvelope(op.command));
            }
        }
    }

    void sweep() {
        handleMonitor();
        if (endPending.load()) applyEnds();
        const auto now = steadyMs();
        checkDisk(now);
        expireCommands();
        const std::int64_t deadMs = kMissedBeats * config.heartbeatMs;
        std::vector<HubBackend::Seen> seen;
        seen.swap(pendingSeen);
        if (config.curve) {
            // A connection that has said nothing under its own identity by now is
            // not a player's (a player says HELLO at once and then beats): it may
            // be holding another player's routing id.
            const std::int64_t proveMs = 2 * config.heartbeatMs + 1000;
            std::vector<int> silent;
            for (const auto& [fd, c] : conns)
                if (!c.proven && now - c.acceptedMs > proveMs) silent.push_back(fd);
            for (int fd : silent) closeConnection(fd, "nothing sent under its own identity");
        }
        const bool flush = now - lastFlushMs >= kSeenFlushMs;
        const std::int64_t wall = backend.nowMs();
        for (auto it = peers.begin(); it != peers.end();) {
            Peer& p = it->second;
            if (now - p.lastRecvMs > deadMs) {
                log.information("hub: player %s offline (silent for %Ld ms)", it->first, now - p.lastRecvMs);
                seen.push_back({it->first, wall - (now - p.lastRecvMs), p.statusDirty ? p.statusJson : ""});
                if (auto s = sessionByFd.find(p.fd); s != sessionByFd.end() && s->second == it->first)
                    sessionByFd.erase(s);
                {
                    std::lock_guard lock(sharedMutex);
                    onlineIds.erase(it->first);
                    stats.online = onlineIds.size();
                }
                it = peers.erase(it);
                continue;
            }
            if (now - p.lastSentMs >= config.heartbeatMs) send(it->first, wire::toEnvelope(wire::Heartbeat{wall}));
            if (flush && (p.statusDirty || now - p.seenStoredMs >= kSeenRefreshMs)) {
                seen.push_back({it->first, wall - (now - p.lastRecvMs), p.statusDirty ? p.statusJson : ""});
                p.statusDirty = false;
                p.seenStoredMs = now;
            }
            ++it;
        }
        if (flush) lastFlushMs = now;
        if (!seen.empty()) {
            try {
                backend.storeSeen(seen);
            } catch (const std::exception& e) {
                log.error("hub: cannot store player liveness: %s", std::string(e.what()));
            }
        }
    }

    void run() {
        const long tickMs = std::clamp<long>(static_cast<long>(config.heartbeatMs / 4), 10, 250);
        while (!stopping.load()) {
            std::vector<zmq::pollitem_t> items;
            items.push_back({router->handle(), 0, ZMQ_POLLIN, 0});
            items.push_back({nullptr, wakeFd, ZMQ_POLLIN, 0});
            if (zap) items.push_back({zap->handle(), 0, ZMQ_POLLIN, 0});
            const std::size_t bulkAt = items.size();
            if (bulk) items.push_back({bulk->handle(), 0, ZMQ_POLLIN, 0});
            if (monitor) items.push_back({monitor->handle(), 0, ZMQ_POLLIN, 0});
            try {
                // Sealed chunks waiting for the budget: look again soon (libzmq
                // frees their predecessors on its I/O threads, unannounced).
                zmq::poll(items.data(), items.size(),
                          std::chrono::milliseconds(waitingChunks.empty() ? tickMs : kSealedWaitPollMs));
                if (bulk && (items[bulkAt].revents & ZMQ_POLLIN)) handleBulk();
                if (zap && (items[2].revents & ZMQ_POLLIN)) handleZap();
                if (monitor && (items.back().revents & ZMQ_POLLIN)) handleMonitor();
                if (items[0].revents & ZMQ_POLLIN) handleRouter();
                if (items[1].revents & ZMQ_POLLIN) drainQueue();
                if (!waitingChunks.empty()) sendWaitingChunks();
                const auto now = steadyMs();
                if (now - lastSweepMs >= tickMs) {
                    lastSweepMs = now;
                    sweep();
                }
            } catch (const std::exception& e) {
                log.error("hub: loop error: %s", std::string(e.what()));
            }
        }
        // Final flush so lastSeen survives a clean stop.
        std::vector<HubBackend::Seen> seen;
        seen.swap(pendingSeen);
        const auto now = steadyMs();
        for (auto& [id, p] : peers)
            seen.push_back({id, backend.nowMs() - (now - p.lastRecvMs), p.statusDirty ? p.statusJson : ""});
        try {
            if (!seen.empty()) backend.storeSeen(seen);
        } catch (...) {
        }
        closeFiles();
        if (monitor) {
            zmq_socket_monitor(router->handle(), nullptr, 0);
            monitor.reset();
        }
        router.reset();
        bulk.reset();
        zap.reset();
    }
};

Hub::Hub(HubConfig config, HubBackend& backend, Poco::Logger& log)
    : impl_(std::make_unique<Impl>(std::move(config), backend, log)) {}

Hub::~Hub() {
    stop();
}

Status Hub::start() {
    auto& d = *impl_;
    if (d.started) return {};
    std::string listening = d.config.bind + ":" + std::to_string(d.config.port);  // named if a bind fails
    try {
        if (d.config.curve) {
            if (d.config.curveSecretZ85.size() != 40) return makeError(Errc::BadKey, "hub: CURVE secret key missing");
            d.zap.emplace(d.ctx, zmq::socket_type::rep);
            d.zap->set(zmq::sockopt::linger, 0);
            d.zap->bind(kZapEndpoint);
        }
        d.router.emplace(d.ctx, zmq::socket_type::router);
        auto& r = *d.router;
        r.set(zmq::sockopt::linger, 0);
        r.set(zmq::sockopt::router_mandatory, 1);
        // No ROUTER_HANDOVER: a connection claiming a routing id that another holds
        // gets nothing, so no one can take over an online player's session. A
        // player whose old connection is dead gets its id back once that
        // connection is closed: ZMTP heartbeats close it within a few intervals.
        r.set(zmq::sockopt::heartbeat_ivl, static_cast<int>(d.config.heartbeatMs));
        r.set(zmq::sockopt::heartbeat_timeout, static_cast<int>(kMissedBeats * d.config.heartbeatMs));
        r.set(zmq::sockopt::maxmsgsize, wire::kMaxFrameBytes);
        r.set(zmq::sockopt::sndhwm, d.config.sndHwm);
        r.set(zmq::sockopt::rcvhwm, d.config.sndHwm);
        if (d.config.curve) {
            r.set(zmq::sockopt::curve_server, 1);
            r.set(zmq::sockopt::curve_secretkey, d.config.curveSecretZ85);
            r.set(zmq::sockopt::zap_domain, kZapDomain);
            int one = 1;
            if (zmq_setsockopt(r.handle(), kZapEnforceDomain, &one, sizeof one) != 0)
                d.log.warning("hub: ZMQ_ZAP_ENFORCE_DOMAIN not supported by this libzmq");
        }
        if (zmq_socket_monitor(r.handle(), kMonitorEndpoint, ZMQ_EVENT_ACCEPTED | ZMQ_EVENT_DISCONNECTED) != 0)
            return makeError(Errc::Internal, "hub: cannot monitor the ROUTER");
        d.monitor.emplace(d.ctx, zmq::socket_type::pair);
        d.monitor->set(zmq::sockopt::linger, 0);
        d.monitor->connect(kMonitorEndpoint);
        const std::string ep =
            "tcp://" + d.config.bind + ":" + (d.config.port == 0 ? std::string("*") : std::to_string(d.config.port));
        r.bind(ep);
        const std::string last = r.get(zmq::sockopt::last_endpoint);
        d.port = static_cast<std::uint16_t>(std::stoi(last.substr(last.rfind(':') + 1)));
        if (d.config.curve && d.config.bulkPort >= 0) {
            listening = d.config.bind + ":" + std::to_string(d.config.bulkPort) + " (bulk channel)";
            d.bulk.emplace(d.ctx, zmq::socket_type::router);
            auto& b = *d.bulk;
            b.set(zmq::sockopt::linger, 0);
            b.set(zmq::sockopt::router_mandatory, 1);
            b.set(zmq::sockopt::heartbeat_ivl, static_cast<int>(d.config.heartbeatMs));
            b.set(zmq::sockopt::heartbeat_timeout, static_cast<int>(kMissedBeats * d.config.heartbeatMs));
            // READY is the largest message it takes; the ZMTP handshake (socket type and
            // routing id) must fit too.
            b.set(zmq::sockopt::maxmsgsize, std::int64_t{256});
            b.set(zmq::sockopt::sndhwm, d.config.sndHwm);
            const std::string host = "tcp://" + d.config.bind + ":";
            try {
                b.bind(host + (d.config.bulkPort == 0 ? std::string("*") : std::to_string(d.config.bulkPort)));
            } catch (const zmq::error_t& e) {
                if (!d.config.bulkPortAnyIfTaken || d.config.bulkPort == 0) throw;
                d.log.warning("hub: bulk channel: port %d is taken (%s); listening on a free port instead",
                              d.config.bulkPort, std::string(e.what()));
                b.bind(host + "*");
            }
            const std::string bl = b.get(zmq::sockopt::last_endpoint);
            d.bulkPortBound = static_cast<std::uint16_t>(std::stoi(bl.substr(bl.rfind(':') + 1)));
        }
    } catch (const zmq::error_t& e) {
        d.monitor.reset();
        d.bulk.reset();
        d.router.reset();
        d.zap.reset();
        return makeError(Errc::Usage, "hub: cannot listen on " + listening + ": " + e.what());
    }
    d.wakeFd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (d.wakeFd < 0) return makeError(Errc::Internal, "hub: eventfd failed");
    d.stopping = false;
    d.proofsStopping = false;
    for (int i = 0; i < kProofsWorkers; ++i) d.proofsThreads.emplace_back([&d] { d.runProofs(); });
    d.thread = std::thread([&d] { d.run(); });
    d.started = true;
    if (d.bulk) d.log.information("hub: bulk channel listening on %s:%hu", d.config.bind, d.bulkPortBound);
    d.log.information("hub: ROUTER listening on %s:%hu (%s)", d.config.bind, d.port,
                      std::string(d.config.curve ? "CURVE, enrolled keys only" : "PLAIN, no authentication"));
    return {};
}

void Hub::stop() {
    auto& d = *impl_;
    if (!d.started) return;
    d.stopping = true;
    d.wake();
    d.thread.join();
    {
        std::lock_guard lock(d.proofsMutex);
        d.proofsStopping = true;
        d.proofsJobs.clear();
    }
    d.proofsCv.notify_all();
    for (auto& t : d.proofsThreads) t.join();  // after the batches being stored, if any, are committed
    d.proofsThreads.clear();
    ::close(d.wakeFd);
    d.wakeFd = -1;
    d.started = false;
    {
        std::lock_guard lock(d.sharedMutex);
        d.onlineIds.clear();
        d.stats.online = 0;
    }
    d.peers.clear();
    d.waitingChunks.clear();
    d.conns.clear();
    d.sessionByFd.clear();
    d.pendingSeen.clear();
    d.ingestPaused = false;
    d.log.information("hub: stopped");
}

std::uint16_t Hub::port() const {
    return impl_->port;
}

std::uint16_t Hub::bulkPort() const {
    return impl_->bulkPortBound;
}

void Hub::publish(HubManifest m) {
    auto& d = *impl_;
    {
        std::lock_guard lock(d.queueMutex);
        Op op;
        op.kind = Op::Publish;
        op.manifest = std::move(m);
        d.queue.push_back(std::move(op));
    }
    if (d.started) d.wake();
}

std::optional<std::string> Hub::sendCommand(const std::string& playerId, wire::CommandAction action) {
    const std::string id = newCommandId();
    if (!deliverCommand(id, playerId, action)) return std::nullopt;
    return id;
}

std::string Hub::newCommandId() {
    auto& d = *impl_;
    return "cmd-" + std::to_string(d.config.clock->wallMs()) + "-" + std::to_string(++d.commandSeq) + "-" +
           d.commandNonce;
}

void Hub::setCommandListener(std::function<void(const CommandResult&)> listener) {
    impl_->commandListener = std::move(listener);
}

bool Hub::deliverCommand(const std::string& id, const std::string& playerId, wire::CommandAction action) {
    auto& d = *impl_;
    if (!isOnline(playerId)) return false;
    // Not on the hub thread: the backend is not ours to call here.
    const std::int64_t now = d.config.clock->wallMs();
    {
        std::lock_guard lock(d.sharedMutex);
        CommandResult r;
        r.id = id;
        r.playerId = playerId;
        r.action = action;
        r.sentAtMs = now;
        d.results[id] = r;
        d.resultOrder.push_back(id);
        while (d.resultOrder.size() > kMaxCommandResults) {
            d.results.erase(d.resultOrder.front());
            d.resultOrder.pop_front();
        }
    }
    {
        std::lock_guard lock(d.queueMutex);
        Op op;
        op.kind = Op::Command;
        op.playerId = playerId;
        op.command = wire::Command{id, action};
        d.queue.push_back(std::move(op));
    }
    d.wake();
    return true;
}

std::optional<CommandResult> Hub::commandResult(const std::string& commandId) const {
    std::lock_guard lock(impl_->sharedMutex);
    auto it = impl_->results.find(commandId);
    if (it == impl_->results.end()) return std::nullopt;
    return it->second;
}

void Hub::endSession(const std::string& playerId) {
    auto& d = *impl_;
    {
        std::lock_guard lock(d.sharedMutex);
        d.onlineIds.erase(playerId);
        d.stats.online = d.onlineIds.size();
    }
    {
        std::lock_guard lock(d.queueMutex);
        d.ended.push_back(playerId);
        d.endPending = true;
    }
    if (d.started) d.wake();
}

bool Hub::isOnline(const std::string& playerId) const {
    std::lock_guard lock(impl_->sharedMutex);
    return impl_->onlineIds.count(playerId) > 0;
}

std::size_t Hub::onlineCount() const {
    std::lock_guard lock(impl_->sharedMutex);
    return impl_->onlineIds.size();
}

HubStats Hub::stats() const {
    std::lock_guard lock(impl_->sharedMutex);
    HubStats s = impl_->stats;
    s.sealedBytesOut = impl_->sealedInFlight->load();
    return s;
}

// ---------------------------------------------------------------- keys

Result<CurveKeyPair> makeCurveKeyPair() {
    char pub[41] = {}, sec[41] = {};
    if (zmq_curve_keypair(pub, sec) != 0) return makeError(Errc::Internal, "zmq_curve_keypair failed (no CURVE?)");
    return CurveKeyPair{std::string(pub, 40), std::string(sec, 40)};
}

Result<std::string> curvePublicOf(const std::string& secretZ85) {
    if (secretZ85.size() != 40) return makeError(Errc::BadKey, "a CURVE secret key has 40 Z85 characters");
    char pub[41] = {};
    if (zmq_curve_public(pub, secretZ85.c_str()) != 0) return makeError(Errc::BadKey, "not a Z85 CURVE secret key");
    return std::string(pub, 40);
}

Result<CurveKeyPair> ensureHubCurveKey(const fs::path& keysDir) {
    const fs::path secPath = keysDir / "hub-curve.key";
    const fs::path pubPath = keysDir / "hub-curve.pub";
    if (fs::exists(secPath)) {
        struct stat st {};
        if (::stat(secPath.c_str(), &st) == 0 && (st.st_mode & 077))
            return makeError(Errc::BadKey, secPath.string() + " is readable by group or others; chmod 600 it");
        auto text = crypto::readSmallFile(secPath.string(), 256);
        if (!text) return text.error();
        std::string sec = *text;
        while (!sec.empty() && (sec.back() == '\n' || sec.back() == '\r' || sec.back() == ' ')) sec.pop_back();
        auto pub = curvePublicOf(sec);
        if (!pub) return makeError(Errc::BadKey, secPath.string() + ": " + pub.error().message);
        return CurveKeyPair{*pub, sec};
    }
    auto kp = makeCurveKeyPair();
    if (!kp) return kp.error();
    const fs::path tmp = keysDir / "hub-curve.key.tmp";
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) return makeError(Errc::Io, "cannot write " + tmp.string());
    const std::string line = kp->secretZ85 + "\n";
    bool ok = ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size()) && ::fsync(fd) == 0;
    ::close(fd);
    if (!ok || ::rename(tmp.c_str(), secPath.c_str()) != 0)
        return makeError(Errc::Io, "cannot write " + secPath.string());
    std::ofstream(pubPath) << kp->publicZ85 << "\n";
    return kp;
}

}  // namespace microscape::controller
