// A strict reader and a writer for POSIX ustar archives, over abstract byte
// sources and sinks so that parsing works from memory (tests, fuzzing) as well as
// from files. Reader and Writer objects are used by one thread at a time.
//
// The reader accepts only what bundles need and rejects every ambiguous case:
// regular files only (no links, devices, directories, pax or GNU extension
// headers), relative names without "." / ".." / empty components, valid header
// checksums, and an end-of-archive marker of two zero blocks followed by nothing
// but zero padding. See docs/bundle-format.md.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "microscape/core/result.hpp"

namespace microscape::tar {

constexpr std::size_t kBlockBytes = 512;
constexpr std::size_t kMaxNameBytes = 255;                 // prefix(155) + '/' + name(100) at most
constexpr std::uint64_t kMaxEntryBytes = 077777777777ull;  // 11 octal digits

class ByteSource {
  public:
    virtual ~ByteSource() = default;
    // Reads up to n bytes into buf; returns 0 only at the end of input. Errors: Io.
    virtual Result<std::size_t> read(void* buf, std::size_t n) = 0;
    // Skips n bytes. The default reads and discards. Errors: Io, Truncated.
    virtual Status skip(std::uint64_t n);
};

class MemorySource final : public ByteSource {
  public:
    explicit MemorySource(std::string_view data) : data_(data) {}
    Result<std::size_t> read(void* buf, std::size_t n) override;
    Status skip(std::uint64_t n) override;

  private:
    std::string_view data_;
    std::size_t pos_ = 0;
};

class ByteSink {
  public:
    virtual ~ByteSink() = default;
    // Writes all n bytes or fails. Errors: Io.
    virtual Status write(const void* buf, std::size_t n) = 0;
};

class StringSink final : public ByteSink {
  public:
    Status write(const void* buf, std::size_t n) override {
        data.append(static_cast<const char*>(buf), n);
        return {};
    }
    std::string data;
};

struct Header {
    std::string name;
    std::uint64_t sizeBytes = 0;
    std::int64_t mtime = 0;  // seconds since the epoch
};

// True if name is an acceptable entry name (see the header comment).
bool isSafeName(std::string_view name);

class Reader {
  public:
    explicit Reader(ByteSource& source) : src_(source) {}

    // Moves to the next entry, skipping what is left of the current one. Returns
    // std::nullopt at a well-formed end of archive. Errors: Truncated, BadTar,
    // BadPath, BadEntryType, EmptyBundle (input with no bytes at all), Io.
    Result<std::optional<Header>> next();

    // Reads up to n bytes of the current entry's data; 0 at its end.
    // Errors: Truncated, Io.
    Result<std::size_t> read(void* buf, std::size_t n);

    // Bytes consumed from the source so far.
    std::uint64_t offset() const { return offset_; }

  private:
    Status readExact(void* buf, std::size_t n, const char* what);
    Status finishEntry();
    Status checkTrailer();

    ByteSource& src_;
    std::uint64_t offset_ = 0;
    std::uint64_t remaining_ = 0;  // data bytes left in the current entry
    std::uint64_t padding_ = 0;    // padding after the current entry's data
    bool ended_ = false;
    bool sawAny_ = false;
};

class Writer {
  public:
    explicit Writer(ByteSink& sink) : sink_(sink) {}

    // Starts a regular-file entry of exactly sizeBytes. Errors: BadPath, TooLarge,
    // Usage (previous entry incomplete), Io.
    Status begin(std::string_view name, std::uint64_t sizeBytes, std::int64_t mtime = 0);
    // Appends data to the current entry. Errors: Usage (more than declared), Io.
    Status write(const void* buf, std::size_t n);
    // Pads the completed entry. Errors: Usage (fewer bytes than declared), Io.
    Status end();
    // Convenience: a whole small entry.
    Status add(std::string_view name, std::string_view data, std::int64_t mtime = 0);
    // Writes the end-of-archive marker. Errors: Usage, Io.
    Status finish();

  private:
    ByteSink& sink_;
    std::uint64_t remaining_ = 0;
    std::uint64_t written_ = 0;
    bool open_ = false;
};

// Reads the whole data of the entry just returned by next() into memory, refusing
// entries larger than limitBytes. For small entries (manifests, signatures).
// Errors: TooLarge, Truncated, Io.
Result<std::string> readEntry(Reader& reader, const Header& header, std::uint64_t limitBytes);

// Builds a 512-byte ustar header block (exposed for tests that craft archives).
// Errors: BadPath, TooLarge.
Result<std::string> makeHeader(std::string_view name, std::uint64_t sizeBytes, std::int64_t mtime, char typeflag = '0');

}  // namespace microscape::tar
