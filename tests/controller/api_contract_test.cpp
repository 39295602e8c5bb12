// The OpenAPI document as a contract: the schema checker, the controller's
// checks of request bodies and query parameters against it, and the tests' own
// checker of exchanges (api_contract.hpp), each shown to catch what it must.
#include <Poco/JSON/Parser.h>

#include <Poco/String.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <map>
#include <set>

#include "api_contract.hpp"
#include "microscape/controller/json_schema.hpp"
#include "microscape/controller/server.hpp"
#include "test_support.hpp"

using microscape::controller::SchemaSet;
using namespace microscape::testing;

namespace {

Poco::Dynamic::Var parse(const std::string& text) {
    Poco::JSON::Parser p;
    return p.parse(text);
}

Poco::JSON::Object::Ptr obj(const std::string& text) {
    return parse(text).extract<Poco::JSON::Object::Ptr>();
}

}  // namespace

TEST_CASE("the schema checker finds the first problem and names where it is", "[controller][openapi]") {
    SchemaSet set(obj(R"({
        "Item":{"type":"object","additionalProperties":false,"required":["id"],"properties":{
          "id":{"type":"integer","minimum":1},
          "name":{"type":"string","maxLength":3,"x-maxBytes":6,"nullable":true},
          "at":{"type":"string","format":"date-time"},
          "day":{"type":"string","format":"date"},
          "kind":{"type":"string","enum":["a","b"]},
          "list":{"type":"array","maxItems":2,"items":{"type":"integer"}}}},
        "Either":{"oneOf":[{"type":"string"},{"type":"integer"}]}})"));
    set.lintAll();
    const auto item = obj(R"({"$ref":"#/components/schemas/Item"})");
    auto check = [&](const std::string& text) { return set.check(parse(text), item, "body"); };
    CHECK_FALSE(check(R"({"id":1,"name":null,"at":"2026-04-15T08:00:00+08:00","day":"2024-02-29","kind":"b"})"));
    CHECK(check(R"({})").value() == "body.id: is required");
    CHECK(check(R"({"id":0})").value() == "body.id: must be at least 1");
    CHECK(check(R"({"id":"1"})").value() == "body.id: must be an integer, not a string");
    CHECK(check(R"({"id":true})").value() == "body.id: must be an integer, not a boolean");
    CHECK(check(R"({"id":1,"extra":2})").value() == "body.extra: is not a known field");
    CHECK_FALSE(check(R"({"id":1,"name":"禁毒"})"));                                         // 2 characters, 6 bytes
    CHECK(check(R"({"id":1,"name":"反诈骗"})").value().find("bytes") != std::string::npos);  // 3 characters, 9 bytes
    CHECK(check(R"({"id":1,"name":"abcd"})").value().find("at most 3 characters") != std::string::npos);
    CHECK(check(R"({"id":1,"at":"2026-04-15 08:00"})").value().rfind("body.at:", 0) == 0);
    CHECK(check(R"({"id":1,"at":"2026-04-15T08:00:00"})").value().rfind("body.at:", 0) == 0);  // no zone
    CHECK(check(R"({"id":1,"day":"2023-02-29"})").value().rfind("body.day:", 0) == 0);
    CHECK(check(R"({"id":1,"kind":"c"})").value() == "body.kind: must be one of a or b, not c");
    CHECK(check(R"({"id":1,"list":[1,"x"]})").value() == "body.list[1]: must be an integer, not a string");
    CHECK(check(R"({"id":1,"list":[1,2,3]})").value() == "body.list: must hold at most 2 items");
    const auto either = obj(R"({"$ref":"#/components/schemas/Either"})");
    CHECK_FALSE(set.check(Poco::Dynamic::Var(std::string("x")), either, "v"));
    CHECK_FALSE(set.check(Poco::Dynamic::Var(7), either, "v"));
    CHECK(set.check(parse("[]"), either, "v"));

    // A keyword outside the subset, or a dangling $ref, is refused, never ignored.
    CHECK_THROWS_AS(SchemaSet(obj(R"({"X":{"type":"string","pattern":"^a"}})")).lintAll(), std::logic_error);
    CHECK_THROWS_AS(SchemaSet(obj(R"({"X":{"$ref":"#/components/schemas/Nope"}})")).lintAll(), std::logic_error);
    CHECK_THROWS_AS(SchemaSet(obj(R"({"X":{"type":"object","required":["a"],"properties":{}}})")).lintAll(),
                    std::logic_error);
}

TEST_CASE("the controller checks bodies and query parameters against the document", "[controller][openapi]") {
    TestServer srv;
    auto admin = srv.admin();
    // Each refusal names the field; nothing was created.
    auto r = admin.post("/api/v1/locations", R"({"name":"万达","venueType":"mall","district":"江北区","floor":3})");
    CHECK(r.status == 400);
    CHECK(r.body.find("body.floor: is not a known field") != std::string::npos);
    r = admin.post("/api/v1/locations", R"({"name":"万达","venueType":"cinema","district":"江北区"})");
    CHECK(r.status == 400);
    CHECK(r.body.find("body.venueType: must be one of mall") != std::string::npos);
    r = admin.post("/api/v1/playlists", R"({"name":"p","items":[{"mediaId":"1"}]})");
    CHECK(r.status == 400);
    CHECK(r.body.find("body.items[0].mediaId: must be an integer") != std::string::npos);
    CHECK(admin.get("/api/v1/locations").json()->getArray("locations")->size() == 0);
    CHECK(admin.get("/api/v1/playlists").json()->getArray("playlists")->size() == 0);
    // A player's size was not range-checked when changed; now it is, as at enrolment.
    Client anon(srv.port(), srv.config().tls, srv.tlsKeyHash());
    const auto id = enrollPlayer(admin, anon, "屏", std::nullopt);
    r = admin.patch("/api/v1/players/" + id, R"({"width":-5})");
    CHECK(r.status == 400);
    CHECK(r.body.find("body.width: must be at least 1") != std::string::npos);

    // Query parameters of a declared type: trailing text, separators and other
    // spellings of true are refused instead of read as something else.
    for (const std::string& q : std::vector<std::string>{
             "/api/v1/audit?before=12abc", "/api/v1/audit?limit=1,000", "/api/v1/audit?limit=+5",
             "/api/v1/reports/problems?limit=abc", "/api/v1/takeovers?active=yes", "/api/v1/players?locationId=1x",
             "/api/v1/reports/plays?from=2026-02-30", "/api/v1/players/" + id + "/manifest?format=pretty"}) {
        INFO(q);
        r = admin.get(q);
        CHECK(r.status == 400);
        CHECK(r.errorCode() == "bad_request");
    }
    CHECK(admin.get("/api/v1/audit?before=999999999&limit=5").status == 200);
    CHECK(admin.get("/api/v1/takeovers?active=false").status == 200);
}

TEST_CASE("the tests' contract check catches answers and requests that break the document", "[controller][openapi]") {
    TestServer srv;
    auto admin = srv.admin();
    auto doc = admin.get("/api/v1/openapi.json");
    REQUIRE(doc.status == 200);
    ApiContract contract(doc.json());
    const std::string user = admin.get("/api/v1/me").json()->getObject("user")->getValue<std::string>("username");
    auto me = admin.get("/api/v1/users/1");
    REQUIRE(me.status == 200);
    const std::string json = "application/json; charset=utf-8";
    // What the controller really answered keeps to the document.
    CHECK(contract.check({"GET", "/api/v1/users/1", "", "", 200, json, me.body}).empty());
    // An answer without a required field, with an extra one, or of the wrong type.
    auto without = me.json();
    without->remove("fleetWide");
    CHECK_FALSE(contract.check({"GET", "/api/v1/users/1", "", "", 200, json, jsonString(without)}).empty());
    auto extra = me.json();
    extra->set("passwordHash", "x");
    CHECK_FALSE(contract.check({"GET", "/api/v1/users/1", "", "", 200, json, jsonString(extra)}).empty());
    CHECK_FALSE(contract.check({"GET", "/api/v1/users/1", "", "", 200, "text/html", "<p>"}).empty());
    // A status the route does not declare; an error without the error shape.
    CHECK_FALSE(contract.check({"GET", "/api/v1/users/1", "", "", 201, json, me.body}).empty());
    CHECK_FALSE(contract.check({"GET", "/api/v1/users/1", "", "", 404, json, R"({"oops":1})"}).empty());
    CHECK(contract
              .check({"GET", "/api/v1/users/1", "", "", 404, json,
                      R"({"error":{"code":"not_found","message":"user not found"}})"})
              .empty());
    // A request the document calls invalid must not succeed.
    const std::string created = admin.post("/api/v1/tokens", R"({"name":"t"})").body;
    CHECK(
        contract.check({"POST", "/api/v1/tokens", "application/json", R"({"name":"t"})", 201, json, created}).empty());
    CHECK_FALSE(
        contract.check({"POST", "/api/v1/tokens", "application/json", R"({"name":"t","x":1})", 201, json, created})
            .empty());
    CHECK_FALSE(contract.check({"GET", "/api/v1/audit?limit=ten", "", "", 200, json, R"({"entries":[]})"}).empty());
    // Paths and methods the document does not have answer 404 and 405.
    CHECK_FALSE(contract.check({"GET", "/api/v1/nothing", "", "", 200, json, "{}"}).empty());
    CHECK(
        contract.check({"GET", "/api/v1/nothing", "", "", 404, json, R"({"error":{"code":"not_found","message":"x"}})"})
            .empty());
    CHECK_FALSE(contract.check({"DELETE", "/api/v1/me", "", "", 200, json, "{}"}).empty());
    (void)user;
}

TEST_CASE("microscape-controller --openapi prints the document the server serves", "[controller][openapi]") {
    TestServer srv;
    auto served = srv.admin().get("/api/v1/openapi.json");
    REQUIRE(served.status == 200);
    auto printed = parseObject(microscape::controller::openApiJson());
    CHECK(jsonString(printed) == jsonString(served.json()));
}

// docs/controller-api.md's role table, held to the route table: every route in
// exactly one row, with exactly the roles the controller lets in.
TEST_CASE("the role table in docs/controller-api.md matches the route table", "[controller][openapi]") {
    TestServer srv;
    auto doc = srv.admin().get("/api/v1/openapi.json").json();
    const std::vector<std::string> columns = {"public", "admin", "editor", "approver", "auditor", "alert_feed"};
    std::map<std::string, std::set<std::string>> routes;  // "GET /api/v1/media" -> roles
    for (const auto& [path, item] : *doc->getObject("paths")) {
        for (const auto& [method, op] : *item.extract<Poco::JSON::Object::Ptr>()) {
            std::string roles =
                op.extract<Poco::JSON::Object::Ptr>()->getValue<std::string>("description").substr(7);  // "Roles: "
            roles = roles.substr(0, roles.find('.'));
            std::set<std::string> set;
            for (std::size_t at = 0; at < roles.size();) {
                auto comma = roles.find(", ", at);
                set.insert(roles.substr(at, comma == std::string::npos ? std::string::npos : comma - at));
                at = comma == std::string::npos ? roles.size() : comma + 2;
            }
            if (set.count("public")) set.insert(columns.begin(), columns.end());
            routes[Poco::toUpper(method) + " " + path] = set;
        }
    }
    std::ifstream in(std::string(MICROSCAPE_SOURCE_DIR) + "/docs/controller-api.md");
    REQUIRE(in);
    std::string line;
    bool inTable = false;
    std::map<std::string, std::set<std::string>> documented;
    while (std::getline(in, line)) {
        if (line.rfind("| tag | routes | public | admin | editor | approver | auditor | alert_feed |", 0) == 0) {
            inTable = true;
            continue;
        }
        if (!inTable || line.rfind("| --- ", 0) == 0) continue;
        if (line.rfind("|", 0) != 0) break;
        std::vector<std::string> cells;
        for (std::size_t at = 1; at < line.size();) {
            auto bar = line.find('|', at);
            if (bar == std::string::npos) break;
            cells.push_back(Poco::trim(line.substr(at, bar - at)));
            at = bar + 1;
        }
        REQUIRE(cells.size() == 2 + columns.size());
        std::set<std::string> roles;
        for (std::size_t c = 0; c < columns.size(); ++c)
            if (cells[2 + c] == "✓") roles.insert(columns[c]);
        for (std::size_t at = 0; (at = cells[1].find('`', at)) != std::string::npos;) {
            auto end = cells[1].find('`', at + 1);
            std::string route = cells[1].substr(at + 1, end - at - 1);
            at = end + 1;
            auto space = route.find(' ');
            std::string path = route.substr(space + 1);
            if (path != "/healthz" && path != "/metrics" && path != "/media/{sha256}") path = "/api/v1" + path;
            const std::string key = route.substr(0, space) + " " + path;
            INFO(key);
            CHECK(documented.count(key) == 0);
            documented[key] = roles;
        }
    }
    CHECK(documented.size() == routes.size());
    for (const auto& [key, roles] : routes) {
        INFO(key);
        REQUIRE(documented.count(key) == 1);
        CHECK(documented[key] == roles);
    }
}
