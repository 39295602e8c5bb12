// microscape-pack as a user runs it: exit codes, reason codes, files written.
#include <catch2/catch.hpp>

#include <sys/stat.h>

#include <filesystem>

#include "media_fixtures.hpp"
#include "microscape/core/json.hpp"
#include "support/process.hpp"

using namespace microscape;
using namespace microscape::testing;
namespace fs = std::filesystem;

namespace {

const std::string kPack = MICROSCAPE_PACK_BIN;

ProcessResult pack(std::vector<std::string> args) {
    args.insert(args.begin(), kPack);
    return runProcess(args);
}

// The first word of the first stderr line: the reason code.
std::string reason(const ProcessResult& r) {
    auto colon = r.err.find(':');
    return colon == std::string::npos ? r.err : r.err.substr(0, colon);
}

struct Workspace {
    TempDir dir;
    std::string key, pub, poster, clip, bundle;
    Workspace() {
        REQUIRE(pack({"keygen", "--out", dir / "keys"}).exitCode == 0);
        key = dir / "keys/signing.key";
        pub = dir / "keys/signing.pub";
        poster = dir / "反诈防骗海报.png";
        clip = dir / "禁毒短片.mp4";
        REQUIRE(makePoster(poster, "反诈防骗"));
        REQUIRE(makeClip(clip, 2));
        bundle = dir / "bundle.tar";
    }
    ProcessResult build(std::vector<std::string> extra = {}) {
        std::vector<std::string> args = {"build",    "--key",     key,     "--version", "5",
                                         "--target", "garage-01", "--out", bundle};
        args.insert(args.end(), extra.begin(), extra.end());
        if (std::find(extra.begin(), extra.end(), "--") == extra.end()) {
            args.push_back(poster);
            args.push_back(clip);
        }
        return pack(args);
    }
};

}  // namespace

TEST_CASE("microscape-pack keygen writes a 0600 key and refuses to overwrite", "[pack-cli]") {
    TempDir dir;
    auto r = pack({"keygen", "--out", dir / "k"});
    REQUIRE(r.exitCode == 0);
    struct stat st {};
    REQUIRE(::stat((dir / "k/signing.key").c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
    CHECK(readFile(dir / "k/signing.pub").find("BEGIN PUBLIC KEY") != std::string::npos);
    std::string before = readFile(dir / "k/signing.key");
    auto again = pack({"keygen", "--out", dir / "k"});
    CHECK(again.exitCode == 1);
    CHECK(reason(again) == "Exists");
    CHECK(readFile(dir / "k/signing.key") == before);
}

TEST_CASE("build, verify, inspect and extract round-trip Chinese names and real media", "[pack-cli]") {
    Workspace w;
    auto b = w.build();
    INFO(b.err);
    REQUIRE(b.exitCode == 0);

    auto v = pack({"verify", "--pub", w.pub, w.bundle});
    INFO(v.err);
    REQUIRE(v.exitCode == 0);
    CHECK(v.out.find("OK: bundle") != std::string::npos);
    CHECK(v.out.find("反诈防骗海报 (反诈防骗海报.png)") != std::string::npos);
    CHECK(v.out.find("video") != std::string::npos);

    auto i = pack({"inspect", w.bundle});
    REQUIRE(i.exitCode == 0);
    CHECK(i.err.find("NOT VERIFIED") != std::string::npos);
    auto doc = json::parse(i.out);
    REQUIRE(doc.ok());
    CHECK(doc->find("version")->asInt() == 5);
    CHECK(doc->find("target")->asString() == "garage-01");
    const auto& media = doc->find("media")->asArray();
    REQUIRE(media.size() == 2);
    CHECK(media[0].find("file_name")->asString() == "反诈防骗海报.png");
    CHECK(media[0].find("kind")->asString() == "image");
    CHECK(media[1].find("kind")->asString() == "video");
    std::int64_t dur = media[1].find("duration_ms")->asInt();
    CHECK(dur >= 1900);
    CHECK(dur <= 2100);

    auto x = pack({"extract", "--pub", w.pub, w.bundle, w.dir / "out"});
    INFO(x.err);
    REQUIRE(x.exitCode == 0);
    std::string sha = media[0].find("sha256")->asString();
    CHECK(readFile(w.dir / ("out/media/" + sha)) == readFile(w.poster));
    CHECK(fs::exists(w.dir / "out/manifest.json"));
    CHECK(fs::exists(w.dir / "out/manifest.sig"));

    SECTION("tar(1) can list the bundle") {
        auto t = runProcess({"/bin/tar", "tf", w.bundle});
        CHECK(t.exitCode == 0);
        CHECK(t.out.find("manifest.json") != std::string::npos);
        CHECK(t.out.find("media/" + sha) != std::string::npos);
    }
    SECTION("verify reads standard input") {
        auto s = runProcess({kPack, "verify", "--pub", w.pub, "-"}, readFile(w.bundle));
        CHECK(s.exitCode == 0);
    }
}

TEST_CASE("verify rejects with the right reason code and exit 1", "[pack-cli]") {
    Workspace w;
    REQUIRE(w.build().exitCode == 0);
    std::string good = readFile(w.bundle);

    SECTION("another key") {
        REQUIRE(pack({"keygen", "--out", w.dir / "other"}).exitCode == 0);
        auto r = pack({"verify", "--pub", w.dir / "other/signing.pub", w.bundle});
        CHECK(r.exitCode == 1);
        CHECK(reason(r) == "UnknownSigner");
        SECTION("but either of two keys is enough") {
            auto ok = pack({"verify", "--pub", w.dir / "other/signing.pub", "--pub", w.pub, w.bundle});
            CHECK(ok.exitCode == 0);
        }
    }
    SECTION("rollback") {
        auto r = pack({"verify", "--pub", w.pub, "--min-version", "6", w.bundle});
        CHECK(r.exitCode == 1);
        CHECK(reason(r) == "Rollback");
        CHECK(pack({"verify", "--pub", w.pub, "--min-version", "5", w.bundle}).exitCode == 0);
    }
    SECTION("expired at --now") {
        auto r = pack({"verify", "--pub", w.pub, "--now", "2099-01-01T00:00:00+08:00", w.bundle});
        CHECK(r.exitCode == 1);
        CHECK(reason(r) == "Expired");
    }
    SECTION("a flipped bit in the media") {
        std::string bad = good;
        bad[512 + 100] ^= 1;  // inside the first media entry's data
        writeFile(w.bundle, bad);
        auto r = pack({"verify", "--pub", w.pub, w.bundle});
        CHECK(r.exitCode == 1);
        CHECK(reason(r) == "HashMismatch");
        SECTION("and extract writes nothing") {
            auto x = pack({"extract", "--pub", w.pub, w.bundle, w.dir / "never"});
            CHECK(x.exitCode == 1);
            CHECK_FALSE(fs::exists(w.dir / "never"));
        }
    }
    SECTION("a flipped bit in the signature") {
        std::string bad = good;
        auto at = bad.rfind("manifest.sig");
        REQUIRE(at != std::string::npos);
        bad[at + 512 + 3] ^= 0x20;  // header block, then the signature bytes
        writeFile(w.bundle, bad);
        auto r = pack({"verify", "--pub", w.pub, w.bundle});
        CHECK(r.exitCode == 1);
        CHECK(reason(r) == "BadSignature");
    }
    SECTION("truncated") {
        writeFile(w.bundle, good.substr(0, good.size() / 2));
        auto r = pack({"verify", "--pub", w.pub, w.bundle});
        CHECK(r.exitCode == 1);
        CHECK(reason(r) == "Truncated");
    }
    SECTION("not a bundle at all") {
        writeFile(w.bundle, "");
        auto r = pack({"verify", "--pub", w.pub, w.bundle});
        CHECK(r.exitCode == 1);
        CHECK(reason(r) == "EmptyBundle");
    }
}

TEST_CASE("usage errors exit 64 and every command has --help", "[pack-cli]") {
    for (const char* cmd : {"keygen", "build", "verify", "inspect", "extract"}) {
        INFO(cmd);
        auto h = pack({cmd, "--help"});
        CHECK(h.exitCode == 0);
        CHECK(h.out.find("Usage: microscape-pack") != std::string::npos);
        auto bare = pack({cmd});
        CHECK(bare.exitCode == 64);
    }
    CHECK(pack({}).exitCode == 64);
    CHECK(pack({"frobnicate"}).exitCode == 64);
    CHECK(pack({"verify", "--bogus", "x"}).exitCode == 64);
    CHECK(pack({"verify", "-x", "b.tar"}).exitCode == 64);
    CHECK(pack({"--help"}).exitCode == 0);
    TempDir dir;
    CHECK(pack({"build", "--key", "k", "--version", "zero", "--out", dir / "b.tar", "x"}).exitCode == 64);
    CHECK(pack({"build", "--key", "k", "--version", "0", "--out", dir / "b.tar", "x"}).exitCode == 64);
}

TEST_CASE("build refuses bad input and leaves no output behind", "[pack-cli]") {
    Workspace w;
    SECTION("a file that is not media") {
        writeFile(w.dir / "notes.png", "this is text pretending to be a PNG");
        auto r = pack({"build", "--key", w.key, "--version", "1", "--out", w.bundle, w.dir / "notes.png"});
        CHECK(r.exitCode == 1);
        CHECK(reason(r) == "BadMedia");
        CHECK_FALSE(fs::exists(w.bundle));
    }
    SECTION("a PNG header with garbage after it") {
        writeFile(w.dir / "broken.png", std::string("\x89PNG\r\n\x1a\n", 8) + std::string(2000, 'x'));
        auto r = pack({"build", "--key", w.key, "--version", "1", "--out", w.bundle, w.dir / "broken.png"});
        CHECK(r.exitCode == 1);
        CHECK(reason(r) == "BadMedia");
    }
    SECTION("a missing media file") {
        auto r = pack({"build", "--key", w.key, "--version", "1", "--out", w.bundle, w.dir / "nope.mp4"});
        CHECK(r.exitCode == 1);
        CHECK(reason(r) == "IoError");
        CHECK_FALSE(fs::exists(w.bundle));
    }
    SECTION("an existing output without --force") {
        REQUIRE(w.build().exitCode == 0);
        auto r = w.build();
        CHECK(r.exitCode == 1);
        CHECK(reason(r) == "Exists");
        CHECK(w.build({"--force"}).exitCode == 0);
    }
    SECTION("an expiry in the past") {
        auto r = w.build({"--expires", "2020-01-01T00:00:00Z"});
        CHECK(r.exitCode == 1);
        CHECK(reason(r) == "Expired");
    }
    SECTION("a schedule that is not a JSON object") {
        writeFile(w.dir / "s.json", "[1,2]");
        auto r = w.build({"--schedule", w.dir / "s.json"});
        CHECK(r.exitCode == 1);
        CHECK(reason(r) == "BadManifest");
        writeFile(w.dir / "s.json", "{\"a\": 1.5}");
        CHECK(reason(w.build({"--schedule", w.dir / "s.json"})) == "BadJson");
    }
    SECTION("a schedule object is carried in the signed manifest") {
        writeFile(w.dir / "s.json", R"({"playlists": [], "note": "国家安全教育日"})");
        REQUIRE(w.build({"--schedule", w.dir / "s.json"}).exitCode == 0);
        auto i = pack({"inspect", w.bundle});
        CHECK(i.out.find("国家安全教育日") != std::string::npos);
    }
}
