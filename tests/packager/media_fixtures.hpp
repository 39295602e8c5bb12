// Test media generated at test time: a poster with Chinese text (ImageMagick +
// Noto CJK) and a short H.264 clip (ffmpeg), in a temporary directory that is
// removed when the fixture goes away.
#pragma once

#include <filesystem>
#include <fstream>
#include <string>

#include "microscape/core/crypto.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"

namespace microscape::testing {

inline void writeFile(const std::string& path, const std::string& data) {
    std::ofstream(path, std::ios::binary) << data;
}

// Makes a PNG poster with the given Chinese text. Returns false if ImageMagick failed.
inline bool makePoster(const std::string& path, const std::string& text, const std::string& colour = "#1a3d7c") {
    return runProcess({"/usr/bin/convert", "-size", "640x360", "xc:" + colour, "-font",
                       "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", "-pointsize", "64", "-fill", "white",
                       "-gravity", "center", "-annotate", "0", text, "-depth", "8", path})
               .exitCode == 0;
}

// Makes an H.264 MP4 test pattern of the given length.
inline bool makeClip(const std::string& path, int seconds = 2, const std::string& size = "320x240") {
    return runProcess({"/usr/bin/ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
                       "testsrc=size=" + size + ":rate=25", "-t", std::to_string(seconds), "-f", "mp4", "-c:v",
                       "libx264", "-pix_fmt", "yuv420p", path})
               .exitCode == 0;
}

}  // namespace microscape::testing
