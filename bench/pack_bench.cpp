// bench_pack: builds a bundle from >= 1 GiB of generated media and compares its
// throughput with `openssl dgst -sha256` over the same files, in the same run.
//
//   build/bin/bench_pack [--mib N] [--files N] [--runs N] [--dir DIR]
//
// Files live in DIR (default /dev/shm, a tmpfs, so that the numbers measure the
// hashing/copy pipeline, not the disk; the builder's fsync is then free).
// Each side runs --runs times on warm page cache and the best time counts.
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "bench_args.hpp"
#include "microscape/pack/builder.hpp"
#include "microscape/pack/file_io.hpp"

using namespace microscape;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

double seconds(Clock::time_point a, Clock::time_point b) {
    return std::chrono::duration<double>(b - a).count();
}

int runCommand(const std::vector<std::string>& argv) {
    pid_t pid = ::fork();
    if (pid == 0) {
        int devnull = ::open("/dev/null", O_WRONLY);
        ::dup2(devnull, 1);
        std::vector<char*> args;
        for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
        args.push_back(nullptr);
        ::execvp(args[0], args.data());
        ::_exit(127);
    }
    int status = 0;
    ::waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace

int main(int argc, char** argv) {
    std::int64_t totalMiBArg = 1024, filesArg = 8, runsArg = 3;
    std::string base = "/dev/shm";
    microscape::bench::BenchArgs args("bench_pack",
                                      "microscape-pack build and verify against tar and sha256sum "
                                      "over the same files.");
    args.option("mib", "media in all, MiB", totalMiBArg, 1, 1 << 20)
        .option("files", "media files", filesArg, 1, 100000)
        .option("runs", "runs of each command (the best counts)", runsArg, 1, 1000)
        .option("dir", "directory for the files", base);
    if (int rc = args.parse(argc, argv); rc >= 0) return rc;
    const auto totalMiB = static_cast<std::size_t>(totalMiBArg), files = static_cast<std::size_t>(filesArg);
    const int runs = static_cast<int>(runsArg);
    fs::path dir = fs::path(base) / ("bench-pack-" + std::to_string(::getpid()));
    fs::create_directories(dir);
    struct Cleanup {
        fs::path p;
        ~Cleanup() {
            std::error_code ec;
            fs::remove_all(p, ec);
        }
    } cleanup{dir};

    // Generated media: pseudo-random bytes behind an MP4 'ftyp' box, so that
    // content detection calls them video. Incompressible, like real H.264.
    std::printf("generating %zu MiB in %zu files under %s ...\n", totalMiB, files, dir.c_str());
    std::mt19937_64 rng(42);
    std::vector<std::string> paths;
    std::vector<std::uint64_t> block(1 << 17);  // 1 MiB
    std::size_t perFile = totalMiB / files;
    for (std::size_t f = 0; f < files; ++f) {
        std::string path = (dir / ("clip-" + std::to_string(f) + ".mp4")).string();
        std::ofstream out(path, std::ios::binary);
        for (std::size_t m = 0; m < perFile; ++m) {
            for (auto& w : block) w = rng();
            if (m == 0)
                std::memcpy(block.data(),
                            "\0\0\0\x18"
                            "ftypisom",
                            12);
            out.write(reinterpret_cast<const char*>(block.data()), static_cast<std::streamsize>(block.size() * 8));
        }
        paths.push_back(path);
    }
    std::uint64_t bytes = perFile * files * (1ull << 20);

    auto key = crypto::PrivateKey::generate();
    if (!key) return 1;
    pack::BuildRequest req;
    req.outPath = (dir / "bundle.tar").string();
    req.overwrite = true;
    req.version = 1;
    req.issuedAtMs = 1796000000000;
    req.expiresAtMs = req.issuedAtMs + 86400000;
    for (const auto& p : paths) {
        pack::MediaInput in;
        in.path = p;
        in.info.kind = MediaKind::Video;
        in.info.mime = "video/mp4";
        in.info.durationMs = 10000;
        req.media.push_back(in);
    }

    std::vector<std::string> dgst = {"openssl", "dgst", "-sha256"};
    dgst.insert(dgst.end(), paths.begin(), paths.end());
    runCommand(dgst);  // warm the page cache

    double bestOpenssl = 1e9, bestBuild = 1e9, bestHash = 1e9;
    for (int r = 0; r < runs; ++r) {
        auto t0 = Clock::now();
        if (runCommand(dgst) != 0) {
            std::fprintf(stderr, "openssl dgst failed\n");
            return 1;
        }
        auto t1 = Clock::now();
        auto built = pack::buildBundle(req, *key);
        auto t2 = Clock::now();
        if (!built) {
            std::fprintf(stderr, "%s\n", built.error().str().c_str());
            return 1;
        }
        for (const auto& p : paths) {
            auto d = crypto::sha256File(p);
            if (!d) return 1;
        }
        auto t3 = Clock::now();
        fs::remove(req.outPath);
        bestOpenssl = std::min(bestOpenssl, seconds(t0, t1));
        bestBuild = std::min(bestBuild, seconds(t1, t2));
        bestHash = std::min(bestHash, seconds(t2, t3));
    }
    double mib = static_cast<double>(bytes) / (1 << 20);
    std::printf("media: %.0f MiB in %zu files, best of %d runs\n", mib, files, runs);
    std::printf("openssl dgst -sha256 (baseline): %7.3f s  %7.0f MiB/s\n", bestOpenssl, mib / bestOpenssl);
    std::printf("microscape-pack build          : %7.3f s  %7.0f MiB/s  ratio %.2f x baseline\n", bestBuild,
                mib / bestBuild, bestOpenssl / bestBuild);
    std::printf("core sha256File (hash only)    : %7.3f s  %7.0f MiB/s  ratio %.2f x baseline\n", bestHash,
                mib / bestHash, bestOpenssl / bestHash);
    return 0;
}
