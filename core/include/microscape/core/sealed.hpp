// Sealed chunks: the bulk channel beside a CURVE session (docs/wire-protocol.md,
// "The bulk channel"). Media bytes are the bulk of what the hub sends; on the
// CURVE socket each byte is encrypted with XSalsa20-Poly1305 in software and
// copied three times by libzmq. On the bulk channel the hub seals each CHUNK's
// data with AES-256-GCM (AES-NI) under a key it gave the player inside the
// CURVE session's WELCOME, straight from the mapped file into the frame; the
// player opens it in place. Direction and a per-session counter make every
// nonce unique; the CHUNK's header is the additional data, so a sealed frame
// cannot be moved to another file, offset or position.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "microscape/core/result.hpp"
#include "microscape/core/wire.hpp"

namespace microscape::wire::sealed {

constexpr std::size_t kKeyBytes = 32;    // AES-256-GCM key
constexpr std::size_t kTokenBytes = 16;  // the bulk socket's routing id, sent as 32 hex characters
constexpr std::size_t kTagBytes = 16;    // GCM tag after the ciphertext

enum class Direction : std::uint8_t { HubToPlayer = 0, PlayerToHub = 1 };

// A new session's key (raw bytes) and token (hex), from the system's random source.
struct SessionKeys {
    std::string key;
    std::string token;
};
Result<SessionKeys> newSession();

// Seals len bytes of plain into out (len + kTagBytes bytes: ciphertext, then
// tag); out may be plain. The nonce is (dir, counter); aad is authenticated,
// not encrypted. False only if OpenSSL fails or the key has the wrong size.
bool seal(std::string_view key, Direction dir, std::uint64_t counter, std::string_view aad, const void* plain,
          std::size_t len, void* out);
// Opens len bytes of sealed data (ciphertext then tag) into out (len -
// kTagBytes bytes; out may be sealed). False when it is not authentic (wrong
// key, nonce, aad or bytes) or shorter than a tag.
bool open(std::string_view key, Direction dir, std::uint64_t counter, std::string_view aad, const void* sealed,
          std::size_t len, void* out);

// READY, the player's first message on the bulk socket: frames "READY" and a
// tag proving it holds the session's key (a seal of nothing, counter 0,
// player to hub, aad "READY" + token).
constexpr std::string_view kReady = "READY";
std::string readyTag(std::string_view key, std::string_view token);
bool readyValid(std::string_view key, std::string_view token, std::string_view tag);

// A sealed CHUNK's header frame (canonical JSON: sha256, offset, total, seq).
std::string chunkHeader(const std::string& sha256, std::uint64_t offset, std::uint64_t totalBytes, std::uint64_t seq);

// Opens a sealed CHUNK received on the bulk socket: frames "CHUNK", header,
// data. The data frame is opened in place (data points at the frame's bytes);
// the view returned points into it. seq must be above lastSeq (no replay within
// the session); on success lastSeq becomes it. Errors: BadManifest (frames,
// header), TooLarge, BadSignature (not authentic), Usage (seq not above lastSeq).
Result<ChunkView> openChunk(std::string_view key, std::string_view type, std::string_view header, char* data,
                            std::size_t len, std::uint64_t& lastSeq);

}  // namespace microscape::wire::sealed
