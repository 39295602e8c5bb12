// The settings of `microscape-player run`: the .properties file that the
// packaged service reads (/etc/microscape/player.properties), the flags that
// override it, and the screen size kept in player.json at enrolment.
#include <catch2/catch.hpp>
#include <fstream>

#include "media_fixtures.hpp"
#include "microscape/player/config.hpp"
#include "support/bundle_builder.hpp"
#include "support/catch_errc.hpp"

using namespace microscape;
using namespace microscape::player;
namespace fs = std::filesystem;

namespace {

const char* kFull =
    "# /etc/microscape/player.properties\n"
    "player.dataDir = /var/lib/microscape-player\n"
    "player.output = display\n"
    "player.width = 1920\n"
    "player.height = 540\n"
    "player.importDir = /media/usb\n"
    "player.preview = /run/microscape/preview.png\n"
    "player.logLevel = debug\n"
    "player.logFormat = journal\n"
    "logging.loggers.root.level = information\n";

}  // namespace

TEST_CASE("a player properties file sets every run setting", "[player][config]") {
    auto s = parseRunProperties(kFull, "player.properties");
    REQUIRE(s.ok());
    CHECK(s->dataDir == "/var/lib/microscape-player");
    CHECK(s->output == OutputMode::Display);
    CHECK(s->width == 1920);
    CHECK(s->height == 540);
    CHECK(s->importDir == std::optional<std::string>("/media/usb"));
    CHECK(s->previewPath == "/run/microscape/preview.png");
    CHECK(s->logLevel == "debug");
    CHECK(s->logFormat == "journal");

    SECTION(
        "empty values keep the defaults: enrolled or X screen size, DIR/preview.png, no import "
        "folder") {
        auto e = parseRunProperties(
            "player.dataDir=/d\nplayer.output=headless\nplayer.width=\nplayer.height=\n"
            "player.importDir=\nplayer.preview=\n",
            "p");
        REQUIRE(e.ok());
        CHECK(e->output == OutputMode::Headless);
        CHECK_FALSE(e->width.has_value());
        CHECK_FALSE(e->height.has_value());
        CHECK(e->importDir == std::optional<std::string>(""));  // set, and empty: no folder
        CHECK(e->previewPath.empty());
        CHECK(e->logLevel == "information");
    }
    SECTION("absent keys leave the import folder to player.json") {
        auto e = parseRunProperties("player.dataDir: /d\n", "p");
        REQUIRE(e.ok());
        CHECK_FALSE(e->importDir.has_value());
        CHECK(e->output == OutputMode::Headless);
    }
    SECTION("a Chinese path survives") {
        auto e = parseRunProperties("player.dataDir = /srv/普法/屏幕 \n", "p");
        REQUIRE(e.ok());
        CHECK(e->dataDir == "/srv/普法/屏幕");  // trailing blank dropped
    }
}

TEST_CASE("a player properties file with an unknown key or a bad value is refused with a clear message",
          "[player][config]") {
    struct Case {
        const char* text;
        const char* mentions;
    };
    const Case cases[] = {
        {"player.dataDir=/d\nplayer.outptu=display\n", "unknown key player.outptu"},
        {"player.dataDir=/d\nplayer.width.max=3\n", "unknown key player.width.max"},
        {"player.output=fullscreen\n", "player.output must be display or headless (got 'fullscreen')"},
        {"player.width=0\n", "player.width must be a whole number of pixels, 16..7680 (got 0)"},
        {"player.height=-540\n", "player.height must be a whole number of pixels, 16..7680"},
        {"player.width=20000\n", "(got 20000)"},
        {"player.width=1920px\n", "(got '1920px')"},
        {"player.height=1e3\n", "player.height"},
        {"player.logLevel=verbose\n", "player.logLevel must be one of"},
        {"player.logFormat=fancy\n", "player.logFormat must be auto, journal or text"},
        {"player.dataDir=\n", "player.dataDir must name the data directory"},
    };
    for (const auto& c : cases) {
        INFO(c.text);
        auto s = parseRunProperties(c.text, "/etc/microscape/player.properties");
        REQUIRE_FALSE(s.ok());
        CHECK(s.code() == Errc::Usage);
        CHECK_THAT(s.error().message, Catch::Contains(c.mentions));
        CHECK_THAT(s.error().message, Catch::StartsWith("/etc/microscape/player.properties: "));
    }
    SECTION("an unknown key lists the known ones") {
        auto s = parseRunProperties("player.resolution=1920x540\n", "p");
        REQUIRE_FALSE(s.ok());
        CHECK_THAT(s.error().message, Catch::Contains("player.width, player.height"));
    }
    SECTION("keys of other parts are left alone") {
        CHECK(parseRunProperties("logging.channels.c1.class = ConsoleChannel\nplayer.dataDir=/d\n", "p").ok());
    }
    SECTION("a missing file is an I/O error naming it") {
        auto s = loadRunProperties("/nonexistent/player.properties");
        REQUIRE_FALSE(s.ok());
        CHECK(s.code() == Errc::Io);
        CHECK_THAT(s.error().message, Catch::Contains("/nonexistent/player.properties"));
    }
}

TEST_CASE("command-line flags win over the properties file", "[player][config]") {
    auto s = parseRunProperties(kFull, "player.properties");
    REQUIRE(s.ok());
    REQUIRE(applyRunFlag(*s, "headless", "").ok());
    REQUIRE(applyRunFlag(*s, "width", "1080").ok());
    REQUIRE(applyRunFlag(*s, "height", "1920").ok());
    REQUIRE(applyRunFlag(*s, "data-dir", "/tmp/screen").ok());
    REQUIRE(applyRunFlag(*s, "import-dir", "").ok());
    REQUIRE(applyRunFlag(*s, "preview", "/tmp/p.png").ok());
    REQUIRE(applyRunFlag(*s, "log-level", "warning").ok());
    CHECK(s->output == OutputMode::Headless);
    CHECK(s->width == 1080);
    CHECK(s->height == 1920);
    CHECK(s->dataDir == "/tmp/screen");
    CHECK(s->importDir == std::optional<std::string>(""));
    CHECK(s->previewPath == "/tmp/p.png");
    CHECK(s->logLevel == "warning");
    REQUIRE(applyRunFlag(*s, "display", "").ok());
    CHECK(s->output == OutputMode::Display);

    SECTION("a bad flag value names the flag") {
        auto r = applyRunFlag(*s, "width", "wide");
        REQUIRE_FALSE(r.ok());
        CHECK_THAT(r.error().message, Catch::StartsWith("--width must be a whole number of pixels"));
        CHECK(s->width == 1080);  // unchanged
    }
    SECTION("an unknown flag is refused") {
        CHECK(applyRunFlag(*s, "fullscreen", "").code() == Errc::Usage);
    }
    SECTION("the merged settings are checked as a whole") {
        CHECK(checkRunSettings(*s).ok());
        REQUIRE(applyRunFlag(*s, "width", "").ok());  // width unset, height still set
        auto r = checkRunSettings(*s);
        CHECK(r.code() == Errc::Usage);
        CHECK_THAT(r.error().message, Catch::Contains("both width and height"));
        REQUIRE(applyRunFlag(*s, "height", "").ok());
        CHECK(checkRunSettings(*s).ok());  // neither: enrolled or X screen size
        s->dataDir.clear();
        CHECK_THAT(checkRunSettings(*s).error().message, Catch::Contains("run needs --data-dir"));
    }
}

TEST_CASE("player.json keeps the enrolled screen size and refuses nonsense", "[player][config]") {
    microscape::testing::TempDir t;
    const fs::path dir = t.path;
    fs::create_directories(dir / "keys");
    { std::ofstream(dir / kContentKeyFile) << testing::testKey(1).publicKey().toPem(); }
    PlayerConfig c;
    c.dataDir = dir;
    c.playerId = "scr-0123456789abcdef";
    c.endpoint = "tcp://127.0.0.1:5560";
    c.curve = false;
    c.width = 1920;
    c.height = 540;
    REQUIRE(saveConfig(c).ok());
    auto back = loadConfig(dir);
    REQUIRE(back.ok());
    CHECK(back->width == 1920);
    CHECK(back->height == 540);
    CHECK(back->orientation == "landscape");
    CHECK_THAT(microscape::testing::readFile((dir / kConfigFile).string()),
               Catch::Contains("\"orientation\": \"landscape\""));

    c.width = 1080;
    c.height = 1920;
    REQUIRE(saveConfig(c).ok());
    CHECK(loadConfig(dir)->orientation == "portrait");

    SECTION("an older player.json without a size still loads") {
        c.width.reset();
        c.height.reset();
        REQUIRE(saveConfig(c).ok());
        auto o = loadConfig(dir);
        REQUIRE(o.ok());
        CHECK_FALSE(o->width.has_value());
    }
    SECTION("a hand-edited size out of range is refused") {
        auto text = microscape::testing::readFile((dir / kConfigFile).string());
        auto at = text.find("\"width\": 1080");
        REQUIRE(at != std::string::npos);
        text.replace(at, 13, "\"width\": 0");
        microscape::testing::writeFile((dir / kConfigFile).string(), text);
        auto o = loadConfig(dir);
        REQUIRE_FALSE(o.ok());
        CHECK_THAT(o.error().message, Catch::Contains("width must be 16..7680"));
    }
}

TEST_CASE("screen sides parse as whole pixels within 16..7680", "[player][config]") {
    CHECK(parseScreenSide("16", "w").value() == 16);
    CHECK(parseScreenSide("7680", "w").value() == 7680);
    for (const char* bad : {"0", "-1", "15", "7681", "16384", "", " 5", "5 ", "0x10", "1.5", "99999999999"})
        CHECK(parseScreenSide(bad, "w").code() == Errc::Usage);
    CHECK(orientationOf(1920, 540) == "landscape");
    CHECK(orientationOf(1080, 1920) == "portrait");
    CHECK(orientationOf(1000, 1000) == "landscape");
}

TEST_CASE("enroll refuses a nonsense screen size before it contacts anyone", "[player][config][enroll]") {
    microscape::testing::TempDir t;
    const std::string dir = (t.path / "screen").string();
    struct Case {
        std::vector<std::string> size;
        const char* says;
    };
    const Case cases[] = {
        {{"--width", "0", "--height", "540"}, "--width must be a whole number of pixels, 16..7680 (got 0)"},
        {{"--width", "1920", "--height", "-540"}, "--height must be a whole number of pixels, 16..7680 (got -540)"},
        {{"--width", "20000", "--height", "540"}, "(got 20000)"},
        {{"--width", "1920x540", "--height", "540"}, "(got '1920x540')"},
        {{"--width", "1920"}, "--width and --height go together"},
    };
    for (const auto& c : cases) {
        std::vector<std::string> args{MICROSCAPE_PLAYER_BIN,
                                      "enroll",
                                      "--controller-http",
                                      "http://127.0.0.1:9",
                                      "--token",
                                      "enr_x",
                                      "--data-dir",
                                      dir,
                                      "--insecure-http",
                                      "--content-key-hash",
                                      "sha256:" + std::string(64, 'a')};
        args.insert(args.end(), c.size.begin(), c.size.end());
        auto r = microscape::testing::runProcess(args);
        INFO(r.err);
        CHECK(r.exitCode == 64);
        CHECK_THAT(r.err, Catch::Contains(c.says));
        CHECK_FALSE(fs::exists(fs::path(dir) / kConfigFile));
    }
}

TEST_CASE("the packaged deploy/player.properties is a valid player configuration", "[player][config]") {
    const fs::path shipped = fs::path(MICROSCAPE_SOURCE_DIR) / "deploy" / "player.properties";
    REQUIRE(fs::exists(shipped));
    auto s = loadRunProperties(shipped);
    INFO((s.ok() ? std::string() : s.error().message));
    REQUIRE(s.ok());
    CHECK(checkRunSettings(*s).ok());
    CHECK(s->output == OutputMode::Display);  // the service shows the picture
    CHECK_FALSE(s->dataDir.empty());
}
