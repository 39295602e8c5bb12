#include "microscape/core/tar.hpp"

#include <algorithm>
#include <cstdio>
#include <cstring>

namespace microscape::tar {

namespace {

constexpr std::size_t kNameOff = 0, kNameLen = 100;
constexpr std::size_t kModeOff = 100;
constexpr std::size_t kUidOff = 108, kGidOff = 116;
constexpr std::size_t kSizeOff = 124, kSizeLen = 12;
constexpr std::size_t kMtimeOff = 136, kMtimeLen = 12;
constexpr std::size_t kChksumOff = 148, kChksumLen = 8;
constexpr std::size_t kTypeOff = 156;
constexpr std::size_t kLinkOff = 157, kLinkLen = 100;
constexpr std::size_t kMagicOff = 257;
constexpr std::size_t kUnameOff = 265, kGnameOff = 297, kOwnerNameLen = 32;
constexpr std::size_t kDevMajorOff = 329, kDevMinorOff = 337, kDevLen = 8;
constexpr std::size_t kUnusedOff = 500;  // ustar: 12 bytes after the prefix, all zero
constexpr std::size_t kPrefixOff = 345, kPrefixLen = 155;

std::uint64_t padFor(std::uint64_t size) {
    return (kBlockBytes - size % kBlockBytes) % kBlockBytes;
}

// Parses a NUL- or space-terminated octal field with optional leading spaces.
bool parseOctal(const char* field, std::size_t len, std::uint64_t& out) {
    std::size_t i = 0;
    while (i < len && field[i] == ' ') ++i;
    std::uint64_t v = 0;
    std::size_t digits = 0;
    for (; i < len; ++i) {
        char c = field[i];
        if (c >= '0' && c <= '7') {
            if (v > (UINT64_MAX >> 3)) return false;
            v = (v << 3) | static_cast<std::uint64_t>(c - '0');
            ++digits;
        } else {
            break;
        }
    }
    if (digits == 0) return false;
    for (; i < len; ++i)
        if (field[i] != ' ' && field[i] != '\0') return false;
    out = v;
    return true;
}

std::string fieldString(const char* field, std::size_t len) {
    const char* end = static_cast<const char*>(std::memchr(field, '\0', len));
    return std::string(field, end ? static_cast<std::size_t>(end - field) : len);
}

void writeOctal(char* field, std::size_t len, std::uint64_t v) {
    // len-1 zero-padded digits followed by a NUL; callers ensure v fits.
    for (std::size_t i = len - 1; i-- > 0;) {
        field[i] = static_cast<char>('0' + (v & 7));
        v >>= 3;
    }
    field[len - 1] = '\0';
}

bool allZero(const char* p, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i)
        if (p[i] != 0) return false;
    return true;
}

// uname/gname: printable ASCII up to the first NUL, then only NULs.
bool ownerNameOk(const char* p, std::size_t n) {
    std::size_t i = 0;
    for (; i < n && p[i] != '\0'; ++i)
        if (static_cast<unsigned char>(p[i]) < 0x20 || static_cast<unsigned char>(p[i]) > 0x7e) return false;
    return allZero(p + i, n - i);
}

}  // namespace

Status ByteSource::skip(std::uint64_t n) {
    char buf[8192];
    while (n > 0) {
        auto got = read(buf, static_cast<std::size_t>(std::min<std::uint64_t>(n, sizeof buf)));
        if (!got) return got.error();
        if (*got == 0) return makeError(Errc::Truncated, "input ends in the middle of an entry");
        n -= *got;
    }
    return {};
}

Result<std::size_t> MemorySource::read(void* buf, std::size_t n) {
    std::size_t take = std::min(n, data_.size() - pos_);
    if (take) std::memcpy(buf, data_.data() + pos_, take);
    pos_ += take;
    return take;
}

Status MemorySource::skip(std::uint64_t n) {
    if (n > data_.size() - pos_) {
        pos_ = data_.size();
        return makeError(Errc::Truncated, "input ends in the middle of an entry");
    }
    pos_ += static_cast<std::size_t>(n);
    return {};
}

bool isSafeName(std::string_view name) {
    if (name.empty() || name.size() > kMaxNameBytes || name.front() == '/') return false;
    std::size_t start = 0;
    while (start <= name.size()) {
        std::size_t slash = name.find('/', start);
        std::string_view part = name.substr(start, slash == std::string_view::npos ? name.npos : slash - start);
        if (part.empty() || part == "." || part == "..") return false;
        if (slash == std::string_view::npos) break;
        start = slash + 1;
    }
    for (unsigned char c : name)
        if (c < 0x20 || c == 0x7f || c == '\\') return false;
    return true;
}

Status Reader::readExact(void* buf, std::size_t n, const char* what) {
    auto* p = static_cast<char*>(buf);
    std::size_t got = 0;
    while (got < n) {
        auto r = src_.read(p + got, n - got);
        if (!r) return r.error();
        if (*r == 0)
            return makeError(Errc::Truncated, std::string("archive ends in the middle of ") + what + " at byte " +
                                                  std::to_string(offset_ + got));
        got += *r;
    }
    offset_ += n;
    return {};
}

Status Reader::finishEntry() {
    const std::uint64_t skipBytes = remaining_;
    if (skipBytes > 0) {
        auto s = src_.skip(skipBytes);
        if (!s) {
            if (s.code() == Errc::Truncated)
                return makeError(Errc::Truncated, "archive ends inside an entry that starts before byte " +
                                                      std::to_string(offset_ + skipBytes + padding_));
            return s;
        }
        offset_ += skipBytes;
        remaining_ = 0;
    }
    if (padding_ > 0) {
        // The padding after an entry's data is zeros (docs/bundle-format.md).
        char pad[kBlockBytes];
        const std::uint64_t at = offset_;
        MS_TRY(readExact(pad, static_cast<std::size_t>(padding_), "an entry's padding"));
        padding_ = 0;
        if (!allZero(pad, static_cast<std::size_t>(offset_ - at)))
            return makeError(Errc::BadTar, "non-zero padding after an entry's data at byte " + std::to_string(at));
    }
    return {};
}

Status Reader::checkTrailer() {
    // After the two zero blocks only zero padding may follow (tar pads to records).
    char buf[kBlockBytes];
    while (true) {
        auto r = src_.read(buf, sizeof buf);
        if (!r) return r.error();
        if (*r == 0) return {};
        if (!allZero(buf, *r))
            return makeError(Errc::BadTar,
                             "non-zero data after the end-of-archive marker at byte " + std::to_string(offset_));
        offset_ += *r;
    }
}

Result<std::optional<Header>> Reader::next() {
    if (ended_) return std::optional<Header>();
    MS_TRY(finishEntry());
    char block[kBlockBytes];
    std::size_t got = 0;
    while (got < kBlockBytes) {
        auto r = src_.read(block + got, kBlockBytes - got);
        if (!r) return r.error();
        if (*r == 0) break;
        got += *r;
    }
    if (got == 0 && !sawAny_ && offset_ == 0) return makeError(Errc::EmptyBundle, "the file is empty");
    if (got < kBlockBytes) {
        if (got == 0)
            return makeError(Errc::Truncated,
                             "archive ends at byte " + std::to_string(offset_) + " without an end-of-archive marker");
        return makeError(Errc::Truncated,
                         "archive ends in the middle of a header at byte " + std::to_string(offset_ + got));
    }
    offset_ += kBlockBytes;
    if (allZero(block, kBlockBytes)) {
        char second[kBlockBytes];
        MS_TRY(readExact(second, kBlockBytes, "the end-of-archive marker"));
        if (!allZero(second, kBlockBytes))
            return makeError(Errc::BadTar, "a lone zero block at byte " + std::to_string(offset_ - 2 * kBlockBytes));
        MS_TRY(checkTrailer());
        ended_ = true;
        if (!sawAny_) return makeError(Errc::EmptyBundle, "the archive holds no entries");
        return std::optional<Header>();
    }
    sawAny_ = true;
    std::uint64_t headerAt = offset_ - kBlockBytes;
    auto at = " in the header at byte " + std::to_string(headerAt);

    std::uint64_t stored = 0;
    if (!parseOctal(block + kChksumOff, kChksumLen, stored)) return makeError(Errc::BadTar, "bad checksum field" + at);
    std::uint64_t sum = 0;
    for (std::size_t i = 0; i < kBlockBytes; ++i)
        sum += (i >= kChksumOff && i < kChksumOff + kChksumLen) ? ' ' : static_cast<unsigned char>(block[i]);
    if (sum != stored) return makeError(Errc::BadTar, "header checksum mismatch" + at);

    bool posix = std::memcmp(block + kMagicOff,
                             "ustar\0"
                             "00",
                             8) == 0;
    bool gnu = std::memcmp(block + kMagicOff, "ustar  \0", 8) == 0;
    if (!posix && !gnu) return makeError(Errc::BadTar, "not a ustar header" + at);

    char type = block[kTypeOff];
    std::string name = fieldString(block + kNameOff, kNameLen);
    if (posix) {
        std::string prefix = fieldString(block + kPrefixOff, kPrefixLen);
        if (!prefix.empty()) name = prefix + "/" + name;
    }
    if (type != '0' && type != '\0') {
        const char* what = "an unsupported entry type";
        switch (type) {
            case '1':
                what = "a hard link";
                break;
            case '2':
                what = "a symbolic link";
                break;
            case '3':
            case '4':
                what = "a device";
                break;
            case '5':
                what = "a directory";
                break;
            case '6':
                what = "a FIFO";
                break;
            case 'x':
            case 'g':
                what = "a pax extended header";
                break;
            case 'L':
            case 'K':
                what = "a GNU long-name header";
                break;
        }
        return makeError(Errc::BadEntryType, "entry '" + name + "' is " + what + "; only regular files are allowed");
    }
    if (!isSafeName(name)) return makeError(Errc::BadPath, "unsafe entry name '" + name + "'" + at);

    Header h;
    h.name = std::move(name);
    if (static_cast<unsigned char>(block[kSizeOff]) & 0x80)
        return makeError(Errc::TooLarge, "entry '" + h.name + "' uses a base-256 size (over 8 GiB)");
    if (!parseOctal(block + kSizeOff, kSizeLen, h.sizeBytes)) return makeError(Errc::BadTar, "bad size field" + at);
    std::uint64_t mtime = 0, ignored = 0;
    if (!parseOctal(block + kMtimeOff, kMtimeLen, mtime)) return makeError(Errc::BadTar, "bad mtime field" + at);
    h.mtime = static_cast<std::int64_t>(mtime);
    for (auto [off, what] : {std::pair{kModeOff, "mode"}, std::pair{kUidOff, "uid"}, std::pair{kGidOff, "gid"}})
        if (!parseOctal(block + off, 8, ignored))
            return makeError(Errc::BadTar, std::string("bad ") + what + " field" + at);
    for (auto off : {kDevMajorOff, kDevMinorOff})
        if (!allZero(block + off, kDevLen) && !parseOctal(block + off, kDevLen, ignored))
            return makeError(Errc::BadTar, "bad device number field" + at);
    if (!allZero(block + kLinkOff, kLinkLen)) return makeError(Errc::BadTar, "a regular file with a link name" + at);
    if (!ownerNameOk(block + kUnameOff, kOwnerNameLen) || !ownerNameOk(block + kGnameOff, kOwnerNameLen))
        return makeError(Errc::BadTar, "uname or gname is not printable ASCII followed by NULs" + at);
    if (posix && !allZero(block + kUnusedOff, kBlockBytes - kUnusedOff))
        return makeError(Errc::BadTar, "non-zero bytes in the header's unused tail" + at);
    remaining_ = h.sizeBytes;
    padding_ = padFor(h.sizeBytes);
    return std::optional<Header>(std::move(h));
}

Result<std::size_t> Reader::read(void* buf, std::size_t n) {
    if (remaining_ == 0) return std::size_t{0};
    std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(n, remaining_));
    auto r = src_.read(buf, want);
    if (!r) return r.error();
    if (*r == 0) return makeError(Errc::Truncated, "archive ends inside an entry at byte " + std::to_string(offset_));
    remaining_ -= *r;
    offset_ += *r;
    return *r;
}

Result<std::string> readEntry(Reader& reader, const Header& h, std::uint64_t limitBytes) {
    if (h.sizeBytes > limitBytes)
        return makeError(Errc::TooLarge, "entry " + h.name + " is " + std::to_string(h.sizeBytes) +
                                             " bytes; the limit is " + std::to_string(limitBytes));
    std::string data(static_cast<std::size_t>(h.sizeBytes), '\0');
    std::size_t got = 0;
    while (got < data.size()) {
        auto r = reader.read(data.data() + got, data.size() - got);
        if (!r) return r.error();
        got += *r;
    }
    return data;
}

Result<std::string> makeHeader(std::string_view name, std::uint64_t sizeBytes, std::int64_t mtime, char typeflag) {
    if (!isSafeName(name)) return makeError(Errc::BadPath, "unsafe entry name '" + std::string(name) + "'");
    if (sizeBytes > kMaxEntryBytes) return makeError(Errc::TooLarge, "entry larger than 8 GiB");
    std::string block(kBlockBytes, '\0');
    char* b = block.data();
    std::string_view base = name, prefix;
    if (name.size() > kNameLen) {
        // Split at a '/' so that the prefix fits 155 bytes and the rest 100.
        std::size_t cut = name.rfind('/', kPrefixLen);
        while (cut != std::string_view::npos && name.size() - cut - 1 > kNameLen) cut = std::string_view::npos;
        if (cut == std::string_view::npos || cut == 0)
            return makeError(Errc::BadPath, "entry name '" + std::string(name) + "' does not fit a ustar header");
        prefix = name.substr(0, cut);
        base = name.substr(cut + 1);
    }
    base.copy(b + kNameOff, base.size());
    prefix.copy(b + kPrefixOff, prefix.size());
    writeOctal(b + kModeOff, 8, 0644);
    writeOctal(b + kUidOff, 8, 0);
    writeOctal(b + kGidOff, 8, 0);
    writeOctal(b + kSizeOff, kSizeLen, sizeBytes);
    writeOctal(b + kMtimeOff, kMtimeLen, static_cast<std::uint64_t>(std::max<std::int64_t>(mtime, 0)));
    b[kTypeOff] = typeflag;
    std::memcpy(b + kMagicOff,
                "ustar\0"
                "00",
                8);
    std::memset(b + kChksumOff, ' ', kChksumLen);
    std::uint64_t sum = 0;
    for (unsigned char c : block) sum += c;
    writeOctal(b + kChksumOff, 7, sum);
    b[kChksumOff + 7] = ' ';
    return block;
}

Status Writer::begin(std::string_view name, std::uint64_t sizeBytes, std::int64_t mtime) {
    if (open_) return makeError(Errc::Usage, "previous tar entry not ended");
    auto header = makeHeader(name, sizeBytes, mtime);
    if (!header) return header.error();
    MS_TRY(sink_.write(header->data(), header->size()));
    remaining_ = sizeBytes;
    written_ = sizeBytes;
    open_ = true;
    return {};
}

Status Writer::write(const void* buf, std::size_t n) {
    if (!open_ || n > remaining_) return makeError(Errc::Usage, "more tar entry data than declared");
    MS_TRY(sink_.write(buf, n));
    remaining_ -= n;
    return {};
}

Status Writer::end() {
    if (!open_ || remaining_ != 0) return makeError(Errc::Usage, "tar entry shorter than declared");
    static const char zeros[kBlockBytes] = {};
    std::uint64_t pad = padFor(written_);
    if (pad) MS_TRY(sink_.write(zeros, static_cast<std::size_t>(pad)));
    open_ = false;
    return {};
}

Status Writer::add(std::string_view name, std::string_view data, std::int64_t mtime) {
    MS_TRY(begin(name, data.size(), mtime));
    MS_TRY(write(data.data(), data.size()));
    return end();
}

Status Writer::finish() {
    if (open_) return makeError(Errc::Usage, "tar entry not ended");
    static const char zeros[2 * kBlockBytes] = {};
    return sink_.write(zeros, sizeof zeros);
}

}  // namespace microscape::tar
