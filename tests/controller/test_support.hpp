// Test support: a real controller on an ephemeral port with a temporary data
// directory, and a small HTTP client with a cookie jar and CSRF header handling.
#pragma once

#include <Poco/Net/Context.h>

#include <Poco/Channel.h>
#include <Poco/JSON/Object.h>
#include <Poco/Message.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "../support/process.hpp"
#include "../support/temp_dir.hpp"
#include "../support/wait_for.hpp"
#include "api_contract.hpp"
#include "microscape/controller/config.hpp"
#include "microscape/controller/db.hpp"
#include "microscape/controller/server.hpp"
#include "pg_cluster.hpp"

namespace microscape::testing {

// The TLS client context of the tests: no CA (the tests pin the server's key where it
// matters), TLS 1.2 or later.
Poco::Net::Context::Ptr testClientContext();

// Keeps the text of every message a logger writes (attach with Logger::setChannel).
class CapturingChannel : public Poco::Channel {
  public:
    void log(const Poco::Message& msg) override {
        std::lock_guard lock(mutex_);
        lines_.push_back(msg.getText());
    }
    std::vector<std::string> lines() const {
        std::lock_guard lock(mutex_);
        return lines_;
    }

  private:
    mutable std::mutex mutex_;  // guards lines_
    std::vector<std::string> lines_;
};

namespace fs = std::filesystem;

struct Response {
    int status = 0;
    std::string reason;  // the status line's reason phrase
    std::string body;
    std::map<std::string, std::string> headers;  // lower-case names; Set-Cookie joined by "\n"
    Poco::JSON::Object::Ptr json() const;        // throws if not an object
    std::string errorCode() const;               // error.code or ""
};

// Talks HTTPS to 127.0.0.1:port when tls is set, checking that the server's key
// is tlsPin ("sha256:<hex>", as enrolment pins it; empty = any key); plain HTTP
// otherwise. A pin mismatch fails the test.
class Client {
  public:
    explicit Client(std::uint16_t port, bool tls = false, std::string tlsPin = "")
        : port_(port), tls_(tls), tlsPin_(std::move(tlsPin)) {}
    Response request(const std::string& method, const std::string& path, const std::string& body = "",
                     const std::string& contentType = "application/json",
                     const std::map<std::string, std::string>& headers = {});
    Response get(const std::string& path) { return request("GET", path); }
    Response post(const std::string& path, const std::string& body) { return request("POST", path, body); }
    Response patch(const std::string& path, const std::string& body) { return request("PATCH", path, body); }
    Response put(const std::string& path, const std::string& body) { return request("PUT", path, body); }
    Response del(const std::string& path) { return request("DELETE", path); }

    // Cookie login; remembers the session cookie and CSRF token.
    Response login(const std::string& user, const std::string& password);
    void useBearer(const std::string& token) { bearer_ = token; }
    void dropCsrf() { csrf_.clear(); }
    const std::string& csrf() const { return csrf_; }
    // The same session (cookie, CSRF token, bearer) talking to another server:
    // a browser whose requests a load balancer sends to another controller node.
    Client onPort(std::uint16_t port) const {
        Client c = *this;
        c.port_ = port;
        return c;
    }

  private:
    // Checks the exchange against the controller's OpenAPI document (api_contract.hpp);
    // a mismatch fails the running test.
    void checkAgainstContract(const Exchange& e);
    std::uint16_t port_;
    bool tls_ = false;
    std::string tlsPin_;
    std::string cookie_;
    std::string csrf_;
    std::string bearer_;
};

constexpr const char* kAdminPassword = "admin-password-1";

// A controller with an admin "admin" (kAdminPassword). Restartable on the same dir.
// Tests run against SQLite unless MICROSCAPE_TEST_STORE=postgresql; then every
// TestServer gets its own database in one PostgreSQL cluster of the process.
bool testStoreIsPostgres();
PgCluster& sharedPgCluster();

class TestServer {
  public:
    explicit TestServer(std::function<void(microscape::controller::ControllerConfig&)> tweak = {});
    // A second controller node of primary's deployment: the same store (which
    // must be PostgreSQL), a copy of its keys (content signing, hub CURVE, TLS)
    // and its media directory shared (docs/guide-operator.md, "Several nodes").
    struct SecondNode {};
    TestServer(const TestServer& primary, SecondNode);
    ~TestServer();
    void restart();
    // Stops the controller (restart() or restartWith() bring it back on the same ports).
    void stop();
    // Stops the controller, leaves it down for downMs, then starts it again on the
    // same data directory and ports (a controller restart as players see it).
    void restartAfter(int downMs);
    // Restarts on the same data directory and ports with the configuration changed.
    void restartWith(const std::function<void(microscape::controller::ControllerConfig&)>& tweak);
    std::uint16_t port() const { return server_->httpPort(); }
    std::uint16_t zmqPort() const { return server_->zmqPort(); }  // the hub's port (kept by restart())
    const fs::path& dataDir() const { return config_.dataDir; }
    // Where this server keeps its state (SQLite in dataDir, or its PostgreSQL database).
    microscape::controller::sql::StoreUrl storeUrl() const { return microscape::controller::storeUrl(config_); }
    // HTTPS pinned to the server's key, or plain HTTP when config().tls is off.
    Client client() const { return Client(port(), config_.tls, server_->tlsKeyHash()); }
    // "https://127.0.0.1:PORT" (or http://), the pins enrolment commands carry.
    std::string baseUrl() const;
    std::string publicUrl() const { return server_->publicUrl(); }  // what enrolment commands name
    std::string tlsKeyHash() const { return server_->tlsKeyHash(); }
    std::string contentKeyHash() const { return server_->contentKeyHash(); }
    Client admin() const;
    // Creates a user (as admin) and returns a logged-in cookie client for it. Users
    // get the fleetWide right unless told otherwise: most scenarios have an editor
    // schedule for the whole fleet (tests/controller/scoping_test.cpp covers the rule).
    Client userClient(const std::string& name, const std::string& role, const std::string& department = "",
                      bool fleetWide = true);
    const microscape::controller::ControllerConfig& config() const { return config_; }
    // Moves the server's clock (not the machine's) forward.
    void advanceClock(std::int64_t ms) { clockOffsetMs_ += ms; }
    // Stops the server's clock where it is: from now on only advanceClock moves it,
    // so waits measured on it cannot run out while a slow machine runs the test.
    void freezeClock();
    // The server's clock now (what its handlers read): build times the server
    // compares (alert expiries, takeover windows) from this, never from the date.
    std::int64_t nowMs() const;

  private:
    TempDir dir_;
    microscape::controller::ControllerConfig config_;
    std::unique_ptr<microscape::controller::ControllerServer> server_;
    std::shared_ptr<std::atomic<std::int64_t>> offset_ = std::make_shared<std::atomic<std::int64_t>>(0);
    std::atomic<std::int64_t>& clockOffsetMs_ = *offset_;
    // The wall-clock ms the server's clock stands at, or -1 while it runs.
    std::shared_ptr<std::atomic<std::int64_t>> frozenAt_ = std::make_shared<std::atomic<std::int64_t>>(-1);
};

std::string jsonString(const Poco::JSON::Object::Ptr& o);
Poco::JSON::Object::Ptr parseObject(const std::string& text);

// Media fixtures made at test time.
std::string makePng(const fs::path& dir, const std::string& text, int w = 320, int h = 180);
std::string makeMp4(const fs::path& dir, int seconds = 1);

}  // namespace microscape::testing

namespace microscape::testing {
// An Ed25519 public key PEM and a Z85 CURVE public key, as a player would send.
struct PlayerKeys {
    std::string identityPem;
    std::string curveZ85;
};
PlayerKeys makePlayerKeys();
// Enrols a player through the API with a fresh token; returns the player id.
std::string enrollPlayer(Client& admin, Client& anon, const std::string& name, std::optional<int> locationId);

// The id of a resource a POST created (requires 201).
int createdId(const Response& r);
// Uploads media as ed, submits it and has ap approve it; returns its id.
int uploadApproved(Client& ed, Client& ap, const std::string& body, const std::string& fileName,
                   const std::string& contentType = "image/png");
// The microscape-player binary built beside the controller.
std::string playerBin();

// `microscape-player enroll` with a fresh one-time token made from `tokenBody`
// (e.g. with a locationId) and any extra enroll arguments; returns the player id
// written to DIR/player.json. REQUIREs success.
std::string enrollScreen(TestServer& srv, Client& admin, const fs::path& dir,
                         const std::string& tokenBody = R"({"name":"screen"})",
                         const std::vector<std::string>& extraArgs = {});

// The argv of the technician's command in a POST /api/v1/enrollment-tokens
// answer, with the microscape-player built here and DIR as the data directory.
std::vector<std::string> enrollArgv(const Response& tokenAnswer, const fs::path& dir);

// `microscape-player run --data-dir DIR ARGS...` in the background, output
// appended to `log`; stopped with SIGTERM when the pointer goes.
std::unique_ptr<microscape::testing::SpawnedProcess> startScreen(const fs::path& dir, const fs::path& log,
                                                                 const std::vector<std::string>& args);

// What the controller stored for a player (read from its database file).
struct StoredProofs {
    std::vector<std::int64_t> seqs;
    std::vector<std::string> records;
    std::vector<std::string> checkpoints;
};
// What the controller stored for a player: from its store, or from the SQLite
// file of a controller run as a process.
StoredProofs storedProofs(const microscape::controller::sql::StoreUrl& store, const std::string& playerId);
std::int64_t storedCount(const microscape::controller::sql::StoreUrl& store, const std::string& playerId);
StoredProofs storedProofs(const fs::path& controllerDb, const std::string& playerId);
std::int64_t storedCount(const fs::path& controllerDb, const std::string& playerId);

// Two controller nodes writing at once, deterministically: runs `first` in a
// write transaction of node A (its own Db on `url`) and, while A's transaction
// is still open, `second` in one of node B. On PostgreSQL B is started, A
// waits until B is seen blocked on a lock (pg_stat_activity) and only then
// commits, so the two really overlap (B read what it read before A's commit);
// no sleeps. On SQLite one writer excludes the other and B runs after A. An
// exception of either step is raised here after both have ended (A's first);
// B that ends without ever waiting fails the test.
void overlapOnTwoNodes(const microscape::controller::sql::StoreUrl& url,
                       const std::function<void(microscape::controller::DbConn&)>& first,
                       const std::function<void(microscape::controller::DbConn&)>& second);
// The same step on both nodes.
void overlapOnTwoNodes(const microscape::controller::sql::StoreUrl& url,
                       const std::function<void(microscape::controller::DbConn&)>& step);
// The same with anything else for B: runs `first` in node A's open write
// transaction and each of `others` in a thread of its own (e.g. requests to
// the controllers under test); on PostgreSQL A commits once as many sessions
// wait on a lock as there are others (SQLite: the others one after the other,
// after A's commit). Exceptions and an other that never waited fail as above.
void whileHolding(const microscape::controller::sql::StoreUrl& url,
                  const std::function<void(microscape::controller::DbConn&)>& first,
                  const std::vector<std::function<void()>>& others);
}  // namespace microscape::testing
