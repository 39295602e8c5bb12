#include <catch2/catch.hpp>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "../support/bundle_builder.hpp"
#include "../support/catch_errc.hpp"
#include "microscape/core/tar.hpp"

using namespace microscape;
using namespace microscape::testing;
namespace fs = std::filesystem;

namespace {

struct Listed {
    std::string name;
    std::string data;
    std::int64_t mtime = 0;
};

// Reads every entry of an archive, reading data in chunks of `chunk` bytes (or
// skipping it when chunk is 0). Returns the entries or the first error.
Result<std::vector<Listed>> listAll(std::string_view archive, std::size_t chunk = 4096,
                                    std::uint64_t* offsetAtEnd = nullptr) {
    tar::MemorySource source(archive);
    tar::Reader reader(source);
    std::vector<Listed> out;
    while (true) {
        auto next = reader.next();
        if (!next) return next.error();
        if (!*next) break;
        Listed l{(*next)->name, "", (*next)->mtime};
        if (chunk) {
            std::string buf(chunk, '\0');
            while (true) {
                auto r = reader.read(buf.data(), buf.size());
                if (!r) return r.error();
                if (*r == 0) break;
                l.data.append(buf.data(), *r);
            }
            if (l.data.size() != (*next)->sizeBytes) return makeError(Errc::Internal, "short entry");
        }
        out.push_back(std::move(l));
    }
    if (offsetAtEnd) *offsetAtEnd = reader.offset();
    return out;
}

Errc codeOf(std::string_view archive, std::size_t chunk = 4096) {
    return listAll(archive, chunk).code();
}

std::string writeArchive(const std::vector<std::pair<std::string, std::string>>& files, std::int64_t mtime = 0) {
    tar::StringSink sink;
    tar::Writer w(sink);
    for (const auto& [name, data] : files) REQUIRE(w.add(name, data, mtime).ok());
    REQUIRE(w.finish().ok());
    return sink.data;
}

std::string oneEntry(RawHeader h, std::string data = "x") {
    h.sizeBytes = data.size();
    return headerBlock(h) + padToBlock(data) + endMarker();
}

fs::path tempDir(const char* tag) {
    auto dir = fs::temp_directory_path() / (std::string(tag) + "-" + crypto::toHex(crypto::randomBytes(6).value()));
    fs::create_directories(dir);
    return dir;
}

std::string readFile(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

// A name longer than 100 bytes that needs the ustar prefix field.
const std::string kLongName = std::string(120, 'p') + "/" + std::string(90, 'n');

}  // namespace

TEST_CASE("tar writer and reader round trip", "[tar]") {
    std::vector<std::pair<std::string, std::string>> files = {
        {"manifest.json", "{}"},
        {"media/" + std::string(64, 'a'), fillerBytes(512, 1)},
        {"media/" + std::string(64, 'b'), fillerBytes(513, 2)},
        {"empty", ""},
        {"one", "1"},
        {"media/反诈防骗海报.png", fillerBytes(1000, 3)},
        {std::string(100, 'x'), "name fills the whole field"},
        {kLongName, "long"},
        {std::string(155, 'q') + "/" + std::string(99, 'r'), "longest name"},
    };
    std::string archive = writeArchive(files, 1776211200);
    CHECK(archive.size() % tar::kBlockBytes == 0);

    SECTION("entries come back byte for byte, whether read in odd chunks or large ones") {
        for (std::size_t chunk : {std::size_t{1}, std::size_t{7}, std::size_t{511}, std::size_t{4096}}) {
            INFO("chunk " << chunk);
            std::uint64_t end = 0;
            auto listed = listAll(archive, chunk, &end);
            REQUIRE(listed.ok());
            REQUIRE(listed->size() == files.size());
            for (std::size_t i = 0; i < files.size(); ++i) {
                CHECK((*listed)[i].name == files[i].first);
                CHECK((*listed)[i].data == files[i].second);
                CHECK((*listed)[i].mtime == 1776211200);
            }
            CHECK(end == archive.size());
        }
    }
    SECTION("entries can be skipped without reading their data") {
        auto listed = listAll(archive, 0);
        REQUIRE(listed.ok());
        CHECK(listed->size() == files.size());
        CHECK(listed->back().name == files.back().first);
    }
    SECTION("a long name is stored in the prefix field, split at a slash") {
        std::size_t at = headerOffset(archive, kLongName);
        REQUIRE(at != std::string::npos);
        CHECK(std::string(archive.data() + at + 345) == std::string(120, 'p'));
        CHECK(std::string(archive.data() + at, 90) == std::string(90, 'n'));
    }
    SECTION("after the end, next() keeps answering end") {
        tar::MemorySource source(archive);
        tar::Reader reader(source);
        while (true) {
            auto n = reader.next();
            REQUIRE(n.ok());
            if (!*n) break;
        }
        auto again = reader.next();
        REQUIRE(again.ok());
        CHECK_FALSE(again->has_value());
    }
}

TEST_CASE("tar reader stops reading an entry at its declared size", "[tar]") {
    std::string archive = writeArchive({{"a", "hello"}, {"b", "world!"}});
    tar::MemorySource source(archive);
    tar::Reader reader(source);
    auto a = reader.next();
    REQUIRE(a.ok());
    REQUIRE(a->has_value());
    char buf[64];
    auto r = reader.read(buf, sizeof buf);
    REQUIRE(r.ok());
    CHECK(std::string(buf, *r) == "hello");
    auto again = reader.read(buf, sizeof buf);
    REQUIRE(again.ok());
    CHECK(*again == 0);
    auto b = reader.next();
    REQUIRE(b.ok());
    REQUIRE(b->has_value());
    CHECK((*b)->name == "b");
    CHECK((*b)->sizeBytes == 6);
}

TEST_CASE("tar archives interoperate with GNU tar", "[tar]") {
    if (!fs::exists("/usr/bin/tar")) {
        WARN("/usr/bin/tar not installed; skipping");
        return;
    }
    auto dir = tempDir("ms-tar");
    SECTION("tar tf lists what the writer wrote, long names included") {
        std::string archive = writeArchive({{"manifest.json", "{}"}, {kLongName, "x"}, {"media/反诈.png", "y"}});
        std::ofstream(dir / "a.tar", std::ios::binary) << archive;
        std::string cmd = "LC_ALL=C.UTF-8 /usr/bin/tar --quoting-style=literal -tf '" + (dir / "a.tar").string() +
                          "' > '" + (dir / "list").string() + "'";
        REQUIRE(std::system(cmd.c_str()) == 0);
        CHECK(readFile(dir / "list") == "manifest.json\n" + kLongName + "\nmedia/反诈.png\n");
    }
    SECTION("the reader reads what GNU tar writes in ustar format") {
        fs::create_directories(dir / "in" / "media");
        std::ofstream(dir / "in" / "manifest.json", std::ios::binary) << "{\"a\":1}";
        std::ofstream(dir / "in" / "media" / "clip", std::ios::binary) << fillerBytes(3000, 9);
        std::string cmd =
            "cd '" + (dir / "in").string() + "' && /usr/bin/tar --format=ustar -cf ../g.tar manifest.json media/clip";
        REQUIRE(std::system(cmd.c_str()) == 0);
        std::string archive = readFile(dir / "g.tar");
        CHECK(archive.size() % 10240 == 0);  // padded to a record: zero padding after the marker
        auto listed = listAll(archive);
        REQUIRE(listed.ok());
        REQUIRE(listed->size() == 2);
        CHECK((*listed)[0].name == "manifest.json");
        CHECK((*listed)[0].data == "{\"a\":1}");
        CHECK((*listed)[1].name == "media/clip");
        CHECK((*listed)[1].data == fillerBytes(3000, 9));
    }
    fs::remove_all(dir);
}

TEST_CASE("tar writer refuses what the reader would refuse", "[tar]") {
    tar::StringSink sink;
    tar::Writer w(sink);
    for (const char* name : {"/etc/passwd", "../x", "a/../b", "a//b", "./a", "a\\b", "", "a/"}) {
        INFO(name);
        CHECK(w.begin(name, 1).code() == Errc::BadPath);
    }
    CHECK(w.begin(std::string(101, 'x'), 1).code() == Errc::BadPath);  // no '/' to split at
    CHECK(w.begin(std::string(156, 'x') + "/" + std::string(10, 'y'), 1).code() == Errc::BadPath);  // prefix too long
    CHECK(w.begin("a/" + std::string(101, 'y'), 1).code() == Errc::BadPath);                        // base too long
    CHECK(w.begin(std::string(256, 'x'), 1).code() == Errc::BadPath);
    CHECK(w.begin("big", tar::kMaxEntryBytes + 1).code() == Errc::TooLarge);
    CHECK(sink.data.empty());

    REQUIRE(w.begin("a", 3).ok());
    CHECK(w.begin("b", 1).code() == Errc::Usage);
    CHECK(w.write("abcd", 4).code() == Errc::Usage);
    REQUIRE(w.write("ab", 2).ok());
    CHECK(w.end().code() == Errc::Usage);
    CHECK(w.finish().code() == Errc::Usage);
    REQUIRE(w.write("c", 1).ok());
    REQUIRE(w.end().ok());
    REQUIRE(w.finish().ok());
    CHECK(sink.data.size() == 4 * tar::kBlockBytes);  // header, data, end marker
}

TEST_CASE("tar name rule", "[tar]") {
    for (const char* ok :
         {"a", "manifest.json", "media/abc", "a/b/c", "..a", "a..", ".hidden", "a/.b", "反诈防骗海报.png"}) {
        INFO(ok);
        CHECK(tar::isSafeName(ok));
    }
    const std::string bad[] = {"",
                               "/",
                               "/etc/passwd",
                               "..",
                               ".",
                               "../x",
                               "a/..",
                               "a/../b",
                               "a//b",
                               "./a",
                               "a/.",
                               "a/",
                               "a\\b",
                               "..\\x",
                               "a\nb",
                               "a\tb",
                               std::string("a\0b", 3),
                               "a\x1b",
                               "a\x7f",
                               std::string(256, 'x')};
    for (const auto& name : bad) {
        INFO(crypto::toHex(name));
        CHECK_FALSE(tar::isSafeName(name));
    }
    CHECK(tar::isSafeName(std::string(255, 'x')));
}

TEST_CASE("tar reader rejects unsafe names", "[tar]") {
    struct Case {
        std::string prefix, name;
    };
    const Case cases[] = {
        {"", "/etc/passwd"}, {"", "../x"},  {"", "a/../b"}, {"", "a//b"}, {"", "./a"},
        {"", "a/."},         {"", ".."},    {"", "."},      {"", "a/"},   {"", "media\\x"},
        {"", "a\x01z"},      {"", "a\nb"},  {"", "a\x7f"},  {"", ""},     {"..", "x"},
        {"/etc", "passwd"},  {"a/..", "b"}, {"media", ""},  {"a/", "b"},  {"", "media/../../etc/cron.d/x"},
    };
    for (const auto& c : cases) {
        INFO("prefix '" << c.prefix << "' name '" << c.name << "'");
        RawHeader h;
        h.prefix = c.prefix;
        h.name = c.name;
        CHECK(codeOf(oneEntry(h)) == Errc::BadPath);
    }
    SECTION("also when the unsafe entry follows a good one") {
        RawHeader h;
        h.name = "../../x";
        std::string archive = writeArchive({{"ok", "1"}});
        archive.resize(archive.size() - 2 * tar::kBlockBytes);
        archive += oneEntry(h);
        CHECK(codeOf(archive) == Errc::BadPath);
    }
}

TEST_CASE("tar reader accepts only regular files", "[tar]") {
    for (char type : {'1', '2', '3', '4', '5', '6', '7', 'x', 'g', 'L', 'K', 'A', 'D', 'M', 'N', 'S', 'V', 'X', 'Z'}) {
        INFO("typeflag '" << type << "'");
        RawHeader h;
        h.name = "media/thing";
        h.typeflag = type;
        if (type == '1' || type == '2') h.linkName = "/etc/shadow";
        CHECK(codeOf(oneEntry(h, "")) == Errc::BadEntryType);
        CHECK(codeOf(oneEntry(h, "payload")) == Errc::BadEntryType);
    }
    SECTION("'0' and the old NUL typeflag are regular files") {
        for (char type : {'0', '\0'}) {
            RawHeader h;
            h.name = "file";
            h.typeflag = type;
            auto listed = listAll(oneEntry(h, "data"));
            REQUIRE(listed.ok());
            CHECK(listed->at(0).data == "data");
        }
    }
    SECTION("the entry type is checked before the name") {
        RawHeader h;
        h.name = "../../etc/passwd";
        h.typeflag = '2';
        CHECK(codeOf(oneEntry(h, "")) == Errc::BadEntryType);
    }
}

TEST_CASE("tar reader checks header checksums and fields", "[tar]") {
    RawHeader good;
    good.name = "media/file";
    std::string archive = oneEntry(good, "payload");
    REQUIRE(codeOf(archive) == Errc::Ok);

    SECTION("any changed header byte breaks the checksum") {
        for (std::size_t at : {std::size_t{0}, std::size_t{5}, std::size_t{100}, std::size_t{124 + 10},
                               std::size_t{156}, std::size_t{257}, std::size_t{300}, std::size_t{511}}) {
            INFO("byte " << at);
            CHECK(codeOf(flipBit(archive, at, 1)) == Errc::BadTar);
        }
    }
    SECTION("a checksum that is off by one") {
        std::string block = archive.substr(0, 512);
        std::uint64_t stored = std::strtoull(block.substr(148, 7).c_str(), nullptr, 8);
        RawHeader h = good;
        h.sizeBytes = 7;
        char field[8];
        std::snprintf(field, sizeof field, "%06llo", static_cast<unsigned long long>(stored + 1));
        h.checksumField = std::string(field, 7) + " ";
        CHECK(codeOf(headerBlock(h) + padToBlock("payload") + endMarker()) == Errc::BadTar);
    }
    SECTION("a checksum field that is not octal") {
        RawHeader h = good;
        h.checksumField = "abcdefg ";
        CHECK(codeOf(oneEntry(h, "payload")) == Errc::BadTar);
        h.checksumField = std::string(8, '\0');
        CHECK(codeOf(oneEntry(h, "payload")) == Errc::BadTar);
    }
    SECTION("magic: POSIX ustar and GNU ustar are read, others are not") {
        RawHeader h = good;
        h.magic = std::string("ustar  \0", 8);
        CHECK(codeOf(oneEntry(h, "payload")) == Errc::Ok);
        h.magic = std::string(8, '\0');  // pre-POSIX (v7) header
        CHECK(codeOf(oneEntry(h, "payload")) == Errc::BadTar);
        h.magic = std::string(
            "USTAR\0"
            "00",
            8);
        CHECK(codeOf(oneEntry(h, "payload")) == Errc::BadTar);
        h.magic = std::string(
            "ustar\0"
            "01",
            8);
        CHECK(codeOf(oneEntry(h, "payload")) == Errc::BadTar);
    }
    SECTION("size field: not octal, empty, base-256") {
        RawHeader h = good;
        h.sizeField = std::string("0000000000x\0", 12);
        CHECK(codeOf(oneEntry(h, "payload")) == Errc::BadTar);
        h.sizeField = std::string("00000000009\0", 12);
        CHECK(codeOf(oneEntry(h, "payload")) == Errc::BadTar);
        h.sizeField = std::string(12, '\0');
        CHECK(codeOf(oneEntry(h, "payload")) == Errc::BadTar);
        h.sizeField = std::string("\x80\0\0\0\0\0\0\0\0\0\0\x07", 12);
        CHECK(codeOf(oneEntry(h, "payload")) == Errc::TooLarge);
    }
    SECTION("space-padded octal fields (older tars) are read") {
        RawHeader h = good;
        h.sizeField = std::string("          7 ", 12);
        auto listed = listAll(oneEntry(h, "payload"));
        REQUIRE(listed.ok());
        CHECK(listed->at(0).data == "payload");
    }
}

TEST_CASE("tar reader refuses loose fields: padding, octal, names, link names, unused bytes", "[tar]") {
    RawHeader good;
    good.name = "media/file";
    REQUIRE(codeOf(oneEntry(good, "payload")) == Errc::Ok);
    auto with = [&](std::size_t at, std::string bytes) {
        RawHeader h = good;
        h.rawBytes.emplace_back(at, std::move(bytes));
        return oneEntry(h, "payload");
    };
    SECTION("non-zero padding after an entry's data, read or skipped") {
        std::string archive = oneEntry(good, "payload");
        archive[512 + 7 + 3] = 'x';
        CHECK(codeOf(archive) == Errc::BadTar);
        CHECK(codeOf(archive, 0) == Errc::BadTar);
        CHECK(codeOf(archive, 3) == Errc::BadTar);
    }
    SECTION("a non-octal mtime, mode, uid, gid or device number") {
        CHECK(codeOf(with(136, std::string("1234567890x\0", 12))) == Errc::BadTar);
        CHECK(codeOf(with(136, std::string(12, '\0'))) == Errc::BadTar);
        CHECK(codeOf(with(100, std::string("064x\0\0\0\0", 8))) == Errc::BadTar);
        CHECK(codeOf(with(108, std::string("9999999\0", 8))) == Errc::BadTar);
        CHECK(codeOf(with(116, std::string("abc\0\0\0\0\0", 8))) == Errc::BadTar);
        CHECK(codeOf(with(329, std::string("00z0000\0", 8))) == Errc::BadTar);
        // GNU tar writes device numbers as octal zeros: read.
        CHECK(codeOf(with(329, std::string("0000000\0", 8))) == Errc::Ok);
    }
    SECTION("uname and gname: printable ASCII, then NULs") {
        CHECK(codeOf(with(265, "root")) == Errc::Ok);
        CHECK(codeOf(with(297, "staff")) == Errc::Ok);
        CHECK(codeOf(with(265, "ro\x01t")) == Errc::BadTar);
        CHECK(codeOf(with(265, "\xe7\x8e\x8b")) == Errc::BadTar);
        CHECK(codeOf(with(297, std::string("root\0x", 6))) == Errc::BadTar);
    }
    SECTION("a link name on a regular file") {
        RawHeader h = good;
        h.linkName = "../../etc/passwd";
        CHECK(codeOf(oneEntry(h, "payload")) == Errc::BadTar);
    }
    SECTION("bytes after the prefix field (ustar leaves them unused)") {
        CHECK(codeOf(with(505, "x")) == Errc::BadTar);
    }
}

TEST_CASE("tar reader reports truncation at every offset", "[tar]") {
    std::string archive = writeArchive({{"media/a", fillerBytes(100, 1)}, {"media/b", fillerBytes(600, 2)}, {"c", ""}});
    REQUIRE(archive.size() == 4096);
    REQUIRE(codeOf(archive) == Errc::Ok);

    std::vector<std::size_t> cuts;
    for (std::size_t at = 1; at < archive.size(); at += 37) cuts.push_back(at);
    for (std::size_t at = 512; at < archive.size(); at += 512) cuts.push_back(at);  // at block boundaries
    for (std::size_t at : cuts) {
        INFO("cut at " << at);
        std::string_view cut(archive.data(), at);
        CHECK(codeOf(cut, 4096) == Errc::Truncated);  // reading the data
        CHECK(codeOf(cut, 0) == Errc::Truncated);     // skipping the data
        CHECK(codeOf(cut, 1) == Errc::Truncated);
    }
    CHECK(codeOf(std::string_view(archive.data(), 0)) == Errc::EmptyBundle);
}

TEST_CASE("tar end-of-archive marker", "[tar]") {
    std::string body = writeArchive({{"a", "1"}});
    body.resize(body.size() - 2 * tar::kBlockBytes);  // entries only
    const std::string zero(tar::kBlockBytes, '\0');

    SECTION("a lone zero block between entries") {
        std::string second = writeArchive({{"b", "2"}});
        CHECK(codeOf(body + zero + second) == Errc::BadTar);
    }
    SECTION("a lone zero block at the end of the input") {
        CHECK(codeOf(body + zero) == Errc::Truncated);
    }
    SECTION("no marker at all") {
        CHECK(codeOf(body) == Errc::Truncated);
    }
    SECTION("non-zero data after the marker") {
        CHECK(codeOf(body + endMarker() + "x") == Errc::BadTar);
        CHECK(codeOf(body + endMarker() + std::string(5000, '\0') + "x") == Errc::BadTar);
        CHECK(codeOf(body + endMarker() + writeArchive({{"hidden", "payload"}})) == Errc::BadTar);
    }
    SECTION("zero padding after the marker is accepted") {
        CHECK(codeOf(body + endMarker() + std::string(100, '\0')) == Errc::Ok);
        std::string padded = body + endMarker();
        padded.resize(10240, '\0');
        CHECK(codeOf(padded) == Errc::Ok);
    }
    SECTION("an archive of nothing but the marker holds no entries") {
        CHECK(codeOf(endMarker()) == Errc::EmptyBundle);
        CHECK(codeOf(endMarker() + std::string(10240 - 1024, '\0')) == Errc::EmptyBundle);
    }
    SECTION("empty and tiny inputs") {
        CHECK(codeOf("") == Errc::EmptyBundle);
        CHECK(codeOf("x") == Errc::Truncated);
        CHECK(codeOf(std::string(511, '\0')) == Errc::Truncated);
        CHECK(codeOf(zero) == Errc::Truncated);
    }
}

TEST_CASE("an empty source without any buffer is an empty bundle", "[tar]") {
    // e.g. the data() of an empty std::vector: a null pointer with size 0.
    tar::MemorySource source{std::string_view{}};
    tar::Reader reader(source);
    CHECK(reader.next().code() == Errc::EmptyBundle);
    char buf[8];
    tar::MemorySource again{std::string_view{}};
    auto r = again.read(buf, sizeof buf);
    REQUIRE(r.ok());
    CHECK(*r == 0);
}

TEST_CASE("MemorySource skips and reads within its bytes", "[tar]") {
    tar::MemorySource source("abcdef");
    REQUIRE(source.skip(2).ok());
    char buf[8];
    auto r = source.read(buf, 3);
    REQUIRE(r.ok());
    CHECK(std::string(buf, *r) == "cde");
    CHECK(source.skip(5).code() == Errc::Truncated);
    auto end = source.read(buf, sizeof buf);
    REQUIRE(end.ok());
    CHECK(*end == 0);
}
