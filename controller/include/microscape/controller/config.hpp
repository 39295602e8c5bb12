// Typed controller configuration, read once at start-up from Poco's layered
// configuration (.properties file + command-line flags) and validated there.
// Plain value type; thread-safety is that of any const struct.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

#include "microscape/core/result.hpp"

namespace Poco::Util {
class AbstractConfiguration;
}

namespace microscape::controller {

struct ControllerConfig {
    // controller.dataDir: holds controller.db, media/ and keys/. Required.
    std::filesystem::path dataDir;
    // http.bind / http.port: where the HTTP API listens; port 0 picks a free port.
    std::string httpBind = "127.0.0.1";
    int httpPort = 8080;
    int httpThreads = 8;               // http.threads: worker threads
    std::size_t maxJsonBytes = 1 << 20;  // http.maxJsonBytes: cap for JSON request bodies
    bool secureCookies = false;        // http.secureCookies: add Secure (set behind TLS)
    // http.webRoot: the web console's files; empty = found at start (beside the binary,
    // the source tree, /usr/share/microscape/web). http.vendorRoot: Debian's browser
    // libraries (libjs-*), served under /vendor/.
    std::filesystem::path webRoot;
    std::filesystem::path vendorRoot = "/usr/share/javascript";
    // zmq.bind / zmq.port: the distribution hub's ROUTER (issue 4); validated here.
    std::string zmqBind = "0.0.0.0";
    int zmqPort = 5560;
    bool zmqCurve = true;              // zmq.curve: CURVE + ZAP (enrolled keys only); off only on trusted links
    int zmqHeartbeatMs = 5000;         // zmq.heartbeatMs: hub heartbeat; 3 silent intervals = offline
    std::uint64_t maxUploadBytes = 2ull << 30;  // media.maxUploadBytes
    int pbkdf2Iterations = 210000;     // auth.pbkdf2Iterations (new hashes)
    int sessionTtlSeconds = 12 * 3600; // auth.sessionTtlSeconds
    int maxEnrollTokenTtlSeconds = 7 * 24 * 3600;  // enroll.maxTokenTtlSeconds
    int compileHorizonDays = 14;       // compile.horizonDays: schedule days per manifest
    // http.tls: serve HTTPS (TLS 1.2 or later); false only behind a TLS-terminating
    // proxy (docs/guide-operator.md). Session cookies are Secure and responses carry
    // HSTS over HTTPS.
    bool tls = true;
    // http.tls.certificate / http.tls.privateKey: the operator's certificate (PEM,
    // chain allowed) and its key; both or neither. Neither: a self-signed EC P-256
    // certificate made at first start in keys/tls-cert.pem + keys/tls-key.pem (0600).
    std::filesystem::path tlsCertificate, tlsPrivateKey;
    // http.publicUrl: the controller as screens reach it (scheme://host[:port]), used
    // in the technician's enrolment command; empty = derived at start from http.tls,
    // http.bind (this host's name for a wildcard bind) and the bound port.
    std::string publicUrl;
    // http.publicTlsKeyHash: with http.tls=false behind an HTTPS proxy, the pin
    // (sha256:<hex> of the proxy's public key) that enrolment commands carry.
    std::string publicTlsKeyHash;
};

// Reads and validates every controller key. Unknown keys under the controller's
// prefixes (controller., http., zmq., media., auth., enroll., compile.) are
// rejected so a typo does not silently fall back to a default.
Result<ControllerConfig> loadConfig(const Poco::Util::AbstractConfiguration& conf);

// Checks an http.publicUrl: http(s)://HOST[:PORT][/PATH], nothing a shell would
// read (it goes into a command a technician pastes), https:// when tls is on.
// Errors: Usage.
Status checkPublicUrl(const std::string& url, bool tls);

}  // namespace microscape::controller
