#include "microscape/core/pin.hpp"

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <memory>

#include "microscape/core/crypto.hpp"

namespace microscape::crypto {

namespace {

using Bio = std::unique_ptr<BIO, decltype(&BIO_free)>;

Result<std::string> pinOfPubkeyDer(int n, unsigned char* der) {
    if (n <= 0 || !der) return makeError(Errc::BadKey, "cannot encode the public key");
    std::string bytes(reinterpret_cast<const char*>(der), static_cast<std::size_t>(n));
    OPENSSL_free(der);
    return pinOfSpkiDer(bytes);
}

}  // namespace

std::string pinOfSpkiDer(std::string_view der) {
    return std::string(kPinPrefix) + sha256Hex(der);
}

Result<std::string> pinOfCertificate(const X509* certificate) {
    if (!certificate) return makeError(Errc::BadKey, "no certificate");
    const X509_PUBKEY* spki = X509_get_X509_PUBKEY(certificate);
    if (!spki) return makeError(Errc::BadKey, "the certificate has no public key");
    unsigned char* der = nullptr;
    const int n = i2d_X509_PUBKEY(const_cast<X509_PUBKEY*>(spki), &der);
    return pinOfPubkeyDer(n, der);
}

Result<std::string> pinOfPem(std::string_view pem) {
    if (pem.size() > (64u << 10)) return makeError(Errc::BadKey, "PEM text too large");
    Bio b(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), &BIO_free);
    if (!b) return makeError(Errc::Internal, "out of memory");
    if (pem.find("-----BEGIN CERTIFICATE-----") != std::string_view::npos) {
        std::unique_ptr<X509, decltype(&X509_free)> cert(PEM_read_bio_X509(b.get(), nullptr, nullptr, nullptr),
                                                         &X509_free);
        if (!cert) return makeError(Errc::BadKey, "not a PEM certificate");
        return pinOfCertificate(cert.get());
    }
    std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(PEM_read_bio_PUBKEY(b.get(), nullptr, nullptr, nullptr),
                                                            &EVP_PKEY_free);
    if (!key) return makeError(Errc::BadKey, "not a PEM public key");
    unsigned char* der = nullptr;
    const int n = i2d_PUBKEY(key.get(), &der);
    return pinOfPubkeyDer(n, der);
}

Result<std::string> parsePin(std::string_view text, std::string_view what) {
    const std::string rule = std::string(what) + " must be sha256: followed by 64 hex digits";
    std::string lower(text.substr(0, 200));
    for (char& c : lower)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (lower.rfind(kPinPrefix, 0) != 0 || !isSha256Hex(std::string_view(lower).substr(kPinPrefix.size())))
        return makeError(Errc::Usage, rule + " (got '" + std::string(text.substr(0, 80)) + "')");
    return lower;
}

}  // namespace microscape::crypto
