// The player's configuration: DIR/player.json (written by `enroll`) plus the key
// files in DIR/keys, and the settings of `run` (a .properties file such as
// /etc/microscape/player.properties, then command-line flags), read once at
// start-up into typed structs. Plain value types and pure functions.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
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
    std::string playerId;  // player_id: also the DEALER routing id
    std::string name;      // name: the screen's name at enrolment ("" = the id)
    std::string endpoint;  // endpoint: tcp://host:port of the hub
    // endpoints: every controller node's hub, tried in turn when the one in use
    // goes silent (several nodes); endpoints[0] == endpoint. Absent in the file:
    // just endpoint. All nodes of a deployment share the hub's CURVE key.
    std::vector<std::string> endpoints;
    std::string controllerHttp;                           // controller_http: where enrolment happened
    bool curve = true;                                    // curve: false only against a hub with zmq.curve=false
    std::string serverCurveKey;                           // curve_server_key: pinned hub CURVE public key (Z85)
    int window = wire::kDefaultWindow;                    // window: chunks in flight (capped by WELCOME)
    std::uint32_t chunkBytes = wire::kDefaultChunkBytes;  // chunk_bytes (capped by WELCOME)
    std::uint64_t reserveBytes = 64ull << 20;             // reserve_bytes: keep this much disk free
    std::uint64_t quotaBytes = 0;                         // quota_bytes: cache cap, 0 = disk size
    std::string importDir;                                // import_dir: watched for *.tar ("" = off)
    // width, height: the screen's configured resolution given at enrolment
    // (none: not given); orientation: "portrait" when height > width, else
    // "landscape" (derived, written for people and the controller).
    std::optional<int> width, height;
    std::string orientation;

    // Loaded from DIR/keys.
    std::string curveSecretKey, curvePublicKey;
    std::vector<crypto::PublicKey> contentKeys;
};

// Reads DIR/player.json and the key files; validates. Errors: Io, BadJson, Usage, BadKey.
Result<PlayerConfig> loadConfig(const std::filesystem::path& dataDir);
// Writes DIR/player.json atomically (keys are written by enrolment).
Status saveConfig(const PlayerConfig& config);

// Screen sizes are kMinScreenSide..kMaxScreenSide pixels on each side (what the
// playback engine accepts: 8K LED walls at most, one frame is width x height x 4 bytes).
constexpr int kMinScreenSide = 16;
constexpr int kMaxScreenSide = 7680;
// Parses a screen side ("1920"). Errors: Usage naming `what` and the rule.
Result<int> parseScreenSide(std::string_view text, std::string_view what);
// "portrait" when height > width, else "landscape".
std::string orientationOf(int width, int height);

// ---------------------------------------------------------------- run settings

enum class OutputMode {
    Headless,  // frames decoded into memory only (tests, demos, CI)
    Display,   // and shown in a fullscreen window on the local X11 session
};
const char* outputModeName(OutputMode m);

// What `microscape-player run` is told: the keys of its .properties file
// (docs/player.md) and the flags that override them. Defaults are commented.
struct RunSettings {
    std::string dataDir;                       // player.dataDir / --data-dir (required)
    OutputMode output = OutputMode::Headless;  // player.output / --display, --headless
    std::optional<int> width, height;          // player.width/height / --width --height;
                                               // none: enrolled size, else the X screen
                                               // (display) or 1280x720 (headless)
    std::optional<std::string> importDir;      // player.importDir / --import-dir; none:
                                               // player.json's import_dir; "" = no folder
    std::string previewPath;                   // player.preview / --preview; "" = DIR/preview.png
    std::string logLevel = "information";      // player.logLevel / --log-level (Poco level names)
    std::string logFormat = "auto";            // player.logFormat / --log-format: auto, journal, text
                                               // (docs/logging.md)
};

// The keys a player .properties file may hold ("player." followed by one of these).
const std::vector<std::string>& runSettingKeys();

// Applies one setting by its key without the "player." prefix ("dataDir",
// "output", ...), as read from a file or a flag. Empty width/height/preview mean
// "not set"; an empty importDir means "no folder". Errors: Usage, naming the
// key, the bad value and what is allowed.
Status applyRunSetting(RunSettings& s, std::string_view key, std::string_view value, std::string_view origin);

// Applies one command-line option of `run` by its name without dashes
// ("data-dir", "width", "display", "headless", ...; value ignored for the last
// two). Errors: Usage (unknown option, bad value).
Status applyRunFlag(RunSettings& s, std::string_view flag, std::string_view value);

// The checks that need the whole picture, once the file and the flags are in:
// a data directory, and width and height both set or both unset.
// Errors: Usage.
Status checkRunSettings(const RunSettings& s);

// Parses the text of a .properties file (Poco syntax: key = value or key: value,
// # and ! comments, \ line continuation, \uXXXX escapes). Keys outside "player."
// are left for others (logging.*); an unknown player.* key or a bad value is an
// error. `origin` (the file name) prefixes messages. Errors: Usage.
Result<RunSettings> parseRunProperties(std::string_view text, std::string_view origin, RunSettings defaults = {});
// Reads and parses a .properties file. Errors: Io, Usage.
Result<RunSettings> loadRunProperties(const std::filesystem::path& file, RunSettings defaults = {});

}  // namespace microscape::player
