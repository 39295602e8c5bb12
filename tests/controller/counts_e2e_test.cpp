// Done means (issue 6): after real screens have played for a while, the plays
// report (media x location x day) equals, number for number, what the offline
// verifier (microscape-pack audit --csv) recounts from the evidence export. Three
// headless `microscape-player run` processes at a mall, a garage entrance and a
// building entrance play their venue's posters and a short clip; every record
// they journal reaches the controller; then the API's report, the export and the
// verifier's CSV are compared.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <Poco/Data/SQLite/Connector.h>
#include <Poco/Data/Session.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>
#include <tuple>
#include <vector>

#include "../support/process.hpp"
#include "microscape/controller/db.hpp"
#include "microscape/core/audit.hpp"
#include "microscape/core/json.hpp"
#include "microscape/core/pop.hpp"
#include "microscape/core/tar.hpp"
#include "microscape/core/time.hpp"
#include "test_support.hpp"

using namespace microscape::testing;
using namespace microscape;
using namespace Poco::Data::Keywords;
using microscape::testing::runProcess;

namespace {

constexpr std::int64_t kDayMs = 86400000, kEast8Ms = 8 * 3600000;

std::int64_t nowMs() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}
// The Asia/Shanghai local date `offsetDays` from today's.
std::string localDate(int offsetDays) {
    return timeutil::formatDate(timeutil::civilFromDays((nowMs() + kEast8Ms) / kDayMs + offsetDays));
}

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

std::int64_t storedPlays(const controller::sql::StoreUrl& store, const std::string& playerId) {
    controller::Db db(store);
    return db.read([&](controller::DbConn& c) {
        return c.one("SELECT COUNT(*) FROM pop_records WHERE player_id = ? AND kind = 'play'", {playerId})->i64(0);
    });
}

std::int64_t journalLastSeq(const fs::path& dir) {
    Poco::Data::Session s("SQLite", (dir / "state.db").string());
    Poco::Int64 last = 0;
    s << "SELECT COALESCE(MAX(seq), 0) FROM pop_records", into(last), now;
    return last;
}

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

using Key = std::tuple<std::string, std::string, std::string>;  // location id, local date, media sha256
// degraded: plays that ran their slot but froze or lost frames (a loaded
// machine, or libfaketime's delays of libvlc's waits, make real ones).
struct Counts {
    std::int64_t completed = 0, interrupted = 0, failed = 0, onScreenS = 0, degraded = 0;
    bool operator==(const Counts&) const = default;
};

}  // namespace

TEST_CASE("after real screens have played, the plays report equals the verifier's recount of the export exactly",
          "[controller][pop][e2e][counts]") {
    if (::access(playerBin().c_str(), X_OK) != 0) {
        WARN("microscape-player not built; skipping");
        return;
    }
    Poco::Data::SQLite::Connector::registerConnector();
    TestServer srv([](auto& c) { c.zmqHeartbeatMs = 200; });
    TempDir fx;
    Client admin = srv.admin();
    Client ed = srv.userClient("ed", "editor", "ops");
    Client ap = srv.userClient("ap", "approver");
    Client auditor = srv.userClient("auditor1", "auditor");

    // What each venue type shows: its own poster and one short clip for all.
    const int clip = uploadApproved(ed, ap, makeMp4(fx.path, 2), "clip.mp4", "video/mp4");
    struct Venue {
        const char* type;
        const char* location;
        const char* poster;
        int locationId = 0;
        std::string playerId;
        fs::path dir;
    };
    std::vector<Venue> venues(3);
    venues[0] = {"mall", "万达广场一层中庭", "反诈防骗", 0, {}, {}};
    venues[1] = {"garage_entrance", "万达广场地下车库入口", "一盔一带", 0, {}, {}};
    venues[2] = {"building_entrance", "市民中心东门", "禁毒宣传", 0, {}, {}};
    for (auto& v : venues) {
        v.locationId = createLocation(admin, v.location, v.type);
        const int poster = uploadApproved(ed, ap, makePng(fx.path, v.poster, 320, 180), std::string(v.type) + ".png");
        const int pl =
            createdId(ed.post("/api/v1/playlists", R"({"name":")" + std::string(v.type) + R"(","items":[{"mediaId":)" +
                                                       std::to_string(poster) + R"(,"durationMs":1500},{"mediaId":)" +
                                                       std::to_string(clip) + "}]}"));
        createdId(ed.post("/api/v1/schedules", R"({"name":")" + std::string(v.type) + R"(","playlistId":)" +
                                                   std::to_string(pl) +
                                                   R"(,"startsOn":"2020-01-01","endsOn":"2099-12-31",)"
                                                   R"("target":{"venueTypes":[")" +
                                                   v.type + R"("]}})"));
    }
    for (auto& v : venues) {
        v.dir = fx.path / v.type;
        v.playerId =
            enrollScreen(srv, admin, v.dir, R"({"name":"screen","locationId":)" + std::to_string(v.locationId) + "}");
    }

    // The screens play for several rounds, then stop cleanly (the item on air is
    // journalled as interrupted).
    const auto cdb = srv.storeUrl();
    auto logOf = [&](const Venue& v) { return fx.path / (std::string(v.type) + ".log"); };
    {
        std::vector<std::unique_ptr<microscape::testing::SpawnedProcess>> screens;
        for (auto& v : venues) screens.push_back(startScreen(v.dir, logOf(v), {"--width", "320", "--height", "180"}));
        for (auto& v : venues) {
            INFO(v.type << " log:\n" << readFile(logOf(v)));
            REQUIRE(waitFor([&] { return storedCount(cdb, v.playerId) >= 3; }, 30000));
        }
        // Several rounds of both items on every screen (a round is 3.5 s: two plays).
        for (auto& v : venues) {
            INFO(v.type << " log:\n" << readFile(logOf(v)));
            REQUIRE(waitFor([&] { return storedCount(cdb, v.playerId) >= 12; }, 90000));
        }
        for (auto& s : screens) CHECK(WIFEXITED(s->kill(SIGTERM)));
    }
    // Whatever the journals hold reaches the controller (sync-only runs upload it).
    {
        std::vector<std::unique_ptr<microscape::testing::SpawnedProcess>> syncs;
        for (auto& v : venues) syncs.push_back(startScreen(v.dir, logOf(v), {"--no-playback"}));
        for (auto& v : venues) {
            const std::int64_t last = journalLastSeq(v.dir);
            INFO(v.type << " log:\n" << readFile(logOf(v)));
            REQUIRE(last >= 3);
            REQUIRE(waitFor([&] { return storedCount(cdb, v.playerId) == last; }, 15000));
        }
    }

    // On site, before the export: each screen's key and its signed head
    // (microscape-player id / head), which the auditor pins and checks.
    std::vector<std::string> onSite;
    std::string heads;
    for (auto& v : venues) {
        auto id = runProcess({playerBin(), "id", "--data-dir", v.dir.string()});
        INFO(id.err);
        REQUIRE(id.exitCode == 0);
        REQUIRE(id.out.rfind("player_id " + v.playerId + "\nkey_id ", 0) == 0);
        const auto pem = fx.path / (std::string(v.type) + ".pub.pem");
        std::ofstream(pem) << id.out.substr(id.out.find("-----BEGIN"));
        onSite.insert(onSite.end(), {"--player-key", v.playerId + "=" + pem.string()});
        auto head = runProcess({playerBin(), "head", "--data-dir", v.dir.string()});
        INFO(head.err);
        REQUIRE(head.exitCode == 0);
        auto h = microscape::pop::parseHead(head.out.substr(0, head.out.size() - 1));
        REQUIRE(h.ok());
        CHECK(h->playerId == v.playerId);
        CHECK(h->seq == journalLastSeq(v.dir));
        heads += head.out;
    }
    const auto headsPath = fx.path / "heads.jsonl";
    std::ofstream(headsPath) << heads;
    onSite.insert(onSite.end(), {"--head", headsPath.string()});

    // The auditor's export over a period holding every play, and the verifier.
    const std::string yesterday = localDate(-1), tomorrow = localDate(1), later = localDate(2);
    auto exp =
        auditor.get("/api/v1/audit/export?from=" + yesterday + "T00:00:00%2B08:00&to=" + later + "T00:00:00%2B08:00");
    INFO(exp.body.substr(0, 300));
    REQUIRE(exp.status == 200);
    const auto tarPath = fx.path / "export.tar";
    std::ofstream(tarPath, std::ios::binary) << exp.body;
    const auto pub = (srv.dataDir() / "keys" / "content-signing.pub.pem").string();
    std::vector<std::string> argv{MICROSCAPE_PACK_BIN, "audit", "--pub", pub, "--csv"};
    argv.insert(argv.end(), onSite.begin(), onSite.end());
    argv.push_back(tarPath.string());
    auto cli = runProcess(argv);
    INFO(cli.out << cli.err);
    REQUIRE(cli.exitCode == 0);
    {
        // Every counted play is located by the manifest the screen named in it
        // (record format 2), not by keys.json alone.
        std::vector<std::string> summaryArgv = argv;
        std::erase(summaryArgv, std::string("--csv"));
        auto summary = runProcess(summaryArgv);
        INFO(summary.out);
        REQUIRE(summary.exitCode == 0);
        const auto at = summary.out.find("locations: ");
        REQUIRE(at != std::string::npos);
        std::istringstream line(summary.out.substr(at + 11));
        long bound = -1, counted = -2;
        std::string of;
        line >> bound >> of >> counted;
        CHECK(bound > 0);
        CHECK(bound == counted);
    }
    // The second verifier (Python, from the documented format) gives the same
    // verdict and the same recount, byte for byte. Debian's python3 has the
    // python3-cryptography that deploy/install-deps.sh installs.
    argv[0] = std::string(MICROSCAPE_SOURCE_DIR) + "/tests/audit_verifier.py";
    argv.insert(argv.begin(), "/usr/bin/python3");
    auto second = runProcess(argv);
    INFO(second.err);
    CHECK(second.exitCode == 0);
    CHECK(second.out == cli.out);

    std::map<Key, Counts> verified;
    {
        REQUIRE(cli.out.rfind("\xEF\xBB\xBF", 0) == 0);
        std::istringstream in(cli.out.substr(3));
        std::string line, header;
        std::getline(in, header);
        if (!header.empty() && header.back() == '\r') header.pop_back();
        auto cols = splitCsvLine(header);
        std::map<std::string, std::size_t> at;
        for (std::size_t i = 0; i < cols.size(); ++i) at[cols[i]] = i;
        while (std::getline(in, line)) {
            if (!line.empty() && line.back() == '\r') line.pop_back();
            if (line.empty()) continue;
            auto f = splitCsvLine(line);
            CHECK(f.at(at.at("status")) == "VERIFIED");
            verified[Key{f.at(at.at("location_id")), f.at(at.at("date")), f.at(at.at("media_sha256"))}] =
                Counts{std::stoll(f.at(at.at("completed"))), std::stoll(f.at(at.at("interrupted"))),
                       std::stoll(f.at(at.at("failed"))), std::stoll(f.at(at.at("on_screen_seconds"))),
                       std::stoll(f.at(at.at("degraded")))};
        }
    }

    // The controller's report, per media x location x local day, over the same days.
    auto rep = auditor.get("/api/v1/reports/plays?from=" + yesterday + "&to=" + tomorrow + "&by=location,day,media");
    INFO(rep.body.substr(0, 500));
    REQUIRE(rep.status == 200);
    std::map<Key, Counts> reported;
    std::int64_t plays = 0;
    auto rows = rep.json()->getArray("rows");
    for (std::size_t i = 0; i < rows->size(); ++i) {
        auto o = rows->getObject(static_cast<unsigned>(i));
        Counts c{o->getValue<std::int64_t>("completed"), o->getValue<std::int64_t>("interrupted"),
                 o->getValue<std::int64_t>("failed"), o->getValue<std::int64_t>("on_screen_ms") / 1000,
                 o->getValue<std::int64_t>("degraded")};
        plays += c.completed + c.degraded + c.interrupted + c.failed;
        CHECK(o->getValue<std::int64_t>("plays") == c.completed + c.degraded + c.interrupted + c.failed);
        reported[Key{o->getValue<std::string>("location_id"), o->getValue<std::string>("day"),
                     o->getValue<std::string>("media")}] = c;
    }
    std::int64_t stored = 0;
    for (auto& v : venues) stored += storedPlays(cdb, v.playerId);
    WARN(plays << " plays in " << reported.size() << " report rows; " << stored << " play records stored");

    // Number for number.
    CHECK(reported == verified);
    // Every venue has both of its media, and nothing else: the poster of another
    // venue type never played here.
    CHECK(verified.size() == 6);
    std::map<std::string, int> rowsPerLocation;
    for (const auto& [k, c] : verified) {
        ++rowsPerLocation[std::get<0>(k)];
        CHECK(c.completed + c.degraded + c.interrupted > 0);
    }
    for (auto& v : venues) CHECK(rowsPerLocation[std::to_string(v.locationId)] == 2);
    CHECK(plays == stored);  // every play is counted once

    // Scheduled vs played is sane: no screen proved more plays than its schedule had.
    auto svp = auditor.get("/api/v1/reports/scheduled-vs-played?from=" + yesterday + "&to=" + tomorrow);
    INFO(svp.body.substr(0, 500));
    REQUIRE(svp.status == 200);
    auto svpRows = svp.json()->getArray("rows");
    std::map<std::string, std::int64_t> playedBy;
    for (std::size_t i = 0; i < svpRows->size(); ++i) {
        auto o = svpRows->getObject(static_cast<unsigned>(i));
        const std::int64_t scheduled = o->getValue<std::int64_t>("scheduled_plays");
        const std::int64_t played = o->getValue<std::int64_t>("completed") + o->getValue<std::int64_t>("degraded") +
                                    o->getValue<std::int64_t>("interrupted") + o->getValue<std::int64_t>("failed");
        INFO(o->getValue<std::string>("screen") << " " << o->getValue<std::string>("day"));
        CHECK(played <= scheduled + 2);  // + the item on air at each start and stop
        CHECK(o->getValue<std::int64_t>("shortfall") ==
              std::max<std::int64_t>(0, scheduled - o->getValue<std::int64_t>("completed")));
        playedBy[o->getValue<std::string>("screen")] += played;
    }
    for (auto& v : venues) CHECK(playedBy[v.playerId] == storedPlays(cdb, v.playerId));
}
