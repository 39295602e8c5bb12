#include "microscape/controller/config.hpp"

#include <Poco/Logger.h>
#include <Poco/NumberParser.h>
#include <Poco/URI.h>
#include <Poco/Util/AbstractConfiguration.h>

#include <Poco/StringTokenizer.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <set>

#include "microscape/core/log_setup.hpp"
#include "microscape/core/pin.hpp"
#include "microscape/core/wire.hpp"

namespace microscape::controller {
namespace {

const std::set<std::string> kKnownKeys = {
    "controller.dataDir",
    "controller.logLevel",
    "controller.logFormat",
    "http.bind",
    "http.port",
    "http.threads",
    "http.maxJsonBytes",
    "http.secureCookies",
    "zmq.bind",
    "zmq.port",
    "zmq.bulkPort",
    "zmq.sealedBudgetMiB",
    "media.maxUploadBytes",
    "auth.pbkdf2Iterations",
    "auth.sessionTtlSeconds",
    "enroll.maxTokenTtlSeconds",
    "compile.horizonDays",
    "zmq.curve",
    "zmq.heartbeatMs",
    "http.webRoot",
    "http.vendorRoot",
    "http.tls",
    "http.publicUrl",
    "http.publicTlsKeyHash",
    "http.headerTimeoutMs",
    "http.bodyIdleTimeoutMs",
    "http.keepAliveIdleMs",
    "http.maxConnectionsPerAddress",
    "auth.sessionIdleSeconds",
    "auth.passwordMinLength",
    "auth.passwordMinClasses",
    "zmq.proofsPerMinute",
    "zmq.minFreeDiskBytes",
    "media.probeHelper",
    "media.probeTimeoutSeconds",
    "media.normaliseTimeoutSeconds",
    "media.transcodeTimeoutSeconds",
    "media.normaliseMemoryMiB",
    "media.stillMaxSide",
    "media.stillMaxPixels",
    "media.renditions",
    "alerts.maxBytes",
    "alerts.requireSignature",
    "alerts.trustedKeys",
    "alerts.feedUrl",
    "alerts.pollSeconds",
    "alerts.feedAccount",
    "alerts.defaultMinutes",
    "store.url",
    "store.passwordFile",
    "store.poolSize",
    "cluster.hubEndpoints",
};

// http.tls is a value and a prefix: its sub-keys are checked separately.
const std::set<std::string> kTlsSubKeys = {"certificate", "privateKey"};
const char* kPrefixes[] = {"controller", "http",    "zmq",    "media", "auth",
                           "enroll",     "compile", "alerts", "store", "cluster"};

Status readInt(const Poco::Util::AbstractConfiguration& conf, const std::string& key, std::int64_t lo, std::int64_t hi,
               std::int64_t& out) {
    if (!conf.hasProperty(key)) return {};
    std::string raw = conf.getString(key);
    Poco::Int64 v = 0;
    if (!Poco::NumberParser::tryParse64(raw, v) || v < lo || v > hi)
        return makeError(Errc::Usage, key + ": expected an integer in [" + std::to_string(lo) + ", " +
                                          std::to_string(hi) + "], got '" + raw + "'");
    out = v;
    return {};
}

template <class T>
Status readIntInto(const Poco::Util::AbstractConfiguration& conf, const std::string& key, std::int64_t lo,
                   std::int64_t hi, T& out) {
    std::int64_t v = static_cast<std::int64_t>(out);
    MS_TRY(readInt(conf, key, lo, hi, v));
    out = static_cast<T>(v);
    return {};
}

// store.url (default sqlite: in the data directory); a PostgreSQL password
// from store.passwordFile (its first line) or MICROSCAPE_STORE_PASSWORD, never
// from the URL or the command line.
Status readStore(const Poco::Util::AbstractConfiguration& conf, ControllerConfig& c) {
    auto url = sql::parseStoreUrl(conf.getString("store.url", "sqlite:"), c.dataDir);
    if (!url) return makeError(Errc::Usage, "store.url: " + url.error().message);
    c.store = std::move(*url);
    const std::string passwordFile = conf.getString("store.passwordFile", "");
    if (!passwordFile.empty()) {
        std::ifstream in(passwordFile);
        if (!in) return makeError(Errc::Usage, "store.passwordFile: cannot read '" + passwordFile + "'");
        std::getline(in, c.store.password);
        if (!c.store.password.empty() && c.store.password.back() == '\r') c.store.password.pop_back();
    } else if (const char* env = std::getenv("MICROSCAPE_STORE_PASSWORD")) {
        c.store.password = env;
    }
    return readIntInto(conf, "store.poolSize", 1, 256, c.storePoolSize);
}

// cluster.hubEndpoints: tcp://HOST:PORT, comma-separated, each once.
Status readHubEndpoints(const Poco::Util::AbstractConfiguration& conf, ControllerConfig& c) {
    for (auto e : Poco::StringTokenizer(conf.getString("cluster.hubEndpoints", ""), ",",
                                        Poco::StringTokenizer::TOK_TRIM | Poco::StringTokenizer::TOK_IGNORE_EMPTY)) {
        if (!wire::isHubEndpoint(e))
            return makeError(Errc::Usage, "cluster.hubEndpoints: '" + e + "' is not tcp://HOST:PORT (port 1..65535)");
        if (std::find(c.clusterHubEndpoints.begin(), c.clusterHubEndpoints.end(), e) != c.clusterHubEndpoints.end())
            return makeError(Errc::Usage, "cluster.hubEndpoints: '" + e + "' is named twice");
        c.clusterHubEndpoints.push_back(e);
    }
    if (c.clusterHubEndpoints.size() > wire::kMaxHubEndpoints)
        return makeError(Errc::Usage,
                         "cluster.hubEndpoints: at most " + std::to_string(wire::kMaxHubEndpoints) + " endpoints");
    return {};
}

Status readTls(const Poco::Util::AbstractConfiguration& conf, ControllerConfig& c) {
    if (conf.hasProperty("http.tls")) {
        const std::string raw = conf.getString("http.tls");
        bool b = true;
        if (!Poco::NumberParser::tryParseBool(raw, b))
            return makeError(Errc::Usage, "http.tls: expected on or off, got '" + raw + "'");
        c.tls = b;
    }
    c.tlsCertificate = conf.getString("http.tls.certificate", "");
    c.tlsPrivateKey = conf.getString("http.tls.privateKey", "");
    if (c.tlsCertificate.empty() != c.tlsPrivateKey.empty())
        return makeError(Errc::Usage,
                         "http.tls.certificate and http.tls.privateKey go together (or leave both empty "
                         "for a self-signed certificate)");
    for (const auto& [key, file] :
         {std::pair{"http.tls.certificate", c.tlsCertificate}, std::pair{"http.tls.privateKey", c.tlsPrivateKey}}) {
        std::error_code ec;
        if (c.tls && !file.empty() && !std::filesystem::is_regular_file(file, ec))
            return makeError(Errc::Usage, std::string(key) + ": '" + file.string() + "' is not a file");
    }
    c.publicUrl = conf.getString("http.publicUrl", "");
    if (!c.publicUrl.empty()) MS_TRY(checkPublicUrl(c.publicUrl, c.tls));
    const std::string pin = conf.getString("http.publicTlsKeyHash", "");
    if (!pin.empty()) {
        auto p = crypto::parsePin(pin, "http.publicTlsKeyHash");
        if (!p) return p.error();
        c.publicTlsKeyHash = *p;
    }
    if (!c.tls && c.publicUrl.rfind("https://", 0) == 0 && c.publicTlsKeyHash.empty())
        return makeError(Errc::Usage,
                         "http.publicUrl is https:// but this controller serves plain HTTP (http.tls=off): "
                         "set http.publicTlsKeyHash to the pin of the TLS proxy's key, which enrolment "
                         "commands carry (docs/guide-operator.md)");
    return {};
}

Status readAlerts(const Poco::Util::AbstractConfiguration& conf, ControllerConfig& c) {
    MS_TRY(readIntInto(conf, "alerts.maxBytes", 1024, 4 << 20, c.alertMaxBytes));
    MS_TRY(readIntInto(conf, "alerts.pollSeconds", 1, 86400, c.alertPollSeconds));
    MS_TRY(readIntInto(conf, "alerts.defaultMinutes", 1, 7 * 24 * 60, c.alertDefaultMinutes));
    if (conf.hasProperty("alerts.requireSignature")) {
        const std::string raw = conf.getString("alerts.requireSignature");
        bool b = false;
        if (!Poco::NumberParser::tryParseBool(raw, b))
            return makeError(Errc::Usage, "alerts.requireSignature: expected true or false, got '" + raw + "'");
        c.alertRequireSignature = b;
    }
    for (auto file : Poco::StringTokenizer(conf.getString("alerts.trustedKeys", ""), ",",
                                           Poco::StringTokenizer::TOK_TRIM | Poco::StringTokenizer::TOK_IGNORE_EMPTY)) {
        std::ifstream in(file, std::ios::binary);
        if (!in) return makeError(Errc::Usage, "alerts.trustedKeys: cannot read '" + file + "'");
        std::string pem((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        if (pem.find("-----BEGIN ") == std::string::npos)
            return makeError(Errc::Usage, "alerts.trustedKeys: '" + file + "' is not a PEM certificate or public key");
        c.alertTrustedKeyFiles.emplace_back(file);
        c.alertTrustedKeyPems.push_back(std::move(pem));
    }
    if (c.alertRequireSignature && c.alertTrustedKeyPems.empty())
        return makeError(Errc::Usage, "alerts.requireSignature is on but alerts.trustedKeys names no key");
    c.alertFeedUrl = conf.getString("alerts.feedUrl", "");
    if (!c.alertFeedUrl.empty()) {
        try {
            Poco::URI uri(c.alertFeedUrl);
            if ((uri.getScheme() != "http" && uri.getScheme() != "https") || uri.getHost().empty())
                return makeError(Errc::Usage,
                                 "alerts.feedUrl: expected http(s)://HOST[:PORT]/PATH, got '" + c.alertFeedUrl + "'");
        } catch (const Poco::Exception& e) {
            return makeError(Errc::Usage, "alerts.feedUrl: '" + c.alertFeedUrl + "' is not a URL: " + e.displayText());
        }
    }
    c.alertFeedAccount = conf.getString("alerts.feedAccount", c.alertFeedAccount);
    if (c.alertFeedAccount.empty()) return makeError(Errc::Usage, "alerts.feedAccount must not be empty");
    return {};
}

}  // namespace

Status checkPublicUrl(const std::string& url, bool tls) {
    Poco::URI uri;
    try {
        uri = Poco::URI(url);
    } catch (const Poco::Exception& e) {
        return makeError(Errc::Usage, "http.publicUrl: '" + url + "' is not a URL: " + e.displayText());
    }
    if ((uri.getScheme() != "https" && uri.getScheme() != "http") || uri.getHost().empty() || !uri.getQuery().empty() ||
        !uri.getFragment().empty() || !uri.getUserInfo().empty())
        return makeError(Errc::Usage, "http.publicUrl: expected https://HOST[:PORT][/PATH], got '" + url + "'");
    for (char ch : url)
        if (static_cast<unsigned char>(ch) <= ' ' || ch == '\\' || ch == '"' || ch == '\'' || ch == '`' || ch == '$' ||
            ch == ';' || ch == '&' || ch == '|' || ch == '<' || ch == '>' || static_cast<unsigned char>(ch) >= 0x7f)
            return makeError(Errc::Usage,
                             "http.publicUrl: '" + url + "' holds a character a shell command cannot carry");
    if (tls && uri.getScheme() != "https")
        return makeError(Errc::Usage, "http.publicUrl must be https:// while http.tls is on");
    return {};
}

Result<ControllerConfig> loadConfig(const Poco::Util::AbstractConfiguration& conf) {
    for (const char* prefix : kPrefixes) {
        Poco::Util::AbstractConfiguration::Keys keys;
        conf.keys(prefix, keys);
        for (const auto& k : keys) {
            std::string full = std::string(prefix) + "." + k;
            if (!kKnownKeys.count(full)) return makeError(Errc::Usage, "unknown configuration key '" + full + "'");
        }
    }
    {
        Poco::Util::AbstractConfiguration::Keys keys;
        conf.keys("http.tls", keys);
        for (const auto& k : keys)
            if (!kTlsSubKeys.count(k)) return makeError(Errc::Usage, "unknown configuration key 'http.tls." + k + "'");
    }
    ControllerConfig c;
    c.dataDir = conf.getString("controller.dataDir", "");
    if (c.dataDir.empty())
        return makeError(Errc::Usage, "no data directory: set controller.dataDir or pass --data-dir");
    c.logLevel = conf.getString("controller.logLevel", c.logLevel);
    try {
        (void)Poco::Logger::parseLevel(c.logLevel);
    } catch (const Poco::Exception&) {
        return makeError(Errc::Usage,
                         "controller.logLevel must be one of none, fatal, critical, error, warning, "
                         "notice, information, debug, trace (got '" +
                             c.logLevel + "')");
    }
    c.logFormat = conf.getString("controller.logFormat", c.logFormat);
    if (!logsetup::parseFormat(c.logFormat))
        return makeError(Errc::Usage, "controller.logFormat must be auto, journal or text (got '" + c.logFormat + "')");
    c.httpBind = conf.getString("http.bind", c.httpBind);
    c.zmqBind = conf.getString("zmq.bind", c.zmqBind);
    if (c.httpBind.empty()) return makeError(Errc::Usage, "http.bind must not be empty");
    if (c.zmqBind.empty()) return makeError(Errc::Usage, "zmq.bind must not be empty");
    c.webRoot = conf.getString("http.webRoot", "");
    c.vendorRoot = conf.getString("http.vendorRoot", c.vendorRoot.string());
    for (const auto& [key, dir] : {std::pair{"http.webRoot", c.webRoot}, std::pair{"http.vendorRoot", c.vendorRoot}}) {
        std::error_code ec;
        if (!dir.empty() && !std::filesystem::is_directory(dir, ec))
            return makeError(Errc::Usage, std::string(key) + ": '" + dir.string() + "' is not a directory");
    }
    MS_TRY(readIntInto(conf, "http.port", 0, 65535, c.httpPort));
    MS_TRY(readIntInto(conf, "http.threads", 1, 256, c.httpThreads));
    MS_TRY(readIntInto(conf, "http.maxJsonBytes", 1024, 64 << 20, c.maxJsonBytes));
    MS_TRY(readIntInto(conf, "zmq.port", 0, 65535, c.zmqPort));
    MS_TRY(readIntInto(conf, "zmq.heartbeatMs", 50, 600000, c.zmqHeartbeatMs));
    if (conf.hasProperty("zmq.bulkPort")) {
        int bulk = 0;
        MS_TRY(readIntInto(conf, "zmq.bulkPort", -1, 65535, bulk));
        c.zmqBulkPort = bulk;
    }
    MS_TRY(readIntInto(conf, "zmq.sealedBudgetMiB", 1, 1 << 20, c.zmqSealedBudgetMiB));
    if (conf.hasProperty("zmq.curve")) {
        bool b = true;
        if (!Poco::NumberParser::tryParseBool(conf.getString("zmq.curve"), b))
            return makeError(Errc::Usage, "zmq.curve: expected true or false");
        c.zmqCurve = b;
    }
    MS_TRY(readIntInto(conf, "zmq.proofsPerMinute", 0, 1'000'000, c.zmqProofsPerMinute));
    MS_TRY(readIntInto(conf, "zmq.minFreeDiskBytes", 0, std::int64_t(1) << 50, c.zmqMinFreeDiskBytes));
    MS_TRY(readIntInto(conf, "media.maxUploadBytes", 1, std::int64_t(1) << 40, c.maxUploadBytes));
    MS_TRY(readIntInto(conf, "auth.pbkdf2Iterations", 1, 10'000'000, c.pbkdf2Iterations));
    MS_TRY(readIntInto(conf, "auth.sessionTtlSeconds", 60, 30 * 24 * 3600, c.sessionTtlSeconds));
    MS_TRY(readIntInto(conf, "auth.sessionIdleSeconds", 60, 30 * 24 * 3600, c.sessionIdleSeconds));
    MS_TRY(readIntInto(conf, "auth.passwordMinLength", 8, 128, c.passwordMinLength));
    MS_TRY(readIntInto(conf, "auth.passwordMinClasses", 1, 4, c.passwordMinClasses));
    MS_TRY(readIntInto(conf, "enroll.maxTokenTtlSeconds", 60, 365 * 24 * 3600, c.maxEnrollTokenTtlSeconds));
    MS_TRY(readIntInto(conf, "compile.horizonDays", 1, 90, c.compileHorizonDays));
    MS_TRY(readIntInto(conf, "http.headerTimeoutMs", 100, 600000, c.httpHeaderTimeoutMs));
    MS_TRY(readIntInto(conf, "http.bodyIdleTimeoutMs", 100, 3600000, c.httpBodyIdleTimeoutMs));
    MS_TRY(readIntInto(conf, "http.keepAliveIdleMs", 100, 600000, c.httpKeepAliveIdleMs));
    MS_TRY(readIntInto(conf, "http.maxConnectionsPerAddress", 1, 100000, c.httpMaxConnectionsPerAddress));
    if (conf.hasProperty("http.secureCookies")) {
        std::string raw = conf.getString("http.secureCookies");
        bool b = false;
        if (!Poco::NumberParser::tryParseBool(raw, b))
            return makeError(Errc::Usage, "http.secureCookies: expected true or false, got '" + raw + "'");
        c.secureCookies = b;
    }
    MS_TRY(readTls(conf, c));
    c.probeHelper = conf.getString("media.probeHelper", "");
    MS_TRY(readIntInto(conf, "media.probeTimeoutSeconds", 1, 3600, c.probeTimeoutSeconds));
    MS_TRY(readIntInto(conf, "media.normaliseTimeoutSeconds", 1, 3600, c.normaliseTimeoutSeconds));
    MS_TRY(readIntInto(conf, "media.transcodeTimeoutSeconds", 10, 86400, c.transcodeTimeoutSeconds));
    {
        int mib = static_cast<int>(c.normaliseMemoryBytes >> 20), side = c.stillMaxSide,
            mp = static_cast<int>(c.stillMaxPixels / 1'000'000);
        MS_TRY(readIntInto(conf, "media.normaliseMemoryMiB", 256, 65536, mib));
        MS_TRY(readIntInto(conf, "media.stillMaxSide", 256, 16384, side));
        MS_TRY(readIntInto(conf, "media.stillMaxPixels", 1, 1000, mp));  // in millions
        c.normaliseMemoryBytes = std::uint64_t(mib) << 20;
        c.stillMaxSide = side;
        c.stillMaxPixels = std::uint64_t(mp) * 1'000'000;
    }
    if (conf.hasProperty("media.renditions")) {
        std::string raw = conf.getString("media.renditions");
        bool b = true;
        if (!Poco::NumberParser::tryParseBool(raw, b))
            return makeError(Errc::Usage, "media.renditions: expected true or false, got '" + raw + "'");
        c.renditions = b;
    }
    MS_TRY(readAlerts(conf, c));
    MS_TRY(readStore(conf, c));
    MS_TRY(readHubEndpoints(conf, c));
    if (c.httpPort != 0 && c.httpPort == c.zmqPort && c.httpBind == c.zmqBind)
        return makeError(Errc::Usage, "http.port and zmq.port must differ");
    if (c.zmqBulkPort && *c.zmqBulkPort > 0 &&
        (*c.zmqBulkPort == c.zmqPort || (*c.zmqBulkPort == c.httpPort && c.httpBind == c.zmqBind)))
        return makeError(Errc::Usage, "zmq.bulkPort must differ from zmq.port and http.port");
    return c;
}

sql::StoreUrl storeUrl(const ControllerConfig& config) {
    if (config.store.backend == sql::Backend::Sqlite && config.store.sqliteFile.empty())
        return *sql::parseStoreUrl("sqlite:", config.dataDir);
    return config.store;
}

sql::DatabaseOptions storeOptions(const ControllerConfig& config) {
    sql::DatabaseOptions o;
    o.poolSize = config.storePoolSize;
    return o;
}

}  // namespace microscape::controller
