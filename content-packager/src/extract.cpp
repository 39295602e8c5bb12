#include "microscape/pack/extract.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <vector>

#include "microscape/core/crypto.hpp"
#include "microscape/pack/file_io.hpp"

namespace microscape::pack {

namespace {

// Stages each media file under a private directory; nothing is moved into
// place until the whole bundle has verified.
class StagingSink final : public bundle::MediaSink {
  public:
    explicit StagingSink(std::string dir) : dir_(std::move(dir)) {}
    ~StagingSink() override {
        if (fd_ >= 0) ::close(fd_);
    }

    Status begin(const std::string& sha256, std::uint64_t) override {
        std::string path = dir_ + "/" + sha256;
        fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd_ < 0) return makeError(Errc::Io, "cannot create " + path + ": " + std::strerror(errno));
        current_ = path;
        return {};
    }
    Status write(const void* data, std::size_t n) override { return writeAll(fd_, data, n, current_); }
    Status end() override {
        int rc = ::fsync(fd_);
        rc |= ::close(fd_);
        fd_ = -1;
        if (rc != 0) return makeError(Errc::Io, "cannot sync " + current_ + ": " + std::strerror(errno));
        return {};
    }

  private:
    std::string dir_, current_;
    int fd_ = -1;
};

Status writeSmall(const std::string& path, const std::string& data) {
    auto f = AtomicFile::create(path, true);
    if (!f) return f.error();
    MS_TRY(f->write(data.data(), data.size()));
    return f->commit();
}

}  // namespace

Result<bundle::Verified> extractBundle(const std::string& bundlePath, const std::string& dir,
                                       const bundle::VerifyOptions& options) {
    {
        auto src = FileSource::open(bundlePath);
        if (!src) return src.error();
        auto first = bundle::verify(*src, options);
        if (!first) return first.error();
    }
    namespace fs = std::filesystem;
    std::error_code ec;
    bool created = !fs::exists(dir, ec);
    fs::create_directories(fs::path(dir) / "media", ec);
    if (ec) return makeError(Errc::Io, "cannot create " + dir + "/media: " + ec.message());
    auto rnd = crypto::randomBytes(6);
    if (!rnd) return rnd.error();
    std::string staging = dir + "/.extract-" + crypto::toHex(*rnd);
    fs::create_directory(staging, ec);
    if (ec) return makeError(Errc::Io, "cannot create " + staging + ": " + ec.message());

    auto cleanup = [&] {
        fs::remove_all(staging, ec);
        if (created) fs::remove_all(dir, ec);
    };
    auto src = FileSource::open(bundlePath);
    if (!src) {
        cleanup();
        return src.error();
    }
    StagingSink sink(staging);
    auto v = bundle::verify(*src, options, &sink);
    if (!v) {
        cleanup();
        return v.error();
    }
    for (const auto& e : v->manifest.media) {
        fs::rename(fs::path(staging) / e.sha256, fs::path(dir) / "media" / e.sha256, ec);
        if (ec) {
            cleanup();
            return makeError(Errc::Io, "cannot move " + e.sha256 + " into " + dir + "/media: " + ec.message());
        }
    }
    fs::remove_all(staging, ec);
    if (auto s = syncDir(dir + "/media"); !s) return s.error();
    if (auto s = writeSmall(dir + "/manifest.sig", v->signature); !s) return s.error();
    if (auto s = writeSmall(dir + "/manifest.json", v->manifestBytes); !s) return s.error();
    return v;
}

}  // namespace microscape::pack
