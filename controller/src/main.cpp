// microscape-controller: reads the configuration, then either creates an admin
// (--init-admin) or runs the server until SIGTERM/SIGINT. Exit status: the
// table of microscape/core/exit_codes.hpp (docs/exit-codes.md).
#include <Poco/Environment.h>
#include <Poco/File.h>
#include <Poco/Util/HelpFormatter.h>
#include <Poco/Util/Option.h>
#include <Poco/Util/OptionException.h>
#include <Poco/Util/OptionSet.h>
#include <Poco/Util/ServerApplication.h>

#include <cstdlib>
#include <filesystem>
#include <iostream>

#include "microscape/controller/config.hpp"
#include "microscape/controller/server.hpp"
#include "microscape/core/chunk_memory.hpp"
#include "microscape/core/exit_codes.hpp"
#include "microscape/core/log_setup.hpp"
#include "pop_ingest.hpp"
#include "store/copy.hpp"

#ifndef MICROSCAPE_VERSION
#define MICROSCAPE_VERSION "0.0.0"
#endif

using Poco::Util::Option;
using Poco::Util::OptionSet;
namespace exitcode = microscape::exitcode;

namespace {

class ControllerApp : public Poco::Util::ServerApplication {
  protected:
    void defineOptions(OptionSet& options) override {
        // Not ServerApplication's --daemon/--pidfile/--umask: systemd runs the
        // controller in the foreground (Type=simple) and owns those concerns.
        Application::defineOptions(options);
        options.addOption(Option("help", "h", "show this help").repeatable(false));
        options.addOption(Option("version", "V", "print the version and exit").repeatable(false));
        options.addOption(
            Option("config", "c", "load a .properties configuration file").argument("FILE").repeatable(false));
        options.addOption(Option("data-dir", "d", "data directory (controller.dataDir)").argument("DIR"));
        options.addOption(Option("store", "",
                                 "where the state lives: sqlite: (default) or postgresql://user@host:port/db "
                                 "(store.url; the password never here: store.passwordFile)")
                              .argument("URL"));
        options.addOption(Option("http-port", "p", "HTTP port, 0 for any free port (http.port)").argument("PORT"));
        options.addOption(Option("zmq-port", "z", "ZeroMQ hub port (zmq.port)").argument("PORT"));
        options.addOption(Option("bind", "b", "address for HTTP and the hub (http.bind, zmq.bind)").argument("ADDR"));
        options.addOption(Option("init-admin", "",
                                 "create an admin account and exit; password from "
                                 "MICROSCAPE_ADMIN_PASSWORD or generated and printed")
                              .argument("NAME"));
        options.addOption(Option("openapi", "",
                                 "print the HTTP API's OpenAPI 3.0 document (what GET "
                                 "/api/v1/openapi.json serves) and exit")
                              .repeatable(false));
        options.addOption(Option("copy-store-to", "",
                                 "copy this deployment's SQLite store into an empty PostgreSQL database and exit "
                                 "(the password from MICROSCAPE_STORE_PASSWORD)")
                              .argument("URL"));
        options.addOption(Option("rebuild-rollups", "",
                                 "recompute the play-count rollups from the stored "
                                 "proof-of-play records and exit"));
    }

    void handleOption(const std::string& name, const std::string& value) override {
        ServerApplication::handleOption(name, value);
        if (name == "help") {
            help_ = true;
            stopOptionsProcessing();
        } else if (name == "version") {
            version_ = true;
            stopOptionsProcessing();
        } else if (name == "openapi") {
            openapi_ = true;
            stopOptionsProcessing();
        } else if (name == "config") {
            if (!Poco::File(value).exists()) {
                optionError_ = "configuration file '" + value + "' does not exist";
                stopOptionsProcessing();
                return;
            }
            try {
                loadConfiguration(value, PRIO_DEFAULT);
            } catch (const Poco::Exception& e) {
                optionError_ = "cannot read configuration file '" + value + "': " + e.displayText();
                stopOptionsProcessing();
            }
        } else if (name == "data-dir") {
            config().setString("controller.dataDir", value);
        } else if (name == "store") {
            config().setString("store.url", value);
        } else if (name == "http-port") {
            config().setString("http.port", value);
        } else if (name == "zmq-port") {
            config().setString("zmq.port", value);
        } else if (name == "bind") {
            config().setString("http.bind", value);
            config().setString("zmq.bind", value);
        } else if (name == "init-admin") {
            initAdmin_ = value;
        } else if (name == "copy-store-to") {
            copyStoreTo_ = value;
        } else if (name == "rebuild-rollups") {
            rebuildRollups_ = true;
        }
    }

    int main(const ArgVec& args) override {
        if (help_) {
            Poco::Util::HelpFormatter hf(options());
            hf.setCommand(commandName());
            hf.setUsage(
                "[--config FILE] [--data-dir DIR] [--store URL] [--http-port N] [--zmq-port N] [--bind ADDR] "
                "[--init-admin NAME] [--rebuild-rollups] [--copy-store-to URL] [--openapi]");
            hf.setHeader("Microscape controller: content library, scheduling and signed per-screen manifests.");
            hf.setFooter(exitcode::kHelpText);
            hf.format(std::cout);
            return exitcode::kOk;
        }
        if (version_) {
            std::cout << "microscape-controller " << MICROSCAPE_VERSION << "\n";
            return exitcode::kOk;
        }
        if (openapi_) {
            std::cout << microscape::controller::openApiJson() << "\n";
            return exitcode::kOk;
        }
        if (!optionError_.empty()) {
            std::cerr << "microscape-controller: " << optionError_ << "\n";
            return exitcode::kConfig;
        }
        if (!args.empty()) {
            std::cerr << "microscape-controller: unexpected argument '" << args.front()
                      << "' (see microscape-controller --help)\n";
            return exitcode::kUsage;
        }
        auto cfg = microscape::controller::loadConfig(config());
        if (!cfg) {
            std::cerr << "microscape-controller: bad configuration: " << cfg.error().message << "\n";
            return exitcode::kConfig;
        }
        // One logging scheme with the player (docs/logging.md), unless the file
        // configures Poco's own (logging.*), which then stays as it is.
        Poco::Util::AbstractConfiguration::Keys pocoLogging;
        config().keys("logging", pocoLogging);
        if (pocoLogging.empty())
            microscape::logsetup::configure(
                cfg->logLevel,
                microscape::logsetup::parseFormat(cfg->logFormat).value_or(microscape::logsetup::Format::Auto));
        auto& log = Poco::Logger::get("controller");
        if (!initAdmin_.empty()) {
            std::string password = Poco::Environment::get("MICROSCAPE_ADMIN_PASSWORD", "");
            const bool generated = password.empty();
            auto r = microscape::controller::initAdmin(*cfg, initAdmin_, password);
            if (!r) {
                std::cerr << "microscape-controller: " << r.error().message << "\n";
                return r.code() == microscape::Errc::Exists ? exitcode::kFailure : exitcode::kCantCreate;
            }
            std::cout << "created admin '" << initAdmin_ << "'";
            if (generated) std::cout << " with password: " << *r;
            std::cout << std::endl;
            return exitcode::kOk;
        }
        if (!copyStoreTo_.empty()) return copyStore(*cfg);
        if (rebuildRollups_) {
            if (auto st = microscape::controller::prepareDataDir(*cfg); !st) {
                std::cerr << "microscape-controller: " << st.error().message << "\n";
                return exitcode::kCantCreate;
            }
            try {
                microscape::controller::Db db(microscape::controller::storeUrl(*cfg),
                                              microscape::controller::storeOptions(*cfg));
                microscape::controller::PopIngest ingest(db);
                auto n = ingest.rebuildRollups();
                if (!n) {
                    std::cerr << "microscape-controller: " << n.error().message << "\n";
                    return exitcode::kSoftware;
                }
                std::cout << "rebuilt the rollups from " << *n << " play records" << std::endl;
                return exitcode::kOk;
            } catch (const std::exception& e) {
                std::cerr << "microscape-controller: cannot open the database: " << e.what() << "\n";
                return exitcode::kCantCreate;
            }
        }
        microscape::controller::ControllerServer server(*cfg, log);
        if (auto st = server.start(); !st) {
            std::cerr << "microscape-controller: cannot start: " << st.error().message << "\n";
            return st.code() == microscape::Errc::Usage ? exitcode::kConfig : exitcode::kCantCreate;
        }
        // Tools and tests that start us with --http-port 0 read the port from here.
        std::cout << "listening on " << (cfg->tls ? "https://" : "http://") << cfg->httpBind << ":" << server.httpPort()
                  << std::endl;
        if (cfg->tls) std::cout << "TLS key " << server.tlsKeyHash() << std::endl;
        waitForTerminationRequest();
        log.information("termination requested; shutting down");
        server.stop();
        return exitcode::kOk;
    }

  private:
    // --copy-store-to URL: the SQLite store of this data directory into an empty PostgreSQL database.
    int copyStore(const microscape::controller::ControllerConfig& cfg) {
        namespace mc = microscape::controller;
        auto target = mc::sql::parseStoreUrl(copyStoreTo_, cfg.dataDir);
        if (!target) {
            std::cerr << "microscape-controller: --copy-store-to: " << target.error().message << "\n";
            return exitcode::kUsage;
        }
        target->password = cfg.store.password;  // store.passwordFile or MICROSCAPE_STORE_PASSWORD
        if (const char* env = std::getenv("MICROSCAPE_STORE_PASSWORD"); env && target->password.empty())
            target->password = env;
        const auto source = mc::storeUrl(cfg);
        if (source.backend != mc::sql::Backend::Sqlite || !std::filesystem::exists(source.sqliteFile)) {
            std::cerr << "microscape-controller: --copy-store-to: no SQLite store at " << source.display << "\n";
            return exitcode::kUsage;
        }
        try {
            mc::Db from(source);
            mc::Db to(*target);
            auto r = mc::copyStore(from, to, 5000, [](const std::string& table, std::int64_t n) {
                if (n % 100000 == 0) std::cout << "  " << table << ": " << n << " rows" << std::endl;
            });
            if (!r) {
                std::cerr << "microscape-controller: " << r.error().message << "\n";
                return r.code() == microscape::Errc::Usage ? exitcode::kUsage : exitcode::kSoftware;
            }
            for (const auto& [table, n] : r->rows)
                if (n) std::cout << table << ": " << n << " rows" << std::endl;
            std::cout << "copied " << r->totalRows << " rows from " << source.display << " to " << target->display
                      << std::endl;
            return exitcode::kOk;
        } catch (const std::exception& e) {
            std::cerr << "microscape-controller: cannot open a store: " << e.what() << "\n";
            return exitcode::kCantCreate;
        }
    }

    bool help_ = false;
    bool version_ = false;
    bool openapi_ = false;
    std::string optionError_;
    std::string initAdmin_;
    bool rebuildRollups_ = false;
    std::string copyStoreTo_;
};

}  // namespace

// Instead of POCO_SERVER_MAIN, whose option errors all exit 78 (EX_CONFIG) with
// Poco's own message: a bad command line is a usage error (64).
int main(int argc, char** argv) {
    microscape::keepChunkBuffers();
    ControllerApp app;
    try {
        app.init(argc, argv);
    } catch (const Poco::Util::OptionException& e) {
        std::cerr << "microscape-controller: " << e.displayText() << " (see microscape-controller --help)\n";
        return exitcode::kUsage;
    } catch (const Poco::Exception& e) {
        std::cerr << "microscape-controller: " << e.displayText() << "\n";
        return exitcode::kConfig;
    }
    return app.Poco::Util::Application::run();
}
