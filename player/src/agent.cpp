#include "microscape/player/agent.hpp"

#include "microscape/core/pop.hpp"
#include "microscape/pack/file_io.hpp"
#include "microscape/player/journal.hpp"

#include <Poco/Logger.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <deque>
#include <fstream>
#include <map>
#include <mutex>
#include <random>
#include <thread>
#include <zmq.hpp>
#include <zmq_addon.hpp>

namespace microscape::player {

namespace fs = std::filesystem;

namespace {

constexpr int kMissedBeats = 3;
constexpr int kStatusEveryBeats = 12;
constexpr std::int64_t kSkewLimitMs = 30'000;

struct FileTask {
    std::shared_ptr<crypto::Sha256> hasher;  // over [0, hashed)
    std::uint64_t hashed = 0;
    std::string sha;
    std::uint64_t size = 0;
    std::uint64_t received = 0;   // bytes on disk in partial/
    std::uint64_t requested = 0;  // bytes asked for so far
    int failures = 0;
    bool done = false;
};

}  // namespace

struct SyncAgent::Impl {
    PlayerConfig config;
    AgentOptions options;
    Poco::Logger& log;
    const Clock& clock;
    const std::int64_t startedSteady = steadyMs();

    // Shared with other threads.
    mutable std::mutex mutex;  // guards active, statusShared, playback, isConnected
    std::optional<ActivatedBundle> active;
    wire::StatusReport statusShared;
    json::Object playback;
    bool isConnected = false;
    ActivationListener onActivated;
    ScreenshotHandler onScreenshot;
    // The last answers to commands that act (reload, clear cache), by id: the hub
    // sends an unanswered command again after a reconnect, and a repeat is
    // answered from here instead of acting twice. (A screenshot is simply taken again.)
    std::deque<wire::CommandAck> answered;
    static constexpr std::size_t kAnsweredKept = 32;
    LinkListener onLink;
    std::atomic<bool> stopping{false};
    std::thread thread;
    int wakeFd = -1;
    bool started = false;

    // Agent thread only.
    zmq::context_t ctx{1};
    std::optional<zmq::socket_t> sock;
    enum class Link { Down, HelloSent, Ready } link = Link::Down;
    std::int64_t lastRecvMs = 0, lastSentMs = 0, nextConnectMs = 0, backoffMs = 0, linkSinceMs = 0;
    std::int64_t heartbeatMs;
    std::uint32_t chunkBytes;
    int window;
    int inflight = 0;
    std::int64_t lastProgressMs = 0;
    int beatsSinceStatus = 0;
    std::int64_t lastImportScanMs = 0;
    std::int64_t lastDiskCheckMs = 0;
    std::mt19937 rng{std::random_device{}()};

    BundleStore store;
    Cache cache;
    std::optional<SignedManifest> staged;
    std::vector<FileTask> tasks;
    wire::SyncState syncState = wire::SyncState::Idle;
    std::string lastError;
    std::int64_t clockOffsetMs = 0;
    bool haveOffset = false;
    std::atomic<std::int64_t> sharedOffsetMs{0};

    // Proof-of-play upload (agent thread only after start()).
    Journal* journal = nullptr;
    std::optional<crypto::PrivateKey> identityKey;
    bool proofsInFlight = false;
    std::int64_t proofsSentMs = 0;
    std::int64_t proofsLastSeq = 0;
    std::int64_t helloSentMs = 0;  // steady ms of the last HELLO (a WELCOME answers it)

    // Import worker: one bundle file at a time is imported on its own thread
    // (a copy may take minutes), with its own BundleStore and Cache; it posts
    // its result to importDone and wakes the agent thread, which finishes up.
    std::thread importThread;  // started and joined by the agent thread
    std::atomic<bool> importCancel{false};
    std::mutex importMutex;  // guards importDone
    std::optional<std::pair<fs::path, Result<ImportResult>>> importDone;
    fs::path importing;  // agent thread only: the file being imported, or empty

    Impl(PlayerConfig c, AgentOptions o, Poco::Logger& l)
        : config(std::move(c)),
          options(std::move(o)),
          log(l),
          clock(options.clock ? *options.clock : systemClock()),
          heartbeatMs(options.heartbeatMs),
          chunkBytes(config.chunkBytes),
          window(config.window),
          store(config.dataDir, config.contentKeys, config.playerId),
          cache(config.dataDir, config.quotaBytes) {
        backoffMs = options.backoffMinMs;
    }

    std::int64_t now() const { return clock.wallMs(); }
    std::int64_t steadyMs() const { return clock.steadyMs(); }
    void notifyLink(bool connected) {
        if (onLink) onLink(connected, clockOffsetMs);
    }

    // ------------------------------------------------------------ status
    void setError(const std::string& msg) {
        lastError = msg;
        log.warning("player %s: %s", config.playerId, msg);
    }

    wire::StatusReport buildStatus() {
        wire::StatusReport s;
        {
            std::lock_guard lock(mutex);
            if (active) {
                s.activeVersion = active->manifest.version;
                s.bundleId = active->manifest.bundleId;
            }
            s.playback = playback;
        }
        s.stagedVersion = staged ? staged->manifest.version : 0;
        s.syncState = syncState;
        for (const auto& t : tasks) {
            s.filesTotal++;
            s.bytesTotal += static_cast<std::int64_t>(t.size);
            if (t.done) s.filesDone++;
            s.bytesDone += static_cast<std::int64_t>(t.done ? t.size : t.received);
        }
        s.diskFreeBytes = static_cast<std::int64_t>(cache.availableBytes());
        s.uptimeS = (steadyMs() - startedSteady) / 1000;
        s.software = options.software;
        s.lastError = lastError.substr(0, wire::kMaxTextBytes);
        s.clockOffsetMs = clockOffsetMs;
        s.clockSkewed = haveOffset && std::llabs(clockOffsetMs) > kSkewLimitMs;
        return s;
    }

    void publishStatus(bool send) {
        auto s = buildStatus();
        {
            std::lock_guard lock(mutex);
            statusShared = s;
        }
        if (send && link == Link::Ready) {
            sendMsg(wire::toEnvelope(s));
            beatsSinceStatus = 0;
        }
    }

    // ------------------------------------------------------------ link
    bool sendMsg(const wire::Envelope& e) {
        if (!sock) return false;
        auto frames = wire::encode(e);
        try {
            for (std::size_t i = 0; i < frames.size(); ++i) {
                auto flags = zmq::send_flags::dontwait;
                if (i + 1 < frames.size()) flags = flags | zmq::send_flags::sndmore;
                if (!sock->send(zmq::buffer(frames[i]), flags)) return false;
            }
        } catch (const zmq::error_t& e) {
            log.warning("player %s: send failed: %s", config.playerId, std::string(e.what()));
            return false;
        }
        lastSentMs = steadyMs();
        return true;
    }

    void sendHello() {
        wire::Hello h;
        h.playerId = config.playerId;
        h.software = options.software;
        {
            std::lock_guard lock(mutex);
            if (active) {
                h.activeVersion = active->manifest.version;
                h.activeBundleId = active->manifest.bundleId;
            }
        }
        h.stagedVersion = staged ? staged->manifest.version : 0;
        sendMsg(wire::toEnvelope(h));
        link = Link::HelloSent;
        helloSentMs = steadyMs();
    }

    void connect() {
        sock.reset();
        try {
            sock.emplace(ctx, zmq::socket_type::dealer);
            auto& s = *sock;
            s.set(zmq::sockopt::linger, 0);
            s.set(zmq::sockopt::routing_id, config.playerId);
            s.set(zmq::sockopt::maxmsgsize, wire::kMaxFrameBytes);
            s.set(zmq::sockopt::reconnect_ivl, 200);
            s.set(zmq::sockopt::reconnect_ivl_max, 5000);
            s.set(zmq::sockopt::sndhwm, 1000);
            if (config.curve) {
                s.set(zmq::sockopt::curve_serverkey, config.serverCurveKey);
                s.set(zmq::sockopt::curve_publickey, config.curvePublicKey);
                s.set(zmq::sockopt::curve_secretkey, config.curveSecretKey);
            }
            s.connect(config.endpoint);
        } catch (const zmq::error_t& e) {
            setError("cannot connect to " + config.endpoint + ": " + e.what());
            sock.reset();
            scheduleReconnect();
            return;
        }
        linkSinceMs = lastRecvMs = steadyMs();
        inflight = 0;
        proofsInFlight = false;
        resetRequests();
        sendHello();
    }

    void scheduleReconnect() {
        std::uniform_real_distribution<double> jitter(0.75, 1.25);
        nextConnectMs = steadyMs() + static_cast<std::int64_t>(static_cast<double>(backoffMs) * jitter(rng));
        backoffMs = std::min(backoffMs * 2, options.backoffMaxMs);
    }

    void linkLost(const std::string& why) {
        if (link == Link::Ready) log.warning("player %s: link to %s lost: %s", config.playerId, config.endpoint, why);
        sock.reset();
        link = Link::Down;
        {
            std::lock_guard lock(mutex);
            isConnected = false;
        }
        notifyLink(false);
        inflight = 0;
        proofsInFlight = false;
        resetRequests();
        scheduleReconnect();
    }

    // ------------------------------------------------------------ proof of play
    // One PROOFS in flight: the oldest unacknowledged records with a signed
    // checkpoint. Sent again after a reconnect or when no ack came in time.
    void pumpProofs() {
        if (!journal || !identityKey || link != Link::Ready) return;
        const auto t = steadyMs();
        if (proofsInFlight) {
            if (t - proofsSentMs < options.proofsTimeoutMs) return;
            log.information("player %s: no PROOFS_ACK for seq %Ld within %Ld ms; sending again", config.playerId,
                            proofsLastSeq, t - proofsSentMs);
            proofsInFlight = false;
        }
        if (journal->status().unacked <= 0) return;
        const std::size_t maxRecords = std::clamp<std::size_t>(options.proofsBatchRecords, 1, pop::kMaxBatchRecords);
        auto batch = journal->nextBatch(maxRecords, *identityKey, now());
        if (!batch) {
            setError("proof-of-play batch: " + batch.error().str());
            proofsSentMs = t;
            proofsInFlight = true;  // try again after the timeout, not in a tight loop
            return;
        }
        if (!*batch || (*batch)->records.empty()) return;
        wire::Proofs p;
        p.firstSeq = (*batch)->records.front().seq;
        p.lastSeq = (*batch)->records.back().seq;
        p.body = pop::encodeBatch(**batch);
        if (!sendMsg(wire::toEnvelope(p))) return;  // the socket is full or gone; next turn
        proofsInFlight = true;
        proofsSentMs = t;
        proofsLastSeq = p.lastSeq;
        log.debug("player %s: PROOFS %Ld..%Ld sent (%z bytes)", config.playerId, p.firstSeq, p.lastSeq, p.body.size());
    }

    void onProofsAck(const wire::ProofsAck& a) {
        if (!journal) return;
        if (a.seq > 0) {
            if (auto st = journal->acknowledge(a.seq); !st) {
                setError("PROOFS_ACK for seq " + std::to_string(a.seq) + ": " + st.error().str());
                return;
            }
        }
        log.debug("player %s: PROOFS_ACK seq %Ld", config.playerId, a.seq);
        // A late ack of an earlier batch leaves the current one waiting; an ack
        // short of the batch means the rest was not stored: resend after the timeout.
        if (proofsInFlight && a.seq >= proofsLastSeq) {
            proofsInFlight = false;
            pumpProofs();
        }
    }

    // ------------------------------------------------------------ fetching
    void resetRequests() {
        for (auto& t : tasks) t.requested = t.received;
        inflight = 0;
    }

    void loadStaged(SignedManifest m) {
        staged = std::move(m);
        tasks.clear();
        std::set<std::string> seen;
        for (const auto& e : staged->manifest.media) {
            if (!seen.insert(e.sha256).second) continue;
            FileTask t;
            t.sha = e.sha256;
            t.size = e.sizeBytes;
            if (cache.has(e.sha256)) {
                t.done = true;
            } else {
                t.received = cache.partialSize(e.sha256);
                if (t.received > t.size) {
                    cache.discardPartial(e.sha256);
                    t.received = 0;
                }
            }
            t.requested = t.received;
            tasks.push_back(t);
        }
        inflight = 0;
        syncState = wire::SyncState::Fetching;
        checkDisk(true);
    }

    // Free space against what is still needed; sets disk_full and pauses fetching.
    bool checkDisk(bool force) {
        const auto nowS = steadyMs();
        if (!force && nowS - lastDiskCheckMs < heartbeatMs && syncState != wire::SyncState::DiskFull)
            return syncState != wire::SyncState::DiskFull;
        lastDiskCheckMs = nowS;
        if (!staged) return true;
        std::uint64_t need = 0;
        for (const auto& t : tasks)
            if (!t.done) need += t.size - t.received;
        const std::uint64_t avail = cache.availableBytes();
        const std::uint64_t reserve = config.quotaBytes ? 0 : config.reserveBytes;
        if (need > 0 && need + reserve > avail) {
            if (syncState != wire::SyncState::DiskFull) {
                setError("disk full: " + std::to_string(need) + " bytes needed, " + std::to_string(avail) +
                         " available (reserve " + std::to_string(reserve) + ")");
                // Make room: media no manifest needs any more.
                DataDirLock lock(config.dataDir);
                auto keep = store.referencedMedia();
                std::set<std::string> keepPartial;
                for (const auto& t : tasks) keepPartial.insert(t.sha);
                auto gc = cache.gc(keep, keepPartial);
                if (gc.bytesFreed) log.information("player %s: freed %Lu bytes", config.playerId, gc.bytesFreed);
                syncState = wire::SyncState::DiskFull;
                publishStatus(true);
            }
            return false;
        }
        if (syncState == wire::SyncState::DiskFull) {
            syncState = wire::SyncState::Fetching;
            lastError.clear();
            log.information("player %s: disk space is back; fetching resumes", config.playerId);
            resetRequests();
            publishStatus(true);
        }
        return true;
    }

    void pump() {
        if (link != Link::Ready || !staged || syncState != wire::SyncState::Fetching) return;
        for (auto& t : tasks) {
            if (inflight >= window) break;
            if (t.done || t.failures >= options.maxHashFailures) continue;
            while (inflight < window && t.requested < t.size) {
                const auto len = static_cast<std::uint32_t>(std::min<std::uint64_t>(chunkBytes, t.size - t.requested));
                if (!sendMsg(wire::toEnvelope(wire::Fetch{t.sha, t.requested, len}))) return;
                if (inflight == 0) lastProgressMs = steadyMs();  // the stall timer starts now
                t.requested += len;
                ++inflight;
            }
        }
    }

    // Brings t's running hash up to `upTo` bytes from the partial file (after a
    // restart the prefix on disk was hashed by an earlier process).
    bool catchUpHash(FileTask& t, std::uint64_t upTo) {
        if (!t.hasher) {
            t.hasher = std::make_shared<crypto::Sha256>();
            t.hashed = 0;
        }
        if (t.hashed == upTo) return true;
        if (t.hashed > upTo) {
            t.hasher = std::make_shared<crypto::Sha256>();
            t.hashed = 0;
        }
        std::ifstream in(config.dataDir / "partial" / t.sha, std::ios::binary);
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

    void onChunk(const wire::ChunkView& c) {
        if (inflight > 0) --inflight;
        lastProgressMs = steadyMs();
        FileTask* t = nullptr;
        for (auto& x : tasks)
            if (x.sha == c.sha256 && !x.done) t = &x;
        if (!t) return;  // not (or no longer) wanted
        if (c.totalBytes != t->size) {
            setError("controller says media " + c.sha256 + " has " + std::to_string(c.totalBytes) +
                     " bytes, manifest " + std::to_string(t->size));
            return;
        }
        if (c.offset != t->received) return;  // stale or out of order; re-requested on stall
        auto st = cache.append(c.sha256, c.offset, c.data.data(), c.data.size());
        if (!st) {
            if (st.code() == Errc::Usage) {  // disk and memory disagree: trust the disk
                t->received = t->requested = cache.partialSize(c.sha256);
                return;
            }
            setError(st.error().message);
            t->requested = t->received;
            if (st.code() == Errc::TooLarge || st.error().message.find("no space") != std::string::npos) {
                syncState = wire::SyncState::DiskFull;
                resetRequests();
                publishStatus(true);
            }
            return;
        }
        std::string digest;
        if (catchUpHash(*t, c.offset)) {
            t->hasher->update(c.data.data(), c.data.size());
            t->hashed += c.data.size();
        } else {
            t->hasher.reset();
        }
        t->received += c.data.size();
        if (t->received < t->size) return;
        if (t->hasher && t->hashed == t->size) digest = crypto::toHex(t->hasher->finish());
        t->hasher.reset();
        t->hashed = 0;
        auto fin = cache.finish(t->sha, t->size, digest);
        if (!fin) {
            t->failures++;
            t->received = t->requested = cache.partialSize(t->sha);
            setError(fin.error().message);
            if (t->failures >= options.maxHashFailures) {
                syncState = wire::SyncState::Error;
                publishStatus(true);
            }
            return;
        }
        t->done = true;
        log.debug("player %s: media %s complete", config.playerId, t->sha);
        maybeActivate();
    }

    void maybeActivate() {
        if (!staged) return;
        for (const auto& t : tasks)
            if (!t.done) return;
        Status st;
        {
            DataDirLock lock(config.dataDir);
            if (store.activeVersion() >= staged->manifest.version) {
                st = {};  // an import got there first
            } else {
                st = store.activate(*staged, cache);
            }
        }
        if (!st) {
            setError("activation of version " + std::to_string(staged->manifest.version) +
                     " failed: " + st.error().str());
            syncState = wire::SyncState::Error;
            publishStatus(true);
            return;
        }
        log.information("player %s: version %Ld (%s) is active, %z media", config.playerId, staged->manifest.version,
                        staged->manifest.bundleId, staged->manifest.media.size());
        store.clearStaged();
        staged.reset();
        tasks.clear();
        syncState = wire::SyncState::Idle;
        lastError.clear();
        reloadActive();
        collectGarbage(false);
        publishStatus(true);
    }

    void reloadActive() {
        auto a = store.active();
        if (!a) {
            setError(a.error().message);
            return;
        }
        ActivationListener listener;
        std::optional<ActivatedBundle> copy;
        {
            std::lock_guard lock(mutex);
            const bool changed = (*a).has_value() != active.has_value() ||
                                 (*a && active && (*a)->manifest.version != active->manifest.version);
            active = *a;
            if (changed && active) {
                listener = onActivated;
                copy = active;
            }
        }
        if (listener && copy) listener(*copy);
    }

    void collectGarbage(bool partialsToo) {
        // Under the data-dir lock: an import moves media into blobs/ and
        // activates them under the same lock, so they are never collected between.
        DataDirLock lock(config.dataDir);
        auto keep = store.referencedMedia();
        std::set<std::string> keepPartial;
        if (!partialsToo || staged)
            for (const auto& t : tasks) keepPartial.insert(t.sha);
        auto r = cache.gc(keep, keepPartial);
        if (r.blobsRemoved || r.partialsRemoved)
            log.information("player %s: cache GC removed %d media and %d partial files (%Lu bytes)", config.playerId,
                            r.blobsRemoved, r.partialsRemoved, r.bytesFreed);
    }

    // ------------------------------------------------------------ messages
    void onManifest(const wire::ManifestPush& mp) {
        const std::int64_t activeV = store.activeVersion();
        const std::int64_t floor = std::max(activeV, staged ? staged->manifest.version : 0);
        if (staged && mp.manifestBytes == staged->bytes) {  // a resend (catch-up): retry what failed
            if (syncState == wire::SyncState::Error) {
                for (auto& t : tasks) t.failures = 0;
                syncState = wire::SyncState::Fetching;
                resetRequests();
            }
            return;
        }
        auto m = verifyManifest(mp.manifestBytes, mp.signature, config.contentKeys, floor + 1, now(), config.playerId);
        if (!m) {
            setError("refused manifest version " + std::to_string(mp.version) + ": " + m.error().str());
            sendMsg(wire::toEnvelope(wire::ErrorMsg{"manifest_refused", m.error().str().substr(0, 500), ""}));
            publishStatus(true);
            return;
        }
        SignedManifest sm{std::move(*m), mp.manifestBytes, mp.signature};
        if (auto st = store.stage(sm); !st) {
            setError("cannot stage manifest: " + st.error().str());
            return;
        }
        log.information("player %s: accepted manifest version %Ld (%z media, %Lu bytes)", config.playerId,
                        sm.manifest.version, sm.manifest.media.size(), sm.manifest.totalMediaBytes());
        lastError.clear();
        loadStaged(std::move(sm));
        maybeActivate();
        publishStatus(true);
    }

    void onCommand(const wire::Command& c) {
        for (const auto& earlier : answered)
            if (earlier.id == c.id) {
                log.information("player %s: command %s again: answered before (%s)", config.playerId, c.id,
                                earlier.message);
                sendMsg(wire::toEnvelope(earlier));
                return;
            }
        wire::CommandAck ack{c.id, true, "", std::nullopt};
        switch (c.action) {
            case wire::CommandAction::Reload: {
                {
                    std::lock_guard lock(mutex);
                    active.reset();  // forces the listener to fire
                }
                reloadActive();
                ack.message = "reloaded";
                break;
            }
            case wire::CommandAction::ClearCache: {
                auto before = cache.usedBytes();
                collectGarbage(true);
                ack.message = "freed " + std::to_string(before - std::min(before, cache.usedBytes())) + " bytes";
                break;
            }
            case wire::CommandAction::Screenshot: {
                if (!onScreenshot) {
                    ack.ok = false;
                    ack.message = "no playback engine attached";
                } else {
                    auto shot = onScreenshot();
                    ack.ok = shot.ok;
                    ack.message = shot.message;
                    if (shot.ok && shot.png.size() <= wire::kMaxPayloadBytes) ack.payload = shot.png;
                }
                break;
            }
        }
        log.information("player %s: command %s (%s): %s", config.playerId, c.id,
                        std::string(wire::commandActionName(c.action)), ack.message);
        sendMsg(wire::toEnvelope(ack));
        if (c.action != wire::CommandAction::Screenshot) {
            answered.push_back(ack);
            if (answered.size() > kAnsweredKept) answered.pop_front();
        }
    }

    void noteClock(std::int64_t controllerMs) {
        if (controllerMs <= 0) return;
        const std::int64_t sample = controllerMs - now();
        clockOffsetMs = haveOffset ? (clockOffsetMs * 3 + sample) / 4 : sample;
        haveOffset = true;
        sharedOffsetMs.store(clockOffsetMs);
        if (link == Link::Ready) notifyLink(true);
    }

    void handle(std::vector<zmq::message_t>& parts) {
        std::vector<std::string_view> frames;
        for (auto& p : parts) frames.emplace_back(p.data<char>(), p.size());
        if (frames.size() == 3 && frames[0] == wire::typeName(wire::Type::Chunk)) {
            lastRecvMs = steadyMs();
            auto c = wire::decodeChunk(frames);  // no copy of the data
            if (!c) {
                if (inflight > 0) --inflight;
                log.warning("player %s: dropped a bad CHUNK: %s", config.playerId, c.error().str());
                return;
            }
            return onChunk(*c);
        }
        auto env = wire::decode(frames);
        if (!env) {
            log.warning("player %s: dropped a malformed message: %s", config.playerId, env.error().str());
            return;
        }
        lastRecvMs = steadyMs();
        switch (env->type) {
            case wire::Type::Welcome: {
                auto w = wire::parseWelcome(*env);
                if (!w) return;
                heartbeatMs = w->heartbeatMs;
                chunkBytes = std::min<std::uint32_t>(config.chunkBytes, w->maxChunkBytes);
                window = std::min<int>(config.window, static_cast<int>(w->maxWindow));
                noteClock(w->timeMs);
                link = Link::Ready;
                backoffMs = options.backoffMinMs;
                // A new session. When ZeroMQ re-established the connection by itself
                // (the controller restarted within the heartbeat timeout, and asked
                // for HELLO), a PROOFS sent before our HELLO was dropped with the old
                // session: send it again now instead of after proofsTimeoutMs. The
                // controller stores each seq once, so a needless re-send costs nothing.
                if (proofsInFlight && proofsSentMs <= helloSentMs) {
                    log.information("player %s: PROOFS up to seq %Ld went out before this session; sending again",
                                    config.playerId, proofsLastSeq);
                    proofsInFlight = false;
                }
                {
                    std::lock_guard lock(mutex);
                    isConnected = true;
                }
                notifyLink(true);
                log.information("player %s: connected to %s (controller has v%Ld)", config.playerId, config.endpoint,
                                w->currentVersion);
                publishStatus(true);
                return;
            }
            case wire::Type::Heartbeat: {
                if (auto h = wire::parseHeartbeat(*env)) noteClock(h->timeMs);
                return;
            }
            case wire::Type::Manifest: {
                auto m = wire::parseManifestPush(*env);
                if (!m) {
                    setError("bad MANIFEST message: " + m.error().message);
                    return;
                }
                return onManifest(*m);
            }
            case wire::Type::Chunk:  // a CHUNK without data; the hot path above takes the rest
                if (inflight > 0) --inflight;
                return;
            case wire::Type::Command: {
                auto c = wire::parseCommand(*env);
                if (c) onCommand(*c);
                return;
            }
            case wire::Type::Error: {
                auto e = wire::parseError(*env);
                if (!e) return;
                if (e->code == "hello_required") {
                    sendHello();
                    return;
                }
                if (e->code == "not_in_manifest" || e->code == "unavailable" || e->code == "bad_range") {
                    if (inflight > 0) --inflight;
                    for (auto& t : tasks)
                        if (t.sha == e->ref) t.failures = options.maxHashFailures;
                    setError("controller refused media " + e->ref + ": " + e->message);
                    syncState = wire::SyncState::Error;
                    publishStatus(true);
                    return;
                }
                log.warning("player %s: controller reports %s: %s", config.playerId, e->code, e->message);
                return;
            }
            case wire::Type::ProofsAck: {
                auto a = wire::parseProofsAck(*env);
                if (!a) {
                    log.warning("player %s: bad PROOFS_ACK: %s", config.playerId, a.error().str());
                    return;
                }
                return onProofsAck(*a);
            }
            default:
                log.warning("player %s: ignored %s from the controller", config.playerId,
                            std::string(wire::typeName(env->type)));
        }
    }

    // ------------------------------------------------------------ import directory
    void wake() {
        std::uint64_t one = 1;
        ssize_t n = ::write(wakeFd, &one, sizeof one);
        (void)n;
    }

    // Starts importing the first bundle file found, unless an import runs.
    void scanImports() {
        if (config.importDir.empty() || !importing.empty()) return;
        const fs::path dir = config.importDir;
        std::error_code ec;
        std::vector<fs::path> found;
        for (auto it = fs::directory_iterator(dir, ec); !ec && it != fs::directory_iterator(); it.increment(ec))
            if (it->is_regular_file() && it->path().extension() == ".tar") found.push_back(it->path());
        if (found.empty()) return;
        std::sort(found.begin(), found.end());
        importing = found.front();
        importCancel = false;
        ImportOptions io;
        io.reserveBytes = config.quotaBytes ? 0 : config.reserveBytes;
        io.cancel = &importCancel;
        log.information("player %s: importing %s", config.playerId, importing.string());
        importThread = std::thread([this, path = importing, nowMs = now(), io] {
            std::optional<Result<ImportResult>> r;
            try {
                BundleStore s(config.dataDir, config.contentKeys, config.playerId);
                Cache c(config.dataDir, config.quotaBytes);
                r.emplace(importBundle(path, s, c, nowMs, io));
            } catch (const std::exception& e) {
                r.emplace(makeError(Errc::Internal, std::string("import failed: ") + e.what()));
            }
            {
                std::lock_guard lock(importMutex);
                importDone.emplace(path, std::move(*r));
            }
            wake();
        });
    }

    // Takes a finished import's result (agent thread).
    void finishImport() {
        std::optional<std::pair<fs::path, Result<ImportResult>>> done;
        {
            std::lock_guard lock(importMutex);
            done.swap(importDone);
        }
        if (!done) return;
        importThread.join();
        importing.clear();
        const auto& [p, r] = *done;
        const fs::path dir = config.importDir;
        std::error_code ec;
        const char* sub = r ? "done" : "failed";
        fs::create_directories(dir / sub, ec);
        fs::rename(p, dir / sub / p.filename(), ec);
        if (r) {
            log.information("player %s: imported %s: version %Ld, %Lu bytes stored", config.playerId, p.string(),
                            r->version, r->bytesWritten);
            if (staged && staged->manifest.version <= r->version) {
                staged.reset();
                tasks.clear();
                syncState = wire::SyncState::Idle;
            }
            reloadActive();
            collectGarbage(false);
            publishStatus(true);
        } else {
            setError("import of " + p.filename().string() + " refused: " + r.error().str());
            publishStatus(true);
        }
    }

    void stopImport() {
        if (!importThread.joinable()) return;
        importCancel = true;
        importThread.join();
        importing.clear();
        importDone.reset();  // the file stays where it is and is imported at the next start
    }

    // ------------------------------------------------------------ loop
    void tick() {
        const auto t = steadyMs();
        if (link == Link::Down) {
            if (t >= nextConnectMs) connect();
            return;
        }
        if (t - lastRecvMs > kMissedBeats * heartbeatMs) {
            linkLost(link == Link::Ready ? "controller silent for " + std::to_string(t - lastRecvMs) + " ms"
                                         : "no WELCOME");
            if (link == Link::Down && lastError.empty()) lastError = "controller unreachable";
            return;
        }
        if (link == Link::Ready) {
            if (t - lastSentMs >= heartbeatMs) {
                sendMsg(wire::toEnvelope(wire::Heartbeat{now()}));
                if (++beatsSinceStatus >= kStatusEveryBeats) publishStatus(true);
            }
            if (inflight > 0 && t - lastProgressMs > kMissedBeats * heartbeatMs) {
                log.information("player %s: no chunk for %Ld ms; asking again", config.playerId, t - lastProgressMs);
                resetRequests();
                lastProgressMs = t;
            }
        } else if (link == Link::HelloSent && t - lastSentMs >= heartbeatMs) {
            sendHello();
        }
    }

    void run() {
        while (!stopping.load()) {
            std::vector<zmq::pollitem_t> items;
            items.push_back({nullptr, wakeFd, ZMQ_POLLIN, 0});
            if (sock) items.push_back({sock->handle(), 0, ZMQ_POLLIN, 0});
            const long waitMs = std::clamp<long>(static_cast<long>(heartbeatMs / 4), 10, 250);
            try {
                zmq::poll(items.data(), items.size(), std::chrono::milliseconds(waitMs));
                if (items[0].revents & ZMQ_POLLIN) {
                    std::uint64_t v;
                    ssize_t n = ::read(wakeFd, &v, sizeof v);
                    (void)n;
                }
                if (sock && items.size() > 1 && (items[1].revents & ZMQ_POLLIN)) {
                    for (int budget = 0; budget < 256 && sock; ++budget) {
                        std::vector<zmq::message_t> parts;
                        auto got = zmq::recv_multipart(*sock, std::back_inserter(parts), zmq::recv_flags::dontwait);
                        if (!got) break;
                        handle(parts);
                    }
                }
                if (staged && checkDisk(false)) pump();
                tick();
                pumpProofs();
                const auto t = steadyMs();
                finishImport();
                if (!config.importDir.empty() && t - lastImportScanMs >= options.importScanMs) {
                    lastImportScanMs = t;
                    scanImports();
                }
            } catch (const std::exception& e) {
                log.error("player %s: sync loop error: %s", config.playerId, std::string(e.what()));
                linkLost(e.what());
            }
        }
        stopImport();
        sock.reset();
    }
};

SyncAgent::SyncAgent(PlayerConfig config, AgentOptions options, Poco::Logger& log)
    : impl_(std::make_unique<Impl>(std::move(config), std::move(options), log)) {}

SyncAgent::~SyncAgent() {
    stop();
}

Status SyncAgent::start() {
    auto& d = *impl_;
    if (d.started) return {};
    {
        auto a = d.store.active();
        if (!a) {
            d.setError("active bundle unusable: " + a.error().str());
        } else {
            std::lock_guard lock(d.mutex);
            d.active = *a;
        }
    }
    if (d.active && d.onActivated) d.onActivated(*d.active);
    if (auto s = d.store.staged(); s && s->manifest.version > d.store.activeVersion()) {
        d.log.information("player %s: resuming staged version %Ld", d.config.playerId, s->manifest.version);
        d.loadStaged(std::move(*s));
        d.maybeActivate();
    } else if (s) {
        d.store.clearStaged();
    }
    if (auto st = pack::restrictDir(d.config.dataDir.string()); !st)
        d.log.warning("player %s: %s", d.config.playerId, st.error().message);
    d.collectGarbage(false);
    d.publishStatus(false);
    d.wakeFd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (d.wakeFd < 0) return makeError(Errc::Internal, "eventfd failed");
    d.stopping = false;
    d.thread = std::thread([&d] { d.run(); });
    d.started = true;
    return {};
}

void SyncAgent::stop() {
    auto& d = *impl_;
    if (!d.started) return;
    d.stopping = true;
    std::uint64_t one = 1;
    ssize_t n = ::write(d.wakeFd, &one, sizeof one);
    (void)n;
    d.thread.join();
    ::close(d.wakeFd);
    d.wakeFd = -1;
    d.started = false;
}

void SyncAgent::setActivationListener(ActivationListener listener) {
    impl_->onActivated = std::move(listener);
}
void SyncAgent::setScreenshotHandler(ScreenshotHandler handler) {
    impl_->onScreenshot = std::move(handler);
}
void SyncAgent::setLinkListener(LinkListener listener) {
    impl_->onLink = std::move(listener);
}

void SyncAgent::setJournal(Journal* journal, crypto::PrivateKey identityKey) {
    impl_->journal = journal;
    impl_->identityKey.emplace(std::move(identityKey));
}

std::int64_t SyncAgent::clockOffsetMs() const {
    return impl_->sharedOffsetMs.load();
}

void SyncAgent::setPlayback(json::Object playback) {
    std::lock_guard lock(impl_->mutex);
    impl_->playback = std::move(playback);
}

std::optional<ActivatedBundle> SyncAgent::activeBundle() const {
    std::lock_guard lock(impl_->mutex);
    return impl_->active;
}

wire::StatusReport SyncAgent::status() const {
    std::lock_guard lock(impl_->mutex);
    return impl_->statusShared;
}

bool SyncAgent::connected() const {
    std::lock_guard lock(impl_->mutex);
    return impl_->isConnected;
}

}  // namespace microscape::player
