#include "fetcher.hpp"

#include <algorithm>
#include <fstream>

namespace microscape::player {

void Fetcher::load(const manifest::Manifest& m) {
    tasks_.clear();
    std::set<std::string> seen;
    for (const auto& e : m.media) {
        if (!seen.insert(e.sha256).second) continue;
        FileTask t;
        t.sha = e.sha256;
        t.size = e.sizeBytes;
        if (cache_.has(e.sha256)) {
            t.done = true;
        } else {
            t.received = cache_.partialSize(e.sha256);
            if (t.received > t.size) {
                cache_.discardPartial(e.sha256);
                t.received = 0;
            }
        }
        t.requested = t.received;
        tasks_.push_back(t);
    }
    inflight_ = 0;
}

void Fetcher::clear() {
    tasks_.clear();
    inflight_ = 0;
}

void Fetcher::pump(const std::function<bool(const wire::Fetch&)>& send, std::int64_t steadyMs) {
    for (auto& t : tasks_) {
        if (inflight_ >= window_) break;
        if (t.done || t.failures >= maxHashFailures_) continue;
        while (inflight_ < window_ && t.requested < t.size) {
            const auto len = static_cast<std::uint32_t>(std::min<std::uint64_t>(chunkBytes_, t.size - t.requested));
            if (!send(wire::Fetch{t.sha, t.requested, len})) return;
            if (inflight_ == 0) lastProgressMs_ = steadyMs;  // the stall timer starts now
            t.requested += len;
            ++inflight_;
        }
    }
}

void Fetcher::resetRequests() {
    for (auto& t : tasks_) t.requested = t.received;
    inflight_ = 0;
}

bool Fetcher::restartIfStalled(std::int64_t steadyMs, std::int64_t limitMs) {
    if (inflight_ <= 0 || steadyMs - lastProgressMs_ <= limitMs) return false;
    resetRequests();
    lastProgressMs_ = steadyMs;
    return true;
}

// Brings t's running hash up to `upTo` bytes from the partial file (after a
// restart the prefix on disk was hashed by an earlier process).
bool Fetcher::catchUpHash(FileTask& t, std::uint64_t upTo) {
    if (!t.hasher) {
        t.hasher = std::make_shared<crypto::Sha256>();
        t.hashed = 0;
    }
    if (t.hashed == upTo) return true;
    if (t.hashed > upTo) {
        t.hasher = std::make_shared<crypto::Sha256>();
        t.hashed = 0;
    }
    std::ifstream in(dataDir_ / "partial" / t.sha, std::ios::binary);
    in.seekg(static_cast<std::streamoff>(t.hashed));
    std::vector<char> buf(1 << 16);
    while (t.hashed < upTo && in) {
        const auto want = static_cast<std::streamsize>(std::min<std::uint64_t>(buf.size(), upTo - t.hashed));
        in.read(buf.data(), want);
        if (in.gcount() <= 0) break;
        t.hasher->update(buf.data(), static_cast<std::size_t>(in.gcount()));
        t.hashed += static_cast<std::uint64_t>(in.gcount());
    }
    return t.hashed == upTo;
}

Fetcher::ChunkResult Fetcher::onChunk(const wire::ChunkView& c, std::int64_t steadyMs) {
    if (inflight_ > 0) --inflight_;
    lastProgressMs_ = steadyMs;
    FileTask* t = nullptr;
    for (auto& x : tasks_)
        if (x.sha == c.sha256 && !x.done) t = &x;
    if (!t) return {};  // not (or no longer) wanted
    if (c.totalBytes != t->size)
        return {Outcome::Refused, "controller says media " + c.sha256 + " has " + std::to_string(c.totalBytes) +
                                      " bytes, manifest " + std::to_string(t->size)};
    if (c.offset != t->received) return {};  // stale or out of order; re-requested on stall
    auto st = cache_.append(c.sha256, c.offset, c.data.data(), c.data.size());
    if (!st) {
        if (st.code() == Errc::Usage) {  // disk and memory disagree: trust the disk
            t->received = t->requested = cache_.partialSize(c.sha256);
            return {};
        }
        t->requested = t->received;
        if (st.code() == Errc::TooLarge || st.error().message.find("no space") != std::string::npos) {
            resetRequests();
            return {Outcome::DiskFull, st.error().message};
        }
        return {Outcome::Refused, st.error().message};
    }
    if (catchUpHash(*t, c.offset)) {
        t->hasher->update(c.data.data(), c.data.size());
        t->hashed += c.data.size();
    } else {
        t->hasher.reset();
    }
    t->received += c.data.size();
    if (t->received < t->size) return {Outcome::Stored, ""};
    return finishFile(*t);
}

Fetcher::ChunkResult Fetcher::finishFile(FileTask& t) {
    std::string digest;
    if (t.hasher && t.hashed == t.size) digest = crypto::toHex(t.hasher->finish());
    t.hasher.reset();
    t.hashed = 0;
    if (auto fin = cache_.finish(t.sha, t.size, digest); !fin) {
        t.failures++;
        t.received = t.requested = cache_.partialSize(t.sha);
        return {t.failures >= maxHashFailures_ ? Outcome::Exhausted : Outcome::HashFailed, fin.error().message};
    }
    t.done = true;
    return {Outcome::MediaDone, ""};
}

void Fetcher::refuse(const std::string& sha) {
    requestLost();
    for (auto& t : tasks_)
        if (t.sha == sha) t.failures = maxHashFailures_;
}

void Fetcher::retryFailed() {
    for (auto& t : tasks_) t.failures = 0;
    resetRequests();
}

bool Fetcher::complete() const {
    return std::all_of(tasks_.begin(), tasks_.end(), [](const FileTask& t) { return t.done; });
}

std::uint64_t Fetcher::bytesNeeded() const {
    std::uint64_t need = 0;
    for (const auto& t : tasks_)
        if (!t.done) need += t.size - t.received;
    return need;
}

std::set<std::string> Fetcher::files() const {
    std::set<std::string> out;
    for (const auto& t : tasks_) out.insert(t.sha);
    return out;
}

void Fetcher::fillStatus(wire::StatusReport& s) const {
    for (const auto& t : tasks_) {
        s.filesTotal++;
        s.bytesTotal += static_cast<std::int64_t>(t.size);
        if (t.done) s.filesDone++;
        s.bytesDone += static_cast<std::int64_t>(t.done ? t.size : t.received);
    }
}

}  // namespace microscape::player
