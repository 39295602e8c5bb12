// `microscape-player enroll`: makes the player's Ed25519 identity and CURVE key
// pair, registers the public halves with the controller's POST /api/v1/enroll
// using a one-time token, and writes DIR/player.json with the controller's keys
// pinned. The controller must prove itself first: its TLS key and the content
// signing key it sends must match the pins of the technician's command, and its
// answer must name the hub's CURVE key; until all of that holds nothing is
// written (docs/player.md). Blocking; call from main.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include "microscape/core/result.hpp"
#include "microscape/player/config.hpp"

namespace microscape::player {

struct EnrollRequest {
    std::string controllerHttp;  // https://host:port (http:// only with insecureHttp)
    std::string contentKeyHash;  // sha256:<hex> pin of the content signing key (required)
    std::string tlsKeyHash;      // sha256:<hex> pin of the controller's TLS key (required with https://)
    bool insecureHttp = false;   // allow a plain http:// controller (the content key is still pinned)
    std::string token;
    std::filesystem::path dataDir;
    std::string name;                  // optional
    std::optional<int> width, height;  // the screen's resolution: both or neither, 16..7680;
                                       // stored in player.json and sent with its orientation
    // optional override of the hubs the controller offers (tcp://<controller host>:<hub
    // port>, or every node's with several nodes): tcp://HOST:PORT[,tcp://HOST:PORT...]
    std::string hubEndpoint;
    std::string software;
    // --pin sha256:<64 hex>: SHA-256 of the raw 32-byte Ed25519 content-signing public key the
    // controller must answer with. Required unless noPin (--no-pin) is set explicitly.
    std::string pin;
    bool noPin = false;
};

// Errors: Exists (already enrolled), Usage (bad URL, pin, size or the controller's
// refusal with its message), Io (network), UnknownSigner (a key does not match its
// pin), BadKey (no CURVE server key in the answer), BadJson.
Result<PlayerConfig> enroll(const EnrollRequest& request);

}  // namespace microscape::player
