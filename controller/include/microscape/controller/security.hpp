// Password hashing (PBKDF2-HMAC-SHA256), random tokens and SHA-256 helpers for the
// controller. Stateless functions; thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace microscape::controller {

// Stored form: "pbkdf2-sha256$<iterations>$<salt base64url>$<hash base64url>".
// The iteration count travels with the hash, so raising the configured count
// keeps old hashes verifiable.
std::string hashPassword(std::string_view password, int iterations);
bool verifyPassword(std::string_view password, std::string_view stored);
// The iteration count of a stored hash; 0 when it is not one of ours.
int passwordHashIterations(std::string_view stored);
// A hash of a password nobody knows, made once per iteration count: logins for
// unknown names verify against it so they cost as much as real ones.
const std::string& dummyPasswordHash(int iterations);

// The password policy (auth.passwordMinLength, auth.passwordMinClasses): length in
// characters (UTF-8 code points) and character classes among lower-case, upper-case,
// digit and other. Returns why a password is refused (English and zh-CN), or nothing.
std::optional<std::string> passwordPolicyViolation(std::string_view password, int minLength, int minClasses);

// A request-supplied value made safe to put in one log line or audit field:
// control characters (C0, DEL, C1, U+2028/U+2029), backslashes and invalid UTF-8
// become escapes (\n, \x1b, \u2028), so a value cannot split or forge a line.
std::string escapeControl(std::string_view value);

// Cryptographically random bytes as base64url without padding (bytes * 4 / 3 chars).
std::string randomToken(std::size_t bytes = 32);

std::string sha256Hex(std::string_view data);
bool constantTimeEquals(std::string_view a, std::string_view b);

// Incremental SHA-256 over OpenSSL EVP, for hashing uploads while they stream.
class Sha256Stream {
  public:
    Sha256Stream();
    ~Sha256Stream();
    Sha256Stream(const Sha256Stream&) = delete;
    Sha256Stream& operator=(const Sha256Stream&) = delete;
    void update(const void* data, std::size_t size);
    std::string finishHex();  // lower-case hex; call once

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace microscape::controller
