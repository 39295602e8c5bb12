#include "microscape/core/crypto.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <functional>
#include <vector>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>

namespace microscape::crypto {

namespace {

std::string errnoText(const std::string& what, const std::string& path) {
    return what + " " + path + ": " + std::strerror(errno);
}

struct BioFree {
    void operator()(BIO* b) const { BIO_free(b); }
};
using BioPtr = std::unique_ptr<BIO, BioFree>;

std::string bioToString(BIO* bio) {
    char* data = nullptr;
    long len = BIO_get_mem_data(bio, &data);
    return std::string(data, static_cast<std::size_t>(len));
}

Status writeFileExclusive(const std::string& path, const std::string& data, mode_t mode) {
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (fd < 0) {
        if (errno == EEXIST) return makeError(Errc::Exists, "refusing to overwrite " + path);
        return makeError(Errc::Io, errnoText("cannot create", path));
    }
    std::size_t off = 0;
    while (off < data.size()) {
        ssize_t n = ::write(fd, data.data() + off, data.size() - off);
        if (n < 0) {
            if (errno == EINTR) continue;
            auto err = makeError(Errc::Io, errnoText("cannot write", path));
            ::close(fd);
            ::unlink(path.c_str());
            return err;
        }
        off += static_cast<std::size_t>(n);
    }
    // The mode passed to open() is filtered by the umask; set it exactly.
    ::fchmod(fd, mode);
    if (::fsync(fd) != 0 || ::close(fd) != 0) {
        ::unlink(path.c_str());
        return makeError(Errc::Io, errnoText("cannot sync", path));
    }
    return {};
}

}  // namespace

std::string toHex(const std::uint8_t* data, std::size_t size) {
    static constexpr char kDigits[] = "0123456789abcdef";
    std::string out(size * 2, '0');
    for (std::size_t i = 0; i < size; ++i) {
        out[2 * i] = kDigits[data[i] >> 4];
        out[2 * i + 1] = kDigits[data[i] & 0xf];
    }
    return out;
}

Result<std::string> fromHex(std::string_view hex) {
    if (hex.size() % 2 != 0) return makeError(Errc::Usage, "hex string has odd length");
    std::string out(hex.size() / 2, '\0');
    auto nibble = [](char c) -> int {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        return -1;
    };
    for (std::size_t i = 0; i < out.size(); ++i) {
        int hi = nibble(hex[2 * i]), lo = nibble(hex[2 * i + 1]);
        if (hi < 0 || lo < 0) return makeError(Errc::Usage, "not lowercase hex");
        out[i] = static_cast<char>((hi << 4) | lo);
    }
    return out;
}

bool isSha256Hex(std::string_view s) {
    if (s.size() != 64) return false;
    for (char c : s)
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
    return true;
}

std::string base64Encode(std::string_view bytes) {
    std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
    int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                            reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<int>(bytes.size()));
    out.resize(static_cast<std::size_t>(n));
    return out;
}

Result<std::string> base64Decode(std::string_view text) {
    if (text.size() % 4 != 0) return makeError(Errc::Usage, "base64 length is not a multiple of 4");
    for (char c : text) {
        bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/' ||
                  c == '=';
        if (!ok) return makeError(Errc::Usage, "invalid base64 character");
    }
    std::string out(3 * text.size() / 4 + 1, '\0');
    int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                            reinterpret_cast<const unsigned char*>(text.data()), static_cast<int>(text.size()));
    if (n < 0) return makeError(Errc::Usage, "invalid base64");
    std::size_t len = static_cast<std::size_t>(n);
    if (!text.empty() && text.back() == '=') --len;
    if (text.size() >= 2 && text[text.size() - 2] == '=') --len;
    out.resize(len);
    if (base64Encode(out) != text) return makeError(Errc::Usage, "non-canonical base64");
    return out;
}

void Sha256::CtxFree::operator()(EVP_MD_CTX* c) const {
    EVP_MD_CTX_free(c);
}

Sha256::Sha256() : ctx_(EVP_MD_CTX_new()) {
    // Failure here means OpenSSL cannot allocate or lacks SHA-256: a broken system.
    if (!ctx_ || EVP_DigestInit_ex(ctx_.get(), EVP_sha256(), nullptr) != 1) std::abort();
}
Sha256::~Sha256() = default;
Sha256::Sha256(Sha256&&) noexcept = default;
Sha256& Sha256::operator=(Sha256&&) noexcept = default;

void Sha256::update(const void* data, std::size_t size) {
    if (size) EVP_DigestUpdate(ctx_.get(), data, size);
}

Digest Sha256::finish() {
    Digest d{};
    unsigned int len = 0;
    EVP_DigestFinal_ex(ctx_.get(), d.data(), &len);
    EVP_DigestInit_ex(ctx_.get(), EVP_sha256(), nullptr);
    return d;
}

Digest sha256(std::string_view bytes) {
    Sha256 h;
    h.update(bytes);
    return h.finish();
}

namespace {

// Reads the file at path to its end in chunks of chunkBytes, handing each to
// onChunk; an error from onChunk stops the read and is returned.
Status readChunks(const std::string& path, std::size_t chunkBytes,
                  const std::function<Status(const char*, std::size_t)>& onChunk) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return makeError(Errc::Io, errnoText("cannot open", path));
    std::vector<char> buf(chunkBytes);
    Status st;
    while (true) {
        ssize_t n = ::read(fd, buf.data(), buf.size());
        if (n < 0) {
            if (errno == EINTR) continue;
            st = makeError(Errc::Io, errnoText("cannot read", path));
            break;
        }
        if (n == 0) break;
        st = onChunk(buf.data(), static_cast<std::size_t>(n));
        if (!st) break;
    }
    ::close(fd);
    return st;
}

}  // namespace

Result<Digest> sha256File(const std::string& path) {
    Sha256 h;
    MS_TRY(readChunks(path, 1 << 20, [&](const char* data, std::size_t n) -> Status {
        h.update(data, n);
        return {};
    }));
    return h.finish();
}

Result<std::string> readSmallFile(const std::string& path, std::size_t maxBytes) {
    std::string out;
    MS_TRY(readChunks(path, 65536, [&](const char* data, std::size_t n) -> Status {
        out.append(data, n);
        if (out.size() > maxBytes)
            return makeError(Errc::TooLarge, path + " is larger than " + std::to_string(maxBytes) + " bytes");
        return {};
    }));
    return out;
}

void PkeyFree::operator()(EVP_PKEY* k) const {
    EVP_PKEY_free(k);
}

Result<PrivateKey> PrivateKey::generate() {
    EVP_PKEY* k = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
    if (!k) return makeError(Errc::Internal, "Ed25519 key generation failed");
    return PrivateKey(PkeyPtr(k));
}

Result<PrivateKey> PrivateKey::fromPem(std::string_view pem) {
    BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
    if (!bio) return makeError(Errc::Internal, "BIO allocation failed");
    EVP_PKEY* k = PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr);
    if (!k) return makeError(Errc::BadKey, "not a PEM private key");
    PkeyPtr key(k);
    if (EVP_PKEY_get_id(k) != EVP_PKEY_ED25519) return makeError(Errc::BadKey, "private key is not Ed25519");
    return PrivateKey(std::move(key));
}

// A key from a PEM file of at most 64 KiB; errors name the file.
template <class Key>
Result<Key> loadPemFile(const std::string& path) {
    auto pem = readSmallFile(path, 64 * 1024);
    if (!pem) return pem.error();
    auto k = Key::fromPem(*pem);
    if (!k) return makeError(k.code(), k.error().message + " in " + path);
    return k;
}

Result<PrivateKey> PrivateKey::load(const std::string& path) {
    return loadPemFile<PrivateKey>(path);
}

std::string PrivateKey::toPem() const {
    BioPtr bio(BIO_new(BIO_s_mem()));
    PEM_write_bio_PrivateKey(bio.get(), key_.get(), nullptr, nullptr, 0, nullptr, nullptr);
    return bioToString(bio.get());
}

Status PrivateKey::save(const std::string& path) const {
    return writeFileExclusive(path, toPem(), 0600);
}

PublicKey PrivateKey::publicKey() const {
    std::string raw(32, '\0');
    std::size_t len = raw.size();
    EVP_PKEY_get_raw_public_key(key_.get(), reinterpret_cast<unsigned char*>(raw.data()), &len);
    EVP_PKEY* pub =
        EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, reinterpret_cast<const unsigned char*>(raw.data()), len);
    return PublicKey(std::shared_ptr<EVP_PKEY>(pub, EVP_PKEY_free), raw);
}

std::string PrivateKey::sign(std::string_view message) const {
    std::unique_ptr<EVP_MD_CTX, void (*)(EVP_MD_CTX*)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
    std::string sig(64, '\0');
    std::size_t len = sig.size();
    if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, key_.get()) != 1 ||
        EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len,
                       reinterpret_cast<const unsigned char*>(message.data()), message.size()) != 1)
        std::abort();  // cannot happen with a valid Ed25519 key
    return sig;
}

PublicKey::PublicKey(std::shared_ptr<EVP_PKEY> k, std::string raw)
    : key_(std::move(k)), raw_(std::move(raw)), id_(toHex(sha256(raw_))) {}

Result<PublicKey> PublicKey::fromRaw(std::string_view raw32) {
    if (raw32.size() != 32) return makeError(Errc::BadKey, "an Ed25519 public key is 32 bytes");
    EVP_PKEY* k = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr,
                                              reinterpret_cast<const unsigned char*>(raw32.data()), 32);
    if (!k) return makeError(Errc::BadKey, "invalid Ed25519 public key");
    return PublicKey(std::shared_ptr<EVP_PKEY>(k, EVP_PKEY_free), std::string(raw32));
}

Result<PublicKey> PublicKey::fromPem(std::string_view pem) {
    BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
    if (!bio) return makeError(Errc::Internal, "BIO allocation failed");
    EVP_PKEY* k = PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr);
    if (!k) return makeError(Errc::BadKey, "not a PEM public key");
    std::shared_ptr<EVP_PKEY> key(k, EVP_PKEY_free);
    if (EVP_PKEY_get_id(k) != EVP_PKEY_ED25519) return makeError(Errc::BadKey, "public key is not Ed25519");
    std::string raw(32, '\0');
    std::size_t len = raw.size();
    if (EVP_PKEY_get_raw_public_key(k, reinterpret_cast<unsigned char*>(raw.data()), &len) != 1 || len != 32)
        return makeError(Errc::BadKey, "cannot read the raw public key");
    return PublicKey(std::move(key), std::move(raw));
}

Result<PublicKey> PublicKey::load(const std::string& path) {
    return loadPemFile<PublicKey>(path);
}

std::string PublicKey::toPem() const {
    BioPtr bio(BIO_new(BIO_s_mem()));
    PEM_write_bio_PUBKEY(bio.get(), key_.get());
    return bioToString(bio.get());
}

Status PublicKey::save(const std::string& path) const {
    return writeFileExclusive(path, toPem(), 0644);
}

bool PublicKey::verify(std::string_view message, std::string_view signature) const {
    if (signature.size() != 64) return false;
    std::unique_ptr<EVP_MD_CTX, void (*)(EVP_MD_CTX*)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
    if (!ctx || EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, key_.get()) != 1) return false;
    return EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(signature.data()), signature.size(),
                            reinterpret_cast<const unsigned char*>(message.data()), message.size()) == 1;
}

Result<std::string> randomBytes(std::size_t n) {
    std::string out(n, '\0');
    if (RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(n)) != 1)
        return makeError(Errc::Internal, "RAND_bytes failed");
    return out;
}

}  // namespace microscape::crypto
