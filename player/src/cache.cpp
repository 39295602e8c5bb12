#include "microscape/player/cache.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "microscape/core/crypto.hpp"
#include "microscape/pack/file_io.hpp"

namespace microscape::player {

namespace fs = std::filesystem;

Cache::Cache(fs::path dataDir, std::uint64_t quotaBytes) : dir_(std::move(dataDir)), quota_(quotaBytes) {
    std::error_code ec;
    fs::create_directories(dir_ / "blobs", ec);
    fs::create_directories(dir_ / "partial", ec);
}

Cache::~Cache() {
    closeOpen();
}

void Cache::closeOpen() {
    if (openFd_ >= 0) ::close(openFd_);
    openFd_ = -1;
    openSha_.clear();
}

fs::path Cache::blobPath(const std::string& sha) const {
    return dir_ / "blobs" / sha;
}

bool Cache::has(const std::string& sha) const {
    std::error_code ec;
    return fs::is_regular_file(blobPath(sha), ec);
}

std::uint64_t Cache::blobSize(const std::string& sha) const {
    std::error_code ec;
    auto n = fs::file_size(blobPath(sha), ec);
    return ec ? 0 : n;
}

std::uint64_t Cache::partialSize(const std::string& sha) const {
    std::error_code ec;
    auto n = fs::file_size(dir_ / "partial" / sha, ec);
    return ec ? 0 : n;
}

Status Cache::append(const std::string& sha, std::uint64_t offset, const void* data, std::size_t n) {
    if (!crypto::isSha256Hex(sha)) return makeError(Errc::BadPath, "not a sha256 name");
    if (openSha_ != sha) {
        closeOpen();
        const fs::path p = dir_ / "partial" / sha;
        openFd_ = ::open(p.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
        if (openFd_ < 0) return makeError(Errc::Io, "cannot open " + p.string() + ": " + std::strerror(errno));
        openSha_ = sha;
        writebackFrom_ = offset;
    }
    struct stat st {};
    if (::fstat(openFd_, &st) != 0) return makeError(Errc::Io, "fstat failed");
    const auto have = static_cast<std::uint64_t>(st.st_size);
    if (offset != have)
        return makeError(Errc::Usage,
                         "chunk at " + std::to_string(offset) + " but " + std::to_string(have) + " bytes are on disk");
    if (quota_ && usedBytes() + n > quota_) return makeError(Errc::TooLarge, "cache quota reached (no space)");
    std::size_t done = 0;
    while (done < n) {
        ssize_t w =
            ::pwrite(openFd_, static_cast<const char*>(data) + done, n - done, static_cast<off_t>(offset + done));
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            const int err = errno;
            if (::ftruncate(openFd_, static_cast<off_t>(offset)) != 0) {
            }
            closeOpen();
            return makeError(Errc::Io, std::string(err == ENOSPC ? "no space left on device" : std::strerror(err)) +
                                           " writing partial/" + sha);
        }
        done += static_cast<std::size_t>(w);
    }
    const std::uint64_t end = offset + n;
    if (end < writebackFrom_) writebackFrom_ = offset;
    if (end - writebackFrom_ >= kWritebackBytes) {
        // Asynchronous: starts writeback of the range, waits for none of it.
        // A failure here is not the file's: its fsync is the one that counts.
        (void)::sync_file_range(openFd_, static_cast<off_t>(writebackFrom_), static_cast<off_t>(end - writebackFrom_),
                                SYNC_FILE_RANGE_WRITE);
        writebackFrom_ = end;
    }
    return {};
}

Status Cache::finish(const std::string& sha, std::uint64_t sizeBytes) {
    return finish(sha, sizeBytes, {});
}

Status Cache::finish(const std::string& sha, std::uint64_t sizeBytes, const std::string& digestHex) {
    if (openSha_ == sha) {
        if (::fsync(openFd_) != 0) {
            closeOpen();
            return makeError(Errc::Io, "fsync failed for partial/" + sha);
        }
        closeOpen();
    }
    const fs::path p = dir_ / "partial" / sha;
    const auto have = partialSize(sha);
    if (have != sizeBytes) {
        if (have > sizeBytes) discardPartial(sha);
        return makeError(Errc::SizeMismatch, "partial/" + sha + " holds " + std::to_string(have) + " bytes, expected " +
                                                 std::to_string(sizeBytes));
    }
    std::string actual = digestHex;
    if (actual.empty()) {
        auto digest = crypto::sha256File(p.string());
        if (!digest) return digest.error();
        actual = crypto::toHex(*digest);
    }
    if (actual != sha) {
        discardPartial(sha);
        return makeError(Errc::HashMismatch, "downloaded media does not hash to " + sha + " (discarded)");
    }
    int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        ::fsync(fd);
        ::close(fd);
    }
    if (::rename(p.c_str(), blobPath(sha).c_str()) != 0)
        return makeError(Errc::Io, "cannot move " + p.string() + " into blobs/: " + std::strerror(errno));
    return pack::syncDir((dir_ / "blobs").string());
}

void Cache::discardPartial(const std::string& sha) {
    if (openSha_ == sha) closeOpen();
    std::error_code ec;
    fs::remove(dir_ / "partial" / sha, ec);
}

Status Cache::adopt(const fs::path& file, const std::string& sha) {
    if (::rename(file.c_str(), blobPath(sha).c_str()) != 0)
        return makeError(Errc::Io, "cannot move " + file.string() + " into blobs/: " + std::strerror(errno));
    return {};
}

Cache::GcResult Cache::gc(const std::set<std::string>& keep, const std::set<std::string>& keepPartial) {
    GcResult r;
    closeOpen();
    std::error_code ec;
    for (const char* sub : {"blobs", "partial"}) {
        const bool blobs = std::string(sub) == "blobs";
        for (auto it = fs::directory_iterator(dir_ / sub, ec); !ec && it != fs::directory_iterator();
             it.increment(ec)) {
            const std::string name = it->path().filename().string();
            if ((blobs ? keep : keepPartial).count(name)) continue;
            std::error_code e2;
            auto size = fs::file_size(it->path(), e2);
            if (fs::remove(it->path(), e2)) {
                (blobs ? r.blobsRemoved : r.partialsRemoved)++;
                r.bytesFreed += e2 ? 0 : size;
            }
        }
    }
    (void)pack::syncDir((dir_ / "blobs").string());
    return r;
}

std::uint64_t Cache::usedBytes() const {
    std::uint64_t total = 0;
    std::error_code ec;
    for (const char* sub : {"blobs", "partial"})
        for (auto it = fs::directory_iterator(dir_ / sub, ec); !ec && it != fs::directory_iterator();
             it.increment(ec)) {
            std::error_code e2;
            auto n = it->file_size(e2);
            if (!e2) total += n;
        }
    return total;
}

std::uint64_t Cache::diskFreeBytes() const {
    struct statvfs vfs {};
    if (::statvfs(dir_.c_str(), &vfs) != 0) return 0;
    return static_cast<std::uint64_t>(vfs.f_bavail) * vfs.f_frsize;
}

std::uint64_t Cache::availableBytes() const {
    std::uint64_t free = diskFreeBytes();
    if (quota_) {
        const auto used = usedBytes();
        free = std::min<std::uint64_t>(free, used >= quota_ ? 0 : quota_ - used);
    }
    return free;
}

}  // namespace microscape::player
