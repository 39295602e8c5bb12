// USB / offline delivery: a bundle tar is checked in two passes so that no byte
// of it is stored before its manifest and signature are known to be good.
//   1. Headers, manifest.json and manifest.sig only; media data are seeked over.
//      The manifest is verified (signature, version, expiry, target) and the
//      media entries must be exactly the manifest's, with its sizes; then the
//      bytes still to be stored are checked against free space and the quota.
//   2. The file again, verified whole (every hash), while the media the cache
//      lacks are copied to DIR/import-tmp — only media the first pass planned,
//      at their planned sizes, never more bytes than planned.
// Only then are they moved into the cache and the bundle activated.
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>

#include "microscape/core/bundle.hpp"
#include "microscape/pack/file_io.hpp"
#include "microscape/player/sync.hpp"

namespace microscape::player {

namespace fs = std::filesystem;

namespace {

// Writes the planned media (those not yet cached) to DIR/import-tmp/<sha256>.
// Refuses anything the first pass did not plan. Nothing it writes is used
// unless bundle::verify succeeds.
class StagingSink final : public bundle::MediaSink {
  public:
    StagingSink(fs::path tmpDir, std::map<std::string, std::uint64_t> plan, const std::atomic<bool>* cancel)
        : tmp_(std::move(tmpDir)), plan_(std::move(plan)), cancel_(cancel) {}
    ~StagingSink() override { closeFd(); }

    Status begin(const std::string& sha, std::uint64_t sizeBytes) override {
        closeFd();
        auto it = plan_.find(sha);
        if (it == plan_.end()) return {};  // cached already, or refused by verify() itself
        if (it->second != sizeBytes)
            return makeError(Errc::SizeMismatch, "media/" + sha.substr(0, 16) + "… changed size between the passes");
        const fs::path p = tmp_ / sha;
        fd_ = ::open(p.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd_ < 0) return makeError(Errc::Io, "cannot create import-tmp/" + sha + ": " + std::strerror(errno));
        current_ = sha;
        left_ = sizeBytes;
        plan_.erase(it);  // each planned file once
        return {};
    }
    Status write(const void* data, std::size_t n) override {
        if (fd_ < 0) return {};
        if (cancel_ && cancel_->load()) return makeError(Errc::Io, "import cancelled (the player is stopping)");
        if (n > left_)
            return makeError(Errc::SizeMismatch, "media/" + current_.substr(0, 16) + "… is longer than planned");
        left_ -= n;
        written_ += n;
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
    std::uint64_t writtenBytes() const { return written_; }

  private:
    void closeFd() {
        if (fd_ >= 0) ::close(fd_);
        fd_ = -1;
    }
    fs::path tmp_;
    std::map<std::string, std::uint64_t> plan_;  // sha256 -> size, still to be written
    const std::atomic<bool>* cancel_;
    int fd_ = -1;
    std::string current_;
    std::uint64_t left_ = 0;
    std::uint64_t written_ = 0;
    std::vector<std::string> staged_;
};

// An exclusive flock on DIR/.import-lock: one import at a time per data
// directory (the agent's and `microscape-player import`), so that import-tmp/
// is theirs alone. DIR/.lock is taken only for the short move-and-activate step.
class ImportLock {
  public:
    explicit ImportLock(const fs::path& dataDir) {
        fd_ = ::open((dataDir / ".import-lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        if (fd_ >= 0 && ::flock(fd_, LOCK_EX) != 0) {
            ::close(fd_);
            fd_ = -1;
        }
    }
    ~ImportLock() {
        if (fd_ >= 0) ::close(fd_);
    }
    ImportLock(const ImportLock&) = delete;
    ImportLock& operator=(const ImportLock&) = delete;
    bool locked() const { return fd_ >= 0; }

  private:
    int fd_ = -1;
};

}  // namespace

Result<ImportResult> importBundle(const fs::path& tarPath, BundleStore& store, Cache& cache, std::int64_t nowMs,
                                  const ImportOptions& options) {
    ImportLock importLock(store.dataDir());
    if (!importLock.locked()) return makeError(Errc::Io, "cannot lock the data directory for an import");

    // Pass 1: nothing is written.
    bundle::VerifyOptions opts;
    opts.trustedKeys = store.keys();
    opts.policy = manifest::AcceptPolicy{store.activeVersion() + 1, nowMs};
    std::optional<bundle::Verified> planned;
    {
        auto src = pack::FileSource::open(tarPath.string());
        if (!src) return src.error();
        if (!src->seekable())
            return makeError(Errc::Usage, "a bundle is imported from a file (it is read twice), not from a pipe");
        auto pre = bundle::preflight(*src, opts);
        if (!pre) return pre.error();
        planned = std::move(*pre);
    }
    // The same target rule as a pushed manifest.
    auto m = verifyManifest(planned->manifestBytes, planned->signature, store.keys(), opts.policy.minVersion, nowMs,
                            store.playerId());
    if (!m) return m.error();
    std::map<std::string, std::uint64_t> plan;
    std::uint64_t needBytes = 0;
    for (const auto& e : m->media)
        if (!cache.has(e.sha256) && plan.emplace(e.sha256, e.sizeBytes).second) needBytes += e.sizeBytes;
    const std::uint64_t available = cache.availableBytes();
    if (needBytes + options.reserveBytes > available)
        return makeError(
            Errc::TooLarge,
            "not enough space for the bundle's media: " + std::to_string(needBytes) + " bytes to store, " +
                std::to_string(available) + " available" +
                (options.reserveBytes ? " (reserve " + std::to_string(options.reserveBytes) + ")" : std::string()) +
                " within the free disk space and the cache quota");

    // Pass 2: hash everything again, store only what pass 1 planned.
    const fs::path tmp = store.dataDir() / "import-tmp";
    std::error_code ec;
    fs::remove_all(tmp, ec);
    fs::create_directories(tmp, ec);
    if (ec) return makeError(Errc::Io, "cannot create import-tmp: " + ec.message());
    struct Cleanup {
        fs::path p;
        ~Cleanup() {
            std::error_code e;
            fs::remove_all(p, e);
        }
    } cleanup{tmp};
    auto src = pack::FileSource::open(tarPath.string());
    if (!src) return src.error();
    StagingSink sink(tmp, plan, options.cancel);
    auto verified = bundle::verify(*src, opts, &sink);
    if (!verified) return verified.error();
    if (verified->manifestBytes != planned->manifestBytes || verified->signature != planned->signature)
        return makeError(Errc::BadManifest, "the bundle file changed while it was imported");

    DataDirLock lock(store.dataDir());
    if (!lock.locked()) return makeError(Errc::Io, "cannot lock the data directory");
    for (const auto& sha : sink.staged()) MS_TRY(cache.adopt(tmp / sha, sha));
    MS_TRY(pack::syncDir(cache.blobsDir().string()));
    SignedManifest sm{*m, verified->manifestBytes, verified->signature};
    MS_TRY(store.activate(sm, cache));
    if (auto st = store.staged(); st && st->manifest.version <= m->version) store.clearStaged();
    return ImportResult{m->version, m->bundleId, m->media.size(), sink.staged().size(), sink.writtenBytes()};
}

}  // namespace microscape::player
