// Importing a bundle file (USB delivery) into the bundle store and cache.
#include <catch2/catch.hpp>
#include <fstream>

#include "microscape/player/cache.hpp"
#include "microscape/player/sync.hpp"
#include "sync_fixture.hpp"

using namespace microscape;
using namespace microscape::player;
using namespace microscape::testing;
namespace fs = std::filesystem;

TEST_CASE("import applies a bundle tar with the same checks and leaves nothing behind on refusal", "[player][import]") {
    TempDir t;
    Cache cache(t.path);
    BundleStore store(t.path, {testKey(1).publicKey()}, kPlayer);
    auto b = bundleV(3, mediaSet(20));
    const fs::path tarPath = t.path / "usb.tar";
    auto writeTar = [&](const std::string& bytes) { std::ofstream(tarPath, std::ios::binary) << bytes; };

    SECTION("a good bundle activates") {
        writeTar(b.tar());
        auto r = importBundle(tarPath, store, cache, nowMs());
        REQUIRE(r.ok());
        CHECK(r->version == 3);
        CHECK(r->mediaCopied == 3);
        CHECK(store.activeVersion() == 3);
        SECTION("the same bundle again is a rollback") {
            CHECK(importBundle(tarPath, store, cache, nowMs()).code() == Errc::Rollback);
        }
    }
    SECTION("a tampered media file is refused and nothing enters the cache") {
        auto bad = b;
        bad.media[1].bytes[100] ^= 1;
        writeTar(bad.tar());
        CHECK(importBundle(tarPath, store, cache, nowMs()).code() == Errc::HashMismatch);
        CHECK(store.activeVersion() == 0);
        for (const auto& m : b.media) CHECK_FALSE(cache.has(m.entry.sha256));
        CHECK_FALSE(fs::exists(t.path / "import-tmp"));
    }
    SECTION("a bundle signed by another key is refused") {
        writeTar(bundleV(3, mediaSet(20), kPlayer, 2).tar());
        CHECK(importBundle(tarPath, store, cache, nowMs()).code() == Errc::UnknownSigner);
    }
    SECTION("another screen's bundle is refused") {
        writeTar(bundleV(3, mediaSet(20), "scr-other").tar());
        CHECK(importBundle(tarPath, store, cache, nowMs()).code() == Errc::BadManifest);
        CHECK(store.activeVersion() == 0);
    }
    SECTION("an expired bundle is refused") {
        writeTar(b.tar());
        CHECK(importBundle(tarPath, store, cache, expiresMs() + 1).code() == Errc::Expired);
    }
}
