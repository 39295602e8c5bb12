// The auditor's offline verification: a valid export verifies and recounts
// exactly; every broken variant is rejected with the right reason, through the
// library and through `microscape-pack audit`.
#include <catch2/catch.hpp>

#include "media_fixtures.hpp"
#include "microscape/core/audit.hpp"
#include "support/export_mutations.hpp"
#include "support/process.hpp"

#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <sstream>

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

audit::VerifyOptions options(const ExportWorld& w, const BrokenExport& v) {
    auto opt = options(w, v.pinPlayerKeys);
    opt.heads = v.heads;
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

// A recall in the middle of the day: the garage confirms (the controller's
// word) a minute before its record 9 starts; the mall's controller confirmation
// comes at the end of the day, but the mall's own records name the manifest
// without the poster from seq 12 on. Poster plays after either are reported.
ExportWorld lateRecallWorld(const ExportWorld& good) {
    ExportWorld w = good;
    const auto& g = w.evidence.at("garage-01").records;
    const std::int64_t confirm = g[8].startUtcMs - 60000;
    addRecall(w, "1", kPosterSha, confirm - 240000,
              {{.playerId = "garage-01", .confirmAtMs = confirm},
               {.playerId = "mall-02", .confirmAtMs = kExportDay + 86400000LL, .runsFromSeq = 12}});
    return w;
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

TEST_CASE("where and in which zone a play was comes from the manifest its record names", "[audit][location]") {
    auto w = makeExportWorld();
    auto verifyWorld = [](const ExportWorld& world, const audit::VerifyOptions& opt) {
        const std::string bytes = world.write();
        tar::MemorySource src(bytes);
        auto e = audit::readExport(src);
        REQUIRE(e.ok());
        CHECK(requireSameAsInMemory(bytes, opt, opt));
        return audit::verify(*e, opt);
    };
    const auto genuine = verifyWorld(w, options(w, true));
    REQUIRE(genuine.ok());
    CHECK(genuine.countedPlays == 2 * 13);  // 13 plays of each screen on the local day
    CHECK(genuine.boundPlays == genuine.countedPlays);
    CHECK(genuine.locationNames.at("loc-wanda-mall") == "万达广场一楼中庭");

    SECTION("a screen that moved counts at both places; keys.json says where it is now") {
        auto moved = w;
        moveFrom(moved, 1, {"loc-jianghan-gate", "江汉路步行街北口", "pedestrian_gate", "江汉区", "Asia/Shanghai"}, 8);
        auto r = verifyWorld(moved, options(moved, true));
        for (const auto& f : r.failures) INFO(f.str());
        REQUIRE(r.ok());
        std::map<std::string, std::int64_t> plays;
        for (const auto& c : r.counts) plays[c.locationId] += c.completed + c.interrupted + c.failed;
        CHECK(plays["loc-wanda-garage"] == 13);
        CHECK(plays["loc-wanda-mall"] == 6);  // seq 2..7 (seq 1 is on the day before)
        CHECK(plays["loc-jianghan-gate"] == 7);
        CHECK(r.locationNames.at("loc-jianghan-gate") == "江汉路步行街北口");
        // keys.json naming the old place is caught.
        moved.players[1].locationId = "loc-wanda-mall";
        moved.players[1].locationName = "万达广场一楼中庭";
        moved.players[1].venueType = "mall";
        auto relabelled = verifyWorld(moved, options(moved, true));
        REQUIRE(relabelled.failures.size() == 1);
        CHECK(relabelled.failures[0].code == "location_mismatch");
        CHECK(relabelled.failures[0].message.find("江汉路步行街北口") != std::string::npos);
        CHECK(relabelled.counts == r.counts);  // and changes no count
    }
    SECTION("a zone relabelled in keys.json moves no play to another day") {
        auto tokyo = w;
        tokyo.players[0].timeZone = "Asia/Tokyo";
        auto opt = options(tokyo, true);
        opt.zones.emplace("Asia/Tokyo", *tz::parseTzif(*tz::loadZoneFile("Asia/Tokyo")));
        auto r = verifyWorld(tokyo, opt);
        CHECK(r.counts == genuine.counts);
        REQUIRE(r.failures.size() == 1);
        CHECK(r.failures[0].code == "location_mismatch");
    }
    SECTION("format 1 records are located by keys.json, and the result says how many") {
        auto old = w;
        makeLegacy(old, 3);
        auto r = verifyWorld(old, options(old, true));
        REQUIRE(r.ok());
        CHECK(r.countedPlays == genuine.countedPlays);
        CHECK(r.boundPlays == 0);
        CHECK(r.counts == genuine.counts);
    }
    SECTION("a play under a manifest the export lacks is still counted, and fails") {
        auto lacking = w;
        lacking.evidence["garage-01"].manifests.clear();
        auto r = verifyWorld(lacking, options(lacking, true));
        CHECK(r.counts == genuine.counts);
        CHECK(r.boundPlays == 13);
        std::vector<std::string> got;
        for (const auto& f : r.failures) got.push_back(f.code);
        CHECK(got == std::vector<std::string>{"manifest_missing", "manifest_missing"});
    }
}

TEST_CASE("every broken export is rejected with the right reason", "[audit]") {
    auto w = makeExportWorld();
    auto variants = brokenExports(w);
    REQUIRE(variants.size() >= 20);
    for (const auto& v : variants) {
        INFO(v.name << " (expected " << v.expected << ")");
        auto got = codes(v.bytes, options(w, v));
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
    CHECK(csv.out.rfind("\xef\xbb\xbf"
                        "location_id,",
                        0) == 0);
    CHECK(std::count(csv.out.begin(), csv.out.end(), '\n') == 5);  // header + 4 rows

    auto unsignedRun = runProcess({pack, "audit", dir / "export.tar"});
    CHECK(unsignedRun.exitCode == 0);
    CHECK(unsignedRun.out.find("NOT checked") != std::string::npos);

    for (const auto& v : brokenExports(w)) {
        if (v.pinPlayerKeys) continue;
        INFO(v.name);
        writeFile(dir / "broken.tar", v.bytes);
        std::vector<std::string> argv{pack, "audit", "--pub", dir / "controller.pub"};
        if (!v.heads.empty()) {
            std::string lines;
            for (const auto& h : v.heads) lines += pop::canonicalBytes(h) + "\n";
            writeFile(dir / "heads.jsonl", lines);
            argv.push_back("--head");
            argv.push_back(dir / "heads.jsonl");
        }
        argv.push_back(dir / "broken.tar");
        auto r = runProcess(argv);
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
        const std::set<std::string> inMemory = {"two records swapped",
                                                "a listed screen with records but no checkpoints file"};
        int streamedCount = 0;
        for (const auto& v : brokenExports(w)) {
            INFO(v.name << " (expected " << v.expected << ")");
            auto opt = options(w, v);
            bool didStream = requireSameAsInMemory(v.bytes, opt, opt);
            tar::MemorySource src(v.bytes);
            if (audit::readExport(src).ok()) CHECK(didStream == !inMemory.count(v.name));
            streamedCount += didStream ? 1 : 0;
        }
        CHECK(streamedCount >= 20);
    }
    SECTION("entries out of the controller's order are verified in memory") {
        auto opt = options(w, false);
        // export.json, export.sig, keys, media, audit log, garage manifests, records and
        // checkpoints, mall manifests, records and checkpoints
        std::string bytes = w.write();
        for (const auto& order : std::vector<std::vector<std::size_t>>{{0, 1, 2, 3, 4, 8, 9, 10, 5, 6, 7},
                                                                       {0, 1, 2, 3, 4, 5, 7, 6, 8, 9, 10},
                                                                       {0, 1, 2, 3, 4, 6, 5, 7, 8, 9, 10},
                                                                       {1, 0, 2, 3, 4, 5, 6, 7, 8, 9, 10},
                                                                       {0, 1, 3, 2, 4, 5, 6, 7, 8, 9, 10},
                                                                       {0, 1, 2, 3, 5, 6, 7, 4, 8, 9, 10}}) {
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

TEST_CASE("pinned keys are a roster: no phantom, no missing screen, files for every screen", "[audit][roster]") {
    auto w = makeExportWorld();
    auto pinned = options(w, true);
    auto codesOf = [](const audit::AuditResult& r) {
        std::vector<std::string> out;
        for (const auto& f : r.failures) out.push_back(f.code);
        return out;
    };
    auto verifyBytes = [](const std::string& bytes, const audit::VerifyOptions& opt) {
        tar::MemorySource src(bytes);
        auto e = audit::readExport(src);
        REQUIRE(e.ok());
        return audit::verify(*e, opt);
    };

    SECTION("the genuine export with every screen pinned verifies and says so") {
        auto r = verifyBytes(w.write(), pinned);
        CHECK(r.ok());
        CHECK(r.pinnedPlayers == std::vector<std::string>{"garage-01", "mall-02"});
        CHECK(r.unpinnedPlayers.empty());
    }
    SECTION("a phantom screen fails with every real screen pinned; --allow-unpinned names it") {
        auto phantom = w;
        addPhantomScreen(phantom, phantom.attackerKey);
        const std::string bytes = phantom.write();
        auto r = verifyBytes(bytes, pinned);
        CHECK(codesOf(r) == std::vector<std::string>{"unpinned_player"});
        CHECK(r.failures.at(0).playerId == "phantom-03");
        auto allow = pinned;
        allow.allowUnpinned = true;
        auto a = verifyBytes(bytes, allow);
        CHECK(a.ok());
        CHECK(a.unpinnedPlayers == std::vector<std::string>{"phantom-03"});
        // Without pins nothing is a roster: the phantom's plays count (what pinning is for).
        auto none = options(w, false);
        auto n = verifyBytes(bytes, none);
        CHECK(n.ok());
        CHECK(n.unpinnedPlayers.size() == 3);
        CHECK(requireSameAsInMemory(bytes, pinned, pinned));
    }
    SECTION("a pinned screen absent from keys.json") {
        auto opt = pinned;
        opt.pinnedPlayerKeyIds["garage-77"] = std::string(64, 'c');
        auto r = verifyBytes(w.write(), opt);
        CHECK(codesOf(r) == std::vector<std::string>{"pinned_player_missing"});
        CHECK(r.failures.at(0).playerId == "garage-77");
    }
    SECTION("format 3: a screen with nothing to prove yet has two empty files") {
        auto idle = w;
        audit::PlayerEntry e = idle.players.back();
        e.playerId = "new-04";
        idle.players.push_back(e);
        const std::string bytes = idle.write();
        tar::MemorySource src(bytes);
        auto ex = audit::readExport(src);
        REQUIRE(ex.ok());
        CHECK(ex->evidence.count("new-04") == 1);
        CHECK(ex->evidence.at("new-04").records.empty());
        CHECK(audit::verify(*ex, options(w, false)).ok());
        CHECK(requireSameAsInMemory(bytes, options(w, false), options(w, false)));
    }
    SECTION("format 2 (before rosters): a listed screen without files verifies unless it is pinned") {
        auto old = w;
        makeLegacy(old);
        audit::PlayerEntry e = old.players.back();
        e.playerId = "new-04";
        old.players.push_back(e);
        const std::string bytes = old.write();
        CHECK(bytes.find("players/new-04/") == std::string::npos);
        CHECK(verifyBytes(bytes, options(w, false)).ok());
        auto opt = pinned;
        opt.pinnedPlayerKeyIds["new-04"] = e.keyId;
        CHECK(codesOf(verifyBytes(bytes, opt)) == std::vector<std::string>{"missing_evidence"});
    }
}

TEST_CASE("microscape-pack audit --player-key: the roster from the command line", "[audit][roster][pack-cli]") {
    auto w = makeExportWorld();
    auto phantom = w;
    addPhantomScreen(phantom, phantom.attackerKey);
    TempDir dir;
    writeFile(dir / "export.tar", w.write());
    writeFile(dir / "phantom.tar", phantom.write());
    writeFile(dir / "controller.pub", w.controllerKey->publicKey().toPem());
    std::vector<std::string> pins;
    for (const auto& [id, key] : w.playerKeys) {
        writeFile(dir / (id + ".pub"), key->publicKey().toPem());
        pins.push_back("--player-key");
        pins.push_back(id + "=" + (dir / (id + ".pub")));
    }
    const std::string pack = MICROSCAPE_PACK_BIN;
    auto run = [&](const std::string& file, std::vector<std::string> extra) {
        std::vector<std::string> argv{pack, "audit", "--pub", dir / "controller.pub"};
        argv.insert(argv.end(), pins.begin(), pins.end());
        argv.insert(argv.end(), extra.begin(), extra.end());
        argv.push_back(dir / file);
        return runProcess(argv);
    };
    auto ok = run("export.tar", {});
    INFO(ok.err);
    CHECK(ok.exitCode == 0);
    CHECK(ok.out.find("player keys pinned: 2 (garage-01, mall-02); not pinned: 0") != std::string::npos);

    auto bad = run("phantom.tar", {});
    CHECK(bad.exitCode == 1);
    CHECK(bad.err.find("FAILED player phantom-03: unpinned_player") != std::string::npos);

    auto allowed = run("phantom.tar", {"--allow-unpinned"});
    CHECK(allowed.exitCode == 0);
    CHECK(allowed.out.find("not pinned: 1 (phantom-03)") != std::string::npos);

    auto unpinned = runProcess({pack, "audit", "--pub", dir / "controller.pub", dir / "export.tar"});
    CHECK(unpinned.exitCode == 0);
    CHECK(unpinned.out.find("player keys: none pinned") != std::string::npos);
    CHECK(runProcess({pack, "audit", "--allow-unpinned", dir / "export.tar"}).exitCode ==
          64);  // a bad command line (docs/exit-codes.md)
}

TEST_CASE("a dropped tail: unseen without a head, caught with the screen's head", "[audit][head]") {
    auto w = makeExportWorld();
    auto cut = w;
    cut.evidence["garage-01"].records.resize(10);
    cut.evidence["garage-01"].checkpoints.pop_back();
    const std::string bytes = cut.write();
    auto opt = options(w, true);
    tar::MemorySource src(bytes);
    auto e = audit::readExport(src);
    REQUIRE(e.ok());
    // The chain left is consistent: this is what the head statement is for.
    CHECK(audit::verify(*e, opt).ok());
    opt.heads.push_back(headOf(w, "garage-01", 14, kExportDay + 86400000LL, *w.playerKeys.at("garage-01")));
    auto r = audit::verify(*e, opt);
    REQUIRE(r.failures.size() == 1);
    CHECK(r.failures[0].code == "head_not_reached");
    CHECK(r.failures[0].message.find("ends at seq 10") != std::string::npos);
    CHECK(requireSameAsInMemory(bytes, opt, opt));
    // The full export reaches the head; so does one with a head further back.
    auto full = w.write();
    tar::MemorySource src2(full);
    CHECK(audit::verify(*audit::readExport(src2), opt).ok());
    opt.heads.push_back(headOf(w, "mall-02", 3, kExportDay, *w.playerKeys.at("mall-02")));
    tar::MemorySource src3(full);
    CHECK(audit::verify(*audit::readExport(src3), opt).ok());

    // On the command line: one head a line; a damaged head file is refused.
    TempDir dir;
    writeFile(dir / "cut.tar", bytes);
    writeFile(dir / "full.tar", full);
    writeFile(dir / "heads.jsonl", pop::canonicalBytes(opt.heads[0]) + "\n" + pop::canonicalBytes(opt.heads[1]) + "\n");
    const std::string pack = MICROSCAPE_PACK_BIN;
    auto good = runProcess({pack, "audit", "--head", dir / "heads.jsonl", dir / "full.tar"});
    INFO(good.err);
    CHECK(good.exitCode == 0);
    CHECK(good.out.find("screen heads: 2 checked") != std::string::npos);
    auto cutRun = runProcess({pack, "audit", "--head", dir / "heads.jsonl", dir / "cut.tar"});
    CHECK(cutRun.exitCode == 1);
    CHECK(cutRun.err.find("FAILED player garage-01: head_not_reached") != std::string::npos);
    auto noHead = runProcess({pack, "audit", dir / "cut.tar"});
    CHECK(noHead.exitCode == 0);
    CHECK(noHead.out.find("screen heads: none given") != std::string::npos);
    std::string damaged = pop::canonicalBytes(opt.heads[0]);
    damaged[damaged.find("\"seq\":") + 6] = '9';
    writeFile(dir / "bad.jsonl", damaged.substr(0, damaged.size() - 1) + "\n");
    auto bad = runProcess({pack, "audit", "--head", dir / "bad.jsonl", dir / "full.tar"});
    CHECK(bad.exitCode == 1);
    CHECK(bad.err.find("bad_head") != std::string::npos);
}

TEST_CASE("exports made before chained checkpoints and rosters still verify", "[audit][legacy]") {
    auto w = makeExportWorld(true);
    REQUIRE(w.evidence.at("garage-01").checkpoints.at(0).format == 1);
    const std::string bytes = w.write();
    CHECK(bytes.find(R"("format":3)") == std::string::npos);
    for (bool pin : {false, true}) {
        auto opt = options(w, pin);
        tar::MemorySource src(bytes);
        auto e = audit::readExport(src);
        REQUIRE(e.ok());
        CHECK(e->manifest.format == 2);
        auto r = audit::verify(*e, opt);
        for (const auto& f : r.failures) INFO(f.str());
        CHECK(r.ok());
        CHECK(r.records == 28);
        CHECK(requireSameAsInMemory(bytes, opt, opt));
    }
    // A re-sent batch's checkpoint re-made over more records (format 1 players did).
    auto resent = w;
    auto& ev = resent.evidence["garage-01"];
    ev.checkpoints.insert(ev.checkpoints.begin() + 1, pop::makeCheckpoint(std::span(ev.records).subspan(0, 7),
                                                                          kExportDay, *w.playerKeys.at("garage-01")));
    const std::string resentBytes = resent.write();
    tar::MemorySource resentSrc(resentBytes);
    auto resentExport = audit::readExport(resentSrc);
    REQUIRE(resentExport.ok());
    CHECK(audit::verify(*resentExport, options(w, true)).ok());
    // The old export checked on the command line.
    TempDir dir;
    writeFile(dir / "old.tar", bytes);
    writeFile(dir / "controller.pub", w.controllerKey->publicKey().toPem());
    auto run = runProcess({MICROSCAPE_PACK_BIN, "audit", "--pub", dir / "controller.pub", dir / "old.tar"});
    INFO(run.err);
    CHECK(run.exitCode == 0);
}

TEST_CASE("microscape-pack audit --csv: formulas shown as text, seconds truncated, rows in order",
          "[audit][pack-cli][csv]") {
    auto w = makeExportWorld();
    w.media = {{kPosterSha, "=1+2", "image"}, {kClipSha, "@SUM(1,1)", "video"}};
    {
        manifest::Location there = audit::locationOf(w.players[1]);
        there.name = "-3 \"中庭\"";
        relocate(w, 1, there);
    }
    // An interrupted play of 5,200 ms: the poster row at the garage sums to 85,560 ms.
    remakeChain(w, "garage-01", [](pop::Record& r) {
        if (r.seq != 7) return;
        r.measuredMs = 5200;
        r.endUtcMs = r.startUtcMs + 5200;
    });
    TempDir dir;
    const std::string bytes = w.write();
    writeFile(dir / "export.tar", bytes);
    auto csv = runProcess({MICROSCAPE_PACK_BIN, "audit", "--csv", dir / "export.tar"});
    INFO(csv.err);
    REQUIRE(csv.exitCode == 0);
    CHECK(csv.out.find("=1+2") == csv.out.find("'=1+2") + 1);
    CHECK(csv.out.find(",\"'@SUM(1,1)\",") != std::string::npos);
    CHECK(csv.out.find(",\"'-3 \"\"中庭\"\"\",") != std::string::npos);
    CHECK(csv.out.find(",=") == std::string::npos);
    CHECK(csv.out.find(",@") == std::string::npos);

    // Row order and on_screen_seconds = the measured milliseconds divided by
    // 1000, rounded down, against the library's recount.
    tar::MemorySource src(bytes);
    auto r = audit::verify(*audit::readExport(src), options(w, false));
    REQUIRE(r.ok());
    std::vector<std::string> lines;
    std::size_t pos = csv.out.find("\r\n") + 2;
    while (pos < csv.out.size()) {
        auto end = csv.out.find("\r\n", pos);
        REQUIRE(end != std::string::npos);
        lines.push_back(csv.out.substr(pos, end - pos));
        pos = end + 2;
    }
    REQUIRE(lines.size() == r.counts.size());
    bool truncated = false;
    for (std::size_t i = 0; i < lines.size(); ++i) {
        const auto& c = r.counts[i];
        INFO(lines[i]);
        CHECK(lines[i].rfind(c.locationId + ",", 0) == 0);
        CHECK(lines[i].find(c.mediaSha256) != std::string::npos);
        CHECK(lines[i].find("," + std::to_string(c.onScreenMs / 1000) + ",VERIFIED") != std::string::npos);
        truncated = truncated || c.onScreenMs % 1000 >= 500;
        if (i > 0)
            CHECK(std::tie(r.counts[i - 1].locationId, r.counts[i - 1].localDate, r.counts[i - 1].mediaSha256) <
                  std::tie(c.locationId, c.localDate, c.mediaSha256));
    }
    CHECK(truncated);  // a row where rounding to nearest would differ
}

namespace {

// Conformance vectors (docs/test-vectors/audit/README.md): the valid exports
// and every must-fail variant, with the options each is verified with and the
// code it must give.
struct Vector {
    std::string file;      // NN-slug.tar
    bool pinned = false;   // verify with keys/*.pub.pem pinned
    std::string heads;     // NN-slug.heads.jsonl, or empty
    std::string expected;  // VERIFIED, a failure code, or the code of an unreadable archive
};

std::string slug(const std::string& name) {
    std::string out;
    for (unsigned char c : name) {
        if (std::isalnum(c))
            out += static_cast<char>(std::tolower(c));
        else if (!out.empty() && out.back() != '-')
            out += '-';
    }
    while (!out.empty() && out.back() == '-') out.pop_back();
    return out;
}

std::string readAll(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    REQUIRE(in.good());
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

}  // namespace

// Writes the vectors when MICROSCAPE_VECTORS_DIR is set (hidden: run by name).
TEST_CASE(
    "a recall in the audit log: each screen's confirmation is the earlier of the controller's and its own, "
    "plays after it are reported (not failures), a manifest that still lists the media fails",
    "[audit][recall]") {
    auto w = makeExportWorld();
    auto late = lateRecallWorld(w);
    audit::VerifyOptions opt;
    opt.controllerKey = w.controllerKey->publicKey();
    opt.zones.emplace("Asia/Shanghai", *tz::parseTzif(*tz::loadZoneFile("Asia/Shanghai")));
    const std::string bytes = late.write();
    tar::MemorySource src(bytes);
    auto e = audit::readExport(src);
    REQUIRE(e);
    auto r = audit::verify(*e, opt);
    for (const auto& f : r.failures) INFO(f.str());
    CHECK(r.ok());
    REQUIRE(r.recalls.size() == 1);
    const auto& x = r.recalls[0];
    CHECK(x.id == "1");
    CHECK(x.mediaSha256 == kPosterSha);
    CHECK(x.reason == "海报上的举报电话已变更");
    CHECK(x.screens == 2);
    CHECK(x.confirmed == 2);  // the mall by its own records alone
    // The controller recorded the recall complete (the mall's late confirmation);
    // the screens' own records show plays after it all the same.
    CHECK(x.completedAtMs == kExportDay + 86400000LL);
    // The garage: confirmed (by the controller) a minute before its record 9;
    // its poster plays after that: seqs 10, 11, 13, 14. The mall: its own records
    // name the new manifest from seq 12 (the controller's word would be the end
    // of the day): its poster plays 13 and 14.
    std::vector<std::pair<std::string, std::int64_t>> got;
    for (const auto& p : x.playsAfterConfirmation) got.emplace_back(p.playerId, p.seq);
    std::sort(got.begin(), got.end());
    CHECK(got == std::vector<std::pair<std::string, std::int64_t>>{{"garage-01", 10},
                                                                   {"garage-01", 11},
                                                                   {"garage-01", 13},
                                                                   {"garage-01", 14},
                                                                   {"mall-02", 13},
                                                                   {"mall-02", 14}});
    const auto& records = late.evidence.at("garage-01").records;
    CHECK(x.lastPlayUtcMs == std::max(records[13].startUtcMs, late.evidence.at("mall-02").records[13].startUtcMs));
    // The streaming path reports the same.
    auto s = streamed(bytes, opt);
    REQUIRE(s);
    REQUIRE(s->result.recalls.size() == 1);
    CHECK(s->result.recalls[0].playsAfterConfirmation.size() == x.playsAfterConfirmation.size());
    CHECK(s->result.recalls[0].confirmed == 2);
    // microscape-pack audit prints it and stays VERIFIED.
    TempDir tmp;
    writeFile(tmp / "late.tar", bytes);
    writeFile(tmp / "c.pub", w.controllerKey->publicKey().toPem());
    auto cli = runProcess({MICROSCAPE_PACK_BIN, "audit", "--pub", tmp / "c.pub", tmp / "late.tar"});
    INFO(cli.out << cli.err);
    CHECK(cli.exitCode == 0);
    CHECK(cli.out.find("recall 1: 反诈防骗海报") != std::string::npos);
    CHECK(cli.out.find("2 of 2 screens confirmed, complete at 2026-04-16T00:00:00.000Z") != std::string::npos);
    CHECK(cli.out.find("PROBLEM: mall-02 seq 13 started") != std::string::npos);
    CHECK(cli.out.find("recalls: 1; 6 play(s) of recalled media after the screen's confirmation") != std::string::npos);
    CHECK(cli.out.find("VERIFIED") != std::string::npos);
    // Without a recall the summary says so.
    writeFile(tmp / "plain.tar", w.write());
    auto plain = runProcess({MICROSCAPE_PACK_BIN, "audit", tmp / "plain.tar"});
    CHECK(plain.out.find("recalls: none in the audit log") != std::string::npos);
}

TEST_CASE("write the conformance vectors", "[.][vectors]") {
    const char* out = std::getenv("MICROSCAPE_VECTORS_DIR");
    if (!out) return;
    const std::string dir = out;
    std::filesystem::create_directories(dir + "/keys");
    auto w = makeExportWorld();
    writeFile(dir + "/controller.pub.pem", w.controllerKey->publicKey().toPem());
    for (const auto& [id, key] : w.playerKeys) writeFile(dir + "/keys/" + id + ".pub.pem", key->publicKey().toPem());
    std::vector<Vector> list;
    auto add = [&](const std::string& name, const std::string& bytes, bool pinned, const std::vector<pop::Head>& heads,
                   const std::string& expected) {
        char num[8];
        std::snprintf(num, sizeof num, "%02zu-", list.size());
        Vector v{num + slug(name) + ".tar", pinned, "", expected};
        writeFile(dir + "/" + v.file, bytes);
        if (!heads.empty()) {
            v.heads = v.file.substr(0, v.file.size() - 4) + ".heads.jsonl";
            std::string lines;
            for (const auto& h : heads) lines += pop::canonicalBytes(h) + "\n";
            writeFile(dir + "/" + v.heads, lines);
        }
        list.push_back(v);
    };
    add("valid", w.write(), true, {headOf(w, "garage-01", 14, kExportDay + 86400000LL, *w.playerKeys.at("garage-01"))},
        "VERIFIED");
    auto legacy = w;  // the same keys, the earlier formats
    makeLegacy(legacy);
    add("valid export format 2 with format 1 records and checkpoints", legacy.write(), true, {}, "VERIFIED");
    auto format3 = w;
    makeLegacy(format3, 3);
    add("valid export format 3 with format 1 records", format3.write(), true, {}, "VERIFIED");
    auto moved = w;  // plays at two locations, each where its own manifest says
    moveFrom(moved, 1, {"loc-jianghan-gate", "江汉路步行街北口", "pedestrian_gate", "江汉区", "Asia/Shanghai"}, 8);
    add("valid a screen moved during the period", moved.write(), true, {}, "VERIFIED");
    for (const auto& v : brokenExports(w)) add(v.name, v.bytes, v.pinPlayerKeys, v.heads, v.expected);
    auto recalled = w;  // a recall every screen confirmed after the last play
    addRecall(recalled, "1", kPosterSha, kExportDay + 2 * 86400000LL,
              {{.playerId = "garage-01", .confirmAtMs = kExportDay + 2 * 86400000LL + 60000},
               {.playerId = "mall-02", .confirmAtMs = kExportDay + 2 * 86400000LL + 90000}});
    add("valid a recall every screen confirmed", recalled.write(), true, {}, "VERIFIED");
    add("valid plays of recalled media after the screens confirmed are reported not failed", lateRecallWorld(w).write(),
        true, {}, "VERIFIED");
    auto formulas = w;  // names a spreadsheet would run as formulas: the CSV shows them as text
    formulas.media = {{kPosterSha, "=1+2", "image"}, {kClipSha, "@SUM(1,1)", "video"}};
    {
        manifest::Location there = audit::locationOf(formulas.players[1]);
        there.name = "-3 \"中庭\"";
        relocate(formulas, 1, there);
    }
    add("formula names in the csv", formulas.write(), true, {}, "VERIFIED");
    auto frames = w;  // video plays with frame counts, one of them degraded: counted apart from completed
    withFrames(frames, "garage-01", 8);
    add("valid a degraded play counted apart", frames.write(), true, {}, "VERIFIED");
    auto claimed = w;  // the screen signed "completed" over frame counts that say degraded
    withFrames(claimed, "garage-01", 8, pop::Outcome::Completed);
    add("a completed play whose frames say degraded", claimed.write(), true, {}, "bad_record");
    auto overclaimed = w;  // "degraded" over frame counts that say completed
    withFrames(overclaimed, "garage-01", 2, pop::Outcome::Degraded);
    for (auto& r : overclaimed.evidence["garage-01"].records) r.framesDropped = r.framesLate = 0;
    remakeChain(overclaimed, "garage-01", [](pop::Record& r) { r.longestFreezeMs = r.frames ? 40 : 0; });
    add("a degraded play whose frames say completed", overclaimed.write(), true, {}, "bad_record");
    std::string tsv = "file\tpinned\theads\texpected\n";
    for (const auto& v : list)
        tsv += v.file + "\t" + (v.pinned ? "yes" : "no") + "\t" + (v.heads.empty() ? "-" : v.heads) + "\t" +
               v.expected + "\n";
    writeFile(dir + "/expected.tsv", tsv);
    for (const auto& v : list) {
        if (v.expected != "VERIFIED") continue;
        auto csv = runProcess({MICROSCAPE_PACK_BIN, "audit", "--csv", dir + "/" + v.file});
        REQUIRE(csv.exitCode == 0);
        writeFile(dir + "/" + v.file.substr(0, v.file.size() - 4) + ".csv", csv.out);
    }
}

TEST_CASE("the published conformance vectors give their expected verdicts", "[audit][vectors]") {
    const std::string dir = std::string(MICROSCAPE_SOURCE_DIR) + "/docs/test-vectors/audit";
    std::istringstream tsv(readAll(dir + "/expected.tsv"));
    std::string line;
    std::getline(tsv, line);
    REQUIRE(line == "file\tpinned\theads\texpected");
    audit::VerifyOptions base;
    base.controllerKey = crypto::PublicKey::load(dir + "/controller.pub.pem").value();
    auto bytes = tz::loadZoneFile("Asia/Shanghai");
    REQUIRE(bytes.ok());
    base.zones.emplace("Asia/Shanghai", *tz::parseTzif(*bytes));
    std::map<std::string, std::string> pins;
    for (const auto& e : std::filesystem::directory_iterator(dir + "/keys")) {
        const std::string name = e.path().filename().string();
        pins[name.substr(0, name.size() - std::string(".pub.pem").size())] =
            crypto::PublicKey::load(e.path().string()).value().id();
    }
    int count = 0, csvs = 0;
    while (std::getline(tsv, line)) {
        std::istringstream fields(line);
        Vector v;
        std::string pinned;
        std::getline(fields, v.file, '\t');
        std::getline(fields, pinned, '\t');
        std::getline(fields, v.heads, '\t');
        std::getline(fields, v.expected, '\t');
        INFO(v.file << " (expected " << v.expected << ")");
        auto opt = base;
        if (pinned == "yes") opt.pinnedPlayerKeyIds = pins;
        if (v.heads != "-") {
            std::istringstream heads(readAll(dir + "/" + v.heads));
            std::string h;
            while (std::getline(heads, h)) opt.heads.push_back(pop::parseHead(h).value());
        }
        const std::string archive = readAll(dir + "/" + v.file);
        auto got = codes(archive, opt);
        if (v.expected == "VERIFIED") {
            CHECK(got.empty());
            // The recount, byte for byte, where the expected CSV is published.
            const std::string stem = dir + "/" + v.file.substr(0, v.file.size() - 4);
            if (std::filesystem::exists(stem + ".csv")) {
                auto csv = runProcess({MICROSCAPE_PACK_BIN, "audit", "--csv", dir + "/" + v.file});
                CHECK(csv.exitCode == 0);
                CHECK(csv.out == readAll(stem + ".csv"));
                ++csvs;
            }
        } else {
            std::string all;
            for (const auto& c : got) all += c + " ";
            INFO("got: " << all);
            CHECK(std::find(got.begin(), got.end(), v.expected) != got.end());
        }
        ++count;
    }
    CHECK(count >= 57);
    CHECK(csvs == 8);  // every valid vector
}
