#include "microscape/player/config.hpp"

#include <zmq.h>

#include "microscape/core/json.hpp"
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
    if (!text) return makeError(text.code(), "cannot read " + (dataDir / kConfigFile).string() + " (enrolled?): " +
                                                 text.error().message);
    auto v = json::parse(*text);
    if (!v || !v->isObject()) return makeError(Errc::BadJson, (dataDir / kConfigFile).string() + " is not a JSON object");
    const auto& o = v->asObject();
    auto str = [&](const char* key, std::string& out) {
        if (auto it = o.find(key); it != o.end() && it->second.isString()) out = it->second.asString();
    };
    auto num = [&](const char* key, auto& out) {
        if (auto it = o.find(key); it != o.end() && it->second.isInt())
            out = static_cast<std::remove_reference_t<decltype(out)>>(it->second.asInt());
    };
    str("player_id", c.playerId);
    str("endpoint", c.endpoint);
    str("controller_http", c.controllerHttp);
    str("curve_server_key", c.serverCurveKey);
    str("import_dir", c.importDir);
    if (auto it = o.find("curve"); it != o.end() && it->second.isBool()) c.curve = it->second.asBool();
    num("window", c.window);
    num("chunk_bytes", c.chunkBytes);
    num("reserve_bytes", c.reserveBytes);
    num("quota_bytes", c.quotaBytes);
    if (!manifest::isValidId(c.playerId)) return makeError(Errc::Usage, "player.json: player_id missing or invalid");
    if (c.endpoint.rfind("tcp://", 0) != 0) return makeError(Errc::Usage, "player.json: endpoint must be tcp://host:port");
    if (c.window < 1 || c.window > wire::kMaxWindow) return makeError(Errc::Usage, "player.json: window out of range");
    if (c.chunkBytes < 1024 || c.chunkBytes > wire::kMaxChunkBytes)
        return makeError(Errc::Usage, "player.json: chunk_bytes out of range");
    if (c.curve) {
        if (c.serverCurveKey.size() != 40) return makeError(Errc::BadKey, "player.json: curve_server_key must be 40 Z85 characters");
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
    json::Object o{{"player_id", c.playerId},         {"endpoint", c.endpoint},
                   {"controller_http", c.controllerHttp}, {"curve", c.curve},
                   {"curve_server_key", c.serverCurveKey}, {"window", c.window},
                   {"chunk_bytes", static_cast<std::int64_t>(c.chunkBytes)},
                   {"reserve_bytes", static_cast<std::int64_t>(c.reserveBytes)},
                   {"quota_bytes", static_cast<std::int64_t>(c.quotaBytes)},
                   {"import_dir", c.importDir}};
    auto f = pack::AtomicFile::create((c.dataDir / kConfigFile).string(), true, 0644);
    if (!f) return f.error();
    const std::string text = json::pretty(json::Value(o)) + "\n";
    MS_TRY(f->write(text.data(), text.size()));
    return f->commit();
}

}  // namespace microscape::player
