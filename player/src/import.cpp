// USB / offline delivery: verify a bundle tar in one pass while staging the
// media it brings, then move them into the cache and activate.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "microscape/core/bundle.hpp"
#include "microscape/pack/file_io.hpp"
#include "microscape/player/sync.hpp"

namespace microscape::player {

namespace fs = std::filesystem;

namespace {

// Writes media not yet cached to DIR/import-tmp/<sha256>. Nothing it writes is
// used unless bundle::verify succeeds.
class StagingSink final : public bundle::MediaSink {
public:
    StagingSink(fs::path tmpDir, const Cache& cache) : tmp_(std::move(tmpDir)), cache_(cache) {}
    ~StagingSink() override { closeFd(); }

    Status begin(const std::string& sha, std::uint64_t) override {
        closeFd();
        if (!crypto::isSha256Hex(sha) || cache_.has(sha)) return {};  // verify() rejects bad names itself
        const fs::path p = tmp_ / sha;
        fd_ = ::open(p.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd_ < 0) return makeError(Errc::Io, "cannot create " + p.string() + ": " + std::strerror(errno));
        current_ = sha;
        return {};
    }
    Status write(const void* data, std::size_t n) override {
        if (fd_ < 0) return {};
        return pack::writeAll(fd_, data, n, "import-tmp/" + current_);
    }
    Status end() override {
        if (fd_ < 0) return {};
        if (::fsync(fd_) != 0) return makeError(Errc::Io, "fsync failed for import-tmp/" + current_);
        staged_.push_back(current_);
        closeFd();
        return {};
    }
    const std::vector<std::string>& staged() const { return staged_; }

private:
    void closeFd() {
        if (fd_ >= 0) ::close(fd_);
        fd_ = -1;
    }
    fs::path tmp_;
    const Cache& cache_;
    int fd_ = -1;
    std::string current_;
    std::vector<std::string> staged_;
};

}  // namespace

Result<ImportResult> importBundle(const fs::path& tarPath, BundleStore& store, Cache& cache, std::int64_t nowMs) {
    DataDirLock lock(store.dataDir());
    if (!lock.locked()) return makeError(Errc::Io, "cannot lock " + store.dataDir().string());
    const fs::path tmp = store.dataDir() / "import-tmp";
    std::error_code ec;
    fs::remove_all(tmp, ec);
    fs::create_directories(tmp, ec);
    if (ec) return makeError(Errc::Io, "cannot create " + tmp.string() + ": " + ec.message());
    struct Cleanup {
        fs::path p;
        ~Cleanup() {
            std::error_code e;
            fs::remove_all(p, e);
        }
    } cleanup{tmp};

    auto src = pack::FileSource::open(tarPath.string());
    if (!src) return src.error();
    bundle::VerifyOptions opts;
    opts.trustedKeys = store.keys();
    opts.policy = manifest::AcceptPolicy{store.activeVersion() + 1, nowMs};
    StagingSink sink(tmp, cache);
    auto verified = bundle::verify(*src, opts, &sink);
    if (!verified) return verified.error();
    // The same target rule as a pushed manifest.
    auto m = verifyManifest(verified->manifestBytes, verified->signature, store.keys(), opts.policy.minVersion, nowMs,
                            store.playerId());
    if (!m) return m.error();
    for (const auto& sha : sink.staged()) MS_TRY(cache.adopt(tmp / sha, sha));
    MS_TRY(pack::syncDir(cache.blobsDir().string()));
    SignedManifest sm{*m, verified->manifestBytes, verified->signature};
    MS_TRY(store.activate(sm, cache));
    if (auto st = store.staged(); st && st->manifest.version <= m->version) store.clearStaged();
    return ImportResult{m->version, m->bundleId, m->media.size(), sink.staged().size()};
}

}  // namespace microscape::player
