#include "microscape/core/sealed.hpp"

#include <openssl/evp.h>

#include <array>
#include <memory>

#include "microscape/core/crypto.hpp"
#include "microscape/core/json.hpp"
#include "microscape/core/json_fields.hpp"

namespace microscape::wire::sealed {

namespace {

using CipherCtx = std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)>;

// 96 bits: the direction, three zero bytes, the counter (big-endian).
std::array<unsigned char, 12> nonceOf(Direction dir, std::uint64_t counter) {
    std::array<unsigned char, 12> n{};
    n[0] = static_cast<unsigned char>(dir);
    for (int i = 0; i < 8; ++i) n[4 + i] = static_cast<unsigned char>(counter >> (56 - 8 * i));
    return n;
}

const unsigned char* u8(const void* p) {
    return static_cast<const unsigned char*>(p);
}

// EVP lengths are ints: a frame is far below that (kMaxChunkBytes).
constexpr std::size_t kMaxLen = 1u << 30;

}  // namespace

Result<SessionKeys> newSession() {
    auto key = crypto::randomBytes(kKeyBytes);
    if (!key) return key.error();
    auto token = crypto::randomBytes(kTokenBytes);
    if (!token) return token.error();
    return SessionKeys{std::move(*key), crypto::toHex(*token)};
}

bool seal(std::string_view key, Direction dir, std::uint64_t counter, std::string_view aad, const void* plain,
          std::size_t len, void* out) {
    if (key.size() != kKeyBytes || len > kMaxLen || aad.size() > kMaxLen) return false;
    CipherCtx ctx(EVP_CIPHER_CTX_new(), &EVP_CIPHER_CTX_free);
    const auto nonce = nonceOf(dir, counter);
    int n = 0;
    auto* o = static_cast<unsigned char*>(out);
    if (!ctx || EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, u8(key.data()), nonce.data()) != 1)
        return false;
    if (!aad.empty() && EVP_EncryptUpdate(ctx.get(), nullptr, &n, u8(aad.data()), static_cast<int>(aad.size())) != 1)
        return false;
    if (len > 0 && EVP_EncryptUpdate(ctx.get(), o, &n, u8(plain), static_cast<int>(len)) != 1) return false;
    if (EVP_EncryptFinal_ex(ctx.get(), o + len, &n) != 1) return false;
    return EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, static_cast<int>(kTagBytes), o + len) == 1;
}

bool open(std::string_view key, Direction dir, std::uint64_t counter, std::string_view aad, const void* sealed,
          std::size_t len, void* out) {
    if (key.size() != kKeyBytes || len < kTagBytes || len > kMaxLen || aad.size() > kMaxLen) return false;
    const std::size_t body = len - kTagBytes;
    std::array<unsigned char, kTagBytes> tag{};
    std::copy(u8(sealed) + body, u8(sealed) + len, tag.begin());
    CipherCtx ctx(EVP_CIPHER_CTX_new(), &EVP_CIPHER_CTX_free);
    const auto nonce = nonceOf(dir, counter);
    int n = 0;
    auto* o = static_cast<unsigned char*>(out);
    if (!ctx || EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, u8(key.data()), nonce.data()) != 1)
        return false;
    if (!aad.empty() && EVP_DecryptUpdate(ctx.get(), nullptr, &n, u8(aad.data()), static_cast<int>(aad.size())) != 1)
        return false;
    if (body > 0 && EVP_DecryptUpdate(ctx.get(), o, &n, u8(sealed), static_cast<int>(body)) != 1) return false;
    if (EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, static_cast<int>(kTagBytes), tag.data()) != 1)
        return false;
    unsigned char last[16];
    return EVP_DecryptFinal_ex(ctx.get(), last, &n) == 1;
}

std::string readyTag(std::string_view key, std::string_view token) {
    std::string tag(kTagBytes, '\0');
    const std::string aad = std::string(kReady) + std::string(token);
    if (!seal(key, Direction::PlayerToHub, 0, aad, nullptr, 0, tag.data())) return {};
    return tag;
}

bool readyValid(std::string_view key, std::string_view token, std::string_view tag) {
    if (tag.size() != kTagBytes) return false;
    const std::string aad = std::string(kReady) + std::string(token);
    return open(key, Direction::PlayerToHub, 0, aad, tag.data(), tag.size(), nullptr);
}

std::string chunkHeader(const std::string& sha256, std::uint64_t offset, std::uint64_t totalBytes, std::uint64_t seq) {
    // A plain CHUNK's header, and its seq.
    auto header = toEnvelope(Chunk{sha256, offset, totalBytes, {}}).header;
    header["seq"] = static_cast<std::int64_t>(seq);
    return json::canonical(json::Value(std::move(header)));
}

Result<ChunkView> openChunk(std::string_view key, std::string_view type, std::string_view header, char* data,
                            std::size_t len, std::uint64_t& lastSeq) {
    if (type != typeName(Type::Chunk)) return makeError(Errc::BadManifest, "bulk channel: expected a CHUNK");
    if (len < kTagBytes) return makeError(Errc::BadManifest, "bulk channel: CHUNK data shorter than its tag");
    if (len - kTagBytes > kMaxChunkBytes) return makeError(Errc::TooLarge, "CHUNK: more than the chunk limit");
    auto env = decode({type, header, std::string_view()});
    if (!env) return env.error();
    const auto seq = json::Fields::over(env->header, "CHUNK: ").integer("seq", 1, INT64_MAX);
    if (!seq) return seq.error();
    const auto s = static_cast<std::uint64_t>(*seq);
    if (s <= lastSeq)
        return makeError(Errc::Usage, "bulk channel: CHUNK seq " + std::to_string(s) + " not above " +
                                          std::to_string(lastSeq) + " (replayed)");
    if (!open(key, Direction::HubToPlayer, s, header, data, len, data))
        return makeError(Errc::BadSignature, "bulk channel: a CHUNK that is not authentic");
    const std::size_t n = len - kTagBytes;
    // The header's own checks (sha256, offset within total, data within total).
    std::vector<std::string_view> frames{type, header, std::string_view(data, n)};
    auto c = decodeChunk(frames);
    if (!c) return c.error();
    lastSeq = s;
    return c;
}

}  // namespace microscape::wire::sealed
