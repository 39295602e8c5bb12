// Test media generated at test time: a poster with Chinese text (ImageMagick +
// Noto CJK) and a short H.264 clip (ffmpeg), in a temporary directory that is
// removed when the fixture goes away.
#pragma once

#include <filesystem>
#include <fstream>
#include <string>

#include "microscape/core/crypto.hpp"
#include "support/process.hpp"

namespace microscape::testing {

class TempDir {
public:
    TempDir() {
        path_ = std::filesystem::temp_directory_path() /
                ("microscape-test-" + crypto::toHex(*crypto::randomBytes(8)));
        std::filesystem::create_directories(path_);
    }
    ~TempDir() {
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    std::string operator/(const std::string& name) const { return (path_ / name).string(); }
    const std::filesystem::path& path() const { return path_; }

private:
    std::filesystem::path path_;
};

inline std::string readFile(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

inline void writeFile(const std::string& path, const std::string& data) {
    std::ofstream(path, std::ios::binary) << data;
}

// Makes a PNG poster with the given Chinese text. Returns false if ImageMagick failed.
inline bool makePoster(const std::string& path, const std::string& text, const std::string& colour = "#1a3d7c") {
    return runProcess({"/usr/bin/convert", "-size", "640x360", "xc:" + colour, "-font",
                       "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", "-pointsize", "64", "-fill",
                       "white", "-gravity", "center", "-annotate", "0", text, "-depth", "8", path})
               .exitCode == 0;
}

// Makes an H.264 MP4 test pattern of the given length.
inline bool makeClip(const std::string& path, int seconds = 2, const std::string& size = "320x240") {
    return runProcess({"/usr/bin/ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
                       "testsrc=size=" + size + ":rate=25", "-t", std::to_string(seconds), "-f", "mp4", "-c:v", "libx264",
                       "-pix_fmt", "yuv420p", path})
               .exitCode == 0;
}

}  // namespace microscape::testing
