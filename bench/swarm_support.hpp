// Benchmark harness shared by the distribution benches: a hub with an in-memory
// backend (keys, manifests and media from a directory), signed per-player
// manifests, and simulated players (real SyncAgents, each with its own keys,
// data directory and DEALER). Single-threaded set-up; the hub and agents run
// their own threads.
#pragma once

#include <Poco/Logger.h>
#include <sys/resource.h>
#include <unistd.h>
#include <zmq.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "microscape/controller/hub.hpp"
#include "microscape/core/crypto.hpp"
#include "microscape/core/manifest.hpp"
#include "microscape/player/agent.hpp"

namespace swarm {

namespace fs = std::filesystem;
using namespace microscape;

inline std::int64_t wallMs() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}
inline double nowS() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

struct TempDir {
    fs::path path;
    explicit TempDir(const std::string& tag) {
        std::string tmpl = "/tmp/ms-bench-" + tag + "-XXXXXX";
        path = ::mkdtemp(tmpl.data());
    }
    ~TempDir() {
        std::error_code ec;
        fs::remove_all(path, ec);
    }
};

class MapBackend final : public controller::HubBackend {
  public:
    explicit MapBackend(fs::path mediaDir) : mediaDir_(std::move(mediaDir)) {}
    void addKey(const std::string& z85, const std::string& id) {
        std::lock_guard lock(mutex_);
        keys_[z85] = id;
    }
    void setManifest(const controller::HubManifest& m) {
        std::lock_guard lock(mutex_);
        manifests_[m.playerId] = m;
    }
    std::optional<std::string> playerForCurveKey(const std::string& z85) override {
        std::lock_guard lock(mutex_);
        auto it = keys_.find(z85);
        if (it == keys_.end()) return std::nullopt;
        return it->second;
    }
    std::optional<controller::HubManifest> currentManifest(const std::string& id) override {
        std::lock_guard lock(mutex_);
        auto it = manifests_.find(id);
        if (it == manifests_.end()) return std::nullopt;
        return it->second;
    }
    std::string mediaPath(const std::string& sha) override { return (mediaDir_ / sha).string(); }
    void storeSeen(const std::vector<Seen>&) override {}
    std::int64_t nowMs() override { return wallMs(); }

  private:
    fs::path mediaDir_;
    std::mutex mutex_;
    std::map<std::string, std::string> keys_;
    std::map<std::string, controller::HubManifest> manifests_;
};

// Random media files named by their SHA-256 in dir.
inline std::vector<manifest::MediaEntry> makeMediaFiles(const fs::path& dir, int count, std::uint64_t bytesEach,
                                                        std::uint32_t seed) {
    fs::create_directories(dir);
    std::vector<manifest::MediaEntry> out;
    std::mt19937_64 rng(seed);
    std::string buf(bytesEach, '\0');
    for (int i = 0; i < count; ++i) {
        for (std::size_t k = 0; k + 8 <= buf.size(); k += 8) {
            std::uint64_t v = rng();
            std::memcpy(&buf[k], &v, 8);
        }
        manifest::MediaEntry e;
        e.sha256 = crypto::sha256Hex(buf);
        e.sizeBytes = buf.size();
        e.kind = MediaKind::Image;
        e.mime = "image/png";
        e.name = "m" + std::to_string(i);
        e.fileName = "m" + std::to_string(i) + ".png";
        std::ofstream(dir / e.sha256, std::ios::binary).write(buf.data(), static_cast<std::streamsize>(buf.size()));
        out.push_back(e);
    }
    return out;
}

inline controller::HubManifest signedFor(const std::string& playerId, std::int64_t version,
                                         const std::vector<manifest::MediaEntry>& media,
                                         const crypto::PrivateKey& key) {
    manifest::Manifest m;
    m.bundleId = "bench-" + std::to_string(version);
    m.version = version;
    m.issuedAtMs = (wallMs() / 1000 - 60) * 1000;
    m.expiresAtMs = m.issuedAtMs + 7 * 86'400'000LL;
    m.target = playerId;
    m.schedule = json::Object{};
    m.media = media;
    auto s = manifest::sign(m, key);
    return controller::HubManifest{playerId, version, s.bytes, s.signature};
}

struct SimPlayer {
    std::string id;
    std::unique_ptr<player::SyncAgent> agent;
};

// N real sync agents, each with its own CURVE keys and data directory.
inline std::vector<SimPlayer> makePlayers(int n, const fs::path& root, const std::string& endpoint, bool curve,
                                          const std::string& serverKey, const crypto::PublicKey& contentKey,
                                          MapBackend& backend, int window, std::uint32_t chunkBytes) {
    std::vector<SimPlayer> out;
    auto& log = Poco::Logger::get("bench.player");
    log.setLevel("error");
    for (int i = 0; i < n; ++i) {
        player::PlayerConfig c;
        c.playerId = "scr-bench" + std::to_string(i);
        c.dataDir = root / c.playerId;
        fs::create_directories(c.dataDir);
        c.endpoint = endpoint;
        c.curve = curve;
        c.window = window;
        c.chunkBytes = chunkBytes;
        c.reserveBytes = 0;
        c.contentKeys.push_back(contentKey);
        if (curve) {
            char pub[41] = {}, sec[41] = {};
            zmq_curve_keypair(pub, sec);
            c.curvePublicKey.assign(pub, 40);
            c.curveSecretKey.assign(sec, 40);
            c.serverCurveKey = serverKey;
            backend.addKey(c.curvePublicKey, c.playerId);
        }
        player::AgentOptions o;
        o.heartbeatMs = 1000;
        o.backoffMinMs = 100;
        o.backoffMaxMs = 1000;
        o.software = "microscape-swarm";
        SimPlayer p{c.playerId, std::make_unique<player::SyncAgent>(c, o, log)};
        out.push_back(std::move(p));
    }
    return out;
}

inline long rssKiB(pid_t pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(in, line))
        if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
    return -1;
}

inline double percentile(std::vector<double> v, double p) {
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    const auto idx = static_cast<std::size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
    return v[std::min(idx, v.size() - 1)];
}

}  // namespace swarm
