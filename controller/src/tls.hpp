// HTTPS for the controller: the certificate (the operator's, or a self-signed
// EC P-256 one made at first start in keys/), the listening socket (Poco
// NetSSL_OpenSSL, TLS 1.2 or later, AEAD ciphers with forward secrecy only) and
// what pinned enrolment commands carry. Start-up only; not thread-safe.
#pragma once

#include <Poco/Net/ServerSocket.h>

#include <filesystem>
#include <string>
#include <vector>

#include "microscape/controller/config.hpp"
#include "microscape/core/result.hpp"

namespace microscape::controller {

constexpr const char* kTlsCertFile = "tls-cert.pem";  // self-signed certificate, 0644
constexpr const char* kTlsKeyFile = "tls-key.pem";    // its EC P-256 private key, 0600

struct TlsMaterial {
    std::filesystem::path certificate;  // PEM (leaf first)
    std::filesystem::path privateKey;   // PEM
    std::string publicKeyHash;          // sha256:<hex> of the leaf's SubjectPublicKeyInfo
};

// The operator's files (config.tlsCertificate/tlsPrivateKey) or keys/tls-cert.pem
// and keys/tls-key.pem, made when neither exists. `hostNames` go into a new
// certificate's subjectAltName beside localhost and 127.0.0.1 (IP literals as IP
// entries). Errors: Io, BadKey (a key readable by others, one file of the pair
// missing, unreadable PEM).
Result<TlsMaterial> ensureTlsMaterial(const ControllerConfig& config, const std::vector<std::string>& hostNames);

// The HTTP API's listening socket: a SecureServerSocket (TLS 1.2+) when tls is
// given, else a plain ServerSocket. Errors: Usage (address in use, bad bind
// address), BadKey (certificate and key do not load or do not match).
Result<Poco::Net::ServerSocket> openHttpSocket(const ControllerConfig& config, const TlsMaterial* tls);

// The host technicians and screens use: http.publicUrl's, else http.bind, else
// (a wildcard bind) this host's name.
std::string publicHostOf(const ControllerConfig& config);

// The URL technicians and screens use: config.publicUrl, else scheme (https
// unless tls is off) + http.bind (this host's name for a wildcard bind) + port.
std::string publicUrlOf(const ControllerConfig& config, std::uint16_t boundPort);

// The one line a technician pastes on a screen PC to enrol it (docs/guide-technician.md):
// microscape-player enroll --controller-http URL --token TOKEN
//   --content-key-hash PIN [--tls-key-hash PIN | --insecure-http] --data-dir DIR
std::string enrollCommand(const std::string& publicUrl, const std::string& token, const std::string& contentKeyHash,
                          const std::string& tlsKeyHash);

}  // namespace microscape::controller
