// The yearly report (年度普法履职统计) over a generated year of plays: three
// screens at three kinds of place in two districts, media of two departments and
// three themes, a campaign, a takeover and a recall. Every figure equals what
// the plays report gives, what the generator made, and the offline verifier's
// recount of the year's evidence export.
#include <catch2/catch.hpp>

#include <chrono>
#include <fstream>
#include <map>
#include <sstream>

#include "../../controller/src/pop_ingest.hpp"
#include "../support/process.hpp"
#include "ingest_sim.hpp"
#include "microscape/controller/db.hpp"
#include "microscape/core/time.hpp"
#include "sim_enroll.hpp"
#include "test_support.hpp"

using namespace microscape;
using namespace microscape::testing;
using microscape::testing::runProcess;

namespace {

constexpr std::int64_t kDay = 86400000, kHour = 3600000, kEast8 = 8 * kHour;

// Local midnight (Beijing) of a date, as UTC ms.
std::int64_t localMidnight(int y, int m, int d) {
    return timeutil::daysFromCivil({y, m, d}) * kDay - kEast8;
}

std::int64_t wallMs() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

struct Place {
    const char* name;
    const char* venue;
    const char* district;
};

int createLocation(Client& admin, const Place& p) {
    Poco::JSON::Object::Ptr l = new Poco::JSON::Object;
    l->set("name", p.name);
    l->set("venueType", p.venue);
    l->set("district", p.district);
    l->set("timezone", "Asia/Shanghai");
    return createdId(admin.post("/api/v1/locations", jsonString(l)));
}

struct Tally {
    std::int64_t completed = 0, plays = 0, onScreenMs = 0;
    bool operator==(const Tally&) const = default;
};
using Section = std::map<std::string, Tally>;  // key -> numbers

// An annual report section (by_*) as key -> numbers.
Section sectionOf(const Poco::JSON::Object::Ptr& annual, const std::string& name) {
    Section out;
    auto arr = annual->getArray(name);
    for (std::size_t i = 0; i < arr->size(); ++i) {
        auto o = arr->getObject(static_cast<unsigned>(i));
        out[o->getValue<std::string>("key")] = {o->getValue<std::int64_t>("completed"),
                                                o->getValue<std::int64_t>("plays"),
                                                o->getValue<std::int64_t>("on_screen_ms")};
    }
    return out;
}

// The plays report's rows for the year by one dimension, folded by fold(key).
Section playsBy(Client& c, const std::string& dim, const std::function<std::string(const std::string&)>& fold) {
    auto r = c.get("/api/v1/reports/plays?from=2025-01-01&to=2025-12-31&by=" + dim);
    REQUIRE(r.status == 200);
    Section out;
    auto rows = r.json()->getArray("rows");
    for (std::size_t i = 0; i < rows->size(); ++i) {
        auto o = rows->getObject(static_cast<unsigned>(i));
        auto& t = out[fold(o->getValue<std::string>(dim))];
        t.completed += o->getValue<std::int64_t>("completed");
        t.plays += o->getValue<std::int64_t>("plays");
        t.onScreenMs += o->getValue<std::int64_t>("on_screen_ms");
    }
    return out;
}

std::vector<std::string> csvLine(const std::string& line) {
    std::vector<std::string> out(1);
    bool quoted = false;
    for (char ch : line) {
        if (ch == '"')
            quoted = !quoted;
        else if (ch == ',' && !quoted)
            out.emplace_back();
        else
            out.back() += ch;
    }
    return out;
}

// Completed and all plays only: the verifier's CSV gives on-screen time in whole
// seconds per row.
Section countsOnly(Section s) {
    for (auto& [k, t] : s) t.onScreenMs = 0;
    return s;
}

}  // namespace

TEST_CASE(
    "the yearly report over a generated year: every figure equals the plays report, the generator and the "
    "verifier's recount of the export",
    "[controller][reports][annual]") {
    TestServer srv;
    srv.freezeClock();
    // The server lives in 2025 from 1 March, 09:00 Beijing time.
    srv.advanceClock(localMidnight(2025, 3, 1) + 9 * kHour - wallMs());
    TempDir fx;
    Client admin = srv.admin();
    Client fraud = srv.userClient("fz", "editor", "反诈中心");
    Client traffic = srv.userClient("jj", "editor", "交警支队");
    Client ap = srv.userClient("ap", "approver");

    struct M {
        int id;
        std::string sha, department, tag;
    };
    std::vector<M> media;
    for (auto [who, dept, tag, text] : {std::tuple{&fraud, "反诈中心", "反诈防骗", "守护钱袋"},
                                        std::tuple{&traffic, "交警支队", "文明交通", "一盔一带"},
                                        std::tuple{&fraud, "反诈中心", "禁毒", "珍爱生命"}}) {
        const int id = uploadApproved(*who, ap, makePng(fx.path, text), std::string(text) + ".png");
        REQUIRE(
            who->patch("/api/v1/media/" + std::to_string(id), R"({"tags":[")" + std::string(tag) + R"("]})").status ==
            200);
        media.push_back(
            {id, admin.get("/api/v1/media/" + std::to_string(id)).json()->getValue<std::string>("sha256"), dept, tag});
    }
    std::string items;
    for (const auto& m : media) items += (items.empty() ? "" : ",") + (R"({"mediaId":)" + std::to_string(m.id) + "}");
    const int pl = createdId(fraud.post("/api/v1/playlists", R"({"name":"全年普法","items":[)" + items + "]}"));
    const int cmp = createdId(
        fraud.post("/api/v1/campaigns",
                   R"({"name":"2025全民反诈","theme":"反诈防骗","startsOn":"2025-03-01","endsOn":"2025-12-31"})"));
    createdId(fraud.post("/api/v1/schedules",
                         R"({"name":"全年","playlistId":)" + std::to_string(pl) + R"(,"campaignId":)" +
                             std::to_string(cmp) +
                             R"(,"startsOn":"2025-03-01","endsOn":"2025-12-31","target":{"all":true}})"));
    const std::vector<Place> places{{"万象城一楼中庭", "mall", "城中区"},
                                    {"步步高地下车库入口", "garage_entrance", "柳南区"},
                                    {"河东社区公告栏", "community", "城中区"}};
    std::vector<SimPlayer> players(places.size());
    std::map<std::string, std::string> venueOfLocation;  // location id -> venue type
    for (std::size_t i = 0; i < places.size(); ++i) {
        const int loc = createLocation(admin, places[i]);
        venueOfLocation[std::to_string(loc)] = places[i].venue;
        enrollSim(srv, admin, players[i], loc);
    }
    // A takeover in March, and in October the 禁毒 poster is recalled.
    const auto tk = fraud.post("/api/v1/takeovers", R"({"name":"紧急反诈提醒","playlistId":)" + std::to_string(pl) +
                                                        R"(,"target":{"all":true},"durationSeconds":600})");
    REQUIRE(tk.status == 201);
    srv.advanceClock(localMidnight(2025, 10, 1) - localMidnight(2025, 3, 1));
    REQUIRE(ap.login("ap", "password-ap").status == 200);  // (sessions end while the clock moves)
    REQUIRE(
        ap.post("/api/v1/media/" + std::to_string(media[2].id) + "/recall", R"({"reason":"举报电话已变更"})").status ==
        201);

    // The plays: on the 5th, 15th and 25th of each month from March, from 10:00
    // local, six 10 s items a screen; every seventh is cut short; the recalled
    // poster only before October.
    std::map<std::string, Section> want;  // section -> key -> numbers
    for (std::size_t i = 0; i < players.size(); ++i) {
        auto& p = players[i];
        int n = 0;
        for (int month = 3; month <= 12; ++month)
            for (int day : {5, 15, 25}) {
                std::int64_t t = localMidnight(2025, month, day) + 10 * kHour + static_cast<std::int64_t>(i) * 1000;
                for (int k = 0; k < 6; ++k, ++n) {
                    const M& m = media[(n + i) % (month < 10 ? 3 : 2)];
                    const bool cut = n % 7 == 3;
                    const std::int64_t measured = cut ? 4000 : 10000 + static_cast<std::int64_t>(n % 5) * 20;
                    p.play(m.sha, t, 10000, measured, "cmp-" + std::to_string(cmp), "pl-" + std::to_string(pl));
                    const Tally one{cut ? 0 : 1, 1, measured};
                    char mon[8];
                    std::snprintf(mon, sizeof mon, "2025-%02d", month);
                    for (auto [section, key] :
                         {std::pair{"total", std::string()}, std::pair{"by_venue_type", std::string(places[i].venue)},
                          std::pair{"by_department", m.department}, std::pair{"by_theme", m.tag},
                          std::pair{"by_month", std::string(mon)}}) {
                        auto& w = want[section][key];
                        w.completed += one.completed;
                        w.plays += one.plays;
                        w.onScreenMs += one.onScreenMs;
                    }
                    t += 12000;
                }
            }
    }
    {
        controller::Db db(srv.storeUrl());
        controller::PopIngest ingest(db);
        for (auto& p : players) {
            auto r = ingest.ingestBatch(p.id, p.next(), localMidnight(2026, 1, 10));
            REQUIRE(r);
            REQUIRE(r->accepted);
        }
    }
    // The year has ended: the report is asked for in January.
    srv.advanceClock(localMidnight(2026, 1, 10) + 9 * kHour - (localMidnight(2025, 10, 1)));
    Client auditor = srv.userClient("aud", "auditor");
    auto ar = auditor.get("/api/v1/reports/annual?year=2025");
    INFO(ar.body.substr(0, 800));
    REQUIRE(ar.status == 200);
    auto annual = ar.json();

    // The generator's numbers.
    auto total = annual->getObject("total");
    CHECK(Tally{total->getValue<std::int64_t>("completed"), total->getValue<std::int64_t>("plays"),
                total->getValue<std::int64_t>("on_screen_ms")} == want["total"][""]);
    CHECK(total->getValue<int>("screens") == 3);
    CHECK(total->getValue<int>("locations") == 3);
    for (const char* s : {"by_venue_type", "by_department", "by_theme", "by_month"}) {
        INFO(s);
        CHECK(sectionOf(annual, s) == want[s]);
    }
    CHECK(sectionOf(annual, "by_month").size() == 10);
    auto campaigns = sectionOf(annual, "by_campaign");
    REQUIRE(campaigns.size() == 1);
    CHECK(campaigns.begin()->second == want["total"][""]);
    CHECK(annual->getValue<int>("campaigns") == 1);
    CHECK(annual->getValue<int>("takeovers") == 1);
    CHECK(annual->getValue<int>("recalls") == 1);
    CHECK(annual->getValue<int>("recalls_completed") == 0);  // simulated screens never confirm
    const std::string summary = annual->getValue<std::string>("summary");
    CHECK(summary.rfind("2025年，在", 0) == 0);
    CHECK(summary.find("3个场所的3块LED屏幕") != std::string::npos);
    CHECK(summary.find("完整播放" + std::to_string(want["total"][""].completed) + "次") != std::string::npos);
    CHECK(summary.find("紧急插播1次，召回素材1次（其中0次已逐屏确认下架）") != std::string::npos);

    // The plays report, by the same dimensions.
    auto same = [](const std::string& k) { return k; };
    CHECK(playsBy(auditor, "venue_type", same) == want["by_venue_type"]);
    CHECK(playsBy(auditor, "department", same) == want["by_department"]);
    CHECK(playsBy(auditor, "tag", same) == want["by_theme"]);
    CHECK(playsBy(auditor, "day", [](const std::string& d) { return d.substr(0, 7); }) == want["by_month"]);

    // The verifier's recount of the year's evidence, folded the same ways.
    auto exp = auditor.get("/api/v1/audit/export?from=2025-01-01T00:00:00%2B08:00&to=2026-01-01T00:00:00%2B08:00");
    REQUIRE(exp.status == 200);
    const auto tar = fx.path / "year.tar";
    std::ofstream(tar, std::ios::binary) << exp.body;
    const auto pub = (srv.dataDir() / "keys" / "content-signing.pub.pem").string();
    auto cli = runProcess({MICROSCAPE_PACK_BIN, "audit", "--pub", pub, "--csv", tar.string()});
    INFO(cli.err);
    REQUIRE(cli.exitCode == 0);
    std::map<std::string, const M*> bySha;
    for (const auto& m : media) bySha[m.sha] = &m;
    std::map<std::string, Section> got;
    {
        std::istringstream in(cli.out.substr(3));  // after the BOM
        std::string line;
        std::getline(in, line);
        auto head = csvLine(line.substr(0, line.size() - 1));
        std::map<std::string, std::size_t> at;
        for (std::size_t i = 0; i < head.size(); ++i) at[head[i]] = i;
        while (std::getline(in, line)) {
            if (!line.empty() && line.back() == '\r') line.pop_back();
            if (line.empty()) continue;
            auto f = csvLine(line);
            const M& m = *bySha.at(f[at.at("media_sha256")]);
            const std::int64_t completed = std::stoll(f[at.at("completed")]);
            const std::int64_t plays = completed + std::stoll(f[at.at("interrupted")]) + std::stoll(f[at.at("failed")]);
            for (auto [section, key] : {std::pair{"total", std::string()},
                                        std::pair{"by_venue_type", venueOfLocation.at(f[at.at("location_id")])},
                                        std::pair{"by_department", m.department}, std::pair{"by_theme", m.tag},
                                        std::pair{"by_month", f[at.at("date")].substr(0, 7)}}) {
                got[section][key].completed += completed;
                got[section][key].plays += plays;
            }
        }
    }
    for (const char* s : {"total", "by_venue_type", "by_department", "by_theme", "by_month"}) {
        INFO(s);
        CHECK(got[s] == countsOnly(want[s]));
    }
    // The verifier also reports the year's recall.
    auto text = runProcess({MICROSCAPE_PACK_BIN, "audit", "--pub", pub, tar.string()});
    CHECK(text.exitCode == 0);
    CHECK(text.out.find("recall 1: 珍爱生命.png") != std::string::npos);
    CHECK(text.out.find("0 of 3 screens confirmed, not complete") != std::string::npos);
}
