#include "proof_uploader.hpp"

#include <Poco/Logger.h>

#include <algorithm>

#include "microscape/core/pop.hpp"
#include "microscape/player/journal.hpp"

namespace microscape::player {

ProofUploader::ProofUploader(std::string playerId, const AgentOptions& options, Poco::Logger& log, Send send,
                             ErrorSink onError)
    : playerId_(std::move(playerId)),
      options_(options),
      log_(log),
      send_(std::move(send)),
      onError_(std::move(onError)) {}

void ProofUploader::attach(Journal* journal, crypto::PrivateKey identityKey) {
    journal_ = journal;
    identityKey_.emplace(std::move(identityKey));
}

void ProofUploader::pump(bool linkReady, std::int64_t steadyMs, std::int64_t wallMs) {
    if (!journal_ || !identityKey_ || !linkReady) return;
    if (inFlight_) {
        if (steadyMs - sentMs_ < options_.proofsTimeoutMs) return;
        log_.information("player %s: no PROOFS_ACK for seq %Ld within %Ld ms; sending again", playerId_, lastSeq_,
                         steadyMs - sentMs_);
        inFlight_ = false;
    }
    if (journal_->status().unacked <= 0) return;
    const std::size_t maxRecords = std::clamp<std::size_t>(options_.proofsBatchRecords, 1, pop::kMaxBatchRecords);
    auto batch = journal_->nextBatch(maxRecords, *identityKey_, wallMs);
    if (!batch) {
        onError_("proof-of-play batch: " + batch.error().str());
        sentMs_ = steadyMs;
        inFlight_ = true;  // try again after the timeout, not in a tight loop
        return;
    }
    if (!*batch || (*batch)->records.empty()) return;
    wire::Proofs p;
    p.firstSeq = (*batch)->records.front().seq;
    p.lastSeq = (*batch)->records.back().seq;
    p.body = pop::encodeBatch(**batch);
    if (!send_(wire::toEnvelope(p))) return;  // the socket is full or gone; next turn
    inFlight_ = true;
    sentMs_ = steadyMs;
    lastSeq_ = p.lastSeq;
    log_.debug("player %s: PROOFS %Ld..%Ld sent (%z bytes)", playerId_, p.firstSeq, p.lastSeq, p.body.size());
}

void ProofUploader::onAck(const wire::ProofsAck& a, bool linkReady, std::int64_t steadyMs, std::int64_t wallMs) {
    if (!journal_) return;
    if (a.seq > 0) {
        if (auto st = journal_->acknowledge(a.seq); !st) {
            onError_("PROOFS_ACK for seq " + std::to_string(a.seq) + ": " + st.error().str());
            return;
        }
    }
    log_.debug("player %s: PROOFS_ACK seq %Ld", playerId_, a.seq);
    // A late ack of an earlier batch leaves the current one waiting; an ack
    // short of the batch means the rest was not stored: resend after the timeout.
    if (inFlight_ && a.seq >= lastSeq_) {
        inFlight_ = false;
        pump(linkReady, steadyMs, wallMs);
    }
}

void ProofUploader::newSession(std::int64_t helloSentMs) {
    // When ZeroMQ re-established the connection by itself (the controller
    // restarted within the heartbeat timeout, and asked for HELLO), a PROOFS
    // sent before our HELLO was dropped with the old session: send it again now
    // instead of after proofsTimeoutMs. The controller stores each seq once, so
    // a needless re-send costs nothing.
    if (inFlight_ && sentMs_ <= helloSentMs) {
        log_.information("player %s: PROOFS up to seq %Ld went out before this session; sending again", playerId_,
                         lastSeq_);
        inFlight_ = false;
    }
}

}  // namespace microscape::player
