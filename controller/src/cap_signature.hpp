// Verification of CAP 1.2's enveloped XML-DSig signature (CAP 1.2 §3.3.2.1) with
// libxmlsec1 (OpenSSL) against pinned keys. Rejects every ambiguous case: more
// than one <Signature>, one not directly under <alert>, a reference to anything
// but the whole document (URI=""), transforms other than enveloped-signature and
// canonicalisation, algorithms other than RSA-SHA256 / SHA-256.
// Thread-safety: verify() may be called from any thread concurrently.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "cap.hpp"
#include "microscape/core/result.hpp"

namespace microscape::controller::cap {

class SignatureVerifier {
  public:
    // Loads trusted keys: PEM X.509 certificates (their public key is what is
    // trusted; dates and chains are not checked) or PEM public keys.
    // Errors: BadKey (naming the index of the PEM that failed), Internal (xmlsec).
    static Result<std::unique_ptr<SignatureVerifier>> create(const std::vector<std::string>& pems);
    ~SignatureVerifier();
    SignatureVerifier(const SignatureVerifier&) = delete;
    SignatureVerifier& operator=(const SignatureVerifier&) = delete;

    std::size_t keyCount() const;

    // Verifies the one enveloped signature of a CAP <alert> document. Returns
    // the index of the trusted key it verifies under. Problems: as
    // xml::parseHardened, unsigned (no <Signature> under <alert>), bad_signature
    // (malformed, disallowed reference or algorithm, or verifies under no key).
    Parsed<std::size_t> verify(std::string_view xml, std::size_t maxBytes) const;

  private:
    struct Keys;
    explicit SignatureVerifier(std::unique_ptr<Keys> keys);
    std::unique_ptr<Keys> keys_;
};

}  // namespace microscape::controller::cap
