// Test support: a simulated player journal that makes signed PROOFS batches
// (docs/proof-of-play.md), for the ingest, report and export tests and benches.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "microscape/core/crypto.hpp"
#include "microscape/core/pop.hpp"

namespace microscape::testing {

struct SimPlayer {
    std::string id;
    std::shared_ptr<const microscape::crypto::PrivateKey> key = newKey();
    std::vector<microscape::pop::Record> records;  // the whole chain, seq 1..n
    std::int64_t sent = 0;                         // records already put in a batch

    static std::shared_ptr<const microscape::crypto::PrivateKey> newKey() {
        return std::make_shared<const microscape::crypto::PrivateKey>(
            microscape::crypto::PrivateKey::generate().value());
    }
    std::string publicPem() const { return key->publicKey().toPem(); }

    // Appends a play: completed when measured is within 500 ms of scheduled.
    microscape::pop::Record& play(const std::string& media, std::int64_t startMs, std::int64_t scheduledMs,
                                  std::int64_t measuredMs, const std::string& campaign = "cmp-1",
                                  const std::string& playlist = "pl-1") {
        namespace pop = microscape::pop;
        pop::Record r;
        r.playerId = id;
        r.seq = static_cast<std::int64_t>(records.size()) + 1;
        r.prevHash = records.empty() ? std::string(pop::kGenesisHash) : pop::recordHash(records.back());
        r.kind = pop::Kind::Play;
        r.bundleVersion = 1;
        r.mediaSha256 = media;
        r.playlistId = playlist;
        r.scheduleId = "sch-1";
        r.source = "entry";
        r.campaignId = campaign;
        r.startUtcMs = startMs;
        r.endUtcMs = startMs + measuredMs;
        r.scheduledMs = scheduledMs;
        r.measuredMs = measuredMs;
        r.outcome = measuredMs == 0 ? pop::Outcome::Failed : pop::classify(scheduledMs, measuredMs);
        if (r.outcome == pop::Outcome::Failed) r.detail = "decode error";
        records.push_back(r);
        return records.back();
    }

    // A batch over records [fromSeq, toSeq] (1-based, inclusive), signed.
    std::string batch(std::int64_t fromSeq, std::int64_t toSeq, std::int64_t createdMs = 1776211200000) const {
        namespace pop = microscape::pop;
        pop::Batch b;
        b.records.assign(records.begin() + (fromSeq - 1), records.begin() + toSeq);
        b.checkpoint = pop::makeCheckpoint(b.records, createdMs, *key);
        return pop::encodeBatch(b);
    }
    // The next batch of everything not yet sent.
    std::string next() {
        auto from = sent + 1;
        sent = static_cast<std::int64_t>(records.size());
        return batch(from, sent);
    }
};

}  // namespace microscape::testing
