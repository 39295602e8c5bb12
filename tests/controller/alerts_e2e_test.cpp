// A CAP alert end to end with real headless screens (microscape-player processes
// over the hub on 127.0.0.1): from POST /api/v1/alerts to the district's screen
// holding the verified manifest with the takeover, through the signed schedule
// path (takeover -> compiler -> manifest -> hub push -> fetch -> activation).
// The latency is measured and printed; the bound asserted is generous so that a
// slow machine does not fail the test (the requirement is 1 s).
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>

#include "../support/process.hpp"
#include "cap_fixtures.hpp"
#include "microscape/core/crypto.hpp"
#include "microscape/core/json.hpp"
#include "microscape/player/config.hpp"
#include "microscape/player/sync.hpp"
#include "test_support.hpp"

using namespace microscape::testing;
namespace fx = microscape::testing::capfx;

namespace {

constexpr std::int64_t kHourMs = 3'600'000;

// What a screen holds now: its active bundle's schedule as canonical JSON, read
// and verified as the screen does; "" while it holds none.
class ScreenView {
  public:
    explicit ScreenView(const fs::path& dir) {
        auto cfg = microscape::player::loadConfig(dir);
        REQUIRE(cfg.ok());
        store_ = std::make_unique<microscape::player::BundleStore>(dir, cfg->contentKeys, cfg->playerId);
    }
    std::string schedule() const {
        auto act = store_->active();
        if (!act.ok() || !*act) return "";
        return microscape::json::canonical((*act)->manifest.schedule);
    }
    std::int64_t version() const { return store_->activeVersion(); }

  private:
    std::unique_ptr<microscape::player::BundleStore> store_;
};

// Polls until pred holds on the screen; the time since `from`, in ms (-1 on timeout).
template <class Pred>
double msUntil(std::chrono::steady_clock::time_point from, const ScreenView& screen, Pred pred, int timeoutMs) {
    const auto deadline = from + std::chrono::milliseconds(timeoutMs);
    while (std::chrono::steady_clock::now() < deadline) {
        if (pred(screen.schedule()))
            return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - from).count();
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    return -1;
}

}  // namespace

TEST_CASE("a CAP alert for one district plays only on that district's screens within 1 s",
          "[controller][alerts][e2e]") {
    if (::access(playerBin().c_str(), X_OK) != 0) {
        WARN("microscape-player not built; skipping");
        return;
    }
    // The real clock: the screens judge expiries by their own.
    TestServer srv([](auto& c) { c.zmqHeartbeatMs = 200; });
    TempDir fx;
    Client admin = srv.admin();
    const int cz = createdId(admin.post(
        "/api/v1/locations", R"({"name":"五星商厦","venueType":"mall","district":"城中区","adminCode":"450202"})"));
    const int yf = createdId(
        admin.post("/api/v1/locations",
                   R"({"name":"鱼峰山社区","venueType":"community","district":"鱼峰区","adminCode":"450203"})"));
    // Everyday content on every screen, so that each holds a bundle before the alert.
    Client ed = srv.userClient("ed", "editor", "法制支队");
    Client ap = srv.userClient("ap", "approver");
    const int poster = createdId(ed.post("/api/v1/media/slogans", R"({"text":"守法光荣"})"));
    REQUIRE(ed.post("/api/v1/media/" + std::to_string(poster) + "/submit", "").status == 200);
    REQUIRE(ap.post("/api/v1/media/" + std::to_string(poster) + "/approve", "").status == 200);
    const int pl = createdId(ed.post("/api/v1/playlists", R"({"name":"日常","items":[{"mediaId":)" +
                                                              std::to_string(poster) + R"(,"durationMs":5000}]})"));
    createdId(
        ed.post("/api/v1/schedules", R"({"name":"all","playlistId":)" + std::to_string(pl) +
                                         R"(,"startsOn":"2000-01-01","endsOn":"2099-12-31","target":{"all":true}})"));
    const fs::path czDir = fx.path / "cz", yfDir = fx.path / "yf";
    const std::string czId =
        enrollScreen(srv, admin, czDir, R"({"name":"cz-1","locationId":)" + std::to_string(cz) + "}");
    const std::string yfId =
        enrollScreen(srv, admin, yfDir, R"({"name":"yf-1","locationId":)" + std::to_string(yf) + "}");
    auto czProc = startScreen(czDir, fx.path / "cz.log", {});
    auto yfProc = startScreen(yfDir, fx.path / "yf.log", {});
    auto controllerVersion = [&](const std::string& id) {
        return admin.get("/api/v1/players/" + id + "/manifest").json()->getValue<std::int64_t>("version");
    };
    const ScreenView czScreen(czDir), yfScreen(yfDir);
    for (auto [id, screen, log] : {std::tuple{czId, &czScreen, "cz.log"}, std::tuple{yfId, &yfScreen, "yf.log"}}) {
        const auto want = controllerVersion(id);
        INFO("player log:\n" << readFile(fx.path / log));
        REQUIRE(waitFor([&] { return screen->version() == want; }, 20000));
    }
    const auto yfVersionBefore = controllerVersion(yfId);

    Client account = srv.userClient("cap-feed", "alert_feed", "指挥中心", false);
    Client feed = srv.client();
    feed.useBearer(
        account.post("/api/v1/tokens", R"({"name":"warning system"})").json()->getValue<std::string>("token"));
    auto post = [&](const fx::AlertSpec& a, double& postMs) {
        const auto t0 = std::chrono::steady_clock::now();
        auto r = feed.request("POST", "/api/v1/alerts", fx::alertXml(a), "application/cap+xml");
        postMs = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
        INFO(r.body);
        REQUIRE(r.status == 201);
        return std::pair{t0, r.json()};
    };

    const std::int64_t now = srv.nowMs();
    fx::AlertSpec alert;
    alert.sentMs = now;
    fx::InfoSpec zh;
    zh.expiresMs = now + kHourMs;
    zh.areas = {{"城中区", {{"GB/T 2260", "450202"}}}};
    fx::InfoSpec en = zh;
    en.language = "en-US";
    en.headline = "Liujiang bridge closed";
    en.description = "Both directions closed tonight.";
    alert.infos = {zh, en};

    double postMs = 0;
    auto [t0, a] = post(alert, postMs);
    const std::string tko = "\"tko-" + a->getValue<std::string>("takeoverId") + "\"";
    const double alertMs = msUntil(
        t0, czScreen, [&](const std::string& s) { return s.find(tko) != std::string::npos; }, 20000);
    INFO("城中区 screen log:\n" << readFile(fx.path / "cz.log"));
    REQUIRE(alertMs >= 0);
    WARN("Alert: POST answered in " << postMs
                                    << " ms; the 城中区 screen held the verified manifest with the "
                                       "takeover "
                                    << alertMs << " ms after the POST began");
    CHECK(alertMs < 10000);  // the requirement is 1000 ms; generous so that a slow CI is not a failure

    // And it is what the screen shows: a screenshot is the alert's slogan on the
    // orange of a Severe alert.
    std::string corner;
    const bool orange = waitFor(
        [&] {
            auto s = admin.post("/api/v1/players/" + czId + "/commands", R"({"action":"screenshot"})");
            if (s.status != 202) return false;
            const std::string id = s.json()->getValue<std::string>("id");
            Poco::JSON::Object::Ptr done;
            if (!waitFor(
                    [&] {
                        done = admin.get("/api/v1/commands/" + id).json();
                        return done->getValue<std::string>("state") != "sent";
                    },
                    20000) ||
                done->isNull("payloadBase64"))
                return false;
            std::ofstream(fx.path / "shot.png", std::ios::binary)
                << microscape::crypto::base64Decode(done->getValue<std::string>("payloadBase64")).value();
            auto px =
                runProcess({"/usr/bin/convert", (fx.path / "shot.png").string(), "-format", "%[hex:p{3,3}]", "info:"});
            corner = px.out;
            return corner.rfind("EF6C00", 0) == 0;
        },
        30000);
    INFO("corner pixel " << corner);
    CHECK(orange);

    // Update: new text on the same takeover.
    fx::AlertSpec update = alert;
    update.identifier = "LZGA-2026-0001-U1";
    update.sentMs = now + 1000;
    update.msgType = "Update";
    update.references = fx::ref(alert);
    update.infos[0].headline = "柳江大桥封闭延长";
    update.infos[0].severity = "Extreme";
    auto [t1, u] = post(update, postMs);
    const std::string newSha =
        admin.get("/api/v1/media/" + u->getValue<std::string>("mediaId")).json()->getValue<std::string>("sha256");
    const double updateMs = msUntil(
        t1, czScreen, [&](const std::string& s) { return s.find(newSha) != std::string::npos; }, 20000);
    REQUIRE(updateMs >= 0);
    WARN("Update: POST answered in " << postMs << " ms; new text on the 城中区 screen after " << updateMs << " ms");
    CHECK(updateMs < 10000);

    // Cancel: the takeover leaves the screen's manifest.
    fx::AlertSpec cancel;
    cancel.identifier = "LZGA-2026-0001-C1";
    cancel.sentMs = now + 2000;
    cancel.msgType = "Cancel";
    cancel.references = fx::ref(update);
    auto [t2, c] = post(cancel, postMs);
    (void)c;
    const double cancelMs = msUntil(
        t2, czScreen, [&](const std::string& s) { return !s.empty() && s.find(tko) == std::string::npos; }, 20000);
    REQUIRE(cancelMs >= 0);
    WARN("Cancel: POST answered in " << postMs << " ms; takeover gone from the 城中区 screen after " << cancelMs
                                     << " ms");
    CHECK(cancelMs < 10000);

    // The 鱼峰区 screen never had it: its manifest did not change at all.
    CHECK(controllerVersion(yfId) == yfVersionBefore);
    CHECK(yfScreen.version() == yfVersionBefore);
    CHECK(yfScreen.schedule().find(tko) == std::string::npos);
}
