// Media mirrors: GET /media/{sha256} (what is reachable there and how it
// answers), mirror settings compiled into manifests, and screens fetching
// through a real nginx cache in front of the controller.
#include <signal.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cctype>
#include <fstream>
#include <random>
#include <thread>

#include "../support/nginx_mirror.hpp"
#include "../support/process.hpp"
#include "microscape/core/crypto.hpp"
#include "microscape/core/json.hpp"
#include "test_support.hpp"

using namespace microscape::testing;

namespace {

std::string noise(const fs::path& dir, int seed, int side) {
    const fs::path p = dir / ("noise" + std::to_string(seed) + ".png");
    REQUIRE(runShell("/usr/bin/convert -size " + std::to_string(side) + "x" + std::to_string(side) + " xc: -seed " +
                     std::to_string(seed) + " +noise Random -depth 8 " + p.string()) == 0);
    return readFile(p);
}

std::string sha(const std::string& bytes) {
    return microscape::crypto::sha256Hex(bytes);
}

std::string upper(std::string s) {
    for (auto& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return s;
}

// A value of /metrics, e.g. "microscape_media_http_bytes_sent_total"; -1 if absent.
long long metric(Client& c, const std::string& series) {
    const auto body = c.get("/metrics").body;
    const auto at = body.find("\n" + series + " ");
    if (at == std::string::npos) return -1;
    return std::stoll(body.substr(at + series.size() + 2));
}

// The "mirrors" of a player's current manifest (empty when it has none).
std::vector<std::string> manifestMirrors(Client& admin, const std::string& player) {
    auto r = admin.get("/api/v1/players/" + player + "/manifest");
    REQUIRE(r.status == 200);
    auto m = r.json()->getObject("manifest");
    std::vector<std::string> out;
    if (!m->has("mirrors")) return out;
    CHECK(m->getValue<int>("format") == 3);
    auto a = m->getArray("mirrors");
    for (std::size_t i = 0; i < a->size(); ++i) out.push_back(a->getElement<std::string>(static_cast<unsigned>(i)));
    return out;
}

std::string scheduleAll(Client& ed, const std::vector<int>& media) {
    std::string items;
    for (int id : media)
        items +=
            std::string(items.empty() ? "" : ",") + R"({"mediaId":)" + std::to_string(id) + R"(,"durationMs":5000})";
    const int pl = createdId(ed.post("/api/v1/playlists", R"({"name":"p","items":[)" + items + "]}"));
    createdId(
        ed.post("/api/v1/schedules", R"({"name":"all","playlistId":)" + std::to_string(pl) +
                                         R"(,"startsOn":"2000-01-01","endsOn":"2099-12-31","target":{"all":true}})"));
    return std::to_string(pl);
}

}  // namespace

TEST_CASE("GET /media/{sha256}: only approved media a manifest names, immutable, with ETag and Range",
          "[controller][mirror]") {
    TestServer srv;
    TempDir fx;
    Client admin = srv.admin();
    Client anon = srv.client();
    Client ed = srv.userClient("ed", "editor", "反诈中心");
    Client ap = srv.userClient("ap", "approver");
    const std::string a = noise(fx.path, 1, 300), b = noise(fx.path, 2, 200), draft = noise(fx.path, 3, 100);
    const int aId = uploadApproved(ed, ap, a, "a.png");
    uploadApproved(ed, ap, b, "b.png");  // approved, in no manifest
    REQUIRE(ed.request("POST", "/api/v1/media?filename=d.png", draft, "image/png").status == 201);
    const std::string player = enrollPlayer(admin, anon, "s1", std::nullopt);
    scheduleAll(ed, {aId});
    REQUIRE(admin.get("/api/v1/players/" + player + "/manifest").status == 200);

    SECTION("nothing but those media: the same 404 for every other hash, no path") {
        for (const std::string& path :
             std::vector<std::string>{"/media/" + sha(b), "/media/" + sha(draft), "/media/" + std::string(64, '0'),
                                      "/media/abc", "/media/" + upper(sha(a)), "/media/" + sha(a) + "x",
                                      "/media/" + sha(a) + "/x", "/media/..%2f..%2fcontroller.db"}) {
            auto r = anon.get(path);
            INFO(path << " -> " << r.status << " " << r.body);
            CHECK(r.status == 404);
            CHECK(r.body.find(srv.dataDir().string()) == std::string::npos);
            CHECK(r.body.find("/media/" + sha(a).substr(0, 2)) == std::string::npos);
        }
        CHECK(anon.request("POST", "/media/" + sha(a), "x", "application/octet-stream").status == 405);
        CHECK(anon.request("DELETE", "/media/" + sha(a)).status == 405);
    }
    SECTION("the file, immutable, without logging in") {
        auto r = anon.get("/media/" + sha(a));
        REQUIRE(r.status == 200);
        CHECK(r.body == a);
        CHECK(r.headers["cache-control"] == "public, max-age=31536000, immutable");
        CHECK(r.headers["etag"] == "\"" + sha(a) + "\"");
        CHECK(r.headers["accept-ranges"] == "bytes");
        CHECK(r.headers["content-type"] == "application/octet-stream");
        CHECK(r.headers.count("set-cookie") == 0);
        auto head = anon.request("HEAD", "/media/" + sha(a));
        CHECK(head.status == 200);
        CHECK(head.body.empty());
        CHECK(head.headers["content-length"] == std::to_string(a.size()));
    }
    SECTION("If-None-Match answers 304 without the body") {
        auto r = anon.request("GET", "/media/" + sha(a), "", "", {{"If-None-Match", "\"" + sha(a) + "\""}});
        CHECK(r.status == 304);
        CHECK(r.body.empty());
        CHECK(r.headers["etag"] == "\"" + sha(a) + "\"");
        CHECK(anon.request("GET", "/media/" + sha(a), "", "", {{"If-None-Match", "\"other\""}}).status == 200);
    }
    SECTION("a single Range answers 206, an unsatisfiable one 416") {
        auto r = anon.request("GET", "/media/" + sha(a), "", "", {{"Range", "bytes=10-19"}});
        REQUIRE(r.status == 206);
        CHECK(r.body == a.substr(10, 10));
        CHECK(r.headers["content-range"] == "bytes 10-19/" + std::to_string(a.size()));
        r = anon.request("GET", "/media/" + sha(a), "", "", {{"Range", "bytes=100-"}});
        REQUIRE(r.status == 206);
        CHECK(r.body == a.substr(100));
        r = anon.request("GET", "/media/" + sha(a), "", "", {{"Range", "bytes=-5"}});
        REQUIRE(r.status == 206);
        CHECK(r.body == a.substr(a.size() - 5));
        r = anon.request("GET", "/media/" + sha(a), "", "", {{"Range", "bytes=0-1048575"}});  // an nginx slice
        REQUIRE(r.status == 206);
        CHECK(r.body == a);
        r = anon.request("GET", "/media/" + sha(a), "", "", {{"Range", "bytes=" + std::to_string(a.size()) + "-"}});
        CHECK(r.status == 416);
        CHECK(r.headers["content-range"] == "bytes */" + std::to_string(a.size()));
        // Several ranges, or a Range for another version (If-Range): the whole file.
        CHECK(anon.request("GET", "/media/" + sha(a), "", "", {{"Range", "bytes=0-1,5-6"}}).status == 200);
        CHECK(anon.request("GET", "/media/" + sha(a), "", "", {{"Range", "bytes=0-1"}, {"If-Range", "\"x\""}}).status ==
              200);
    }
    SECTION("a recalled file is gone from there") {
        REQUIRE(anon.get("/media/" + sha(a)).status == 200);
        REQUIRE(ap.post("/api/v1/media/" + std::to_string(aId) + "/recall", R"({"reason":"过期"})").status < 300);
        CHECK(anon.get("/media/" + sha(a)).status == 404);
    }
    SECTION("the bytes served are counted") {
        const auto before = metric(anon, "microscape_media_http_bytes_sent_total");
        REQUIRE(anon.get("/media/" + sha(a)).status == 200);
        CHECK(metric(anon, "microscape_media_http_bytes_sent_total") == before + static_cast<long long>(a.size()));
    }
}

TEST_CASE("mirror settings: strict URLs, the location's else the district's else the fleet's in the manifest",
          "[controller][mirror]") {
    TestServer srv;
    TempDir fx;
    Client admin = srv.admin();
    Client anon = srv.client();
    Client ed = srv.userClient("ed", "editor", "反诈中心");
    Client ap = srv.userClient("ap", "approver");
    auto loc = [&](const std::string& name, const std::string& district, const std::string& extra) {
        return createdId(
            admin.post("/api/v1/locations",
                       R"({"name":")" + name + R"(","venueType":"mall","district":")" + district + "\"" + extra + "}"));
    };
    const int own = loc("万达广场", "城中区", R"(,"mirrors":["https://cdn.example.cn/ms/"])");
    const int inDistrict = loc("步行街", "城中区", "");
    const int elsewhere = loc("社区", "城北区", "");
    const auto pOwn = enrollPlayer(admin, anon, "a", own);
    const auto pDistrict = enrollPlayer(admin, anon, "b", inDistrict);
    const auto pElsewhere = enrollPlayer(admin, anon, "c", elsewhere);
    scheduleAll(ed, {uploadApproved(ed, ap, noise(fx.path, 4, 100), "x.png")});

    // Validation: nothing is stored on a bad list.
    for (
        const std::string& bad : std::vector<std::string>{
            R"(["ftp://m.example.cn"])", R"(["http://user:pw@m.example.cn"])", R"(["http://m.example.cn/?a=1"])",
            R"(["http://m.example.cn/#x"])", R"(["http://m.example.cn:99999"])", R"(["m.example.cn"])",
            R"(["http://m.example.cn/a b"])", R"(["http://"])", R"(["http://a.cn","http://a.cn/"])",
            "[\"http://m.example.cn/" + std::string(600, 'a') + "\"]",
            R"(["http://a1.cn","http://a2.cn","http://a3.cn","http://a4.cn","http://a5.cn","http://a6.cn","http://a7.cn","http://a8.cn","http://a9.cn"])"}) {
        auto r = admin.put("/api/v1/settings/mirrors", R"({"fleet":)" + bad + R"(,"districts":[]})");
        INFO(bad << " -> " << r.body);
        CHECK(r.status == 400);
    }
    CHECK(admin.patch("/api/v1/locations/" + std::to_string(inDistrict), R"x({"mirrors":["javascript:alert(1)"]})x")
              .status == 400);
    CHECK(ed.put("/api/v1/settings/mirrors", R"({"fleet":[],"districts":[]})").status == 403);
    CHECK(manifestMirrors(admin, pOwn) == std::vector<std::string>{"https://cdn.example.cn/ms"});
    CHECK(manifestMirrors(admin, pDistrict).empty());

    auto r = admin.put(
        "/api/v1/settings/mirrors",
        R"({"fleet":["http://fleet.example.cn:8080/"],"districts":[{"district":"城中区","mirrors":["http://[::1]:8081","http://10.0.0.9"]}]})");
    INFO(r.body);
    REQUIRE(r.status == 200);
    CHECK(r.json()->getArray("fleet")->getElement<std::string>(0) == "http://fleet.example.cn:8080");
    CHECK(admin.get("/api/v1/settings/mirrors").body == r.body);
    CHECK(manifestMirrors(admin, pOwn) == std::vector<std::string>{"https://cdn.example.cn/ms"});
    CHECK(manifestMirrors(admin, pDistrict) == std::vector<std::string>{"http://[::1]:8081", "http://10.0.0.9"});
    CHECK(manifestMirrors(admin, pElsewhere) == std::vector<std::string>{"http://fleet.example.cn:8080"});
    // Clearing them recompiles: format 2 again.
    REQUIRE(admin.put("/api/v1/settings/mirrors", R"({"fleet":[],"districts":[]})").status == 200);
    CHECK(manifestMirrors(admin, pElsewhere).empty());
    CHECK(admin.get("/api/v1/players/" + pElsewhere + "/manifest")
              .json()
              ->getObject("manifest")
              ->getValue<int>("format") == 2);
}

TEST_CASE("three screens fetch through a real nginx mirror and the controller sends each file once",
          "[controller][mirror][e2e]") {
    if (::access(playerBin().c_str(), X_OK) != 0 || !NginxMirror::available()) {
        WARN("microscape-player or nginx missing; skipping");
        return;
    }
    TestServer srv([](auto& c) { c.zmqHeartbeatMs = 200; });
    TempDir fx;
    Client admin = srv.admin();
    Client anon = srv.client();
    Client ed = srv.userClient("ed", "editor", "反诈中心");
    Client ap = srv.userClient("ap", "approver");
    fs::create_directories(fx.path / "nginx");
    NginxMirror nginx(fs::path(MICROSCAPE_SOURCE_DIR) / "deploy" / "nginx" / "microscape-mirror.conf", srv.baseUrl(),
                      fx.path / "nginx");
    std::vector<std::string> files = {noise(fx.path, 5, 700), noise(fx.path, 6, 400), makePng(fx.path, "镜像")};
    std::vector<int> ids;
    long long total = 0;
    for (std::size_t i = 0; i < files.size(); ++i) {
        ids.push_back(uploadApproved(ed, ap, files[i], "m" + std::to_string(i) + ".png"));
        total += static_cast<long long>(files[i].size());
    }
    REQUIRE(files[0].size() > 1024 * 1024);  // more than one nginx slice
    REQUIRE(admin.put("/api/v1/settings/mirrors", R"({"fleet":[")" + nginx.url() + R"("],"districts":[]})").status ==
            200);
    scheduleAll(ed, ids);
    std::vector<fs::path> dirs;
    std::vector<std::string> players;
    for (int i = 0; i < 3; ++i) {
        dirs.push_back(fx.path / ("screen" + std::to_string(i)));
        players.push_back(enrollScreen(srv, admin, dirs.back()));
    }
    const long long before = metric(anon, "microscape_media_http_bytes_sent_total");
    std::vector<std::unique_ptr<SpawnedProcess>> screens;
    for (int i = 0; i < 3; ++i)
        screens.push_back(startScreen(dirs[i], fx.path / ("s" + std::to_string(i) + ".log"), {"--log-level", "debug"}));
    for (int i = 0; i < 3; ++i) {
        INFO(readFile(fx.path / ("s" + std::to_string(i) + ".log")) << readFile(fx.path / "nginx" / "error.log"));
        REQUIRE(waitFor(
            [&] {
                for (const auto& f : files)
                    if (!fs::exists(dirs[i] / "blobs" / sha(f))) return false;
                return true;
            },
            30000));
        for (const auto& f : files) CHECK(readFile(dirs[i] / "blobs" / sha(f)) == f);
    }
    INFO(readFile(nginx.accessLog()));
    // Each byte left the controller once, over HTTP; the hub sent none.
    CHECK(metric(anon, "microscape_media_http_bytes_sent_total") - before == total);
    CHECK(metric(anon, "microscape_hub_chunk_bytes_sent_total") == 0);
    // The screens say so in STATUS: /api/v1/players and /metrics.
    REQUIRE(waitFor(
        [&] {
            auto arr = admin.get("/api/v1/players").json()->getArray("players");
            long long mirror = 0;
            for (std::size_t i = 0; i < arr->size(); ++i) {
                auto p = arr->getObject(static_cast<unsigned>(i));
                if (p->isNull("status")) return false;
                auto s = p->getObject("status");
                if (!s->has("media_bytes_mirror") || s->getValue<long long>("media_bytes_hub") != 0) return false;
                mirror += s->getValue<long long>("media_bytes_mirror");
            }
            return mirror == 3 * total;
        },
        15000));
    const auto body = anon.get("/metrics").body;
    CHECK(body.find("microscape_players_media_bytes{source=\"mirror\"} " + std::to_string(3 * total)) !=
          std::string::npos);
    CHECK(body.find("microscape_players_media_bytes{source=\"hub\"} 0") != std::string::npos);
}

TEST_CASE("kill -9 during mirror transfers never leaves a mixed or broken active bundle",
          "[controller][mirror][e2e][kill]") {
    if (::access(playerBin().c_str(), X_OK) != 0 || !NginxMirror::available()) {
        WARN("microscape-player or nginx missing; skipping");
        return;
    }
    TestServer srv([](auto& c) { c.zmqHeartbeatMs = 200; });
    TempDir fx;
    Client admin = srv.admin();
    Client ed = srv.userClient("ed", "editor", "反诈中心");
    Client ap = srv.userClient("ap", "approver");
    fs::create_directories(fx.path / "nginx");
    NginxMirror nginx(fs::path(MICROSCAPE_SOURCE_DIR) / "deploy" / "nginx" / "microscape-mirror.conf", srv.baseUrl(),
                      fx.path / "nginx");
    REQUIRE(admin.put("/api/v1/settings/mirrors", R"({"fleet":[")" + nginx.url() + R"("],"districts":[]})").status ==
            200);
    std::vector<int> media;
    for (int i = 0; i < 4; ++i) media.push_back(uploadApproved(ed, ap, noise(fx.path, 20 + i, 1000), "n.png"));
    auto items = [&](int first, int second) {
        return R"({"name":"p","items":[{"mediaId":)" + std::to_string(media[first]) +
               R"(,"durationMs":5000},{"mediaId":)" + std::to_string(media[second]) + R"(,"durationMs":5000}]})";
    };
    const int pl = createdId(ed.post("/api/v1/playlists", items(0, 1)));
    createdId(
        ed.post("/api/v1/schedules", R"({"name":"all","playlistId":)" + std::to_string(pl) +
                                         R"(,"startsOn":"2000-01-01","endsOn":"2099-12-31","target":{"all":true}})"));
    const fs::path dir = fx.path / "player";
    const std::string id = enrollScreen(srv, admin, dir);
    auto active = [&]() -> std::int64_t {
        auto r = runProcess({playerBin(), "status", "--data-dir", dir.string()});
        if (r.exitCode != 0) return -1;
        auto v = microscape::json::parse(r.out);
        if (!v || !v->find("active_version")) return -1;
        return v->find("active_version")->asInt();
    };
    // Each round kills the screen at a random point of its progress: once its
    // debug log (one line per step: connect, manifest, each fetch, staging,
    // activation) has reached a random size, so the moment moves with the
    // screen's own pace, not with the machine's speed.
    std::mt19937 rng(7);
    std::uniform_int_distribution<std::uintmax_t> logBytes(1, 6000);
    std::int64_t last = 0;
    for (int round = 0; round < 12; ++round) {
        if (round % 3 == 2)
            REQUIRE(ed.request("PUT", "/api/v1/playlists/" + std::to_string(pl), items(round % 4, (round + 1) % 4))
                        .status == 200);
        {
            const fs::path log = fx.path / ("kill-" + std::to_string(round) + ".log");
            auto p = startScreen(dir, log, {"--log-level", "debug"});
            const std::uintmax_t at = logBytes(rng);
            std::error_code ec;
            // A screen with nothing left to do writes no more: it is killed idle.
            waitFor([&] { return fs::file_size(log, ec) >= at; }, 5000);
            UNSCOPED_INFO("round " << round << ": killed at " << fs::file_size(log, ec) << " log bytes (aimed at " << at
                                   << ")");
            p->kill(SIGKILL);
        }
        const auto v = active();
        INFO("round " << round);
        REQUIRE(v >= 0);   // absent (0) or complete and verified
        CHECK(v >= last);  // never rolls back
        last = v;
    }
    auto p = startScreen(dir, fx.path / "final.log", {"--log-level", "debug"});
    auto m = admin.get("/api/v1/players/" + id + "/manifest");
    REQUIRE(m.status == 200);
    const int want = m.json()->getValue<int>("version");
    INFO(readFile(fx.path / "final.log"));
    REQUIRE(waitFor([&] { return active() == want; }, 30000));
    Client anon = srv.client();
    WARN("kill -9 rounds with a mirror: 12; media bytes the controller sent over HTTP: "
         << metric(anon, "microscape_media_http_bytes_sent_total")
         << ", over the hub: " << metric(anon, "microscape_hub_chunk_bytes_sent_total"));
}
