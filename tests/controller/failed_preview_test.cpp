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
}
