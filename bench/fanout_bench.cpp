// fan-out: new media pushed to N players over loopback by the hub, against
// nginx (Debian's package, own config, started here) serving the same files to
// N concurrent HTTP clients. Encrypted against encrypted (CURVE vs HTTPS with a
// self-signed certificate made here) and plain against plain.
// The goal ratio compares equal client work: each player writes every byte to
// disk, SHA-256s it as it arrives and fsyncs each finished file, and so does each
// HTTP client (libcurl, one thread per client; the digest must match the file's
// name). N `curl -o` processes, which only write, are printed for reference.
// Per mode it also prints the server side's CPU seconds per GiB delivered: the
// hub's own threads (hub thread, proof workers, libzmq I/O threads) against
// nginx's master and workers.
// Usage: bench_fanout [--players 50] [--media-mib 1024] [--files 8] [--mode both|curve|plain]
//                     [--chunk-kib 1024] [--window 8] [--sealed-budget-mib 256] [--io-threads 2] [--via-mirror]
// (the transfer settings default to the product's: wire::kDefaultChunkBytes,
// wire::kDefaultWindow, HubConfig::sealedBudgetBytes)
// --via-mirror: instead, the players fetch the media through an nginx media
// mirror (fanout_mirror.hpp) and the controller's egress is compared with the media size.
#include <curl/curl.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <cerrno>
#include <cstring>
#include <iostream>
#include <set>
#include <sstream>

#include "bench_args.hpp"
#include "fanout_mirror.hpp"
#include "microscape/core/chunk_memory.hpp"
#include "microscape/pack/file_io.hpp"
#include "microscape/player/cache.hpp"
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

// The ids of this process's threads.
std::set<long> threadIds() {
    std::set<long> ids;
    std::error_code ec;
    for (auto it = fs::directory_iterator("/proc/self/task", ec); !ec && it != fs::directory_iterator();
         it.increment(ec))
        ids.insert(std::stol(it->path().filename().string()));
    return ids;
}

// The CPU seconds (user + system) one of this process's threads has used.
double threadCpuSeconds(long tid) {
    std::ifstream in("/proc/self/task/" + std::to_string(tid) + "/stat");
    std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const auto close = stat.rfind(')');  // the name may hold spaces and parentheses
    if (close == std::string::npos) return 0;
    std::istringstream fields(stat.substr(close + 2));
    std::string f;
    unsigned long long utime = 0, stime = 0;
    for (int field = 3; field <= 15 && fields >> f; ++field) {  // proc(5): utime is field 14, stime 15
        if (field == 14) utime = std::stoull(f);
        if (field == 15) stime = std::stoull(f);
    }
    return static_cast<double>(utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

// The CPU seconds (user + system) of the children reaped so far and of theirs.
double childrenCpuSeconds() {
    rusage ru{};
    ::getrusage(RUSAGE_CHILDREN, &ru);
    auto s = [](const timeval& t) { return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6; };
    return s(ru.ru_utime) + s(ru.ru_stime);
}

// Wall seconds (-1: failed) and the CPU seconds the server side used.
struct Run {
    double seconds = -1;
    double serverCpuSeconds = 0;
};

// The hub's transfer settings: chunk size, credit window (FETCHes in flight per
// player) and the memory for sealed chunks, all players together.
struct Transfer {
    std::uint32_t chunkBytes = wire::kDefaultChunkBytes;
    int window = wire::kDefaultWindow;
    std::size_t sealedBudgetBytes = controller::HubConfig{}.sealedBudgetBytes;
    int ioThreads = controller::HubConfig{}.ioThreads;
};

Run runHub(bool curve, int players, const fs::path& root, const fs::path& mediaDir,
           const std::vector<manifest::MediaEntry>& media, const Transfer& transfer) {
    auto key = crypto::PrivateKey::generate().value();
    MapBackend backend(mediaDir);
    auto kp = controller::makeCurveKeyPair().value();
    controller::HubConfig hc;
    hc.bind = "127.0.0.1";
    hc.port = 0;
    hc.curve = curve;
    hc.curveSecretZ85 = kp.secretZ85;
    hc.heartbeatMs = 1000;
    hc.maxChunkBytes = transfer.chunkBytes;
    hc.maxWindow = static_cast<std::uint32_t>(transfer.window);
    hc.sealedBudgetBytes = transfer.sealedBudgetBytes;
    hc.ioThreads = transfer.ioThreads;
    hc.bulkPort = 0;  // CURVE sessions get the bulk channel, as a controller has by default
    controller::Hub hub(hc, backend, Poco::Logger::get("bench.hub"));
    // The hub's own threads are those start() makes: the hub thread, its proof
    // workers and its libzmq context's I/O threads (no other thread starts meanwhile).
    const auto before = threadIds();
    if (!hub.start()) return {};
    std::vector<long> hubThreads;
    for (long tid : threadIds())
        if (!before.count(tid)) hubThreads.push_back(tid);
    auto ps = makePlayers(players, root, "tcp://127.0.0.1:" + std::to_string(hub.port()), curve, kp.publicZ85,
                          key.publicKey(), backend, transfer.window, transfer.chunkBytes);
    for (auto& p : ps)
        if (!p.agent->start()) return {};
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
    Run r;
    for (long tid : hubThreads) r.serverCpuSeconds += threadCpuSeconds(tid);
    std::printf("    per-player sync time: p50 %.2f s, p99 %.2f s, max %.2f s\n", percentile(done, 0.5),
                percentile(done, 0.99), percentile(done, 1.0));
    if (curve) {
        const auto st = hub.stats();
        std::printf(
            "    bulk channel: %.1f GiB sealed (AES-256-GCM); %llu chunks waited for the %zu MiB sealed budget\n",
            static_cast<double>(st.bytesSealed) / (1024.0 * 1024 * 1024),
            static_cast<unsigned long long>(st.chunksWaited), transfer.sealedBudgetBytes >> 20);
    }
    for (auto& p : ps) p.agent->stop();
    hub.stop();
    if (remaining == 0) r.seconds = total;
    return r;
}

// The equal-work HTTP client: like a player's cache (player/src/cache.cpp), each
// file goes to partial/<sha> as it arrives and is SHA-256'd as it arrives
// (crypto::Sha256, OpenSSL EVP); when complete it is fsynced, its digest compared
// with its name, renamed into blobs/ and the directory synced. As the player's
// cache does, it starts writeback every Cache::kWritebackBytes (sync_file_range).
// One connection per client, reused for every file (as one curl command with
// several URLs does).
struct FileSink {
    int fd = -1;
    crypto::Sha256 hash;
    std::uint64_t bytes = 0;
    std::uint64_t writebackFrom = 0;
    int writeErrno = 0;
};

std::size_t onBody(char* data, std::size_t size, std::size_t count, void* user) {
    auto& sink = *static_cast<FileSink*>(user);
    const std::size_t n = size * count;
    for (std::size_t done = 0; done < n;) {
        const ssize_t w = ::write(sink.fd, data + done, n - done);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            sink.writeErrno = w < 0 ? errno : EIO;
            return 0;  // anything but n ends the transfer with CURLE_WRITE_ERROR
        }
        done += static_cast<std::size_t>(w);
    }
    sink.hash.update(data, n);
    sink.bytes += n;
    if (sink.bytes - sink.writebackFrom >= player::Cache::kWritebackBytes) {
        (void)::sync_file_range(sink.fd, static_cast<off_t>(sink.writebackFrom),
                                static_cast<off_t>(sink.bytes - sink.writebackFrom), SYNC_FILE_RANGE_WRITE);
        sink.writebackFrom = sink.bytes;
    }
    return n;
}

// Fetches every file into dir; returns an empty string or what failed.
std::string fetchVerified(const std::string& base, const fs::path& dir,
                          const std::vector<manifest::MediaEntry>& media) {
    std::unique_ptr<CURL, void (*)(CURL*)> h(curl_easy_init(), curl_easy_cleanup);
    if (!h) return "curl_easy_init failed";
    fs::create_directories(dir / "partial");
    fs::create_directories(dir / "blobs");
    FileSink sink;
    char err[CURL_ERROR_SIZE] = {};
    curl_easy_setopt(h.get(), CURLOPT_BUFFERSIZE, 102400L);  // what the curl command sets (curl --libcurl shows it)
    curl_easy_setopt(h.get(), CURLOPT_HTTP_VERSION, static_cast<long>(CURL_HTTP_VERSION_1_1));
    curl_easy_setopt(h.get(), CURLOPT_SSL_VERIFYPEER, 0L);  // the bench's self-signed certificate (curl -k)
    curl_easy_setopt(h.get(), CURLOPT_SSL_VERIFYHOST, 0L);
    curl_easy_setopt(h.get(), CURLOPT_FAILONERROR, 1L);
    curl_easy_setopt(h.get(), CURLOPT_NOSIGNAL, 1L);  // threads
    curl_easy_setopt(h.get(), CURLOPT_ERRORBUFFER, err);
    curl_easy_setopt(h.get(), CURLOPT_WRITEFUNCTION, onBody);
    curl_easy_setopt(h.get(), CURLOPT_WRITEDATA, &sink);
    for (const auto& e : media) {
        const fs::path partial = dir / "partial" / e.sha256;
        sink.fd = ::open(partial.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (sink.fd < 0) return "cannot open " + partial.string() + ": " + std::strerror(errno);
        sink.bytes = sink.writebackFrom = 0;
        err[0] = '\0';
        const std::string url = base + e.sha256;
        curl_easy_setopt(h.get(), CURLOPT_URL, url.c_str());
        const CURLcode rc = curl_easy_perform(h.get());
        const bool synced = ::fsync(sink.fd) == 0;
        ::close(sink.fd);
        sink.fd = -1;
        if (rc != CURLE_OK)
            return url + ": " +
                   (sink.writeErrno ? std::strerror(sink.writeErrno)
                    : err[0]        ? err
                                    : curl_easy_strerror(rc));
        if (!synced) return "fsync failed for " + partial.string();
        if (sink.bytes != e.sizeBytes)
            return url + ": " + std::to_string(sink.bytes) + " bytes, expected " + std::to_string(e.sizeBytes);
        const std::string digest = crypto::toHex(sink.hash.finish());
        if (digest != e.sha256) return url + ": the body hashes to " + digest;
        if (::rename(partial.c_str(), (dir / "blobs" / e.sha256).c_str()) != 0)
            return "cannot move " + partial.string() + " into blobs/: " + std::strerror(errno);
        if (auto st = pack::syncDir((dir / "blobs").string()); !st) return st.error().message;
    }
    return {};
}

enum class Clients {
    CurlCommand,  // `curl -o` processes: write only (the reference)
    Verifying,    // libcurl threads doing a player's work (fetchVerified)
};

bool waitForListener(int port, pid_t server) {
    const double until = nowS() + 30;
    while (nowS() < until) {
        if (::waitpid(server, nullptr, WNOHANG) == server) return false;
        int s = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        a.sin_port = htons(static_cast<std::uint16_t>(port));
        const bool up = ::connect(s, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
        ::close(s);
        if (up) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
}

// nginx started for this run alone, so that its CPU (master and workers, reaped
// by the master and counted in RUSAGE_CHILDREN when it is reaped here) is this run's.
Run runNginx(bool tls, Clients kind, int players, const fs::path& root, const fs::path& mediaDir,
             const std::vector<manifest::MediaEntry>& media) {
    const int port = freePort();
    const fs::path conf = root / "nginx.conf";
    if (tls && !fs::exists(root / "cert.pem") &&
        std::system(("openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=localhost -days 1 -keyout " +
                     (root / "key.pem").string() + " -out " + (root / "cert.pem").string() + " 2>/dev/null")
                        .c_str()) != 0)
        return {};
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
    if (!waitForListener(port, nginx)) {
        std::fprintf(stderr, "bench_fanout: nginx did not start (see %s)\n", (root / "error.log").c_str());
        ::kill(nginx, SIGKILL);
        ::waitpid(nginx, nullptr, 0);
        return {};
    }
    const std::string base = std::string(tls ? "https" : "http") + "://127.0.0.1:" + std::to_string(port) + "/";
    bool ok = true;
    double total = 0;
    if (kind == Clients::CurlCommand) {
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
        for (pid_t c : clients) {
            int st = 0;
            ::waitpid(c, &st, 0);
            ok = ok && WIFEXITED(st) && WEXITSTATUS(st) == 0;
        }
        total = nowS() - t0;
    } else {
        // One thread per client: each client works (receive, write, hash, fsync)
        // independently of the others, as each player's agent and each curl process
        // does, and the clients' work may use both cores. (One multi handle would
        // put all clients' hashing and writing on one thread.)
        std::vector<std::string> errors(static_cast<std::size_t>(players));
        std::vector<double> done(static_cast<std::size_t>(players), 0);
        std::vector<std::thread> clients;
        const double t0 = nowS();
        for (int i = 0; i < players; ++i)
            clients.emplace_back([&, i] {
                const auto k = static_cast<std::size_t>(i);
                errors[k] = fetchVerified(base, root / ("client" + std::to_string(i)), media);
                done[k] = nowS() - t0;
            });
        for (auto& t : clients) t.join();
        total = nowS() - t0;
        for (int i = 0; i < players; ++i)
            if (!errors[static_cast<std::size_t>(i)].empty()) {
                ok = false;
                std::fprintf(stderr, "bench_fanout: HTTP client %d: %s\n", i,
                             errors[static_cast<std::size_t>(i)].c_str());
            }
        std::printf("    per-client time (write, SHA-256, fsync): p50 %.2f s, p99 %.2f s, max %.2f s\n",
                    percentile(done, 0.5), percentile(done, 0.99), percentile(done, 1.0));
    }
    const double cpu0 = childrenCpuSeconds();
    ::kill(nginx, SIGQUIT);
    ::waitpid(nginx, nullptr, 0);
    Run r;
    r.serverCpuSeconds = childrenCpuSeconds() - cpu0;
    for (int i = 0; i < players; ++i) fs::remove_all(root / ("client" + std::to_string(i)));
    if (ok) r.seconds = total;
    return r;
}

std::string fmt(const char* format, double v) {
    char buf[64];
    std::snprintf(buf, sizeof buf, format, v);
    return buf;
}

// "5.84 s (1.15 GB/s)" for gib GiB delivered, or "failed".
std::string rate(double seconds, double gib) {
    if (seconds < 0) return "failed";
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.2f s (%.2f GB/s)", seconds, gib * 1.0737 / seconds);
    return buf;
}

}  // namespace

int main(int argc, char** argv) {
    // As microscape-controller and microscape-player do (the hub and the players
    // run in this process; the libcurl clients allocate nothing that large).
    keepChunkBuffers();
    const Transfer product;
    std::int64_t playersArg = 50, filesArg = 8, mediaMiBArg = 1024, chunkKiBArg = product.chunkBytes / 1024,
                 windowArg = product.window, ioThreadsArg = product.ioThreads,
                 sealedBudgetMiBArg = static_cast<std::int64_t>(product.sealedBudgetBytes >> 20);
    std::string mode = "both";
    bool viaMirror = false;
    std::string mirrorConf = MICROSCAPE_SOURCE_DIR "/deploy/nginx/microscape-mirror.conf";
    microscape::bench::BenchArgs args("bench_fanout",
                                      "One bundle to many players over the hub, with and "
                                      "without CURVE, against nginx serving the same files to as many "
                                      "HTTP clients that write, SHA-256 and fsync every file as a player "
                                      "does (and, for reference, to curl -o); also the server side's CPU "
                                      "seconds per GiB delivered.");
    args.option("players", "players fetching at once", playersArg, 1, 100000)
        .option("mib", "media in the bundle, MiB", mediaMiBArg, 1, 1 << 20)
        .option("media-mib", "the same as --mib", mediaMiBArg, 1, 1 << 20)
        .option("files", "media files in the bundle", filesArg, 1, 100000)
        .option("mode", "CURVE on the hub or not: plain, curve or both", mode, {"plain", "curve", "both"})
        .option("chunk-kib", "the hub's chunk size, KiB (1024 at most)", chunkKiBArg, 4, 1024)
        .option("window", "FETCHes in flight per player (64 at most)", windowArg, 1, 64)
        .option("io-threads", "the hub's libzmq I/O threads", ioThreadsArg, 1, 64)
        .option("sealed-budget-mib", "the hub's memory for sealed chunks (bulk channel), MiB", sealedBudgetMiBArg, 1,
                1 << 20)
        .flag("via-mirror",
              "instead: players fetch through an nginx media mirror; prints the controller's egress against the "
              "media size (goal 1x)",
              viaMirror)
        .option("mirror-conf", "the nginx mirror file for --via-mirror", mirrorConf);
    if (int rc = args.parse(argc, argv); rc >= 0) return rc;
    const int players = static_cast<int>(playersArg), files = static_cast<int>(filesArg);
    const auto mediaMiB = static_cast<std::uint64_t>(mediaMiBArg);
    const Transfer transfer{static_cast<std::uint32_t>(chunkKiBArg) * 1024, static_cast<int>(windowArg),
                            static_cast<std::size_t>(sealedBudgetMiBArg) << 20, static_cast<int>(ioThreadsArg)};
    Poco::Logger::root().setLevel("error");
    std::setvbuf(stdout, nullptr, _IOLBF, 0);  // each line as it comes, among stderr's
    TempDir tmp("fanout");
    fs::permissions(tmp.path, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                                  fs::perms::others_read | fs::perms::others_exec);  // nginx workers read it
    const std::uint64_t each = mediaMiB * 1024 * 1024 / static_cast<std::uint64_t>(files);
    auto media = makeMediaFiles(tmp.path / "media", files, each, 7);
    const double gib = static_cast<double>(each * files) * players / (1024.0 * 1024 * 1024);
    std::printf("fan-out: %llu MiB of new media (%d files) to %d players = %.1f GiB over loopback\n",
                static_cast<unsigned long long>(mediaMiB), files, players, gib);
    if (!viaMirror)
        std::printf("  hub: %u KiB chunks, %d in flight per player, %zu MiB for sealed chunks, %d libzmq I/O threads\n",
                    transfer.chunkBytes / 1024, transfer.window, transfer.sealedBudgetBytes >> 20, transfer.ioThreads);
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
    curl_global_init(CURL_GLOBAL_DEFAULT);
    for (bool enc : {true, false}) {
        if ((enc && mode == "plain") || (!enc && mode == "curve")) continue;
        fs::create_directories(tmp.path / "p");
        const Run ours = runHub(enc, players, tmp.path / "p", tmp.path / "media", media, transfer);
        fs::remove_all(tmp.path / "p");
        fs::create_directories(tmp.path / "n");
        const Run ref = runNginx(enc, Clients::CurlCommand, players, tmp.path / "n", tmp.path / "media", media);
        std::printf("    reference: nginx -> curl -o, writes only: %s, nginx CPU %.2f s/GiB\n",
                    rate(ref.seconds, gib).c_str(), ref.serverCpuSeconds / gib);
        const Run base = runNginx(enc, Clients::Verifying, players, tmp.path / "n", tmp.path / "media", media);
        fs::remove_all(tmp.path / "n");
        const bool ran = ours.seconds > 0 && base.seconds > 0;
        const std::string ratio = ran ? fmt("ratio %.2f x nginx (goal <= 1.0)", ours.seconds / base.seconds)
                                      : std::string("no ratio: a run failed");
        std::printf("  %s: hub %s, nginx %s to clients that write, SHA-256 and fsync as players do: %s\n",
                    enc ? "CURVE vs HTTPS" : "plain vs HTTP", rate(ours.seconds, gib).c_str(),
                    rate(base.seconds, gib).c_str(), ratio.c_str());
        std::printf(
            "    server CPU per GiB delivered: hub %.2f s (hub thread, proof workers, libzmq I/O threads), "
            "nginx %.2f s (master and workers): %s\n",
            ours.serverCpuSeconds / gib, base.serverCpuSeconds / gib,
            base.serverCpuSeconds > 0 ? fmt("%.2f x nginx", ours.serverCpuSeconds / base.serverCpuSeconds).c_str()
                                      : "no ratio");
        if (ours.seconds < 0 || base.seconds < 0 || ref.seconds < 0) rc = 1;
    }
    curl_global_cleanup();
    return rc;
}
