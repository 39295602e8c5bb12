#include "microscape/controller/security.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <cstdio>
#include <map>
#include <mutex>
#include <stdexcept>
#include <vector>

namespace microscape::controller {
namespace {

constexpr char kB64Url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

std::string base64Url(const unsigned char* p, std::size_t n) {
    std::string out;
    out.reserve((n * 4 + 2) / 3);
    std::size_t i = 0;
    for (; i + 3 <= n; i += 3) {
        std::uint32_t v = (p[i] << 16) | (p[i + 1] << 8) | p[i + 2];
        out += kB64Url[(v >> 18) & 63];
        out += kB64Url[(v >> 12) & 63];
        out += kB64Url[(v >> 6) & 63];
        out += kB64Url[v & 63];
    }
    if (n - i == 1) {
        std::uint32_t v = p[i] << 16;
        out += kB64Url[(v >> 18) & 63];
        out += kB64Url[(v >> 12) & 63];
    } else if (n - i == 2) {
        std::uint32_t v = (p[i] << 16) | (p[i + 1] << 8);
        out += kB64Url[(v >> 18) & 63];
        out += kB64Url[(v >> 12) & 63];
        out += kB64Url[(v >> 6) & 63];
    }
    return out;
}

bool fromBase64Url(std::string_view s, std::vector<unsigned char>& out) {
    std::uint32_t acc = 0;
    int bits = 0;
    for (char c : s) {
        int v;
        if (c >= 'A' && c <= 'Z')
            v = c - 'A';
        else if (c >= 'a' && c <= 'z')
            v = c - 'a' + 26;
        else if (c >= '0' && c <= '9')
            v = c - '0' + 52;
        else if (c == '-')
            v = 62;
        else if (c == '_')
            v = 63;
        else
            return false;
        acc = (acc << 6) | static_cast<std::uint32_t>(v);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out.push_back(static_cast<unsigned char>((acc >> bits) & 0xff));
        }
    }
    return true;
}

std::string hexOf(const unsigned char* p, std::size_t n) {
    static const char* kHex = "0123456789abcdef";
    std::string out(n * 2, '0');
    for (std::size_t i = 0; i < n; ++i) {
        out[2 * i] = kHex[p[i] >> 4];
        out[2 * i + 1] = kHex[p[i] & 15];
    }
    return out;
}

std::vector<unsigned char> pbkdf2(std::string_view password, const unsigned char* salt, std::size_t saltLen,
                                  int iterations, std::size_t outLen) {
    std::vector<unsigned char> out(outLen);
    if (PKCS5_PBKDF2_HMAC(password.data(), static_cast<int>(password.size()), salt, static_cast<int>(saltLen),
                          iterations, EVP_sha256(), static_cast<int>(outLen), out.data()) != 1)
        throw std::runtime_error("PBKDF2 failed");
    return out;
}

}  // namespace

std::string hashPassword(std::string_view password, int iterations) {
    unsigned char salt[16];
    if (RAND_bytes(salt, sizeof salt) != 1) throw std::runtime_error("RAND_bytes failed");
    auto dk = pbkdf2(password, salt, sizeof salt, iterations, 32);
    return "pbkdf2-sha256$" + std::to_string(iterations) + "$" + base64Url(salt, sizeof salt) + "$" +
           base64Url(dk.data(), dk.size());
}

bool verifyPassword(std::string_view password, std::string_view stored) {
    constexpr std::string_view kPrefix = "pbkdf2-sha256$";
    if (stored.substr(0, kPrefix.size()) != kPrefix) return false;
    stored.remove_prefix(kPrefix.size());
    auto d1 = stored.find('$');
    if (d1 == std::string_view::npos) return false;
    auto d2 = stored.find('$', d1 + 1);
    if (d2 == std::string_view::npos) return false;
    int iterations = 0;
    for (char c : stored.substr(0, d1)) {
        if (c < '0' || c > '9' || iterations > 100'000'000) return false;
        iterations = iterations * 10 + (c - '0');
    }
    if (iterations < 1) return false;
    std::vector<unsigned char> salt, expected;
    if (!fromBase64Url(stored.substr(d1 + 1, d2 - d1 - 1), salt) || !fromBase64Url(stored.substr(d2 + 1), expected) ||
        expected.empty())
        return false;
    auto dk = pbkdf2(password, salt.data(), salt.size(), iterations, expected.size());
    return CRYPTO_memcmp(dk.data(), expected.data(), dk.size()) == 0;
}

int passwordHashIterations(std::string_view stored) {
    constexpr std::string_view kPrefix = "pbkdf2-sha256$";
    if (stored.substr(0, kPrefix.size()) != kPrefix) return 0;
    stored.remove_prefix(kPrefix.size());
    int iterations = 0;
    for (char c : stored.substr(0, stored.find('$'))) {
        if (c < '0' || c > '9' || iterations > 100'000'000) return 0;
        iterations = iterations * 10 + (c - '0');
    }
    return iterations;
}

const std::string& dummyPasswordHash(int iterations) {
    static std::mutex mutex;  // guards cache
    static std::map<int, std::string> cache;
    std::lock_guard lock(mutex);
    auto it = cache.find(iterations);
    if (it == cache.end()) it = cache.emplace(iterations, hashPassword(randomToken(24), iterations)).first;
    return it->second;
}

std::optional<std::string> passwordPolicyViolation(std::string_view password, int minLength, int minClasses) {
    int chars = 0;
    bool lower = false, upper = false, digit = false, other = false;
    for (unsigned char c : password) {
        if ((c & 0xC0) != 0x80) ++chars;  // count code points, not continuation bytes
        if (c >= 'a' && c <= 'z')
            lower = true;
        else if (c >= 'A' && c <= 'Z')
            upper = true;
        else if (c >= '0' && c <= '9')
            digit = true;
        else
            other = true;
    }
    const int classes = int(lower) + int(upper) + int(digit) + int(other);
    if (chars >= minLength && classes >= minClasses) return std::nullopt;
    const std::string n = std::to_string(minLength), k = std::to_string(minClasses);
    return "the password needs at least " + n + " characters and at least " + k +
           " of: lower-case letters, upper-case letters, digits, other characters / 密码至少 " + n +
           " 个字符，且至少包含小写字母、大写字母、数字、其他字符中的 " + k + " 类";
}

std::string escapeControl(std::string_view v) {
    static const char* kHex = "0123456789abcdef";
    std::string out;
    out.reserve(v.size());
    auto hexByte = [&](unsigned char c) {
        out += "\\x";
        out += kHex[c >> 4];
        out += kHex[c & 15];
    };
    for (std::size_t i = 0; i < v.size(); ++i) {
        const auto c = static_cast<unsigned char>(v[i]);
        if (c == '\\')
            out += "\\\\";
        else if (c == '\n')
            out += "\\n";
        else if (c == '\r')
            out += "\\r";
        else if (c == '\t')
            out += "\\t";
        else if (c < 0x20 || c == 0x7f)
            hexByte(c);
        else if (c < 0x80)
            out += static_cast<char>(c);
        else {
            // A multi-byte UTF-8 sequence: copy it when well-formed and not a control.
            std::size_t len = c >= 0xF0 && c <= 0xF4 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 && c < 0xE0 ? 2 : 0;
            bool ok = len != 0 && i + len <= v.size();
            for (std::size_t k = 1; ok && k < len; ++k) ok = (static_cast<unsigned char>(v[i + k]) & 0xC0) == 0x80;
            if (!ok) {
                hexByte(c);
                continue;
            }
            std::uint32_t cp = len == 2 ? c & 0x1F : len == 3 ? c & 0x0F : c & 0x07;
            for (std::size_t k = 1; k < len; ++k) cp = (cp << 6) | (static_cast<unsigned char>(v[i + k]) & 0x3F);
            if ((cp >= 0x80 && cp <= 0x9F) || cp == 0x2028 || cp == 0x2029) {
                char buf[8];
                std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(cp));
                out += buf;
            } else {
                out.append(v.substr(i, len));
            }
            i += len - 1;
        }
    }
    return out;
}

std::string randomToken(std::size_t bytes) {
    std::vector<unsigned char> buf(bytes);
    if (RAND_bytes(buf.data(), static_cast<int>(bytes)) != 1) throw std::runtime_error("RAND_bytes failed");
    return base64Url(buf.data(), buf.size());
}

std::string sha256Hex(std::string_view data) {
    Sha256Stream s;
    s.update(data.data(), data.size());
    return s.finishHex();
}

bool constantTimeEquals(std::string_view a, std::string_view b) {
    return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

struct Sha256Stream::Impl {
    std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx{EVP_MD_CTX_new(), &EVP_MD_CTX_free};
};

Sha256Stream::Sha256Stream() : impl_(std::make_unique<Impl>()) {
    if (!impl_->ctx || EVP_DigestInit_ex(impl_->ctx.get(), EVP_sha256(), nullptr) != 1)
        throw std::runtime_error("SHA-256 init failed");
}
Sha256Stream::~Sha256Stream() = default;

void Sha256Stream::update(const void* data, std::size_t size) {
    if (EVP_DigestUpdate(impl_->ctx.get(), data, size) != 1) throw std::runtime_error("SHA-256 update failed");
}

std::string Sha256Stream::finishHex() {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (EVP_DigestFinal_ex(impl_->ctx.get(), md, &len) != 1) throw std::runtime_error("SHA-256 final failed");
    return hexOf(md, len);
}

}  // namespace microscape::controller
