#include "microscape/core/wire.hpp"

#include "microscape/core/json_fields.hpp"

#include <array>

#include "microscape/core/crypto.hpp"

namespace microscape::wire {
namespace {

struct TypeRow {
    Type type;
    std::string_view name;
    enum { None, Optional, Required } payload;
};

constexpr std::array<TypeRow, 12> kTypes = {{
    {Type::Hello, "HELLO", TypeRow::None},
    {Type::Welcome, "WELCOME", TypeRow::None},
    {Type::Heartbeat, "HEARTBEAT", TypeRow::None},
    {Type::Manifest, "MANIFEST", TypeRow::Required},
    {Type::Fetch, "FETCH", TypeRow::None},
    {Type::Chunk, "CHUNK", TypeRow::Required},
    {Type::Proofs, "PROOFS", TypeRow::Required},
    {Type::ProofsAck, "PROOFS_ACK", TypeRow::None},
    {Type::Status, "STATUS", TypeRow::None},
    {Type::Command, "COMMAND", TypeRow::None},
    {Type::CommandAck, "COMMAND_ACK", TypeRow::Optional},
    {Type::Error, "ERROR", TypeRow::None},
}};

const TypeRow& rowOf(Type t) {
    return kTypes[static_cast<std::size_t>(t)];
}

Error bad(Type t, const std::string& what) {
    return makeError(Errc::BadManifest, std::string(typeName(t)) + ": " + what);
}

// Field readers over the header (json::Fields, the one field reader): each
// names the message type and the field in its error.
json::Fields fieldsOf(const Envelope& e) {
    return json::Fields::over(e.header, std::string(typeName(e.type)) + ": ");
}

Result<std::int64_t> reqInt(const Envelope& e, const char* key, std::int64_t lo, std::int64_t hi) {
    return fieldsOf(e).integer(key, lo, hi);
}

Result<std::int64_t> optInt(const Envelope& e, const char* key, std::int64_t lo, std::int64_t hi, std::int64_t def) {
    return fieldsOf(e).integerOr(key, lo, hi, def);
}

Result<std::string> reqStr(const Envelope& e, const char* key, std::size_t maxBytes, bool allowEmpty = false) {
    return fieldsOf(e).str(key, maxBytes, allowEmpty);
}

Result<std::string> optStr(const Envelope& e, const char* key, std::size_t maxBytes) {
    return fieldsOf(e).strOr(key, maxBytes);
}

Result<bool> optBool(const Envelope& e, const char* key) {
    return fieldsOf(e).booleanOr(key, false);
}

Result<std::string> reqSha(const Envelope& e) {
    auto s = reqStr(e, "sha256", 64);
    if (!s) return s.error();
    if (!crypto::isSha256Hex(*s)) return bad(e.type, "field 'sha256' must be 64 lowercase hex digits");
    return s;
}

Status checkType(const Envelope& e, Type want) {
    if (e.type != want)
        return makeError(Errc::Usage,
                         "expected " + std::string(typeName(want)) + ", got " + std::string(typeName(e.type)));
    return {};
}

constexpr std::int64_t kMaxI = json::kMaxSafeInteger;

}  // namespace

std::string_view typeName(Type t) {
    return rowOf(t).name;
}

std::optional<Type> typeFromName(std::string_view name) {
    for (const auto& r : kTypes)
        if (r.name == name) return r.type;
    return std::nullopt;
}

std::vector<std::string> encode(const Envelope& e) {
    std::vector<std::string> frames;
    frames.reserve(e.payload ? 3 : 2);
    frames.emplace_back(typeName(e.type));
    frames.push_back(json::canonical(json::Value(e.header)));
    if (e.payload) frames.push_back(*e.payload);
    return frames;
}

Result<Envelope> decode(const std::vector<std::string_view>& frames) {
    if (frames.size() < 2 || frames.size() > 3)
        return makeError(Errc::BadManifest, "a message has 2 or 3 frames, got " + std::to_string(frames.size()));
    if (frames[0].size() > kMaxTypeBytes) return makeError(Errc::BadManifest, "type frame too long");
    auto type = typeFromName(frames[0]);
    if (!type) {
        std::string shown;
        for (char c : frames[0]) shown += (c >= 0x20 && c < 0x7f) ? c : '?';
        return makeError(Errc::Usage, "unknown message type '" + shown + "'");
    }
    if (frames[1].size() > kMaxHeaderBytes)
        return makeError(Errc::TooLarge, std::string(typeName(*type)) + ": header exceeds " +
                                             std::to_string(kMaxHeaderBytes) + " bytes");
    auto header = json::parse(frames[1], json::ParseLimits{kMaxHeaderBytes, 8});
    if (!header) return makeError(header.code(), std::string(typeName(*type)) + ": header: " + header.error().message);
    if (!header->isObject())
        return makeError(Errc::BadJson, std::string(typeName(*type)) + ": header is not an object");
    const auto& row = rowOf(*type);
    Envelope e;
    e.type = *type;
    e.header = std::move(header->asObject());
    if (frames.size() == 3) {
        if (row.payload == TypeRow::None) return bad(*type, "takes no payload frame");
        if (frames[2].size() > kMaxPayloadBytes)
            return makeError(Errc::TooLarge, std::string(typeName(*type)) + ": payload exceeds " +
                                                 std::to_string(kMaxPayloadBytes) + " bytes");
        e.payload = std::string(frames[2]);
    } else if (row.payload == TypeRow::Required) {
        return bad(*type, "needs a payload frame");
    }
    return e;
}

// ------------------------------------------------------------------ HELLO
Envelope toEnvelope(const Hello& m) {
    Envelope e{Type::Hello, {}, std::nullopt};
    e.header = {{"protocol", m.protocol},
                {"player", m.playerId},
                {"software", m.software},
                {"active_version", m.activeVersion},
                {"active_bundle", m.activeBundleId},
                {"staged_version", m.stagedVersion}};
    return e;
}

Result<Hello> parseHello(const Envelope& e) {
    MS_TRY(checkType(e, Type::Hello));
    Hello m;
    auto p = reqInt(e, "protocol", 1, 1000);
    if (!p) return p.error();
    m.protocol = static_cast<int>(*p);
    auto id = reqStr(e, "player", kMaxIdBytes);
    if (!id) return id.error();
    if (!manifest::isValidId(*id)) return bad(e.type, "field 'player' is not a valid id");
    m.playerId = *id;
    auto sw = optStr(e, "software", kMaxTextBytes);
    if (!sw) return sw.error();
    m.software = *sw;
    auto av = optInt(e, "active_version", 0, kMaxI, 0);
    if (!av) return av.error();
    m.activeVersion = *av;
    auto ab = optStr(e, "active_bundle", kMaxIdBytes);
    if (!ab) return ab.error();
    m.activeBundleId = *ab;
    auto sv = optInt(e, "staged_version", 0, kMaxI, 0);
    if (!sv) return sv.error();
    m.stagedVersion = *sv;
    return m;
}

// ------------------------------------------------------------------ WELCOME
Envelope toEnvelope(const Welcome& m) {
    Envelope e{Type::Welcome, {}, std::nullopt};
    e.header = {{"protocol", m.protocol},
                {"time_ms", m.timeMs},
                {"heartbeat_ms", m.heartbeatMs},
                {"current_version", m.currentVersion},
                {"max_chunk", static_cast<std::int64_t>(m.maxChunkBytes)},
                {"max_window", static_cast<std::int64_t>(m.maxWindow)}};
    if (m.bulkPort > 0) {
        e.header["bulk_port"] = static_cast<std::int64_t>(m.bulkPort);
        e.header["bulk_token"] = m.bulkToken;
        e.header["bulk_key"] = crypto::toHex(m.bulkKey);
    }
    return e;
}

Result<Welcome> parseWelcome(const Envelope& e) {
    MS_TRY(checkType(e, Type::Welcome));
    Welcome m;
    auto p = reqInt(e, "protocol", 1, 1000);
    if (!p) return p.error();
    m.protocol = static_cast<int>(*p);
    auto t = reqInt(e, "time_ms", 0, kMaxI);
    if (!t) return t.error();
    m.timeMs = *t;
    auto hb = reqInt(e, "heartbeat_ms", 50, 3'600'000);
    if (!hb) return hb.error();
    m.heartbeatMs = *hb;
    auto cv = optInt(e, "current_version", 0, kMaxI, 0);
    if (!cv) return cv.error();
    m.currentVersion = *cv;
    auto mc = reqInt(e, "max_chunk", 1024, kMaxChunkBytes);
    if (!mc) return mc.error();
    m.maxChunkBytes = static_cast<std::uint32_t>(*mc);
    auto mw = reqInt(e, "max_window", 1, kMaxWindow);
    if (!mw) return mw.error();
    m.maxWindow = static_cast<std::uint32_t>(*mw);
    auto bp = optInt(e, "bulk_port", 0, 65535, 0);
    if (!bp) return bp.error();
    if (*bp > 0) {
        auto tok = reqStr(e, "bulk_token", 32);
        if (!tok) return tok.error();
        auto key = reqStr(e, "bulk_key", 64);
        if (!key) return key.error();
        auto raw = crypto::fromHex(*key);
        auto rawTok = crypto::fromHex(*tok);
        if (!rawTok || rawTok->size() != 16 || crypto::toHex(*rawTok) != *tok)
            return bad(e.type, "field 'bulk_token' must be 32 lowercase hex digits");
        if (!raw || raw->size() != 32) return bad(e.type, "field 'bulk_key' must be 64 hex digits");
        m.bulkPort = static_cast<int>(*bp);
        m.bulkToken = *tok;
        m.bulkKey = std::move(*raw);
    }
    return m;
}

// ------------------------------------------------------------------ HEARTBEAT
Envelope toEnvelope(const Heartbeat& m) {
    return Envelope{Type::Heartbeat, {{"time_ms", m.timeMs}}, std::nullopt};
}

Result<Heartbeat> parseHeartbeat(const Envelope& e) {
    MS_TRY(checkType(e, Type::Heartbeat));
    auto t = optInt(e, "time_ms", 0, kMaxI, 0);
    if (!t) return t.error();
    return Heartbeat{*t};
}

// ------------------------------------------------------------------ MANIFEST
Envelope toEnvelope(const ManifestPush& m) {
    return Envelope{
        Type::Manifest, {{"version", m.version}, {"signature", crypto::base64Encode(m.signature)}}, m.manifestBytes};
}

Result<ManifestPush> parseManifestPush(const Envelope& e) {
    MS_TRY(checkType(e, Type::Manifest));
    ManifestPush m;
    auto v = reqInt(e, "version", 1, kMaxI);
    if (!v) return v.error();
    m.version = *v;
    auto sig = reqStr(e, "signature", 4096);
    if (!sig) return sig.error();
    auto raw = crypto::base64Decode(*sig);
    if (!raw || raw->size() != 64) return bad(e.type, "field 'signature' must be 64 bytes in base64");
    m.signature = std::move(*raw);
    if (!e.payload || e.payload->size() > manifest::kMaxManifestBytes)
        return makeError(Errc::TooLarge, "MANIFEST: manifest exceeds the size limit");
    m.manifestBytes = *e.payload;
    return m;
}

// ------------------------------------------------------------------ FETCH
Envelope toEnvelope(const Fetch& m) {
    Envelope e{Type::Fetch,
               {{"sha256", m.sha256}, {"offset", m.offset}, {"length", static_cast<std::int64_t>(m.length)}},
               std::nullopt};
    if (m.bulk) e.header["bulk"] = true;
    return e;
}

Result<Fetch> parseFetch(const Envelope& e) {
    MS_TRY(checkType(e, Type::Fetch));
    Fetch m;
    auto sha = reqSha(e);
    if (!sha) return sha.error();
    m.sha256 = *sha;
    auto off = reqInt(e, "offset", 0, static_cast<std::int64_t>(manifest::kMaxMediaBytes));
    if (!off) return off.error();
    m.offset = static_cast<std::uint64_t>(*off);
    auto len = reqInt(e, "length", 1, kMaxChunkBytes);
    if (!len) return len.error();
    m.length = static_cast<std::uint32_t>(*len);
    auto bulk = optBool(e, "bulk");
    if (!bulk) return bulk.error();
    m.bulk = *bulk;
    return m;
}

// ------------------------------------------------------------------ CHUNK
Envelope toEnvelope(const Chunk& m) {
    return Envelope{Type::Chunk, {{"sha256", m.sha256}, {"offset", m.offset}, {"total", m.totalBytes}}, m.data};
}

Result<Chunk> parseChunk(const Envelope& e) {
    MS_TRY(checkType(e, Type::Chunk));
    Chunk m;
    auto sha = reqSha(e);
    if (!sha) return sha.error();
    m.sha256 = *sha;
    auto total = reqInt(e, "total", 0, static_cast<std::int64_t>(manifest::kMaxMediaBytes));
    if (!total) return total.error();
    m.totalBytes = static_cast<std::uint64_t>(*total);
    auto off = reqInt(e, "offset", 0, *total);
    if (!off) return off.error();
    m.offset = static_cast<std::uint64_t>(*off);
    if (e.payload->size() > kMaxChunkBytes) return makeError(Errc::TooLarge, "CHUNK: more than the chunk limit");
    if (m.offset + e.payload->size() > m.totalBytes) return bad(e.type, "data runs past the end of the file");
    m.data = *e.payload;
    return m;
}

Result<ChunkView> decodeChunk(const std::vector<std::string_view>& frames) {
    if (frames.size() != 3 || frames[0] != typeName(Type::Chunk))
        return makeError(Errc::BadManifest, "CHUNK: expected 3 frames");
    if (frames[2].size() > kMaxChunkBytes) return makeError(Errc::TooLarge, "CHUNK: more than the chunk limit");
    auto env = decode({frames[0], frames[1], std::string_view()});
    if (!env) return env.error();
    auto c = parseChunk(*env);
    if (!c) return c.error();
    if (c->offset + frames[2].size() > c->totalBytes) return bad(Type::Chunk, "data runs past the end of the file");
    return ChunkView{std::move(c->sha256), c->offset, c->totalBytes, frames[2]};
}

// ------------------------------------------------------------------ PROOFS
Envelope toEnvelope(const Proofs& m) {
    return Envelope{Type::Proofs, {{"first_seq", m.firstSeq}, {"last_seq", m.lastSeq}}, m.body};
}

Result<Proofs> parseProofs(const Envelope& e) {
    MS_TRY(checkType(e, Type::Proofs));
    Proofs m;
    auto f = reqInt(e, "first_seq", 1, kMaxI);
    if (!f) return f.error();
    auto l = reqInt(e, "last_seq", *f, kMaxI);
    if (!l) return l.error();
    m.firstSeq = *f;
    m.lastSeq = *l;
    m.body = *e.payload;
    return m;
}

Envelope toEnvelope(const ProofsAck& m) {
    return Envelope{Type::ProofsAck, {{"seq", m.seq}}, std::nullopt};
}

Result<ProofsAck> parseProofsAck(const Envelope& e) {
    MS_TRY(checkType(e, Type::ProofsAck));
    auto s = reqInt(e, "seq", 0, kMaxI);
    if (!s) return s.error();
    return ProofsAck{*s};
}

// ------------------------------------------------------------------ STATUS
namespace {
constexpr std::pair<SyncState, std::string_view> kSyncStates[] = {{SyncState::Idle, "idle"},
                                                                  {SyncState::Fetching, "fetching"},
                                                                  {SyncState::DiskFull, "disk_full"},
                                                                  {SyncState::Error, "error"}};
}  // namespace

std::string_view syncStateName(SyncState s) {
    for (const auto& [state, name] : kSyncStates)
        if (state == s) return name;
    return "idle";
}

std::optional<SyncState> syncStateFromName(std::string_view name) {
    for (const auto& [state, n] : kSyncStates)
        if (n == name) return state;
    return std::nullopt;
}

json::Value statusToJson(const StatusReport& m) {
    return json::Object{{"active_version", m.activeVersion},
                        {"bundle_id", m.bundleId},
                        {"staged_version", m.stagedVersion},
                        {"sync_state", std::string(syncStateName(m.syncState))},
                        {"files_total", m.filesTotal},
                        {"files_done", m.filesDone},
                        {"bytes_total", m.bytesTotal},
                        {"bytes_done", m.bytesDone},
                        {"disk_free_bytes", m.diskFreeBytes},
                        {"uptime_s", m.uptimeS},
                        {"software", m.software},
                        {"last_error", m.lastError},
                        {"clock_offset_ms", m.clockOffsetMs},
                        {"clock_skewed", m.clockSkewed},
                        {"playback", m.playback},
                        {"media_bytes_mirror", m.mediaBytesMirror},
                        {"media_bytes_hub", m.mediaBytesHub}};
}

Envelope toEnvelope(const StatusReport& m) {
    return Envelope{Type::Status, std::move(statusToJson(m).asObject()), std::nullopt};
}

Result<StatusReport> parseStatus(const Envelope& e) {
    MS_TRY(checkType(e, Type::Status));
    StatusReport m;
    struct IntField {
        const char* key;
        std::int64_t* out;
        std::int64_t lo;
    };
    const IntField ints[] = {{"active_version", &m.activeVersion, 0},
                             {"staged_version", &m.stagedVersion, 0},
                             {"files_total", &m.filesTotal, 0},
                             {"files_done", &m.filesDone, 0},
                             {"bytes_total", &m.bytesTotal, 0},
                             {"bytes_done", &m.bytesDone, 0},
                             {"disk_free_bytes", &m.diskFreeBytes, 0},
                             {"uptime_s", &m.uptimeS, 0},
                             {"clock_offset_ms", &m.clockOffsetMs, -kMaxI},
                             {"media_bytes_mirror", &m.mediaBytesMirror, 0},
                             {"media_bytes_hub", &m.mediaBytesHub, 0}};
    for (const auto& f : ints) {
        auto v = optInt(e, f.key, f.lo, kMaxI, 0);
        if (!v) return v.error();
        *f.out = *v;
    }
    struct StrField {
        const char* key;
        std::string* out;
    };
    std::string syncState;
    const StrField strs[] = {{"bundle_id", &m.bundleId},
                             {"sync_state", &syncState},
                             {"software", &m.software},
                             {"last_error", &m.lastError}};
    for (const auto& f : strs) {
        auto v = optStr(e, f.key, kMaxTextBytes);
        if (!v) return v.error();
        *f.out = *v;
    }
    if (!syncState.empty()) {
        auto state = syncStateFromName(syncState);
        if (!state) return bad(e.type, "field 'sync_state' is not one of idle, fetching, disk_full, error");
        m.syncState = *state;
    }
    auto sk = optBool(e, "clock_skewed");
    if (!sk) return sk.error();
    m.clockSkewed = *sk;
    if (auto it = e.header.find("playback"); it != e.header.end()) {
        if (!it->second.isObject()) return bad(e.type, "field 'playback' must be an object");
        m.playback = it->second.asObject();
    }
    return m;
}

// ------------------------------------------------------------------ COMMAND
std::string_view commandActionName(CommandAction a) {
    switch (a) {
        case CommandAction::Reload:
            return "reload";
        case CommandAction::ClearCache:
            return "clear_cache";
        case CommandAction::Screenshot:
            return "screenshot";
        case CommandAction::ShowHead:
            return "show_head";
    }
    return "reload";
}

Envelope toEnvelope(const Command& m) {
    return Envelope{Type::Command, {{"id", m.id}, {"action", commandActionName(m.action)}}, std::nullopt};
}

Result<Command> parseCommand(const Envelope& e) {
    MS_TRY(checkType(e, Type::Command));
    Command m;
    auto id = reqStr(e, "id", kMaxIdBytes);
    if (!id) return id.error();
    m.id = *id;
    auto a = reqStr(e, "action", 32);
    if (!a) return a.error();
    if (*a == "reload")
        m.action = CommandAction::Reload;
    else if (*a == "clear_cache")
        m.action = CommandAction::ClearCache;
    else if (*a == "screenshot")
        m.action = CommandAction::Screenshot;
    else if (*a == "show_head")
        m.action = CommandAction::ShowHead;
    else
        return bad(e.type, "unknown action '" + a->substr(0, 32) + "'");
    return m;
}

Envelope toEnvelope(const CommandAck& m) {
    return Envelope{Type::CommandAck, {{"id", m.id}, {"ok", m.ok}, {"message", m.message}}, m.payload};
}

Result<CommandAck> parseCommandAck(const Envelope& e) {
    MS_TRY(checkType(e, Type::CommandAck));
    CommandAck m;
    auto id = reqStr(e, "id", kMaxIdBytes);
    if (!id) return id.error();
    m.id = *id;
    auto ok = optBool(e, "ok");
    if (!ok) return ok.error();
    m.ok = *ok;
    auto msg = optStr(e, "message", kMaxTextBytes);
    if (!msg) return msg.error();
    m.message = *msg;
    m.payload = e.payload;
    return m;
}

// ------------------------------------------------------------------ ERROR
Envelope toEnvelope(const ErrorMsg& m) {
    return Envelope{Type::Error, {{"code", m.code}, {"message", m.message}, {"ref", m.ref}}, std::nullopt};
}

Result<ErrorMsg> parseError(const Envelope& e) {
    MS_TRY(checkType(e, Type::Error));
    ErrorMsg m;
    auto c = reqStr(e, "code", 64);
    if (!c) return c.error();
    m.code = *c;
    auto msg = optStr(e, "message", kMaxTextBytes);
    if (!msg) return msg.error();
    m.message = *msg;
    auto ref = optStr(e, "ref", kMaxIdBytes);
    if (!ref) return ref.error();
    m.ref = *ref;
    return m;
}

bool isHubEndpoint(std::string_view e) {
    constexpr std::string_view kScheme = "tcp://";
    if (e.size() > 255 || e.substr(0, kScheme.size()) != kScheme) return false;
    const std::string_view rest = e.substr(kScheme.size());
    const auto colon = rest.rfind(':');
    if (colon == std::string_view::npos || colon == 0) return false;
    const std::string_view host = rest.substr(0, colon), port = rest.substr(colon + 1);
    for (char c : host)
        if (static_cast<unsigned char>(c) <= ' ' || c == ',' || c == '/' || c == '@' ||
            static_cast<unsigned char>(c) >= 0x7f)
            return false;
    if (host.find(':') != std::string_view::npos && (host.front() != '[' || host.back() != ']')) return false;
    if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string_view::npos) return false;
    const int p = std::stoi(std::string(port));
    return p >= 1 && p <= 65535;
}

}  // namespace microscape::wire
