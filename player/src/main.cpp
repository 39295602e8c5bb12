// microscape-player: enrol; run the screen (sync agent, headless playback
// engine, proof-of-play journal and its upload); import a bundle file; or
// print the local state.
#include <Poco/AutoPtr.h>
#include <Poco/Logger.h>
#include <signal.h>
#include <time.h>

#include <algorithm>
#include <cstring>
#include <iostream>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "microscape/core/chunk_memory.hpp"
#include "microscape/core/clock.hpp"
#include "microscape/core/exit_codes.hpp"
#include "microscape/core/json.hpp"
#include "microscape/core/log_setup.hpp"
#include "microscape/core/schedule.hpp"
#include "microscape/core/time.hpp"
#include "microscape/core/tz.hpp"
#include "microscape/player/agent.hpp"
#include "microscape/player/config.hpp"
#include "microscape/player/display.hpp"
#include "microscape/player/engine.hpp"
#include "microscape/player/engine_frame.hpp"
#include "microscape/player/engine_watchdog.hpp"
#include "microscape/player/enroll.hpp"
#include "microscape/player/journal.hpp"
#include "microscape/player/sync.hpp"

#ifndef MICROSCAPE_VERSION
#define MICROSCAPE_VERSION "0.0.0"
#endif

using namespace microscape;
using namespace microscape::player;

namespace {

const char* kMainHelp =
    "microscape-player: the screen of a Microscape signage network\n"
    "\n"
    "usage:\n"
    "  microscape-player enroll --controller-http https://HOST:PORT --token TOKEN\n"
    "                           --content-key-hash sha256:HEX --tls-key-hash sha256:HEX\n"
    "                           --data-dir DIR [...]\n"
    "  microscape-player run    [--config FILE.properties] [--data-dir DIR] [--display | "
    "--headless] [...]\n"
    "  microscape-player import (--data-dir DIR | --config FILE) BUNDLE.tar\n"
    "  microscape-player status (--data-dir DIR | --config FILE)\n"
    "  microscape-player id     (--data-dir DIR | --config FILE)\n"
    "  microscape-player head   (--data-dir DIR | --config FILE)\n"
    "  microscape-player --help | -h | --version\n"
    "\n"
    "Commands:\n"
    "  enroll    register this screen with a one-time token from the console\n"
    "  run       play the active bundle, journal and upload proof of play\n"
    "  import    verify a bundle file (USB stick) and activate it\n"
    "  status    print the data directory's state as JSON\n"
    "  id        print this screen's player id and identity key (what an auditor pins)\n"
    "  head      print this screen's signed proof-of-play head statement\n"
    "\n"
    "Run 'microscape-player COMMAND --help' for the options of a command.\n"
    "See docs/player.md.\n";

const std::map<std::string, std::string> kCommandHelp = {
    {"enroll",
     "usage: microscape-player enroll --controller-http https://HOST:PORT --token TOKEN\n"
     "                                --content-key-hash sha256:HEX --tls-key-hash sha256:HEX\n"
     "                                --data-dir DIR [--name NAME] [--width W --height H]\n"
     "                                [--hub-endpoint tcp://HOST:PORT[,tcp://HOST:PORT...]] [--insecure-http]\n"
     "\n"
     "Registers this screen with a one-time token and writes DIR/player.json; paste\n"
     "the command the console shows: it pins the controller's keys. The TLS key\n"
     "must match --tls-key-hash before the token is sent (no CA is consulted), the\n"
     "content signing key must match --content-key-hash and the answer must name the\n"
     "hub's CURVE key; otherwise enroll refuses and writes nothing. --insecure-http\n"
     "allows a plain http:// controller on a trusted link (the content key is still\n"
     "checked; the token and the hub key are not protected).\n"
     "--width/--height (16..7680) are the screen's resolution (1920 x 540 for an LED\n"
     "strip, 1080 x 1920 for a portrait panel), kept in player.json for run.\n"
     "With several controller nodes the controller names every node's hub; the\n"
     "screen uses the first and moves to the next when one goes silent.\n"
     "--hub-endpoint replaces the hubs the controller names (a NAT, a relay).\n"},
    {"run",
     "usage: microscape-player run [--config FILE.properties] [--data-dir DIR] [--display | "
     "--headless]\n"
     "                             [--width W --height H] [--import-dir DIR] [--preview FILE.png]\n"
     "                             [--log-level LEVEL] [--log-format auto|journal|text] "
     "[--no-playback]\n"
     "\n"
     "Plays the active bundle, journals every play in DIR/state.db, uploads the\n"
     "records to the controller and rewrites a preview image (default DIR/preview.png).\n"
     "  --display     also shows the frames in a fullscreen window on $DISPLAY (X11 or\n"
     "                XWayland); exits with status 1 if the X server goes away\n"
     "  --headless    frames in memory only (the default): tests, demos, CI\n"
     "  size          --width/--height (both or neither), else the enrolled size, else\n"
     "                the X screen's size (display) or 1280 x 720 (headless)\n"
     "  --config      a .properties file with player.dataDir, player.output\n"
     "                (display|headless), player.width, player.height, player.importDir,\n"
     "                player.preview, player.logLevel, player.logFormat; flags given on\n"
     "                the command line win\n"
     "  --log-level   none, fatal, critical, error, warning, notice, information\n"
     "                (default), debug, trace\n"
     "  --log-format  journal: '<N>' priorities, no time (for systemd's journal);\n"
     "                text: time and level; auto (default): journal when stderr is\n"
     "                the journal, else text\n"
     "  --no-playback runs the sync agent only.\n"},
    {"import",
     "usage: microscape-player import (--data-dir DIR | --config FILE) BUNDLE.tar\n"
     "\n"
     "Verifies a bundle file (USB stick) against the pinned content key and\n"
     "activates it; --config finds DIR in player.dataDir.\n"},
    {"status",
     "usage: microscape-player status (--data-dir DIR | --config FILE)\n"
     "\n"
     "Prints the data directory's state as JSON (enrolment, screen size, the active\n"
     "and staged bundle versions); --config finds DIR in player.dataDir.\n"},
    {"id",
     "usage: microscape-player id (--data-dir DIR | --config FILE)\n"
     "\n"
     "Prints this screen's player id, the id of its identity key and the public key\n"
     "(PEM): what an auditor pins with 'microscape-pack audit --player-key'.\n"},
    {"head",
     "usage: microscape-player head (--data-dir DIR | --config FILE)\n"
     "\n"
     "Prints one line, this screen's signed statement of the end of its proof-of-play\n"
     "journal (player, seq, hash, time): 'microscape-pack audit --head' checks that\n"
     "an export reaches it. A running player also shows it on screen, as a QR code\n"
     "for 60 s, when the controller sends it the show_head command.\n"},
};

// The usage of COMMAND (or of the program) and the exit status table.
std::string helpOf(const std::string& command) {
    auto it = kCommandHelp.find(command);
    return std::string(it == kCommandHelp.end() ? kMainHelp : it->second) + "\n" + exitcode::kHelpText;
}

constexpr const char* kSoftware = "microscape-player " MICROSCAPE_VERSION;
// How long the show_head command keeps the head's QR code on screen.
constexpr std::int64_t kHeadCardMs = 60000;

int fail(const std::string& msg, int code = 1) {
    std::cerr << "microscape-player: " << msg << "\n";
    return code;
}

// A bad command line: the message and where the help is.
int usage(const std::string& command, const std::string& msg) {
    return fail(msg + " (see 'microscape-player " + (command.empty() ? "" : command + " ") + "--help')",
                exitcode::kUsage);
}

// player.json (the data directory's enrolment) missing or invalid: the screen
// is not enrolled, a configuration error that no restart fixes.
int configFail(const Error& e) {
    return fail(e.str(), exitcode::kConfig);
}

struct Args {
    std::string command;
    std::string helpFor;  // the command whose --help was asked for
    std::map<std::string, std::string> opts;
    std::vector<std::string> positional;
};

bool parseArgs(int argc, char** argv, Args& a, std::string& err) {
    if (argc < 2) {
        err = "no command";
        return false;
    }
    a.command = argv[1];
    for (int i = 2; i < argc; ++i) {
        std::string s = argv[i];
        if (s == "--help" || s == "-h") {  // `microscape-player run --help` shows run's usage
            a.helpFor = a.command;
            a.command = "--help";
            return true;
        }
        if (s == "--version") {
            a.opts["version"] = "1";
        } else if (s == "--no-playback" || s == "--display" || s == "--headless" ||
                   s == "--insecure-http") {  // flags without a value
            a.opts[s.substr(2)] = "1";
        } else if (s.rfind("--", 0) == 0) {
            if (i + 1 >= argc) {
                err = s + " needs a value";
                return false;
            }
            a.opts[s.substr(2)] = argv[++i];
        } else if (s.size() > 1 && s[0] == '-') {
            err = "unknown option " + s;
            return false;
        } else {
            a.positional.push_back(s);
        }
    }
    return true;
}

int cmdEnroll(const Args& a) {
    EnrollRequest r;
    for (const char* k : {"controller-http", "token", "data-dir"})
        if (!a.opts.count(k)) return usage("enroll", std::string("enroll needs --") + k);
    r.controllerHttp = a.opts.at("controller-http");
    r.token = a.opts.at("token");
    r.dataDir = a.opts.at("data-dir");
    if (a.opts.count("name")) r.name = a.opts.at("name");
    if (a.opts.count("hub-endpoint")) r.hubEndpoint = a.opts.at("hub-endpoint");
    if (a.opts.count("content-key-hash")) r.contentKeyHash = a.opts.at("content-key-hash");
    if (a.opts.count("tls-key-hash")) r.tlsKeyHash = a.opts.at("tls-key-hash");
    r.insecureHttp = a.opts.count("insecure-http") > 0;
    for (auto [flag, out] : {std::pair{"width", &r.width}, std::pair{"height", &r.height}}) {
        if (!a.opts.count(flag)) continue;
        auto v = parseScreenSide(a.opts.at(flag), std::string("--") + flag);
        if (!v) return usage("enroll", v.error().message);
        *out = *v;
    }
    r.software = kSoftware;
    auto c = enroll(r);
    if (!c) return c.code() == Errc::Usage ? usage("enroll", c.error().str()) : fail(c.error().str());
    std::string hubs;
    for (const auto& e : c->endpoints) hubs += (hubs.empty() ? "" : ", ") + e;
    std::cout << "enrolled as " << c->playerId << "; " << (c->endpoints.size() > 1 ? "hubs " : "hub ")
              << (hubs.empty() ? c->endpoint : hubs) << (c->curve ? " (CURVE)" : " (plain)") << "; config in "
              << (c->dataDir / kConfigFile).string() << "\n";
    return 0;
}

json::Object playbackJson(const NowPlaying& n, const EngineStats& st) {
    return json::Object{{"state", std::string(schedule::stateName(n.state))},
                        {"source", std::string(schedule::sourceName(n.source))},
                        {"source_id", n.sourceId},
                        {"playlist", n.playlistId},
                        {"media", n.mediaSha256},
                        {"item", static_cast<std::int64_t>(n.itemIndex)},
                        {"since_utc_ms", n.onAirSinceUtcMs},
                        {"bundle_version", n.bundleVersion},
                        {"plays", st.plays},
                        {"failed", st.failed},
                        {"journal_errors", st.journalErrors},
                        {"journal_error", st.lastJournalError}};
}

// What the status card says besides the name and the clock. Written by the
// agent's listeners (agent thread); read by the engine's owner thread.
class StatusLines {
  public:
    StatusLines() {
        // Until a bundle brings its location's zone: Asia/Shanghai.
        if (auto bytes = tz::loadZoneFile("Asia/Shanghai"))
            if (auto z = tz::parseTzif(*bytes)) fallbackZone_ = std::move(*z);
    }
    void setConnected(bool connected, std::int64_t nowUtcMs) {
        std::lock_guard lock(mutex_);
        connected_ = connected;
        if (connected) lastSyncUtcMs_ = nowUtcMs;
    }
    void setBundle(std::int64_t version, std::vector<tz::OffsetSpan> offsets) {
        std::lock_guard lock(mutex_);
        version_ = version;
        offsets_ = std::move(offsets);
    }
    std::vector<std::string> lines() const {
        std::lock_guard lock(mutex_);
        std::vector<std::string> out;
        out.push_back(connected_ ? "控制器已连接 / controller connected" : "未连接控制器 / controller not connected");
        out.push_back(version_ > 0 ? "节目版本 / bundle v" + std::to_string(version_) : "尚无节目 / no bundle yet");
        out.push_back(lastSyncUtcMs_ > 0 ? "上次同步 / last sync " + localText(lastSyncUtcMs_)
                                         : "本次启动尚未同步 / not synced since start");
        return out;
    }

  private:
    // "YYYY-MM-DD HH:MM" on the location's wall clock.
    std::string localText(std::int64_t utcMs) const {
        std::int64_t local = utcMs;
        if (!offsets_.empty())
            local = tz::localFromUtc(offsets_, utcMs);
        else if (fallbackZone_)
            local = utcMs + std::int64_t{tz::utcOffsetAt(*fallbackZone_, utcMs)} * 1000;
        else
            local = utcMs + 8 * 3600 * 1000;         // no zone data: UTC+08:00, as the engine's card clock
        std::string s = timeutil::formatUtc(local);  // YYYY-MM-DDTHH:MM:SSZ
        return s.substr(0, 10) + " " + s.substr(11, 5);
    }

    mutable std::mutex mutex_;  // guards the members below
    bool connected_ = false;
    std::int64_t lastSyncUtcMs_ = 0;
    std::int64_t version_ = 0;
    std::vector<tz::OffsetSpan> offsets_;
    std::optional<tz::Zone> fallbackZone_;
};

// The settings of run: the --config file's, then the flags on top. A bad
// command line is a usage error; a bad file, or a combination the file makes
// invalid, a configuration error.
struct SettingsError {
    int exitCode;
    std::string message;
};
std::variant<RunSettings, SettingsError> runSettings(const Args& a, const std::vector<std::string>& allowed) {
    for (const auto& [k, v] : a.opts)
        if (std::find(allowed.begin(), allowed.end(), k) == allowed.end())
            return SettingsError{exitcode::kUsage, a.command + ": unknown option --" + k};
    if (a.opts.count("display") && a.opts.count("headless"))
        return SettingsError{exitcode::kUsage, "--display and --headless exclude each other"};
    RunSettings s;
    if (a.opts.count("config")) {
        auto f = loadRunProperties(a.opts.at("config"));
        if (!f) return SettingsError{exitcode::kConfig, f.error().message};
        s = std::move(*f);
    }
    for (const auto& [k, v] : a.opts)
        if (k != "config" && k != "no-playback")
            if (auto st = applyRunFlag(s, k, v); !st) return SettingsError{exitcode::kUsage, st.error().message};
    if (auto st = checkRunSettings(s); !st)
        return SettingsError{a.opts.count("config") ? exitcode::kConfig : exitcode::kUsage, st.error().message};
    return s;
}

// The engine's settings from the enrolment, the run settings and the X screen.
// sizeFrom says where the frame size came from (for the log).
EngineConfig engineConfigFor(const PlayerConfig& c, const RunSettings& rs, const X11Display* display,
                             std::string& sizeFrom) {
    EngineConfig ec;
    ec.playerId = c.playerId;
    ec.screenName = c.name;
    // The engine decodes into memory in both modes; the window shows those frames.
    // Display mode also plays sound through the system's audio output.
    ec.headless = !display;
    sizeFrom = "default";
    if (c.width && c.height) {
        ec.width = *c.width;
        ec.height = *c.height;
        sizeFrom = "enrolled";
    } else if (display) {
        ec.width = display->screenWidth();
        ec.height = display->screenHeight();
        sizeFrom = "X screen";
    }
    if (rs.width || rs.height) sizeFrom = "configured";
    if (rs.width) ec.width = *rs.width;
    if (rs.height) ec.height = *rs.height;
    ec.previewPath = !rs.previewPath.empty() ? rs.previewPath : (c.dataDir / "preview.png").string();
    return ec;
}

// The agent's side of the wiring. Every listener runs on the agent thread and
// only posts: bundles and the clock offset to the engine's queue, the link to
// the status card's lines. eng may be null (--no-playback).
void wireAgent(SyncAgent& agent, Engine* eng, const std::shared_ptr<StatusLines>& statusLines, const Clock& clock,
               Poco::Logger& log) {
    // At start() for the cached bundle, then after each activation.
    agent.setActivationListener([eng, &log, statusLines](const ActivatedBundle& b) {
        log.information("active bundle %s version %Ld in %s", b.manifest.bundleId, b.manifest.version, b.dir.string());
        auto bundle = ActiveBundle::fromManifest(b.manifest, b.blobsDir.string());
        if (!bundle) {
            log.error("active bundle version %Ld cannot be played: %s", b.manifest.version, bundle.error().str());
            return;
        }
        statusLines->setBundle(b.manifest.version, bundle->schedule.offsets);
        if (eng) eng->setBundle(std::move(*bundle));
    });
    agent.setLinkListener([eng, statusLines, &clock, skewSent = false, lastSkewMs = std::int64_t{0}](
                              bool connected, std::int64_t offsetMs) mutable {
        statusLines->setConnected(connected, clock.wallMs());
        // The records carry player minus controller; the agent knows controller minus player.
        const std::int64_t skew = -offsetMs;
        if (!eng || (skewSent && skew == lastSkewMs)) return;
        eng->setClockSkew(skew);
        lastSkewMs = skew;
        skewSent = true;
    });
    agent.setScreenshotHandler([eng]() {
        SyncAgent::Screenshot s;
        if (!eng) {
            s.message = "playback is off (--no-playback)";
            return s;
        }
        auto f = eng->snapshot();
        if (f.empty()) {
            s.message = "nothing on screen yet";
            return s;
        }
        s.png = encodePng(f);
        s.ok = !s.png.empty();
        s.message = s.ok ? std::to_string(f.width) + "x" + std::to_string(f.height) : "PNG encoding failed";
        return s;
    });
}

// Waits for SIGINT/SIGTERM (taken by sigtimedwait, never by a handler) or a
// lost X display, pinging systemd's watchdog while the playback thread turns.
// State between engine and agent does not pass through here. The exit code.
int superviseUntilStopped(const sigset_t& signals, X11Display* display, const Engine* engine, const Clock& clock,
                          Poco::Logger& log) {
    const std::int64_t pingEveryMs = watchdogPingIntervalMs();
    // Woken only to ping and, in display mode, to see whether the X server is still there.
    std::int64_t turnMs = pingEveryMs > 0 ? pingEveryMs : 1000;
    if (display) turnMs = std::min<std::int64_t>(turnMs, 250);
    std::int64_t lastPingMs = 0;
    for (;;) {
        const timespec turn{static_cast<time_t>(turnMs / 1000), static_cast<long>(turnMs % 1000) * 1'000'000};
        const int sig = sigtimedwait(&signals, nullptr, &turn);
        if (sig == SIGINT || sig == SIGTERM) {
            log.information("signal %d: stopping", sig);
            return 0;
        }
        if (display && display->lost()) {
            // systemd (Restart=on-failure) starts us again once the session is back.
            log.critical("the X display is gone: stopping (exit 1)");
            return 1;
        }
        const auto t = clock.steadyMs();
        if (pingEveryMs > 0 && t - lastPingMs >= pingEveryMs) {
            // A hung playback thread stops the pings and systemd restarts us.
            if (!engine || engineAlive(engine->lastLoopSteadyMs(), t)) {
                sdNotify("WATCHDOG=1");
                lastPingMs = t;
            }
        }
    }
}

// SIGINT and SIGTERM are taken by sigtimedwait, never by a handler: blocked here
// in the calling thread, and in every thread started after.
sigset_t blockStopSignals() {
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);
    return signals;
}

// What run is doing (ec: the engine's settings; null without playback).
void logRunning(Poco::Logger& log, const std::string& playerId, const X11Display* display, const EngineConfig* ec,
                const std::string& sizeFrom) {
    if (display && ec && (ec->width > display->screenWidth() || ec->height > display->screenHeight()))
        log.warning(
            "frames %dx%d are larger than the X screen %dx%d: only their centre shows (set the "
            "screen's resolution, or player.width/player.height)",
            ec->width, ec->height, display->screenWidth(), display->screenHeight());
    std::string mode = display
                           ? "display on " + display->name() + " (screen " + std::to_string(display->screenWidth()) +
                                 "x" + std::to_string(display->screenHeight()) + ")"
                           : std::string("headless");
    log.information("running as %s: %s", playerId,
                    ec ? mode + ", frames " + std::to_string(ec->width) + "x" + std::to_string(ec->height) + " (" +
                             sizeFrom + "), preview " + ec->previewPath
                       : mode + ", no playback");
}

void logDisplayStats(const X11Display& display, Poco::Logger& log) {
    const auto ds = display.stats();
    log.information("display: %Ld frames presented of %Ld polled, %Ld exposures, %Ld remaps, %Ld new windows%s",
                    static_cast<Poco::Int64>(ds.presented), static_cast<Poco::Int64>(ds.polls),
                    static_cast<Poco::Int64>(ds.exposures), static_cast<Poco::Int64>(ds.remapped),
                    static_cast<Poco::Int64>(ds.recreated), std::string(ds.sharedMemory ? ", MIT-SHM" : ""));
}

// run: builds the parts, wires them and waits for a signal. Who talks to whom:
// the agent posts bundles and the clock offset to the engine's queue (wireAgent);
// the engine hands what it plays to the agent's STATUS (onPlayback); the
// display polls the engine's frames. Shutdown order: display, engine (journals
// the play on air), agent; then the journal.
int cmdRun(const Args& a) {
    if (!a.positional.empty()) return usage("run", "run takes no arguments ('" + a.positional[0] + "')");
    auto settings = runSettings(a, {"config", "data-dir", "display", "headless", "width", "height", "import-dir",
                                    "preview", "log-level", "log-format", "no-playback"});
    if (auto* e = std::get_if<SettingsError>(&settings))
        return e->exitCode == exitcode::kUsage ? usage("run", e->message) : fail(e->message, e->exitCode);
    const RunSettings& rs = std::get<RunSettings>(settings);
    // Validated with the settings: parseFormat cannot fail here.
    logsetup::configure(rs.logLevel, logsetup::parseFormat(rs.logFormat).value_or(logsetup::Format::Auto));
    auto& log = Poco::Logger::get("player");
    const Clock& clock = systemClock();
    auto c = loadConfig(rs.dataDir);
    if (!c) return configFail(c.error());
    if (rs.importDir) c->importDir = *rs.importDir;
    const bool playback = !a.opts.count("no-playback");

    // Display mode: the X server first, since its screen may give the size.
    std::unique_ptr<X11Display> display;
    if (rs.output == OutputMode::Display) {
        DisplayOptions dopt;
        dopt.title = "Microscape 微景观 " + c->playerId;
        dopt.clock = &clock;
        auto d = X11Display::open(dopt, Poco::Logger::get("player.display"));
        if (!d) return fail("display mode: " + d.error().message);
        display = std::move(*d);
    }
    std::string sizeFrom;
    EngineConfig ec = engineConfigFor(*c, rs, display.get(), sizeFrom);
    ec.clock = &clock;
    auto statusLines = std::make_shared<StatusLines>();
    ec.statusLines = [statusLines] { return statusLines->lines(); };

    // Before any thread starts, so that every thread inherits the mask.
    const sigset_t signals = blockStopSignals();

    auto identity = crypto::PrivateKey::load((c->dataDir / kIdentityKeyFile).string());
    if (!identity) return fail("identity key: " + identity.error().str());
    auto journal = Journal::open(JournalConfig{(c->dataDir / "state.db").string(), c->playerId});
    if (!journal) return fail("proof-of-play journal: " + journal.error().str(), exitcode::kCantCreate);

    AgentOptions o;
    o.software = kSoftware;
    o.clock = &clock;
    // Declared before the engine, which reports to it: it outlives the engine.
    SyncAgent agent(*c, o, Poco::Logger::get("player.sync"));
    agent.setJournal(journal->get(), std::move(*identity));
    std::unique_ptr<Engine> engine;
    if (playback) {
        ec.onPlayback = [&agent](const NowPlaying& n, const EngineStats& st) {
            agent.setPlayback(playbackJson(n, st));
        };
        auto e = Engine::create(ec, journal->get());
        if (!e) return fail("playback engine: " + e.error().str());
        engine = std::move(*e);
    }
    wireAgent(agent, engine.get(), statusLines, clock, log);
    if (engine) {
        // show_head: the head statement, signed now, as a QR code on screen.
        auto headKey = crypto::PrivateKey::load((c->dataDir / kIdentityKeyFile).string());
        if (!headKey) return fail("identity key: " + headKey.error().str());
        agent.setHeadHandler([eng = engine.get(), j = journal->get(), id = c->playerId,
                              key = std::make_shared<const crypto::PrivateKey>(std::move(*headKey)), &clock]() {
            const pop::Head h = signedHead(*j, id, *key, clock.wallMs());
            eng->showHead(pop::canonicalBytes(h), "seq " + std::to_string(h.seq) + " · " + h.hash.substr(0, 16),
                          kHeadCardMs);
            return SyncAgent::HeadShown{true, "head seq " + std::to_string(h.seq) + " (" + h.hash.substr(0, 16) +
                                                  ") on screen for " + std::to_string(kHeadCardMs / 1000) + " s"};
        });
    }

    if (engine) engine->start();
    if (auto st = agent.start(); !st) {
        if (engine) engine->stop();
        return fail(st.error().str());
    }
    // Started last and stopped first: the presenter reads the engine's frames.
    Engine* eng = engine.get();
    if (display) display->start([eng]() { return eng ? eng->snapshot() : Frame{}; });
    sdNotify("READY=1");
    logRunning(log, c->playerId, display.get(), playback ? &ec : nullptr, sizeFrom);

    const int exitCode = superviseUntilStopped(signals, display.get(), engine.get(), clock, log);
    sdNotify("STOPPING=1");
    if (display) {
        display->stop();
        logDisplayStats(*display, log);
    }
    if (engine) engine->stop();  // journals the play on air as interrupted
    agent.stop();
    return exitCode;
}

Status onlyOptions(const Args& a, const std::vector<std::string>& allowed) {
    for (const auto& [k, v] : a.opts)
        if (std::find(allowed.begin(), allowed.end(), k) == allowed.end())
            return makeError(Errc::Usage, a.command + ": unknown option --" + k);
    return {};
}

// The data directory of import and status: --data-dir, else player.dataDir of
// --config (a usage error without either; a configuration error if the file is bad).
Result<std::string> dataDirOf(const Args& a) {
    if (a.opts.count("data-dir")) return a.opts.at("data-dir");
    if (a.opts.count("config")) {
        auto s = loadRunProperties(a.opts.at("config"));
        if (!s) return makeError(Errc::BadManifest, s.error().message);
        if (!s->dataDir.empty()) return s->dataDir;
    }
    return makeError(Errc::Usage, a.command + " needs --data-dir DIR (or --config FILE with player.dataDir)");
}

int cmdImport(const Args& a) {
    if (auto st = onlyOptions(a, {"data-dir", "config"}); !st) return usage("import", st.error().message);
    auto dir = dataDirOf(a);
    if (!dir) return dir.code() == Errc::Usage ? usage("import", dir.error().message) : configFail(dir.error());
    if (a.positional.size() != 1) return usage("import", "import needs one BUNDLE.tar");
    auto c = loadConfig(*dir);
    if (!c) return configFail(c.error());
    BundleStore store(c->dataDir, c->contentKeys, c->playerId);
    Cache cache(c->dataDir, c->quotaBytes);
    ImportOptions io;
    io.reserveBytes = c->quotaBytes ? 0 : c->reserveBytes;
    auto r = importBundle(a.positional[0], store, cache, systemClock().wallMs(), io);
    if (!r) return fail("import refused: " + r.error().str());
    std::cout << "imported version " << r->version << " (" << r->bundleId << "): " << r->mediaCount << " media, "
              << r->mediaCopied << " copied\n";
    return 0;
}

int cmdStatus(const Args& a) {
    if (auto st = onlyOptions(a, {"data-dir", "config"}); !st) return usage("status", st.error().message);
    if (!a.positional.empty()) return usage("status", "status takes no arguments ('" + a.positional[0] + "')");
    auto dir = dataDirOf(a);
    if (!dir) return dir.code() == Errc::Usage ? usage("status", dir.error().message) : configFail(dir.error());
    auto c = loadConfig(*dir);
    if (!c) return configFail(c.error());
    BundleStore store(c->dataDir, c->contentKeys, c->playerId);
    auto act = store.active();
    json::Object o{{"player_id", c->playerId}, {"endpoint", c->endpoint}, {"name", c->name}};
    if (c->width && c->height) {
        o["width"] = static_cast<std::int64_t>(*c->width);
        o["height"] = static_cast<std::int64_t>(*c->height);
        o["orientation"] = c->orientation;
    } else {
        o["width"] = json::Value();  // not given at enrolment: run takes the X screen's or 1280x720
        o["height"] = json::Value();
    }
    if (!act) {
        o["active_error"] = act.error().str();
    } else if (*act) {
        o["active_version"] = (*act)->manifest.version;
        o["bundle_id"] = (*act)->manifest.bundleId;
        o["media"] = static_cast<std::int64_t>((*act)->manifest.media.size());
    } else {
        o["active_version"] = 0;
    }
    if (auto s = store.staged()) o["staged_version"] = s->manifest.version;
    std::cout << json::canonical(json::Value(o)) << "\n";
    return act.ok() ? 0 : 1;
}

int cmdId(const Args& a) {
    if (auto st = onlyOptions(a, {"data-dir", "config"}); !st) return usage("id", st.error().message);
    if (!a.positional.empty()) return usage("id", "id takes no arguments ('" + a.positional[0] + "')");
    auto dir = dataDirOf(a);
    if (!dir) return dir.code() == Errc::Usage ? usage("id", dir.error().message) : configFail(dir.error());
    auto c = loadConfig(*dir);
    if (!c) return configFail(c.error());
    auto identity = crypto::PrivateKey::load((c->dataDir / kIdentityKeyFile).string());
    if (!identity) return fail(identity.error().str());
    const auto pub = identity->publicKey();
    std::cout << "player_id " << c->playerId << "\nkey_id " << pub.id() << "\n" << pub.toPem();
    return 0;
}

int cmdHead(const Args& a) {
    if (auto st = onlyOptions(a, {"data-dir", "config"}); !st) return usage("head", st.error().message);
    if (!a.positional.empty()) return usage("head", "head takes no arguments ('" + a.positional[0] + "')");
    auto dir = dataDirOf(a);
    if (!dir) return dir.code() == Errc::Usage ? usage("head", dir.error().message) : configFail(dir.error());
    auto c = loadConfig(*dir);
    if (!c) return configFail(c.error());
    auto identity = crypto::PrivateKey::load((c->dataDir / kIdentityKeyFile).string());
    if (!identity) return fail(identity.error().str());
    auto journal = Journal::open(JournalConfig{(c->dataDir / "state.db").string(), c->playerId});
    if (!journal) return fail(journal.error().str());
    std::cout << pop::canonicalBytes(signedHead(**journal, c->playerId, *identity, systemClock().wallMs())) << "\n";
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    microscape::keepChunkBuffers();
    Args a;
    std::string err;
    if (!parseArgs(argc, argv, a, err)) return usage(a.command == "--help" ? "" : a.command, err);
    if (a.command == "--version" || a.command == "-V" || a.opts.count("version")) {
        std::cout << kSoftware << "\n";
        return exitcode::kOk;
    }
    if (a.command == "--help" || a.command == "-h" || a.command == "help") {
        // `help COMMAND` as well as `COMMAND --help`.
        std::cout << helpOf(a.helpFor.empty() && !a.positional.empty() ? a.positional[0] : a.helpFor);
        return exitcode::kOk;
    }
    if (a.command == "enroll") return cmdEnroll(a);
    if (a.command == "run") return cmdRun(a);
    if (a.command == "import") return cmdImport(a);
    if (a.command == "status") return cmdStatus(a);
    if (a.command == "id") return cmdId(a);
    if (a.command == "head") return cmdHead(a);
    return usage("", "unknown command '" + a.command + "'");
}
