// The proof-of-play uploader of the sync agent: one PROOFS in flight at a time
// (the oldest unacknowledged journal records with a signed checkpoint), sent
// again after a reconnect, a new session or proofsTimeoutMs without an ack, and
// Journal::acknowledge on PROOFS_ACK (at-least-once; the controller stores each
// seq once). Agent thread only. Errors (a batch that cannot be made, an ack the
// journal refuses) go to the error sink; the upload is retried after the timeout.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "microscape/core/crypto.hpp"
#include "microscape/core/wire.hpp"
#include "microscape/player/agent.hpp"

namespace microscape::player {

class ProofUploader {
  public:
    using Send = std::function<bool(const wire::Envelope&)>;  // false: not sent (socket full or gone)
    using ErrorSink = std::function<void(const std::string&)>;

    ProofUploader(std::string playerId, const AgentOptions& options, Poco::Logger& log, Send send, ErrorSink onError);

    void attach(Journal* journal, crypto::PrivateKey identityKey);  // before the agent thread starts

    // Sends the next batch when none is in flight (or the one in flight timed
    // out); only while the link is ready.
    void pump(bool linkReady, std::int64_t steadyMs, std::int64_t wallMs);
    void onAck(const wire::ProofsAck& a, bool linkReady, std::int64_t steadyMs, std::int64_t wallMs);
    // The link went down or was made again: nothing is in flight any more.
    void linkReset() { inFlight_ = false; }
    // A WELCOME answered the HELLO sent at helloSentMs: a batch sent before it
    // was dropped with the old session, so it goes again now.
    void newSession(std::int64_t helloSentMs);

  private:
    std::string playerId_;
    const AgentOptions& options_;
    Poco::Logger& log_;
    Send send_;
    ErrorSink onError_;
    Journal* journal_ = nullptr;
    std::optional<crypto::PrivateKey> identityKey_;
    bool inFlight_ = false;
    std::int64_t sentMs_ = 0;   // steady ms of the batch in flight
    std::int64_t lastSeq_ = 0;  // its last seq
};

}  // namespace microscape::player
