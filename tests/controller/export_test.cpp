// The evidence export from a real controller, checked by the real offline
// verifier (microscape-pack audit), and the report numbers compared with the
// verifier's recount.
#include <catch2/catch.hpp>

#include <chrono>
#include <cmath>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <tuple>

#include "../../controller/src/pop_ingest.hpp"
#include "../support/process.hpp"
#include "ingest_sim.hpp"
#include "microscape/controller/db.hpp"
#include "microscape/core/audit.hpp"
#include "microscape/core/manifest.hpp"
#include "microscape/core/tar.hpp"
#include "microscape/core/time.hpp"
#include "sim_enroll.hpp"
#include "test_support.hpp"

using namespace microscape;
using namespace microscape::testing;
using microscape::testing::runProcess;

namespace {

// A local midnight in Asia/Shanghai for the plays, which run from an hour before
// it to an hour after the next one. They must not start more than a day before
// the enrolment (made by the server at its own "now", a little after this), so
// the day is the one of now + 2 h: its midnight lies in (now - 22 h, now + 2 h]
// and the first play after now - 23 h, whatever the hour (from 22:00 local the
// plays are tomorrow's). The ingest below is given its own "now", so plays after
// the controller's clock are not flagged as from the future.
const std::int64_t kLocalDay = [] {
    const std::int64_t now =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
            .count();
    const std::int64_t day = 86400000, east8 = 8 * 3600000, twoHours = 2 * 3600000;
    return (now + twoHours + east8) / day * day - east8;
}();
const std::string kDate = timeutil::formatDate(timeutil::civilFromDays((kLocalDay + 8 * 3600000) / 86400000));
const std::string kNextDate = timeutil::formatDate(timeutil::civilFromDays((kLocalDay + 8 * 3600000) / 86400000 + 1));
constexpr std::int64_t kHourMs = 3600000;
const std::string kPoster = crypto::sha256Hex("反诈防骗海报");
const std::string kClip = crypto::sha256Hex("禁毒短片");

int createLocation(Client& admin, const std::string& name, const std::string& venue) {
    Poco::JSON::Object::Ptr l = new Poco::JSON::Object;
    l->set("name", name);
    l->set("venueType", venue);
    l->set("district", "锦江区");
    l->set("timezone", "Asia/Shanghai");
    auto r = admin.post("/api/v1/locations", jsonString(l));
    INFO(r.body);
    REQUIRE(r.status == 201);
    return r.json()->getValue<int>("id");
}

using Key = std::tuple<std::string, std::string, std::string>;  // location, date, media
struct Counts {
    std::int64_t completed = 0, interrupted = 0, failed = 0, onScreenMs = 0, degraded = 0;
    bool operator==(const Counts&) const = default;
};

std::vector<std::string> splitCsvLine(const std::string& line) {
    std::vector<std::string> out;
    std::string cur;
    bool quoted = false;
    for (char c : line) {
        if (c == '"')
            quoted = !quoted;
        else if (c == ',' && !quoted) {
            out.push_back(cur);
            cur.clear();
        } else
            cur += c;
    }
    out.push_back(cur);
    return out;
}

}  // namespace

TEST_CASE("evidence export verifies with microscape-pack audit and its counts equal the reports",
          "[controller][pop][export]") {
    TestServer srv;
    Client admin = srv.admin();
    const int garage = createLocation(admin, "万达广场地下车库入口", "garage_entrance");
    const int mall = createLocation(admin, "春熙路步行街, 北口", "street_gate");

    std::vector<SimPlayer> players(3);
    enrollSim(srv, admin, players[0], garage);
    enrollSim(srv, admin, players[1], garage);
    enrollSim(srv, admin, players[2], mall);

    // Plays from 04-14 23:00 to 04-16 01:00 local, so both day edges are exercised.
    for (std::size_t i = 0; i < players.size(); ++i) {
        auto& p = players[i];
        std::int64_t t = kLocalDay - kHourMs;
        int n = 0;
        while (t < kLocalDay + 25 * kHourMs) {
            const bool cut = (n % 11) == 3, failed = (n % 17) == 5;
            const std::int64_t measured = failed ? 0 : cut ? 4200 : 15000 + static_cast<std::int64_t>(i) * 37;
            auto& r = p.play(n % 3 ? kPoster : kClip, t, 15000, measured, "cmp-1", "pl-1");
            if (r.mediaSha256 == kClip && !failed) {
                // Record format 3: the clip's frames; every 4th full play froze and is degraded.
                r.frames = r.measuredMs / 40;
                r.longestFreezeMs = 40;
                if (!cut && n % 4 == 0) {
                    r.framesDropped = 20;
                    r.framesLate = 2;
                    r.longestFreezeMs = 640;
                }
                r.outcome = pop::classify(r);
            }
            t += 15000 + 20 * kHourMs / 1000 * static_cast<std::int64_t>(i + 1);  // players differ in pace
            ++n;
        }
    }
    {
        // The hub hands PROOFS to the same ingest; here batches go straight to it,
        // with re-sends that must count once.
        controller::Db db(srv.storeUrl());
        controller::PopIngest ingest(db);
        for (auto& p : players) {
            std::int64_t from = 1;
            const auto total = static_cast<std::int64_t>(p.records.size());
            while (from <= total) {
                const std::int64_t to = std::min(total, from + 499);
                auto batch = p.batch(from, to);
                auto r = ingest.ingestBatch(p.id, batch, kLocalDay + 12 * kHourMs);
                REQUIRE(r);
                for (const auto& pr : r->problems) CHECK(pr.code == "media_not_sent");  // no manifest here
                CHECK(r->accepted);
                REQUIRE(r->ackSeq == to);
                if (from == 1) REQUIRE(ingest.ingestBatch(p.id, batch, kLocalDay + 12 * kHourMs)->ackSeq == to);
                from = to + 1;
            }
        }
    }

    Client auditor = srv.userClient("auditor1", "auditor");
    auto exp =
        auditor.get("/api/v1/audit/export?from=" + kDate + "T00:00:00%2B08:00&to=" + kNextDate + "T00:00:00%2B08:00");
    INFO(exp.body.substr(0, 300));
    REQUIRE(exp.status == 200);
    CHECK(exp.headers["content-type"] == "application/x-tar");
    TempDir tmp;
    const auto tarPath = tmp.path / "export.tar";
    std::ofstream(tarPath, std::ios::binary) << exp.body;
    const auto pub = (srv.dataDir() / "keys" / "content-signing.pub.pem").string();

    auto cli = runProcess({MICROSCAPE_PACK_BIN, "audit", "--pub", pub, "--csv", tarPath.string()});
    INFO(cli.out << cli.err);
    REQUIRE(cli.exitCode == 0);

    // The verifier's recount, from its CSV.
    std::map<Key, Counts> verified;
    {
        std::string csv = cli.out;
        REQUIRE(csv.rfind("\xEF\xBB\xBF", 0) == 0);
        std::istringstream in(csv.substr(3));
        std::string line, header;
        std::getline(in, header);
        auto cols = splitCsvLine(header.substr(0, header.size() - 1));
        std::map<std::string, std::size_t> at;
        for (std::size_t i = 0; i < cols.size(); ++i) at[cols[i]] = i;
        while (std::getline(in, line)) {
            if (!line.empty() && line.back() == '\r') line.pop_back();
            if (line.empty()) continue;
            auto f = splitCsvLine(line);
            auto& c = verified[Key{f[at.at("location_id")], f[at.at("date")], f[at.at("media_sha256")]}];
            c.completed = std::stoll(f[at.at("completed")]);
            c.interrupted = std::stoll(f[at.at("interrupted")]);
            c.failed = std::stoll(f[at.at("failed")]);
            c.degraded = std::stoll(f[at.at("degraded")]);
            const std::string secs = f[at.at("on_screen_seconds")];
            c.onScreenMs = std::llround(std::stod(secs) * 1000);
        }
    }
    REQUIRE(verified.size() == 4);  // two locations x two media, one day

    // The same numbers through the library (exact milliseconds).
    std::map<Key, Counts> library;
    {
        tar::MemorySource src(exp.body);
        auto e = audit::readExport(src);
        REQUIRE(e);
        audit::VerifyOptions opt;
        opt.controllerKey = crypto::PublicKey::load(pub).value();
        auto zone = tz::parseTzif(tz::loadZoneFile("Asia/Shanghai").value()).value();
        opt.zones.emplace("Asia/Shanghai", zone);
        auto res = audit::verify(*e, opt);
        REQUIRE(res.ok());
        CHECK(res.signatureChecked);
        for (const auto& row : res.counts)
            library[Key{row.locationId, row.localDate, row.mediaSha256}] =
                Counts{row.completed, row.interrupted, row.failed, row.onScreenMs, row.degraded};
    }

    // The controller's report over the same local day.
    auto rep = auditor.get("/api/v1/reports/plays?from=" + kDate + "&to=" + kDate + "&by=location,day,media");
    INFO(rep.body.substr(0, 500));
    REQUIRE(rep.status == 200);
    std::map<Key, Counts> reported;
    auto rows = rep.json()->getArray("rows");
    for (std::size_t i = 0; i < rows->size(); ++i) {
        auto o = rows->getObject(static_cast<unsigned>(i));
        reported[Key{o->getValue<std::string>("location_id"), o->getValue<std::string>("day"),
                     o->getValue<std::string>("media")}] =
            Counts{o->getValue<std::int64_t>("completed"), o->getValue<std::int64_t>("interrupted"),
                   o->getValue<std::int64_t>("failed"), o->getValue<std::int64_t>("on_screen_ms"),
                   o->getValue<std::int64_t>("degraded")};
        // Every play counts in exactly one outcome.
        CHECK(o->getValue<std::int64_t>("plays") ==
              o->getValue<std::int64_t>("completed") + o->getValue<std::int64_t>("degraded") +
                  o->getValue<std::int64_t>("interrupted") + o->getValue<std::int64_t>("failed"));
    }
    CHECK(reported == library);
    std::int64_t degradedPlays = 0;
    for (const auto& [k, c] : library) degradedPlays += c.degraded;
    CHECK(degradedPlays > 0);
    // The store keeps each play's frame counts beside its record.
    {
        controller::Db db(srv.storeUrl());
        db.read([&](controller::DbConn& c) {
            auto n = c.one(
                "SELECT COUNT(*), COALESCE(SUM(frames_dropped), 0), MAX(longest_freeze_ms) FROM pop_records "
                "WHERE outcome = 'degraded'");
            REQUIRE(n);
            CHECK(n->i64(0) > 0);
            CHECK(n->i64(1) == 20 * n->i64(0));
            CHECK(n->i64(2) == 640);
            auto smooth = c.one(
                "SELECT MIN(frames), MAX(frames_late) FROM pop_records WHERE outcome = 'completed' "
                "AND media = ?",
                {kClip});
            REQUIRE(smooth);
            CHECK(smooth->i64(0) > 300);
            CHECK(smooth->i64(1) == 0);
        });
    }
    for (auto& [k, c] : library) {
        auto v = verified.find(k);
        REQUIRE(v != verified.end());
        CHECK(v->second.completed == c.completed);
        CHECK(v->second.interrupted == c.interrupted);
        CHECK(v->second.failed == c.failed);
        CHECK(v->second.degraded == c.degraded);
        CHECK(std::llabs(v->second.onScreenMs - c.onScreenMs) < 1000);  // the CLI prints whole seconds
    }

    SECTION("the CSV report opens in Excel and WPS: BOM, CRLF, Chinese names") {
        auto csv = auditor.get("/api/v1/reports/plays?from=" + kDate + "&to=" + kDate + "&by=location,day&format=csv");
        REQUIRE(csv.status == 200);
        CHECK(csv.headers["content-type"].rfind("text/csv", 0) == 0);
        CHECK(csv.body.rfind("\xEF\xBB\xBF"
                             "location_id,location,day,completed,",
                             0) == 0);
        CHECK(csv.body.find("\r\n") != std::string::npos);
        CHECK(csv.body.find("\"春熙路步行街, 北口\"") != std::string::npos);
    }
    SECTION("a tampered export fails the verifier") {
        std::string bad = exp.body;
        auto pos = bad.find("\"measured_ms\":15000");
        REQUIRE(pos != std::string::npos);
        bad[pos + 14] = '6';
        const auto badPath = tmp.path / "bad.tar";
        std::ofstream(badPath, std::ios::binary) << bad;
        auto r = runProcess({MICROSCAPE_PACK_BIN, "audit", "--pub", pub, badPath.string()});
        CHECK(r.exitCode == 1);
    }
    SECTION("an export of chosen players holds only their evidence and verifies") {
        auto one = auditor.get("/api/v1/audit/export?from=" + kDate + "&to=" + kNextDate + "&players=" + players[2].id);
        REQUIRE(one.status == 200);
        tar::MemorySource src(one.body);
        auto e = audit::readExport(src);
        REQUIRE(e);
        CHECK(e->players.size() == 1);
        CHECK(e->evidence.size() == 1);
        CHECK(e->evidence.count(players[2].id) == 1);
        const auto onePath = tmp.path / "one.tar";
        std::ofstream(onePath, std::ios::binary) << one.body;
        CHECK(runProcess({MICROSCAPE_PACK_BIN, "audit", "--pub", pub, onePath.string()}).exitCode == 0);
        CHECK(auditor.get("/api/v1/audit/export?from=" + kDate + "&to=" + kNextDate + "&players=nobody").status == 404);
        CHECK(auditor.get("/api/v1/audit/export?from=" + kNextDate + "&to=" + kDate).status == 400);
    }
    SECTION("editors may read reports but not export evidence") {
        Client editor = srv.userClient("ed1", "editor", "交警");
        CHECK(editor.get("/api/v1/audit/export?from=" + kDate + "&to=" + kNextDate).status == 403);
        CHECK(editor.get("/api/v1/reports/plays?from=" + kDate + "&to=" + kDate).status == 200);
    }
    SECTION("the export is in the audit log") {
        auto log = srv.admin().get("/api/v1/audit?entity=proof_of_play");
        REQUIRE(log.status == 200);
        CHECK(log.body.find("\"export\"") != std::string::npos);
    }
}

TEST_CASE("plays are placed where the manifests the screen named say, keys.json where it last said it was",
          "[controller][pop][export][location]") {
    TestServer srv;
    Client admin = srv.admin();
    const int garage = createLocation(admin, "万达广场地下车库入口", "garage_entrance");
    const int gate = createLocation(admin, "春熙路步行街北口", "street_gate");
    SimPlayer p;
    enrollSim(srv, admin, p, garage);
    // The manifest the screen holds now, as it received it: its exact bytes.
    auto manifestNow = [&] {
        REQUIRE(admin.post("/api/v1/players/" + p.id + "/compile", "").status == 200);
        auto r = admin.get("/api/v1/players/" + p.id + "/manifest?format=raw");
        REQUIRE(r.status == 200);
        auto m = manifest::parse(r.body);
        REQUIRE(m);
        REQUIRE(m->location);
        return std::pair{crypto::sha256Hex(r.body), *m->location};
    };
    const auto [atGarage, garagePlace] = manifestNow();
    CHECK(garagePlace.id == std::to_string(garage));
    CHECK(garagePlace.name == "万达广场地下车库入口");
    CHECK(garagePlace.venueType == "garage_entrance");
    CHECK(garagePlace.timeZone == "Asia/Shanghai");
    for (int i = 0; i < 3; ++i) p.play(kPoster, kLocalDay + (i + 1) * kHourMs, 15000, 15000).manifestSha256 = atGarage;
    // The screen is moved to the pedestrian street and gets a manifest saying so.
    REQUIRE(admin.patch("/api/v1/players/" + p.id, "{\"locationId\":" + std::to_string(gate) + "}").status == 200);
    const auto [atGate, gatePlace] = manifestNow();
    REQUIRE(atGate != atGarage);
    CHECK(gatePlace.id == std::to_string(gate));
    for (int i = 0; i < 2; ++i) p.play(kClip, kLocalDay + (i + 10) * kHourMs, 15000, 15000).manifestSha256 = atGate;
    {
        controller::Db db(srv.storeUrl());
        controller::PopIngest ingest(db);
        auto r = ingest.ingestBatch(p.id, p.batch(1, 5), kLocalDay + 12 * kHourMs);
        REQUIRE(r);
        REQUIRE(r->ackSeq == 5);
    }
    // A third manifest nobody played under is not exported.
    REQUIRE(admin.patch("/api/v1/players/" + p.id, "{\"locationId\":" + std::to_string(garage) + "}").status == 200);
    manifestNow();

    Client auditor = srv.userClient("auditor1", "auditor");
    auto exp =
        auditor.get("/api/v1/audit/export?from=" + kDate + "T00:00:00%2B08:00&to=" + kNextDate + "T00:00:00%2B08:00");
    REQUIRE(exp.status == 200);
    tar::MemorySource src(exp.body);
    auto e = audit::readExport(src);
    REQUIRE(e);
    CHECK(e->manifest.format == audit::kFormatVersion);
    REQUIRE(e->manifests.count(p.id));
    std::set<std::string> exported;
    for (const auto& m : e->manifests.at(p.id)) exported.insert(crypto::sha256Hex(m));
    CHECK(exported == std::set<std::string>{atGarage, atGate});
    // keys.json: where the screen's last record says it was (not where the
    // console has just put it, which no record of the screen confirms yet).
    REQUIRE(e->players.size() == 1);
    CHECK(e->players[0].locationId == std::to_string(gate));
    CHECK(e->players[0].locationName == "春熙路步行街北口");

    audit::VerifyOptions opt;
    opt.controllerKey = crypto::PublicKey::load((srv.dataDir() / "keys" / "content-signing.pub.pem").string()).value();
    opt.pinnedPlayerKeyIds[p.id] = p.key->publicKey().id();
    opt.zones.emplace("Asia/Shanghai", tz::parseTzif(tz::loadZoneFile("Asia/Shanghai").value()).value());
    auto res = audit::verify(*e, opt);
    for (const auto& f : res.failures) INFO(f.str());
    REQUIRE(res.ok());
    CHECK(res.countedPlays == 5);
    CHECK(res.boundPlays == 5);
    std::map<std::string, std::int64_t> at;
    for (const auto& c : res.counts) at[c.locationId] += c.completed;
    CHECK(at == std::map<std::string, std::int64_t>{{std::to_string(garage), 3}, {std::to_string(gate), 2}});
    CHECK(res.locationNames.at(std::to_string(gate)) == "春熙路步行街北口");

    // The reports place the plays as the recount does: where each manifest said,
    // not where the screen is now (back at the garage).
    auto rep = auditor.get("/api/v1/reports/plays?from=" + kDate + "&to=" + kDate + "&by=location");
    INFO(rep.body);
    REQUIRE(rep.status == 200);
    std::map<std::string, std::int64_t> reported;
    auto rows = rep.json()->getArray("rows");
    for (std::size_t i = 0; i < rows->size(); ++i) {
        auto row = rows->getObject(static_cast<unsigned>(i));
        reported[row->getValue<std::string>("location_id")] += row->getValue<std::int64_t>("completed");
    }
    CHECK(reported == at);
    // Rollups rebuilt from the raw records place them the same way.
    {
        controller::Db db(srv.storeUrl());
        controller::PopIngest ingest(db);
        REQUIRE(ingest.rebuildRollups());
    }
    auto again = auditor.get("/api/v1/reports/plays?from=" + kDate + "&to=" + kDate + "&by=location");
    REQUIRE(again.status == 200);
    auto rowsOf = [](const Response& r) {
        std::ostringstream out;
        r.json()->getArray("rows")->stringify(out);
        return out.str();
    };
    CHECK(rowsOf(again) == rowsOf(rep));
}
