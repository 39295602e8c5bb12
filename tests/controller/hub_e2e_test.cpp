// End to end over real sockets on 127.0.0.1: an in-process controller with its
// hub, and microscape-player processes (enrol, run, import, kill -9).
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fcntl.h>
#include <catch2/catch.hpp>
#include <chrono>
#include <fstream>
#include <random>
#include <thread>

#include "../support/process.hpp"
#include "microscape/core/crypto.hpp"
#include "microscape/core/json.hpp"
#include "microscape/core/pop.hpp"
#include "test_support.hpp"

using namespace microscape::testing;
using microscape::testing::runProcess;

namespace {

bool havePlayer() {
    return ::access(playerBin().c_str(), X_OK) == 0;
}

std::string noisePng(const fs::path& dir, int n, int side) {
    const fs::path p = dir / ("noise" + std::to_string(n) + ".png");
    REQUIRE(microscape::testing::runShell("/usr/bin/convert -size " + std::to_string(side) + "x" +
                                          std::to_string(side) + " xc: -seed " + std::to_string(n) +
                                          " +noise Random -depth 8 " + p.string()) == 0);
    return readFile(p);
}

std::string enrollCli(TestServer& srv, Client& admin, const fs::path& dir) {
    (void)srv;  // the token's command names the controller and pins its keys
    auto r = runProcess(enrollArgv(admin.post("/api/v1/enrollment-tokens", R"({"name":"screen"})"), dir));
    INFO(r.out << r.err);
    REQUIRE(r.exitCode == 0);
    auto cfg = microscape::json::parse(readFile(dir / "player.json"));
    REQUIRE(cfg.ok());
    return cfg->find("player_id")->asString();
}

// Reads `microscape-player status`; -1 if the active bundle does not verify.
std::int64_t activeVersion(const fs::path& dir) {
    auto r = runProcess({playerBin(), "status", "--data-dir", dir.string()});
    if (r.exitCode != 0) return -1;
    auto v = microscape::json::parse(r.out);
    if (!v || !v->find("active_version")) return -1;
    return v->find("active_version")->asInt();
}

int manifestVersion(Client& admin, const std::string& player) {
    auto r = admin.get("/api/v1/players/" + player + "/manifest");
    REQUIRE(r.status == 200);
    return r.json()->getValue<int>("version");
}

}  // namespace

TEST_CASE("three players enrol, hold the verified bundle within seconds and ride out a controller restart",
          "[controller][hub][e2e]") {
    if (!havePlayer()) {
        WARN("microscape-player not built; skipping");
        return;
    }
    TestServer srv([](auto& c) { c.zmqHeartbeatMs = 200; });
    TempDir fx;
    Client admin = srv.admin();
    Client ed = srv.userClient("ed", "editor", "反诈中心");
    Client ap = srv.userClient("ap", "approver");
    const int a = uploadApproved(ed, ap, makePng(fx.path, "反诈 防骗"), "a.png");
    const int b = uploadApproved(ed, ap, noisePng(fx.path, 1, 600), "b.png");
    const int pl = createdId(ed.post("/api/v1/playlists", R"({"name":"p","items":[{"mediaId":)" + std::to_string(a) +
                                                              R"(,"durationMs":5000},{"mediaId":)" + std::to_string(b) +
                                                              R"(,"durationMs":5000}]})"));
    createdId(
        ed.post("/api/v1/schedules", R"({"name":"all","playlistId":)" + std::to_string(pl) +
                                         R"(,"startsOn":"2000-01-01","endsOn":"2099-12-31","target":{"all":true}})"));

    std::vector<fs::path> dirs;
    std::vector<std::string> ids;
    for (int i = 0; i < 3; ++i) {
        dirs.push_back(fx.path / ("player" + std::to_string(i)));
        ids.push_back(enrollCli(srv, admin, dirs.back()));
    }
    SECTION("enrolment pins the hub key and refuses a second enrolment") {
        auto cfg = microscape::json::parse(readFile(dirs[0] / "player.json"));
        CHECK(cfg->find("curve")->asBool());
        CHECK(cfg->find("curve_server_key")->asString().size() == 40);
        auto again = runProcess({playerBin(), "enroll", "--controller-http", srv.baseUrl(), "--token", "enr_x",
                                 "--content-key-hash", srv.contentKeyHash(), "--tls-key-hash", srv.tlsKeyHash(),
                                 "--data-dir", dirs[0].string()});
        CHECK(again.exitCode != 0);
    }
    std::vector<std::unique_ptr<microscape::testing::SpawnedProcess>> procs;
    for (int i = 0; i < 3; ++i)
        procs.push_back(startScreen(dirs[i], fx.path / ("p" + std::to_string(i) + ".log"), {"--log-level", "debug"}));
    const auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < 3; ++i) {
        const int want = manifestVersion(admin, ids[i]);
        INFO("player " << ids[i] << " log:\n" << readFile(fx.path / ("p" + std::to_string(i) + ".log")));
        REQUIRE(waitFor([&] { return activeVersion(dirs[i]) == want; }, 15000));
    }
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    CHECK(secs < 10.0);
    WARN("three players verified and activated in " << secs << " s");
    // The controller sees them online with their status.
    REQUIRE(waitFor(
        [&] {
            auto r = admin.get("/api/v1/players");
            auto arr = r.json()->getArray("players");
            int ok = 0;
            for (std::size_t i = 0; i < arr->size(); ++i) {
                auto p = arr->getObject(static_cast<unsigned>(i));
                if (p->getValue<bool>("online") && !p->isNull("status") &&
                    p->getObject("status")->has("active_version") &&
                    p->getObject("status")->getValue<int>("active_version") > 0)
                    ++ok;
            }
            return ok == 3;
        },
        5000));
    auto metrics = srv.client().get("/metrics");
    CHECK(metrics.body.find("microscape_players_online 3") != std::string::npos);

    // Unplug the controller; change nothing on the players; bring it back.
    srv.restart();
    REQUIRE(waitFor([&] { return admin.get("/api/v1/players/" + ids[0]).json()->getValue<bool>("online"); }, 10000));
    // They carry on: a change reaches all three.
    const int c = uploadApproved(ed, ap, makePng(fx.path, "禁毒"), "c.png");
    REQUIRE(ed.request("PUT", "/api/v1/playlists/" + std::to_string(pl),
                       R"({"name":"p","items":[{"mediaId":)" + std::to_string(c) +
                           R"(,"durationMs":5000},{"mediaId":)" + std::to_string(b) + R"(,"durationMs":5000}]})")
                .status == 200);
    for (int i = 0; i < 3; ++i) {
        const int want = manifestVersion(admin, ids[i]);
        INFO("player log:\n" << readFile(fx.path / ("p" + std::to_string(i) + ".log")));
        REQUIRE(waitFor([&] { return activeVersion(dirs[i]) == want; }, 15000));
    }
    // Cache GC: the media that left the playlist is gone from every player.
    const std::string gone = admin.get("/api/v1/media/" + std::to_string(a)).json()->getValue<std::string>("sha256");
    for (const auto& d : dirs) CHECK_FALSE(fs::exists(d / "blobs" / gone));

    SECTION("commands reach a connected player and are answered") {
        auto r = admin.post("/api/v1/players/" + ids[1] + "/commands", R"({"action":"reload"})");
        INFO(r.body);
        REQUIRE(r.status == 202);
        const std::string cid = r.json()->getValue<std::string>("id");
        REQUIRE(waitFor(
            [&] { return admin.get("/api/v1/commands/" + cid).json()->getValue<std::string>("state") == "done"; },
            30000));
        auto shot = admin.post("/api/v1/players/" + ids[1] + "/commands", R"({"action":"screenshot"})");
        REQUIRE(shot.status == 202);
        const std::string sid = shot.json()->getValue<std::string>("id");
        const bool answered = waitFor(
            [&] { return admin.get("/api/v1/commands/" + sid).json()->getValue<std::string>("state") != "sent"; },
            30000);     // a screenshot on a busy machine can take seconds
        if (!answered)  // the player's log as it stands now, not as it stood when the command was sent
            FAIL("screenshot unanswered: " << admin.get("/api/v1/commands/" + sid).body << "\nplayer log:\n"
                                           << readFile(fx.path / "p1.log"));
        CHECK(admin.post("/api/v1/players/" + ids[1] + "/commands", R"({"action":"format"})").status == 400);

        // show_head: the screen's signed head statement goes on screen as a QR code
        // (what a technician scans); a screenshot shows it, and it verifies under
        // the screen's own key.
        auto head = admin.post("/api/v1/players/" + ids[1] + "/commands", R"({"action":"show_head"})");
        REQUIRE(head.status == 202);
        const std::string hid = head.json()->getValue<std::string>("id");
        Poco::JSON::Object::Ptr headAnswer;
        REQUIRE(waitFor(
            [&] {
                headAnswer = admin.get("/api/v1/commands/" + hid).json();
                return headAnswer->getValue<std::string>("state") != "sent";
            },
            30000));
        INFO(jsonString(headAnswer));
        CHECK(headAnswer->getValue<std::string>("state") == "done");
        CHECK(headAnswer->getValue<std::string>("message").find("on screen for 60 s") != std::string::npos);
        const auto pub =
            microscape::crypto::PrivateKey::load((dirs[1] / "keys" / "identity.pem").string()).value().publicKey();
        std::string seen;
        REQUIRE(waitFor(
            [&] {
                auto s = admin.post("/api/v1/players/" + ids[1] + "/commands", R"({"action":"screenshot"})");
                if (s.status != 202) return false;
                const std::string id = s.json()->getValue<std::string>("id");
                Poco::JSON::Object::Ptr done;
                if (!waitFor(
                        [&] {
                            done = admin.get("/api/v1/commands/" + id).json();
                            return done->getValue<std::string>("state") != "sent";
                        },
                        30000) ||
                    done->isNull("payloadBase64"))
                    return false;
                std::ofstream(fx.path / "shot.png", std::ios::binary)
                    << microscape::crypto::base64Decode(done->getValue<std::string>("payloadBase64")).value();
                auto z = runProcess({"/usr/bin/zbarimg", "--quiet", "--raw", (fx.path / "shot.png").string()});
                seen = z.out.substr(0, z.out.find('\n'));
                return z.exitCode == 0;
            },
            40000));
        auto stated = microscape::pop::parseHead(seen);
        INFO(seen);
        REQUIRE(stated);
        CHECK(stated->playerId == ids[1]);
        CHECK(stated->seq >= 1);
        CHECK(microscape::pop::verifySignature(*stated, pub).ok());
    }
    SECTION("an offline player cannot take commands") {
        procs[2]->kill(SIGKILL);
        REQUIRE(
            waitFor([&] { return !admin.get("/api/v1/players/" + ids[2]).json()->getValue<bool>("online"); }, 5000));
        CHECK(admin.post("/api/v1/players/" + ids[2] + "/commands", R"({"action":"reload"})").status == 409);
    }
}

TEST_CASE("kill -9 during transfer and activation never leaves a mixed or broken active bundle",
          "[controller][hub][e2e][kill]") {
    if (!havePlayer()) {
        WARN("microscape-player not built; skipping");
        return;
    }
    TestServer srv([](auto& c) { c.zmqHeartbeatMs = 200; });
    TempDir fx;
    Client admin = srv.admin();
    Client ed = srv.userClient("ed", "editor", "反诈中心");
    Client ap = srv.userClient("ap", "approver");
    std::vector<int> media;
    for (int i = 0; i < 4; ++i) media.push_back(uploadApproved(ed, ap, noisePng(fx.path, 10 + i, 1000), "n.png"));
    auto items = [&](int first, int second) {
        return R"({"name":"p","items":[{"mediaId":)" + std::to_string(media[first]) +
               R"(,"durationMs":5000},{"mediaId":)" + std::to_string(media[second]) + R"(,"durationMs":5000}]})";
    };
    const int pl = createdId(ed.post("/api/v1/playlists", items(0, 1)));
    createdId(
        ed.post("/api/v1/schedules", R"({"name":"all","playlistId":)" + std::to_string(pl) +
                                         R"(,"startsOn":"2000-01-01","endsOn":"2099-12-31","target":{"all":true}})"));
    const fs::path dir = fx.path / "player";
    const std::string id = enrollCli(srv, admin, dir);
    // Even rounds: small chunks and a window of one stretch the transfer so the
    // kill lands inside it. Odd rounds: full speed, so it lands near activation.
    auto tune = [&](bool slow) {
        auto cfg = microscape::json::parse(readFile(dir / "player.json"));
        auto o = cfg->asObject();
        o["chunk_bytes"] = slow ? 2048 : 262144;
        o["window"] = slow ? 1 : 8;
        std::ofstream(dir / "player.json") << microscape::json::canonical(microscape::json::Value(o));
    };
    std::mt19937 rng(42);
    std::uniform_int_distribution<int> delay(30, 900);
    int sawPartial = 0, sawNew = 0;
    std::int64_t last = 0;
    for (int round = 0; round < 24; ++round) {
        if (round % 3 == 2)  // a new version every few rounds, so activations keep happening
            REQUIRE(ed.request("PUT", "/api/v1/playlists/" + std::to_string(pl), items(round % 4, (round + 1) % 4))
                        .status == 200);
        tune(round % 2 == 0);
        {
            auto p = startScreen(dir, fx.path / "kill.log", {"--log-level", "debug"});
            const int ms = delay(rng);
            std::this_thread::sleep_for(std::chrono::milliseconds(round % 2 == 0 ? 150 + ms / 2 : ms));
            p->kill(SIGKILL);
        }
        const auto v = activeVersion(dir);
        INFO("round " << round);
        REQUIRE(v >= 0);   // absent (0) or complete and verified
        CHECK(v >= last);  // never rolls back
        if (v > last) ++sawNew;
        last = v;
        std::error_code ec;
        for (auto it = fs::directory_iterator(dir / "partial", ec); !ec && it != fs::directory_iterator();
             it.increment(ec))
            ++sawPartial;
    }
    WARN("kill -9 rounds: 24, activations seen: " << sawNew << ", partial files seen: " << sawPartial);
    // Finally it converges to the controller's current version.
    auto p = startScreen(dir, fx.path / "final.log", {"--log-level", "debug"});
    const int want = manifestVersion(admin, id);
    INFO(readFile(fx.path / "final.log"));
    REQUIRE(waitFor([&] { return activeVersion(dir) == want; }, 20000));
}
