#include <catch2/catch.hpp>

#include "test_support.hpp"

using namespace microscape::testing;

TEST_CASE("login sets a strict HttpOnly cookie and cookie writes need the CSRF token", "[controller][auth]") {
    TestServer srv;
    Client c = srv.client();
    SECTION("wrong password") {
        auto r = c.login("admin", "nope-nope");
        CHECK(r.status == 401);
        CHECK(r.errorCode() == "invalid_credentials");
    }
    SECTION("unknown user") {
        CHECK(c.login("ghost", "whatever1").status == 401);
    }
    SECTION("cookie attributes") {
        auto r = c.login("admin", kAdminPassword);
        REQUIRE(r.status == 200);
        const auto& sc = r.headers["set-cookie"];
        CHECK(sc.find("HttpOnly") != std::string::npos);
        CHECK(sc.find("SameSite=Strict") != std::string::npos);
        CHECK(c.get("/api/v1/me").status == 200);
    }
    SECTION("CSRF") {
        REQUIRE(c.login("admin", kAdminPassword).status == 200);
        c.dropCsrf();
        auto r = c.post("/api/v1/tokens", R"({"name":"ci"})");
        CHECK(r.status == 403);
        CHECK(r.errorCode() == "csrf_failed");
        auto r2 =
            c.request("POST", "/api/v1/tokens", R"({"name":"ci"})", "application/json", {{"X-CSRF-Token", "forged"}});
        CHECK(r2.status == 403);
    }
    SECTION("no credentials") {
        auto r = c.get("/api/v1/me");
        CHECK(r.status == 401);
        CHECK(r.errorCode() == "unauthorized");
    }
    SECTION("logout ends the session") {
        REQUIRE(c.login("admin", kAdminPassword).status == 200);
        CHECK(c.post("/api/v1/logout", "").status == 204);
        CHECK(c.get("/api/v1/me").status == 401);
    }
}

TEST_CASE("API tokens authenticate scripts without CSRF and can be revoked", "[controller][auth]") {
    TestServer srv;
    Client a = srv.admin();
    auto r = a.post("/api/v1/tokens", R"({"name":"deploy script"})");
    REQUIRE(r.status == 201);
    const std::string token = r.json()->getValue<std::string>("token");
    const auto id = r.json()->getValue<int>("id");
    Client script = srv.client();
    script.useBearer(token);
    CHECK(script.get("/api/v1/me").status == 200);
    CHECK(
        script
            .post("/api/v1/users", R"({"username":"ed","password":"password-ed","role":"editor","department":"交警"})")
            .status == 201);
    CHECK(a.del("/api/v1/tokens/" + std::to_string(id)).status == 204);
    CHECK(script.get("/api/v1/me").status == 401);
    Client bad = srv.client();
    bad.useBearer("mst_forged");
    CHECK(bad.get("/api/v1/me").status == 401);
}

TEST_CASE("users: roles, departments and the audit log", "[controller][auth]") {
    TestServer srv;
    Client a = srv.admin();
    SECTION("editor needs a department") {
        auto r = a.post("/api/v1/users", R"({"username":"e1","password":"password1","role":"editor"})");
        CHECK(r.status == 400);
    }
    SECTION("bad role, weak password, duplicate, unknown field") {
        CHECK(a.post("/api/v1/users", R"({"username":"x","password":"password1","role":"root"})").status == 400);
        CHECK(a.post("/api/v1/users", R"({"username":"x","password":"short","role":"auditor"})").status == 422);
        CHECK(a.post("/api/v1/users", R"({"username":"admin","password":"password1","role":"auditor"})").status == 409);
        CHECK(a.post("/api/v1/users", R"({"username":"y","password":"password1","role":"auditor","x":1})").status ==
              400);
        CHECK(a.post("/api/v1/users", R"({"username":"../x","password":"password1","role":"auditor"})").status == 400);
    }
    SECTION("disabling a user ends their sessions") {
        Client e = srv.userClient("ed", "editor", "反诈中心");
        auto users = a.get("/api/v1/users").json()->getArray("users");
        int id = 0;
        for (std::size_t i = 0; i < users->size(); ++i)
            if (users->getObject(i)->getValue<std::string>("username") == "ed")
                id = users->getObject(i)->getValue<int>("id");
        REQUIRE(a.patch("/api/v1/users/" + std::to_string(id), R"({"disabled":true})").status == 200);
        CHECK(e.get("/api/v1/me").status == 401);
        CHECK(srv.client().login("ed", "password-ed").status == 401);
    }
    SECTION("admin cannot lock themselves out") {
        CHECK(a.patch("/api/v1/users/1", R"({"role":"auditor"})").status == 422);
    }
    SECTION("audit log records changes and is readable by auditors only") {
        Client aud = srv.userClient("aud", "auditor");
        auto r = aud.get("/api/v1/audit?entity=user");
        REQUIRE(r.status == 200);
        auto entries = r.json()->getArray("entries");
        REQUIRE(entries->size() >= 2);  // admin bootstrap + aud
        auto latest = entries->getObject(0);
        CHECK(latest->getValue<std::string>("action") == "create");
        CHECK(latest->getValue<std::string>("actor") == "admin");
        CHECK(latest->getObject("after")->getValue<std::string>("username") == "aud");
        Client ed = srv.userClient("ed2", "editor", "禁毒");
        CHECK(ed.get("/api/v1/audit").status == 403);
    }
}

// The guessing address waits (tests/controller/accounts_security_test.cpp has the
// rest: the owner elsewhere is never locked out).
TEST_CASE("password guessing makes the guessing address wait for a while", "[controller][auth]") {
    TestServer srv;
    srv.userClient("ed", "editor", "交警");
    Client c = srv.client();
    for (int i = 0; i < 6; ++i) CHECK(c.login("admin", "wrong-guess").status == 401);
    auto locked = c.login("admin", kAdminPassword);
    CHECK(locked.status == 429);
    CHECK(locked.errorCode() == "too_many_attempts");
    CHECK(srv.client().login("ed", "password-ed").status == 200);  // other users are not affected
    srv.advanceClock(16 * 60 * 1000);
    CHECK(c.login("admin", kAdminPassword).status == 200);
}
