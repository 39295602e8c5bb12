#include "microscape/pack/file_io.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "microscape/core/crypto.hpp"

namespace microscape::pack {

namespace {
Error ioError(const std::string& what, const std::string& path) {
    return makeError(Errc::Io, what + " " + path + ": " + std::strerror(errno));
}
}  // namespace

std::string dirName(const std::string& path) {
    auto slash = path.rfind('/');
    if (slash == std::string::npos) return ".";
    if (slash == 0) return "/";
    return path.substr(0, slash);
}

std::string baseName(const std::string& path) {
    auto slash = path.rfind('/');
    return slash == std::string::npos ? path : path.substr(slash + 1);
}

Status writeAll(int fd, const void* buf, std::size_t n, const std::string& what) {
    const char* p = static_cast<const char*>(buf);
    while (n > 0) {
        ssize_t w = ::write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            if (errno == ENOSPC) return makeError(Errc::Io, "no space left on the device while writing " + what);
            return ioError("cannot write", what);
        }
        p += w;
        n -= static_cast<std::size_t>(w);
    }
    return {};
}

Status syncDir(const std::string& dir) {
    int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return ioError("cannot open directory", dir);
    int rc = ::fsync(fd);
    ::close(fd);
    if (rc != 0) return ioError("cannot sync directory", dir);
    return {};
}

Status restrictDir(const std::string& dir) {
    if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) return ioError("cannot create directory", dir);
    if (::chmod(dir.c_str(), 0700) != 0) return ioError("cannot restrict the permissions of", dir);
    return {};
}

Status restrictSqliteFiles(const std::string& dbPath) {
    int fd = ::open(dbPath.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) return ioError("cannot open", dbPath);
    const int rc = ::fchmod(fd, 0600);
    ::close(fd);
    if (rc != 0) return ioError("cannot restrict the permissions of", dbPath);
    for (const char* suffix : {"-wal", "-shm", "-journal"}) {
        const std::string p = dbPath + suffix;
        if (::chmod(p.c_str(), 0600) != 0 && errno != ENOENT) return ioError("cannot restrict the permissions of", p);
    }
    return {};
}

Result<FileSource> FileSource::open(const std::string& path) {
    int fd = path == "-" ? ::dup(STDIN_FILENO) : ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return ioError("cannot open", path);
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
        auto e = ioError("cannot stat", path);
        ::close(fd);
        return e;
    }
    bool regular = S_ISREG(st.st_mode);
    if (regular) ::posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    return FileSource(fd, path, regular, regular ? static_cast<std::uint64_t>(st.st_size) : 0);
}

FileSource::FileSource(FileSource&& o) noexcept
    : fd_(o.fd_), path_(std::move(o.path_)), seekable_(o.seekable_), size_(o.size_), pos_(o.pos_) {
    o.fd_ = -1;
}

FileSource::~FileSource() {
    if (fd_ >= 0) ::close(fd_);
}

Result<std::size_t> FileSource::read(void* buf, std::size_t n) {
    while (true) {
        ssize_t r = ::read(fd_, buf, n);
        if (r < 0) {
            if (errno == EINTR) continue;
            return ioError("cannot read", path_);
        }
        pos_ += static_cast<std::uint64_t>(r);
        return static_cast<std::size_t>(r);
    }
}

Status FileSource::skip(std::uint64_t n) {
    if (!seekable_) return ByteSource::skip(n);
    if (pos_ + n > size_) {
        pos_ = size_;
        ::lseek(fd_, 0, SEEK_END);
        return makeError(Errc::Truncated, "input ends in the middle of an entry");
    }
    if (::lseek(fd_, static_cast<off_t>(n), SEEK_CUR) < 0) return ioError("cannot seek in", path_);
    pos_ += n;
    return {};
}

Result<AtomicFile> AtomicFile::create(const std::string& finalPath, bool overwrite, unsigned mode) {
    struct stat st {};
    if (!overwrite && ::stat(finalPath.c_str(), &st) == 0)
        return makeError(Errc::Exists, "refusing to overwrite " + finalPath);
    auto rnd = crypto::randomBytes(6);
    if (!rnd) return rnd.error();
    std::string tmp = dirName(finalPath) + "/." + baseName(finalPath) + ".tmp-" + crypto::toHex(*rnd);
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (fd < 0) return ioError("cannot create", tmp);
    return AtomicFile(fd, tmp, finalPath, overwrite);
}

AtomicFile::AtomicFile(AtomicFile&& o) noexcept
    : fd_(o.fd_), tmp_(std::move(o.tmp_)), final_(std::move(o.final_)), overwrite_(o.overwrite_) {
    o.fd_ = -1;
    o.tmp_.clear();
}

AtomicFile::~AtomicFile() {
    if (fd_ >= 0) ::close(fd_);
    if (!tmp_.empty()) ::unlink(tmp_.c_str());
}

Status AtomicFile::write(const void* buf, std::size_t n) {
    return writeAll(fd_, buf, n, final_);
}

Status AtomicFile::commit() {
    if (::fsync(fd_) != 0) return ioError("cannot sync", tmp_);
    if (::close(fd_) != 0) {
        fd_ = -1;
        return ioError("cannot close", tmp_);
    }
    fd_ = -1;
    if (overwrite_) {
        if (::rename(tmp_.c_str(), final_.c_str()) != 0) return ioError("cannot rename into", final_);
    } else {
        // link() fails if the final path appeared meanwhile: never overwrite.
        if (::link(tmp_.c_str(), final_.c_str()) != 0) {
            if (errno == EEXIST) return makeError(Errc::Exists, "refusing to overwrite " + final_);
            return ioError("cannot create", final_);
        }
        ::unlink(tmp_.c_str());
    }
    tmp_.clear();
    return syncDir(dirName(final_));
}

}  // namespace microscape::pack
