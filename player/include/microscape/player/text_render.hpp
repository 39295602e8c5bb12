// On-screen text for the player: UTF-8 decoding, one font found through
// fontconfig (a CJK-capable sans, "Noto Sans CJK SC" when installed) rendered
// with FreeType, and alpha blending into BGRX frames (slogans, status cards).
// Threads: a TextRenderer is used by one thread at a time (FreeType faces are
// not thread-safe); the free functions are pure and thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "microscape/core/result.hpp"
#include "microscape/player/engine_frame.hpp"

namespace microscape::player {

struct Rgb {
    std::uint8_t r = 0, g = 0, b = 0;
    bool operator==(const Rgb&) const = default;
};

// "#RRGGBB" (either case). Errors: BadMedia.
Result<Rgb> parseColour(std::string_view text);

// Code points of a UTF-8 string; every ill-formed sequence (bad lead or
// continuation byte, overlong form, surrogate, beyond U+10FFFF, truncated) becomes
// one U+FFFD. Never fails.
std::u32string decodeUtf8(std::string_view text);

// Fills a rectangle (clipped to the frame).
void fillRect(Frame& f, int x, int y, int w, int h, Rgb colour);
Frame filledFrame(int width, int height, Rgb colour);

// A line of text laid out at one pixel size (left to right, no shaping beyond
// the font's advances and kerning).
struct TextLayout {
    struct Glyph {
        std::uint32_t index = 0;  // the font's glyph index (0: missing, drawn as the font's box)
        int x = 0;                // pen position from the line's left edge, pixels
    };
    std::vector<Glyph> glyphs;
    int pixelSize = 0;
    int width = 0;    // advance of the whole line, pixels
    int ascent = 0;   // above the baseline, pixels (the font's, not this text's)
    int descent = 0;  // below the baseline, pixels
    int missing = 0;  // characters the font has no glyph for

    int height() const { return ascent + descent; }
};

class TextRenderer {
  public:
    static constexpr const char* kPreferredFamily = "Noto Sans CJK SC";

    // Asks fontconfig for `family` (falling back to its best sans match when the
    // family is not installed). Errors: NotFound (no usable font at all),
    // Internal (FreeType or fontconfig failed).
    static Result<std::unique_ptr<TextRenderer>> create(const std::string& family = kPreferredFamily);
    // Opens one face of a font file. Errors: NotFound, Internal.
    static Result<std::unique_ptr<TextRenderer>> fromFile(const std::string& path, int faceIndex = 0);
    ~TextRenderer();
    TextRenderer(const TextRenderer&) = delete;
    TextRenderer& operator=(const TextRenderer&) = delete;

    const std::string& fontPath() const { return path_; }
    int faceIndex() const { return faceIndex_; }
    std::string familyName() const;
    // True when the font has a glyph for the code point.
    bool hasGlyph(char32_t cp) const;

    // pixelSize is clamped to 4..2000.
    TextLayout layout(std::u32string_view text, int pixelSize);
    TextLayout layout(std::string_view utf8, int pixelSize) { return layout(decodeUtf8(utf8), pixelSize); }
    // Draws the line with its left edge at x and its baseline at baselineY,
    // alpha-blended in `colour`, clipped to the frame; glyphs wholly outside the
    // frame cost nothing.
    void draw(Frame& f, const TextLayout& line, int x, int baselineY, Rgb colour);

    // Largest pixel size (at most maxPixelSize, at least minPixelSize) at which
    // the text is no wider than maxWidth and no taller than maxHeight.
    int fitSize(std::u32string_view text, int maxPixelSize, int maxWidth, int maxHeight, int minPixelSize = 8);

  private:
    struct Glyph {
        int left = 0, top = 0, width = 0, rows = 0;
        std::vector<std::uint8_t> alpha;  // width * rows coverage
    };
    struct Impl;
    explicit TextRenderer(std::unique_ptr<Impl> impl, std::string path, int faceIndex);
    bool setSize(int pixelSize);
    const Glyph* glyph(std::uint32_t index, int pixelSize);

    std::unique_ptr<Impl> impl_;
    std::string path_;
    int faceIndex_ = 0;
    int currentSize_ = 0;
    std::map<std::pair<int, std::uint32_t>, Glyph> cache_;  // (pixel size, glyph index)
    std::size_t cacheBytes_ = 0;
};

}  // namespace microscape::player
