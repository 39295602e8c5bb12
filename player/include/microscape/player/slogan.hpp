// Text slogans (media of kind text, docs/bundle-format.md "Slogans"): the
// document's strict parser, and the banner that shows one on the screen, static
// and centred or scrolling right to left (docs/player-screen.md).
// Threads: parseSlogan is pure and thread-safe; a SloganView draws with its
// TextRenderer and so belongs to that renderer's thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "microscape/core/result.hpp"
#include "microscape/player/engine_frame.hpp"
#include "microscape/player/text_render.hpp"

namespace microscape::player {

constexpr std::size_t kMaxSloganFileBytes = 64 * 1024;
constexpr std::size_t kMaxSloganTextBytes = 2000;  // as the controller accepts
// Font sizes and scroll speeds are in pixels of a screen this wide (1920 x 1080,
// as the console previews them) and scale with the screen's width.
constexpr double kSloganReferenceWidth = 1920.0;

struct SloganStyle {
    Rgb colour{0xFF, 0xD7, 0x00};  // "color"
    Rgb background{0, 0, 0};       // "background"
    int fontSizePx = 48;           // 8..1000, pixels of the reference screen
    int scrollSpeedPxPerS = 0;     // 0..2000, reference pixels per second; 0: static
    bool operator==(const SloganStyle&) const = default;
};

struct Slogan {
    std::string text;  // UTF-8, 1..kMaxSloganTextBytes bytes
    SloganStyle style;
};

// Reads a slogan file: a JSON object with "microscape_slogan": 1, "text" and an
// optional "style" {"color","background","fontSizePx","scrollSpeedPxPerS"} (each
// optional, defaults as above); every other field is refused. Errors: BadMedia
// (with what is wrong), TooLarge.
Result<Slogan> parseSlogan(std::string_view bytes);

// The banner of one slogan on a width x height screen.
class SloganView {
  public:
    SloganView(TextRenderer& renderer, Slogan slogan, int width, int height);

    // True when the text moves: a scroll speed was given, or the text is wider
    // than the screen.
    bool scrolls() const { return speedPxPerS_ > 0; }
    int pixelSize() const { return line_.pixelSize; }  // on this screen
    int textWidth() const { return line_.width; }
    int speedPxPerS() const { return speedPxPerS_; }  // on this screen
    // Left edge of the first copy of the text elapsedMs after the start.
    int textX(std::int64_t elapsedMs) const;
    // The banner elapsedMs after the slogan went on air (f is resized to the screen).
    void draw(Frame& f, std::int64_t elapsedMs);

  private:
    TextRenderer& renderer_;
    Slogan slogan_;
    int width_, height_;
    TextLayout line_;
    int speedPxPerS_ = 0;
    int startX_ = 0;
    int periodPx_ = 1;  // distance between two copies of a scrolling text
    int baselineY_ = 0;
};

}  // namespace microscape::player
