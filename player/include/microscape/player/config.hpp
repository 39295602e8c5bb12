// The player's configuration: DIR/player.json (written by `enroll`) plus the key
// files in DIR/keys, read once at start-up into a typed struct. Plain value type.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "microscape/core/crypto.hpp"
#include "microscape/core/result.hpp"
#include "microscape/core/wire.hpp"

namespace microscape::player {

constexpr const char* kConfigFile = "player.json";
constexpr const char* kIdentityKeyFile = "keys/identity.pem";    // Ed25519, 0600
constexpr const char* kCurveSecretFile = "keys/curve.key";       // Z85, 0600
constexpr const char* kCurvePublicFile = "keys/curve.pub";       // Z85
constexpr const char* kContentKeyFile = "keys/content.pub.pem";  // pinned content key

struct PlayerConfig {
    std::filesystem::path dataDir;
    std::string playerId;           // player_id: also the DEALER routing id
    std::string endpoint;           // endpoint: tcp://host:port of the hub
    std::string controllerHttp;     // controller_http: where enrolment happened
    bool curve = true;              // curve: false only against a hub with zmq.curve=false
    std::string serverCurveKey;     // curve_server_key: pinned hub CURVE public key (Z85)
    int window = wire::kDefaultWindow;              // window: chunks in flight (capped by WELCOME)
    std::uint32_t chunkBytes = wire::kDefaultChunkBytes;  // chunk_bytes (capped by WELCOME)
    std::uint64_t reserveBytes = 64ull << 20;       // reserve_bytes: keep this much disk free
    std::uint64_t quotaBytes = 0;                   // quota_bytes: cache cap, 0 = disk size
    std::string importDir;                          // import_dir: watched for *.tar ("" = off)

    // Loaded from DIR/keys.
    std::string curveSecretKey, curvePublicKey;
    std::vector<crypto::PublicKey> contentKeys;
};

// Reads DIR/player.json and the key files; validates. Errors: Io, BadJson, Usage, BadKey.
Result<PlayerConfig> loadConfig(const std::filesystem::path& dataDir);
// Writes DIR/player.json atomically (keys are written by enrolment).
Status saveConfig(const PlayerConfig& config);

}  // namespace microscape::player
