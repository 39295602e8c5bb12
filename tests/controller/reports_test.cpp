// Reports over proofs from a screen with a real compiled schedule: counts by
// campaign, theme and hour, scheduled against played, uptime, problems, the
// campaign summary, and --rebuild-rollups giving the same numbers.
#include <catch2/catch.hpp>

#include <Poco/URI.h>

#include <chrono>

#include "../../controller/src/pop_ingest.hpp"
#include "../support/process.hpp"
#include "ingest_sim.hpp"
#include "microscape/controller/db.hpp"
#include "microscape/core/time.hpp"
#include "test_support.hpp"

using namespace microscape;
using namespace microscape::testing;
using microscape::testing::runProcess;

namespace {

std::int64_t nowMs() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

}  // namespace

TEST_CASE("reports by campaign and theme and hour with scheduled vs played and uptime and a campaign summary",
          "[controller][pop][reports]") {
    TestServer srv;
    TempDir fx;
    Client admin = srv.admin();
    Client ed = srv.userClient("ed", "editor", "反诈中心");
    Client ap = srv.userClient("ap", "approver");
    Client anon = srv.client();

    std::string tag;
    Poco::URI::encode("国家安全", "", tag);
    auto up = ed.request("POST", "/api/v1/media?filename=poster.png&tags=" + tag, makePng(fx.path, "国家安全 人人有责"),
                         "image/png");
    const int poster = createdId(up);
    const std::string posterSha = up.json()->getValue<std::string>("sha256");
    REQUIRE(ed.post("/api/v1/media/" + std::to_string(poster) + "/submit", "").status == 200);
    REQUIRE(ap.post("/api/v1/media/" + std::to_string(poster) + "/approve", "").status == 200);
    const int garage = createdId(admin.post(
        "/api/v1/locations", R"({"name":"万达地下车库入口","venueType":"garage_entrance","district":"江北区"})"));
    const int pl = createdId(ed.post("/api/v1/playlists", R"({"name":"车库 国家安全","items":[{"mediaId":)" +
                                                              std::to_string(poster) + R"(,"durationMs":10000}]})"));
    const int campaign = createdId(
        ed.post("/api/v1/campaigns",
                R"({"name":"国家安全教育日","theme":"国家安全","startsOn":"2000-01-01","endsOn":"2099-12-31"})"));
    createdId(ed.post(
        "/api/v1/schedules",
        R"({"name":"车库全天","playlistId":)" + std::to_string(pl) + R"(,"campaignId":)" + std::to_string(campaign) +
            R"(,"priority":10,"startsOn":"2000-01-01","endsOn":"2099-12-31","target":{"venueTypes":["garage_entrance"]}})"));

    // A screen with its own identity key.
    SimPlayer p;
    {
        Poco::JSON::Object::Ptr t = new Poco::JSON::Object;
        t->set("name", "车库屏");
        t->set("locationId", garage);
        auto tr = admin.post("/api/v1/enrollment-tokens", jsonString(t));
        REQUIRE(tr.status == 201);
        Poco::JSON::Object::Ptr e = new Poco::JSON::Object;
        e->set("token", tr.json()->getValue<std::string>("token"));
        e->set("identityKey", p.publicPem());
        e->set("curveKey", makePlayerKeys().curveZ85);
        auto er = anon.post("/api/v1/enroll", jsonString(e));
        REQUIRE(er.status == 201);
        p.id = er.json()->getValue<std::string>("playerId");
    }
    auto man = admin.get("/api/v1/players/" + p.id + "/manifest");
    REQUIRE(man.status == 200);

    // 120 plays of the scheduled poster in the first hour of today (local), 6 cut short.
    const std::int64_t now = nowMs();
    const std::int64_t day = (now + 8 * 3600000) / 86400000;
    const std::int64_t midnight = day * 86400000 - 8 * 3600000;
    const std::string today = timeutil::formatDate(timeutil::civilFromDays(day));
    const std::string cmp = "cmp-" + std::to_string(campaign), plId = "pl-" + std::to_string(pl);
    for (int i = 0; i < 120; ++i) p.play(posterSha, midnight + i * 10000, 10000, i % 20 == 7 ? 3000 : 10000, cmp, plId);
    {
        controller::Db db(srv.storeUrl());
        controller::PopIngest ingest(db);
        auto r = ingest.ingestBatch(p.id, p.next(), now);
        REQUIRE(r);
        INFO((r->problems.empty() ? "" : r->problems.front().message));
        CHECK(r->problems.empty());  // the media was in the player's manifest
        // Then a batch after a gap: kept, and reported.
        p.play(posterSha, midnight + 2000000, 10000, 10000, cmp, plId);
        p.play(posterSha, midnight + 2010000, 10000, 10000, cmp, plId);
        p.sent += 1;
        auto g = ingest.ingestBatch(p.id, p.next(), now);
        REQUIRE(g);
        REQUIRE(g->problems.size() == 1);
        CHECK(g->problems[0].code == "gap");
    }
    Client auditor = srv.userClient("aud", "auditor");
    const std::string range = "from=" + today + "&to=" + today;

    auto byCampaign = auditor.get("/api/v1/reports/plays?" + range + "&by=campaign,theme,tag,playlist");
    INFO(byCampaign.body);
    REQUIRE(byCampaign.status == 200);
    auto rows = byCampaign.json()->getArray("rows");
    REQUIRE(rows->size() == 1);
    auto row = rows->getObject(0);
    CHECK(row->getValue<std::string>("campaign") == cmp);
    CHECK(row->getValue<std::string>("campaign_name") == "国家安全教育日");
    CHECK(row->getValue<std::string>("theme") == "国家安全");
    CHECK(row->getValue<std::string>("tag") == "国家安全");
    CHECK(row->getValue<int>("completed") == 115);
    CHECK(row->getValue<int>("interrupted") == 6);
    CHECK(row->getValue<std::int64_t>("on_screen_ms") == 115 * 10000 + 6 * 3000);

    // 谁执法谁普法: plays by the department that uploaded the media.
    auto byDept = auditor.get("/api/v1/reports/plays?" + range + "&by=department,campaign");
    REQUIRE(byDept.status == 200);
    auto drows = byDept.json()->getArray("rows");
    REQUIRE(drows->size() == 1);
    CHECK(drows->getObject(0)->getValue<std::string>("department") == "反诈中心");
    CHECK(drows->getObject(0)->getValue<int>("completed") == 115);
    CHECK(auditor.get("/api/v1/reports/plays?" + range + "&by=department&format=csv").body.find("反诈中心,115,") !=
          std::string::npos);

    auto byHour = auditor.get("/api/v1/reports/plays?" + range + "&by=district,venue_type,screen,hour");
    REQUIRE(byHour.status == 200);
    auto hrows = byHour.json()->getArray("rows");
    REQUIRE(hrows->size() == 1);  // everything in the first local hour
    CHECK(hrows->getObject(0)->getValue<int>("hour") == 0);
    CHECK(hrows->getObject(0)->getValue<std::string>("venue_type") == "garage_entrance");
    CHECK(hrows->getObject(0)->getValue<int>("plays") == 121);
    CHECK(auditor.get("/api/v1/reports/plays?" + range + "&by=media,hour").status == 400);
    CHECK(auditor.get("/api/v1/reports/plays?" + range + "&by=nonsense").status == 400);
    CHECK(auditor.get("/api/v1/reports/plays?from=2026-02-30&to=2026-03-01").status == 400);

    auto svp = auditor.get("/api/v1/reports/scheduled-vs-played?" + range);
    INFO(svp.body.substr(0, 400));
    REQUIRE(svp.status == 200);
    auto srows = svp.json()->getArray("rows");
    REQUIRE(srows->size() == 1);
    auto s = srows->getObject(0);
    CHECK(s->getValue<std::string>("screen") == p.id);
    CHECK(s->getValue<int>("completed") == 115);
    // The manifest was compiled now: today's slots from then on are scheduled.
    const std::int64_t scheduled = s->getValue<std::int64_t>("scheduled_plays");
    CHECK(scheduled >= (midnight + 86400000 - now) / 10000 - 2);
    CHECK(scheduled <= 8640);
    CHECK(s->getValue<std::int64_t>("shortfall") == std::max<std::int64_t>(0, scheduled - 115));

    auto up2 = auditor.get("/api/v1/reports/uptime?" + range + "&format=csv");
    REQUIRE(up2.status == 200);
    CHECK(up2.body.rfind("\xEF\xBB\xBF"
                         "screen,screen_name,day,hours_with_plays,on_screen_ms,",
                         0) == 0);
    CHECK(up2.body.find("车库屏") != std::string::npos);

    auto probs = auditor.get("/api/v1/reports/problems?player=" + p.id);
    REQUIRE(probs.status == 200);
    REQUIRE(probs.json()->getArray("rows")->size() == 1);
    CHECK(probs.json()->getArray("rows")->getObject(0)->getValue<std::string>("code") == "gap");

    // The screen itself is flagged.
    auto pj = auditor.get("/api/v1/players/" + p.id);
    REQUIRE(pj.status == 200);
    auto pop = pj.json()->getObject("proofOfPlay");
    REQUIRE(pop);
    CHECK(pop->getValue<int>("lastSeq") == 122);
    CHECK(pop->getValue<int>("records") == 121);
    CHECK(pop->getValue<int>("problems") == 1);
    CHECK(pop->getObject("lastProblem")->getValue<std::string>("code") == "gap");

    auto sum = ed.get("/api/v1/reports/campaigns/" + std::to_string(campaign) + "/summary?" + range);
    INFO(sum.body);
    REQUIRE(sum.status == 200);
    auto sj = sum.json();
    CHECK(sj->getValue<int>("screens") == 1);
    CHECK(sj->getValue<int>("locations") == 1);
    CHECK(sj->getValue<int>("completed") == 115);
    CHECK(sj->getArray("by_venue_type")->getObject(0)->getValue<std::string>("venue_type") == "garage_entrance");
    CHECK(sj->getArray("by_theme")->getObject(0)->getValue<std::string>("theme") == "国家安全");
    CHECK(sj->getArray("by_department")->getObject(0)->getValue<std::string>("department") == "反诈中心");
    CHECK(sj->getArray("by_department")->getObject(0)->getValue<int>("completed") == 115);
    CHECK(ed.get("/api/v1/reports/campaigns/999999/summary?" + range).status == 404);

    // The yearly report (普法履职统计): the same numbers as the reports API for the year.
    const std::string year = today.substr(0, 4);
    auto annual = auditor.get("/api/v1/reports/annual?year=" + year);
    INFO(annual.body.substr(0, 600));
    REQUIRE(annual.status == 200);
    auto aj = annual.json();
    auto yearRows = auditor.get("/api/v1/reports/plays?from=" + year + "-01-01&to=" + year + "-12-31&by=media")
                        .json()
                        ->getArray("rows");
    std::int64_t completedInYear = 0, msInYear = 0;
    for (std::size_t i = 0; i < yearRows->size(); ++i) {
        completedInYear += yearRows->getObject(static_cast<unsigned>(i))->getValue<std::int64_t>("completed");
        msInYear += yearRows->getObject(static_cast<unsigned>(i))->getValue<std::int64_t>("on_screen_ms");
    }
    auto total = aj->getObject("total");
    CHECK(total->getValue<std::int64_t>("completed") == completedInYear);
    CHECK(total->getValue<std::int64_t>("on_screen_ms") == msInYear);
    CHECK(total->getValue<int>("screens") == 1);
    CHECK(total->getValue<int>("locations") == 1);
    auto venue = aj->getArray("by_venue_type")->getObject(0);
    CHECK(venue->getValue<std::string>("key") == "garage_entrance");
    CHECK(venue->getValue<std::string>("name") == "地下车库出入口");
    CHECK(aj->getArray("by_theme")->getObject(0)->getValue<std::string>("key") == "国家安全");
    CHECK(aj->getArray("by_department")->getObject(0)->getValue<std::string>("key") == "反诈中心");
    CHECK(aj->getArray("by_month")->getObject(0)->getValue<std::string>("key") == today.substr(0, 7));
    CHECK(aj->getArray("by_campaign")->getObject(0)->getValue<std::string>("name") == "国家安全教育日");
    CHECK(aj->getValue<int>("campaigns") == 1);
    const std::string summary = aj->getValue<std::string>("summary");
    CHECK(summary.rfind(year + "年，在地下车库出入口等1个场所的1块LED屏幕", 0) == 0);
    CHECK(summary.find("完整播放" + std::to_string(completedInYear) + "次") != std::string::npos);
    CHECK(summary.find("其中国家安全" + std::to_string(completedInYear) + "次") != std::string::npos);
    auto annualCsv = auditor.get("/api/v1/reports/annual?year=" + year + "&format=csv");
    REQUIRE(annualCsv.status == 200);
    CHECK(annualCsv.body.rfind("\xEF\xBB\xBF"
                               "section,key,name,screens,locations,completed,",
                               0) == 0);
    CHECK(annualCsv.body.find("department,反诈中心,,1,1," + std::to_string(completedInYear) + ",") !=
          std::string::npos);
    // A year without plays says so; a year that is not one is refused.
    CHECK(auditor.get("/api/v1/reports/annual?year=2001").json()->getValue<std::string>("summary") ==
          "2001年，暂无经屏幕签名证实的播放记录。");
    CHECK(auditor.get("/api/v1/reports/annual?year=20x6").status == 400);
    CHECK(auditor.get("/api/v1/reports/annual?year=99999999999").status == 400);
    CHECK(auditor.get("/api/v1/reports/annual").status == 400);

    SECTION("CSV cells that a spreadsheet would run as formulas are shown as text") {
        REQUIRE(
            admin.patch("/api/v1/locations/" + std::to_string(garage), R"js({"name":"=HYPERLINK(\"x\")"})js").status ==
            200);
        auto csv = auditor.get("/api/v1/reports/plays?" + range + "&by=location&format=csv");
        REQUIRE(csv.status == 200);
        CHECK(csv.body.find(",\"'=HYPERLINK(\"\"x\"\")\",") != std::string::npos);
    }
    SECTION("--rebuild-rollups recomputes the same numbers from the raw records") {
        const std::string before = auditor.get("/api/v1/reports/plays?" + range + "&by=media,screen,day").body;
        {
            controller::Db db(srv.storeUrl());
            db.write([](controller::DbConn& c) {
                c.exec("DELETE FROM pop_rollup_media");
                c.exec("DELETE FROM pop_rollup_hour");
            });
        }
        CHECK(auditor.get("/api/v1/reports/plays?" + range + "&by=media,screen,day").body != before);
        std::vector<std::string> cmd{MICROSCAPE_CONTROLLER_BIN, "--data-dir", srv.dataDir().string(),
                                     "--rebuild-rollups"};
        if (srv.storeUrl().backend == controller::sql::Backend::Postgres) {
            cmd.push_back("--store");
            cmd.push_back(srv.storeUrl().conninfo);
        }
        auto r = runProcess(cmd);
        INFO(r.out << r.err);
        REQUIRE(r.exitCode == 0);
        CHECK(r.out.find("from 121 play records") != std::string::npos);
        CHECK(auditor.get("/api/v1/reports/plays?" + range + "&by=media,screen,day").body == before);
    }
    SECTION("the yearly report's scheduled vs played: the year's days that have ended, as the per-day report") {
        // While today runs, it is not counted yet.
        auto running = auditor.get("/api/v1/reports/annual?year=" + year).json()->getObject("scheduled");
        CHECK((running->isNull("through") || running->getValue<std::string>("through") < today));
        // A day later (the server's clock), today has ended: its slots and plays count.
        srv.advanceClock(86400000 + 60000);
        Client later = srv.client();
        REQUIRE(later.login("aud", "password-aud").status == 200);
        auto a = later.get("/api/v1/reports/annual?year=" + year);
        INFO(a.body.substr(0, 800));
        REQUIRE(a.status == 200);
        auto sched = a.json()->getObject("scheduled");
        if (today.substr(5) == "12-31") {  // the next day is in another year
            CHECK(sched->getValue<std::string>("through") == today);
        } else {
            REQUIRE(sched->getValue<std::string>("through") == today);
        }
        auto perDay = later.get("/api/v1/reports/scheduled-vs-played?from=" + year + "-01-01&to=" + today)
                          .json()
                          ->getArray("rows");
        std::int64_t slots = 0, slotMs = 0, completed = 0, onScreen = 0;
        for (std::size_t i = 0; i < perDay->size(); ++i) {
            auto r = perDay->getObject(static_cast<unsigned>(i));
            slots += r->getValue<std::int64_t>("scheduled_plays");
            slotMs += r->getValue<std::int64_t>("scheduled_ms");
            completed += r->getValue<std::int64_t>("completed");
            onScreen += r->getValue<std::int64_t>("on_screen_ms");
        }
        CHECK(slots > 0);
        CHECK(completed == 115);
        CHECK(sched->getValue<std::int64_t>("scheduled_plays") == slots);
        CHECK(sched->getValue<std::int64_t>("scheduled_ms") == slotMs);
        CHECK(sched->getValue<std::int64_t>("completed") == completed);
        CHECK(sched->getValue<std::int64_t>("on_screen_ms") == onScreen);
        CHECK(sched->getValue<std::int64_t>("completion_basis_points") == completed * 10000 / slots);
        CHECK(sched->getValue<std::int64_t>("uptime_basis_points") == std::min(onScreen, slotMs) * 10000 / slotMs);
        const auto bp = completed * 10000 / slots;
        CHECK(a.json()->getValue<std::string>("summary").find("按排期应播" + std::to_string(slots) + "次，完整播放率" +
                                                              std::to_string(bp / 100) + "." +
                                                              std::to_string(bp / 10 % 10) + "%") != std::string::npos);
        // The ended days' scheduled numbers are kept, and a second report reads them back the same.
        {
            controller::Db db(srv.storeUrl());
            auto n = db.read([](controller::DbConn& c) {
                return c.one("SELECT COUNT(*), COALESCE(SUM(slots), 0) FROM scheduled_days");
            });
            REQUIRE(n);
            CHECK(n->i64(0) > 0);
            CHECK(n->i64(1) == slots);
        }
        auto again = later.get("/api/v1/reports/annual?year=" + year).json()->getObject("scheduled");
        CHECK(again->getValue<std::int64_t>("scheduled_plays") == slots);
        CHECK(again->getValue<std::int64_t>("scheduled_ms") == slotMs);
        auto csv = later.get("/api/v1/reports/annual?year=" + year + "&format=csv");
        CHECK(csv.body.find("scheduled," + today + ",scheduled_plays,0,0," + std::to_string(slots) + ",") !=
              std::string::npos);
    }
}
