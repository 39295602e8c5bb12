// "What plays where" knows what really happened: the preview and the timeline of
// a screen mark an item whose last play on that screen failed, with the
// player's reason from proof of play, until the item plays again.
#include <catch2/catch.hpp>

#include "../../controller/src/pop_ingest.hpp"
#include "microscape/controller/db.hpp"
#include "microscape/core/time.hpp"
#include "sim_enroll.hpp"

using namespace microscape;
using namespace microscape::testing;

TEST_CASE("the preview marks an item that failed on the screen with the player's reason, until it plays again",
          "[controller][preview]") {
    TestServer srv;
    srv.freezeClock();
    TempDir fx;
    Client admin = srv.admin();
    Client ed = srv.userClient("ed", "editor", "禁毒支队");
    Client ap = srv.userClient("ap", "approver");
    const int poster = uploadApproved(ed, ap, makePng(fx.path, "珍爱生命 远离毒品"), "poster.png");
    const int pl = createdId(ed.post("/api/v1/playlists", R"({"name":"p","items":[{"mediaId":)" +
                                                              std::to_string(poster) + R"(,"durationMs":10000}]})"));
    createdId(
        ed.post("/api/v1/schedules", R"({"name":"all","playlistId":)" + std::to_string(pl) +
                                         R"(,"startsOn":"2020-01-01","endsOn":"2099-12-31","target":{"all":true}})"));
    SimPlayer screen, other;
    enrollSim(srv, admin, screen, std::nullopt);
    enrollSim(srv, admin, other, std::nullopt);
    const std::string sha =
        admin.get("/api/v1/media/" + std::to_string(poster)).json()->getValue<std::string>("sha256");
    const std::string url = "/api/v1/preview?playerId=" + screen.id;
    {
        auto p = admin.get(url);
        INFO(p.body);
        REQUIRE(p.status == 200);
        CHECK(p.json()->getValue<std::string>("mediaSha256") == sha);
        CHECK(p.json()->isNull("failedOnScreen"));
    }
    // The screen's proof of play: the poster failed twice (the last time with this reason).
    const std::int64_t at = timeutil::parseIso8601(admin.get(url).json()->getValue<std::string>("at")).value();
    screen.play(sha, at - 600000, 10000, 10000);
    screen.play(sha, at - 300000, 10000, 0).detail = "no picture within 4000 ms";
    screen.play(sha, at - 60000, 10000, 0).detail = "the file ended before any picture";
    controller::Db db(srv.storeUrl());
    controller::PopIngest ingest(db);
    REQUIRE(ingest.ingestBatch(screen.id, screen.next(), at)->accepted);
    {
        auto p = admin.get(url).json();
        REQUIRE(!p->isNull("failedOnScreen"));
        auto f = p->getObject("failedOnScreen");
        CHECK(f->getValue<std::string>("reason") == "the file ended before any picture");
        CHECK(f->getValue<int>("failuresLastDay") == 2);
        CHECK(timeutil::parseIso8601(f->getValue<std::string>("at")).value() == (at - 60000) / 1000 * 1000);
    }
    // Another screen, and a location, know nothing of it.
    CHECK(admin.get("/api/v1/preview?playerId=" + other.id).json()->isNull("failedOnScreen"));
    // The timeline of the screen marks every segment of the poster.
    {
        auto t = admin.get("/api/v1/preview/timeline?playerId=" + screen.id + "&from=" + timeutil::formatUtc(at) +
                           "&to=" + timeutil::formatUtc(at + 60000));
        INFO(t.body.substr(0, 400));
        REQUIRE(t.status == 200);
        auto segs = t.json()->getArray("segments");
        REQUIRE(segs->size() > 0);
        for (std::size_t i = 0; i < segs->size(); ++i)
            CHECK(segs->getObject(static_cast<unsigned>(i))
                      ->getObject("failedOnScreen")
                      ->getValue<std::string>("reason") == "the file ended before any picture");
    }
    // It plays again: the mark goes.
    screen.play(sha, at - 30000, 10000, 10000);
    REQUIRE(ingest.ingestBatch(screen.id, screen.next(), at)->accepted);
    CHECK(admin.get(url).json()->isNull("failedOnScreen"));
    CHECK(admin.get(url).json()->isNull("standIn"));
    CHECK(admin.get(url).json()->isNull("degradedOnScreen"));
    // A play that ran its slot but froze (record format 3): the preview says so, with its counts.
    {
        auto& r = screen.play(sha, at - 20000, 10000, 10000);
        r.frames = 230;
        r.framesLate = 3;
        r.framesDropped = 18;
        r.longestFreezeMs = 720;
        r.outcome = pop::classify(r);
        REQUIRE(r.outcome == pop::Outcome::Degraded);
    }
    REQUIRE(ingest.ingestBatch(screen.id, screen.next(), at)->accepted);
    {
        auto p = admin.get(url);
        INFO(p.body);
        auto j = p.json();
        CHECK(j->isNull("failedOnScreen"));
        REQUIRE_FALSE(j->isNull("degradedOnScreen"));
        auto g = j->getObject("degradedOnScreen");
        CHECK(g->getValue<int>("frames") == 230);
        CHECK(g->getValue<int>("framesLate") == 3);
        CHECK(g->getValue<int>("framesDropped") == 18);
        CHECK(g->getValue<int>("longestFreezeMs") == 720);
        CHECK(timeutil::parseIso8601(g->getValue<std::string>("at")).value() == (at - 20000) / 1000 * 1000);
    }
}

TEST_CASE("the preview names the stand-in the screen shows in a failed item's slot, by the engine's rule",
          "[controller][preview]") {
    TestServer srv;
    srv.freezeClock();
    TempDir fx;
    Client admin = srv.admin();
    Client ed = srv.userClient("ed", "editor", "禁毒支队");
    Client ap = srv.userClient("ap", "approver");
    const int a = uploadApproved(ed, ap, makePng(fx.path, "珍爱生命 远离毒品"), "a.png");
    const int b = uploadApproved(ed, ap, makePng(fx.path, "反诈防骗 守护钱袋"), "b.png");
    const int pl = createdId(ed.post("/api/v1/playlists", R"({"name":"p","items":[{"mediaId":)" + std::to_string(a) +
                                                              R"(,"durationMs":10000},{"mediaId":)" +
                                                              std::to_string(b) + R"(,"durationMs":10000}]})"));
    createdId(
        ed.post("/api/v1/schedules", R"({"name":"all","playlistId":)" + std::to_string(pl) +
                                         R"(,"startsOn":"2020-01-01","endsOn":"2099-12-31","target":{"all":true}})"));
    SimPlayer screen;
    enrollSim(srv, admin, screen, std::nullopt);
    const std::string url = "/api/v1/preview?playerId=" + screen.id;
    auto now = admin.get(url).json();
    REQUIRE(now->getValue<std::string>("state") == "playing");
    const std::string onAir = now->getValue<std::string>("mediaSha256");
    const std::int64_t at = timeutil::parseIso8601(now->getValue<std::string>("at")).value();
    const std::string itemEnd = now->getValue<std::string>("itemEnd");
    CHECK(now->isNull("standIn"));
    // The item on air failed on this screen (bundle 1): its slot goes to the other item.
    screen.play(onAir, at - 60000, 10000, 0).detail = "no picture within 4000 ms";
    controller::Db db(srv.storeUrl());
    controller::PopIngest ingest(db);
    REQUIRE(ingest.ingestBatch(screen.id, screen.next(), at)->accepted);
    auto p = admin.get(url);
    INFO(p.body);
    auto j = p.json();
    REQUIRE_FALSE(j->isNull("standIn"));
    auto s = j->getObject("standIn");
    CHECK(s->getValue<std::string>("state") == "playing");
    CHECK(s->getValue<std::string>("mediaSha256") != onAir);
    CHECK(s->getValue<int>("mediaId") == (j->getValue<int>("mediaId") == a ? b : a));
    CHECK(j->getValue<std::string>("mediaSha256") == onAir);  // the schedule's own item is still named
    // The next slot is the other item's own: no stand-in there.
    CHECK(admin.get(url + "&at=" + itemEnd).json()->isNull("standIn"));
    // The screen has moved on to bundle 2 (its STATUS): it tries the item again, so nothing stands in.
    db.write([&](controller::DbConn& c) {
        c.exec("UPDATE players SET status_json = ? WHERE id = ?", {std::string(R"({"active_version":2})"), screen.id});
    });
    CHECK(admin.get(url).json()->isNull("standIn"));
}
