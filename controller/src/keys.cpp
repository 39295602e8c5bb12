#include "keys.hpp"

#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <memory>
#include <sstream>

namespace microscape::controller {

namespace fs = std::filesystem;

namespace {

using PKey = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;
using Bio = std::unique_ptr<BIO, decltype(&BIO_free)>;

std::string bioString(BIO* b) {
    char* data = nullptr;
    long n = BIO_get_mem_data(b, &data);
    return std::string(data, static_cast<std::size_t>(n));
}

Status writeFile(const fs::path& p, const std::string& bytes, mode_t mode) {
    fs::path tmp = p;
    tmp += ".tmp";
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0) return makeError(Errc::Io, "cannot create " + tmp.string());
    ::fchmod(fd, mode);
    bool ok = ::write(fd, bytes.data(), bytes.size()) == static_cast<ssize_t>(bytes.size()) && ::fsync(fd) == 0;
    ::close(fd);
    if (!ok || ::rename(tmp.c_str(), p.c_str()) != 0) return makeError(Errc::Io, "cannot write " + p.string());
    return {};
}

std::string publicPemOf(EVP_PKEY* key) {
    Bio b(BIO_new(BIO_s_mem()), &BIO_free);
    PEM_write_bio_PUBKEY(b.get(), key);
    return bioString(b.get());
}

}  // namespace

bool isEd25519PublicPem(const std::string& pem) {
    if (pem.size() > 4096) return false;
    Bio b(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), &BIO_free);
    PKey key(PEM_read_bio_PUBKEY(b.get(), nullptr, nullptr, nullptr), &EVP_PKEY_free);
    return key && EVP_PKEY_get_base_id(key.get()) == EVP_PKEY_ED25519;
}

Result<std::string> ensureSigningKey(const fs::path& keysDir) {
    const fs::path priv = keysDir / kSigningKeyFile;
    const fs::path pub = keysDir / kSigningPubFile;
    std::error_code ec;
    if (fs::exists(priv, ec)) {
        struct stat st {};
        if (::stat(priv.c_str(), &st) != 0) return makeError(Errc::Io, "cannot stat " + priv.string());
        if (st.st_mode & 077) return makeError(Errc::BadKey, priv.string() + " is readable by others; chmod 600 it");
        std::ifstream in(priv);
        std::stringstream ss;
        ss << in.rdbuf();
        std::string pem = ss.str();
        Bio b(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), &BIO_free);
        PKey key(PEM_read_bio_PrivateKey(b.get(), nullptr, nullptr, nullptr), &EVP_PKEY_free);
        if (!key || EVP_PKEY_get_base_id(key.get()) != EVP_PKEY_ED25519)
            return makeError(Errc::BadKey, priv.string() + " is not an Ed25519 private key");
        std::string pubPem = publicPemOf(key.get());
        if (!fs::exists(pub, ec)) MS_TRY(writeFile(pub, pubPem, 0644));
        return pubPem;
    }
    std::unique_ptr<EVP_PKEY_CTX, decltype(&EVP_PKEY_CTX_free)> ctx(EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, nullptr),
                                                                    &EVP_PKEY_CTX_free);
    EVP_PKEY* raw = nullptr;
    if (!ctx || EVP_PKEY_keygen_init(ctx.get()) != 1 || EVP_PKEY_keygen(ctx.get(), &raw) != 1)
        return makeError(Errc::Internal, "Ed25519 key generation failed");
    PKey key(raw, &EVP_PKEY_free);
    Bio b(BIO_new(BIO_s_mem()), &BIO_free);
    if (PEM_write_bio_PrivateKey(b.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1)
        return makeError(Errc::Internal, "cannot encode the signing key");
    MS_TRY(writeFile(priv, bioString(b.get()), 0600));
    std::string pubPem = publicPemOf(key.get());
    MS_TRY(writeFile(pub, pubPem, 0644));
    return pubPem;
}

}  // namespace microscape::controller
