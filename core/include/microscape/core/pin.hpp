// Public key pins, as `kubeadm join --discovery-token-ca-cert-hash` has them:
// "sha256:" and the lowercase hex SHA-256 of a key's DER SubjectPublicKeyInfo.
// The same pin names a key whether it comes as a public key PEM, a certificate
// or a TLS peer's certificate. Pure functions; thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "microscape/core/result.hpp"

typedef struct x509_st X509;

namespace microscape::crypto {

constexpr std::string_view kPinPrefix = "sha256:";

// The pin of a public key PEM ("BEGIN PUBLIC KEY") or of the key in a
// certificate PEM ("BEGIN CERTIFICATE"; the first one if several).
// Errors: BadKey.
Result<std::string> pinOfPem(std::string_view pem);
// The pin of a certificate's public key. Errors: BadKey.
Result<std::string> pinOfCertificate(const X509* certificate);
// The pin of DER SubjectPublicKeyInfo bytes (no parsing).
std::string pinOfSpkiDer(std::string_view der);

// Normalises a pin given by a person ("sha256:" + 64 hex digits, any case) to
// the lowercase form. Errors: Usage naming `what`.
Result<std::string> parsePin(std::string_view text, std::string_view what);

}  // namespace microscape::crypto
