#include "microscape/pack/builder.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <thread>

#include "microscape/core/bundle.hpp"
#include "microscape/core/tar.hpp"
#include "microscape/pack/file_io.hpp"

namespace microscape::pack {

namespace {

constexpr std::size_t kChunkBytes = 1 << 20;
constexpr std::size_t kBuffers = 4;

// Writes buffers to a file descriptor on its own thread, in order. The producer
// thread calls acquire()/submit()/finish(); the writer thread only writes.
class AsyncWriter {
  public:
    AsyncWriter(int fd, std::string what) : fd_(fd), what_(std::move(what)) {
        for (std::size_t i = 0; i < kBuffers; ++i) free_.emplace_back(kChunkBytes);
        thread_ = std::thread([this] { run(); });
    }
    ~AsyncWriter() {
        {
            std::lock_guard lock(mu_);
            stop_ = true;
        }
        cv_.notify_all();
        thread_.join();
    }

    std::vector<char> acquire() {
        std::unique_lock lock(mu_);
        cv_.wait(lock, [&] { return !free_.empty() || failed_; });
        if (free_.empty()) return std::vector<char>(kChunkBytes);
        auto b = std::move(free_.front());
        free_.pop_front();
        b.resize(kChunkBytes);
        return b;
    }

    // Returns a buffer that was acquired but not submitted.
    void release(std::vector<char> buf) {
        std::lock_guard lock(mu_);
        free_.push_back(std::move(buf));
        cv_.notify_all();
    }

    // Queues buf[0, n) for writing. Errors: the writer's first error.
    Status submit(std::vector<char> buf, std::size_t n) {
        buf.resize(n);
        std::lock_guard lock(mu_);
        if (failed_) return error_;
        queue_.push_back(std::move(buf));
        cv_.notify_all();
        return {};
    }

    // Waits until everything queued is written. Errors: the writer's first error.
    Status drain() {
        std::unique_lock lock(mu_);
        cv_.wait(lock, [&] { return (queue_.empty() && !busy_) || failed_; });
        if (failed_) return error_;
        return {};
    }

  private:
    void run() {
        std::unique_lock lock(mu_);
        while (true) {
            cv_.wait(lock, [&] { return !queue_.empty() || stop_; });
            if (queue_.empty()) return;
            auto buf = std::move(queue_.front());
            queue_.pop_front();
            busy_ = true;
            bool skip = failed_;
            lock.unlock();
            Status s = skip ? Status{} : writeAll(fd_, buf.data(), buf.size(), what_);
            lock.lock();
            busy_ = false;
            if (!s) {
                failed_ = true;
                error_ = s;
            }
            free_.push_back(std::move(buf));
            cv_.notify_all();
        }
    }

    int fd_;
    std::string what_;
    std::mutex mu_;  // guards everything below
    std::condition_variable cv_;
    std::deque<std::vector<char>> queue_, free_;
    bool busy_ = false, stop_ = false, failed_ = false;
    Status error_;
    std::thread thread_;
};

Error ioError(const std::string& what, const std::string& path) {
    return makeError(Errc::Io, what + " " + path + ": " + std::strerror(errno));
}

Status readFull(int fd, char* buf, std::size_t want, std::size_t& got, const std::string& what) {
    got = 0;
    while (got < want) {
        ssize_t n = ::read(fd, buf + got, want - got);
        if (n < 0) {
            if (errno == EINTR) continue;
            return ioError("cannot read", what);
        }
        if (n == 0) break;
        got += static_cast<std::size_t>(n);
    }
    return {};
}

std::string stem(const std::string& fileName) {
    auto dot = fileName.rfind('.');
    return dot == std::string::npos || dot == 0 ? fileName : fileName.substr(0, dot);
}

}  // namespace

Result<CopyResult> hashingCopy(int inFd, int outFd, const std::string& what, std::uint64_t maxBytes) {
    AsyncWriter writer(outFd, what);
    crypto::Sha256 hasher;
    CopyResult out;
    while (true) {
        auto buf = writer.acquire();
        std::size_t got = 0;
        MS_TRY(readFull(inFd, buf.data(), buf.size(), got, what));
        if (got == 0) {
            writer.release(std::move(buf));
            break;
        }
        out.sizeBytes += got;
        if (out.sizeBytes > maxBytes)
            return makeError(Errc::TooLarge, what + " is larger than " + std::to_string(maxBytes) + " bytes");
        hasher.update(buf.data(), got);
        MS_TRY(writer.submit(std::move(buf), got));
    }
    MS_TRY(writer.drain());
    out.digest = hasher.finish();
    return out;
}

Result<BuildResult> buildBundle(const BuildRequest& req, const crypto::PrivateKey& key) {
    if (req.media.size() > manifest::kMaxMediaCount)
        return makeError(Errc::TooLarge, "more than " + std::to_string(manifest::kMaxMediaCount) + " media files");
    auto out = AtomicFile::create(req.outPath, req.overwrite);
    if (!out) return out.error();

    manifest::Manifest m;
    m.bundleId = req.bundleId;
    if (m.bundleId.empty()) {
        auto rnd = crypto::randomBytes(8);
        if (!rnd) return rnd.error();
        m.bundleId = "b-" + crypto::toHex(*rnd);
    }
    m.kind = req.kind;
    m.version = req.version;
    m.issuedAtMs = req.issuedAtMs / 1000 * 1000;
    m.expiresAtMs = req.expiresAtMs / 1000 * 1000;
    m.target = req.target;
    m.schedule = req.schedule;

    BuildResult result;
    {
        AsyncWriter writer(out->fd(), req.outPath);
        auto emit = [&](const std::string& bytes) -> Status {
            auto buf = writer.acquire();
            buf.assign(bytes.begin(), bytes.end());
            result.bytesWritten += bytes.size();
            return writer.submit(std::move(buf), bytes.size());
        };
        for (const auto& input : req.media) {
            int fd = ::open(input.path.c_str(), O_RDONLY | O_CLOEXEC);
            if (fd < 0) return ioError("cannot open", input.path);
            struct FdCloser {
                int fd;
                ~FdCloser() { ::close(fd); }
            } closer{fd};
            struct stat st {};
            if (::fstat(fd, &st) != 0) return ioError("cannot stat", input.path);
            if (!S_ISREG(st.st_mode)) return makeError(Errc::BadMedia, input.path + " is not a regular file");
            ::posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
            std::uint64_t size = static_cast<std::uint64_t>(st.st_size);
            if (size > manifest::kMaxMediaBytes)
                return makeError(Errc::TooLarge, input.path + " is larger than the 8 GiB per-file limit");

            // The tar header needs the name (the hash) before the data; write a
            // placeholder header now and patch it in place once the hash is known.
            off_t headerAt = static_cast<off_t>(result.bytesWritten);
            MS_TRY(emit(std::string(tar::kBlockBytes, '\0')));
            crypto::Sha256 hasher;
            std::uint64_t copied = 0;
            while (true) {
                auto buf = writer.acquire();
                std::size_t got = 0;
                MS_TRY(readFull(fd, buf.data(), buf.size(), got, input.path));
                copied += got;
                if (got == 0 || copied > size) {
                    writer.release(std::move(buf));
                    break;
                }
                hasher.update(buf.data(), got);
                MS_TRY(writer.submit(std::move(buf), got));
            }
            if (copied != size) return makeError(Errc::Io, input.path + " changed size while it was being read");
            result.bytesWritten += size;
            std::uint64_t pad = (tar::kBlockBytes - size % tar::kBlockBytes) % tar::kBlockBytes;
            if (pad) MS_TRY(emit(std::string(pad, '\0')));
            std::string sha = crypto::toHex(hasher.finish());

            if (m.findMedia(sha)) {
                // Same content given twice: drop the second copy by rewinding.
                MS_TRY(writer.drain());
                result.bytesWritten = static_cast<std::uint64_t>(headerAt);
                if (::ftruncate(out->fd(), headerAt) != 0 || ::lseek(out->fd(), headerAt, SEEK_SET) < 0)
                    return ioError("cannot rewind", out->tempPath());
                continue;
            }
            auto header = tar::makeHeader(std::string(bundle::kMediaPrefix) + sha, size, req.issuedAtMs / 1000);
            if (!header) return header.error();
            MS_TRY(writer.drain());
            if (::pwrite(out->fd(), header->data(), header->size(), headerAt) != static_cast<ssize_t>(header->size()))
                return ioError("cannot write", out->tempPath());

            manifest::MediaEntry e;
            e.sha256 = sha;
            e.sizeBytes = size;
            e.kind = input.info.kind;
            e.mime = input.info.mime;
            e.durationMs = input.info.durationMs;
            e.fileName = input.fileName.empty() ? baseName(input.path) : input.fileName;
            e.name = input.name.empty() ? stem(e.fileName) : input.name;
            if (!manifest::isValidFileName(e.fileName) || !manifest::isValidDisplayName(e.name))
                return makeError(Errc::BadManifest, "media name '" + e.fileName + "' is not valid UTF-8 text");
            m.media.push_back(std::move(e));
        }
        if (m.totalMediaBytes() > manifest::kMaxBundleBytes)
            return makeError(Errc::TooLarge, "media add up to more than 64 GiB");

        auto signedManifest = manifest::sign(m, key);
        // Re-parse what we are about to write: the builder never emits a
        // manifest that the verifier would refuse.
        auto check = manifest::parse(signedManifest.bytes);
        if (!check) return check.error();
        tar::StringSink tail;
        tar::Writer tw(tail);
        MS_TRY(tw.add(bundle::kManifestName, signedManifest.bytes, req.issuedAtMs / 1000));
        MS_TRY(tw.add(bundle::kSignatureName, signedManifest.signature, req.issuedAtMs / 1000));
        MS_TRY(tw.finish());
        MS_TRY(emit(tail.data));
        MS_TRY(writer.drain());
    }
    MS_TRY(out->commit());
    result.manifest = std::move(m);
    return result;
}

}  // namespace microscape::pack
