// Writes the seed corpora under fuzz/corpus/ (or checks that they are current).
// Every seed is built from the deterministic test keys and fixed clock of
// tests/support/bundle_builder.hpp, so the output is the same on every run.
//
//   fuzz_make_corpus DIR          write DIR/fuzz_bundle/* and DIR/fuzz_manifest/*
//   fuzz_make_corpus --check DIR  exit 1 if DIR differs from what would be written
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>

#include "../tests/support/bundle_builder.hpp"

using namespace microscape;
using namespace microscape::testing;
namespace fs = std::filesystem;

namespace {

using Files = std::map<std::string, std::string>;  // "target/name" -> bytes

std::vector<MediaItem> smallMedia() {
    return {
        makeMedia(fakePng(300, 1), "反诈防骗海报", "反诈防骗海报.png"),
        makeMedia(fakeMp4(700, 2), "一盔一带 15s", "一盔一带.mp4", 15000),
    };
}

Files bundleSeeds() {
    auto k1 = testKey(1);
    Files f;
    Bundle good = makeBundle(k1, smallMedia());
    f["valid.tar"] = good.tar();
    f["valid-one-media.tar"] = makeBundle(k1, {makeMedia(fakePng(100, 3), "禁毒", "禁毒.png")}).tar();
    f["valid-no-media.tar"] = makeBundle(k1, {}).tar();
    f["valid-takeover-slogan.tar"] =
        makeBundle(k1, {makeMedia("{\"microscape_slogan\":1,\"text\":\"拒绝毒品\"}", "标语", "标语.json")},
                   [](manifest::Manifest& m) { m.kind = manifest::BundleKind::Takeover; })
            .tar();
    f["expired.tar"] = makeBundle(k1, smallMedia(), [](manifest::Manifest& m) {
                           m.issuedAtMs = utc("2025-01-01T00:00:00Z");
                           m.expiresAtMs = utc("2025-02-01T00:00:00Z");
                       }).tar();
    f["other-signer.tar"] = makeBundle(testKey(2), smallMedia()).tar();
    auto entries = good.entries();
    {
        auto e = entries;
        e.pop_back();
        f["missing-sig.tar"] = packTar(e);
    }
    {
        auto e = entries;
        e.insert(e.begin() + 1, e[0]);
        f["duplicate-media.tar"] = packTar(e);
    }
    {
        auto e = entries;
        e.insert(e.begin(), typedEntry("media/link", '2', "/etc/shadow"));
        f["symlink.tar"] = packTar(e);
    }
    {
        auto e = entries;
        e.insert(e.begin(), typedEntry("PaxHeaders/manifest.json", 'x', "", "30 path=../../etc/manifest.json\n"));
        f["pax.tar"] = packTar(e);
    }
    {
        auto e = entries;
        e.insert(e.begin(), fileEntry(std::string(120, 'd') + "/" + std::string(60, 'f'), "long name"));
        f["long-name.tar"] = packTar(e);
    }
    {
        RawHeader h;
        h.name = "manifest.json";
        h.sizeBytes = good.manifestBytes.size();
        h.magic = std::string("ustar  \0", 8);
        std::string t = good.tar();
        t.replace(headerOffset(t, "manifest.json"), tar::kBlockBytes, headerBlock(h));
        f["valid-gnu-magic.tar"] = t;
    }
    f["end-marker-only.tar"] = endMarker();
    return f;
}

Files manifestSeeds() {
    auto k1 = testKey(1);
    Files f;
    f["manifest.json"] = makeBundle(k1, smallMedia()).manifestBytes;
    f["manifest-no-media.json"] = makeBundle(k1, {}).manifestBytes;
    f["manifest-takeover.json"] =
        makeBundle(k1, {makeMedia("{\"microscape_slogan\":1}", "标语", "标语.json")}, [](manifest::Manifest& m) {
            m.kind = manifest::BundleKind::Takeover;
        }).manifestBytes;
    f["manifest-format3.json"] = signedJson(baseManifest(), k1, [](json::Object& doc) { doc["format"] = 3; }).first;
    f["manifest-location.json"] =
        makeBundle(k1, smallMedia(), [](manifest::Manifest& m) {
            m.location = manifest::Location{"7", "万达广场地下车库入口", "garage_entrance", "城中区", "Asia/Shanghai"};
        }).manifestBytes;
    f["json-escapes.json"] =
        "{\"a\":\"\\u53cd\\ud83d\\ude00\\n\\\"\\\\\\/\",\"b\":[true,false,null,-9007199254740991,0],\"c\":{}}";
    f["json-deep.json"] = std::string(63, '[') + "{\"k\":1}" + std::string(63, ']');
    f["time-strict.txt"] = "2026-04-15T08:00:00Z";
    f["time-offset.txt"] = "2026-04-15T08:00:00.250+08:00";
    f["date.txt"] = "2000-02-29";
    return f;
}

Files allSeeds() {
    Files all;
    for (auto& [name, bytes] : bundleSeeds()) all["fuzz_bundle/" + name] = bytes;
    for (auto& [name, bytes] : manifestSeeds()) all["fuzz_manifest/" + name] = bytes;
    return all;
}

std::string readFile(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

}  // namespace

int main(int argc, char** argv) {
    bool check = argc == 3 && std::string(argv[1]) == "--check";
    if (!(argc == 2 && argv[1][0] != '-') && !check) {
        std::fprintf(stderr, "usage: %s DIR | --check DIR\n", argv[0]);
        return 2;
    }
    fs::path dir = argv[argc - 1];
    Files seeds = allSeeds();
    // The "valid" bundle seeds must pass verification as fuzz_bundle runs it (key 1,
    // the fixed clock), so that the fuzzer starts from inputs that reach every check.
    auto options = verifyOptions({testKey(1).publicKey()});
    for (const auto& [name, bytes] : seeds) {
        if (name.rfind("fuzz_bundle/", 0) != 0) continue;
        bool shouldPass = name.rfind("fuzz_bundle/valid", 0) == 0;
        auto r = verifyBytes(bytes, options);
        if (r.ok() != shouldPass) {
            std::fprintf(stderr, "seed %s: %s\n", name.c_str(), r.ok() ? "verifies" : r.error().str().c_str());
            return 1;
        }
    }
    if (!check) {
        for (const auto& [name, bytes] : seeds) {
            fs::create_directories((dir / name).parent_path());
            std::ofstream(dir / name, std::ios::binary) << bytes;
        }
        std::printf("wrote %zu seeds under %s\n", seeds.size(), dir.c_str());
        return 0;
    }
    int problems = 0;
    std::set<std::string> onDisk;
    for (const char* target : {"fuzz_bundle", "fuzz_manifest"}) {
        if (!fs::is_directory(dir / target)) continue;
        for (const auto& e : fs::directory_iterator(dir / target))
            onDisk.insert(std::string(target) + "/" + e.path().filename().string());
    }
    for (const auto& [name, bytes] : seeds) {
        if (!onDisk.count(name)) {
            std::fprintf(stderr, "missing seed: %s\n", name.c_str());
            ++problems;
        } else if (readFile(dir / name) != bytes) {
            std::fprintf(stderr, "stale seed: %s\n", name.c_str());
            ++problems;
        }
    }
    for (const auto& name : onDisk)
        if (!seeds.count(name)) {
            std::fprintf(stderr, "unexpected file in the seed corpus: %s\n", name.c_str());
            ++problems;
        }
    if (problems)
        std::fprintf(stderr, "regenerate with: fuzz_make_corpus %s\n", dir.c_str());
    else
        std::printf("%zu seeds are current\n", seeds.size());
    return problems ? 1 : 0;
}
