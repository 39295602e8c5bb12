#include "tls.hpp"

#include <Poco/Net/Context.h>
#include <Poco/Net/DNS.h>
#include <Poco/Net/IPAddress.h>
#include <Poco/Net/NetException.h>
#include <Poco/Net/SSLException.h>
#include <Poco/Net/SecureServerSocket.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/URI.h>
#include <fcntl.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <memory>

#include "microscape/core/crypto.hpp"
#include "microscape/core/pin.hpp"

namespace microscape::controller {

namespace fs = std::filesystem;

namespace {

// TLS 1.2 suites: ECDHE (forward secrecy) with AEAD only; TLS 1.3 keeps OpenSSL's
// default suites (all AEAD).
constexpr const char* kCipherList =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
    "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";
constexpr long kValiditySeconds = 10L * 365 * 24 * 3600;

using PKey = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;
using X509Ptr = std::unique_ptr<X509, decltype(&X509_free)>;
using Bio = std::unique_ptr<BIO, decltype(&BIO_free)>;

std::string bioString(BIO* b) {
    char* data = nullptr;
    const long n = BIO_get_mem_data(b, &data);
    return std::string(data, static_cast<std::size_t>(n));
}

Status writeFile(const fs::path& p, const std::string& bytes, mode_t mode) {
    fs::path tmp = p;
    tmp += ".tmp";
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0) return makeError(Errc::Io, "cannot create " + tmp.string());
    ::fchmod(fd, mode);
    const bool ok = ::write(fd, bytes.data(), bytes.size()) == static_cast<ssize_t>(bytes.size()) && ::fsync(fd) == 0;
    ::close(fd);
    if (!ok || ::rename(tmp.c_str(), p.c_str()) != 0) return makeError(Errc::Io, "cannot write " + p.string());
    return {};
}

bool isIpLiteral(const std::string& s) {
    Poco::Net::IPAddress ip;
    return Poco::Net::IPAddress::tryParse(s, ip);
}

bool isWildcard(const std::string& bind) {
    return bind.empty() || bind == "0.0.0.0" || bind == "::" || bind == "[::]";
}

// "DNS:localhost,IP:127.0.0.1,..." from names that are safe in a config string.
std::string subjectAltNames(const std::vector<std::string>& hostNames) {
    std::vector<std::string> entries{"DNS:localhost", "IP:127.0.0.1"};
    for (std::string h : hostNames) {
        if (h.size() > 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
        if (h.empty() || h.size() > 253) continue;
        std::string e;
        if (isIpLiteral(h)) {
            e = "IP:" + h;
        } else if (h.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-") ==
                   std::string::npos) {
            e = "DNS:" + h;
        } else {
            continue;
        }
        bool seen = false;
        for (const auto& x : entries) seen = seen || x == e;
        if (!seen) entries.push_back(e);
    }
    std::string out;
    for (const auto& e : entries) out += (out.empty() ? "" : ",") + e;
    return out;
}

Status addExtension(X509* cert, int nid, const std::string& value) {
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, cert, cert, nullptr, nullptr, 0);
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
    if (!ext) return makeError(Errc::Internal, "cannot make the certificate extension " + value);
    const int ok = X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
    if (ok != 1) return makeError(Errc::Internal, "cannot add the certificate extension " + value);
    return {};
}

// A self-signed EC P-256 server certificate, valid for ten years (screens pin its
// key, not its dates or names). Returns {certificate PEM, private key PEM}.
Result<std::pair<std::string, std::string>> makeSelfSigned(const std::vector<std::string>& hostNames) {
    PKey key(EVP_EC_gen("P-256"), &EVP_PKEY_free);
    if (!key) return makeError(Errc::Internal, "EC P-256 key generation failed");
    X509Ptr cert(X509_new(), &X509_free);
    if (!cert) return makeError(Errc::Internal, "out of memory");
    unsigned char serial[16];
    if (RAND_bytes(serial, sizeof serial) != 1) return makeError(Errc::Internal, "no random bytes for the serial");
    serial[0] &= 0x7f;  // positive
    std::unique_ptr<BIGNUM, decltype(&BN_free)> bn(BN_bin2bn(serial, sizeof serial, nullptr), &BN_free);
    X509_NAME* name = X509_get_subject_name(cert.get());
    if (!bn || !BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(cert.get())) ||
        X509_set_version(cert.get(), 2) != 1 || !X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600) ||
        !X509_gmtime_adj(X509_getm_notAfter(cert.get()), kValiditySeconds) ||
        X509_set_pubkey(cert.get(), key.get()) != 1 ||
        X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8, reinterpret_cast<const unsigned char*>("Microscape"), -1,
                                   -1, 0) != 1 ||
        X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                                   reinterpret_cast<const unsigned char*>("Microscape controller"), -1, -1, 0) != 1 ||
        X509_set_issuer_name(cert.get(), name) != 1)
        return makeError(Errc::Internal, "cannot fill in the certificate");
    MS_TRY(addExtension(cert.get(), NID_basic_constraints, "critical,CA:FALSE"));
    MS_TRY(addExtension(cert.get(), NID_ext_key_usage, "serverAuth"));
    MS_TRY(addExtension(cert.get(), NID_subject_key_identifier, "hash"));
    MS_TRY(addExtension(cert.get(), NID_subject_alt_name, subjectAltNames(hostNames)));
    if (X509_sign(cert.get(), key.get(), EVP_sha256()) <= 0)
        return makeError(Errc::Internal, "cannot sign the certificate");
    Bio certPem(BIO_new(BIO_s_mem()), &BIO_free);
    Bio keyPem(BIO_new(BIO_s_mem()), &BIO_free);
    if (!certPem || !keyPem || PEM_write_bio_X509(certPem.get(), cert.get()) != 1 ||
        PEM_write_bio_PrivateKey(keyPem.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1)
        return makeError(Errc::Internal, "cannot encode the certificate");
    return std::pair{bioString(certPem.get()), bioString(keyPem.get())};
}

}  // namespace

Result<TlsMaterial> ensureTlsMaterial(const ControllerConfig& config, const std::vector<std::string>& hostNames) {
    TlsMaterial m;
    std::error_code ec;
    if (!config.tlsCertificate.empty()) {
        m.certificate = config.tlsCertificate;
        m.privateKey = config.tlsPrivateKey;
    } else {
        const fs::path keys = config.dataDir / "keys";
        m.certificate = keys / kTlsCertFile;
        m.privateKey = keys / kTlsKeyFile;
        // The certificate is written last: without it the pair is (re)made, since
        // nothing can have pinned a key that was never served.
        if (!fs::exists(m.certificate, ec)) {
            auto made = makeSelfSigned(hostNames);
            if (!made) return made.error();
            MS_TRY(writeFile(m.privateKey, made->second, 0600));
            MS_TRY(writeFile(m.certificate, made->first, 0644));
        } else if (!fs::exists(m.privateKey, ec)) {
            return makeError(Errc::BadKey, m.certificate.string() + " exists without " + m.privateKey.string() +
                                               "; remove the certificate to make a new pair");
        }
        struct stat st {};
        if (::stat(m.privateKey.c_str(), &st) != 0) return makeError(Errc::Io, "cannot stat " + m.privateKey.string());
        if (st.st_mode & 077)
            return makeError(Errc::BadKey, m.privateKey.string() + " is readable by others; chmod 600 it");
    }
    auto pem = crypto::readSmallFile(m.certificate.string(), 1 << 20);
    if (!pem) return makeError(pem.code(), "cannot read " + m.certificate.string() + ": " + pem.error().message);
    auto pin = crypto::pinOfPem(*pem);
    if (!pin) return makeError(Errc::BadKey, m.certificate.string() + ": " + pin.error().message);
    m.publicKeyHash = *pin;
    return m;
}

Result<Poco::Net::ServerSocket> openHttpSocket(const ControllerConfig& config, const TlsMaterial* tls) {
    const std::string where = config.httpBind + ":" + std::to_string(config.httpPort);
    Poco::Net::Context::Ptr context;
    if (tls) {
        try {
            Poco::Net::Context::Params p;
            p.privateKeyFile = tls->privateKey.string();
            p.certificateFile = tls->certificate.string();
            p.verificationMode = Poco::Net::Context::VERIFY_NONE;  // no client certificates
            p.loadDefaultCAs = false;
            p.cipherList = kCipherList;
            context = new Poco::Net::Context(Poco::Net::Context::TLS_SERVER_USE, p);
            context->requireMinimumProtocol(Poco::Net::Context::PROTO_TLSV1_2);
            context->preferServerCiphers();
        } catch (const Poco::Exception& e) {
            return makeError(Errc::BadKey, "cannot load the TLS certificate " + tls->certificate.string() +
                                               " and key " + tls->privateKey.string() + ": " + e.displayText());
        }
    }
    try {
        const Poco::Net::SocketAddress address(config.httpBind, static_cast<Poco::UInt16>(config.httpPort));
        if (context) return Poco::Net::ServerSocket(Poco::Net::SecureServerSocket(address, 64, context));
        return Poco::Net::ServerSocket(address, 64);
    } catch (const Poco::Exception& e) {
        return makeError(Errc::Usage, "cannot listen on " + where + ": " + e.displayText());
    }
}

std::string publicHostOf(const ControllerConfig& config) {
    if (!config.publicUrl.empty()) {
        try {
            return Poco::URI(config.publicUrl).getHost();
        } catch (const Poco::Exception&) {
            return "localhost";  // loadConfig refuses such a URL
        }
    }
    if (!isWildcard(config.httpBind)) return config.httpBind;
    try {
        return Poco::Net::DNS::hostName();
    } catch (const Poco::Exception&) {
        return "localhost";
    }
}

std::string publicUrlOf(const ControllerConfig& config, std::uint16_t boundPort) {
    if (!config.publicUrl.empty()) {
        std::string u = config.publicUrl;
        while (!u.empty() && u.back() == '/') u.pop_back();
        return u;
    }
    std::string host = publicHostOf(config);
    if (host.find(':') != std::string::npos && host.front() != '[') host = "[" + host + "]";
    return std::string(config.tls ? "https://" : "http://") + host + ":" + std::to_string(boundPort);
}

std::string enrollCommand(const std::string& publicUrl, const std::string& token, const std::string& contentKeyHash,
                          const std::string& tlsKeyHash) {
    std::string cmd = "microscape-player enroll --controller-http " + publicUrl + " --token " + token +
                      " --content-key-hash " + contentKeyHash;
    if (!tlsKeyHash.empty())
        cmd += " --tls-key-hash " + tlsKeyHash;
    else if (publicUrl.rfind("http://", 0) == 0)
        cmd += " --insecure-http";
    return cmd + " --data-dir /var/lib/microscape/player";
}

}  // namespace microscape::controller
