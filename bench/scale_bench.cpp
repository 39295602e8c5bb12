// scale: N (default 5,000) connected simulated players with heartbeats against
// a hub in its own process (CURVE + ZAP on): the hub process's RSS and CPU, and
// the time for a takeover manifest to reach every player (p50/p99).
// Goal: <= 256 MB RSS, p99 <= 1 s. Usage: bench_scale [--players 5000]
//
// --nodes 2: N (default 10,000) players across two real controller nodes
// (ControllerServer, each in its own process with its own data directory: node
// 1's keys copied, its media shared) on one throwaway PostgreSQL cluster; half
// the players connect to each node's hub. The takeover: a new manifest version
// for every player stored in one transaction and announced as the compiler
// does (sql::announce), so that both nodes' hubs learn of it by LISTEN/NOTIFY
// and push it. Prints p50/p99 per node and each node's RSS. Goal: p99 <= 1 s.
#include <sys/resource.h>
#include <sys/wait.h>

#include <cstring>
#include <iostream>
#include <zmq.hpp>
#include <zmq_addon.hpp>

#include "bench_args.hpp"
#include "microscape/controller/db.hpp"
#include "microscape/controller/server.hpp"
#include "microscape/core/wire.hpp"
#include "store/change_feed.hpp"
#include "swarm_support.hpp"
#ifdef MICROSCAPE_BENCH_PG_TEMP
#include "cluster.hpp"
#include "pg_cluster.hpp"
#endif

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

#ifdef MICROSCAPE_BENCH_PG_TEMP
std::string readFile(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// A controller node (its own process) until 'q' or EOF on cmdFd; its HTTP and
// hub ports go to outFd once it listens.
[[noreturn]] void runNode(const controller::ControllerConfig& config, int cmdFd, int outFd) {
    Poco::Logger::root().setLevel("error");
    controller::ControllerServer server(config, Poco::Logger::get("bench.node"));
    if (!server.start()) ::_exit(1);
    const std::uint16_t ports[2] = {server.httpPort(), server.zmqPort()};
    if (::write(outFd, ports, sizeof ports) != sizeof ports) ::_exit(1);
    char cmd = 0;
    while (::read(cmdFd, &cmd, 1) == 1 && cmd != 'q') {
    }
    server.stop();
    ::_exit(0);
}

struct SimKey {
    std::string id, pub, sec;
};

// The screens of one node (their own process: each DEALER holds two file
// descriptors). Connects them all and writes {welcomed, connect seconds} to
// outFd (after at most 10 minutes); then keeps heartbeating until every screen has manifest version
// `version` or 60 s after 't' arrives on cmdFd; then writes, per screen, the
// steady-clock second it got that version (0: never).
[[noreturn]] void runScreens(const std::vector<SimKey>& keys, const std::string& ep, const std::string& serverPub,
                             std::int64_t version, int cmdFd, int outFd) {
    zmq::context_t ctx(1);
    ctx.set(zmq::ctxopt::max_sockets, static_cast<int>(keys.size()) + 100);
    std::vector<zmq::socket_t> socks;
    socks.reserve(keys.size());
    const double tConnect = nowS();
    for (const auto& k : keys) {
        socks.emplace_back(ctx, zmq::socket_type::dealer);
        auto& s = socks.back();
        s.set(zmq::sockopt::linger, 0);
        s.set(zmq::sockopt::routing_id, k.id);
        s.set(zmq::sockopt::curve_serverkey, serverPub);
        s.set(zmq::sockopt::curve_publickey, k.pub);
        s.set(zmq::sockopt::curve_secretkey, k.sec);
        s.connect(ep);
        wire::Hello h;
        h.playerId = k.id;
        for (auto& f : wire::encode(wire::toEnvelope(h)))
            (void)s.send(zmq::buffer(f), f.rfind("{", 0) == 0 ? zmq::send_flags::none : zmq::send_flags::sndmore);
    }
    std::vector<zmq::pollitem_t> items;
    for (auto& s : socks) items.push_back({s.handle(), 0, ZMQ_POLLIN, 0});
    items.push_back({nullptr, cmdFd, ZMQ_POLLIN, 0});
    std::vector<char> welcomed(keys.size(), 0);
    std::vector<double> got(keys.size(), 0);
    std::vector<double> lastBeat(keys.size(), nowS());
    std::size_t nWelcomed = 0, nGot = 0;
    double deadline = nowS() + 600;  // a real node checks each key and reads each manifest from the store
    bool connectedSent = false, takeover = false;
    while (true) {
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
                    } else if (type == "MANIFEST" && got[i] == 0) {
                        std::vector<std::string_view> frames;
                        for (auto& m : parts) frames.push_back(m.to_string_view());
                        auto env = wire::decode(frames);
                        if (!env) continue;
                        auto push = wire::parseManifestPush(*env);
                        if (push && push->version == version) {
                            got[i] = nowS();  // not the pass's start: a pass over 5,000 sockets takes a while
                            ++nGot;
                        }
                    }
                }
            }
            if (now - lastBeat[i] > 5.0) {
                lastBeat[i] = now;
                const std::string hb = json::canonical(json::Value(json::Object{{"time_ms", wallMs()}}));
                (void)socks[i].send(zmq::str_buffer("HEARTBEAT"), zmq::send_flags::sndmore | zmq::send_flags::dontwait);
                (void)socks[i].send(zmq::buffer(hb), zmq::send_flags::dontwait);
            }
        }
        if (items.back().revents & ZMQ_POLLIN) {
            char cmd = 0;
            if (::read(cmdFd, &cmd, 1) != 1) break;
            if (cmd == 't') {
                takeover = true;
                deadline = now + 60;
            }
        }
        if (!connectedSent && (nWelcomed == keys.size() || now > deadline)) {
            connectedSent = true;
            const double r[2] = {static_cast<double>(nWelcomed), now - tConnect};
            if (::write(outFd, r, sizeof r) != sizeof r) ::_exit(1);
            deadline = now + 600;  // until the takeover
        }
        if (takeover && (nGot == keys.size() || now > deadline)) break;
    }
    const auto bytes = static_cast<ssize_t>(got.size() * sizeof(double));
    if (::write(outFd, got.data(), static_cast<std::size_t>(bytes)) != bytes) ::_exit(1);
    socks.clear();
    ::_exit(0);
}

template <class T>
bool readAll(int fd, T* out, std::size_t count) {
    auto* p = reinterpret_cast<char*>(out);
    std::size_t left = count * sizeof(T);
    while (left > 0) {
        const ssize_t r = ::read(fd, p, left);
        if (r <= 0) return false;
        p += r;
        left -= static_cast<std::size_t>(r);
    }
    return true;
}

int twoNodes(int n) {
    microscape::testing::PgCluster pg;
    const std::string url = pg.createDatabase();
    TempDir tmp("scale2");
    struct Node {
        controller::ControllerConfig config;
        pid_t pid = 0;
        int cmd = -1, out = -1;
        std::uint16_t http = 0, hub = 0;
    };
    Node nodes[2];
    for (int k = 0; k < 2; ++k) {
        auto& c = nodes[k].config;
        c.dataDir = tmp.path / ("node" + std::to_string(k + 1));
        c.httpPort = 0;
        c.httpBind = "127.0.0.1";
        c.zmqPort = 0;
        c.zmqBind = "127.0.0.1";
        c.httpThreads = 4;
        c.store = *controller::sql::parseStoreUrl(url, c.dataDir);
        fs::create_directories(c.dataDir);
        fs::permissions(c.dataDir, fs::perms::owner_all);
    }
    auto startNode = [](Node& node) {
        int toChild[2], toParent[2];
        if (::pipe(toChild) != 0 || ::pipe(toParent) != 0) return false;
        node.pid = ::fork();
        if (node.pid == 0) runNode(node.config, toChild[0], toParent[1]);
        node.cmd = toChild[1];
        node.out = toParent[0];
        std::uint16_t ports[2] = {0, 0};
        if (!readAll(node.out, ports, 2)) return false;
        node.http = ports[0];
        node.hub = ports[1];
        return true;
    };
    if (!startNode(nodes[0])) {
        std::fprintf(stderr, "bench_scale: node 1 did not start\n");
        return 1;
    }
    // Node 2: node 1's keys, node 1's media directory (as docs/guide-operator.md says).
    fs::copy(nodes[0].config.dataDir / "keys", nodes[1].config.dataDir / "keys", fs::copy_options::recursive);
    fs::create_directory_symlink(nodes[0].config.dataDir / "media", nodes[1].config.dataDir / "media");
    if (!startNode(nodes[1])) {
        std::fprintf(stderr, "bench_scale: node 2 did not start\n");
        return 1;
    }
    std::string serverPub = readFile(nodes[0].config.dataDir / "keys" / "hub-curve.pub");
    serverPub.erase(serverPub.find_last_not_of(" \r\n") + 1);
    auto key = crypto::PrivateKey::fromPem(readFile(nodes[0].config.dataDir / "keys" / "content-signing.pem"));
    if (!key || serverPub.size() != 40) {
        std::fprintf(stderr, "bench_scale: node 1's keys are unreadable\n");
        return 1;
    }

    // The screens, enrolled (a row each with its CURVE key) with a first manifest.
    std::vector<SimKey> keys(static_cast<std::size_t>(n));
    for (int i = 0; i < n; ++i) {
        auto& k = keys[static_cast<std::size_t>(i)];
        k.id = "scr-node" + std::to_string(i);
        char pub[41] = {}, sec[41] = {};
        zmq_curve_keypair(pub, sec);
        k.pub.assign(pub, 40);
        k.sec.assign(sec, 40);
    }
    const std::string pem = key->publicKey().toPem();
    auto store = [&](std::int64_t version) {
        std::vector<controller::HubManifest> ms;
        ms.reserve(keys.size());
        for (const auto& k : keys) ms.push_back(signedFor(k.id, version, {}, *key));
        return ms;
    };
    {
        auto first = store(1);
        controller::Db db(nodes[0].config.store);
        db.write([&](controller::DbConn& c) {
            for (std::size_t i = 0; i < keys.size(); ++i) {
                c.exec(
                    "INSERT INTO players(id, name, state, identity_key, curve_key, enrolled_at, updated_at) "
                    "VALUES (?, ?, 'enrolled', ?, ?, ?, ?)",
                    {keys[i].id, keys[i].id, pem, keys[i].pub, wallMs(), wallMs()});
                c.exec(
                    "INSERT INTO compiled_manifests(player_id, version, content_hash, manifest, signature, "
                    "created_at, sha256) VALUES (?, 1, 'v1', ?, ?, ?, ?)",
                    {keys[i].id, first[i].manifestBytes, crypto::base64Encode(first[i].signature), wallMs(),
                     crypto::sha256Hex(first[i].manifestBytes)});
            }
        });
    }

    // Two screen processes, half of the screens on each node's hub.
    struct Screens {
        pid_t pid = 0;
        int cmd = -1, out = -1;
        std::size_t from = 0, to = 0;
    };
    Screens screens[2];
    for (int k = 0; k < 2; ++k) {
        auto& sc = screens[k];
        sc.from = k == 0 ? 0 : keys.size() / 2;
        sc.to = k == 0 ? keys.size() / 2 : keys.size();
        int toChild[2], toParent[2];
        if (::pipe(toChild) != 0 || ::pipe(toParent) != 0) return 1;
        sc.pid = ::fork();
        if (sc.pid == 0) {
            std::vector<SimKey> mine(keys.begin() + static_cast<std::ptrdiff_t>(sc.from),
                                     keys.begin() + static_cast<std::ptrdiff_t>(sc.to));
            runScreens(mine, "tcp://127.0.0.1:" + std::to_string(nodes[k].hub), serverPub, 2, toChild[0], toParent[1]);
        }
        sc.cmd = toChild[1];
        sc.out = toParent[0];
    }
    double connected[2][2] = {};
    for (int k = 0; k < 2; ++k)
        if (!readAll(screens[k].out, connected[k], 2)) return 1;
    // Steady state with heartbeats: each node's CPU over 10 s.
    long ticks0[2], rssConnected[2];
    for (int k = 0; k < 2; ++k) ticks0[k] = cpuTicks(nodes[k].pid);
    const double s0 = nowS();
    ::sleep(10);
    double cpuPct[2];
    for (int k = 0; k < 2; ++k) {
        cpuPct[k] = 100.0 * static_cast<double>(cpuTicks(nodes[k].pid) - ticks0[k]) /
                    static_cast<double>(sysconf(_SC_CLK_TCK)) / (nowS() - s0);
        rssConnected[k] = rssKiB(nodes[k].pid);
    }

    // The takeover: version 2 for every screen, stored and announced in one
    // transaction as the compiler stores a new version (signed beforehand, as
    // the one-hub mode's manifests are).
    auto second = store(2);
    controller::Db db(nodes[0].config.store);
    const double t0 = nowS();
    for (auto& sc : screens)
        if (::write(sc.cmd, "t", 1) != 1) return 1;
    db.write([&](controller::DbConn& c) {
        for (std::size_t i = 0; i < keys.size(); ++i) {
            c.exec(
                "INSERT INTO compiled_manifests(player_id, version, content_hash, manifest, signature, created_at, "
                "sha256) VALUES (?, 2, 'v2', ?, ?, ?, ?)",
                {keys[i].id, second[i].manifestBytes, crypto::base64Encode(second[i].signature), wallMs(),
                 crypto::sha256Hex(second[i].manifestBytes)});
            controller::sql::announce(c.raw(), controller::manifestAnnouncement(keys[i].id, 2));
        }
    });
    const double committedS = nowS() - t0;
    std::vector<double> got[2];
    for (int k = 0; k < 2; ++k) {
        got[k].resize(screens[k].to - screens[k].from);
        if (!readAll(screens[k].out, got[k].data(), got[k].size())) return 1;
        ::waitpid(screens[k].pid, nullptr, 0);
    }
    long rssAfter[2];
    for (int k = 0; k < 2; ++k) rssAfter[k] = rssKiB(nodes[k].pid);

    std::printf("scale, two nodes: %d simulated players (CURVE, own keys) on two controller nodes, one PostgreSQL\n",
                n);
    std::printf("  takeover stored and announced for all %d screens in %.0f ms (one transaction)\n", n,
                committedS * 1000);
    bool ok = true;
    std::vector<double> all;
    for (int k = 0; k < 2; ++k) {
        std::vector<double> times;
        for (double g : got[k])
            if (g > 0) times.push_back(g - t0);
        all.insert(all.end(), times.begin(), times.end());
        std::printf(
            "  node %d: connected %.0f/%zu in %.1f s; RSS %.1f MB connected, %.1f MB after the takeover; CPU %.1f %% "
            "of one core with heartbeats every 5 s\n",
            k + 1, connected[k][0], got[k].size(), connected[k][1], rssConnected[k] / 1024.0, rssAfter[k] / 1024.0,
            cpuPct[k]);
        std::printf("  node %d: takeover reached %zu/%zu: p50 %.0f ms, p99 %.0f ms, max %.0f ms\n", k + 1, times.size(),
                    got[k].size(), percentile(times, 0.5) * 1000, percentile(times, 0.99) * 1000,
                    percentile(times, 1.0) * 1000);
        ok = ok && times.size() == got[k].size();
    }
    std::printf("  both nodes: p50 %.0f ms, p99 %.0f ms (goal p99 <= 1000 ms)\n", percentile(all, 0.5) * 1000,
                percentile(all, 0.99) * 1000);
    ok = ok && percentile(all, 0.99) <= 1.0;
    for (auto& node : nodes) {
        if (::write(node.cmd, "q", 1) != 1) ::kill(node.pid, SIGTERM);
        ::waitpid(node.pid, nullptr, 0);
    }
    return ok ? 0 : 3;
}
#endif

}  // namespace

int main(int argc, char** argv) {
    std::int64_t players = 0, nodeCount = 1;
    microscape::bench::BenchArgs args("bench_scale",
                                      "Many CURVE players on one hub: connect, manifest and heartbeat cost. With\n"
                                      "--nodes 2: two controller nodes on a throwaway PostgreSQL cluster, half the\n"
                                      "players on each, a takeover announced with LISTEN/NOTIFY reaching both.");
    args.option("players", "players connected at once (0: 5,000 on one hub, 10,000 on two nodes)", players, 0, 1000000)
        .option("nodes", "1: one hub in its own process; 2: two controller nodes on one PostgreSQL", nodeCount, 1, 2);
    if (int rc = args.parse(argc, argv); rc >= 0) return rc;
    if (players == 0) players = nodeCount == 2 ? 10000 : 5000;
    const int n = static_cast<int>(players);
    if (nodeCount == 2) {
#ifdef MICROSCAPE_BENCH_PG_TEMP
        return twoNodes(n);
#else
        std::fprintf(stderr,
                     "bench_scale: --nodes 2 needs the tests' PostgreSQL helper (build with MICROSCAPE_TESTS)\n");
        return 1;
#endif
    }
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
