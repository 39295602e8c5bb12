// The player's media cache: partial files appended in order, finished only when they hash to their name.
#include <catch2/catch.hpp>
#include <fstream>

#include "microscape/player/cache.hpp"
#include "microscape/player/sync.hpp"
#include "sync_fixture.hpp"

using namespace microscape;
using namespace microscape::player;
using namespace microscape::testing;
namespace fs = std::filesystem;

TEST_CASE("cache appends only at the partial size and admits only files that hash to their name", "[player][cache]") {
    TempDir t;
    Cache cache(t.path);
    const std::string data = fillerBytes(10000, 3);
    const std::string sha = crypto::sha256Hex(data);
    REQUIRE(cache.append(sha, 0, data.data(), 4000).ok());
    CHECK(cache.append(sha, 0, data.data(), 10).code() == Errc::Usage);
    CHECK(cache.partialSize(sha) == 4000);
    REQUIRE(cache.append(sha, 4000, data.data() + 4000, 6000).ok());
    REQUIRE(cache.finish(sha, data.size()).ok());
    CHECK(cache.has(sha));
    CHECK(cache.partialSize(sha) == 0);

    SECTION("a file with wrong bytes is discarded") {
        std::string bad = data;
        bad[5] ^= 1;
        const std::string sha2 = crypto::sha256Hex(data + "x");
        REQUIRE(cache.append(sha2, 0, bad.data(), bad.size()).ok());
        REQUIRE(cache.append(sha2, bad.size(), "y", 1).ok());
        CHECK(cache.finish(sha2, bad.size() + 1).code() == Errc::HashMismatch);
        CHECK_FALSE(cache.has(sha2));
        CHECK(cache.partialSize(sha2) == 0);
    }
    SECTION("GC keeps what is referenced") {
        const std::string other = crypto::sha256Hex("other");
        REQUIRE(cache.append(other, 0, "other", 5).ok());
        auto r = cache.gc({sha}, {});
        CHECK(r.partialsRemoved == 1);
        CHECK(cache.has(sha));
        r = cache.gc({}, {});
        CHECK(r.blobsRemoved == 1);
        CHECK_FALSE(cache.has(sha));
    }
    SECTION("a quota refuses writes past it") {
        Cache small(t.path, 12000);
        const std::string sha3 = crypto::sha256Hex("q");
        CHECK(small.append(sha3, 0, data.data(), 5000).code() == Errc::TooLarge);
    }
}
