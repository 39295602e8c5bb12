#include "test_support.hpp"

#include <Poco/ConsoleChannel.h>
#include <Poco/Data/SQLite/Connector.h>
#include <Poco/Data/Session.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Logger.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/HTTPSClientSession.h>
#include <Poco/Net/SecureStreamSocket.h>
#include <Poco/Net/X509Certificate.h>
#include <Poco/StreamCopier.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <fstream>
#include <future>
#include <random>
#include <sstream>
#include <thread>

#include "api_contract.hpp"
#include "microscape/core/json.hpp"
#include "microscape/core/pin.hpp"

namespace microscape::testing {

Poco::JSON::Object::Ptr parseObject(const std::string& text) {
    Poco::JSON::Parser p;
    return p.parse(text).extract<Poco::JSON::Object::Ptr>();
}

void TestServer::restartAfter(int downMs) {
    if (server_) {
        config_.httpPort = server_->httpPort();
        config_.zmqPort = server_->zmqPort();
        server_->stop();
        server_.reset();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(downMs));
    restart();
}

void TestServer::stop() {
    if (!server_) return;
    config_.httpPort = server_->httpPort();
    config_.zmqPort = server_->zmqPort();
    server_->stop();
    server_.reset();
}

void TestServer::restartWith(const std::function<void(microscape::controller::ControllerConfig&)>& tweak) {
    if (server_) {
        config_.httpPort = server_->httpPort();
        config_.zmqPort = server_->zmqPort();
        server_->stop();
        server_.reset();
    }
    tweak(config_);
    restart();
}

std::string jsonString(const Poco::JSON::Object::Ptr& o) {
    std::ostringstream s;
    o->stringify(s);
    return s.str();
}

Poco::JSON::Object::Ptr Response::json() const {
    return parseObject(body);
}

std::string Response::errorCode() const {
    try {
        auto o = json();
        if (!o->has("error")) return "";
        return o->getObject("error")->getValue<std::string>("code");
    } catch (...) {
        return "";
    }
}

Poco::Net::Context::Ptr testClientContext() {
    static Poco::Net::Context::Ptr ctx = [] {
        Poco::Net::Context::Params p;
        p.verificationMode = Poco::Net::Context::VERIFY_NONE;  // the key is pinned instead
        Poco::Net::Context::Ptr c = new Poco::Net::Context(Poco::Net::Context::TLS_CLIENT_USE, p);
        c->requireMinimumProtocol(Poco::Net::Context::PROTO_TLSV1_2);
        return c;
    }();
    return ctx;
}

namespace {

// Connects (TLS handshake included) before the first request, so that the
// server's key can be checked first.
class PinnedSession : public Poco::Net::HTTPSClientSession {
  public:
    using HTTPSClientSession::HTTPSClientSession;
    void open() { reconnect(); }
};

// The document the controller serves, fetched once per test program (every
// controller serves the same one).
std::mutex contractMutex;  // guards contract, pendingProblems
std::shared_ptr<ApiContract> contract;
std::vector<std::string> pendingProblems;  // found on other threads, reported on the main one
const std::thread::id kMainThread = std::this_thread::get_id();
thread_local bool fetchingContract = false;

}  // namespace

void Client::checkAgainstContract(const Exchange& e) {
    if (fetchingContract) return;
    std::shared_ptr<ApiContract> c;
    {
        std::lock_guard lock(contractMutex);
        c = contract;
    }
    if (!c) {
        fetchingContract = true;
        Client plain(port_, tls_, tlsPin_);
        auto doc = plain.get("/api/v1/openapi.json");
        fetchingContract = false;
        REQUIRE(doc.status == 200);
        c = std::make_shared<ApiContract>(doc.json());
        std::lock_guard lock(contractMutex);
        if (!contract) contract = c;
    }
    auto found = c->check(e);
    std::lock_guard lock(contractMutex);
    pendingProblems.insert(pendingProblems.end(), found.begin(), found.end());
    if (std::this_thread::get_id() != kMainThread) return;
    for (const auto& p : pendingProblems) FAIL_CHECK("not as the OpenAPI document says: " << p);
    pendingProblems.clear();
}

Response Client::request(const std::string& method, const std::string& path, const std::string& body,
                         const std::string& contentType, const std::map<std::string, std::string>& headers) {
    std::unique_ptr<Poco::Net::HTTPClientSession> session;
    if (tls_) {
        auto https = std::make_unique<PinnedSession>("127.0.0.1", port_, testClientContext());
        https->setTimeout(Poco::Timespan(30, 0));
        https->open();
        if (!tlsPin_.empty()) {
            auto pin = microscape::crypto::pinOfCertificate(https->serverCertificate().certificate());
            REQUIRE(pin.ok());
            REQUIRE(*pin == tlsPin_);
        }
        session = std::move(https);
    } else {
        session = std::make_unique<Poco::Net::HTTPClientSession>("127.0.0.1", port_);
    }
    auto& s = *session;
    s.setTimeout(Poco::Timespan(30, 0));
    Poco::Net::HTTPRequest req(method, path, Poco::Net::HTTPMessage::HTTP_1_1);
    if (!bearer_.empty()) req.set("Authorization", "Bearer " + bearer_);
    if (!cookie_.empty()) {
        Poco::Net::NameValueCollection c;
        c.add("ms_session", cookie_);
        req.setCookies(c);
    }
    if (!csrf_.empty() && method != "GET") req.set("X-CSRF-Token", csrf_);
    for (const auto& [k, v] : headers) req.set(k, v);
    if (!body.empty() || method == "POST" || method == "PUT" || method == "PATCH") {
        req.setContentType(contentType);
        req.setContentLength64(static_cast<Poco::Int64>(body.size()));
    }
    s.sendRequest(req) << body;
    Poco::Net::HTTPResponse resp;
    std::istream& in = s.receiveResponse(resp);
    Response r;
    r.status = static_cast<int>(resp.getStatus());
    r.reason = resp.getReason();
    Poco::StreamCopier::copyToString(in, r.body);
    for (const auto& [k, v] : resp) {
        std::string lk = Poco::toLower(k);
        if (r.headers.count(lk))
            r.headers[lk] += "\n" + v;
        else
            r.headers[lk] = v;
    }
    checkAgainstContract({method, path, contentType, body, r.status, r.headers["content-type"], r.body});
    return r;
}

Response Client::login(const std::string& user, const std::string& password) {
    Poco::JSON::Object::Ptr o = new Poco::JSON::Object;
    o->set("username", user);
    o->set("password", password);
    auto r = request("POST", "/api/v1/login", jsonString(o));
    if (r.status == 200) {
        csrf_ = r.json()->getValue<std::string>("csrfToken");
        const std::string sc = r.headers["set-cookie"];
        auto p = sc.find("ms_session=");
        auto e = sc.find(';', p);
        cookie_ = sc.substr(p + 11, e - p - 11);
    }
    return r;
}

bool testStoreIsPostgres() {
    const char* v = std::getenv("MICROSCAPE_TEST_STORE");
    return v && std::string_view(v).rfind("postgres", 0) == 0;
}

PgCluster& sharedPgCluster() {
    static std::unique_ptr<PgCluster> cluster = std::make_unique<PgCluster>();
    return *cluster;
}

TestServer::TestServer(std::function<void(microscape::controller::ControllerConfig&)> tweak) {
    config_.dataDir = dir_.path / "data";
    config_.httpPort = 0;
    config_.httpBind = "127.0.0.1";
    config_.zmqPort = 0;  // the hub binds an ephemeral port; restart() keeps it
    config_.zmqBind = "127.0.0.1";
    config_.pbkdf2Iterations = 1000;  // production default is 210000
    config_.passwordMinClasses = 2;   // production default is 3 (tests of the policy set it back)
    config_.httpThreads = 4;
    if (tweak) tweak(config_);
    // MICROSCAPE_TEST_STORE=postgresql: the same test against PostgreSQL, a
    // fresh database in a cluster this test process starts (once) and stops.
    if (testStoreIsPostgres() && config_.store.backend == microscape::controller::sql::Backend::Sqlite &&
        config_.store.sqliteFile.empty())
        config_.store =
            *microscape::controller::sql::parseStoreUrl(sharedPgCluster().createDatabase(), config_.dataDir);
    auto pw = microscape::controller::initAdmin(config_, "admin", kAdminPassword);
    REQUIRE(pw.ok());
    restart();
}

TestServer::TestServer(const TestServer& primary, SecondNode) {
    config_ = primary.config_;
    config_.dataDir = dir_.path / "data";
    config_.httpPort = 0;
    config_.zmqPort = 0;
    config_.store = primary.storeUrl();
    REQUIRE(config_.store.backend == microscape::controller::sql::Backend::Postgres);
    fs::create_directories(config_.dataDir);
    fs::permissions(config_.dataDir, fs::perms::owner_all);
    fs::copy(primary.dataDir() / "keys", config_.dataDir / "keys", fs::copy_options::recursive);
    fs::create_directory_symlink(primary.dataDir() / "media", config_.dataDir / "media");
    restart();
}

TestServer::~TestServer() {
    if (server_) server_->stop();
}

void TestServer::restart() {
    // Come back on the same port so existing clients (and their cookies) carry on.
    if (server_) {
        config_.httpPort = server_->httpPort();
        config_.zmqPort = server_->zmqPort();
        server_->stop();
    }
    server_.reset();
    auto offset = offset_;
    auto frozenAt = frozenAt_;
    auto clock = [offset, frozenAt] {
        const std::int64_t frozen = frozenAt->load();
        return (frozen >= 0 ? frozen
                            : std::chrono::duration_cast<std::chrono::milliseconds>(
                                  std::chrono::system_clock::now().time_since_epoch())
                                  .count()) +
               offset->load();
    };
    // MICROSCAPE_TEST_LOG=1: the controller's log on stderr (to see why a request failed).
    if (std::getenv("MICROSCAPE_TEST_LOG")) {
        Poco::AutoPtr<Poco::ConsoleChannel> console(new Poco::ConsoleChannel);
        Poco::Logger::setChannel("", console);  // every logger
        Poco::Logger::setLevel("", Poco::Message::PRIO_INFORMATION);
    }
    server_ = std::make_unique<microscape::controller::ControllerServer>(config_, Poco::Logger::get("test.controller"),
                                                                         clock);
    auto st = server_->start();
    INFO((st.ok() ? std::string() : st.error().message));
    REQUIRE(st.ok());
}

void TestServer::freezeClock() {
    frozenAt_->store(
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
            .count());
}

std::int64_t TestServer::nowMs() const {
    const std::int64_t frozen = frozenAt_->load();
    return (frozen >= 0 ? frozen
                        : std::chrono::duration_cast<std::chrono::milliseconds>(
                              std::chrono::system_clock::now().time_since_epoch())
                              .count()) +
           offset_->load();
}

Client TestServer::admin() const {
    Client c = client();
    auto r = c.login("admin", kAdminPassword);
    REQUIRE(r.status == 200);
    return c;
}

Client TestServer::userClient(const std::string& name, const std::string& role, const std::string& department,
                              bool fleetWide) {
    Client a = admin();
    Poco::JSON::Object::Ptr o = new Poco::JSON::Object;
    o->set("username", name);
    o->set("password", "password-" + name);
    o->set("role", role);
    if (!department.empty()) o->set("department", department);
    if (fleetWide) o->set("fleetWide", true);
    auto r = a.post("/api/v1/users", jsonString(o));
    INFO(r.body);
    REQUIRE(r.status == 201);
    Client c = client();
    REQUIRE(c.login(name, "password-" + name).status == 200);
    return c;
}

std::string makePng(const fs::path& dir, const std::string& text, int w, int h) {
    static int n = 0;
    fs::path out = dir / ("poster-" + std::to_string(++n) + ".png");
    std::string cmd = "/usr/bin/convert -size " + std::to_string(w) + "x" + std::to_string(h) +
                      " xc:'#1d4e89' -depth 8 -font /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc "
                      "-fill white -pointsize 28 -gravity center -annotate +0+0 '" +
                      text + "' '" + out.string() + "' 2>/dev/null";
    REQUIRE(std::system(cmd.c_str()) == 0);
    return readFile(out);
}

std::string makeMp4(const fs::path& dir, int seconds) {
    static int n = 0;
    fs::path out = dir / ("clip-" + std::to_string(++n) + ".mp4");
    std::string cmd =
        "ffmpeg -loglevel error -y -f lavfi -i testsrc=size=320x240:rate=25:duration=" + std::to_string(seconds) +
        " -pix_fmt yuv420p -c:v libx264 -preset ultrafast '" + out.string() + "' 2>/dev/null";
    REQUIRE(std::system(cmd.c_str()) == 0);
    return readFile(out);
}

}  // namespace microscape::testing

#include "microscape/core/crypto.hpp"

namespace microscape::testing {

PlayerKeys makePlayerKeys() {
    auto k = microscape::crypto::PrivateKey::generate();
    REQUIRE(k.ok());
    static const std::string kZ85 =
        "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#";
    auto rnd = microscape::crypto::randomBytes(40);
    REQUIRE(rnd.ok());
    std::string z;
    for (unsigned char c : *rnd) z += kZ85[c % 85];
    return {k->publicKey().toPem(), z};
}

std::string enrollPlayer(Client& admin, Client& anon, const std::string& name, std::optional<int> locationId) {
    Poco::JSON::Object::Ptr t = new Poco::JSON::Object;
    t->set("name", name);
    if (locationId) t->set("locationId", *locationId);
    auto tr = admin.post("/api/v1/enrollment-tokens", jsonString(t));
    INFO(tr.body);
    REQUIRE(tr.status == 201);
    auto keys = makePlayerKeys();
    Poco::JSON::Object::Ptr e = new Poco::JSON::Object;
    e->set("token", tr.json()->getValue<std::string>("token"));
    e->set("identityKey", keys.identityPem);
    e->set("curveKey", keys.curveZ85);
    e->set("width", 1920);
    e->set("height", 1080);
    auto er = anon.post("/api/v1/enroll", jsonString(e));
    INFO(er.body);
    REQUIRE(er.status == 201);
    return er.json()->getValue<std::string>("playerId");
}

}  // namespace microscape::testing

namespace microscape::testing {

int createdId(const Response& r) {
    INFO(r.body);
    REQUIRE(r.status == 201);
    return r.json()->getValue<int>("id");
}

int uploadApproved(Client& ed, Client& ap, const std::string& body, const std::string& fileName,
                   const std::string& contentType) {
    auto r = ed.request("POST", "/api/v1/media?filename=" + fileName, body, contentType);
    const int id = createdId(r);
    REQUIRE(ed.post("/api/v1/media/" + std::to_string(id) + "/submit", "").status == 200);
    REQUIRE(ap.post("/api/v1/media/" + std::to_string(id) + "/approve", "").status == 200);
    return id;
}

std::string playerBin() {
    std::string c = MICROSCAPE_CONTROLLER_BIN;
    return c.substr(0, c.rfind('/')) + "/microscape-player";
}

std::string TestServer::baseUrl() const {
    return std::string(config_.tls ? "https" : "http") + "://127.0.0.1:" + std::to_string(port());
}

std::vector<std::string> enrollArgv(const Response& tokenAnswer, const fs::path& dir) {
    INFO(tokenAnswer.body);
    REQUIRE(tokenAnswer.status == 201);
    std::istringstream words(tokenAnswer.json()->getValue<std::string>("command"));
    std::vector<std::string> argv;
    for (std::string w; words >> w;) argv.push_back(w);
    REQUIRE(argv.size() > 2);
    REQUIRE(argv[0] == "microscape-player");
    argv[0] = playerBin();
    for (std::size_t i = 0; i + 1 < argv.size(); ++i)
        if (argv[i] == "--data-dir") argv[i + 1] = dir.string();
    return argv;
}

std::string enrollScreen(TestServer& srv, Client& admin, const fs::path& dir, const std::string& tokenBody,
                         const std::vector<std::string>& extraArgs) {
    (void)srv;  // the token's command names the controller
    std::vector<std::string> args = enrollArgv(admin.post("/api/v1/enrollment-tokens", tokenBody), dir);
    args.insert(args.end(), extraArgs.begin(), extraArgs.end());
    auto r = microscape::testing::runProcess(args);
    INFO(r.out << r.err);
    REQUIRE(r.exitCode == 0);
    auto cfg = microscape::json::parse(readFile(dir / "player.json"));
    REQUIRE(cfg.ok());
    return cfg->find("player_id")->asString();
}

std::unique_ptr<microscape::testing::SpawnedProcess> startScreen(const fs::path& dir, const fs::path& log,
                                                                 const std::vector<std::string>& args) {
    std::vector<std::string> argv{playerBin(), "run", "--data-dir", dir.string()};
    argv.insert(argv.end(), args.begin(), args.end());
    auto p = std::make_unique<microscape::testing::SpawnedProcess>(argv, log.string());
    REQUIRE(p->running());
    return p;
}

namespace {
microscape::controller::sql::StoreUrl sqliteFile(const fs::path& file) {
    microscape::controller::sql::StoreUrl u;
    u.sqliteFile = file;
    u.display = file.string();
    return u;
}
}  // namespace

StoredProofs storedProofs(const microscape::controller::sql::StoreUrl& store, const std::string& playerId) {
    using namespace microscape::controller::sql;
    auto db = Database::open(store, DatabaseOptions{.poolSize = 1});
    StoredProofs out;
    db->read([&](Conn& c) {
        for (const auto& r :
             c.query("SELECT seq, record FROM pop_records WHERE player_id = ? ORDER BY seq", {playerId})) {
            out.seqs.push_back(r.i64(0));
            out.records.push_back(r.str(1));
        }
        for (const auto& r :
             c.query("SELECT checkpoint FROM pop_checkpoints WHERE player_id = ? ORDER BY last_seq", {playerId}))
            out.checkpoints.push_back(r.str(0));
    });
    return out;
}

std::int64_t storedCount(const microscape::controller::sql::StoreUrl& store, const std::string& playerId) {
    using namespace microscape::controller::sql;
    auto db = Database::open(store, DatabaseOptions{.poolSize = 1});
    return db->read(
        [&](Conn& c) { return c.one("SELECT COUNT(*) FROM pop_records WHERE player_id = ?", {playerId})->i64(0); });
}

StoredProofs storedProofs(const fs::path& controllerDb, const std::string& playerId) {
    return storedProofs(sqliteFile(controllerDb), playerId);
}

std::int64_t storedCount(const fs::path& controllerDb, const std::string& playerId) {
    return storedCount(sqliteFile(controllerDb), playerId);
}

void whileHolding(const controller::sql::StoreUrl& url, const std::function<void(controller::DbConn&)>& first,
                  const std::vector<std::function<void()>>& others) {
    controller::Db a(url), observer(url);
    const bool pg = a.backend() == controller::sql::Backend::Postgres;
    std::atomic<bool> stepped{false};
    std::atomic<std::size_t> othersDone{0};
    std::exception_ptr firstError;
    std::vector<std::exception_ptr> otherErrors(others.size());
    std::promise<void> release;
    std::shared_future<void> released = release.get_future().share();
    std::thread one([&] {
        try {
            a.write([&](controller::DbConn& c) {
                first(c);
                stepped = true;
                released.wait();
            });
        } catch (...) {
            firstError = std::current_exception();
        }
        stepped = true;  // (also when `first` threw: nothing is left to wait for)
    });
    auto runOther = [&](std::size_t k) {
        try {
            others[k]();
        } catch (...) {
            otherErrors[k] = std::current_exception();
        }
        ++othersDone;
    };
    const bool firstStepped = waitFor([&] { return stepped.load(); }, 60'000);
    bool waiting = true;
    if (!pg || !firstStepped || firstError) {
        release.set_value();
        one.join();
        if (!firstError)
            for (std::size_t k = 0; k < others.size(); ++k) runOther(k);
    } else {
        std::vector<std::thread> threads;
        for (std::size_t k = 0; k < others.size(); ++k) threads.emplace_back(runOther, k);
        const auto wanted = static_cast<std::int64_t>(others.size());
        waiting = waitFor(
                      [&] {
                          return othersDone.load() > 0 || observer.read([&](controller::DbConn& c) {
                              return c.one(
                                          "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = "
                                          "'Lock' AND datname = current_database()")
                                         ->i64(0) >= wanted;
                          });
                      },
                      60'000) &&
                  othersDone.load() == 0;
        release.set_value();
        one.join();
        for (auto& t : threads) t.join();
    }
    REQUIRE(firstStepped);
    if (firstError) std::rethrow_exception(firstError);
    for (const auto& e : otherErrors)
        if (e) std::rethrow_exception(e);
    REQUIRE(waiting);  // every other one started while A's transaction was open, and waited for it
}

void overlapOnTwoNodes(const controller::sql::StoreUrl& url, const std::function<void(controller::DbConn&)>& first,
                       const std::function<void(controller::DbConn&)>& second) {
    controller::Db b(url);
    whileHolding(url, first, {[&] { b.write([&](controller::DbConn& c) { second(c); }); }});
}

void overlapOnTwoNodes(const controller::sql::StoreUrl& url, const std::function<void(controller::DbConn&)>& step) {
    overlapOnTwoNodes(url, step, step);
}

}  // namespace microscape::testing
