// The controller's content signing key (Ed25519) in <dataDir>/keys: created on
// first start with mode 0600, loaded afterwards. Start-up only; not thread-safe.
#pragma once

#include <filesystem>
#include <string>

#include "microscape/core/result.hpp"

namespace microscape::controller {

constexpr const char* kSigningKeyFile = "content-signing.pem";      // PKCS#8 private key
constexpr const char* kSigningPubFile = "content-signing.pub.pem";  // SubjectPublicKeyInfo

// Returns the public key PEM. Errors: Io, BadKey (existing file unreadable, not
// Ed25519, or readable by group/others).
Result<std::string> ensureSigningKey(const std::filesystem::path& keysDir);

// True if pem is an Ed25519 public key in SubjectPublicKeyInfo PEM form.
bool isEd25519PublicPem(const std::string& pem);

}  // namespace microscape::controller
