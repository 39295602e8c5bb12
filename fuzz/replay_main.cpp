// A stand-in for libFuzzer's driver in ordinary (g++) builds, so that ctest can
// smoke-test a fuzz target without clang: it runs every file of the given corpus
// directories once, then feeds the target randomly mutated corpus inputs until
// -runs or -max_total_time is reached. Deterministic for a given -seed. When the
// target aborts, the input is written to ./replay-crash-<target>.bin first.
//
//   fuzz_bundle_replay [-runs=N] [-max_total_time=SECONDS] [-seed=N] CORPUS...
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

namespace {

namespace fs = std::filesystem;

const std::string* gCurrent = nullptr;
char gCrashPath[256] = "replay-crash.bin";

void onAbort(int sig) {
    if (gCurrent) {
        int fd = ::open(gCrashPath, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) {
            ssize_t ignored = ::write(fd, gCurrent->data(), gCurrent->size());
            (void)ignored;
            ::close(fd);
        }
        const char msg[] = "replay: the failing input was written to the crash file\n";
        ssize_t ignored = ::write(2, msg, sizeof msg - 1);
        (void)ignored;
    }
    ::signal(sig, SIG_DFL);
    ::raise(sig);
}

void runOne(const std::string& input) {
    gCurrent = &input;
    LLVMFuzzerTestOneInput(reinterpret_cast<const std::uint8_t*>(input.data()), input.size());
    gCurrent = nullptr;
}

std::string readFile(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

// One random edit, biased towards what matters in tar and JSON: single bits,
// boundary bytes, octal digits, block-sized moves and splices.
void mutate(std::string& s, const std::vector<std::string>& corpus, std::mt19937_64& rng) {
    auto pick = [&](std::size_t n) { return n == 0 ? std::size_t{0} : static_cast<std::size_t>(rng() % n); };
    static const char kInteresting[] = {'\0', '\x7f', '\x80', '\xff', ' ', '0', '7', '8', '/',
                                        '.',  '"',    '\\',   '{',    '}', '[', ']', ':', ','};
    switch (rng() % 10) {
        case 0:
        case 1:
            if (!s.empty()) s[pick(s.size())] ^= static_cast<char>(1u << (rng() % 8));
            break;
        case 2:
            if (!s.empty()) s[pick(s.size())] = kInteresting[pick(sizeof kInteresting)];
            break;
        case 3:
            if (!s.empty()) s[pick(s.size())] = static_cast<char>(rng());
            break;
        case 4:  // truncate
            s.resize(pick(s.size() + 1));
            break;
        case 5: {  // erase a range
            if (s.empty()) break;
            std::size_t at = pick(s.size());
            s.erase(at, 1 + pick(std::min<std::size_t>(s.size() - at, 600)));
            break;
        }
        case 6: {  // insert random bytes
            std::size_t n = 1 + pick(16);
            std::string bytes(n, '\0');
            for (auto& c : bytes) c = static_cast<char>(rng());
            s.insert(pick(s.size() + 1), bytes);
            break;
        }
        case 7: {  // copy a 512-byte block over another, or duplicate it
            std::size_t blocks = s.size() / 512;
            if (blocks == 0) break;
            std::string block = s.substr(pick(blocks) * 512, 512);
            if (rng() % 2)
                s.replace(pick(blocks) * 512, 512, block);
            else
                s.insert(pick(blocks + 1) * 512, block);
            break;
        }
        case 8: {  // splice with another corpus input
            const std::string& other = corpus[pick(corpus.size())];
            std::size_t cut = pick(s.size() + 1);
            s = s.substr(0, cut) + other.substr(std::min(cut, other.size()));
            break;
        }
        default: {  // append zeros or a copy of a chunk
            if (rng() % 2)
                s.append(512 * (1 + pick(3)), '\0');
            else if (!s.empty())
                s.append(s.substr(pick(s.size()), 1 + pick(64)));
            break;
        }
    }
}

}  // namespace

int main(int argc, char** argv) {
    long long runs = 2000;
    double maxSeconds = 5;
    unsigned long long seed = 20260415;
    std::vector<fs::path> inputs;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if (a.rfind("-runs=", 0) == 0)
            runs = std::atoll(a.c_str() + 6);
        else if (a.rfind("-max_total_time=", 0) == 0)
            maxSeconds = std::atof(a.c_str() + 16);
        else if (a.rfind("-seed=", 0) == 0)
            seed = std::strtoull(a.c_str() + 6, nullptr, 10);
        else if (!a.empty() && a[0] == '-') {
            std::fprintf(stderr, "usage: %s [-runs=N] [-max_total_time=S] [-seed=N] CORPUS_DIR_OR_FILE...\n", argv[0]);
            return 2;
        } else
            inputs.emplace_back(a);
    }
    std::snprintf(gCrashPath, sizeof gCrashPath, "replay-crash-%s.bin", fs::path(argv[0]).filename().c_str());
    ::signal(SIGABRT, onAbort);
    ::signal(SIGSEGV, onAbort);

    std::vector<std::string> corpus;
    for (const auto& p : inputs) {
        if (fs::is_directory(p)) {
            std::vector<fs::path> files;
            for (const auto& e : fs::recursive_directory_iterator(p))
                if (e.is_regular_file()) files.push_back(e.path());
            std::sort(files.begin(), files.end());  // deterministic order
            for (const auto& f : files) corpus.push_back(readFile(f));
        } else if (fs::is_regular_file(p)) {
            corpus.push_back(readFile(p));
        } else {
            std::fprintf(stderr, "replay: no such corpus: %s\n", p.c_str());
            return 2;
        }
    }
    if (corpus.empty()) {
        std::fprintf(stderr, "replay: the corpus is empty\n");
        return 2;
    }

    auto start = std::chrono::steady_clock::now();
    for (const auto& input : corpus) runOne(input);
    runOne(std::string());

    std::mt19937_64 rng(seed);
    long long done = 0;
    for (; done < runs; ++done) {
        double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        if (elapsed >= maxSeconds) break;
        std::string input = corpus[rng() % corpus.size()];
        for (int n = 1 + static_cast<int>(rng() % 4); n > 0; --n) mutate(input, corpus, rng);
        runOne(input);
    }
    double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::printf("replay: %zu corpus inputs and %lld mutated inputs in %.2f s (seed %llu), no failures\n", corpus.size(),
                done, elapsed, seed);
    return 0;
}
