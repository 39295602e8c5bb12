#include <catch2/catch.hpp>

#include "test_support.hpp"

using namespace microscape::testing;

TEST_CASE("locations: create, validate, update", "[controller][fleet]") {
    TestServer srv;
    Client a = srv.admin();
    auto r = a.post("/api/v1/locations", R"({"name":"万达广场地下车库入口","venueType":"garage_entrance",
        "district":"江北区","address":"建新北路1号","tags":["万达","B2"],
        "operatingHours":[{"days":[1,2,3,4,5,6,7],"start":"06:00","end":"02:00"}]})");
    INFO(r.body);
    REQUIRE(r.status == 201);
    auto j = r.json();
    CHECK(j->getValue<std::string>("timezone") == "Asia/Shanghai");
    CHECK(j->getValue<std::string>("name") == "万达广场地下车库入口");
    CHECK(j->getArray("operatingHours")->size() == 1);
    const std::string url = "/api/v1/locations/" + std::to_string(j->getValue<int>("id"));

    SECTION("bad input") {
        CHECK(a.post("/api/v1/locations", R"({"name":"x","venueType":"airport","district":"d"})").status == 400);
        CHECK(a.post("/api/v1/locations", R"({"venueType":"mall","district":"d"})").status == 400);
        CHECK(a.post("/api/v1/locations", R"({"name":"x","venueType":"mall","district":"d","timezone":"Mars/Base"})")
                  .status == 400);
        CHECK(a.post("/api/v1/locations",
                     R"({"name":"x","venueType":"mall","district":"d","timezone":"../../etc/passwd"})")
                  .status == 400);
        CHECK(
            a.post(
                 "/api/v1/locations",
                 R"({"name":"x","venueType":"mall","district":"d","operatingHours":[{"start":"25:00","end":"02:00"}]})")
                .status == 400);
        CHECK(a.post("/api/v1/locations", R"({"name":"x","venueType":"mall","district":7})").status == 400);
        CHECK(a.post("/api/v1/locations", R"([1,2])").status == 400);
        CHECK(a.get("/api/v1/locations").json()->getArray("locations")->size() == 1);
    }
    SECTION("update and unknown id") {
        auto p = a.patch(url, R"({"timezone":"Asia/Urumqi","tags":["新疆"]})");
        REQUIRE(p.status == 200);
        CHECK(p.json()->getValue<std::string>("timezone") == "Asia/Urumqi");
        CHECK(a.patch("/api/v1/locations/999", R"({"name":"x"})").status == 404);
        CHECK(a.get("/api/v1/locations/abc").status == 404);
    }
}

TEST_CASE("enrolment tokens are one-time and expire", "[controller][fleet]") {
    TestServer srv;
    Client a = srv.admin();
    Client anon = srv.client();
    auto loc = a.post("/api/v1/locations", R"({"name":"步行街东口","venueType":"street_gate","district":"渝中区"})");
    REQUIRE(loc.status == 201);
    const int locId = loc.json()->getValue<int>("id");

    auto tr = a.post("/api/v1/enrollment-tokens", R"({"name":"东口 LED","locationId":)" + std::to_string(locId) + "}");
    REQUIRE(tr.status == 201);
    const std::string token = tr.json()->getValue<std::string>("token");
    CHECK(tr.json()->getValue<std::string>("command").find(token) != std::string::npos);
    auto keys = makePlayerKeys();
    auto body = [&](const std::string& tok, const std::string& pem, const std::string& curve) {
        Poco::JSON::Object::Ptr e = new Poco::JSON::Object;
        e->set("token", tok);
        e->set("identityKey", pem);
        e->set("curveKey", curve);
        return jsonString(e);
    };
    SECTION("bad keys are refused and do not use up the token") {
        auto r1 = anon.post("/api/v1/enroll", body(token, "not a pem", keys.curveZ85));
        CHECK(r1.status == 400);
        CHECK(r1.errorCode() == "bad_key");
        CHECK(anon.post("/api/v1/enroll", body(token, keys.identityPem, "short")).status == 400);
        CHECK(anon.post("/api/v1/enroll", body(token, keys.identityPem, keys.curveZ85)).status == 201);
    }
    SECTION("a failed enrolment leaves the token usable") {
        const std::string first = enrollPlayer(a, anon, "first", std::nullopt);
        auto firstKey = a.get("/api/v1/players/" + first).json()->getValue<std::string>("curveKey");
        auto dup = anon.post("/api/v1/enroll", body(token, keys.identityPem, firstKey));
        CHECK(dup.status == 409);
        CHECK(a.get("/api/v1/players").json()->getArray("players")->size() == 1);
        CHECK(anon.post("/api/v1/enroll", body(token, keys.identityPem, keys.curveZ85)).status == 201);
    }
    SECTION("reuse, unknown and expired tokens") {
        auto ok = anon.post("/api/v1/enroll", body(token, keys.identityPem, keys.curveZ85));
        REQUIRE(ok.status == 201);
        const std::string pid = ok.json()->getValue<std::string>("playerId");
        CHECK(ok.json()->getValue<std::string>("contentPublicKey").find("BEGIN PUBLIC KEY") != std::string::npos);
        auto again = anon.post("/api/v1/enroll", body(token, makePlayerKeys().identityPem, makePlayerKeys().curveZ85));
        CHECK(again.status == 409);
        CHECK(again.errorCode() == "token_used");
        auto unknown = anon.post("/api/v1/enroll", body("enr_nope", keys.identityPem, makePlayerKeys().curveZ85));
        CHECK(unknown.status == 401);
        auto p = a.get("/api/v1/players/" + pid);
        REQUIRE(p.status == 200);
        CHECK(p.json()->getValue<int>("locationId") == locId);
        CHECK(p.json()->getValue<std::string>("name") == "东口 LED");
        CHECK(p.json()->getValue<bool>("online") == false);
        CHECK(a.get("/api/v1/players").json()->getArray("players")->size() == 1);
        CHECK(a.patch("/api/v1/players/" + pid, R"({"state":"retired"})").json()->getValue<std::string>("state") ==
              "retired");
        CHECK(a.get("/api/v1/players/nope").status == 404);
    }
    SECTION("expired") {
        srv.advanceClock(25 * 3600 * 1000LL);  // default ttl is 24 h
        auto r = anon.post("/api/v1/enroll", body(token, keys.identityPem, keys.curveZ85));
        CHECK(r.status == 410);
        CHECK(r.errorCode() == "token_expired");
        CHECK(a.get("/api/v1/me").status == 401);  // the 12 h session expired too
        a = srv.admin();
        CHECK(a.get("/api/v1/players").json()->getArray("players")->size() == 0);
        CHECK(a.post("/api/v1/enrollment-tokens", R"({"ttlSeconds":5})").status == 400);
        CHECK(a.post("/api/v1/enrollment-tokens", R"({"ttlSeconds":99999999})").status == 400);
    }
}
