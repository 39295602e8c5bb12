#include "microscape/player/agent.hpp"

#include "microscape/core/sealed.hpp"
#include "microscape/pack/file_io.hpp"
#include "microscape/player/journal.hpp"

#include "fetcher.hpp"
#include "import_watcher.hpp"
#include "mirror_fetcher.hpp"
#include "proof_uploader.hpp"

#include <Poco/Logger.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <deque>
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
constexpr std::int64_t kBulkWarnEveryMs = 60'000;  // a bulk channel given up: one warning a minute, then debug

}  // namespace

std::optional<std::string> bulkEndpointFor(std::string_view endpoint, int port) {
    if (!wire::isHubEndpoint(endpoint) || port < 1 || port > 65535) return std::nullopt;
    const std::string_view rest = endpoint.substr(6);  // after "tcp://"
    return "tcp://" + std::string(rest.substr(0, rest.rfind(':'))) + ":" + std::to_string(port);
}

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
    HeadHandler onShowHead;
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
    // Several controller nodes: the hub in use is config.endpoints[endpointAt];
    // a lost link moves to the next one (round-robin), and the backoff grows
    // only after every endpoint was tried.
    std::size_t endpointAt = 0;
    int beatsSinceStatus = 0;
    std::int64_t lastDiskCheckMs = 0;
    std::mt19937 rng{std::random_device{}()};

    BundleStore store;
    Cache cache;
    std::optional<SignedManifest> staged;
    Fetcher fetcher;  // the staged manifest's media
    wire::SyncState syncState = wire::SyncState::Idle;
    std::string lastError;
    std::int64_t clockOffsetMs = 0;
    bool haveOffset = false;
    std::atomic<std::int64_t> sharedOffsetMs{0};

    std::int64_t helloSentMs = 0;  // steady ms of the last HELLO (a WELCOME answers it)
    // The session's bulk channel (docs/wire-protocol.md, "The bulk channel"):
    // open from a WELCOME that offers it until the session ends or it is given
    // up; while it is open every FETCH asks for it (fetcher.bulk()).
    std::optional<zmq::socket_t> bulkSock;
    std::string bulkKey;            // raw AES-256-GCM key of the session
    std::uint64_t bulkLastSeq = 0;  // the highest seq opened (no replay)
    std::int64_t bulkWarnedMs = -kBulkWarnEveryMs;
    ProofUploader proofs;
    ImportWatcher imports;
    MirrorFetcher mirrors;
    std::uint64_t mirrorJob = 0;  // id of the running mirror job, 0 when none
    std::uint64_t lastMirrorJob = 0;
    // (mirror base URL, sha256) -> steady ms until which that mirror is not asked for that file.
    std::map<std::pair<std::string, std::string>, std::int64_t> mirrorBackoffUntil;

    Impl(PlayerConfig c, AgentOptions o, Poco::Logger& l)
        : config(std::move(c)),
          options(std::move(o)),
          log(l),
          clock(options.clock ? *options.clock : systemClock()),
          heartbeatMs(options.heartbeatMs),
          store(config.dataDir, config.contentKeys, config.playerId),
          cache(config.dataDir, config.quotaBytes),
          fetcher(config.dataDir, cache, options.maxHashFailures, config.chunkBytes, config.window),
          proofs(
              config.playerId, options, log, [this](const wire::Envelope& e) { return sendMsg(e); },
              [this](const std::string& msg) { setError(msg); }),
          imports(config, log, [this] { wake(); }),
          mirrors(MirrorOptions{options.mirrorConnectTimeoutMs, options.mirrorIdleTimeoutMs, 3, options.software},
                  [this] { wake(); }) {
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
        fetcher.fillStatus(s);
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

    const std::string& endpoint() const {
        return config.endpoints.empty() ? config.endpoint : config.endpoints[endpointAt % config.endpoints.size()];
    }

    void connect() {
        closeBulk();
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
            if (endpoint().find('[') != std::string::npos) s.set(zmq::sockopt::ipv6, 1);  // libzmq needs it for [v6]
            if (config.curve) {
                s.set(zmq::sockopt::curve_serverkey, config.serverCurveKey);
                s.set(zmq::sockopt::curve_publickey, config.curvePublicKey);
                s.set(zmq::sockopt::curve_secretkey, config.curveSecretKey);
            }
            s.connect(endpoint());
        } catch (const zmq::error_t& e) {
            setError("cannot connect to " + endpoint() + ": " + e.what());
            sock.reset();
            scheduleReconnect();
            return;
        }
        linkSinceMs = lastRecvMs = steadyMs();
        proofs.linkReset();
        fetcher.resetRequests();
        sendHello();
    }

    void scheduleReconnect() {
        std::uniform_real_distribution<double> jitter(0.75, 1.25);
        nextConnectMs = steadyMs() + static_cast<std::int64_t>(static_cast<double>(backoffMs) * jitter(rng));
        backoffMs = std::min(backoffMs * 2, options.backoffMaxMs);
    }

    void linkLost(const std::string& why) {
        if (link == Link::Ready) log.warning("player %s: link to %s lost: %s", config.playerId, endpoint(), why);
        closeBulk();
        sock.reset();
        link = Link::Down;
        {
            std::lock_guard lock(mutex);
            isConnected = false;
        }
        notifyLink(false);
        proofs.linkReset();
        fetcher.resetRequests();
        if (config.endpoints.size() > 1) {
            endpointAt = (endpointAt + 1) % config.endpoints.size();
            log.information("player %s: trying the next controller node at %s", config.playerId, endpoint());
            if (endpointAt != 0) {  // the next node at once; the backoff after a whole round
                std::uniform_int_distribution<std::int64_t> jitter(0, options.backoffMinMs);
                nextConnectMs = steadyMs() + jitter(rng);
                return;
            }
        }
        scheduleReconnect();
    }

    // ------------------------------------------------------------ bulk channel
    void closeBulk() {
        bulkSock.reset();
        bulkKey.clear();
        bulkLastSeq = 0;
        fetcher.setBulk(false);
    }

    // A WELCOME starts a session: its bulk channel, if it offers one, replaces
    // the last session's. READY that cannot be queued means no bulk channel.
    void openBulk(const wire::Welcome& w) {
        closeBulk();
        if (!config.curve || w.bulkPort <= 0) return;  // offered on CURVE sessions only
        const auto ep = bulkEndpointFor(endpoint(), w.bulkPort);
        const std::string tag = wire::sealed::readyTag(w.bulkKey, w.bulkToken);
        if (!ep || tag.empty()) {
            log.information("player %s: bulk channel on port %d not usable from %s", config.playerId, w.bulkPort,
                            endpoint());
            return;
        }
        try {
            bulkSock.emplace(ctx, zmq::socket_type::dealer);
            auto& s = *bulkSock;
            s.set(zmq::sockopt::linger, 0);
            s.set(zmq::sockopt::routing_id, w.bulkToken);
            s.set(zmq::sockopt::maxmsgsize, static_cast<std::int64_t>(wire::kMaxChunkBytes + 4096));
            s.set(zmq::sockopt::reconnect_ivl, 200);
            s.set(zmq::sockopt::reconnect_ivl_max, 5000);
            s.set(zmq::sockopt::heartbeat_ivl, static_cast<int>(heartbeatMs));
            s.set(zmq::sockopt::heartbeat_timeout, static_cast<int>(kMissedBeats * heartbeatMs));
            if (ep->find('[') != std::string::npos) s.set(zmq::sockopt::ipv6, 1);
            s.connect(*ep);
            const bool queued =
                s.send(zmq::buffer(wire::sealed::kReady), zmq::send_flags::sndmore | zmq::send_flags::dontwait) &&
                s.send(zmq::buffer(tag), zmq::send_flags::dontwait);
            if (!queued) {
                log.information("player %s: READY could not be queued; no bulk channel", config.playerId);
                closeBulk();
                return;
            }
        } catch (const zmq::error_t& e) {
            log.information("player %s: no bulk channel to %s: %s", config.playerId, *ep, std::string(e.what()));
            closeBulk();
            return;
        }
        bulkKey = w.bulkKey;
        fetcher.setBulk(true);
        log.debug("player %s: bulk channel to %s", config.playerId, *ep);
    }

    // For the rest of the session every CHUNK comes on the CURVE socket: what
    // was asked for is asked again, from what is on disk, without bulk.
    void giveUpBulk(const std::string& why, bool requestAgain) {
        const auto t = steadyMs();
        if (t - bulkWarnedMs >= kBulkWarnEveryMs) {
            bulkWarnedMs = t;
            log.warning("player %s: bulk channel given up for this session (%s); media come over the CURVE socket",
                        config.playerId, why);
        } else {
            log.debug("player %s: bulk channel given up for this session (%s)", config.playerId, why);
        }
        closeBulk();
        if (requestAgain) fetcher.resetRequests();
    }

    // A message on the bulk socket: only sealed CHUNKs, opened in place.
    void handleBulk(std::vector<zmq::message_t>& parts) {
        if (parts.size() != 3) return giveUpBulk("a message of " + std::to_string(parts.size()) + " frames", true);
        auto c = wire::sealed::openChunk(bulkKey, std::string_view(parts[0].data<char>(), parts[0].size()),
                                         std::string_view(parts[1].data<char>(), parts[1].size()),
                                         parts[2].data<char>(), parts[2].size(), bulkLastSeq);
        if (!c) return giveUpBulk("a sealed CHUNK refused: " + c.error().str(), true);
        lastRecvMs = steadyMs();  // only the hub holds the key: a sign of life
        onChunk(*c);
    }

    // ------------------------------------------------------------ fetching
    void loadStaged(SignedManifest m) {
        stopMirrorJob();
        staged = std::move(m);
        fetcher.load(staged->manifest);
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
        const std::uint64_t need = fetcher.bytesNeeded();
        const std::uint64_t avail = cache.availableBytes();
        const std::uint64_t reserve = config.quotaBytes ? 0 : config.reserveBytes;
        if (need > 0 && need + reserve > avail) {
            if (syncState != wire::SyncState::DiskFull) {
                setError("disk full: " + std::to_string(need) + " bytes needed, " + std::to_string(avail) +
                         " available (reserve " + std::to_string(reserve) + ")");
                // Make room: media no manifest needs any more.
                DataDirLock lock(config.dataDir);
                auto keep = store.referencedMedia();
                auto gc = cache.gc(keep, fetcher.files());
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
            fetcher.resetRequests();
            publishStatus(true);
        }
        return true;
    }

    void pump() {
        if (link != Link::Ready || !staged || syncState != wire::SyncState::Fetching) return;
        fetcher.pump([this](const wire::Fetch& f) { return sendMsg(wire::toEnvelope(f)); }, steadyMs());
    }

    void onChunk(const wire::ChunkView& c) {
        auto r = fetcher.onChunk(c, steadyMs());
        switch (r.outcome) {
            case Fetcher::Outcome::Ignored:
            case Fetcher::Outcome::Stored:
                return;
            case Fetcher::Outcome::Refused:
            case Fetcher::Outcome::HashFailed:
                for (const auto& m : r.suspects) backOffMirror(m, c.sha256);
                setError(r.error);
                return;
            case Fetcher::Outcome::DiskFull:
            case Fetcher::Outcome::Exhausted:
                setError(r.error);
                syncState =
                    r.outcome == Fetcher::Outcome::DiskFull ? wire::SyncState::DiskFull : wire::SyncState::Error;
                publishStatus(true);
                return;
            case Fetcher::Outcome::MediaDone:
                log.debug("player %s: media %s complete", config.playerId, c.sha256);
                maybeActivate();
                return;
        }
    }

    // ------------------------------------------------------------ mirrors
    void stopMirrorJob() {
        if (mirrorJob == 0) return;
        mirrors.cancel();
        mirrorJob = 0;
    }

    void backOffMirror(const std::string& mirror, const std::string& sha) {
        mirrorBackoffUntil[{mirror, sha}] = steadyMs() + options.mirrorBackoffMs;
    }

    // Starts a mirror download for the next file that waits for one; a file no
    // mirror may be asked for (all backing off) goes to the hub.
    void pumpMirror() {
        if (mirrorJob != 0 || !staged || staged->manifest.mirrors.empty() || syncState != wire::SyncState::Fetching)
            return;
        const std::int64_t t = steadyMs();
        std::erase_if(mirrorBackoffUntil, [t](const auto& kv) { return kv.second <= t; });
        while (auto c = fetcher.nextForMirror()) {
            if (c->offsetBytes >= c->sizeBytes) {  // nothing a mirror could add (an empty file)
                fetcher.mirrorEnded(c->sha256, true);
                continue;
            }
            std::vector<std::string> usable;
            for (const auto& m : staged->manifest.mirrors)
                if (!mirrorBackoffUntil.count({m, c->sha256})) usable.push_back(m);
            if (usable.empty()) {
                log.information("player %s: no mirror left for media %s; fetching it from the controller",
                                config.playerId, c->sha256);
                fetcher.mirrorEnded(c->sha256, true);
                continue;
            }
            fetcher.mirrorStarted(c->sha256);
            mirrorJob = ++lastMirrorJob;
            log.debug("player %s: media %s from %s (from byte %Lu)", config.playerId, c->sha256, usable.front(),
                      c->offsetBytes);
            mirrors.submit(MirrorFetcher::Job{mirrorJob, c->sha256, c->sizeBytes, c->offsetBytes, std::move(usable)});
            return;
        }
    }

    // What the mirror worker posted: bytes to store and verify, mirrors that failed.
    void drainMirror() {
        for (auto& e : mirrors.take()) {
            if (e.jobId != mirrorJob || mirrorJob == 0) continue;  // a job given up
            switch (e.kind) {
                case MirrorFetcher::Event::Kind::Data: {
                    auto r = fetcher.onMirrorData(e.sha256, e.mirror, e.offsetBytes, e.data, steadyMs());
                    onMirrorResult(e, r);
                    break;
                }
                case MirrorFetcher::Event::Kind::Failed:
                    log.warning("player %s: mirror %s failed for media %s at byte %Lu: %s", config.playerId, e.mirror,
                                e.sha256, e.offsetBytes, e.error);
                    backOffMirror(e.mirror, e.sha256);
                    break;
                case MirrorFetcher::Event::Kind::Ended:
                    mirrorJob = 0;
                    // Failed: another mirror, else the hub (pumpMirror). Ended "ok" without
                    // the file done cannot happen with a file left to fetch; never loop on it.
                    fetcher.mirrorEnded(e.sha256, e.ok);
                    break;
            }
        }
    }

    void onMirrorResult(const MirrorFetcher::Event& e, const Fetcher::ChunkResult& r) {
        switch (r.outcome) {
            case Fetcher::Outcome::Stored:
                return;
            case Fetcher::Outcome::MediaDone:
                log.debug("player %s: media %s complete (mirror %s)", config.playerId, e.sha256, e.mirror);
                mirrorJob = 0;  // the job's Ended is dropped
                maybeActivate();
                return;
            case Fetcher::Outcome::Ignored:
            case Fetcher::Outcome::Refused:
                if (!r.error.empty()) setError(r.error);
                backOffMirror(e.mirror, e.sha256);
                break;
            case Fetcher::Outcome::HashFailed:
            case Fetcher::Outcome::Exhausted:
                for (const auto& m : r.suspects) backOffMirror(m, e.sha256);
                setError("media " + e.sha256 + " from mirror " + e.mirror + " discarded: " + r.error);
                if (r.outcome == Fetcher::Outcome::Exhausted) {
                    syncState = wire::SyncState::Error;
                    publishStatus(true);
                }
                break;
            case Fetcher::Outcome::DiskFull:
                setError(r.error);
                syncState = wire::SyncState::DiskFull;
                publishStatus(true);
                break;
        }
        mirrors.cancel();
        mirrorJob = 0;
        fetcher.mirrorEnded(e.sha256, false);
    }

    void maybeActivate() {
        if (!staged || !fetcher.complete()) return;
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
        stopMirrorJob();
        staged.reset();
        fetcher.clear();
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
        auto r = cache.gc(keep, !partialsToo || staged ? fetcher.files() : std::set<std::string>());
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
                fetcher.retryFailed();
                syncState = wire::SyncState::Fetching;
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
            case wire::CommandAction::ShowHead: {
                if (!onShowHead) {
                    ack.ok = false;
                    ack.message = "no playback engine attached";
                } else {
                    auto shown = onShowHead();
                    ack.ok = shown.ok;
                    ack.message = shown.message;
                }
                break;
            }
        }
        log.information("player %s: command %s (%s): %s", config.playerId, c.id,
                        std::string(wire::commandActionName(c.action)), ack.message);
        sendMsg(wire::toEnvelope(ack));
        if (c.action != wire::CommandAction::Screenshot && c.action != wire::CommandAction::ShowHead) {
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
                fetcher.requestLost();
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
                fetcher.setLimits(std::min<std::uint32_t>(config.chunkBytes, w->maxChunkBytes),
                                  std::min<int>(config.window, static_cast<int>(w->maxWindow)));
                noteClock(w->timeMs);
                openBulk(*w);
                link = Link::Ready;
                backoffMs = options.backoffMinMs;
                proofs.newSession(helloSentMs);
                {
                    std::lock_guard lock(mutex);
                    isConnected = true;
                }
                notifyLink(true);
                log.information("player %s: connected to %s (controller has v%Ld)", config.playerId, endpoint(),
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
                fetcher.requestLost();
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
                    fetcher.refuse(e->ref);
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
                return proofs.onAck(*a, link == Link::Ready, steadyMs(), now());
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

    // A bundle imported from the import directory (or refused).
    void onImported(const ImportWatcher::Finished& done) {
        const auto& [p, r] = done;
        if (!r) {
            setError("import of " + p.filename().string() + " refused: " + r.error().str());
            publishStatus(true);
            return;
        }
        log.information("player %s: imported %s: version %Ld, %Lu bytes stored", config.playerId, p.string(),
                        r->version, r->bytesWritten);
        if (staged && staged->manifest.version <= r->version) {
            stopMirrorJob();
            staged.reset();
            fetcher.clear();
            syncState = wire::SyncState::Idle;
        }
        reloadActive();
        collectGarbage(false);
        publishStatus(true);
    }

    // ------------------------------------------------------------ loop
    void tick() {
        const auto t = steadyMs();
        if (link == Link::Down) {
            if (t >= nextConnectMs) connect();
            return;
        }
        std::int64_t silentLimitMs = kMissedBeats * heartbeatMs;
        if (link == Link::HelloSent && config.endpoints.size() > 1)
            silentLimitMs = std::min(silentLimitMs, options.welcomeTimeoutMs);
        if (t - lastRecvMs > silentLimitMs) {
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
            const std::int64_t sinceProgress = t - fetcher.lastProgressMs();
            if (fetcher.restartIfStalled(t, kMissedBeats * heartbeatMs)) {
                log.information("player %s: no chunk for %Ld ms; asking again", config.playerId, sinceProgress);
                if (bulkSock) giveUpBulk("no chunk for " + std::to_string(sinceProgress) + " ms", false);
            }
        } else if (link == Link::HelloSent && t - lastSentMs >= heartbeatMs) {
            sendHello();
        }
    }

    void run() {
        while (!stopping.load()) {
            std::vector<zmq::pollitem_t> items;
            items.push_back({nullptr, wakeFd, ZMQ_POLLIN, 0});
            std::size_t mainAt = 0, bulkAt = 0;  // 0: not polled
            if (sock) {
                mainAt = items.size();
                items.push_back({sock->handle(), 0, ZMQ_POLLIN, 0});
            }
            if (bulkSock) {
                bulkAt = items.size();
                items.push_back({bulkSock->handle(), 0, ZMQ_POLLIN, 0});
            }
            const long waitMs = std::clamp<long>(static_cast<long>(heartbeatMs / 4), 10, 250);
            try {
                zmq::poll(items.data(), items.size(), std::chrono::milliseconds(waitMs));
                if (items[0].revents & ZMQ_POLLIN) {
                    std::uint64_t v;
                    ssize_t n = ::read(wakeFd, &v, sizeof v);
                    (void)n;
                }
                // Up to 256 messages of a socket that is readable (and still open:
                // a message may close it).
                auto drain = [&](std::optional<zmq::socket_t>& s, std::size_t at, auto&& handler) {
                    if (!s || !at || !(items[at].revents & ZMQ_POLLIN)) return;
                    for (int budget = 0; budget < 256 && s; ++budget) {
                        std::vector<zmq::message_t> parts;
                        auto got = zmq::recv_multipart(*s, std::back_inserter(parts), zmq::recv_flags::dontwait);
                        if (!got) break;
                        handler(parts);
                    }
                };
                drain(sock, mainAt, [&](auto& parts) { handle(parts); });
                // (A WELCOME above may have replaced the bulk socket: reading it is harmless.)
                drain(bulkSock, bulkAt, [&](auto& parts) { handleBulk(parts); });
                drainMirror();
                if (staged && checkDisk(false)) {
                    pumpMirror();
                    pump();
                }
                tick();
                proofs.pump(link == Link::Ready, steadyMs(), now());
                if (auto done = imports.takeFinished()) onImported(*done);
                imports.poll(steadyMs(), now(), options.importScanMs);
            } catch (const std::exception& e) {
                log.error("player %s: sync loop error: %s", config.playerId, std::string(e.what()));
                linkLost(e.what());
            }
        }
        imports.stop();
        mirrors.stop();
        mirrorJob = 0;
        closeBulk();
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

void SyncAgent::setHeadHandler(HeadHandler handler) {
    impl_->onShowHead = std::move(handler);
}

void SyncAgent::setJournal(Journal* journal, crypto::PrivateKey identityKey) {
    impl_->proofs.attach(journal, std::move(identityKey));
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
