// The distribution hub (docs/wire-protocol.md): one thread owns the ROUTER that
// players' DEALERs connect to, the ZAP handler that admits only enrolled CURVE
// keys, and every peer's session state. Other threads talk to it only through
// the thread-safe methods below, which enqueue and wake it (eventfd).
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "microscape/core/clock.hpp"
#include "microscape/core/result.hpp"
#include "microscape/core/wire.hpp"

namespace Poco {
class Logger;
}

namespace microscape::controller {

struct HubConfig {
    std::string bind = "0.0.0.0";  // address part of tcp://bind:port
    int port = 5560;               // 0 picks a free port (tests)
    bool curve = true;             // CURVE + ZAP; off only for benchmarks on trusted links
    std::string curveSecretZ85;    // 40 chars; required when curve
    std::int64_t heartbeatMs = 5000;
    std::uint32_t maxChunkBytes = wire::kDefaultChunkBytes;
    std::uint32_t maxWindow = wire::kDefaultWindow;
    int sndHwm = 10000;  // messages queued per peer before sends are dropped
    int ioThreads = 2;   // libzmq I/O threads (one per core of the controller's usual 2)
    // The bulk channel for CURVE sessions (docs/wire-protocol.md): a second
    // ROUTER on bind:bulkPort carrying CHUNK data sealed with AES-256-GCM.
    // -1: none (every CHUNK on the CURVE socket); 0: any free port.
    int bulkPort = -1;
    // bulkPort was derived (zmq.port + 1), not configured: if it is taken the
    // channel listens on any free port instead (WELCOME names the port).
    bool bulkPortAnyIfTaken = false;
    // Sealed CHUNK bytes the hub holds for the bulk channel at once, across
    // all sessions (each is a heap copy until libzmq has written it out).
    // FETCHes beyond it wait their turn, in arrival order.
    std::size_t sealedBudgetBytes = 256u << 20;
    // PROOFS batches a player may send per minute (a token bucket holding a
    // minute's worth); beyond it a batch is answered ERROR rate_limited and not
    // acknowledged, so the player keeps it and sends it again. 0: no limit.
    int proofsPerMinute = 120;
    // Ingest pauses while the data directory has less free space than this
    // (HubBackend::freeDiskBytes): PROOFS are answered ERROR ingest_paused and
    // not acknowledged, so players keep their journals. 0: no guard.
    std::uint64_t minFreeDiskBytes = 0;
    // Steady time for heartbeats, rate limits and sweeps; wall time for command
    // ids and their sentAt. Must outlive the hub. (Socket waits stay real: the
    // hub thread sleeps in zmq_poll at most a heartbeat tick at a time.)
    const Clock* clock = &systemClock();
};

// A compiled, signed manifest as the hub pushes it.
struct HubManifest {
    std::string playerId;
    std::int64_t version = 0;
    std::string manifestBytes;
    std::string signature;
};

// What the hub needs from the rest of the controller. Every method but
// storeProofs is called on the hub thread only; none may call back into the Hub.
class HubBackend {
  public:
    virtual ~HubBackend() = default;
    // The enrolled, active player that owns this CURVE public key (Z85), if any.
    virtual std::optional<std::string> playerForCurveKey(const std::string& z85) = 0;
    // The player's current manifest (compiling one if needed); nullopt if none.
    virtual std::optional<HubManifest> currentManifest(const std::string& playerId) = 0;
    // Where a media file is stored (empty if unknown).
    virtual std::string mediaPath(const std::string& sha256) = 0;
    struct Seen {
        std::string playerId;
        std::int64_t lastSeenMs = 0;
        std::string statusJson;  // empty: unchanged
    };
    // Persists liveness and the latest STATUS, batched.
    virtual void storeSeen(const std::vector<Seen>& seen) = 0;
    // Proof-of-play batches; returns the highest durably stored seq, or nullopt to
    // send no acknowledgement (not supported / not stored). Called on the hub's
    // two ingest worker threads, concurrently with each other (never for the same
    // player at once; a player's batches in arrival order) and with the other
    // methods on the hub thread; the ack is sent after it returns.
    virtual std::optional<std::int64_t> storeProofs(const std::string& playerId, const wire::Proofs& proofs) {
        (void)playerId;
        (void)proofs;
        return std::nullopt;
    }
    virtual std::int64_t nowMs() = 0;  // UTC ms
    // Whether the player may still hold a session (enrolled, not retired); asked
    // at each HELLO.
    virtual bool playerActive(const std::string& playerId) {
        (void)playerId;
        return true;
    }
    // Free bytes where proofs are stored; nullopt if unknown (no disk guard).
    // Asked about once a second on the hub thread.
    virtual std::optional<std::uint64_t> freeDiskBytes() { return std::nullopt; }
};

struct HubStats {
    std::uint64_t received = 0;
    std::uint64_t dropped = 0;  // malformed, unknown type, before HELLO, spoofed id
    std::uint64_t chunksSent = 0;
    std::uint64_t bytesSent = 0;     // CHUNK payload bytes
    std::uint64_t bytesSealed = 0;   // of which sent sealed on the bulk channel
    std::uint64_t chunksWaited = 0;  // sealed CHUNKs that waited for the hub's sealed budget
    std::size_t sealedBytesOut = 0;  // sealed bytes made and not yet written out (now)
    std::uint64_t manifestsSent = 0;
    std::uint64_t sendFailures = 0;  // unroutable or queue full
    std::uint64_t zapDenied = 0;
    std::uint64_t connectionsClosed = 0;  // closed by the hub: wrong routing id, silent, retired
    std::uint64_t proofsRateLimited = 0;  // PROOFS answered rate_limited
    std::uint64_t proofsPaused = 0;       // PROOFS answered ingest_paused (disk guard)
    bool ingestPaused = false;            // the disk guard holds ingest now
    std::size_t online = 0;
};

// A command to one player and its answer. Unanswered, it is sent again with the
// same id whenever the player says HELLO (a link that dropped lost it, or its
// answer); still unanswered kCommandAnswerMs after it was sent, it has failed.
struct CommandResult {
    std::string id;
    std::string playerId;
    wire::CommandAction action = wire::CommandAction::Reload;
    std::int64_t sentAtMs = 0;
    std::optional<std::int64_t> ackedAtMs;
    bool ok = false;
    std::string message;
    std::string payload;  // e.g. screenshot PNG
};

inline constexpr std::int64_t kCommandAnswerMs = 60'000;

class Hub {
  public:
    Hub(HubConfig config, HubBackend& backend, Poco::Logger& log);
    ~Hub();  // stops
    Hub(const Hub&) = delete;
    Hub& operator=(const Hub&) = delete;

    // Binds and starts the hub thread; returns once it is serving.
    // Errors: Usage (bad key, address in use), Internal.
    Status start();
    void stop();  // idempotent; joins the thread
    std::uint16_t port() const;
    // The bulk channel's port, 0 when there is none.
    std::uint16_t bulkPort() const;

    // Thread-safe; enqueue and return.
    void publish(HubManifest m);
    // Queues a command for an online player; returns its id, or nullopt if offline.
    std::optional<std::string> sendCommand(const std::string& playerId, wire::CommandAction action);
    // A new command id, unique across the nodes of a deployment.
    std::string newCommandId();
    // Queues a command with an id made elsewhere (another node); false if the
    // player is not connected to this hub.
    bool deliverCommand(const std::string& id, const std::string& playerId, wire::CommandAction action);
    // Called on the hub thread with each command's answer, or its failure after
    // kCommandAnswerMs (several nodes store it for the others). Set before start().
    void setCommandListener(std::function<void(const CommandResult&)> listener);
    std::optional<CommandResult> commandResult(const std::string& commandId) const;
    // Ends the player's session at once (it is offline from this call on, its
    // connection is closed and its messages are refused until a HELLO that
    // HubBackend::playerActive admits); used when a player is retired.
    void endSession(const std::string& playerId);
    bool isOnline(const std::string& playerId) const;
    std::size_t onlineCount() const;
    HubStats stats() const;

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// The hub's CURVE key pair in keysDir (hub-curve.key, mode 0600, holds the Z85
// secret; hub-curve.pub the Z85 public key), made on first use.
struct CurveKeyPair {
    std::string publicZ85;
    std::string secretZ85;
};
Result<CurveKeyPair> ensureHubCurveKey(const std::filesystem::path& keysDir);
Result<CurveKeyPair> makeCurveKeyPair();
// Z85 public key of a Z85 secret key. Errors: BadKey.
Result<std::string> curvePublicOf(const std::string& secretZ85);

}  // namespace microscape::controller
