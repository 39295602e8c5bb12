// A bundle file from a USB stick or the import directory is untrusted: nothing
// of it may be stored before its manifest and signature are verified and its
// media are known to be the manifest's and to fit the disk and the quota; the
// player's data directory and journal are private whatever the umask.
//
// The attack these tests replay: before, an import streamed every media entry
// to DIR/import-tmp while hashing it and checked the manifest only at the end,
// so an unsigned 512 MiB tar wrote 512 MiB (up to 64 GiB) before BadManifest,
// with no free-space check, on the sync thread.
#include <Poco/Logger.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <fstream>
#include <thread>

#include "microscape/core/clock.hpp"
#include "microscape/player/agent.hpp"
#include "microscape/player/cache.hpp"
#include "microscape/player/journal.hpp"
#include "microscape/player/sync.hpp"
#include "support/bundle_builder.hpp"
#include "support/temp_dir.hpp"
#include "support/wait_for.hpp"

using namespace microscape;
using namespace microscape::player;
using namespace microscape::testing;
using microscape::testing::TempDir;
namespace fs = std::filesystem;

namespace {

const std::string kPlayer = "scr-test0001";
constexpr std::uint64_t kMiB = 1024 * 1024;

// Bytes this process has passed to write(2) and friends so far (/proc/self/io
// "wchar"): counts what an import writes, even to files it removes afterwards.
std::uint64_t bytesWrittenByProcess() {
    std::ifstream in("/proc/self/io");
    std::string key;
    std::uint64_t value = 0;
    while (in >> key >> value)
        if (key == "wchar:") return value;
    FAIL("no wchar in /proc/self/io");
    return 0;
}

// Measures the bytes written while f runs.
template <class F>
std::uint64_t writtenDuring(F&& f) {
    const auto before = bytesWrittenByProcess();
    f();
    return bytesWrittenByProcess() - before;
}

// The SHA-256 of n zero bytes, as the name of a media entry of zeros.
std::string zerosSha(std::uint64_t n) {
    crypto::Sha256 h;
    std::string zeros(kMiB, '\0');
    for (std::uint64_t left = n; left > 0;) {
        auto take = std::min<std::uint64_t>(left, zeros.size());
        h.update(zeros.data(), static_cast<std::size_t>(take));
        left -= take;
    }
    return crypto::toHex(h.finish());
}

// A tar file whose first entry is media/<sha> of `zeroBytes` zero bytes (a hole:
// the file is sparse, so it is made at once), followed by `rest` (entries and the
// end marker, already in tar form).
void writeSparseTar(const fs::path& path, const std::string& sha, std::uint64_t zeroBytes, const std::string& rest) {
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    REQUIRE(fd >= 0);
    RawHeader h;
    h.name = mediaName(sha);
    h.sizeBytes = zeroBytes;
    const std::string header = headerBlock(h);
    REQUIRE(::write(fd, header.data(), header.size()) == static_cast<ssize_t>(header.size()));
    const auto padded = (zeroBytes + tar::kBlockBytes - 1) / tar::kBlockBytes * tar::kBlockBytes;
    REQUIRE(::pwrite(fd, rest.data(), rest.size(), static_cast<off_t>(tar::kBlockBytes + padded)) ==
            static_cast<ssize_t>(rest.size()));
    ::close(fd);
}

std::vector<MediaItem> someMedia(std::uint32_t seed, std::size_t size, int n = 1) {
    std::vector<MediaItem> out;
    for (int i = 0; i < n; ++i)
        out.push_back(makeMedia(fakePng(size, seed + static_cast<std::uint32_t>(i)), "m" + std::to_string(i),
                                "m" + std::to_string(i) + ".png"));
    return out;
}

Bundle signedBundle(std::int64_t version, std::vector<MediaItem> media,
                    const std::function<void(manifest::Manifest&)>& edit = {}) {
    return makeBundle(testKey(1), std::move(media), [&](manifest::Manifest& m) {
        m.version = version;
        m.target = kPlayer;
        m.bundleId = "b-" + std::to_string(version);
        if (edit) edit(m);
    });
}

void writeFile(const fs::path& p, const std::string& bytes) {
    std::ofstream(p, std::ios::binary) << bytes;
}

std::uint64_t treeBytes(const fs::path& dir) {
    std::uint64_t total = 0;
    std::error_code ec;
    for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::recursive_directory_iterator();
         it.increment(ec)) {
        std::error_code e2;
        if (it->is_regular_file(e2)) total += it->file_size(e2);
    }
    return total;
}

unsigned modeOf(const fs::path& p) {
    struct stat st {};
    REQUIRE(::stat(p.c_str(), &st) == 0);
    return st.st_mode & 07777;
}

struct Umask {
    mode_t old;
    explicit Umask(mode_t m) : old(::umask(m)) {}
    ~Umask() { ::umask(old); }
};

// The imports below take seconds on a slow machine: a longer wait than the default.
constexpr int kImportWaitMs = 20000;

}  // namespace

TEST_CASE("an unsigned 512 MiB bundle is refused before any media byte is written", "[player][import][security]") {
    TempDir t;
    const fs::path data = t.path / "data";
    fs::create_directories(data);
    Cache cache(data);
    BundleStore store(data, {testKey(1).publicKey()}, kPlayer);
    const std::uint64_t size = 512 * kMiB;
    const std::string sha = zerosSha(size);
    const fs::path tarPath = t.path / "usb.tar";

    SECTION("no manifest at all") {
        writeSparseTar(tarPath, sha, size, endMarker());
        std::optional<Result<ImportResult>> r;
        const auto written = writtenDuring([&] { r.emplace(importBundle(tarPath, store, cache, nowMs())); });
        CHECK(r->code() == Errc::BadManifest);
        CHECK(written < kMiB);  // before: 512 MiB
    }
    SECTION("a manifest naming it with a signature that does not verify") {
        manifest::MediaEntry e;
        e.sha256 = sha;
        e.sizeBytes = size;
        e.kind = MediaKind::Video;
        e.mime = "video/mp4";
        e.durationMs = 15000;
        e.name = "zeros";
        e.fileName = "zeros.mp4";
        auto b = signedBundle(3, {}, [&](manifest::Manifest& m) { m.media.push_back(e); });
        b.signature = std::string(64, 'x');
        writeSparseTar(tarPath, sha, size,
                       packTar({fileEntry(std::string(bundle::kManifestName), b.manifestBytes),
                                fileEntry(std::string(bundle::kSignatureName), b.signature)}));
        std::optional<Result<ImportResult>> r;
        const auto written = writtenDuring([&] { r.emplace(importBundle(tarPath, store, cache, nowMs())); });
        CHECK(r->code() == Errc::BadSignature);
        CHECK(written < kMiB);
    }
    CHECK_FALSE(fs::exists(data / "import-tmp"));
    CHECK(treeBytes(data / "blobs") == 0);
    CHECK(store.activeVersion() == 0);
}

TEST_CASE("a signed bundle whose media are not the manifest's, or do not fit, is refused before writing",
          "[player][import][security]") {
    TempDir t;
    const fs::path data = t.path / "data";
    fs::create_directories(data);
    BundleStore store(data, {testKey(1).publicKey()}, kPlayer);
    const fs::path tarPath = t.path / "usb.tar";
    auto listed = someMedia(40, 64 * 1024);
    auto big = makeMedia(fakeMp4(8 * kMiB, 41), "big", "big.mp4", 5000);

    std::optional<Result<ImportResult>> r;
    std::uint64_t written = 0;
    auto import = [&](Cache& cache) {
        written = writtenDuring([&] { r.emplace(importBundle(tarPath, store, cache, nowMs())); });
    };

    SECTION("an 8 MiB media entry the manifest does not name, before the listed ones") {
        Cache cache(data);
        auto b = signedBundle(3, listed);
        auto entries = b.entries();
        entries.insert(entries.begin(), fileEntry(mediaName(big.entry.sha256), big.bytes));
        writeFile(tarPath, packTar(entries));
        import(cache);
        CHECK(r->code() == Errc::ExtraEntry);
        CHECK(written < kMiB);
    }
    SECTION("an 8 MiB media entry whose size is not the manifest's") {
        Cache cache(data);
        auto b = signedBundle(3, {big}, [](manifest::Manifest& m) { m.media[0].sizeBytes -= 1; });
        writeFile(tarPath, b.tar());
        import(cache);
        CHECK(r->code() == Errc::SizeMismatch);
        CHECK(written < kMiB);
    }
    SECTION("8 MiB of media with a 4 MiB cache quota") {
        Cache cache(data, 4 * kMiB);
        writeFile(tarPath, signedBundle(3, {big}).tar());
        import(cache);
        CHECK(r->code() == Errc::TooLarge);
        CHECK_THAT(r->error().message, Catch::Contains("not enough space"));
        CHECK(written < kMiB);
    }
    SECTION("8 MiB of media with a reserve larger than the free disk space") {
        Cache cache(data);
        writeFile(tarPath, signedBundle(3, {big}).tar());
        ImportOptions io;
        io.reserveBytes = cache.diskFreeBytes();
        written = writtenDuring([&] { r.emplace(importBundle(tarPath, store, cache, nowMs(), io)); });
        CHECK(r->code() == Errc::TooLarge);
        CHECK(written < kMiB);
    }
    CHECK_FALSE(fs::exists(data / "import-tmp"));
    CHECK(treeBytes(data / "blobs") == 0);
    CHECK(store.activeVersion() == 0);
}

TEST_CASE("a good bundle imports in either entry order and stores only the media the cache lacks", "[player][import]") {
    TempDir t;
    const fs::path data = t.path / "data";
    fs::create_directories(data);
    Cache cache(data, 16 * kMiB);
    BundleStore store(data, {testKey(1).publicKey()}, kPlayer);
    const fs::path tarPath = t.path / "usb.tar";
    auto media = someMedia(60, 300 * 1024, 2);

    auto b3 = signedBundle(3, media);
    auto entries = b3.entries();                                     // the writer's order: media first
    std::rotate(entries.begin(), entries.end() - 2, entries.end());  // manifest and signature first
    writeFile(tarPath, packTar(entries));
    auto r = importBundle(tarPath, store, cache, nowMs());
    REQUIRE(r.ok());
    CHECK(r->mediaCopied == 2);
    CHECK(r->bytesWritten == media[0].bytes.size() + media[1].bytes.size());
    CHECK(store.activeVersion() == 3);

    auto more = media;
    more.push_back(someMedia(70, 100 * 1024).front());
    writeFile(tarPath, signedBundle(4, more).tar());
    r = importBundle(tarPath, store, cache, nowMs());
    REQUIRE(r.ok());
    CHECK(r->mediaCopied == 1);
    CHECK(r->bytesWritten == more[2].bytes.size());
    CHECK(store.activeVersion() == 4);
    for (const auto& m : more) CHECK(cache.has(m.entry.sha256));
}

TEST_CASE("the agent refuses an unsigned 512 MiB bundle from its import directory without storing it",
          "[player][agent][import][security]") {
    TempDir t;
    PlayerConfig cfg;
    cfg.dataDir = t.path / "data";
    cfg.playerId = kPlayer;
    cfg.endpoint = "tcp://127.0.0.1:9";  // nothing there: offline delivery only
    cfg.curve = false;
    cfg.reserveBytes = 0;
    cfg.contentKeys.push_back(testKey(1).publicKey());
    cfg.importDir = (t.path / "usb").string();
    fs::create_directories(cfg.dataDir);
    fs::create_directories(cfg.importDir);
    // The bundles are valid at the builder's instant (nowMs(), before expiresMs()):
    // the agent's wall clock starts there and runs on; its steady clock is the real one.
    struct BuilderTimeClock final : microscape::Clock {
        std::int64_t startSteadyUs = microscape::systemClock().steadyUs();
        std::int64_t wallMs() const override { return nowMs() + (steadyUs() - startSteadyUs) / 1000; }
        std::int64_t steadyUs() const override { return microscape::systemClock().steadyUs(); }
    } clock;
    AgentOptions opts;
    opts.clock = &clock;
    opts.heartbeatMs = 100;
    opts.importScanMs = 20;
    auto& log = Poco::Logger::get("test.import");
    log.setLevel("error");

    const std::uint64_t size = 512 * kMiB;
    writeSparseTar(t.path / "bad.tar.part", zerosSha(size), size, endMarker());
    auto good = signedBundle(5, someMedia(80, 50 * 1024, 2));
    writeFile(t.path / "usb" / "good.tar", good.tar());

    SyncAgent agent(cfg, opts, log);
    std::uint64_t written = 0;
    REQUIRE(agent.start().ok());
    const bool activated = microscape::testing::waitFor(
        [&] { return agent.activeBundle() && agent.activeBundle()->manifest.version == 5; }, kImportWaitMs);
    INFO("agent: " << wire::syncStateName(agent.status().syncState) << " / " << agent.status().lastError);
    REQUIRE(activated);
    written = writtenDuring([&] {
        fs::rename(t.path / "bad.tar.part", t.path / "usb" / "bad.tar");
        REQUIRE(microscape::testing::waitFor([&] { return fs::exists(t.path / "usb" / "failed" / "bad.tar"); },
                                             kImportWaitMs));
    });
    CHECK(written < kMiB);  // before: 512 MiB through import-tmp/
    CHECK_THAT(agent.status().lastError, Catch::Contains("BadManifest"));
    CHECK(fs::exists(t.path / "usb" / "done" / "good.tar"));
    CHECK(agent.activeBundle()->manifest.version == 5);
    agent.stop();
}

TEST_CASE("the player's data directory and journal are private whatever the umask", "[player][security]") {
    TempDir t;
    Umask mask(022);
    const fs::path data = t.path / "data";
    fs::create_directories(data);
    fs::permissions(data, fs::perms(0755));
    {
        auto j = Journal::open(JournalConfig{(data / "state.db").string(), kPlayer});
        REQUIRE(j.ok());
        CHECK(modeOf(data / "state.db") == 0600);
        for (const char* suffix : {"-wal", "-shm"})
            if (fs::exists(data / (std::string("state.db") + suffix)))
                CHECK(modeOf(data / (std::string("state.db") + suffix)) == 0600);
    }
    SECTION("a journal made 0644 by an older version is made private when opened") {
        fs::permissions(data / "state.db", fs::perms(0644));
        auto j = Journal::open(JournalConfig{(data / "state.db").string(), kPlayer});
        REQUIRE(j.ok());
        CHECK(modeOf(data / "state.db") == 0600);
    }
    SECTION("the agent makes the data directory 0700") {
        PlayerConfig cfg;
        cfg.dataDir = data;
        cfg.playerId = kPlayer;
        cfg.endpoint = "tcp://127.0.0.1:9";
        cfg.curve = false;
        cfg.contentKeys.push_back(testKey(1).publicKey());
        auto& log = Poco::Logger::get("test.import");
        log.setLevel("error");
        SyncAgent agent(cfg, AgentOptions{}, log);
        REQUIRE(agent.start().ok());
        CHECK(modeOf(data) == 0700);
        agent.stop();
    }
}
