// The role x endpoint matrix, checked against every route the OpenAPI document
// lists (so a new route without an expectation here fails the test).
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstring>
#include <map>
#include <set>
#include <sstream>

#include "../support/process.hpp"

#include "test_support.hpp"

using namespace microscape::testing;

namespace {

// F: alert_feed, an issuing system's account: the alert routes and its own account only.
enum : unsigned { A = 1, E = 2, P = 4, U = 8, ANY = 15, PUBLIC = 16, F = 32, OWN = ANY | F };

struct Case {
    const char* method;
    const char* pattern;  // as in the OpenAPI document
    unsigned allowed;
};

const Case kMatrix[] = {
    {"POST", "/api/v1/login", PUBLIC},
    {"POST", "/api/v1/logout", OWN},
    {"GET", "/api/v1/me", OWN},
    {"PUT", "/api/v1/me/password", OWN},
    {"GET", "/api/v1/users", A},
    {"POST", "/api/v1/users", A},
    {"GET", "/api/v1/users/{id}", A},
    {"PATCH", "/api/v1/users/{id}", A},
    {"GET", "/api/v1/tokens", OWN},
    {"POST", "/api/v1/tokens", OWN},
    {"DELETE", "/api/v1/tokens/{id}", OWN},
    {"GET", "/api/v1/audit", A | U},
    {"GET", "/api/v1/tags", ANY},
    {"GET", "/api/v1/media", ANY},
    {"POST", "/api/v1/media", A | E},
    {"POST", "/api/v1/media/slogans", A | E},
    {"GET", "/api/v1/media/{id}", ANY},
    {"PATCH", "/api/v1/media/{id}", A | E},
    {"DELETE", "/api/v1/media/{id}", A | E},
    {"POST", "/api/v1/media/{id}/submit", A | E},
    {"POST", "/api/v1/media/{id}/approve", A | P},
    {"POST", "/api/v1/media/{id}/reject", A | P},
    {"GET", "/api/v1/media/{id}/content", ANY},
    {"GET", "/api/v1/media/{id}/derived/{did}/content", ANY},
    {"POST", "/api/v1/media/{id}/recall", A | P},
    {"GET", "/api/v1/media/{id}/recall", ANY},
    {"GET", "/api/v1/recalls", ANY},
    {"GET", "/api/v1/locations", ANY},
    {"POST", "/api/v1/locations", A},
    {"GET", "/api/v1/locations/{id}", ANY},
    {"PATCH", "/api/v1/locations/{id}", A},
    {"DELETE", "/api/v1/locations/{id}", A},
    {"GET", "/api/v1/enrollment-tokens", A},
    {"POST", "/api/v1/enrollment-tokens", A},
    {"POST", "/api/v1/enroll", PUBLIC},
    {"GET", "/api/v1/players", ANY},
    {"GET", "/api/v1/players/{id}", ANY},
    {"PATCH", "/api/v1/players/{id}", A},
    {"GET", "/api/v1/players/{id}/manifest", ANY},
    {"GET", "/api/v1/players/{id}/bundle", ANY},
    {"POST", "/api/v1/players/{id}/compile", A},
    {"GET", "/api/v1/content-key", ANY},
    {"GET", "/api/v1/preview", ANY},
    {"GET", "/api/v1/preview/timeline", ANY},
    {"GET", "/api/v1/playlists", ANY},
    {"POST", "/api/v1/playlists", A | E},
    {"GET", "/api/v1/playlists/{id}", ANY},
    {"PUT", "/api/v1/playlists/{id}", A | E},
    {"DELETE", "/api/v1/playlists/{id}", A | E},
    {"GET", "/api/v1/campaigns", ANY},
    {"POST", "/api/v1/campaigns", A | E},
    {"GET", "/api/v1/observances", ANY},
    {"POST", "/api/v1/observances", A},
    {"PATCH", "/api/v1/observances/{id}", A},
    {"DELETE", "/api/v1/observances/{id}", A},
    {"GET", "/api/v1/campaigns/{id}", ANY},
    {"PATCH", "/api/v1/campaigns/{id}", A | E},
    {"DELETE", "/api/v1/campaigns/{id}", A | E},
    {"GET", "/api/v1/schedules", ANY},
    {"POST", "/api/v1/schedules", A | E},
    {"GET", "/api/v1/schedules/{id}", ANY},
    {"PATCH", "/api/v1/schedules/{id}", A | E},
    {"DELETE", "/api/v1/schedules/{id}", A | E},
    {"GET", "/api/v1/takeovers", ANY},
    {"POST", "/api/v1/takeovers", A | E},
    {"POST", "/api/v1/takeovers/{id}/cancel", A | E},
    {"GET", "/api/v1/settings/filler", ANY},
    {"PUT", "/api/v1/settings/filler", A},
    {"GET", "/api/v1/settings/mirrors", ANY},
    {"PUT", "/api/v1/settings/mirrors", A},
    {"GET", "/media/{sha256}", PUBLIC},
    {"POST", "/api/v1/players/{id}/commands", A},
    {"GET", "/api/v1/commands/{id}", ANY},
    {"GET", "/api/v1/players/{id}/preview", ANY},
    {"GET", "/api/v1/reports/plays", ANY},
    {"GET", "/api/v1/reports/scheduled-vs-played", ANY},
    {"GET", "/api/v1/reports/uptime", ANY},
    {"GET", "/api/v1/reports/problems", ANY},
    {"GET", "/api/v1/reports/campaigns/{id}/summary", ANY},
    {"GET", "/api/v1/reports/annual", ANY},
    {"GET", "/api/v1/audit/export", A | U},
    {"POST", "/api/v1/alerts", F},
    {"GET", "/api/v1/alerts", ANY | F},
    {"GET", "/api/v1/alerts/{id}", ANY | F},
    {"GET", "/healthz", PUBLIC},
    {"GET", "/metrics", PUBLIC},
    {"GET", "/api/v1/openapi.json", PUBLIC},
};

std::string concrete(std::string pattern) {
    for (const std::string param : {"{id}", "{did}"}) {
        auto p = pattern.find(param);
        if (p != std::string::npos) pattern.replace(p, param.size(), "999999");
    }
    return pattern;
}

std::string bearerFor(TestServer& srv, Client& admin, const std::string& name, const std::string& role) {
    Client c = srv.userClient(name, role, role == "editor" ? "交警" : "");
    auto r = c.post("/api/v1/tokens", R"({"name":"matrix"})");
    REQUIRE(r.status == 201);
    (void)admin;
    return r.json()->getValue<std::string>("token");
}

}  // namespace

TEST_CASE("role x endpoint authorisation matrix", "[controller][authz]") {
    TestServer srv;
    Client admin = srv.admin();
    struct RoleClient {
        const char* name;
        unsigned bit;
        Client client;
    };
    std::vector<RoleClient> roles;
    for (auto [name, bit] :
         {std::pair{"admin", A}, {"editor", E}, {"approver", P}, {"auditor", U}, {"alert_feed", F}}) {
        Client c = srv.client();
        c.useBearer(name == std::string("admin")
                        ? [&] {
                              auto r = admin.post("/api/v1/tokens", R"({"name":"matrix"})");
                              REQUIRE(r.status == 201);
                              return r.json()->getValue<std::string>("token");
                          }()
                        : bearerFor(srv, admin, std::string("m-") + name, name));
        roles.push_back({name, bit, c});
    }
    roles.push_back({"anonymous", 0, srv.client()});

    for (const auto& c : kMatrix) {
        for (auto& r : roles) {
            // "{}" is a valid JSON object that fails validation for writes, so an
            // allowed call ends in a 4xx other than 401/403 without changing anything.
            auto resp = r.client.request(c.method, concrete(c.pattern), std::string(c.method) == "GET" ? "" : "{}");
            INFO(r.name << " " << c.method << " " << c.pattern << " -> " << resp.status << " " << resp.body);
            const bool allowed = (c.allowed & PUBLIC) || (c.allowed & r.bit);
            if (allowed) {
                CHECK(resp.status != 401);
                CHECK(resp.status != 403);
            } else if (r.bit == 0) {
                CHECK(resp.status == 401);
                CHECK(resp.errorCode() == "unauthorized");
            } else {
                CHECK(resp.status == 403);
                CHECK(resp.errorCode() == "forbidden");
            }
        }
    }

    SECTION("the OpenAPI document lists exactly these routes") {
        auto doc = srv.client().get("/api/v1/openapi.json");
        REQUIRE(doc.status == 200);
        auto paths = doc.json()->getObject("paths");
        std::set<std::string> documented, expected;
        for (const auto& [path, item] : *paths)
            for (const auto& [method, op] : *paths->getObject(path))
                documented.insert(Poco::toUpper(method) + " " + path);
        for (const auto& c : kMatrix) expected.insert(std::string(c.method) + " " + c.pattern);
        CHECK(documented == expected);
        CHECK(doc.json()->getValue<std::string>("openapi").rfind("3.", 0) == 0);
    }

    SECTION("the OpenAPI document declares servers, licence, its tags and integer ids") {
        auto doc = srv.client().get("/api/v1/openapi.json");
        REQUIRE(doc.status == 200);
        auto root = doc.json();
        CHECK(root->getObject("info")->getObject("license")->getValue<std::string>("name") ==
              "Microscape (proprietary)");
        REQUIRE(root->getArray("servers")->size() == 1);
        CHECK(root->getArray("servers")->getObject(0)->getValue<std::string>("url") == "/");
        std::set<std::string> declared, used;
        for (const auto& t : *root->getArray("tags")) {
            auto tag = t.extract<Poco::JSON::Object::Ptr>();
            declared.insert(tag->getValue<std::string>("name"));
            CHECK(tag->getValue<std::string>("description") != tag->getValue<std::string>("name"));
        }
        int idParams = 0;
        auto paths = root->getObject("paths");
        for (const auto& [path, item] : *paths)
            for (const auto& [method, opVar] : *paths->getObject(path)) {
                auto op = opVar.extract<Poco::JSON::Object::Ptr>();
                for (const auto& t : *op->getArray("tags")) used.insert(t.convert<std::string>());
                if (!op->has("parameters")) continue;
                for (const auto& pv : *op->getArray("parameters")) {
                    auto prm = pv.extract<Poco::JSON::Object::Ptr>();
                    if (prm->getValue<std::string>("in") != "path") continue;
                    ++idParams;
                    // Players and commands have text ids, media by hash a SHA-256; every other {id} is a row number.
                    const bool text = path.rfind("/api/v1/players/{id}", 0) == 0 ||
                                      path.rfind("/api/v1/commands/{id}", 0) == 0 || path == "/media/{sha256}";
                    INFO(method << " " << path);
                    CHECK(prm->getObject("schema")->getValue<std::string>("type") == (text ? "string" : "integer"));
                }
            }
        CHECK(declared == used);
        CHECK(idParams > 0);
        // Query parameters come from the route table (RequestCtx::query refuses undeclared ones).
        auto queryOf = [&](const std::string& path) {
            std::map<std::string, Poco::JSON::Object::Ptr> out;
            auto op = paths->getObject(path)->getObject("get");
            for (const auto& pv : *op->getArray("parameters")) {
                auto prm = pv.extract<Poco::JSON::Object::Ptr>();
                if (prm->getValue<std::string>("in") == "query")
                    out[prm->getValue<std::string>("name")] = prm->getObject("schema");
            }
            return out;
        };
        auto media = queryOf("/api/v1/media");
        CHECK(media.size() == 4);
        CHECK(media.count("state") == 1);
        auto plays = queryOf("/api/v1/reports/plays");
        REQUIRE(plays.count("format") == 1);
        auto formats = plays["format"]->getArray("enum");
        REQUIRE(formats->size() == 2);
        CHECK(formats->getElement<std::string>(0) == "json");
        CHECK(formats->getElement<std::string>(1) == "csv");
        CHECK(plays["from"]->getValue<std::string>("format") == "date");
        CHECK(queryOf("/api/v1/audit")["limit"]->getValue<std::string>("type") == "integer");
    }
}

TEST_CASE("HTTP details: reason phrases, Allow on 405, HEAD on every GET route, one spelling per path",
          "[controller][api][http]") {
    TestServer srv;
    Client admin = srv.admin();
    SECTION("the status line's reason phrase is the status's") {
        CHECK(srv.client().get("/api/v1/media").reason == "Unauthorized");
        CHECK(admin.get("/api/v1/nothing-here").reason == "Not Found");
        CHECK(admin.del("/api/v1/media").reason == "Method Not Allowed");
        CHECK(admin.post("/api/v1/locations", "{not json").reason == "Bad Request");
        CHECK(admin.get("/healthz").reason == "OK");
    }
    SECTION("a 405 says which methods the path has") {
        auto r = admin.del("/api/v1/media");
        REQUIRE(r.status == 405);
        CHECK(r.headers["allow"] == "GET, HEAD, POST");
        r = admin.request("POST", "/healthz", "{}");
        REQUIRE(r.status == 405);
        CHECK(r.headers["allow"] == "GET, HEAD");
    }
    SECTION("HEAD answers every GET route as GET does, without the body") {
        for (const auto& c : kMatrix) {
            if (std::string(c.method) != "GET") continue;
            const std::string path = concrete(c.pattern);
            auto get = admin.get(path);
            auto head = admin.request("HEAD", path);
            INFO(path << " GET " << get.status << " HEAD " << head.status);
            CHECK(head.status == get.status);
            CHECK(head.body.empty());
            CHECK(head.headers["content-type"] == get.headers["content-type"]);
        }
    }
    SECTION("a trailing or doubled slash is not another spelling of a route") {
        for (const char* path :
             {"/metrics/", "//metrics", "/healthz/", "/api/v1/media/", "/api//v1/media", "/api/v1/openapi.json/"}) {
            auto r = admin.get(path);
            INFO(path << " -> " << r.status);
            CHECK(r.status == 404);
        }
        CHECK(admin.get("/metrics").status == 200);
        CHECK(admin.get("/api/v1/media").status == 200);
    }
}

TEST_CASE("errors are JSON with the right status", "[controller][api]") {
    TestServer srv([](auto& c) { c.maxJsonBytes = 4096; });
    Client a = srv.admin();
    auto check = [](const Response& r, int status, const std::string& code) {
        INFO(r.body);
        CHECK(r.status == status);
        CHECK(r.errorCode() == code);
        CHECK(r.headers.at("content-type").find("application/json") == 0);
    };
    check(a.get("/api/v1/nothing-here"), 404, "not_found");
    check(a.del("/api/v1/media"), 405, "method_not_allowed");
    check(a.post("/api/v1/locations", "{not json"), 400, "bad_json");
    check(a.post("/api/v1/locations", "[]"), 400, "bad_json");
    check(a.post("/api/v1/locations", "\xff\xfe{}"), 400, "bad_json");
    check(a.post("/api/v1/locations", "{\"name\":\"" + std::string(8000, 'x') + "\"}"), 413, "too_large");
    check(a.post("/api/v1/locations", R"({"name":"x","venueType":"mall","district":"d","extra":true})"), 400,
          "bad_request");
    check(a.get("/api/v1/media/12345"), 404, "not_found");
    check(a.get("/api/v1/players/none/manifest"), 404, "not_found");
}

TEST_CASE("healthz and metrics", "[controller][api]") {
    TestServer srv;
    TempDir fx;
    Client ed = srv.userClient("ed", "editor", "交警");
    REQUIRE(ed.request("POST", "/api/v1/media?filename=a.png", makePng(fx.path, "指标"), "image/png").status == 201);
    auto h = srv.client().get("/healthz");
    CHECK(h.status == 200);
    CHECK(h.json()->getValue<std::string>("status") == "ok");
    auto m = srv.client().get("/metrics");
    REQUIRE(m.status == 200);
    CHECK(m.headers["content-type"].find("text/plain") == 0);
    CHECK(m.body.find("microscape_uploads_total 1\n") != std::string::npos);
    CHECK(m.body.find("microscape_players_online 0\n") != std::string::npos);
    CHECK(m.body.find("microscape_bundles_compiled_total") != std::string::npos);
    CHECK(m.body.find("microscape_http_requests_total{method=\"POST\",route=\"/api/v1/"
                      "media\",status=\"201\"} 1") != std::string::npos);
    CHECK(m.body.find("microscape_http_request_duration_seconds_count{method=\"POST\",route=\"/api/"
                      "v1/login\"}") != std::string::npos);
}

TEST_CASE("every metric has HELP and TYPE and promtool accepts the exposition", "[controller][api][promtool]") {
    TestServer srv;
    Client ed = srv.userClient("ed", "editor", "交警");
    // Series of every kind: a matched route, an unmatched path, a made-up method.
    CHECK(ed.get("/api/v1/media").status == 200);
    CHECK(srv.client().get("/api/v1/nothing-here").status == 404);
    CHECK(srv.client().request("BREW", "/api/v1/media").status >= 400);
    auto m = srv.client().get("/metrics");
    REQUIRE(m.status == 200);
    INFO(m.body);
    CHECK(m.body.find("microscape_hub_messages_received_total") != std::string::npos);  // the hub's too
    CHECK(m.body.find("method=\"GET\",route=\"/api/v1/media\"") != std::string::npos);
    CHECK(m.body.find("method=\"GET\",route=\"unmatched\",status=\"404\"") != std::string::npos);
    CHECK(m.body.find("BREW") == std::string::npos);  // counted as method="other"
    // Our own reading: every sample's family was announced with HELP and TYPE.
    std::set<std::string> help, type;
    std::istringstream in(m.body);
    for (std::string line; std::getline(in, line);) {
        std::istringstream words(line);
        std::string a, b, name;
        if (line.rfind("# HELP ", 0) == 0) {
            words >> a >> b >> name;
            help.insert(name);
        } else if (line.rfind("# TYPE ", 0) == 0) {
            words >> a >> b >> name;
            type.insert(name);
        } else if (!line.empty()) {
            name = line.substr(0, line.find_first_of("{ "));
            for (const char* suffix : {"_bucket", "_sum", "_count"})
                if (!type.count(name) && name.size() > std::strlen(suffix) &&
                    name.compare(name.size() - std::strlen(suffix), std::string::npos, suffix) == 0)
                    name.resize(name.size() - std::strlen(suffix));
            CHECK(help.count(name) == 1);
            CHECK(type.count(name) == 1);
        }
    }
    // And Prometheus' own checker (Debian's prometheus package; deploy/install-deps.sh).
    REQUIRE(::access("/usr/bin/promtool", X_OK) == 0);
    auto r = microscape::testing::runProcess({"/usr/bin/promtool", "check", "metrics"}, m.body);
    INFO(r.out << r.err);
    CHECK(r.exitCode == 0);
    CHECK(r.out.empty());
    CHECK(r.err.empty());
}
