// The auditor's offline verification: a valid export verifies and recounts
// exactly; every broken variant is rejected with the right reason, through the
// library and through `microscape-pack audit`.
#include <catch2/catch.hpp>

#include "media_fixtures.hpp"
#include "microscape/core/audit.hpp"
#include "support/export_mutations.hpp"
#include "support/process.hpp"

#include <memory>
#include <set>

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

// The streaming path over the same bytes (opened again on fallback).
Result<audit::AuditReport> streamed(const std::string& bytes, const audit::VerifyOptions& opt,
                                    const audit::ZoneLoader& loadZone = {}) {
    audit::SourceOpener open = [&bytes]() -> Result<std::unique_ptr<tar::ByteSource>> {
        return std::unique_ptr<tar::ByteSource>(std::make_unique<tar::MemorySource>(bytes));
    };
    return audit::verifyExport(open, opt, loadZone);
}

// Requires that the streaming path gives exactly the in-memory path's result:
// the same error, or the same failures (in order, with messages), counts and
// numbers. Returns whether it streamed (did not fall back).
bool requireSameAsInMemory(const std::string& bytes, const audit::VerifyOptions& opt,
                           const audit::VerifyOptions& streamOpt, const audit::ZoneLoader& loadZone = {}) {
    tar::MemorySource src(bytes);
    auto e = audit::readExport(src);
    auto s = streamed(bytes, streamOpt, loadZone);
    if (!e) {
        REQUIRE_FALSE(s.ok());
        CHECK(s.error().str() == e.error().str());
        return false;
    }
    if (!s) FAIL("streaming path failed: " << s.error().str());
    auto m = audit::verify(*e, opt);
    const auto& r = s->result;
    std::string mine, theirs;
    for (const auto& f : m.failures) theirs += f.str() + "\n";
    for (const auto& f : r.failures) mine += f.str() + "\n";
    CHECK(mine == theirs);
    CHECK(r.counts == m.counts);
    CHECK(r.players == m.players);
    CHECK(r.records == m.records);
    CHECK(r.checkpoints == m.checkpoints);
    CHECK(r.signatureChecked == m.signatureChecked);
    CHECK(s->manifest.exportId == e->manifest.exportId);
    CHECK(s->players.size() == e->players.size());
    CHECK(s->media.size() == e->media.size());
    return s->streamed;
}

// Rewrites an archive with its entries in the given order (by index).
std::string reorderEntries(const std::string& bytes, const std::vector<std::size_t>& order) {
    tar::MemorySource src(bytes);
    tar::Reader reader(src);
    std::vector<std::pair<std::string, std::string>> entries;
    while (true) {
        auto h = reader.next();
        REQUIRE(h.ok());
        if (!*h) break;
        auto data = tar::readEntry(reader, **h, 1u << 30);
        REQUIRE(data.ok());
        entries.emplace_back((*h)->name, std::move(*data));
    }
    REQUIRE(order.size() == entries.size());
    tar::StringSink sink;
    tar::Writer w(sink);
    for (auto i : order) REQUIRE(w.add(entries[i].first, entries[i].second).ok());
    REQUIRE(w.finish().ok());
    return sink.data;
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
    CHECK(runProcess({pack, "audit"}).exitCode == 64);
}

TEST_CASE("the streaming verifier equals the in-memory one on every export", "[audit][stream]") {
    auto w = makeExportWorld();
    SECTION("the valid export streams and verifies") {
        auto opt = options(w, true);
        CHECK(requireSameAsInMemory(w.write(), opt, opt));
        auto s = streamed(w.write(), opt);
        REQUIRE(s.ok());
        CHECK(s->result.ok());
        CHECK(s->result.records == 28);
    }
    SECTION("time zones loaded on the way, as the CLI does") {
        auto withZones = options(w, false);
        auto noZones = withZones;
        noZones.zones.clear();
        int loads = 0;
        audit::ZoneLoader load = [&](const std::string& name) -> std::optional<tz::Zone> {
            ++loads;
            auto bytes = tz::loadZoneFile(name);
            if (!bytes) return std::nullopt;
            return *tz::parseTzif(*bytes);
        };
        CHECK(requireSameAsInMemory(w.write(), withZones, noZones, load));
        CHECK(loads >= 1);
        CHECK(streamed(w.write(), noZones).value().result.failures.at(0).code == "unknown_zone");
    }
    SECTION("every broken variant: the same failures, counts and numbers") {
        // A reordered chain cannot be checked in one pass: it alone is read again in memory.
        const std::set<std::string> inMemory = {"two records swapped"};
        int streamedCount = 0;
        for (const auto& v : brokenExports(w)) {
            INFO(v.name << " (expected " << v.expected << ")");
            auto opt = options(w, v.pinPlayerKeys);
            bool didStream = requireSameAsInMemory(v.bytes, opt, opt);
            tar::MemorySource src(v.bytes);
            if (audit::readExport(src).ok()) CHECK(didStream == !inMemory.count(v.name));
            streamedCount += didStream ? 1 : 0;
        }
        CHECK(streamedCount >= 20);
    }
    SECTION("entries out of the controller's order are verified in memory") {
        auto opt = options(w, false);
        // export.json, export.sig, keys, media, audit log, garage records, garage checkpoints, mall
        // records, mall checkpoints
        std::string bytes = w.write();
        for (const auto& order :
             std::vector<std::vector<std::size_t>>{{0, 1, 2, 3, 4, 7, 8, 5, 6},
                                                   {0, 1, 2, 3, 4, 6, 5, 7, 8},
                                                   {1, 0, 2, 3, 4, 5, 6, 7, 8},
                                                   {0, 1, 3, 2, 4, 5, 6, 7, 8},
                                                   {0, 1, 2, 3, 5, 6, 4, 7, 8}}) {
            auto shuffled = reorderEntries(bytes, order);
            CHECK_FALSE(requireSameAsInMemory(shuffled, opt, opt));
            CHECK(streamed(shuffled, opt).value().result.ok());
        }
    }
    SECTION("damaged lines: overlong, empty, unterminated") {
        auto opt = options(w, false);
        auto edit = [&](const std::function<void(std::string&)>& change) {
            std::string recs;
            for (const auto& r : w.evidence.at("garage-01").records) recs += pop::canonicalBytes(r) + "\n";
            change(recs);
            // Rebuild the archive by hand with the damaged file, listed with its real hash.
            auto m = w.manifest;
            m.signer = w.controllerKey->publicKey().id();
            std::vector<std::pair<std::string, std::string>> files;
            files.emplace_back("keys.json", audit::keysBytes(w.players));
            files.emplace_back("media.json", audit::mediaBytes(w.media));
            files.emplace_back("audit.jsonl", "");
            m.auditHead = audit::AuditHead{};
            for (const auto& [id, ev] : w.evidence) {
                std::string cps;
                for (const auto& c : ev.checkpoints) cps += pop::canonicalBytes(c) + "\n";
                std::string r;
                for (const auto& x : ev.records) r += pop::canonicalBytes(x) + "\n";
                files.emplace_back(audit::recordsPath(id), id == "garage-01" ? recs : r);
                files.emplace_back(audit::checkpointsPath(id), cps);
            }
            m.files.clear();
            for (const auto& [name, data] : files) m.files.push_back({name, crypto::sha256Hex(data), data.size()});
            std::string mb = audit::manifestBytes(m);
            tar::StringSink sink;
            tar::Writer tw(sink);
            REQUIRE(tw.add("export.json", mb).ok());
            REQUIRE(tw.add("export.sig", w.controllerKey->sign(mb)).ok());
            for (const auto& [name, data] : files) REQUIRE(tw.add(name, data).ok());
            REQUIRE(tw.finish().ok());
            return sink.data;
        };
        auto overlong = edit([](std::string& s) { s.insert(s.find('\n') + 1, std::string(3u << 20, 'x') + "\n"); });
        CHECK(requireSameAsInMemory(overlong, opt, opt));
        auto empty = edit([](std::string& s) { s.insert(s.find('\n') + 1, "\n"); });
        CHECK(requireSameAsInMemory(empty, opt, opt));
        auto unterminated = edit([](std::string& s) { s.pop_back(); });
        CHECK(requireSameAsInMemory(unterminated, opt, opt));
        auto codesOf = [&](const std::string& bytes) {
            std::string all;
            auto r = streamed(bytes, opt);  // kept: the loop below reads into it
            for (const auto& f : r.value().result.failures) all += f.code + " ";
            return all;
        };
        CHECK(codesOf(overlong).find("bad_record") != std::string::npos);
        CHECK(codesOf(empty).find("bad_record") != std::string::npos);
        CHECK(codesOf(unterminated).find("truncated_file") != std::string::npos);
    }
}

TEST_CASE("microscape-pack audit streams an export from standard input", "[audit][pack-cli][stream]") {
    auto w = makeExportWorld();
    TempDir dir;
    writeFile(dir / "controller.pub", w.controllerKey->publicKey().toPem());
    const std::string pack = MICROSCAPE_PACK_BIN;
    auto ok = runProcess({pack, "audit", "--pub", dir / "controller.pub", "-"}, w.write());
    INFO(ok.err);
    CHECK(ok.exitCode == 0);
    CHECK(ok.out.find("2 players, 28 records") != std::string::npos);
    CHECK(ok.out.find("VERIFIED") != std::string::npos);
    for (const auto& v : brokenExports(w)) {
        if (v.name != "two records swapped") continue;
        // A reordered chain needs a second, in-memory read: a pipe cannot give it.
        auto r = runProcess({pack, "audit", "--pub", dir / "controller.pub", "-"}, v.bytes);
        CHECK(r.exitCode == 1);
        CHECK(r.err.find("pass it as a file") != std::string::npos);
    }
}
