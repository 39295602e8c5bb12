// `microscape-player enroll`: makes the player's Ed25519 identity and CURVE key
// pair (kept if a previous attempt made them), registers the public halves with
// the controller's POST /api/v1/enroll using a one-time token, and writes
// DIR/player.json with the controller's keys pinned. Blocking; call from main.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include "microscape/core/result.hpp"
#include "microscape/player/config.hpp"

namespace microscape::player {

struct EnrollRequest {
    std::string controllerHttp;  // http://host:port
    std::string token;
    std::filesystem::path dataDir;
    std::string name;            // optional
    std::optional<int> width, height;  // the screen's resolution: both or neither, 16..7680;
                                       // stored in player.json and sent with its orientation
    std::string hubEndpoint;     // optional override of tcp://<controller host>:<hub port>
    std::string software;
    // --pin sha256:<64 hex>: SHA-256 of the raw 32-byte Ed25519 content-signing public key the
    // controller must answer with. Required unless noPin (--no-pin) is set explicitly.
    std::string pin;
    bool noPin = false;
};

// Nothing is written under dataDir unless the answer passes every check (pin, CURVE server key).
// Errors: Exists (already enrolled), Usage (bad URL or size), Io (network), BadKey,
// NotFound/Usage with the controller's error message.
Result<PlayerConfig> enroll(const EnrollRequest& request);

}  // namespace microscape::player
