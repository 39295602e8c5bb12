#include "microscape/player/config.hpp"

#include <Poco/Exception.h>
#include <Poco/Logger.h>
#include <Poco/Util/PropertyFileConfiguration.h>
#include <zmq.h>

#include <algorithm>
#include <charconv>
#include <sstream>

#include "microscape/core/json.hpp"
#include "microscape/core/log_setup.hpp"
#include "microscape/pack/file_io.hpp"

namespace microscape::player {

namespace fs = std::filesystem;

namespace {

std::string trimmed(std::string s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
    return s;
}

}  // namespace

Result<PlayerConfig> loadConfig(const fs::path& dataDir) {
    PlayerConfig c;
    c.dataDir = dataDir;
    auto text = crypto::readSmallFile((dataDir / kConfigFile).string(), 64 << 10);
    if (!text)
        return makeError(text.code(),
                         "cannot read " + (dataDir / kConfigFile).string() + " (enrolled?): " + text.error().message);
    auto v = json::parse(*text);
    if (!v || !v->isObject())
        return makeError(Errc::BadJson, (dataDir / kConfigFile).string() + " is not a JSON object");
    const auto& o = v->asObject();
    auto str = [&](const char* key, std::string& out) {
        if (auto it = o.find(key); it != o.end() && it->second.isString()) out = it->second.asString();
    };
    auto num = [&](const char* key, auto& out) {
        if (auto it = o.find(key); it != o.end() && it->second.isInt())
            out = static_cast<std::remove_reference_t<decltype(out)>>(it->second.asInt());
    };
    str("player_id", c.playerId);
    str("name", c.name);
    str("endpoint", c.endpoint);
    str("controller_http", c.controllerHttp);
    str("curve_server_key", c.serverCurveKey);
    str("import_dir", c.importDir);
    if (auto it = o.find("curve"); it != o.end() && it->second.isBool()) c.curve = it->second.asBool();
    num("window", c.window);
    num("chunk_bytes", c.chunkBytes);
    num("reserve_bytes", c.reserveBytes);
    num("quota_bytes", c.quotaBytes);
    for (auto [key, out] : {std::pair{"width", &c.width}, std::pair{"height", &c.height}}) {
        auto it = o.find(key);
        if (it == o.end() || it->second.isNull()) continue;
        if (!it->second.isInt() || it->second.asInt() < kMinScreenSide || it->second.asInt() > kMaxScreenSide)
            return makeError(Errc::Usage, std::string("player.json: ") + key + " must be " +
                                              std::to_string(kMinScreenSide) + ".." + std::to_string(kMaxScreenSide) +
                                              " pixels");
        *out = static_cast<int>(it->second.asInt());
    }
    if (c.width.has_value() != c.height.has_value())
        return makeError(Errc::Usage, "player.json: width and height go together");
    if (c.width) c.orientation = orientationOf(*c.width, *c.height);
    if (!manifest::isValidId(c.playerId)) return makeError(Errc::Usage, "player.json: player_id missing or invalid");
    if (c.endpoint.rfind("tcp://", 0) != 0)
        return makeError(Errc::Usage, "player.json: endpoint must be tcp://host:port");
    if (auto it = o.find("endpoints"); it != o.end() && !it->second.isNull()) {
        if (!it->second.isArray() || it->second.asArray().empty() ||
            it->second.asArray().size() > wire::kMaxHubEndpoints)
            return makeError(Errc::Usage, "player.json: endpoints must be a list of 1.." +
                                              std::to_string(wire::kMaxHubEndpoints) + " tcp://host:port");
        for (const auto& e : it->second.asArray()) {
            if (!e.isString() || !wire::isHubEndpoint(e.asString()))
                return makeError(Errc::Usage, "player.json: each of endpoints must be tcp://host:port");
            c.endpoints.push_back(e.asString());
        }
        if (c.endpoints.front() != c.endpoint)
            return makeError(Errc::Usage, "player.json: endpoints must start with endpoint");
    } else {
        c.endpoints = {c.endpoint};
    }
    if (c.window < 1 || c.window > wire::kMaxWindow) return makeError(Errc::Usage, "player.json: window out of range");
    if (c.chunkBytes < 1024 || c.chunkBytes > wire::kMaxChunkBytes)
        return makeError(Errc::Usage, "player.json: chunk_bytes out of range");
    if (c.curve) {
        if (c.serverCurveKey.size() != 40)
            return makeError(Errc::BadKey, "player.json: curve_server_key must be 40 Z85 characters");
        auto sec = crypto::readSmallFile((dataDir / kCurveSecretFile).string(), 256);
        if (!sec) return sec.error();
        c.curveSecretKey = trimmed(*sec);
        char pub[41] = {};
        if (c.curveSecretKey.size() != 40 || zmq_curve_public(pub, c.curveSecretKey.c_str()) != 0)
            return makeError(Errc::BadKey, (dataDir / kCurveSecretFile).string() + " is not a Z85 CURVE secret key");
        c.curvePublicKey = std::string(pub, 40);
    }
    auto content = crypto::PublicKey::load((dataDir / kContentKeyFile).string());
    if (!content) return makeError(content.code(), "pinned content key: " + content.error().message);
    c.contentKeys.push_back(*content);
    return c;
}

Status saveConfig(const PlayerConfig& c) {
    json::Object o{{"player_id", c.playerId},
                   {"endpoint", c.endpoint},
                   {"controller_http", c.controllerHttp},
                   {"curve", c.curve},
                   {"curve_server_key", c.serverCurveKey},
                   {"window", c.window},
                   {"chunk_bytes", static_cast<std::int64_t>(c.chunkBytes)},
                   {"reserve_bytes", static_cast<std::int64_t>(c.reserveBytes)},
                   {"quota_bytes", static_cast<std::int64_t>(c.quotaBytes)},
                   {"import_dir", c.importDir}};
    if (!c.name.empty()) o["name"] = c.name;
    if (c.endpoints.size() > 1) {  // one endpoint: the file as before several nodes
        json::Array a;
        for (const auto& e : c.endpoints) a.emplace_back(e);
        o["endpoints"] = json::Value(std::move(a));
    }
    if (c.width && c.height) {
        o["width"] = static_cast<std::int64_t>(*c.width);
        o["height"] = static_cast<std::int64_t>(*c.height);
        o["orientation"] = orientationOf(*c.width, *c.height);
    }
    auto f = pack::AtomicFile::create((c.dataDir / kConfigFile).string(), true, 0644);
    if (!f) return f.error();
    const std::string text = json::pretty(json::Value(o)) + "\n";
    MS_TRY(f->write(text.data(), text.size()));
    return f->commit();
}

Result<int> parseScreenSide(std::string_view text, std::string_view what) {
    int v = 0;
    const char* end = text.data() + text.size();
    auto [p, ec] = std::from_chars(text.data(), end, v);
    const std::string rule = std::string(what) + " must be a whole number of pixels, " +
                             std::to_string(kMinScreenSide) + ".." + std::to_string(kMaxScreenSide);
    if (text.empty() || ec != std::errc() || p != end)
        return makeError(Errc::Usage, rule + " (got '" + std::string(text) + "')");
    if (v < kMinScreenSide || v > kMaxScreenSide)
        return makeError(Errc::Usage, rule + " (got " + std::to_string(v) + ")");
    return v;
}

std::string orientationOf(int width, int height) {
    return height > width ? "portrait" : "landscape";
}

const char* outputModeName(OutputMode m) {
    return m == OutputMode::Display ? "display" : "headless";
}

const std::vector<std::string>& runSettingKeys() {
    static const std::vector<std::string> keys{"dataDir",   "output",  "width",    "height",
                                               "importDir", "preview", "logLevel", "logFormat"};
    return keys;
}

Status applyRunSetting(RunSettings& s, std::string_view key, std::string_view value, std::string_view origin) {
    // From a flag ("--width") the message names the flag; from a file, the file and key.
    const bool flag = origin.rfind("--", 0) == 0;
    const std::string name = flag ? std::string(origin) : "player." + std::string(key);
    const std::string where = flag ? "" : std::string(origin) + ": ";
    auto bad = [&](const std::string& rule) {
        return makeError(Errc::Usage, where + rule + " (got '" + std::string(value) + "')");
    };
    if (key == "dataDir") {
        if (value.empty()) return bad(name + " must name the data directory");
        s.dataDir = std::string(value);
    } else if (key == "output") {
        if (value == "display")
            s.output = OutputMode::Display;
        else if (value == "headless")
            s.output = OutputMode::Headless;
        else
            return bad(name + " must be display or headless");
    } else if (key == "width" || key == "height") {
        auto& out = key == "width" ? s.width : s.height;
        if (value.empty()) {
            out.reset();
        } else {
            auto v = parseScreenSide(value, name);
            if (!v) return makeError(Errc::Usage, where + v.error().message);
            out = *v;
        }
    } else if (key == "importDir") {
        s.importDir = std::string(value);
    } else if (key == "preview") {
        s.previewPath = std::string(value);
    } else if (key == "logLevel") {
        try {
            (void)Poco::Logger::parseLevel(std::string(value));
        } catch (const Poco::Exception&) {
            return bad(name +
                       " must be one of none, fatal, critical, error, warning, notice, information, "
                       "debug, trace");
        }
        s.logLevel = std::string(value);
    } else if (key == "logFormat") {
        if (!logsetup::parseFormat(value)) return bad(name + " must be auto, journal or text");
        s.logFormat = std::string(value);
    } else {
        std::string known;
        for (const auto& k : runSettingKeys()) known += (known.empty() ? "player." : ", player.") + k;
        return makeError(Errc::Usage, where + "unknown key player." + std::string(key) + " (known: " + known + ")");
    }
    return {};
}

Status applyRunFlag(RunSettings& s, std::string_view flag, std::string_view value) {
    if (flag == "display") {
        s.output = OutputMode::Display;
        return {};
    }
    if (flag == "headless") {
        s.output = OutputMode::Headless;
        return {};
    }
    static const std::pair<const char*, const char*> kKeys[] = {
        {"data-dir", "dataDir"}, {"width", "width"},        {"height", "height"},       {"import-dir", "importDir"},
        {"preview", "preview"},  {"log-level", "logLevel"}, {"log-format", "logFormat"}};
    for (auto [f, key] : kKeys)
        if (flag == f) return applyRunSetting(s, key, value, "--" + std::string(flag));
    return makeError(Errc::Usage, "run: unknown option --" + std::string(flag));
}

Status checkRunSettings(const RunSettings& s) {
    if (s.dataDir.empty())
        return makeError(Errc::Usage, "run needs --data-dir DIR (or player.dataDir in --config FILE)");
    if (s.width.has_value() != s.height.has_value())
        return makeError(Errc::Usage,
                         "the picture size needs both width and height (player.width and player.height, "
                         "or --width and --height), or neither");
    return {};
}

Result<RunSettings> parseRunProperties(std::string_view text, std::string_view origin, RunSettings defaults) {
    RunSettings s = std::move(defaults);
    Poco::AutoPtr<Poco::Util::PropertyFileConfiguration> props(new Poco::Util::PropertyFileConfiguration);
    try {
        std::istringstream in{std::string(text)};
        props->load(in);
    } catch (const Poco::Exception& e) {
        return makeError(Errc::Usage, std::string(origin) + ": " + e.displayText());
    }
    Poco::Util::AbstractConfiguration::Keys keys;
    props->keys("player", keys);
    std::sort(keys.begin(), keys.end());  // the same message for the same file
    for (const auto& k : keys) {
        const std::string full = "player." + k;
        const bool known = std::find(runSettingKeys().begin(), runSettingKeys().end(), k) != runSettingKeys().end();
        // player.width.x leaves "width" as a key with children but no value of its own.
        Poco::Util::AbstractConfiguration::Keys children;
        props->keys(full, children);
        if (!known || !children.empty()) {
            const std::string shown = children.empty() ? full : full + "." + children.front();
            std::string list;
            for (const auto& n : runSettingKeys()) list += (list.empty() ? "player." : ", player.") + n;
            return makeError(Errc::Usage, std::string(origin) + ": unknown key " + shown + " (known: " + list + ")");
        }
        std::string value = props->getRawString(full, "");
        // Trailing blanks are invisible in an editor; never part of a value.
        while (!value.empty() && (value.back() == ' ' || value.back() == '\t' || value.back() == '\r'))
            value.pop_back();
        MS_TRY(applyRunSetting(s, k, value, origin));
    }
    return s;
}

Result<RunSettings> loadRunProperties(const fs::path& file, RunSettings defaults) {
    auto text = crypto::readSmallFile(file.string(), 1 << 20);
    if (!text) return makeError(text.code(), "cannot read " + file.string() + ": " + text.error().message);
    return parseRunProperties(*text, file.string(), std::move(defaults));
}

}  // namespace microscape::player
