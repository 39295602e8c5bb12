// Pinned enrolment: `microscape-player enroll --pin sha256:<hex>` trusts only the controller whose
// content-signing key hashes to the pin, and refuses an answer without a CURVE server key.
//
// The attack these cover: a machine between the screen and the controller (or one answering at the
// controller's address) replied to the enrolment with its own contentPublicKey, so the screen would
// play whatever it signs; or with "curveServerKey": null, which turned CURVE off ("(plain)", exit
// 0). Before the pin, both enrolments succeeded and wrote the attacker's key into the data
// directory.
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/HTTPServer.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/StreamCopier.h>
#include <Poco/Util/MapConfiguration.h>

#include <catch2/catch.hpp>
#include <sstream>

#include "microscape/core/crypto.hpp"
#include "microscape/core/json.hpp"
#include "test_support.hpp"

using namespace mstest;
using microscape::testing::runProcess;

namespace {

using Rewrite = std::function<void(Poco::JSON::Object::Ptr&)>;

// A man in the middle on loopback: forwards every request to the real controller and rewrites the
// JSON answer of POST /api/v1/enroll.
class MitmHandler : public Poco::Net::HTTPRequestHandler {
  public:
    MitmHandler(std::uint16_t upstream, Rewrite rw)
        : upstream_(upstream), rewrite_(std::move(rw)) {}
    void handleRequest(Poco::Net::HTTPServerRequest& req,
                       Poco::Net::HTTPServerResponse& resp) override {
        std::ostringstream body;
        Poco::StreamCopier::copyStream(req.stream(), body);
        Poco::Net::HTTPClientSession s("127.0.0.1", upstream_);
        Poco::Net::HTTPRequest fwd(req.getMethod(), req.getURI(), Poco::Net::HTTPMessage::HTTP_1_1);
        fwd.setContentType(req.getContentType());
        fwd.setContentLength(static_cast<std::streamsize>(body.str().size()));
        s.sendRequest(fwd) << body.str();
        Poco::Net::HTTPResponse up;
        std::ostringstream answer;
        Poco::StreamCopier::copyStream(s.receiveResponse(up), answer);
        std::string out = answer.str();
        if (up.getStatus() == Poco::Net::HTTPResponse::HTTP_CREATED &&
            req.getURI() == "/api/v1/enroll") {
            auto obj = Poco::JSON::Parser().parse(out).extract<Poco::JSON::Object::Ptr>();
            rewrite_(obj);
            out = jsonString(obj);
        }
        resp.setStatus(up.getStatus());
        resp.setContentType("application/json");
        resp.setContentLength(static_cast<std::streamsize>(out.size()));
        resp.send() << out;
    }

  private:
    std::uint16_t upstream_;
    Rewrite rewrite_;
};

class MitmFactory : public Poco::Net::HTTPRequestHandlerFactory {
  public:
    MitmFactory(std::uint16_t upstream, Rewrite rw)
        : upstream_(upstream), rewrite_(std::move(rw)) {}
    Poco::Net::HTTPRequestHandler* createRequestHandler(
        const Poco::Net::HTTPServerRequest&) override {
        return new MitmHandler(upstream_, rewrite_);
    }

  private:
    std::uint16_t upstream_;
    Rewrite rewrite_;
};

struct Mitm {
    Mitm(std::uint16_t upstream, Rewrite rw)
        : socket(Poco::Net::SocketAddress("127.0.0.1", 0)),
          server(new MitmFactory(upstream, std::move(rw)), socket,
                 new Poco::Net::HTTPServerParams) {
        server.start();
    }
    ~Mitm() { server.stopAll(true); }
    std::string url() const {
        return "http://127.0.0.1:" + std::to_string(socket.address().port());
    }
    Poco::Net::ServerSocket socket;
    Poco::Net::HTTPServer server;
};

struct Token {
    std::string token, pin, command;
};

Token newToken(Client& admin) {
    auto t = admin.post("/api/v1/enrollment-tokens", R"({"name":"garage"})");
    REQUIRE(t.status == 201);
    return {t.json()->getValue<std::string>("token"), t.json()->getValue<std::string>("pin"),
            t.json()->getValue<std::string>("command")};
}

microscape::testing::ProcessResult enrol(const std::string& url, const std::string& token,
                                         const fs::path& dir, std::vector<std::string> extra) {
    std::vector<std::string> args{playerBin(), "enroll", "--controller-http", url,
                                  "--token",   token,    "--data-dir",        dir.string()};
    args.insert(args.end(), extra.begin(), extra.end());
    return runProcess(args);
}

bool nothingWritten(const fs::path& dir) {
    std::error_code ec;
    return !fs::exists(dir, ec) || fs::is_empty(dir, ec);
}

}  // namespace

TEST_CASE("the token's command carries the content-key pin and the configured address",
          "[enrol-pin]") {
    TestServer srv;
    Client admin = srv.admin();
    auto t = newToken(admin);
    CHECK(t.pin.rfind("sha256:", 0) == 0);
    CHECK(t.pin.size() == 7 + 64);
    const std::string base = "http://127.0.0.1:" + std::to_string(srv.port());
    CHECK(t.command == "microscape-player enroll --controller-http " + base + " --token " +
                           t.token + " --pin " + t.pin + " --data-dir /var/lib/microscape/player");

    // Attack: a forged Host header went unescaped into the command a technician pastes.
    auto forged = admin.request("POST", "/api/v1/enrollment-tokens", R"({"name":"x"})",
                                "application/json", {{"Host", "evil.example;rm -rf ~"}});
    REQUIRE(forged.status == 201);
    const auto cmd = forged.json()->getValue<std::string>("command");
    CHECK(cmd.find("evil") == std::string::npos);
    CHECK(cmd.find("--controller-http " + base + " ") != std::string::npos);
}

TEST_CASE("http.publicUrl sets the address in the enrol command", "[enrol-pin]") {
    TestServer srv([](microscape::controller::ControllerConfig& c) {
        c.publicUrl = "https://signage.example.org:8443";
    });
    Client admin = srv.admin();
    auto t = newToken(admin);
    CHECK(
        t.command.rfind(
            "microscape-player enroll --controller-http https://signage.example.org:8443 --token ",
            0) == 0);
}

TEST_CASE(
    "enrol refuses a swapped content key, a missing CURVE key and a wrong pin, writing nothing",
    "[enrol-pin]") {
    TestServer srv;
    Client admin = srv.admin();
    TempDir fx;
    const fs::path dir = fx.path / "screen";

    SECTION("a proxy swaps contentPublicKey") {
        auto fake = microscape::crypto::PrivateKey::generate();
        REQUIRE(fake.ok());
        const std::string fakePem = fake->publicKey().toPem();
        Mitm mitm(srv.port(),
                  [&](Poco::JSON::Object::Ptr& o) { o->set("contentPublicKey", fakePem); });
        auto t = newToken(admin);
        auto r = enrol(mitm.url(), t.token, dir, {"--pin", t.pin});
        INFO(r.out << r.err);
        CHECK(r.exitCode != 0);
        CHECK_THAT(r.err, Catch::Contains("REFUSED") && Catch::Contains(t.pin));
        CHECK(nothingWritten(dir));
    }
    SECTION("a proxy nulls curveServerKey") {
        Mitm mitm(srv.port(), [](Poco::JSON::Object::Ptr& o) {
            o->getObject("hub")->set("curveServerKey", Poco::Dynamic::Var());
        });
        auto t = newToken(admin);
        auto r = enrol(mitm.url(), t.token, dir, {"--pin", t.pin});
        INFO(r.out << r.err);
        CHECK(r.exitCode != 0);
        CHECK_THAT(r.err, Catch::Contains("no CURVE server key"));
        CHECK(r.out.find("(plain)") == std::string::npos);
        CHECK(nothingWritten(dir));
    }
    SECTION("a proxy drops curveServerKey, even with --no-pin") {
        Mitm mitm(srv.port(), [](Poco::JSON::Object::Ptr& o) {
            o->getObject("hub")->remove("curveServerKey");
        });
        auto t = newToken(admin);
        auto r = enrol(mitm.url(), t.token, dir, {"--no-pin"});
        INFO(r.out << r.err);
        CHECK(r.exitCode != 0);
        CHECK_THAT(r.err, Catch::Contains("no CURVE server key"));
        CHECK(nothingWritten(dir));
    }
    SECTION("a wrong pin against the real controller") {
        auto t = newToken(admin);
        auto r = enrol("http://127.0.0.1:" + std::to_string(srv.port()), t.token, dir,
                       {"--pin", "sha256:" + std::string(64, '0')});
        INFO(r.out << r.err);
        CHECK(r.exitCode != 0);
        CHECK_THAT(r.err, Catch::Contains("REFUSED"));
        CHECK(nothingWritten(dir));
    }
    SECTION("no pin at all is a usage error") {
        auto t = newToken(admin);
        auto r = enrol("http://127.0.0.1:" + std::to_string(srv.port()), t.token, dir, {});
        CHECK(r.exitCode == 64);
        CHECK_THAT(r.err, Catch::Contains("--pin"));
        CHECK(nothingWritten(dir));
    }
    SECTION("a malformed pin is a usage error") {
        auto t = newToken(admin);
        auto r = enrol("http://127.0.0.1:" + std::to_string(srv.port()), t.token, dir,
                       {"--pin", "md5:abc"});
        CHECK(r.exitCode != 0);
        CHECK(nothingWritten(dir));
    }
    SECTION("the right pin enrols with CURVE") {
        auto t = newToken(admin);
        auto r =
            enrol("http://127.0.0.1:" + std::to_string(srv.port()), t.token, dir, {"--pin", t.pin});
        INFO(r.out << r.err);
        REQUIRE(r.exitCode == 0);
        CHECK_THAT(r.out, Catch::Contains("(CURVE)"));
        auto cfg = microscape::json::parse(readFile(dir / "player.json"));
        REQUIRE(cfg.ok());
        CHECK(cfg->find("curve")->asBool());
        // The pin is the SHA-256 of the 32 raw bytes of the key the screen now trusts.
        auto pinned = microscape::crypto::PublicKey::load((dir / "keys/content.pub.pem").string());
        REQUIRE(pinned.ok());
        CHECK(t.pin == "sha256:" + pinned->id());
    }
    SECTION("--no-pin enrols with a warning") {
        auto t = newToken(admin);
        auto r =
            enrol("http://127.0.0.1:" + std::to_string(srv.port()), t.token, dir, {"--no-pin"});
        INFO(r.out << r.err);
        REQUIRE(r.exitCode == 0);
        CHECK_THAT(r.err, Catch::Contains("warning"));
    }
    SECTION("enrolScreen (the shared e2e helper) passes the pin") {
        CHECK_FALSE(enrolScreen(srv, admin, dir).empty());
    }
}

TEST_CASE("http.publicUrl is validated: it goes into a shell command", "[enrol-pin][config]") {
    using microscape::controller::loadConfig;
    auto load = [](const char* url) {
        Poco::AutoPtr<Poco::Util::MapConfiguration> c = new Poco::Util::MapConfiguration;
        c->setString("controller.dataDir", "/tmp/x");
        c->setString("http.publicUrl", url);
        return loadConfig(*c);
    };
    for (const char* good :
         {"http://10.20.0.5:8080", "https://signage.example.org", "http://[::1]:8080/"}) {
        auto r = load(good);
        INFO(good);
        CHECK(r.ok());
    }
    CHECK(load("http://10.20.0.5:8080/")->publicUrl == "http://10.20.0.5:8080");
    for (const char* bad :
         {"10.20.0.5:8080", "ftp://x", "http://", "http://a b", "http://x;rm -rf ~",
          "http://x/path", "http://user@x", "http://x?q=1", "http://$(id)"}) {
        auto r = load(bad);
        INFO(bad);
        REQUIRE_FALSE(r.ok());
        CHECK(r.error().message.find("http.publicUrl") != std::string::npos);
    }
}
