// scale: N (default 5,000) connected simulated players with heartbeats against
// a hub in its own process (CURVE + ZAP on): the hub process's RSS and CPU, and
// the time for a takeover manifest to reach every player (p50/p99).
// Goal: <= 256 MB RSS, p99 <= 1 s. Usage: bench_scale [--players 5000]
#include <sys/wait.h>

#include <cstring>
#include <iostream>
#include <zmq.hpp>
#include <zmq_addon.hpp>

#include "bench_args.hpp"
#include "microscape/core/wire.hpp"
#include "swarm_support.hpp"

using namespace swarm;

namespace {

long cpuTicks(pid_t pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
    std::string s((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    auto p = s.rfind(')');
    std::istringstream rest(s.substr(p + 2));
    std::string f;
    long utime = 0, stime = 0;
    for (int i = 3; i <= 15; ++i) {
        rest >> f;
        if (i == 14) utime = std::stol(f);
        if (i == 15) stime = std::stol(f);
    }
    return utime + stime;
}

}  // namespace

int main(int argc, char** argv) {
    std::int64_t players = 5000;
    microscape::bench::BenchArgs args("bench_scale",
                                      "Many CURVE players on one hub: connect, manifest and "
                                      "heartbeat cost.");
    args.option("players", "players connected at once", players, 1, 1000000);
    if (int rc = args.parse(argc, argv); rc >= 0) return rc;
    const int n = static_cast<int>(players);
    TempDir tmp("scale");
    auto key = crypto::PrivateKey::generate().value();
    auto media = makeMediaFiles(tmp.path / "media", 1, 4096, 3);
    auto server = controller::makeCurveKeyPair().value();
    struct Client {
        std::string id, pub, sec;
        controller::HubManifest takeover;
    };
    std::vector<Client> clients(static_cast<std::size_t>(n));
    MapBackend backend(tmp.path / "media");
    for (int i = 0; i < n; ++i) {
        auto& c = clients[static_cast<std::size_t>(i)];
        c.id = "scr-sim" + std::to_string(i);
        char pub[41] = {}, sec[41] = {};
        zmq_curve_keypair(pub, sec);
        c.pub.assign(pub, 40);
        c.sec.assign(sec, 40);
        c.takeover = signedFor(c.id, 1, media, key);
        backend.addKey(c.pub, c.id);
    }
    int toChild[2], toParent[2];
    if (::pipe(toChild) != 0 || ::pipe(toParent) != 0) return 1;
    pid_t hubPid = ::fork();
    if (hubPid == 0) {
        Poco::Logger::root().setLevel("error");
        controller::HubConfig hc;
        hc.bind = "127.0.0.1";
        hc.port = 0;
        hc.curveSecretZ85 = server.secretZ85;
        hc.heartbeatMs = 5000;
        controller::Hub hub(hc, backend, Poco::Logger::get("bench.hub"));
        if (!hub.start()) ::_exit(1);
        const std::uint16_t port = hub.port();
        if (::write(toParent[1], &port, sizeof port) != sizeof port) ::_exit(1);
        char cmd = 0;
        while (::read(toChild[0], &cmd, 1) == 1) {
            if (cmd == 'g')
                for (auto& c : clients) hub.publish(c.takeover);
            if (cmd == 'q') break;
        }
        hub.stop();
        ::_exit(0);
    }
    std::uint16_t port = 0;
    if (::read(toParent[0], &port, sizeof port) != sizeof port) return 1;
    const std::string ep = "tcp://127.0.0.1:" + std::to_string(port);
    const long baseRss = rssKiB(hubPid);

    zmq::context_t ctx(1);
    ctx.set(zmq::ctxopt::max_sockets, n + 100);
    std::vector<zmq::socket_t> socks;
    socks.reserve(clients.size());
    const double tConnect = nowS();
    for (auto& c : clients) {
        socks.emplace_back(ctx, zmq::socket_type::dealer);
        auto& s = socks.back();
        s.set(zmq::sockopt::linger, 0);
        s.set(zmq::sockopt::routing_id, c.id);
        s.set(zmq::sockopt::curve_serverkey, server.publicZ85);
        s.set(zmq::sockopt::curve_publickey, c.pub);
        s.set(zmq::sockopt::curve_secretkey, c.sec);
        s.connect(ep);
        wire::Hello h;
        h.playerId = c.id;
        for (auto& f : wire::encode(wire::toEnvelope(h)))
            (void)s.send(zmq::buffer(f), f.rfind("{", 0) == 0 ? zmq::send_flags::none : zmq::send_flags::sndmore);
    }
    std::vector<zmq::pollitem_t> items;
    for (auto& s : socks) items.push_back({s.handle(), 0, ZMQ_POLLIN, 0});
    std::vector<char> welcomed(clients.size(), 0);
    std::vector<double> got(clients.size(), 0);
    std::vector<double> lastBeat(clients.size(), nowS());
    std::size_t nWelcomed = 0, nGot = 0;
    double t0 = 0;
    bool sent = false;
    auto pump = [&](double untilS, auto&& stop) {
        while (nowS() < untilS && !stop()) {
            zmq::poll(items.data(), items.size(), std::chrono::milliseconds(50));
            const double now = nowS();
            for (std::size_t i = 0; i < socks.size(); ++i) {
                if (items[i].revents & ZMQ_POLLIN) {
                    while (true) {
                        std::vector<zmq::message_t> parts;
                        auto r = zmq::recv_multipart(socks[i], std::back_inserter(parts), zmq::recv_flags::dontwait);
                        if (!r) break;
                        const std::string type = parts[0].to_string();
                        if (type == "WELCOME" && !welcomed[i]) {
                            welcomed[i] = 1;
                            ++nWelcomed;
                        } else if (type == "MANIFEST" && sent && got[i] == 0) {
                            got[i] = now - t0;
                            ++nGot;
                        }
                    }
                }
                if (now - lastBeat[i] > 5.0) {
                    lastBeat[i] = now;
                    const std::string hb = json::canonical(json::Value(json::Object{{"time_ms", wallMs()}}));
                    (void)socks[i].send(zmq::str_buffer("HEARTBEAT"),
                                        zmq::send_flags::sndmore | zmq::send_flags::dontwait);
                    (void)socks[i].send(zmq::buffer(hb), zmq::send_flags::dontwait);
                }
            }
        }
    };
    pump(nowS() + 120, [&] { return nWelcomed == clients.size(); });
    const double connectS = nowS() - tConnect;
    // Steady state with heartbeats: measure the hub process over 10 s.
    const long ticks0 = cpuTicks(hubPid);
    const double s0 = nowS();
    pump(nowS() + 10, [] { return false; });
    const double cpuPct = 100.0 * static_cast<double>(cpuTicks(hubPid) - ticks0) /
                          static_cast<double>(sysconf(_SC_CLK_TCK)) / (nowS() - s0);
    const long rss = rssKiB(hubPid);
    // The takeover.
    sent = true;
    t0 = nowS();
    if (::write(toChild[1], "g", 1) != 1) return 1;
    pump(nowS() + 60, [&] { return nGot == clients.size(); });
    const long rssAfter = rssKiB(hubPid);
    std::vector<double> times;
    for (double g : got)
        if (g > 0) times.push_back(g);
    std::printf("scale: %d simulated players (CURVE, own keys), hub in its own process\n", n);
    std::printf(
        "  connected %zu/%d in %.1f s; hub RSS %.1f MB idle, %.1f MB connected, %.1f MB after "
        "takeover "
        "(goal <= 256 MB); hub CPU %.1f %% of one core with heartbeats every 5 s\n",
        nWelcomed, n, connectS, baseRss / 1024.0, rss / 1024.0, rssAfter / 1024.0, cpuPct);
    std::printf("  takeover reached %zu/%d: p50 %.0f ms, p99 %.0f ms, max %.0f ms (goal p99 <= 1000 ms)\n",
                times.size(), n, percentile(times, 0.5) * 1000, percentile(times, 0.99) * 1000,
                percentile(times, 1.0) * 1000);
    if (::write(toChild[1], "q", 1) != 1) return 1;
    socks.clear();
    ::waitpid(hubPid, nullptr, 0);
    return (times.size() == clients.size() && percentile(times, 0.99) <= 1.0 && rssAfter <= 256 * 1024) ? 0 : 3;
}
