// The controller server: opens the data directory (database, media store,
// content signing key), serves the HTTP API and stops cleanly. Used by the
// microscape-controller executable and, in-process, by the tests.
// start() and stop() are called from one thread (the owner); the HTTP worker
// threads only see the Services built here.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "microscape/controller/config.hpp"
#include "microscape/core/result.hpp"

namespace Poco {
class Logger;
}

namespace microscape::controller {

class ControllerServer {
  public:
    // clock: UTC milliseconds; defaults to the system clock (tests pass their own).
    ControllerServer(ControllerConfig config, Poco::Logger& log, std::function<std::int64_t()> clock = {});
    ~ControllerServer();  // stops if running
    ControllerServer(const ControllerServer&) = delete;
    ControllerServer& operator=(const ControllerServer&) = delete;

    // Prepares the data directory and starts listening. Errors: Io (data dir,
    // database, key), Usage (port in use or bad bind address).
    Status start();
    // Stops accepting, lets in-flight requests finish (bounded), closes the store.
    void stop();

    std::uint16_t httpPort() const;  // the bound port (useful with http.port = 0)
    std::uint16_t zmqPort() const;   // the distribution hub's bound port (zmq.port = 0 picks one)
    const ControllerConfig& config() const;
    // After start(): the URL enrolment commands name (http.publicUrl or derived),
    // and the pins they carry, "sha256:<hex>" of the key's SubjectPublicKeyInfo
    // (tlsKeyHash is "" over plain HTTP without http.publicTlsKeyHash).
    std::string publicUrl() const;
    std::string tlsKeyHash() const;
    std::string contentKeyHash() const;

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// Creates the first (or another) admin account directly in the data directory's
// database. An empty password means "generate one"; the password used is returned.
// Errors: Exists (username taken), Io.
Result<std::string> initAdmin(const ControllerConfig& config, const std::string& username, std::string password);

// The API's OpenAPI 3.0 document (what GET /api/v1/openapi.json serves), as JSON.
std::string openApiJson();

// Prepares the data directory layout (db, media, keys) with safe modes.
Status prepareDataDir(const ControllerConfig& config);

}  // namespace microscape::controller
