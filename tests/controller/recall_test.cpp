// Recall with proof (docs/reports.md, "Recalls"): media withdrawn from every
// screen at once, each screen's confirmation from its STATUS, plays after a
// confirmation flagged, the recall in the audit log and the evidence export
// (checked by microscape-pack audit), and media that recall themselves after
// their validUntil. Real headless players over real sockets.
#include <signal.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <fstream>
#include <thread>

#include "../../controller/src/pop_ingest.hpp"
#include "../../controller/src/recalls.hpp"
#include "../support/process.hpp"
#include "microscape/controller/db.hpp"
#include "microscape/controller/repo.hpp"
#include "microscape/core/crypto.hpp"
#include "microscape/core/json.hpp"
#include "microscape/core/pop.hpp"
#include "microscape/core/time.hpp"
#include "test_support.hpp"

using namespace microscape;
using namespace microscape::testing;
using microscape::testing::runProcess;

namespace {

const std::vector<std::string> kPlay{"--log-level", "debug", "--width", "320", "--height", "180"};

std::int64_t wallMs() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

// The recall's screens by player id.
std::map<std::string, Poco::JSON::Object::Ptr> screensOf(const Poco::JSON::Object::Ptr& recall) {
    std::map<std::string, Poco::JSON::Object::Ptr> out;
    auto arr = recall->getArray("screens");
    for (std::size_t i = 0; i < arr->size(); ++i) {
        auto s = arr->getObject(static_cast<unsigned>(i));
        out[s->getValue<std::string>("playerId")] = s;
    }
    return out;
}

std::string stateOf(const Poco::JSON::Object::Ptr& recall, const std::string& player) {
    auto s = screensOf(recall);
    return s.count(player) ? s[player]->getValue<std::string>("state") : "absent";
}

int auditRows(Client& admin, const std::string& action) {
    auto r = admin.get("/api/v1/audit?entity=recall&limit=500");
    REQUIRE(r.status == 200);
    auto arr = r.json()->getArray("entries");
    int n = 0;
    for (std::size_t i = 0; i < arr->size(); ++i)
        if (arr->getObject(static_cast<unsigned>(i))->getValue<std::string>("action") == action) ++n;
    return n;
}

}  // namespace

TEST_CASE(
    "a recall across three real screens: two confirm, the offline one confirms when it returns, the recall "
    "completes, a play after confirmation is flagged and the export reports it",
    "[controller][recall][e2e]") {
    if (::access(playerBin().c_str(), X_OK) != 0) {
        WARN("microscape-player not built; skipping");
        return;
    }
    TestServer srv([](auto& c) { c.zmqHeartbeatMs = 200; });
    TempDir fx;
    Client admin = srv.admin();
    Client ed = srv.userClient("ed", "editor", "交警支队");
    Client ap = srv.userClient("ap", "approver");
    const int bad = uploadApproved(ed, ap, makePng(fx.path, "旧规定", 320, 180), "old-rule.png");
    const int good = uploadApproved(ed, ap, makePng(fx.path, "一盔一带", 320, 180), "helmet.png");
    const int pl =
        createdId(ed.post("/api/v1/playlists", R"({"name":"交通安全","items":[{"mediaId":)" + std::to_string(bad) +
                                                   R"(,"durationMs":1000},{"mediaId":)" + std::to_string(good) +
                                                   R"(,"durationMs":1000}]})"));
    createdId(
        ed.post("/api/v1/schedules", R"({"name":"all","playlistId":)" + std::to_string(pl) +
                                         R"(,"startsOn":"2020-01-01","endsOn":"2099-12-31","target":{"all":true}})"));
    const std::string badSha =
        admin.get("/api/v1/media/" + std::to_string(bad)).json()->getValue<std::string>("sha256");
    const auto cdb = srv.storeUrl();

    std::vector<fs::path> dirs;
    std::vector<std::string> ids;
    std::vector<std::unique_ptr<SpawnedProcess>> procs;
    for (int i = 0; i < 3; ++i) {
        dirs.push_back(fx.path / ("screen" + std::to_string(i)));
        ids.push_back(enrollScreen(srv, admin, dirs.back()));
        procs.push_back(startScreen(dirs[i], fx.path / ("s" + std::to_string(i) + ".log"), kPlay));
    }
    auto logs = [&] {
        std::string s;
        for (int i = 0; i < 3; ++i)
            s += "--- " + ids[i] + "\n" + readFile(fx.path / ("s" + std::to_string(i) + ".log"));
        return s;
    };
    // Every screen has played the poster that is about to be recalled.
    auto playedBad = [&](const std::string& id) {
        for (const auto& rec : storedProofs(cdb, id).records)
            if (rec.find(badSha) != std::string::npos) return true;
        return false;
    };
    {
        INFO(logs());
        REQUIRE(waitFor([&] { return playedBad(ids[0]) && playedBad(ids[1]) && playedBad(ids[2]); }, 30000));
    }
    // The third screen loses its network (the process stops; the hub sees it go).
    procs[2].reset();
    REQUIRE(waitFor([&] { return !admin.get("/api/v1/players/" + ids[2]).json()->getValue<bool>("online"); }, 15000));

    SECTION("who may recall, and what") {
        CHECK(ed.post("/api/v1/media/" + std::to_string(bad) + "/recall", R"({"reason":"x"})").status == 403);
        CHECK(ap.post("/api/v1/media/" + std::to_string(bad) + "/recall", R"({})").status == 400);
        CHECK(ap.post("/api/v1/media/" + std::to_string(bad) + "/recall", R"({"reason":""})").status == 400);
        CHECK(ap.post("/api/v1/media/999/recall", R"({"reason":"x"})").status == 404);
        CHECK(ap.get("/api/v1/media/" + std::to_string(bad) + "/recall").status == 404);
        const int draft =
            createdId(ed.request("POST", "/api/v1/media?filename=d.png", makePng(fx.path, "草稿"), "image/png"));
        auto r = ap.post("/api/v1/media/" + std::to_string(draft) + "/recall", R"({"reason":"x"})");
        CHECK(r.status == 409);
        CHECK(r.body.find("invalid_state") != std::string::npos);
        // Nothing changed: the poster is still approved and on every manifest.
        CHECK(admin.get("/api/v1/media/" + std::to_string(bad)).json()->getValue<std::string>("state") == "approved");
    }

    SECTION("pending and offline, then confirmed, then complete; a forged play after confirmation is flagged") {
        const std::int64_t before = wallMs();
        auto r =
            ap.post("/api/v1/media/" + std::to_string(bad) + "/recall", R"({"reason":"《道路交通安全法》条款已修订"})");
        INFO(r.body);
        REQUIRE(r.status == 201);
        auto recall = r.json();
        CHECK(recall->getValue<std::string>("reason") == "《道路交通安全法》条款已修订");
        CHECK(recall->getObject("summary")->getValue<int>("screens") == 3);
        CHECK(stateOf(recall, ids[2]) == "offline");
        CHECK(!recall->getValue<bool>("complete"));
        // Withdrawn everywhere at once: approved no more, no manifest lists it.
        CHECK(admin.get("/api/v1/media/" + std::to_string(bad)).json()->getValue<std::string>("state") == "rejected");
        for (const auto& id : ids) {
            auto m = admin.get("/api/v1/players/" + id + "/manifest");
            CHECK(m.body.find(badSha) == std::string::npos);
            CHECK(screensOf(recall)[id]->getValue<int>("version") == m.json()->getValue<int>("version"));
            CHECK(!screensOf(recall)[id]->isNull("lastPlayAt"));
        }
        // Cannot come back, nor be deleted (it is the recall's evidence), nor be recalled twice.
        CHECK(ed.post("/api/v1/media/" + std::to_string(bad) + "/submit", "").status == 409);
        CHECK(ed.request("DELETE", "/api/v1/media/" + std::to_string(bad), "").status == 409);
        CHECK(ap.post("/api/v1/media/" + std::to_string(bad) + "/recall", R"({"reason":"again"})").status == 409);

        // The two online screens confirm the manifest without it.
        Poco::JSON::Object::Ptr now;
        {
            INFO(logs());
            REQUIRE(waitFor(
                [&] {
                    now = ap.get("/api/v1/media/" + std::to_string(bad) + "/recall").json();
                    return stateOf(now, ids[0]) == "confirmed" && stateOf(now, ids[1]) == "confirmed";
                },
                15000));
        }
        const auto firstConfirm = wallMs() - before;
        WARN("two online screens confirmed the recall within " << firstConfirm << " ms");
        CHECK(stateOf(now, ids[2]) == "offline");
        CHECK(!now->getValue<bool>("complete"));
        CHECK(now->isNull("completedAt"));

        // The third comes back, gets the new manifest and confirms: complete.
        procs[2] = startScreen(dirs[2], fx.path / "s2.log", kPlay);
        {
            INFO(logs());
            REQUIRE(waitFor(
                [&] {
                    now = ap.get("/api/v1/media/" + std::to_string(bad) + "/recall").json();
                    return now->getValue<bool>("complete") && !now->isNull("completedAt");
                },
                30000));
        }
        auto screens = screensOf(now);
        for (const auto& id : ids) {
            CHECK(screens[id]->getValue<std::string>("state") == "confirmed");
            CHECK(screens[id]->getValue<int>("playsAfterConfirmation") == 0);
        }
        CHECK(auditRows(admin, "create") == 1);
        CHECK(auditRows(admin, "confirm") == 3);
        CHECK(auditRows(admin, "complete") == 1);
        {
            const std::int64_t at = timeutil::parseIso8601(now->getValue<std::string>("recalledAt")).value();
            const std::string year = timeutil::formatUtc(at + 8 * 3600000).substr(0, 4);
            auto annual = admin.get("/api/v1/reports/annual?year=" + year).json();
            CHECK(annual->getValue<int>("recalls") == 1);
            CHECK(annual->getValue<int>("recalls_completed") == 1);
            CHECK(annual->getValue<std::string>("summary").find("召回素材1次（均已逐屏确认下架）") !=
                  std::string::npos);
        }
        // The screens went on with the other poster, and none played the recalled one again.
        for (auto& p : procs) p.reset();
        // (stopped screens upload what they journalled before going)
        for (const auto& id : ids) {
            std::int64_t confirmedAt =
                timeutil::parseIso8601(screens[id]->getValue<std::string>("confirmedAt")).value();
            for (const auto& rec : storedProofs(cdb, id).records) {
                auto x = pop::parseRecord(rec).value();
                if (x.kind == pop::Kind::Play && x.mediaSha256 == badSha) CHECK(x.startUtcMs <= confirmedAt);
            }
        }

        // A play of the recalled poster after the screen confirmed, signed with the
        // screen's own key (a screen that kept an old bundle): flagged.
        {
            auto st = storedProofs(cdb, ids[0]);
            auto last = pop::parseRecord(st.records.back()).value();
            auto lastCp = pop::parseCheckpoint(st.checkpoints.back()).value();
            pop::Record forged = last;
            forged.seq = last.seq + 1;
            forged.prevHash = pop::recordHash(last);
            forged.kind = pop::Kind::Play;
            forged.mediaSha256 = badSha;
            forged.startUtcMs = std::max(last.endUtcMs, last.startUtcMs) + 1000;
            forged.endUtcMs = forged.startUtcMs + 1000;
            forged.scheduledMs = forged.measuredMs = 1000;
            forged.outcome = pop::Outcome::Completed;
            forged.detail.clear();
            forged.source = "entry";
            auto key = crypto::PrivateKey::load((dirs[0] / "keys/identity.pem").string()).value();
            pop::Batch b;
            b.records = {forged};
            b.checkpoint = pop::makeCheckpoint(b.records, forged.endUtcMs, key, pop::checkpointHash(lastCp));
            controller::Db db(cdb);
            controller::PopIngest ingest(db);
            auto out = ingest.ingestBatch(ids[0], pop::encodeBatch(b), wallMs());
            REQUIRE(out);
            REQUIRE(out->ackSeq == forged.seq);
        }
        now = ap.get("/api/v1/media/" + std::to_string(bad) + "/recall").json();
        CHECK(!now->getValue<bool>("complete"));
        CHECK(now->getObject("summary")->getValue<int>("playsAfterConfirmation") == 1);
        auto flagged = screensOf(now)[ids[0]];
        CHECK(flagged->getValue<int>("playsAfterConfirmation") == 1);
        REQUIRE(!flagged->isNull("firstPlayAfterConfirmation"));

        // The export verifies and the verifier reports the recall and the play.
        auto list = admin.get("/api/v1/recalls");
        REQUIRE(list.status == 200);
        CHECK(list.json()->getArray("recalls")->size() == 1);
        Client auditor = srv.userClient("auditor1", "auditor");
        const std::string from = timeutil::formatUtc(before - 86400000), to = timeutil::formatUtc(wallMs() + 86400000);
        auto exp = auditor.get("/api/v1/audit/export?from=" + from + "&to=" + to);
        REQUIRE(exp.status == 200);
        const auto tarPath = fx.path / "export.tar";
        std::ofstream(tarPath, std::ios::binary) << exp.body;
        const auto pub = (srv.dataDir() / "keys" / "content-signing.pub.pem").string();
        auto cli = runProcess({MICROSCAPE_PACK_BIN, "audit", "--pub", pub, tarPath.string()});
        INFO(cli.out << cli.err);
        CHECK(cli.exitCode == 0);
        CHECK(cli.out.find("VERIFIED") != std::string::npos);
        CHECK(cli.out.find("3 of 3 screens confirmed, complete at") != std::string::npos);
        CHECK(cli.out.find("plays after confirmation: 1") != std::string::npos);
        CHECK(cli.out.find("PROBLEM: " + ids[0] + " seq ") != std::string::npos);
        CHECK(cli.out.find("《道路交通安全法》条款已修订") != std::string::npos);
    }
}

namespace {

// How many audit rows of the recall say `action`.
int auditRowsOf(Client& admin, const std::string& action, std::int64_t recallId) {
    auto r = admin.get("/api/v1/audit?entity=recall&limit=500");
    REQUIRE(r.status == 200);
    auto arr = r.json()->getArray("entries");
    int n = 0;
    for (std::size_t i = 0; i < arr->size(); ++i) {
        auto e = arr->getObject(static_cast<unsigned>(i));
        if (e->getValue<std::string>("action") == action &&
            e->getValue<std::string>("entityId") == std::to_string(recallId))
            ++n;
    }
    return n;
}

}  // namespace

TEST_CASE("two nodes settling the same recall at once record its confirmation and completion once",
          "[controller][recall]") {
    TestServer srv;
    TempDir fx;
    Client admin = srv.admin();
    Client ed = srv.userClient("ed", "editor", "宣传科");
    Client ap = srv.userClient("ap", "approver");
    const int media = uploadApproved(ed, ap, makePng(fx.path, "旧规定"), "old.png");
    const std::string sha = admin.get("/api/v1/media/" + std::to_string(media)).json()->getValue<std::string>("sha256");
    controller::Db db(srv.storeUrl());
    auto newRecall = [&] {
        return db.write([&](controller::DbConn& c) {
            controller::Recall r;
            r.mediaId = media;
            r.mediaSha256 = sha;
            r.reason = "test";
            r.recalledAtMs = 1'000;
            r.actor = "ap";
            return controller::repo::insertRecall(c, r);
        });
    };

    SECTION("a recall with no screen left: both nodes find it complete") {
        const auto id = newRecall();
        overlapOnTwoNodes(srv.storeUrl(), [](controller::DbConn& c) { controller::settleRecalls(c, 2'000); });
        CHECK(auditRowsOf(admin, "complete", id) == 1);
    }
    SECTION("one screen's STATUS reaches both nodes: one confirmation, one completion") {
        const std::string player = enrollScreen(srv, admin, fx.path / "screen");
        const auto id = newRecall();
        db.write([&](controller::DbConn& c) {
            controller::RecallScreen s;
            s.recallId = id;
            s.playerId = player;
            s.version = 1;
            controller::repo::insertRecallScreen(c, s);
        });
        overlapOnTwoNodes(srv.storeUrl(),
                          [&](controller::DbConn& c) { controller::noteActiveVersion(c, player, 1, 2'000); });
        CHECK(auditRowsOf(admin, "confirm", id) == 1);
        CHECK(auditRowsOf(admin, "complete", id) == 1);
    }
}

TEST_CASE("media with a validUntil recalls itself when the server's clock passes it, and a bad validUntil is refused",
          "[controller][recall]") {
    TestServer srv;
    srv.freezeClock();
    TempDir fx;
    Client admin = srv.admin();
    Client anon = srv.client();
    Client ed = srv.userClient("ed", "editor", "治安支队");
    Client ap = srv.userClient("ap", "approver");
    const int poster = uploadApproved(ed, ap, makePng(fx.path, "2026年春运限行"), "limit.png");
    const int other = uploadApproved(ed, ap, makePng(fx.path, "反诈"), "other.png");
    const int pl =
        createdId(ed.post("/api/v1/playlists", R"({"name":"p","items":[{"mediaId":)" + std::to_string(poster) +
                                                   R"(},{"mediaId":)" + std::to_string(other) + R"(}]})"));
    createdId(
        ed.post("/api/v1/schedules", R"({"name":"all","playlistId":)" + std::to_string(pl) +
                                         R"(,"startsOn":"2020-01-01","endsOn":"2099-12-31","target":{"all":true}})"));
    const std::string screen = enrollPlayer(admin, anon, "屏", std::nullopt);
    const std::string sha =
        admin.get("/api/v1/media/" + std::to_string(poster)).json()->getValue<std::string>("sha256");
    REQUIRE(admin.get("/api/v1/players/" + screen + "/manifest").body.find(sha) != std::string::npos);

    CHECK(ed.patch("/api/v1/media/" + std::to_string(poster), R"({"validUntil":"tomorrow"})").status == 400);
    CHECK(ed.patch("/api/v1/media/" + std::to_string(poster), R"({"validUntil":12})").status == 400);
    // An hour after the approval, on the server's (frozen) clock.
    auto m = admin.get("/api/v1/media/" + std::to_string(poster)).json();
    const std::int64_t approvedAt = timeutil::parseIso8601(m->getValue<std::string>("reviewedAt")).value();
    const std::string until = timeutil::formatUtc(approvedAt + 3600000);
    auto set = ed.patch("/api/v1/media/" + std::to_string(poster), R"({"validUntil":")" + until + R"("})");
    INFO(set.body);
    REQUIRE(set.status == 200);
    CHECK(set.json()->getValue<std::string>("validUntil") == until);
    // Not yet: two housekeeping rounds after the change leave it alone.
    auto checks = [&] {
        const std::string m = srv.client().get("/metrics").body;
        const std::string key = "\nmicroscape_recall_checks_total ";
        const auto at = m.find(key);
        REQUIRE(at != std::string::npos);
        return std::stoll(m.substr(at + key.size()));
    };
    const auto rounds = checks();
    REQUIRE(waitFor([&] { return checks() >= rounds + 2; }, 15000));
    CHECK(admin.get("/api/v1/media/" + std::to_string(poster)).json()->getValue<std::string>("state") == "approved");
    CHECK(admin.get("/api/v1/media/" + std::to_string(poster) + "/recall").status == 404);

    srv.advanceClock(2 * 3600000);
    admin = srv.admin();  // (the sessions ended while the clock moved)
    REQUIRE(ed.login("ed", "password-ed").status == 200);
    Poco::JSON::Object::Ptr recall;
    REQUIRE(waitFor(
        [&] {
            auto r = admin.get("/api/v1/media/" + std::to_string(poster) + "/recall");
            if (r.status != 200) return false;
            recall = r.json();
            return true;
        },
        10000));
    CHECK(recall->getValue<bool>("automatic"));
    CHECK(recall->getValue<std::string>("recalledBy") == "system");
    CHECK(admin.get("/api/v1/media/" + std::to_string(poster)).json()->getValue<std::string>("state") == "rejected");
    CHECK(admin.get("/api/v1/players/" + screen + "/manifest").body.find(sha) == std::string::npos);
    // The screen never connected: it is offline, and the recall stays open.
    CHECK(stateOf(recall, screen) == "offline");
    CHECK(!recall->getValue<bool>("complete"));
    // Media that never expires does not.
    CHECK(admin.get("/api/v1/media/" + std::to_string(other)).json()->getValue<std::string>("state") == "approved");
    CHECK(auditRows(admin, "create") == 1);
    // The yearly report counts it, open (Beijing time's year of the recall).
    const std::int64_t recalledAt = timeutil::parseIso8601(recall->getValue<std::string>("recalledAt")).value();
    const std::string year = timeutil::formatUtc(recalledAt + 8 * 3600000).substr(0, 4);
    auto annual = admin.get("/api/v1/reports/annual?year=" + year);
    REQUIRE(annual.status == 200);
    CHECK(annual.json()->getValue<int>("recalls") == 1);
    CHECK(annual.json()->getValue<int>("recalls_completed") == 0);
    // (no plays this year: the paragraph says so and nothing else)
    // Clearing validUntil is allowed (null).
    CHECK(ed.patch("/api/v1/media/" + std::to_string(other), R"({"validUntil":null})").status == 200);
}
