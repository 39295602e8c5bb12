// Typed controller configuration, read once at start-up from Poco's layered
// configuration (.properties file + command-line flags) and validated there.
// Plain value type; thread-safety is that of any const struct.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "microscape/core/result.hpp"
#include "store/database.hpp"

namespace Poco::Util {
class AbstractConfiguration;
}

namespace microscape::controller {

struct ControllerConfig {
    // controller.dataDir: holds controller.db, media/ and keys/. Required.
    std::filesystem::path dataDir;
    // store.url (--store): sqlite: (default: controller.db in dataDir) or
    // postgresql://user@host:port/db?sslmode=...; the password from
    // store.passwordFile or MICROSCAPE_STORE_PASSWORD (docs/guide-operator.md).
    sql::StoreUrl store;
    int storePoolSize = 8;  // store.poolSize: PostgreSQL connections of this node
    // cluster.hubEndpoints: every node's hub as screens reach it (comma-separated
    // tcp://HOST:PORT, this node's included), offered at enrolment so a screen
    // fails over between them; empty = the one hub at the enrolment URL's host.
    std::vector<std::string> clusterHubEndpoints;
    // controller.logLevel / controller.logFormat: a Poco level name, and auto, journal or
    // text (docs/logging.md). Used by main() unless Poco's own logging.* keys are set.
    std::string logLevel = "information";
    std::string logFormat = "auto";
    // http.bind / http.port: where the HTTP API listens; port 0 picks a free port.
    std::string httpBind = "127.0.0.1";
    int httpPort = 8080;
    int httpThreads = 32;                // http.threads: worker threads (keep above http.maxConnectionsPerAddress)
    std::size_t maxJsonBytes = 1 << 20;  // http.maxJsonBytes: cap for JSON request bodies
    bool secureCookies = false;          // http.secureCookies: add Secure (set behind TLS)
    // http.webRoot: the web console's files; empty = found at start (beside the binary,
    // the source tree, /usr/share/microscape/web). http.vendorRoot: Debian's browser
    // libraries (libjs-*), served under /vendor/.
    std::filesystem::path webRoot;
    std::filesystem::path vendorRoot = "/usr/share/javascript";
    // zmq.bind / zmq.port: the distribution hub's ROUTER (issue 4); validated here.
    std::string zmqBind = "0.0.0.0";
    int zmqPort = 5560;
    // zmq.bulkPort: the bulk channel of CURVE sessions (docs/wire-protocol.md);
    // unset: zmq.port + 1 (any free port if that is taken, or if zmq.port is 0); -1: none.
    std::optional<int> zmqBulkPort;
    // zmq.sealedBudgetMiB: sealed media chunks the hub holds at once for the
    // bulk channel, all screens together (HubConfig::sealedBudgetBytes).
    int zmqSealedBudgetMiB = 256;
    bool zmqCurve = true;       // zmq.curve: CURVE + ZAP (enrolled keys only); off only on trusted links
    int zmqHeartbeatMs = 5000;  // zmq.heartbeatMs: hub heartbeat; 3 silent intervals = offline
    std::uint64_t maxUploadBytes = 2ull << 30;  // media.maxUploadBytes
    int pbkdf2Iterations = 210000;              // auth.pbkdf2Iterations (new hashes)
    int sessionTtlSeconds = 12 * 3600;          // auth.sessionTtlSeconds: absolute session lifetime
    int sessionIdleSeconds = 30 * 60;           // auth.sessionIdleSeconds: a session unused this long ends
    // Password policy for new passwords (creation, reset, change): at least
    // auth.passwordMinLength characters (8..128) from at least auth.passwordMinClasses
    // (1..4) of the classes lower-case, upper-case, digit, other.
    int passwordMinLength = 8;
    int passwordMinClasses = 3;
    int maxEnrollTokenTtlSeconds = 7 * 24 * 3600;  // enroll.maxTokenTtlSeconds
    int compileHorizonDays = 14;                   // compile.horizonDays: schedule days per manifest
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
    // Hostile clients (docs/controller-api.md, "Connection limits"):
    int httpHeaderTimeoutMs = 5000;     // http.headerTimeoutMs: request line + headers must arrive within this
    int httpBodyIdleTimeoutMs = 15000;  // http.bodyIdleTimeoutMs: a body read or response write stalled this long fails
    int httpKeepAliveIdleMs = 2000;     // http.keepAliveIdleMs: an idle keep-alive connection is closed after this
    int httpMaxConnectionsPerAddress = 16;  // http.maxConnectionsPerAddress: more get 503 (a proxy is one address)
    // zmq.proofsPerMinute: PROOFS batches one player may send a minute (0: no limit).
    int zmqProofsPerMinute = 120;
    // zmq.minFreeDiskBytes: proof-of-play ingest pauses while the data directory's
    // file system has less free space than this (0: no guard).
    std::uint64_t zmqMinFreeDiskBytes = 256ull << 20;
    // media.probeHelper: the program that probes each upload in a confined process
    // (microscape-probe); empty = microscape-probe beside this program.
    std::filesystem::path probeHelper;
    int probeTimeoutSeconds = 20;  // media.probeTimeoutSeconds: then the probe is killed (422)
    // Normalisation and renditions (docs/controller-api.md "What happens to an upload"),
    // each run of ImageMagick or ffmpeg in a confined process of its own:
    int normaliseTimeoutSeconds = 60;   // media.normaliseTimeoutSeconds: a still (or a GIF's clip); then 422
    int transcodeTimeoutSeconds = 900;  // media.transcodeTimeoutSeconds: one rendition of a clip
    std::uint64_t normaliseMemoryBytes = 2ull << 30;  // media.normaliseMemoryMiB: address space of one run
    int stillMaxSide = 3840;                     // media.stillMaxSide: larger pictures are scaled down to this side
    std::uint64_t stillMaxPixels = 100'000'000;  // media.stillMaxPixels: larger pictures are refused (422)
    bool renditions = true;                      // media.renditions: make renditions per screen size
    // CAP 1.2 alerts (docs/controller-api.md "Alerts", docs/guide-operator.md "Alert feeds"):
    std::size_t alertMaxBytes = 256 << 10;  // alerts.maxBytes: the largest CAP message taken (POST or feed)
    // alerts.requireSignature: refuse an alert without an enveloped XML-DSig signature
    // that verifies under one of alerts.trustedKeys. A signature that is present is
    // checked whenever trusted keys are configured, required or not.
    bool alertRequireSignature = false;
    // alerts.trustedKeys: comma-separated PEM files (X.509 certificates or public
    // keys, RSA) whose signatures are accepted; read once at start-up.
    std::vector<std::filesystem::path> alertTrustedKeyFiles;
    std::vector<std::string> alertTrustedKeyPems;  // their contents, in the same order
    // alerts.feedUrl: an Atom or RSS feed of CAP messages (embedded or linked on the
    // same host) polled every alerts.pollSeconds; empty = no polling.
    std::string alertFeedUrl;
    int alertPollSeconds = 60;
    std::string alertFeedAccount = "cap-feed";  // alerts.feedAccount: the alert_feed user the poller acts as
    int alertDefaultMinutes = 60;  // alerts.defaultMinutes: a takeover's length when an alert gives no <expires>
};

// Reads and validates every controller key. Unknown keys under the controller's
// prefixes (controller., http., zmq., media., auth., enroll., compile.) are
// rejected so a typo does not silently fall back to a default.
Result<ControllerConfig> loadConfig(const Poco::Util::AbstractConfiguration& conf);

// Checks an http.publicUrl: http(s)://HOST[:PORT][/PATH], nothing a shell would
// read (it goes into a command a technician pastes), https:// when tls is on.
// Errors: Usage.
Status checkPublicUrl(const std::string& url, bool tls);

// The store's connection settings from the configuration.
sql::DatabaseOptions storeOptions(const ControllerConfig& config);
// config.store, or the default (controller.db in dataDir) when it names no SQLite file.
sql::StoreUrl storeUrl(const ControllerConfig& config);

}  // namespace microscape::controller
