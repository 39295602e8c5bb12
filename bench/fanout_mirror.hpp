// bench_fanout --via-mirror: the same new media to N players whose manifests
// name a media mirror: Debian's nginx with deploy/nginx/microscape-mirror.conf
// in front of an origin that answers GET /media/<sha256> with the controller's
// own code (sendMediaFile). The hub (plain) pushes the manifests and would
// serve whatever the mirror cannot. Measures what left the "controller" (the
// origin's body bytes plus the hub's CHUNK bytes) against the media size: the
// goal is 1x, whatever N. Single-threaded use from main().
#pragma once

#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServer.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/ServerSocket.h>
#include <fcntl.h>
#include <sys/stat.h>

#include <atomic>
#include <cstdio>

#include "../tests/support/nginx_mirror.hpp"
#include "microscape/controller/media_http.hpp"
#include "swarm_support.hpp"

namespace fanout_mirror {

using namespace swarm;

// GET /media/<sha256> from a directory of files named by their hash, with the
// controller's answer; counts the body bytes sent.
class Origin {
  public:
    Origin(fs::path dir) : dir_(std::move(dir)), socket_(Poco::Net::SocketAddress("127.0.0.1", 0)) {
        Poco::Net::HTTPServerParams::Ptr params = new Poco::Net::HTTPServerParams;
        params->setMaxThreads(16);
        server_ = std::make_unique<Poco::Net::HTTPServer>(new Factory(*this), socket_, params);
        server_->start();
    }
    ~Origin() { server_->stopAll(true); }
    std::string url() const { return "http://127.0.0.1:" + std::to_string(socket_.address().port()); }
    std::uint64_t bytesSent() const { return bytes_; }
    std::uint64_t requests() const { return requests_; }

  private:
    class Handler : public Poco::Net::HTTPRequestHandler {
      public:
        explicit Handler(Origin& o) : o_(o) {}
        void handleRequest(Poco::Net::HTTPServerRequest& req, Poco::Net::HTTPServerResponse& resp) override {
            const std::string uri = req.getURI();
            const std::string sha = uri.rfind("/media/", 0) == 0 ? uri.substr(7) : "";
            const int fd = crypto::isSha256Hex(sha) ? ::open((o_.dir_ / sha).c_str(), O_RDONLY | O_CLOEXEC) : -1;
            struct stat st {};
            if (fd < 0 || ::fstat(fd, &st) != 0) {
                if (fd >= 0) ::close(fd);
                resp.setStatusAndReason(Poco::Net::HTTPResponse::HTTP_NOT_FOUND);
                resp.setContentLength(0);
                resp.send();
                return;
            }
            auto a = controller::sendMediaFile(req, resp, fd, static_cast<std::uint64_t>(st.st_size), sha);
            ::close(fd);
            if (a.status == 416) {
                resp.setStatusAndReason(Poco::Net::HTTPResponse::HTTP_REQUESTED_RANGE_NOT_SATISFIABLE);
                resp.setContentLength(0);
                resp.send();
            }
            o_.bytes_ += a.bodyBytes;
            o_.requests_++;
        }

      private:
        Origin& o_;
    };
    class Factory : public Poco::Net::HTTPRequestHandlerFactory {
      public:
        explicit Factory(Origin& o) : o_(o) {}
        Poco::Net::HTTPRequestHandler* createRequestHandler(const Poco::Net::HTTPServerRequest&) override {
            return new Handler(o_);
        }

      private:
        Origin& o_;
    };

    fs::path dir_;
    Poco::Net::ServerSocket socket_;
    std::unique_ptr<Poco::Net::HTTPServer> server_;
    std::atomic<std::uint64_t> bytes_{0}, requests_{0};
};

struct Result {
    double seconds = -1;
    std::uint64_t originBytes = 0, hubBytes = 0, playerMirrorBytes = 0;
};

inline Result run(int players, const fs::path& root, const fs::path& mediaDir,
                  const std::vector<manifest::MediaEntry>& media, const fs::path& mirrorConf) {
    Result r;
    Origin origin(mediaDir);
    fs::create_directories(root / "nginx");
    microscape::testing::NginxMirror nginx(mirrorConf, origin.url(), root / "nginx");
    auto key = crypto::PrivateKey::generate().value();
    MapBackend backend(mediaDir);
    controller::HubConfig hc;
    hc.bind = "127.0.0.1";
    hc.port = 0;
    hc.curve = false;
    hc.heartbeatMs = 1000;
    hc.maxChunkBytes = 256 * 1024;
    hc.maxWindow = 16;
    controller::Hub hub(hc, backend, Poco::Logger::get("bench.hub"));
    if (!hub.start()) return r;
    auto ps = makePlayers(players, root / "p", "tcp://127.0.0.1:" + std::to_string(hub.port()), false, "",
                          key.publicKey(), backend, 16, 256 * 1024);
    for (auto& p : ps)
        if (!p.agent->start()) return r;
    const double until = nowS() + 60;
    while (nowS() < until && hub.onlineCount() < static_cast<std::size_t>(players))
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    std::vector<controller::HubManifest> ms;
    for (auto& p : ps) {
        manifest::Manifest m;
        m.bundleId = "bench-1";
        m.version = 1;
        m.issuedAtMs = (wallMs() / 1000 - 60) * 1000;
        m.expiresAtMs = m.issuedAtMs + 7 * 86'400'000LL;
        m.target = p.id;
        m.schedule = json::Object{};
        m.media = media;
        m.location = manifest::Location{"", "", "", "", "Asia/Shanghai"};
        m.mirrors = {nginx.url()};
        auto s = manifest::sign(m, key);
        ms.push_back(controller::HubManifest{p.id, 1, s.bytes, s.signature});
    }
    const double t0 = nowS();
    for (auto& m : ms) {
        backend.setManifest(m);
        hub.publish(m);
    }
    std::vector<double> done(ps.size(), 0);
    std::size_t remaining = ps.size();
    while (remaining > 0 && nowS() < t0 + 1800) {
        for (std::size_t i = 0; i < ps.size(); ++i) {
            if (done[i] > 0) continue;
            auto a = ps[i].agent->activeBundle();
            if (a && a->manifest.version == 1) {
                done[i] = nowS() - t0;
                --remaining;
            }
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    const double total = nowS() - t0;
    std::printf("    per-player sync time: p50 %.2f s, p99 %.2f s, max %.2f s\n", percentile(done, 0.5),
                percentile(done, 0.99), percentile(done, 1.0));
    for (auto& p : ps) r.playerMirrorBytes += static_cast<std::uint64_t>(p.agent->status().mediaBytesMirror);
    for (auto& p : ps) p.agent->stop();
    r.hubBytes = hub.stats().bytesSent;
    hub.stop();
    nginx.stop();
    r.originBytes = origin.bytesSent();
    r.seconds = remaining == 0 ? total : -1;
    return r;
}

}  // namespace fanout_mirror
