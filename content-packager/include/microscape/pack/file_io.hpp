// File-backed byte sources and sinks for the tar reader/writer, plus small file
// helpers used by the tools. Each object is used by one thread at a time.
#pragma once

#include <cstdint>
#include <string>

#include "microscape/core/result.hpp"
#include "microscape/core/tar.hpp"

namespace microscape::pack {

// Reads a file (or standard input for "-"); skip() seeks when it can.
class FileSource final : public tar::ByteSource {
  public:
    static Result<FileSource> open(const std::string& path);
    FileSource(FileSource&& other) noexcept;
    FileSource& operator=(FileSource&&) = delete;
    ~FileSource() override;

    Result<std::size_t> read(void* buf, std::size_t n) override;
    Status skip(std::uint64_t n) override;
    std::uint64_t sizeBytes() const { return size_; }  // 0 when not a regular file
    bool seekable() const { return seekable_; }        // a regular file: skip() seeks

  private:
    FileSource(int fd, std::string path, bool seekable, std::uint64_t size)
        : fd_(fd), path_(std::move(path)), seekable_(seekable), size_(size) {}
    int fd_ = -1;
    std::string path_;
    bool seekable_ = false;
    std::uint64_t size_ = 0;
    std::uint64_t pos_ = 0;
};

// Writes a new file next to its final path and renames it into place on
// commit() after fsync, so readers never see a partial file. Destroying it
// without commit() removes the temporary file.
class AtomicFile final : public tar::ByteSink {
  public:
    // Errors: Exists (final path exists and overwrite is false), Io.
    static Result<AtomicFile> create(const std::string& finalPath, bool overwrite, unsigned mode = 0644);
    AtomicFile(AtomicFile&& other) noexcept;
    AtomicFile& operator=(AtomicFile&&) = delete;
    ~AtomicFile() override;

    Status write(const void* buf, std::size_t n) override;
    Status commit();  // fsync, rename, fsync the directory. Errors: Io.
    int fd() const { return fd_; }
    const std::string& tempPath() const { return tmp_; }

  private:
    AtomicFile(int fd, std::string tmp, std::string finalPath, bool overwrite)
        : fd_(fd), tmp_(std::move(tmp)), final_(std::move(finalPath)), overwrite_(overwrite) {}
    int fd_ = -1;
    std::string tmp_, final_;
    bool overwrite_ = false;
};

// Writes all of buf to fd, retrying on EINTR. Errors: Io (ENOSPC named).
Status writeAll(int fd, const void* buf, std::size_t n, const std::string& what);
// fsync a directory so that a rename in it is durable.
Status syncDir(const std::string& dir);
std::string dirName(const std::string& path);
// Private data, whatever the process umask: restrictDir makes (if needed) and
// chmods a directory to 0700; restrictSqliteFiles creates the database file at
// 0600 if it does not exist yet and chmods it and its -wal, -shm and -journal
// siblings (when present) to 0600. Call it before SQLite opens the file: SQLite
// gives the files it creates later (WAL, shared memory) the database's mode.
// Errors: Io.
Status restrictDir(const std::string& dir);
Status restrictSqliteFiles(const std::string& dbPath);
std::string baseName(const std::string& path);

}  // namespace microscape::pack
