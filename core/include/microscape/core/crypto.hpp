// SHA-256 and Ed25519 over OpenSSL 3 (EVP). Objects are not shared between
// threads; separate objects may be used from different threads at once.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "microscape/core/result.hpp"

typedef struct evp_md_ctx_st EVP_MD_CTX;
typedef struct evp_pkey_st EVP_PKEY;

namespace microscape::crypto {

using Digest = std::array<std::uint8_t, 32>;

std::string toHex(const std::uint8_t* data, std::size_t size);
inline std::string toHex(const Digest& d) {
    return toHex(d.data(), d.size());
}
inline std::string toHex(std::string_view bytes) {
    return toHex(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
}
// Lowercase hex only; nothing else is accepted.
Result<std::string> fromHex(std::string_view hex);
// True for exactly 64 lowercase hex digits (the form of a SHA-256 name).
bool isSha256Hex(std::string_view s);

std::string base64Encode(std::string_view bytes);
Result<std::string> base64Decode(std::string_view text);

// Streaming SHA-256 (OpenSSL EVP; uses the CPU's SHA instructions where present).
class Sha256 {
  public:
    Sha256();
    ~Sha256();
    Sha256(Sha256&&) noexcept;
    Sha256& operator=(Sha256&&) noexcept;
    Sha256(const Sha256&) = delete;
    Sha256& operator=(const Sha256&) = delete;

    void update(const void* data, std::size_t size);
    void update(std::string_view bytes) { update(bytes.data(), bytes.size()); }
    // Returns the digest and resets the object for a new message.
    Digest finish();

  private:
    struct CtxFree {
        void operator()(EVP_MD_CTX* c) const;
    };
    std::unique_ptr<EVP_MD_CTX, CtxFree> ctx_;
};

Digest sha256(std::string_view bytes);
inline std::string sha256Hex(std::string_view bytes) {
    return toHex(sha256(bytes));
}
// Hashes a file by streaming it (never loads it whole). Errors: Io.
Result<Digest> sha256File(const std::string& path);

struct PkeyFree {
    void operator()(EVP_PKEY* k) const;
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;

class PublicKey;

// Ed25519 private key. PEM form: PKCS#8 ("BEGIN PRIVATE KEY").
class PrivateKey {
  public:
    static Result<PrivateKey> generate();
    static Result<PrivateKey> fromPem(std::string_view pem);  // Errors: BadKey
    static Result<PrivateKey> load(const std::string& path);  // Errors: Io, BadKey

    std::string toPem() const;
    // Writes the PEM with mode 0600; refuses to overwrite (Exists). Errors: Io.
    Status save(const std::string& path) const;

    PublicKey publicKey() const;
    // Ed25519 is one-shot: the whole message at once. Returns 64 bytes.
    std::string sign(std::string_view message) const;

  private:
    explicit PrivateKey(PkeyPtr k) : key_(std::move(k)) {}
    PkeyPtr key_;
};

// Ed25519 public key. PEM form: SubjectPublicKeyInfo ("BEGIN PUBLIC KEY").
class PublicKey {
  public:
    static Result<PublicKey> fromPem(std::string_view pem);    // Errors: BadKey
    static Result<PublicKey> load(const std::string& path);    // Errors: Io, BadKey
    static Result<PublicKey> fromRaw(std::string_view raw32);  // Errors: BadKey

    std::string toPem() const;
    Status save(const std::string& path) const;  // mode 0644; Exists, Io

    const std::string& raw() const { return raw_; }  // the 32 key bytes
    // Key id: lowercase hex SHA-256 of the 32 raw public key bytes.
    const std::string& id() const { return id_; }

    bool verify(std::string_view message, std::string_view signature) const;

  private:
    PublicKey(std::shared_ptr<EVP_PKEY> k, std::string raw);
    std::shared_ptr<EVP_PKEY> key_;
    std::string raw_;
    std::string id_;
    friend class PrivateKey;
};

// Cryptographically secure random bytes (OpenSSL RAND). Errors: Internal.
Result<std::string> randomBytes(std::size_t n);

// Reads a whole small file (keys, manifests). Errors: Io, TooLarge.
Result<std::string> readSmallFile(const std::string& path, std::size_t maxBytes);

}  // namespace microscape::crypto
