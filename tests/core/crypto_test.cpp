#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <filesystem>
#include <fstream>

#include "microscape/core/crypto.hpp"

using namespace microscape;
using namespace microscape::crypto;
namespace fs = std::filesystem;

namespace {
fs::path tempDir() {
    auto dir = fs::temp_directory_path() / ("ms-crypto-" + toHex(*randomBytes(6)));
    fs::create_directories(dir);
    return dir;
}
}  // namespace

TEST_CASE("SHA-256 matches the known vectors", "[crypto]") {
    CHECK(sha256Hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    CHECK(sha256Hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    CHECK(sha256Hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq") ==
          "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    SECTION("streaming in odd pieces gives the same digest") {
        std::string million(1000000, 'a');
        Sha256 h;
        for (std::size_t off = 0; off < million.size(); off += 7919)
            h.update(std::string_view(million).substr(off, 7919));
        CHECK(toHex(h.finish()) == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
    }
}

TEST_CASE("sha256File streams a file", "[crypto]") {
    auto dir = tempDir();
    std::ofstream(dir / "f") << "abc";
    auto d = sha256File((dir / "f").string());
    REQUIRE(d.ok());
    CHECK(toHex(*d) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    CHECK(sha256File((dir / "missing").string()).code() == Errc::Io);
    fs::remove_all(dir);
}

TEST_CASE("hex and base64 are strict", "[crypto]") {
    CHECK(*fromHex("00ff10") == std::string("\x00\xff\x10", 3));
    CHECK_FALSE(fromHex("0").ok());
    CHECK_FALSE(fromHex("AB").ok());
    CHECK(isSha256Hex(std::string(64, 'a')));
    CHECK_FALSE(isSha256Hex(std::string(64, 'A')));
    CHECK_FALSE(isSha256Hex(std::string(63, 'a')));
    CHECK(base64Encode("hello") == "aGVsbG8=");
    CHECK(*base64Decode("aGVsbG8=") == "hello");
    CHECK(*base64Decode("") == "");
    CHECK_FALSE(base64Decode("aGVsbG8").ok());
    CHECK_FALSE(base64Decode("aGVs bG8=").ok());
}

TEST_CASE("Ed25519 keys sign, verify, and survive PEM round trips", "[crypto]") {
    auto key = PrivateKey::generate();
    REQUIRE(key.ok());
    auto pub = key->publicKey();
    std::string msg = "manifest bytes 反诈防骗";
    auto sig = key->sign(msg);
    CHECK(sig.size() == 64);
    CHECK(pub.verify(msg, sig));
    CHECK(pub.id() == sha256Hex(pub.raw()));

    SECTION("any change breaks the signature") {
        std::string other = msg;
        other[0] ^= 1;
        CHECK_FALSE(pub.verify(other, sig));
        std::string badSig = sig;
        badSig[10] ^= 0x40;
        CHECK_FALSE(pub.verify(msg, badSig));
        CHECK_FALSE(pub.verify(msg, sig.substr(0, 63)));
    }
    SECTION("another key does not verify") {
        auto other = PrivateKey::generate();
        CHECK_FALSE(other->publicKey().verify(msg, sig));
        CHECK(other->publicKey().id() != pub.id());
    }
    SECTION("PEM forms") {
        auto pem = key->toPem();
        CHECK(pem.find("BEGIN PRIVATE KEY") != std::string::npos);
        auto again = PrivateKey::fromPem(pem);
        REQUIRE(again.ok());
        CHECK(again->publicKey().id() == pub.id());
        auto pubPem = pub.toPem();
        CHECK(pubPem.find("BEGIN PUBLIC KEY") != std::string::npos);
        auto pub2 = PublicKey::fromPem(pubPem);
        REQUIRE(pub2.ok());
        CHECK(pub2->verify(msg, sig));
        CHECK(PublicKey::fromPem("garbage").code() == Errc::BadKey);
        CHECK(PrivateKey::fromPem(pubPem).code() == Errc::BadKey);
    }
    SECTION("save uses mode 0600 for private keys and refuses to overwrite") {
        auto dir = tempDir();
        auto path = (dir / "signing.key").string();
        REQUIRE(key->save(path).ok());
        struct stat st {};
        REQUIRE(::stat(path.c_str(), &st) == 0);
        CHECK((st.st_mode & 0777) == 0600);
        CHECK(key->save(path).code() == Errc::Exists);
        auto loaded = PrivateKey::load(path);
        REQUIRE(loaded.ok());
        CHECK(loaded->publicKey().id() == pub.id());
        fs::remove_all(dir);
    }
}

TEST_CASE("a non-Ed25519 key is refused", "[crypto]") {
    // An RSA public key (PEM) must not be accepted as a signing key.
    const char* rsaPub =
        "-----BEGIN PUBLIC KEY-----\n"
        "MFwwDQYJKoZIhvcNAQEBBQADSwAwSAJBAMPgkMvbuvjbQf9aa3kHoZ0Lz5PcprEE\n"
        "b6I0cxtCH0pdrKiSZQGH8pn0ITaUGPyjutFjEs9BGN69LtczlpNjGZsCAwEAAQ==\n"
        "-----END PUBLIC KEY-----\n";
    auto r = PublicKey::fromPem(rsaPub);
    CHECK_FALSE(r.ok());
}
