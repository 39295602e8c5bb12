// The bulk channel's sealed chunks (docs/wire-protocol.md, "The bulk channel"):
// AES-256-GCM under the session key, nonce from direction and counter, the
// CHUNK header authenticated; every change to key, nonce, header or bytes, and
// every replay, is refused.
#include <catch2/catch.hpp>

#include "microscape/core/crypto.hpp"
#include "microscape/core/sealed.hpp"

using namespace microscape;
using namespace microscape::wire;

namespace {

const std::string kSha = crypto::sha256Hex("poster");

// A sealed CHUNK of `plain` at offset within a file of total bytes, as the hub sends it.
struct Sealed {
    std::string header;
    std::string data;
};
Sealed sealChunk(const std::string& key, const std::string& plain, std::uint64_t offset, std::uint64_t total,
                 std::uint64_t seq) {
    Sealed s{sealed::chunkHeader(kSha, offset, total, seq), std::string(plain.size() + sealed::kTagBytes, '\0')};
    REQUIRE(
        sealed::seal(key, sealed::Direction::HubToPlayer, seq, s.header, plain.data(), plain.size(), s.data.data()));
    return s;
}

}  // namespace

TEST_CASE("sealed chunks: a sealed CHUNK opens in place to its bytes, once", "[wire][sealed]") {
    auto session = sealed::newSession().value();
    REQUIRE(session.key.size() == 32);
    REQUIRE(session.token.size() == 32);
    CHECK(session.key != sealed::newSession().value().key);
    const std::string plain = "反诈防骗 poster bytes " + std::string(100000, 'x');
    auto s = sealChunk(session.key, plain, 1000, 200000, 1);
    CHECK(s.data.substr(0, plain.size()) != plain);  // encrypted
    std::uint64_t last = 0;
    auto c = sealed::openChunk(session.key, "CHUNK", s.header, s.data.data(), s.data.size(), last);
    REQUIRE(c.ok());
    CHECK(c->sha256 == kSha);
    CHECK(c->offset == 1000);
    CHECK(c->totalBytes == 200000);
    CHECK(std::string(c->data) == plain);
    CHECK(last == 1);

    SECTION("the same frame again is a replay") {
        auto again = sealChunk(session.key, plain, 1000, 200000, 1);
        auto r = sealed::openChunk(session.key, "CHUNK", again.header, again.data.data(), again.data.size(), last);
        REQUIRE(!r.ok());
        CHECK(r.error().code == Errc::Usage);
        CHECK(last == 1);
    }
    SECTION("a later seq opens") {
        auto next = sealChunk(session.key, "tail", 199996, 200000, 7);
        auto r = sealed::openChunk(session.key, "CHUNK", next.header, next.data.data(), next.data.size(), last);
        REQUIRE(r.ok());
        CHECK(std::string(r->data) == "tail");
        CHECK(last == 7);
    }
}

TEST_CASE("sealed chunks: another key, header, byte or direction is refused", "[wire][sealed]") {
    auto session = sealed::newSession().value();
    const std::string plain(4096, 'p');
    std::uint64_t last = 0;
    SECTION("another session's key") {
        auto s = sealChunk(session.key, plain, 0, 4096, 1);
        auto other = sealed::newSession().value();
        auto r = sealed::openChunk(other.key, "CHUNK", s.header, s.data.data(), s.data.size(), last);
        REQUIRE(!r.ok());
        CHECK(r.error().code == Errc::BadSignature);
    }
    SECTION("the header moved to another offset (same length)") {
        auto s = sealChunk(session.key, plain, 1000, 8192, 1);
        const std::string moved = sealed::chunkHeader(kSha, 2000, 8192, 1);
        REQUIRE(moved.size() == s.header.size());
        auto r = sealed::openChunk(session.key, "CHUNK", moved, s.data.data(), s.data.size(), last);
        REQUIRE(!r.ok());
        CHECK(r.error().code == Errc::BadSignature);
    }
    SECTION("the header claims another seq than the frame was sealed with") {
        auto s = sealChunk(session.key, plain, 0, 4096, 1);
        const std::string other = sealed::chunkHeader(kSha, 0, 4096, 2);
        auto r = sealed::openChunk(session.key, "CHUNK", other, s.data.data(), s.data.size(), last);
        REQUIRE(!r.ok());
        CHECK(r.error().code == Errc::BadSignature);
    }
    SECTION("one flipped bit of the data or the tag") {
        for (std::size_t at : {std::size_t{0}, std::size_t{2000}, plain.size() + 3}) {
            auto s = sealChunk(session.key, plain, 0, 4096, 1);
            s.data[at] = static_cast<char>(s.data[at] ^ 0x01);
            auto r = sealed::openChunk(session.key, "CHUNK", s.header, s.data.data(), s.data.size(), last);
            REQUIRE(!r.ok());
            CHECK(r.error().code == Errc::BadSignature);
        }
    }
    SECTION("sealed by the player's direction") {
        Sealed s{sealed::chunkHeader(kSha, 0, 4096, 1), std::string(plain.size() + sealed::kTagBytes, '\0')};
        REQUIRE(sealed::seal(session.key, sealed::Direction::PlayerToHub, 1, s.header, plain.data(), plain.size(),
                             s.data.data()));
        auto r = sealed::openChunk(session.key, "CHUNK", s.header, s.data.data(), s.data.size(), last);
        REQUIRE(!r.ok());
        CHECK(r.error().code == Errc::BadSignature);
    }
    SECTION("frames that are not a sealed CHUNK") {
        std::string tiny(8, 'x');
        CHECK(sealed::openChunk(session.key, "CHUNK", "{}", tiny.data(), tiny.size(), last).error().code ==
              Errc::BadManifest);
        auto s = sealChunk(session.key, plain, 0, 4096, 1);
        CHECK(!sealed::openChunk(session.key, "MANIFEST", s.header, s.data.data(), s.data.size(), last).ok());
        const std::string noSeq = R"({"offset":0,"sha256":")" + kSha + R"(","total":4096})";
        CHECK(!sealed::openChunk(session.key, "CHUNK", noSeq, s.data.data(), s.data.size(), last).ok());
        // Authentic, but the data runs past the end of the file its header names.
        auto past = sealChunk(session.key, plain, 1, 4096, 2);
        CHECK(!sealed::openChunk(session.key, "CHUNK", past.header, past.data.data(), past.data.size(), last).ok());
    }
    CHECK(last == 0);
}

TEST_CASE("sealed chunks: READY proves the session key and names its token", "[wire][sealed]") {
    auto session = sealed::newSession().value();
    const std::string tag = sealed::readyTag(session.key, session.token);
    REQUIRE(tag.size() == sealed::kTagBytes);
    CHECK(sealed::readyValid(session.key, session.token, tag));
    CHECK(!sealed::readyValid(session.key, sealed::newSession().value().token, tag));
    CHECK(!sealed::readyValid(sealed::newSession().value().key, session.token, tag));
    CHECK(!sealed::readyValid(session.key, session.token, std::string(16, '\0')));
    CHECK(!sealed::readyValid(session.key, session.token, tag.substr(0, 15)));
}

TEST_CASE("sealed chunks: WELCOME carries the bulk channel and FETCH asks for it", "[wire][sealed]") {
    auto session = sealed::newSession().value();
    Welcome w;
    w.timeMs = 1;
    w.bulkPort = 5561;
    w.bulkToken = session.token;
    w.bulkKey = session.key;
    auto frames = encode(toEnvelope(w));
    auto back = parseWelcome(decode(std::vector<std::string_view>(frames.begin(), frames.end())).value());
    REQUIRE(back.ok());
    CHECK(back->bulkPort == 5561);
    CHECK(back->bulkToken == session.token);
    CHECK(back->bulkKey == session.key);

    Welcome none;  // no bulk channel: no fields at all
    auto e = toEnvelope(none);
    CHECK(e.header.count("bulk_port") == 0);
    CHECK(parseWelcome(e).value().bulkPort == 0);

    auto bad = toEnvelope(w);
    bad.header["bulk_key"] = std::string(62, 'a');
    CHECK(!parseWelcome(bad).ok());
    bad = toEnvelope(w);
    bad.header["bulk_token"] = std::string(32, 'A');
    CHECK(!parseWelcome(bad).ok());

    Fetch f{crypto::sha256Hex("x"), 0, 1024, true};
    CHECK(parseFetch(toEnvelope(f)).value().bulk);
    f.bulk = false;
    CHECK(toEnvelope(f).header.count("bulk") == 0);
    CHECK(!parseFetch(toEnvelope(f)).value().bulk);
}
