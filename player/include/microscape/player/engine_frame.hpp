// Output frames of the headless engine (RV32: bytes B, G, R, X per pixel) and
// what is done with them: PNG previews, black detection, downscaled
// comparisons, digests. Plain values and pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "microscape/core/result.hpp"
#include "microscape/core/schedule.hpp"

namespace microscape::player {

struct Frame {
    int width = 0;
    int height = 0;
    std::vector<std::uint8_t> bgrx;  // width * height * 4, rows packed

    bool empty() const { return bgrx.empty(); }
};

// True when every sampled pixel (a grid of about 64 x 36) has all channels
// below `threshold`: a screen showing nothing.
bool isBlack(const std::uint8_t* bgrx, int width, int height, int threshold = 16);
// True when no pixel at all has a channel at or above `threshold` (every pixel,
// not a grid: small text on a black background is not black).
bool isBlackEverywhere(const std::uint8_t* bgrx, int width, int height, int threshold = 16);
// Mean luma (0..255) over the same sample grid.
double meanLuma(const std::uint8_t* bgrx, int width, int height);

// Box-filtered RGB thumbnail, w * h * 3 bytes.
std::vector<std::uint8_t> downscaleRgb(const Frame& f, int w, int h);

// Hex SHA-256 of the frame's pixel bytes (the rendered-frame digest of a play).
std::string frameDigest(const Frame& f);

// PNG (8-bit RGB) bytes of the frame.
std::string encodePng(const Frame& f);
// Writes the PNG atomically (temporary file, then rename). Errors: Io.
Status writePngFile(const Frame& f, const std::string& path);

// Fills a frame with one colour.
Frame solidFrame(int width, int height, std::uint8_t r, std::uint8_t g, std::uint8_t b);

// Decode size and placement of a picture of srcW x srcH fitted into outW x outH.
struct FitRect {
    int decodeW = 0, decodeH = 0;  // what libvlc scales to
    int dstX = 0, dstY = 0;        // where its visible part lands (letterbox)
    int srcX = 0, srcY = 0;        // where the visible part starts in it (fill: crop)
    int copyW = 0, copyH = 0;
};
FitRect fitPicture(int srcW, int srcH, unsigned sarNum, unsigned sarDen, int outW, int outH, schedule::Fit fit);

}  // namespace microscape::player
