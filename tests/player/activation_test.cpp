// The player's bundle store: manifest verification and atomic activation.
#include <catch2/catch.hpp>
#include <fstream>

#include "microscape/player/cache.hpp"
#include "microscape/player/sync.hpp"
#include "sync_fixture.hpp"

using namespace microscape;
using namespace microscape::player;
using namespace microscape::testing;
namespace fs = std::filesystem;

TEST_CASE("activation needs every media file and never rolls back", "[player][activation]") {
    TempDir t;
    Cache cache(t.path);
    BundleStore store(t.path, {testKey(1).publicKey()}, kPlayer);
    auto b = bundleV(5, mediaSet(1));
    SignedManifest sm{b.manifest, b.manifestBytes, b.signature};
    CHECK(store.activate(sm, cache).code() == Errc::MissingMedia);
    CHECK(store.activeVersion() == 0);
    for (const auto& m : b.media) {
        REQUIRE(cache.append(m.entry.sha256, 0, m.bytes.data(), m.bytes.size()).ok());
        REQUIRE(cache.finish(m.entry.sha256, m.bytes.size()).ok());
    }
    REQUIRE(store.activate(sm, cache).ok());
    CHECK(store.activeVersion() == 5);
    CHECK(fs::is_symlink(t.path / "active"));
    CHECK(store.activate(sm, cache).code() == Errc::Rollback);
    auto older = bundleV(4, {});
    CHECK(store.activate({older.manifest, older.manifestBytes, older.signature}, cache).code() == Errc::Rollback);
    SECTION("a damaged active bundle is reported, not trusted") {
        std::ofstream(t.path / "active" / "manifest.sig") << "garbage";
        CHECK_FALSE(store.active().ok());
    }
    SECTION("staged manifests persist") {
        auto next = bundleV(6, mediaSet(9));
        REQUIRE(store.stage({next.manifest, next.manifestBytes, next.signature}).ok());
        BundleStore again(t.path, {testKey(1).publicKey()}, kPlayer);
        auto s = again.staged();
        REQUIRE(s);
        CHECK(s->manifest.version == 6);
        CHECK(again.referencedMedia().size() == 6);
    }
}

TEST_CASE("verifyManifest refuses bad signatures, rollbacks, expiry and other players' manifests", "[player][sync]") {
    const std::vector<crypto::PublicKey> keys{testKey(1).publicKey()};
    auto good = bundleV(7, {});
    CHECK(verifyManifest(good.manifestBytes, good.signature, keys, 1, nowMs(), kPlayer).ok());
    auto foreign = bundleV(7, {}, kPlayer, 2);
    CHECK(verifyManifest(foreign.manifestBytes, foreign.signature, keys, 1, nowMs(), kPlayer).code() ==
          Errc::UnknownSigner);
    std::string sig = good.signature;
    sig[3] ^= 1;
    CHECK(verifyManifest(good.manifestBytes, sig, keys, 1, nowMs(), kPlayer).code() == Errc::BadSignature);
    CHECK(verifyManifest(good.manifestBytes, good.signature, keys, 8, nowMs(), kPlayer).code() == Errc::Rollback);
    CHECK(verifyManifest(good.manifestBytes, good.signature, keys, 1, expiresMs(), kPlayer).code() == Errc::Expired);
    auto other = bundleV(7, {}, "scr-someoneelse");
    CHECK(verifyManifest(other.manifestBytes, other.signature, keys, 1, nowMs(), kPlayer).code() == Errc::BadManifest);
    auto group = bundleV(7, {}, "group:garages");
    CHECK(verifyManifest(group.manifestBytes, group.signature, keys, 1, nowMs(), kPlayer).ok());
}
