#include <Poco/AutoPtr.h>
#include <Poco/Util/MapConfiguration.h>

#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <fstream>
#include <thread>

#include "microscape/controller/config.hpp"
#include "microscape/controller/security.hpp"
#include "test_support.hpp"

using namespace microscape::controller;

namespace {
Poco::AutoPtr<Poco::Util::MapConfiguration> confWith(std::initializer_list<std::pair<const char*, const char*>> kv) {
    Poco::AutoPtr<Poco::Util::MapConfiguration> c(new Poco::Util::MapConfiguration);
    for (auto& [k, v] : kv) c->setString(k, v);
    return c;
}
}  // namespace

TEST_CASE("config reads defaults and validates every key", "[controller][config]") {
    SECTION("defaults") {
        auto r = loadConfig(*confWith({{"controller.dataDir", "/tmp/x"}}));
        REQUIRE(r.ok());
        CHECK(r->httpPort == 8080);
        CHECK(r->pbkdf2Iterations >= 100000);
        CHECK(r->httpBind == "127.0.0.1");
    }
    SECTION("missing data dir") {
        auto r = loadConfig(*confWith({}));
        REQUIRE_FALSE(r.ok());
        CHECK(r.error().message.find("data directory") != std::string::npos);
    }
    SECTION("bad port") {
        auto r = loadConfig(*confWith({{"controller.dataDir", "/tmp/x"}, {"http.port", "70000"}}));
        REQUIRE_FALSE(r.ok());
        CHECK(r.error().message.find("http.port") != std::string::npos);
    }
    SECTION("not a number") {
        auto r = loadConfig(*confWith({{"controller.dataDir", "/tmp/x"}, {"media.maxUploadBytes", "lots"}}));
        REQUIRE_FALSE(r.ok());
    }
    SECTION("unknown key is a typo, not a default") {
        auto r = loadConfig(*confWith({{"controller.dataDir", "/tmp/x"}, {"http.prot", "1"}}));
        REQUIRE_FALSE(r.ok());
        CHECK(r.error().message.find("http.prot") != std::string::npos);
    }
    SECTION("zmq.bulkPort: unset (zmq.port + 1), -1 (none), a port, never the hub's or the HTTP port") {
        CHECK(!loadConfig(*confWith({{"controller.dataDir", "/tmp/x"}}))->zmqBulkPort);
        CHECK(*loadConfig(*confWith({{"controller.dataDir", "/tmp/x"}, {"zmq.bulkPort", "-1"}}))->zmqBulkPort == -1);
        CHECK(*loadConfig(*confWith({{"controller.dataDir", "/tmp/x"}, {"zmq.bulkPort", "7000"}}))->zmqBulkPort ==
              7000);
        for (const char* bad : {"5560", "-2", "70000", "x"}) {
            auto r = loadConfig(*confWith({{"controller.dataDir", "/tmp/x"}, {"zmq.bulkPort", bad}}));
            REQUIRE_FALSE(r.ok());
            CHECK(r.error().message.find("zmq.bulkPort") != std::string::npos);
        }
    }
    SECTION("zmq.sealedBudgetMiB: 256 by default, at least 1") {
        CHECK(loadConfig(*confWith({{"controller.dataDir", "/tmp/x"}}))->zmqSealedBudgetMiB == 256);
        CHECK(loadConfig(*confWith({{"controller.dataDir", "/tmp/x"}, {"zmq.sealedBudgetMiB", "64"}}))
                  ->zmqSealedBudgetMiB == 64);
        for (const char* bad : {"0", "-1", "lots"}) {
            auto r = loadConfig(*confWith({{"controller.dataDir", "/tmp/x"}, {"zmq.sealedBudgetMiB", bad}}));
            REQUIRE_FALSE(r.ok());
            CHECK(r.error().message.find("zmq.sealedBudgetMiB") != std::string::npos);
        }
    }
    SECTION("logging keys are left to Poco") {
        auto r = loadConfig(*confWith({{"controller.dataDir", "/tmp/x"}, {"logging.loggers.root.level", "debug"}}));
        CHECK(r.ok());
    }
}

TEST_CASE("cluster.hubEndpoints: every node's hub, checked at start-up", "[controller][config][cluster]") {
    SECTION("none by default: one hub") {
        auto r = loadConfig(*confWith({{"controller.dataDir", "/tmp/x"}}));
        REQUIRE(r.ok());
        CHECK(r->clusterHubEndpoints.empty());
    }
    SECTION("a list, in order, blanks trimmed") {
        auto r = loadConfig(*confWith({{"controller.dataDir", "/tmp/x"},
                                       {"cluster.hubEndpoints", "tcp://node-a.example:5560 , tcp://10.0.0.2:5560"}}));
        REQUIRE(r.ok());
        CHECK(r->clusterHubEndpoints == std::vector<std::string>{"tcp://node-a.example:5560", "tcp://10.0.0.2:5560"});
    }
    for (const char* bad : {"http://node-a:5560", "tcp://node-a", "tcp://node-a:0", "tcp://node-a:70000", "tcp://:5560",
                            "tcp://a:5560,tcp://a:5560"}) {
        DYNAMIC_SECTION("refused: " << bad) {
            auto r = loadConfig(*confWith({{"controller.dataDir", "/tmp/x"}, {"cluster.hubEndpoints", bad}}));
            REQUIRE_FALSE(r.ok());
            CHECK(r.error().message.find("cluster.hubEndpoints") != std::string::npos);
        }
    }
}

TEST_CASE("the alerts.* keys are read and checked at start-up", "[controller][config][alerts]") {
    microscape::testing::TempDir dir;
    std::ofstream(dir.path / "issuer.pem") << "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
    std::ofstream(dir.path / "notes.txt") << "not a key";
    const std::string pem = (dir.path / "issuer.pem").string(), txt = (dir.path / "notes.txt").string();
    auto r = loadConfig(*confWith({{"controller.dataDir", "/tmp/x"}}));
    REQUIRE(r.ok());
    CHECK(r->alertMaxBytes == 256 * 1024);
    CHECK_FALSE(r->alertRequireSignature);
    CHECK(r->alertFeedUrl.empty());
    CHECK(r->alertPollSeconds == 60);
    CHECK(r->alertFeedAccount == "cap-feed");
    r = loadConfig(*confWith({{"controller.dataDir", "/tmp/x"},
                              {"alerts.requireSignature", "true"},
                              {"alerts.trustedKeys", (" " + pem + " , " + pem).c_str()},
                              {"alerts.feedUrl", "https://yujing.example.gov.cn/cap/feed.atom"},
                              {"alerts.pollSeconds", "5"}}));
    REQUIRE(r.ok());
    CHECK(r->alertRequireSignature);
    CHECK(r->alertTrustedKeyPems.size() == 2);
    CHECK(r->alertTrustedKeyFiles.at(0) == pem);
    CHECK(r->alertPollSeconds == 5);
    auto refused = [](std::initializer_list<std::pair<const char*, const char*>> kv, const std::string& says) {
        auto c = loadConfig(*confWith(kv));
        REQUIRE_FALSE(c.ok());
        INFO(c.error().message);
        CHECK(c.error().message.find(says) != std::string::npos);
    };
    refused({{"controller.dataDir", "/tmp/x"}, {"alerts.requireSignature", "true"}}, "names no key");
    refused({{"controller.dataDir", "/tmp/x"}, {"alerts.trustedKeys", "/nonexistent/k.pem"}}, "cannot read");
    refused({{"controller.dataDir", "/tmp/x"}, {"alerts.trustedKeys", txt.c_str()}}, "not a PEM");
    refused({{"controller.dataDir", "/tmp/x"}, {"alerts.feedUrl", "ftp://x/feed"}}, "alerts.feedUrl");
    refused({{"controller.dataDir", "/tmp/x"}, {"alerts.pollSeconds", "0"}}, "alerts.pollSeconds");
    refused({{"controller.dataDir", "/tmp/x"}, {"alerts.requireSignatures", "true"}}, "unknown configuration key");
}

TEST_CASE("password hashes verify and reject", "[controller][auth]") {
    auto h = hashPassword("correct horse", 1000);
    CHECK(h.rfind("pbkdf2-sha256$1000$", 0) == 0);
    CHECK(verifyPassword("correct horse", h));
    CHECK_FALSE(verifyPassword("correct horsf", h));
    CHECK_FALSE(verifyPassword("correct horse", "garbage"));
    CHECK_FALSE(verifyPassword("correct horse", "pbkdf2-sha256$0$AA$AA"));
    CHECK(hashPassword("x", 1000) != hashPassword("x", 1000));  // salted
}

TEST_CASE("the executable fails fast on bad configuration", "[controller][config]") {
    microscape::testing::TempDir dir;
    auto run = [](const std::string& args) {
        std::string cmd = std::string(MICROSCAPE_CONTROLLER_BIN) + " " + args + " > /dev/null 2>&1";
        int rc = std::system(cmd.c_str());
        return WEXITSTATUS(rc);
    };
    CHECK(run("--http-port 1") == 78);                     // no data dir
    CHECK(run("--config /nonexistent.properties") == 78);  // missing file
    CHECK(run("--data-dir " + dir.path.string() + " --http-port abc") == 78);
    CHECK(run("--data-dir " + dir.path.string() + " stray-argument") == 64);
    CHECK(run("--bogus") == 64);      // unknown option: usage
    CHECK(run("--http-port") == 64);  // missing value: usage
    CHECK(run("--daemon") == 64);     // systemd runs it in the foreground; no daemon mode
    CHECK(run("--version") == 0);
    CHECK(run("-V") == 0);
    CHECK(run("-h") == 0);
}

TEST_CASE("SIGTERM stops the executable cleanly and the signing key is private", "[controller][config]") {
    microscape::testing::TempDir dir;
    const auto out = dir.path / "out.txt";
    // Started with the usual umask 022, as by hand: the data directory is still
    // owner-only and the database not readable by others (they were 0755 and 0644).
    std::string cmd = "umask 022; " + std::string(MICROSCAPE_CONTROLLER_BIN) + " --data-dir " +
                      (dir.path / "d").string() + " --http-port 0 --zmq-port 0 > " + out.string() + " 2>&1 & echo $!";
    FILE* p = popen(cmd.c_str(), "r");
    REQUIRE(p);
    char buf[64] = {};
    REQUIRE(fgets(buf, sizeof buf, p));
    pclose(p);
    const int pid = std::atoi(buf);
    REQUIRE(pid > 0);
    REQUIRE(microscape::testing::waitFor(
        [&] { return microscape::testing::readFile(out).find("listening on") != std::string::npos; }, 10000));
    struct stat st {};
    REQUIRE(::stat((dir.path / "d" / "keys" / "content-signing.pem").c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
    REQUIRE(::stat((dir.path / "d").c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0700);
    for (const char* f : {"controller.db", "controller.db-wal", "controller.db-shm"}) {
        INFO(f);
        if (::stat((dir.path / "d" / f).c_str(), &st) != 0) continue;  // -wal/-shm come and go
        CHECK((st.st_mode & 0777) == 0600);
    }
    REQUIRE(::stat((dir.path / "d" / "controller.db").c_str(), &st) == 0);
    REQUIRE(::kill(pid, SIGTERM) == 0);
    CHECK(microscape::testing::waitFor([&] { return ::kill(pid, 0) != 0; }, 10000));
}

TEST_CASE("init-admin creates the first admin once", "[controller][config]") {
    microscape::testing::TempDir dir;
    const std::string bin = MICROSCAPE_CONTROLLER_BIN;
    const std::string data = (dir.path / "d").string();
    const std::string out = (dir.path / "out.txt").string();
    auto run = [&](const std::string& env, const std::string& args) {
        std::string cmd = env + " " + bin + " --data-dir " + data + " " + args + " > " + out + " 2>&1";
        return WEXITSTATUS(std::system(cmd.c_str()));
    };
    CHECK(run("MICROSCAPE_ADMIN_PASSWORD=Chosen-password-1", "--init-admin root") == 0);
    CHECK(microscape::testing::readFile(out).find("Chosen-password-1") == std::string::npos);  // never echoed
    CHECK(run("MICROSCAPE_ADMIN_PASSWORD=", "--init-admin second") == 0);
    const std::string text = microscape::testing::readFile(out);
    CHECK(text.find("with password: ") != std::string::npos);                             // generated, printed once
    CHECK(run("MICROSCAPE_ADMIN_PASSWORD=Chosen-password-1", "--init-admin root") == 1);  // exists: refused
    CHECK(microscape::testing::readFile(out).find("already exists") != std::string::npos);
    CHECK(run("MICROSCAPE_ADMIN_PASSWORD=short", "--init-admin third") != 0);
    // The password policy (3 character classes by default) holds for the first admin too.
    CHECK(run("MICROSCAPE_ADMIN_PASSWORD=chosen-password", "--init-admin fourth") != 0);
    CHECK(microscape::testing::readFile(out).find("密码至少") != std::string::npos);
}
