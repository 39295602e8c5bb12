// What the tests of the player's sync side share (cache, activation, import,
// agent): a player configuration in a directory, and signed bundles of fake
// media addressed to the test player.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "microscape/player/config.hpp"
#include "support/bundle_builder.hpp"
#include "support/temp_dir.hpp"

namespace microscape::testing {

namespace fs = std::filesystem;
using player::PlayerConfig;

inline const std::string kPlayer = "scr-test0001";

inline PlayerConfig makeConfig(const fs::path& dir, const std::string& endpoint, std::uint64_t quota = 0) {
    PlayerConfig c;
    c.dataDir = dir;
    c.playerId = kPlayer;
    c.endpoint = endpoint;
    c.curve = false;
    c.window = 4;
    c.chunkBytes = 4096;
    c.quotaBytes = quota;
    c.reserveBytes = 0;
    c.contentKeys.push_back(testing::testKey(1).publicKey());
    fs::create_directories(dir);
    return c;
}

inline testing::Bundle bundleV(std::int64_t version, std::vector<testing::MediaItem> media,
                               const std::string& target = kPlayer, int key = 1) {
    return testing::makeBundle(testing::testKey(key), std::move(media), [&](manifest::Manifest& m) {
        m.version = version;
        m.target = target;
        m.bundleId = "b-" + std::to_string(version);
    });
}

inline std::vector<testing::MediaItem> mediaSet(std::uint32_t seed, int n = 3, std::size_t size = 20000) {
    std::vector<testing::MediaItem> out;
    for (int i = 0; i < n; ++i)
        out.push_back(testing::makeMedia(
            testing::fakePng(size + static_cast<std::size_t>(i) * 777, seed + static_cast<std::uint32_t>(i)),
            "m" + std::to_string(i), "m" + std::to_string(i) + ".png"));
    return out;
}

// A scripted hub: a plain ROUTER that answers HELLO, FETCH and can be told to

}  // namespace microscape::testing
