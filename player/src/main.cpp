// microscape-player: enrol; run the screen (sync agent, headless playback
// engine, proof-of-play journal and its upload); import a bundle file; or
// print the local state.
#include <Poco/AutoPtr.h>
#include <Poco/ConsoleChannel.h>
#include <Poco/FormattingChannel.h>
#include <Poco/Logger.h>
#include <Poco/PatternFormatter.h>
#include <signal.h>
#include <time.h>

#include <chrono>
#include <cstring>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "microscape/core/json.hpp"
#include "microscape/core/schedule.hpp"
#include "microscape/player/agent.hpp"
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

const char* kUsage =
    "usage:\n"
    "  microscape-player enroll --controller-http URL --token TOKEN --data-dir DIR\n"
    "                           [--name NAME] [--width W --height H] [--hub-endpoint tcp://HOST:PORT]\n"
    "  microscape-player run    --data-dir DIR [--import-dir DIR] [--log-level LEVEL]\n"
    "                           [--width W --height H] [--preview FILE.png] [--no-playback]\n"
    "  microscape-player import --data-dir DIR BUNDLE.tar\n"
    "  microscape-player status --data-dir DIR\n"
    "\n"
    "run plays the active bundle headless at W x H (default 1280x720), rewrites a\n"
    "preview image (default DIR/preview.png), journals every play in DIR/state.db and\n"
    "uploads the records to the controller. --no-playback runs the sync agent only.\n";

constexpr const char* kSoftware = "microscape-player " MICROSCAPE_VERSION;

std::int64_t nowMs() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

int fail(const std::string& msg, int code = 1) {
    std::cerr << "microscape-player: " << msg << "\n";
    return code;
}

int exitCodeOf(const Error& e) { return e.code == Errc::Usage ? 2 : 1; }

struct Args {
    std::string command;
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
        if (s == "--no-playback") {  // the one flag without a value
            a.opts[s.substr(2)] = "1";
        } else if (s.rfind("--", 0) == 0) {
            if (i + 1 >= argc) {
                err = s + " needs a value";
                return false;
            }
            a.opts[s.substr(2)] = argv[++i];
        } else {
            a.positional.push_back(s);
        }
    }
    return true;
}

void setupLogging(const std::string& level) {
    Poco::AutoPtr<Poco::PatternFormatter> fmt(new Poco::PatternFormatter("%Y-%m-%dT%H:%M:%S.%iZ %p %s: %t"));
    Poco::AutoPtr<Poco::ConsoleChannel> console(new Poco::ConsoleChannel(std::cerr));
    Poco::AutoPtr<Poco::FormattingChannel> ch(new Poco::FormattingChannel(fmt, console));
    Poco::Logger::root().setChannel(ch);
    Poco::Logger::root().setLevel(level);
}

int cmdEnroll(const Args& a) {
    EnrollRequest r;
    for (const char* k : {"controller-http", "token", "data-dir"})
        if (!a.opts.count(k)) return fail(std::string("enroll needs --") + k + "\n" + kUsage, 2);
    r.controllerHttp = a.opts.at("controller-http");
    r.token = a.opts.at("token");
    r.dataDir = a.opts.at("data-dir");
    if (a.opts.count("name")) r.name = a.opts.at("name");
    if (a.opts.count("hub-endpoint")) r.hubEndpoint = a.opts.at("hub-endpoint");
    try {
        if (a.opts.count("width")) r.width = std::stoi(a.opts.at("width"));
        if (a.opts.count("height")) r.height = std::stoi(a.opts.at("height"));
    } catch (...) {
        return fail("--width and --height take integers", 2);
    }
    r.software = kSoftware;
    auto c = enroll(r);
    if (!c) return fail(c.error().str(), exitCodeOf(c.error()));
    std::cout << "enrolled as " << c->playerId << "; hub " << c->endpoint << (c->curve ? " (CURVE)" : " (plain)")
              << "; config in " << (c->dataDir / kConfigFile).string() << "\n";
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
                        {"failed", st.failed}};
}

std::int64_t steadyNowMs() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

int cmdRun(const Args& a) {
    if (!a.opts.count("data-dir")) return fail(std::string("run needs --data-dir\n") + kUsage, 2);
    setupLogging(a.opts.count("log-level") ? a.opts.at("log-level") : "information");
    auto& log = Poco::Logger::get("player");
    auto c = loadConfig(a.opts.at("data-dir"));
    if (!c) return fail(c.error().str(), exitCodeOf(c.error()));
    if (a.opts.count("import-dir")) c->importDir = a.opts.at("import-dir");
    const bool playback = !a.opts.count("no-playback");
    EngineConfig ec;
    ec.playerId = c->playerId;
    ec.headless = true;
    try {
        if (a.opts.count("width")) ec.width = std::stoi(a.opts.at("width"));
        if (a.opts.count("height")) ec.height = std::stoi(a.opts.at("height"));
    } catch (...) {
        return fail("--width and --height take integers", 2);
    }
    ec.previewPath = a.opts.count("preview") ? a.opts.at("preview") : (c->dataDir / "preview.png").string();

    // Signals are taken by sigtimedwait below, never by a handler; block them
    // before any thread starts so that every thread inherits the mask.
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, nullptr);

    auto identity = crypto::PrivateKey::load((c->dataDir / kIdentityKeyFile).string());
    if (!identity) return fail("identity key: " + identity.error().str());
    auto journal = Journal::open(JournalConfig{(c->dataDir / "state.db").string(), c->playerId});
    if (!journal) return fail("proof-of-play journal: " + journal.error().str(), exitCodeOf(journal.error()));

    // Destroyed in reverse: agent, engine, journal.
    std::unique_ptr<Engine> engine;
    if (playback) {
        auto e = Engine::create(ec, journal->get());
        if (!e) return fail("playback engine: " + e.error().str(), exitCodeOf(e.error()));
        engine = std::move(*e);
    }
    AgentOptions o;
    o.software = kSoftware;
    SyncAgent agent(*c, o, Poco::Logger::get("player.sync"));
    agent.setJournal(journal->get(), std::move(*identity));
    Engine* eng = engine.get();
    // Called on the agent thread (at start() for the cached bundle, then after
    // each activation): only hands the bundle to the engine's queue.
    agent.setActivationListener([eng, &log](const ActivatedBundle& b) {
        log.information("active bundle %s version %Ld in %s", b.manifest.bundleId, b.manifest.version, b.dir.string());
        if (!eng) return;
        auto bundle = ActiveBundle::fromManifest(b.manifest, b.blobsDir.string());
        if (!bundle) {
            log.error("active bundle version %Ld cannot be played: %s", b.manifest.version, bundle.error().str());
            return;
        }
        eng->setBundle(std::move(*bundle));
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
    if (engine) engine->start();
    if (auto st = agent.start(); !st) {
        if (engine) engine->stop();
        return fail(st.error().str());
    }
    sdNotify("READY=1");
    log.information("running as %s: %s", c->playerId,
                    playback ? "headless " + std::to_string(ec.width) + "x" + std::to_string(ec.height) + ", preview " +
                                   ec.previewPath
                             : std::string("no playback"));

    const std::int64_t pingEveryMs = watchdogPingIntervalMs();
    std::int64_t lastPingMs = 0;
    std::int64_t lastSkewMs = 0;
    bool skewSent = false;
    int sig = 0;
    for (;;) {
        const timespec turn{0, 250'000'000};
        sig = sigtimedwait(&set, nullptr, &turn);
        if (sig == SIGINT || sig == SIGTERM) break;
        const auto t = steadyNowMs();
        if (engine) {
            agent.setPlayback(playbackJson(engine->nowPlaying(), engine->stats()));
            // The records carry player minus controller; the agent knows controller minus player.
            const std::int64_t skew = -agent.clockOffsetMs();
            if (!skewSent || skew != lastSkewMs) {
                engine->setClockSkew(skew);
                lastSkewMs = skew;
                skewSent = true;
            }
        }
        if (pingEveryMs > 0 && t - lastPingMs >= pingEveryMs) {
            // A hung playback thread stops the pings and systemd restarts us.
            if (!engine || engineAlive(engine->lastLoopSteadyMs(), t)) {
                sdNotify("WATCHDOG=1");
                lastPingMs = t;
            }
        }
    }
    log.information("signal %d: stopping", sig);
    sdNotify("STOPPING=1");
    if (engine) engine->stop();  // journals the play on air as interrupted
    agent.stop();
    return 0;
}

int cmdImport(const Args& a) {
    if (!a.opts.count("data-dir") || a.positional.size() != 1)
        return fail(std::string("import needs --data-dir and one BUNDLE.tar\n") + kUsage, 2);
    auto c = loadConfig(a.opts.at("data-dir"));
    if (!c) return fail(c.error().str(), exitCodeOf(c.error()));
    BundleStore store(c->dataDir, c->contentKeys, c->playerId);
    Cache cache(c->dataDir, c->quotaBytes);
    auto r = importBundle(a.positional[0], store, cache, nowMs());
    if (!r) return fail("import refused: " + r.error().str());
    std::cout << "imported version " << r->version << " (" << r->bundleId << "): " << r->mediaCount << " media, "
              << r->mediaCopied << " copied\n";
    return 0;
}

int cmdStatus(const Args& a) {
    if (!a.opts.count("data-dir")) return fail(std::string("status needs --data-dir\n") + kUsage, 2);
    auto c = loadConfig(a.opts.at("data-dir"));
    if (!c) return fail(c.error().str(), exitCodeOf(c.error()));
    BundleStore store(c->dataDir, c->contentKeys, c->playerId);
    auto act = store.active();
    json::Object o{{"player_id", c->playerId}, {"endpoint", c->endpoint}};
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

}  // namespace

int main(int argc, char** argv) {
    Args a;
    std::string err;
    if (!parseArgs(argc, argv, a, err)) return fail(err + "\n" + kUsage, 2);
    if (a.command == "enroll") return cmdEnroll(a);
    if (a.command == "run") return cmdRun(a);
    if (a.command == "import") return cmdImport(a);
    if (a.command == "status") return cmdStatus(a);
    if (a.command == "--version") {
        std::cout << kSoftware << "\n";
        return 0;
    }
    if (a.command == "--help" || a.command == "help") {
        std::cout << kUsage;
        return 0;
    }
    return fail("unknown command '" + a.command + "'\n" + kUsage, 2);
}
