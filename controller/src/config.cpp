#include "microscape/controller/config.hpp"

#include <Poco/Logger.h>
#include <Poco/NumberParser.h>
#include <Poco/Util/AbstractConfiguration.h>

#include <cctype>
#include <set>

#include "microscape/core/log_setup.hpp"

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
    "media.maxUploadBytes",
    "auth.pbkdf2Iterations",
    "auth.sessionTtlSeconds",
    "enroll.maxTokenTtlSeconds",
    "compile.horizonDays",
    "zmq.curve",
    "zmq.heartbeatMs",
    "http.webRoot",
    "http.vendorRoot",
    "http.headerTimeoutMs",
    "http.bodyIdleTimeoutMs",
    "http.keepAliveIdleMs",
    "http.maxConnectionsPerAddress",
    "auth.sessionIdleSeconds",
    "auth.passwordMinLength",
    "auth.passwordMinClasses",
    "zmq.proofsPerMinute",
    "zmq.minFreeDiskBytes",
    "http.publicUrl",
};
// http://host[:port] or https://host[:port]: it goes into a shell command the technician pastes.
bool isPublicUrl(const std::string& u) {
    std::string rest;
    if (u.rfind("http://", 0) == 0)
        rest = u.substr(7);
    else if (u.rfind("https://", 0) == 0)
        rest = u.substr(8);
    else
        return false;
    if (rest.empty() || rest.size() > 253) return false;
    for (char ch : rest)
        if (!(std::isalnum(static_cast<unsigned char>(ch)) || ch == '.' || ch == '-' || ch == ':' ||
              ch == '[' || ch == ']'))
            return false;
    return rest.front() != ':' && rest.front() != '-';
}

const char* kPrefixes[] = {"controller", "http", "zmq", "media", "auth", "enroll", "compile"};

Status readInt(const Poco::Util::AbstractConfiguration& conf, const std::string& key, std::int64_t lo,
               std::int64_t hi, std::int64_t& out) {
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

}  // namespace

Result<ControllerConfig> loadConfig(const Poco::Util::AbstractConfiguration& conf) {
    for (const char* prefix : kPrefixes) {
        Poco::Util::AbstractConfiguration::Keys keys;
        conf.keys(prefix, keys);
        for (const auto& k : keys) {
            std::string full = std::string(prefix) + "." + k;
            if (!kKnownKeys.count(full)) return makeError(Errc::Usage, "unknown configuration key '" + full + "'");
        }
    }
    ControllerConfig c;
    c.dataDir = conf.getString("controller.dataDir", "");
    if (c.dataDir.empty())
        return makeError(Errc::Usage, "no data directory: set controller.dataDir or pass --data-dir");
    c.logLevel = conf.getString("controller.logLevel", c.logLevel);
    try {
        (void)Poco::Logger::parseLevel(c.logLevel);
    } catch (const Poco::Exception&) {
        return makeError(
            Errc::Usage,
            "controller.logLevel must be one of none, fatal, critical, error, warning, "
            "notice, information, debug, trace (got '" +
                c.logLevel + "')");
    }
    c.logFormat = conf.getString("controller.logFormat", c.logFormat);
    if (!logsetup::parseFormat(c.logFormat))
        return makeError(Errc::Usage, "controller.logFormat must be auto, journal or text (got '" +
                                          c.logFormat + "')");
    c.httpBind = conf.getString("http.bind", c.httpBind);
    c.zmqBind = conf.getString("zmq.bind", c.zmqBind);
    if (c.httpBind.empty()) return makeError(Errc::Usage, "http.bind must not be empty");
    if (c.zmqBind.empty()) return makeError(Errc::Usage, "zmq.bind must not be empty");
    c.publicUrl = conf.getString("http.publicUrl", "");
    while (!c.publicUrl.empty() && c.publicUrl.back() == '/') c.publicUrl.pop_back();
    if (!c.publicUrl.empty() && !isPublicUrl(c.publicUrl))
        return makeError(
            Errc::Usage,
            "http.publicUrl must be http://HOST[:PORT] or https://HOST[:PORT] (letters, "
            "digits, '.', '-', ':', '[', ']' only; no path, user or query)");
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
    if (conf.hasProperty("zmq.curve")) {
        bool b = true;
        if (!Poco::NumberParser::tryParseBool(conf.getString("zmq.curve"), b))
            return makeError(Errc::Usage, "zmq.curve: expected true or false");
        c.zmqCurve = b;
    }
    MS_TRY(readIntInto(conf, "zmq.proofsPerMinute", 0, 1'000'000, c.zmqProofsPerMinute));
    MS_TRY(
        readIntInto(conf, "zmq.minFreeDiskBytes", 0, std::int64_t(1) << 50, c.zmqMinFreeDiskBytes));
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
    MS_TRY(readIntInto(conf, "http.maxConnectionsPerAddress", 1, 100000,
                       c.httpMaxConnectionsPerAddress));
    if (conf.hasProperty("http.secureCookies")) {
        std::string raw = conf.getString("http.secureCookies");
        bool b = false;
        if (!Poco::NumberParser::tryParseBool(raw, b))
            return makeError(Errc::Usage, "http.secureCookies: expected true or false, got '" + raw + "'");
        c.secureCookies = b;
    }
    if (c.httpPort != 0 && c.httpPort == c.zmqPort && c.httpBind == c.zmqBind)
        return makeError(Errc::Usage, "http.port and zmq.port must differ");
    return c;
}

}  // namespace microscape::controller
