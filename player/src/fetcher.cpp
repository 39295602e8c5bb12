#include "fetcher.hpp"

#include <algorithm>
#include <fstream>

namespace microscape::player {

void Fetcher::load(const manifest::Manifest& m) {
    tasks_.clear();
    hasMirrors_ = !m.mirrors.empty();
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
        t.via = hasMirrors_ ? FileTask::Via::Mirror : FileTask::Via::Hub;
        tasks_.push_back(t);
    }
    inflight_ = 0;
    early_.clear();
}

void Fetcher::clear() {
    tasks_.clear();
    inflight_ = 0;
    early_.clear();
}

void Fetcher::pump(const std::function<bool(const wire::Fetch&)>& send, std::int64_t steadyMs) {
    for (auto& t : tasks_) {
        if (inflight_ >= window_) break;
        if (t.done || t.failures >= maxHashFailures_ || t.via != FileTask::Via::Hub) continue;
        while (inflight_ < window_ && t.requested < t.size) {
            const auto len = static_cast<std::uint32_t>(std::min<std::uint64_t>(chunkBytes_, t.size - t.requested));
            if (!send(wire::Fetch{t.sha, t.requested, len, bulk_})) return;
            if (inflight_ == 0) lastProgressMs_ = steadyMs;  // the stall timer starts now
            t.requested += len;
            ++inflight_;
        }
    }
}

void Fetcher::resetRequests() {
    for (auto& t : tasks_) t.requested = t.received;
    inflight_ = 0;
    early_.clear();
}

bool Fetcher::outstanding() const {
    return std::any_of(tasks_.begin(), tasks_.end(), [this](const FileTask& t) {
        return !t.done && t.via == FileTask::Via::Hub && t.failures < maxHashFailures_ && t.requested > t.received;
    });
}

bool Fetcher::restartIfStalled(std::int64_t steadyMs, std::int64_t limitMs) {
    if (steadyMs - lastProgressMs_ <= limitMs || (inflight_ <= 0 && !outstanding())) return false;
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
    FileTask* t = nullptr;
    for (auto& x : tasks_)
        if (x.sha == c.sha256 && !x.done) t = &x;
    if (!t || t->via != FileTask::Via::Hub) return {};  // not (or no longer) wanted from the hub
    if (c.totalBytes != t->size)
        return {Outcome::Refused,
                "controller says media " + c.sha256 + " has " + std::to_string(c.totalBytes) + " bytes, manifest " +
                    std::to_string(t->size),
                {}};
    if (c.offset != t->received) {
        // Asked for and ahead of the disk: it waits for its turn. Anything else
        // is stale (or beyond what memory allows) and asked for again on a stall.
        if (c.offset > t->received && c.offset < t->requested && early_.size() < static_cast<std::size_t>(window_))
            early_.emplace(std::pair(c.sha256, c.offset), std::string(c.data));
        return {};
    }
    lastProgressMs_ = steadyMs;
    auto r = storeFromHub(*t, c.offset, c.data);
    while (r.outcome == Outcome::Stored) {  // the CHUNKs that waited for this one
        auto it = early_.find(std::pair(t->sha, t->received));
        if (it == early_.end()) break;
        const std::string data = std::move(it->second);
        early_.erase(it);
        r = storeFromHub(*t, t->received, data);
    }
    // Duplicates behind the disk, and all that waited for a file now complete,
    // failed or refused, are of no use.
    const bool keep = r.outcome == Outcome::Stored;
    std::erase_if(early_, [t, keep](const auto& e) {
        return e.first.first == t->sha && (!keep || e.first.second < t->received);
    });
    return r;
}

Fetcher::ChunkResult Fetcher::storeFromHub(FileTask& t, std::uint64_t offset, std::string_view data) {
    auto r = store(t, offset, data);
    if (r.outcome != Outcome::Ignored && r.outcome != Outcome::Refused && r.outcome != Outcome::DiskFull)
        bytesFromHub_ += static_cast<std::int64_t>(data.size());
    return r;
}

Fetcher::ChunkResult Fetcher::onMirrorData(const std::string& sha, const std::string& mirror, std::uint64_t offset,
                                           std::string_view data, std::int64_t steadyMs) {
    FileTask* t = nullptr;
    for (auto& x : tasks_)
        if (x.sha == sha && !x.done) t = &x;
    if (!t || t->via != FileTask::Via::MirrorActive) return {Outcome::Refused, "media " + sha + " is not wanted", {}};
    if (offset != t->received || offset + data.size() > t->size)
        return {Outcome::Refused,
                "mirror " + mirror + " sent bytes at " + std::to_string(offset) + " of media " + sha + ", " +
                    std::to_string(t->received) + " are on disk",
                {}};
    lastProgressMs_ = steadyMs;
    t->mirrorsUsed.insert(mirror);
    auto r = store(*t, offset, data);
    if (r.outcome != Outcome::Ignored && r.outcome != Outcome::Refused && r.outcome != Outcome::DiskFull)
        bytesFromMirrors_ += static_cast<std::int64_t>(data.size());
    return r;
}

Fetcher::ChunkResult Fetcher::store(FileTask& t, std::uint64_t offset, std::string_view data) {
    auto st = cache_.append(t.sha, offset, data.data(), data.size());
    if (!st) {
        if (st.code() == Errc::Usage) {  // disk and memory disagree: trust the disk
            t.received = t.requested = cache_.partialSize(t.sha);
            return {};
        }
        t.requested = t.received;
        if (st.code() == Errc::TooLarge || st.error().message.find("no space") != std::string::npos) {
            resetRequests();
            return {Outcome::DiskFull, st.error().message, {}};
        }
        return {Outcome::Refused, st.error().message, {}};
    }
    if (catchUpHash(t, offset)) {
        t.hasher->update(data.data(), data.size());
        t.hashed += data.size();
    } else {
        t.hasher.reset();
    }
    t.received += data.size();
    if (t.requested < t.received) t.requested = t.received;
    if (t.received < t.size) return {Outcome::Stored, "", {}};
    return finishFile(t);
}

std::optional<Fetcher::MirrorCandidate> Fetcher::nextForMirror() const {
    for (const auto& t : tasks_)
        if (!t.done && t.via == FileTask::Via::Mirror && t.failures < maxHashFailures_)
            return MirrorCandidate{t.sha, t.size, t.received};
    return std::nullopt;
}

void Fetcher::mirrorStarted(const std::string& sha) {
    for (auto& t : tasks_)
        if (t.sha == sha && !t.done) t.via = FileTask::Via::MirrorActive;
}

void Fetcher::mirrorEnded(const std::string& sha, bool toHub) {
    for (auto& t : tasks_)
        if (t.sha == sha && !t.done) {
            t.via = toHub ? FileTask::Via::Hub : FileTask::Via::Mirror;
            t.requested = t.received;
        }
}

bool Fetcher::mirrorActive() const {
    return std::any_of(tasks_.begin(), tasks_.end(),
                       [](const FileTask& t) { return !t.done && t.via == FileTask::Via::MirrorActive; });
}

Fetcher::ChunkResult Fetcher::finishFile(FileTask& t) {
    std::string digest;
    if (t.hasher && t.hashed == t.size) digest = crypto::toHex(t.hasher->finish());
    t.hasher.reset();
    t.hashed = 0;
    std::vector<std::string> suspects(t.mirrorsUsed.begin(), t.mirrorsUsed.end());
    if (auto fin = cache_.finish(t.sha, t.size, digest); !fin) {
        // Bytes from a mirror are its fault, not the hub's: they do not count
        // towards giving the file up (the agent stops asking those mirrors).
        if (suspects.empty()) t.failures++;
        t.mirrorsUsed.clear();
        t.received = t.requested = cache_.partialSize(t.sha);
        return {t.failures >= maxHashFailures_ ? Outcome::Exhausted : Outcome::HashFailed, fin.error().message,
                std::move(suspects)};
    }
    t.mirrorsUsed.clear();
    t.done = true;
    return {Outcome::MediaDone, "", {}};
}

void Fetcher::refuse(const std::string& sha) {
    requestLost();
    for (auto& t : tasks_)
        if (t.sha == sha) t.failures = maxHashFailures_;
    std::erase_if(early_, [&sha](const auto& e) { return e.first.first == sha; });
}

void Fetcher::retryFailed() {
    for (auto& t : tasks_) {
        t.failures = 0;
        if (hasMirrors_ && t.via == FileTask::Via::Hub) t.via = FileTask::Via::Mirror;
    }
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
    s.mediaBytesMirror = bytesFromMirrors_;
    s.mediaBytesHub = bytesFromHub_;
}

}  // namespace microscape::player
