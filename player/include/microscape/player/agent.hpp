// The player's sync agent (docs/wire-protocol.md): one thread owns the DEALER
// to the controller hub, verifies pushed manifests, fetches missing media in a
// credit window with resume, activates bundles atomically, collects garbage,
// watches an import directory, reports STATUS and answers COMMANDs.
//
// Seam for the playback engine: activeBundle() at any time, an activation
// listener (called on the agent thread after each switch; it must only enqueue
// and return), a screenshot handler (called on the agent thread; it must
// answer promptly), a link listener (called on the agent thread when the link
// comes up or goes down and at each clock sample; it must only enqueue and
// return) and setPlayback() for the "playback" part of STATUS.
// With a proof-of-play journal attached (setJournal), the agent uploads its
// unacknowledged records: one PROOFS in flight at a time, re-sent after a
// reconnect, a new session (a WELCOME to a later HELLO) or a timeout
// (at-least-once; the controller stores each seq once),
// and Journal::acknowledge on PROOFS_ACK.
// Bundle files in the import directory are imported one at a time on a worker
// thread that the agent thread starts, joins and cancels on stop(); it touches
// only the data directory (under its locks) and hands its result back to the
// agent thread, which moves the file to done/ or failed/ and reloads the
// active bundle, so the listener is still called on the agent thread.
// Media the manifest's HTTP mirrors can serve are downloaded on another worker
// thread (MirrorFetcher) that only posts the bytes back to the agent thread,
// which writes, hashes and verifies them as it does the hub's CHUNKs.
// On a CURVE session whose WELCOME offers the bulk channel, a second DEALER
// (same thread) receives the hub's sealed CHUNKs beside the CURVE socket; a
// sealed CHUNK that does not open, or a stall, gives it up for the session.
// start() makes the data directory private (0700).
// All public methods are thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "microscape/core/clock.hpp"
#include "microscape/core/json.hpp"
#include "microscape/core/result.hpp"
#include "microscape/core/wire.hpp"
#include "microscape/player/config.hpp"
#include "microscape/player/sync.hpp"

namespace Poco {
class Logger;
}

namespace microscape::player {

class Journal;

struct AgentOptions {
    const Clock* clock = nullptr;     // wall and steady time; null: the system's (must outlive the agent)
    std::int64_t heartbeatMs = 5000;  // until WELCOME says otherwise
    std::int64_t backoffMinMs = 500;
    // With several controller endpoints: one that has not answered HELLO within
    // this (or three heartbeats, if sooner) is left for the next.
    std::int64_t welcomeTimeoutMs = 5000;
    std::int64_t backoffMaxMs = 30000;
    std::int64_t importScanMs = 5000;
    std::string software = "microscape-player";
    int maxHashFailures = 3;               // per file and manifest, then sync_state = error
    std::size_t proofsBatchRecords = 200;  // records per PROOFS
    std::int64_t proofsTimeoutMs = 10000;  // no PROOFS_ACK this long: send again
    // Media from the manifest's HTTP mirrors (docs/wire-protocol.md, "Media from HTTP mirrors").
    std::int64_t mirrorConnectTimeoutMs = 5000;
    std::int64_t mirrorIdleTimeoutMs = 15000;  // no byte this long: the mirror failed
    std::int64_t mirrorBackoffMs = 300000;     // a mirror that failed a file is not asked for it again this long
};

// The bulk channel's endpoint (docs/wire-protocol.md, "The bulk channel"): the
// host of a hub endpoint "tcp://host:port" (an IPv6 host in brackets) at port;
// nothing when endpoint is not of that form.
std::optional<std::string> bulkEndpointFor(std::string_view endpoint, int port);

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
    // show_head: puts the screen's signed head statement on screen (QR code);
    // called on the agent thread, it must only post. The message answers the command.
    struct HeadShown {
        bool ok = false;
        std::string message;
    };
    using HeadHandler = std::function<HeadShown()>;
    void setHeadHandler(HeadHandler handler);  // before start()
    // connected: WELCOME received and the link alive; clockOffsetMs as clockOffsetMs().
    using LinkListener = std::function<void(bool connected, std::int64_t clockOffsetMs)>;
    void setLinkListener(LinkListener listener);  // before start()
    void setPlayback(json::Object playback);
    // The proof-of-play journal to upload from, and the player's identity key
    // that signs each batch's checkpoint. journal must outlive the agent.
    void setJournal(Journal* journal, crypto::PrivateKey identityKey);  // before start()
    // The controller's clock minus ours (ms), smoothed; 0 until first heard.
    std::int64_t clockOffsetMs() const;

    std::optional<ActivatedBundle> activeBundle() const;
    wire::StatusReport status() const;
    bool connected() const;  // WELCOME received and the link is alive

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace microscape::player
