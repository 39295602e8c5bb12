// delta: a 100-file playlist is on the player; one file changes. Bytes moved
// over the link (CHUNK payloads plus their frame headers) against the size of
// the changed file. Goal: <= 1.05.
#include <cstring>
#include <iostream>

#include "bench_args.hpp"
#include "swarm_support.hpp"

using namespace swarm;

int main(int argc, char** argv) {
    std::int64_t filesArg = 100, fileKiB = 512;
    microscape::bench::BenchArgs args("bench_delta",
                                      "Bytes moved when one file of a playlist changes, against "
                                      "the size of that file (goal <= 1.05).");
    args.option("files", "files in the playlist", filesArg, 1, 100000)
        .option("file-kib", "size of each file in KiB", fileKiB, 1, 1 << 22);
    if (int rc = args.parse(argc, argv); rc >= 0) return rc;
    const int files = static_cast<int>(filesArg);
    const std::uint64_t fileBytes = static_cast<std::uint64_t>(fileKiB) * 1024;
    Poco::Logger::root().setLevel("error");
    TempDir tmp("delta");
    auto media = makeMediaFiles(tmp.path / "media", files, fileBytes, 1);
    auto changed = makeMediaFiles(tmp.path / "media", 1, fileBytes + 12345, 2).front();
    auto key = crypto::PrivateKey::generate().value();
    MapBackend backend(tmp.path / "media");
    auto curve = controller::makeCurveKeyPair().value();
    controller::HubConfig hc;
    hc.bind = "127.0.0.1";
    hc.port = 0;
    hc.curveSecretZ85 = curve.secretZ85;
    hc.heartbeatMs = 1000;
    auto& log = Poco::Logger::get("bench.hub");
    controller::Hub hub(hc, backend, log);
    if (!hub.start()) return 1;
    auto players = makePlayers(1, tmp.path / "players", "tcp://127.0.0.1:" + std::to_string(hub.port()), true,
                               curve.publicZ85, key.publicKey(), backend, 8, 256 * 1024);
    auto& p = players.front();
    backend.setManifest(signedFor(p.id, 1, media, key));
    if (!p.agent->start()) return 1;
    auto waitVersion = [&](std::int64_t v) {
        const double until = nowS() + 120;
        while (nowS() < until) {
            auto a = p.agent->activeBundle();
            if (a && a->manifest.version == v) return true;
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
        return false;
    };
    if (!waitVersion(1)) {
        std::cerr << "initial sync timed out\n";
        return 1;
    }
    const auto before = hub.stats();
    auto media2 = media;
    media2[static_cast<std::size_t>(files / 2)] = changed;
    auto m2 = signedFor(p.id, 2, media2, key);
    backend.setManifest(m2);
    const double t0 = nowS();
    hub.publish(m2);
    if (!waitVersion(2)) {
        std::cerr << "delta sync timed out\n";
        return 1;
    }
    const double secs = nowS() - t0;
    const auto after = hub.stats();
    const std::uint64_t payload = after.bytesSent - before.bytesSent;
    const std::uint64_t chunks = after.chunksSent - before.chunksSent;
    // Each CHUNK also carries its type and JSON header frames.
    const std::string header = json::canonical(json::Value(json::Object{{"sha256", changed.sha256},
                                                                        {"offset", std::int64_t(changed.sizeBytes)},
                                                                        {"total", std::int64_t(changed.sizeBytes)}}));
    const std::uint64_t moved = payload + chunks * (header.size() + 5);
    const double ratio = static_cast<double>(moved) / static_cast<double>(changed.sizeBytes);
    std::printf("delta: %d-file playlist (%llu KiB each), one file changed (%llu bytes)\n", files,
                static_cast<unsigned long long>(fileBytes / 1024), static_cast<unsigned long long>(changed.sizeBytes));
    std::printf("  moved %llu bytes in %llu chunks (payload %llu) in %.3f s; MANIFEST %zu bytes\n",
                static_cast<unsigned long long>(moved), static_cast<unsigned long long>(chunks),
                static_cast<unsigned long long>(payload), secs, m2.manifestBytes.size());
    std::printf("  ratio moved/changed file = %.4f (goal <= 1.05) %s; with the MANIFEST itself %.4f\n", ratio,
                ratio <= 1.05 ? "OK" : "MISSED",
                static_cast<double>(moved + m2.manifestBytes.size()) / static_cast<double>(changed.sizeBytes));
    p.agent->stop();
    hub.stop();
    return ratio <= 1.05 ? 0 : 3;
}
