// fan-out: new media pushed to N players over loopback by the hub, against
// nginx (Debian's package, own config, started here) serving the same files to
// N concurrent curl clients. Encrypted against encrypted (CURVE vs HTTPS with a
// self-signed certificate made here) and plain against plain. Both sides write
// every byte to disk; the players also hash-verify each file.
// Usage: bench_fanout [--players 50] [--media-mib 1024] [--files 8] [--mode both|curve|plain] [--via-mirror]
// --via-mirror: instead, the players fetch the media through an nginx media
// mirror (fanout_mirror.hpp) and the controller's egress is compared with the media size.
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <cstring>
#include <iostream>

#include "bench_args.hpp"
#include "fanout_mirror.hpp"
#include "swarm_support.hpp"

using namespace swarm;

namespace {

int freePort() {
    int s = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a);
    socklen_t len = sizeof a;
    ::getsockname(s, reinterpret_cast<sockaddr*>(&a), &len);
    ::close(s);
    return ntohs(a.sin_port);
}

double runHub(bool curve, int players, const fs::path& root, const fs::path& mediaDir,
              const std::vector<manifest::MediaEntry>& media) {
    auto key = crypto::PrivateKey::generate().value();
    MapBackend backend(mediaDir);
    auto kp = controller::makeCurveKeyPair().value();
    controller::HubConfig hc;
    hc.bind = "127.0.0.1";
    hc.port = 0;
    hc.curve = curve;
    hc.curveSecretZ85 = kp.secretZ85;
    hc.heartbeatMs = 1000;
    hc.maxChunkBytes = 256 * 1024;
    hc.maxWindow = 16;
    controller::Hub hub(hc, backend, Poco::Logger::get("bench.hub"));
    if (!hub.start()) return -1;
    auto ps = makePlayers(players, root, "tcp://127.0.0.1:" + std::to_string(hub.port()), curve, kp.publicZ85,
                          key.publicKey(), backend, 16, 256 * 1024);
    for (auto& p : ps)
        if (!p.agent->start()) return -1;
    // All connected with nothing to do; then the new media arrives.
    const double until = nowS() + 60;
    while (nowS() < until && hub.onlineCount() < static_cast<std::size_t>(players))
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    std::vector<controller::HubManifest> ms;
    for (auto& p : ps) ms.push_back(signedFor(p.id, 1, media, key));
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
    for (auto& p : ps) p.agent->stop();
    hub.stop();
    return remaining == 0 ? total : -1;
}

double runNginx(bool tls, int players, const fs::path& root, const fs::path& mediaDir,
                const std::vector<manifest::MediaEntry>& media) {
    const int port = freePort();
    const fs::path conf = root / "nginx.conf";
    if (tls && std::system(("openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=localhost -days 1 -keyout " +
                            (root / "key.pem").string() + " -out " + (root / "cert.pem").string() + " 2>/dev/null")
                               .c_str()) != 0)
        return -1;
    {
        std::ofstream c(conf);
        c << "worker_processes auto;\npid " << (root / "nginx.pid").string() << ";\nerror_log "
          << (root / "error.log").string() << ";\ndaemon off;\nevents { worker_connections 1024; }\n"
          << "http {\n access_log off;\n sendfile on;\n client_body_temp_path " << root.string() << ";\n"
          << " proxy_temp_path " << root.string() << ";\n fastcgi_temp_path " << root.string() << ";\n"
          << " uwsgi_temp_path " << root.string() << ";\n scgi_temp_path " << root.string() << ";\n"
          << " server {\n  listen 127.0.0.1:" << port << (tls ? " ssl" : "") << ";\n";
        if (tls)
            c << "  ssl_certificate " << (root / "cert.pem").string() << ";\n  ssl_certificate_key "
              << (root / "key.pem").string() << ";\n";
        c << "  root " << mediaDir.string() << ";\n }\n}\n";
    }
    pid_t nginx = ::fork();
    if (nginx == 0) {
        ::execl("/usr/sbin/nginx", "nginx", "-c", conf.c_str(), "-p", root.c_str(), static_cast<char*>(nullptr));
        ::_exit(127);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    const std::string base = std::string(tls ? "https" : "http") + "://127.0.0.1:" + std::to_string(port) + "/";
    std::vector<pid_t> clients;
    const double t0 = nowS();
    for (int i = 0; i < players; ++i) {
        const fs::path out = root / ("client" + std::to_string(i));
        fs::create_directories(out);
        std::vector<std::string> args{"curl", "-sSfk", "--http1.1"};
        for (const auto& e : media) {
            args.push_back("-o");
            args.push_back((out / e.sha256).string());
            args.push_back(base + e.sha256);
        }
        pid_t pid = ::fork();
        if (pid == 0) {
            std::vector<char*> av;
            for (auto& a : args) av.push_back(a.data());
            av.push_back(nullptr);
            ::execv("/usr/bin/curl", av.data());
            ::_exit(127);
        }
        clients.push_back(pid);
    }
    bool ok = true;
    for (pid_t c : clients) {
        int st = 0;
        ::waitpid(c, &st, 0);
        ok = ok && WIFEXITED(st) && WEXITSTATUS(st) == 0;
    }
    const double total = nowS() - t0;
    ::kill(nginx, SIGQUIT);
    ::waitpid(nginx, nullptr, 0);
    for (int i = 0; i < players; ++i) fs::remove_all(root / ("client" + std::to_string(i)));
    return ok ? total : -1;
}

}  // namespace

int main(int argc, char** argv) {
    std::int64_t playersArg = 50, filesArg = 8, mediaMiBArg = 1024;
    std::string mode = "both";
    bool viaMirror = false;
    std::string mirrorConf = MICROSCAPE_SOURCE_DIR "/deploy/nginx/microscape-mirror.conf";
    microscape::bench::BenchArgs args("bench_fanout",
                                      "One bundle to many players over the hub, with and "
                                      "without CURVE, against nginx serving the same files.");
    args.option("players", "players fetching at once", playersArg, 1, 100000)
        .option("mib", "media in the bundle, MiB", mediaMiBArg, 1, 1 << 20)
        .option("media-mib", "the same as --mib", mediaMiBArg, 1, 1 << 20)
        .option("files", "media files in the bundle", filesArg, 1, 100000)
        .option("mode", "CURVE on the hub or not: plain, curve or both", mode, {"plain", "curve", "both"})
        .flag("via-mirror",
              "instead: players fetch through an nginx media mirror; prints the controller's egress against the "
              "media size (goal 1x)",
              viaMirror)
        .option("mirror-conf", "the nginx mirror file for --via-mirror", mirrorConf);
    if (int rc = args.parse(argc, argv); rc >= 0) return rc;
    const int players = static_cast<int>(playersArg), files = static_cast<int>(filesArg);
    const auto mediaMiB = static_cast<std::uint64_t>(mediaMiBArg);
    Poco::Logger::root().setLevel("error");
    TempDir tmp("fanout");
    fs::permissions(tmp.path, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                                  fs::perms::others_read | fs::perms::others_exec);  // nginx workers read it
    const std::uint64_t each = mediaMiB * 1024 * 1024 / static_cast<std::uint64_t>(files);
    auto media = makeMediaFiles(tmp.path / "media", files, each, 7);
    const double gib = static_cast<double>(each * files) * players / (1024.0 * 1024 * 1024);
    std::printf("fan-out: %llu MiB of new media (%d files) to %d players = %.1f GiB over loopback\n",
                static_cast<unsigned long long>(mediaMiB), files, players, gib);
    int rc = 0;
    if (viaMirror) {
        if (!microscape::testing::NginxMirror::available()) {
            std::fprintf(stderr, "bench_fanout: --via-mirror needs %s (apt-get install nginx)\n",
                         microscape::testing::NginxMirror::kNginx);
            return 1;
        }
        fs::create_directories(tmp.path / "m");
        const auto r = fanout_mirror::run(players, tmp.path / "m", tmp.path / "media", media, mirrorConf);
        const double size = static_cast<double>(each * files);
        const double egress = static_cast<double>(r.originBytes + r.hubBytes);
        std::printf(
            "  via mirror: %.2f s; controller egress %.1f MiB (HTTP origin %.1f MiB, hub %.1f MiB) for %.1f MiB of "
            "media = %.2f x the media size (goal 1.0); players got %.1f MiB from the mirror\n",
            r.seconds, egress / 1048576.0, static_cast<double>(r.originBytes) / 1048576.0,
            static_cast<double>(r.hubBytes) / 1048576.0, size / 1048576.0, egress / size,
            static_cast<double>(r.playerMirrorBytes) / 1048576.0);
        return r.seconds < 0 ? 1 : 0;
    }
    for (bool enc : {true, false}) {
        if ((enc && mode == "plain") || (!enc && mode == "curve")) continue;
        fs::create_directories(tmp.path / "p");
        const double ours = runHub(enc, players, tmp.path / "p", tmp.path / "media", media);
        fs::remove_all(tmp.path / "p");
        fs::create_directories(tmp.path / "n");
        const double base = runNginx(enc, players, tmp.path / "n", tmp.path / "media", media);
        fs::remove_all(tmp.path / "n");
        std::printf(
            "  %s: hub %.2f s (%.2f GB/s), nginx %.2f s (%.2f GB/s): ratio %.2f x nginx (goal <= "
            "1.0)\n",
            enc ? "CURVE vs HTTPS" : "plain vs HTTP", ours, gib * 1.0737 / ours, base, gib * 1.0737 / base,
            ours / base);
        if (ours < 0 || base < 0) rc = 1;
    }
    return rc;
}
