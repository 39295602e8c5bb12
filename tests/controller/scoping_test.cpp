// Department scoping of schedules and takeovers, as for playlists and campaigns:
// an editor changes only their own department's plans; a fleet-wide target, and
// cancelling another department's takeover, need the admin role or the user's
// fleetWide right.
//
// Attack (finding 6): an editor of 禁毒 retargeted another department's schedule to
// the whole fleet, deleted it, cancelled the admin's emergency takeover and
// created a fleet-wide takeover.
#include <Poco/DateTimeFormatter.h>
#include <Poco/Timestamp.h>

#include <catch2/catch.hpp>

#include "test_support.hpp"

using namespace microscape::testing;

namespace {

std::string scheduleBody(int playlist, const std::string& target, const std::string& extra = "") {
    return R"({"name":"s","playlistId":)" + std::to_string(playlist) +
           R"(,"startsOn":"2030-01-01","endsOn":"2030-02-01","target":)" + target + extra + "}";
}

// A takeover from now for a day (the server's clock is the machine's in these tests).
std::string takeoverBody(int playlist, const std::string& target, const std::string& extra = "") {
    Poco::Timestamp expires;
    expires += Poco::Timespan(1, 0, 0, 0, 0);
    const std::string iso = Poco::DateTimeFormatter::format(expires, "%Y-%m-%dT%H:%M:%SZ");
    return R"({"name":"t","playlistId":)" + std::to_string(playlist) + R"(,"target":)" + target + R"(,"expiresAt":")" +
           iso + "\"" + extra + "}";
}

const std::string kAll = R"({"all":true})";
const std::string kMalls = R"({"venueTypes":["mall"]})";

}  // namespace

TEST_CASE("editors change only their own department's schedules and takeovers", "[controller][scoping]") {
    TestServer srv;
    Client admin = srv.admin();
    Client ap = srv.userClient("ap", "approver");
    Client jd = srv.userClient("jd", "editor", "禁毒", false);
    Client fz = srv.userClient("fz", "editor", "反诈中心", false);
    Client jj = srv.userClient("jj", "editor", "交警", true);  // holds the fleetWide right
    TempDir tmp;
    const int media = uploadApproved(jd, ap, makePng(tmp.path, "禁毒"), "jd.png");
    const int pl =
        createdId(jd.post("/api/v1/playlists", R"({"name":"p","items":[{"mediaId":)" + std::to_string(media) + "}]}"));

    // A schedule of 反诈中心, made by the admin.
    auto fzSchedule = admin.post("/api/v1/schedules", scheduleBody(pl, kMalls, R"(,"department":"反诈中心")"));
    REQUIRE(fzSchedule.status == 201);
    CHECK(fzSchedule.json()->getValue<std::string>("department") == "反诈中心");
    const std::string fzPath = "/api/v1/schedules/" + std::to_string(createdId(fzSchedule));

    SECTION("another department's schedule: edit and delete refused") {
        auto r = jd.patch(fzPath, R"({"target":{"all":true}})");
        CHECK(r.status == 403);
        CHECK(jd.patch(fzPath, R"({"name":"mine now"})").status == 403);
        CHECK(jd.del(fzPath).status == 403);
        CHECK(admin.get(fzPath).json()->getValue<std::string>("name") == "s");
        // Its own department may.
        CHECK(fz.patch(fzPath, R"({"name":"反诈 商场"})").status == 200);
        CHECK(fz.del(fzPath).status == 204);
    }
    SECTION("an editor cannot make a schedule for another department") {
        CHECK(jd.post("/api/v1/schedules", scheduleBody(pl, kMalls, R"(,"department":"反诈中心")")).status == 403);
        auto own = jd.post("/api/v1/schedules", scheduleBody(pl, kMalls));
        REQUIRE(own.status == 201);
        CHECK(own.json()->getValue<std::string>("department") == "禁毒");
        CHECK(jd.patch("/api/v1/schedules/" + std::to_string(createdId(own)), R"({"department":"反诈中心"})").status ==
              403);
    }
    SECTION("a fleet-wide schedule needs the admin role or the fleetWide right") {
        CHECK(jd.post("/api/v1/schedules", scheduleBody(pl, kAll)).status == 403);
        auto own = jd.post("/api/v1/schedules", scheduleBody(pl, kMalls));
        REQUIRE(own.status == 201);
        const std::string ownPath = "/api/v1/schedules/" + std::to_string(createdId(own));
        CHECK(jd.patch(ownPath, R"({"target":{"all":true}})").status == 403);  // no retargeting to everything
        // A fleet-wide schedule of 禁毒 made by the admin: the editor may not change or delete it.
        auto wide = admin.post("/api/v1/schedules", scheduleBody(pl, kAll, R"(,"department":"禁毒")"));
        REQUIRE(wide.status == 201);
        const std::string widePath = "/api/v1/schedules/" + std::to_string(createdId(wide));
        CHECK(jd.patch(widePath, R"({"name":"x"})").status == 403);
        CHECK(jd.del(widePath).status == 403);
        // The right allows it; admins may anyway.
        auto jjWide = jj.post("/api/v1/schedules", scheduleBody(pl, kAll));
        CHECK(jjWide.status == 201);
        CHECK(admin.patch(ownPath, R"({"target":{"all":true}})").status == 200);
        CHECK(admin.del(widePath).status == 204);
    }
    SECTION("takeovers: fleet-wide and cancelling another department's need the right") {
        // The admin's emergency takeover (the admin's own, empty department).
        auto emergency = admin.post("/api/v1/takeovers", takeoverBody(pl, kAll));
        REQUIRE(emergency.status == 201);
        const std::string emergencyCancel = "/api/v1/takeovers/" + std::to_string(createdId(emergency)) + "/cancel";
        CHECK(jd.post(emergencyCancel, "").status == 403);
        CHECK(fz.post(emergencyCancel, "").status == 403);
        // A fleet-wide takeover by an editor without the right.
        CHECK(jd.post("/api/v1/takeovers", takeoverBody(pl, kAll)).status == 403);
        // Its own, narrower takeover: the editor may; another department may not cancel it.
        auto jdTakeover = jd.post("/api/v1/takeovers", takeoverBody(pl, kMalls));
        REQUIRE(jdTakeover.status == 201);
        CHECK(jdTakeover.json()->getValue<std::string>("department") == "禁毒");
        const std::string jdCancel = "/api/v1/takeovers/" + std::to_string(createdId(jdTakeover)) + "/cancel";
        CHECK(fz.post(jdCancel, "").status == 403);
        CHECK(jd.post(jdCancel, "").status == 200);
        // 反诈中心's takeover: 禁毒 may not cancel it; the fleetWide right may.
        auto fzTakeover = fz.post("/api/v1/takeovers", takeoverBody(pl, kMalls));
        REQUIRE(fzTakeover.status == 201);
        const std::string fzCancel = "/api/v1/takeovers/" + std::to_string(createdId(fzTakeover)) + "/cancel";
        CHECK(jd.post(fzCancel, "").status == 403);
        CHECK(jj.post(fzCancel, "").status == 200);
        // The right creates and cancels fleet-wide takeovers, the admin's included.
        CHECK(jj.post("/api/v1/takeovers", takeoverBody(pl, kAll)).status == 201);
        CHECK(jj.post(emergencyCancel, "").status == 200);
        auto again = admin.post("/api/v1/takeovers", takeoverBody(pl, kAll));
        REQUIRE(again.status == 201);
        CHECK(admin.post("/api/v1/takeovers/" + std::to_string(createdId(again)) + "/cancel", "").status == 200);
    }
    SECTION("the fleetWide right is shown and changed on the user") {
        auto users = admin.get("/api/v1/users").json()->getArray("users");
        std::string jdId;
        for (std::size_t i = 0; i < users->size(); ++i) {
            auto u = users->getObject(static_cast<unsigned>(i));
            const auto name = u->getValue<std::string>("username");
            if (name == "jd") jdId = std::to_string(u->getValue<std::int64_t>("id"));
            if (name == "jd" || name == "fz") CHECK_FALSE(u->getValue<bool>("fleetWide"));
            if (name == "jj") CHECK(u->getValue<bool>("fleetWide"));
        }
        REQUIRE(!jdId.empty());
        CHECK(jd.post("/api/v1/schedules", scheduleBody(pl, kAll)).status == 403);
        auto granted = admin.patch("/api/v1/users/" + jdId, R"({"fleetWide":true})");
        REQUIRE(granted.status == 200);
        CHECK(granted.json()->getValue<bool>("fleetWide"));
        CHECK(jd.post("/api/v1/schedules", scheduleBody(pl, kAll)).status == 201);
        CHECK(admin.patch("/api/v1/users/" + jdId, R"({"fleetWide":false})").status == 200);
        CHECK(jd.post("/api/v1/schedules", scheduleBody(pl, kAll)).status == 403);
        CHECK(jd.patch("/api/v1/users/" + jdId, R"({"fleetWide":true})").status == 403);  // admins only
    }
}
