#include "microscape/controller/media_store.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <sstream>
#include <vector>

#include "microscape/core/media_kind.hpp"

namespace microscape::controller {

namespace fs = std::filesystem;

MediaStore::MediaStore(fs::path root) : root_(std::move(root)) {
    fs::create_directories(root_ / "tmp");
    // Leftovers of uploads interrupted by a crash.
    for (auto& e : fs::directory_iterator(root_ / "tmp")) {
        std::error_code ec;
        fs::remove(e.path(), ec);
    }
}

fs::path MediaStore::pathOf(const std::string& sha) const {
    return root_ / sha.substr(0, 2) / sha;
}

bool MediaStore::contains(const std::string& sha) const {
    std::error_code ec;
    return fs::is_regular_file(pathOf(sha), ec);
}

Result<MediaStore::Stored> MediaStore::receive(std::istream& in, std::uint64_t maxBytes) {
    Stored s;
    s.tmpPath = root_ / "tmp" / ("upload-" + randomToken(12));
    int fd = ::open(s.tmpPath.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
    if (fd < 0)
        return makeError(Errc::Io, std::string("cannot create a temporary upload file: ") + std::strerror(errno));
    Sha256Stream hash;
    std::vector<char> buf(256 * 1024);
    auto fail = [&](Error e) -> Result<Stored> {
        ::close(fd);
        discard(s);
        return e;
    };
    while (in) {
        in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
        auto n = static_cast<std::size_t>(in.gcount());
        if (n == 0) break;
        if (s.sizeBytes + n > maxBytes)
            return fail(
                makeError(Errc::TooLarge, "upload exceeds the limit of " + std::to_string(maxBytes) + " bytes"));
        if (s.head.size() < kMediaSniffBytes) s.head.append(buf.data(), std::min(n, kMediaSniffBytes - s.head.size()));
        hash.update(buf.data(), n);
        const char* p = buf.data();
        std::size_t left = n;
        while (left > 0) {
            ssize_t w = ::write(fd, p, left);
            if (w < 0) return fail(makeError(Errc::Io, "write failed while storing an upload"));
            p += w;
            left -= static_cast<std::size_t>(w);
        }
        s.sizeBytes += n;
    }
    if (in.bad()) return fail(makeError(Errc::Io, "the upload stream broke off"));
    if (::fsync(fd) != 0) return fail(makeError(Errc::Io, "fsync failed while storing an upload"));
    ::close(fd);
    s.sha256 = hash.finishHex();
    return s;
}

Result<MediaStore::Stored> MediaStore::receiveBytes(const std::string& bytes) {
    std::istringstream in(bytes);
    return receive(in, bytes.size());
}

Result<MediaStore::Stored> MediaStore::adopt(const fs::path& tmpFile) {
    Stored s;
    s.tmpPath = tmpFile;
    int fd = ::open(tmpFile.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return makeError(Errc::Io, std::string("cannot read a derived file: ") + std::strerror(errno));
    Sha256Stream hash;
    std::vector<char> buf(256 * 1024);
    ssize_t n;
    while ((n = ::read(fd, buf.data(), buf.size())) > 0) {
        if (s.head.size() < kMediaSniffBytes)
            s.head.append(buf.data(),
                          std::min<std::size_t>(static_cast<std::size_t>(n), kMediaSniffBytes - s.head.size()));
        hash.update(buf.data(), static_cast<std::size_t>(n));
        s.sizeBytes += static_cast<std::uint64_t>(n);
    }
    const bool failed = n < 0 || ::fsync(fd) != 0;
    ::close(fd);
    if (failed) return makeError(Errc::Io, "reading a derived file failed");
    s.sha256 = hash.finishHex();
    return s;
}

Status MediaStore::commit(const Stored& s) {
    fs::path dest = pathOf(s.sha256);
    std::error_code ec;
    fs::create_directories(dest.parent_path(), ec);
    if (fs::exists(dest, ec)) {
        discard(s);
        return {};
    }
    fs::rename(s.tmpPath, dest, ec);
    if (ec) return makeError(Errc::Io, "cannot move upload into the media store: " + ec.message());
    int dfd = ::open(dest.parent_path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        ::fsync(dfd);
        ::close(dfd);
    }
    return {};
}

void MediaStore::discard(const Stored& s) noexcept {
    std::error_code ec;
    if (!s.tmpPath.empty()) fs::remove(s.tmpPath, ec);
}

}  // namespace microscape::controller
