// The auditor's offline verification: a valid export verifies and recounts
// exactly; every broken variant is rejected with the right reason, through the
// library and through `microscape-pack audit`.
#include <catch2/catch.hpp>

#include "media_fixtures.hpp"
#include "microscape/core/audit.hpp"
#include "support/export_mutations.hpp"
#include "support/process.hpp"

using namespace microscape;
using namespace microscape::testing;

namespace {

audit::VerifyOptions options(const ExportWorld& w, bool pin) {
    audit::VerifyOptions opt;
    opt.controllerKey = w.controllerKey->publicKey();
    auto bytes = tz::loadZoneFile("Asia/Shanghai");
    REQUIRE(bytes.ok());
    opt.zones.emplace("Asia/Shanghai", *tz::parseTzif(*bytes));
    if (pin)
        for (const auto& [id, key] : w.playerKeys) opt.pinnedPlayerKeyIds[id] = key->publicKey().id();
    return opt;
}

// The failure codes of an export (readExport's Errc name when it cannot be read).
std::vector<std::string> codes(const std::string& bytes, const audit::VerifyOptions& opt) {
    tar::MemorySource src(bytes);
    auto e = audit::readExport(src);
    if (!e) return {std::string(errcName(e.code()))};
    std::vector<std::string> out;
    for (const auto& f : audit::verify(*e, opt).failures) out.push_back(f.code);
    return out;
}

}  // namespace

TEST_CASE("a valid export verifies and recounts per location, local day and media", "[audit]") {
    auto w = makeExportWorld();
    std::string bytes = w.write();
    tar::MemorySource src(bytes);
    auto e = audit::readExport(src);
    REQUIRE(e.ok());
    auto r = audit::verify(*e, options(w, true));
    for (const auto& f : r.failures) INFO(f.str());
    REQUIRE(r.ok());
    CHECK(r.signatureChecked);
    CHECK(r.players == 2);
    CHECK(r.records == 28);
    // Each player: play i starts at 04-14 23:59:50 local + i hours (+ item lengths);
    // plays 1..14 fall on 04-15 local, play 0 on 04-14 (outside the period).
    std::int64_t completed = 0, interrupted = 0;
    for (const auto& c : r.counts) {
        CHECK(c.localDate == "2026-04-15");
        completed += c.completed;
        interrupted += c.interrupted;
    }
    CHECK(completed == 2 * 12);
    CHECK(interrupted == 2 * 1);
    REQUIRE(r.counts.size() == 4);  // 2 locations x 2 media
    CHECK(r.counts[0].locationId == "loc-wanda-garage");
}

TEST_CASE("every broken export is rejected with the right reason", "[audit]") {
    auto w = makeExportWorld();
    auto variants = brokenExports(w);
    REQUIRE(variants.size() >= 20);
    for (const auto& v : variants) {
        INFO(v.name << " (expected " << v.expected << ")");
        auto got = codes(v.bytes, options(w, v.pinPlayerKeys));
        std::string all;
        for (const auto& c : got) all += c + " ";
        INFO("got: " << all);
        CHECK_FALSE(got.empty());
        CHECK(std::find(got.begin(), got.end(), v.expected) != got.end());
    }
}

TEST_CASE("microscape-pack audit prints counts, CSV for Excel, and exits 1 on any failure", "[audit][pack-cli]") {
    auto w = makeExportWorld();
    TempDir dir;
    writeFile(dir / "export.tar", w.write());
    writeFile(dir / "controller.pub", w.controllerKey->publicKey().toPem());
    const std::string pack = MICROSCAPE_PACK_BIN;

    auto ok = runProcess({pack, "audit", "--pub", dir / "controller.pub", dir / "export.tar"});
    INFO(ok.err);
    REQUIRE(ok.exitCode == 0);
    CHECK(ok.out.find("万达广场地下车库入口") != std::string::npos);
    CHECK(ok.out.find("反诈防骗海报") != std::string::npos);
    CHECK(ok.out.find("VERIFIED") != std::string::npos);

    auto csv = runProcess({pack, "audit", "--csv", "--pub", dir / "controller.pub", dir / "export.tar"});
    REQUIRE(csv.exitCode == 0);
    CHECK(csv.out.rfind("\xef\xbb\xbf" "location_id,", 0) == 0);
    CHECK(std::count(csv.out.begin(), csv.out.end(), '\n') == 5);  // header + 4 rows

    auto unsignedRun = runProcess({pack, "audit", dir / "export.tar"});
    CHECK(unsignedRun.exitCode == 0);
    CHECK(unsignedRun.out.find("NOT checked") != std::string::npos);

    for (const auto& v : brokenExports(w)) {
        if (v.pinPlayerKeys) continue;
        INFO(v.name);
        writeFile(dir / "broken.tar", v.bytes);
        auto r = runProcess({pack, "audit", "--pub", dir / "controller.pub", dir / "broken.tar"});
        CHECK(r.exitCode == 1);
        CHECK(r.err.find(v.expected) != std::string::npos);
    }
    CHECK(runProcess({pack, "audit"}).exitCode == 2);
}
