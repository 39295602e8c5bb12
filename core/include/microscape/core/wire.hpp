// The distribution protocol's message model (docs/wire-protocol.md): typed
// messages and their encoding as ZeroMQ multipart frames
// [type][JSON header][optional binary payload]. Pure functions over bytes: no
// sockets, no clocks. Thread-safe (no shared state).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "microscape/core/json.hpp"
#include "microscape/core/manifest.hpp"
#include "microscape/core/result.hpp"

namespace microscape::wire {

// Bumped only for incompatible changes; HELLO carries it and the controller
// refuses a version it does not speak. Unknown header fields are ignored, so
// fields may be added within a version.
constexpr int kProtocolVersion = 1;

// Limits (docs/wire-protocol.md, "Limits").
constexpr std::size_t kMaxTypeBytes = 16;
constexpr std::size_t kMaxHeaderBytes = 16u << 10;                     // 16 KiB of JSON
constexpr std::size_t kMaxPayloadBytes = manifest::kMaxManifestBytes;  // 4 MiB
constexpr std::size_t kMaxChunkBytes = 1u << 20;                       // 1 MiB per CHUNK
constexpr std::size_t kDefaultChunkBytes = 1u << 20;                   // 1 MiB
constexpr int kMaxWindow = 64;                                         // chunks in flight
constexpr int kDefaultWindow = 8;
// ZMQ_MAXMSGSIZE: no single frame may exceed this (the payload is the largest).
constexpr std::int64_t kMaxFrameBytes = static_cast<std::int64_t>(kMaxPayloadBytes) + 4096;
constexpr std::size_t kMaxIdBytes = 128;
constexpr std::size_t kMaxTextBytes = 1024;  // error messages, software strings

// A hub's address as screens are given it: tcp://HOST:PORT (HOST a name, an IPv4
// address or a bracketed IPv6 one; PORT 1..65535; no blanks or commas). A screen
// holds at most kMaxHubEndpoints of them and fails over between them.
constexpr std::size_t kMaxHubEndpoints = 16;
bool isHubEndpoint(std::string_view endpoint);

enum class Type {
    Hello,       // player -> controller
    Welcome,     // controller -> player
    Heartbeat,   // both ways
    Manifest,    // controller -> player
    Fetch,       // player -> controller
    Chunk,       // controller -> player
    Proofs,      // player -> controller
    ProofsAck,   // controller -> player
    Status,      // player -> controller
    Command,     // controller -> player
    CommandAck,  // player -> controller
    Error,       // both ways
};
std::string_view typeName(Type t);  // "HELLO", "PROOFS_ACK", ...
std::optional<Type> typeFromName(std::string_view name);

// One message as it travels: type, header object and optional payload.
struct Envelope {
    Type type = Type::Heartbeat;
    json::Object header;
    std::optional<std::string> payload;
};

// Frames as sent by a DEALER (a ROUTER prepends the routing id).
std::vector<std::string> encode(const Envelope& e);
// Validates frame count (2 or 3), type name, header size and strict JSON object,
// payload size, and whether the type allows or requires a payload.
// Errors: BadManifest (frame layout or type/payload mismatch), TooLarge,
// BadJson, Usage (unknown type: the code lets callers count them separately).
Result<Envelope> decode(const std::vector<std::string_view>& frames);

// ----------------------------------------------------------------- messages
// Each has toEnvelope() and a parse() that checks every field it needs
// (Errors: BadManifest naming the field, TooLarge).

struct Hello {
    int protocol = kProtocolVersion;
    std::string playerId;
    std::string software;
    std::int64_t activeVersion = 0;  // 0: nothing active yet
    std::string activeBundleId;
    std::int64_t stagedVersion = 0;  // a manifest being fetched, 0 if none
};
Envelope toEnvelope(const Hello& m);
Result<Hello> parseHello(const Envelope& e);

struct Welcome {
    int protocol = kProtocolVersion;
    std::int64_t timeMs = 0;          // controller clock, UTC ms
    std::int64_t heartbeatMs = 5000;  // interval both sides use
    std::int64_t currentVersion = 0;  // the controller's current manifest for this player
    std::uint32_t maxChunkBytes = kDefaultChunkBytes;
    std::uint32_t maxWindow = kDefaultWindow;
    // The bulk channel (docs/wire-protocol.md): offered on CURVE sessions only.
    // bulkPort 0: none. bulkToken: 32 hex chars; bulkKey: 32 raw bytes (hex on the wire).
    int bulkPort = 0;
    std::string bulkToken;
    std::string bulkKey;
};
Envelope toEnvelope(const Welcome& m);
Result<Welcome> parseWelcome(const Envelope& e);

struct Heartbeat {
    std::int64_t timeMs = 0;  // sender clock, UTC ms
};
Envelope toEnvelope(const Heartbeat& m);
Result<Heartbeat> parseHeartbeat(const Envelope& e);

struct ManifestPush {
    std::int64_t version = 0;   // as in the manifest (informative; the manifest decides)
    std::string manifestBytes;  // payload: exact signed bytes
    std::string signature;      // 64 raw bytes (header: base64)
};
Envelope toEnvelope(const ManifestPush& m);
Result<ManifestPush> parseManifestPush(const Envelope& e);

struct Fetch {
    std::string sha256;
    std::uint64_t offset = 0;
    std::uint32_t length = 0;  // 1..kMaxChunkBytes
    bool bulk = false;         // send the CHUNK sealed on the bulk channel if it is up
};
Envelope toEnvelope(const Fetch& m);
Result<Fetch> parseFetch(const Envelope& e);

struct Chunk {
    std::string sha256;
    std::uint64_t offset = 0;
    std::uint64_t totalBytes = 0;  // size of the whole file
    std::string data;              // payload
};
Envelope toEnvelope(const Chunk& m);
Result<Chunk> parseChunk(const Envelope& e);
// The same checks as decode() + parseChunk() without copying the data: the
// returned view points into frames[2]. For the receiver's hot path.
struct ChunkView {
    std::string sha256;
    std::uint64_t offset = 0;
    std::uint64_t totalBytes = 0;
    std::string_view data;
};
Result<ChunkView> decodeChunk(const std::vector<std::string_view>& frames);

struct Proofs {
    std::int64_t firstSeq = 0;
    std::int64_t lastSeq = 0;
    std::string body;  // payload: records and checkpoint (docs/proof-of-play.md)
};
Envelope toEnvelope(const Proofs& m);
Result<Proofs> parseProofs(const Envelope& e);

struct ProofsAck {
    std::int64_t seq = 0;  // highest sequence number durably stored
};
Envelope toEnvelope(const ProofsAck& m);
Result<ProofsAck> parseProofsAck(const Envelope& e);

// Where a screen's download of its next bundle stands; "sync_state" on the wire
// and in the controller's records (docs/wire-protocol.md).
enum class SyncState { Idle, Fetching, DiskFull, Error };
std::string_view syncStateName(SyncState s);
std::optional<SyncState> syncStateFromName(std::string_view name);

struct StatusReport {
    std::int64_t activeVersion = 0;
    std::string bundleId;
    std::int64_t stagedVersion = 0;
    SyncState syncState = SyncState::Idle;
    std::int64_t filesTotal = 0, filesDone = 0;
    std::int64_t bytesTotal = 0, bytesDone = 0;
    std::int64_t diskFreeBytes = 0;
    std::int64_t uptimeS = 0;
    std::string software;
    std::string lastError;
    std::int64_t clockOffsetMs = 0;  // controller minus player
    bool clockSkewed = false;
    json::Object playback;  // filled by the playback engine (free form)
    // Media bytes stored since the player started, by where they came from
    // (optional fields; 0 when absent).
    std::int64_t mediaBytesMirror = 0, mediaBytesHub = 0;
};
Envelope toEnvelope(const StatusReport& m);
Result<StatusReport> parseStatus(const Envelope& e);
json::Value statusToJson(const StatusReport& m);

// ShowHead: the screen shows its signed proof-of-play head statement as a QR
// code on its status card for a minute (docs/proof-of-play.md, "Head statement").
enum class CommandAction { Reload, ClearCache, Screenshot, ShowHead };
std::string_view commandActionName(CommandAction a);

struct Command {
    std::string id;  // chosen by the controller, echoed in COMMAND_ACK
    CommandAction action = CommandAction::Reload;
};
Envelope toEnvelope(const Command& m);
Result<Command> parseCommand(const Envelope& e);

struct CommandAck {
    std::string id;
    bool ok = false;
    std::string message;
    std::optional<std::string> payload;  // e.g. a PNG screenshot
};
Envelope toEnvelope(const CommandAck& m);
Result<CommandAck> parseCommandAck(const Envelope& e);

struct ErrorMsg {
    std::string code;  // hello_required, not_in_manifest, bad_range, bad_message, protocol, ...
    std::string message;
    std::string ref;  // e.g. the sha256 a refused FETCH named
};
Envelope toEnvelope(const ErrorMsg& m);
Result<ErrorMsg> parseError(const Envelope& e);

}  // namespace microscape::wire
