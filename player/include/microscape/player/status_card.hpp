// Cards the player draws itself when no media is on screen: the status card
// (no schedule yet, nothing playable) and the card shown while an audio-only
// item plays (docs/player-screen.md). Pure drawing into a frame.
// Threads: drawing uses the TextRenderer, so it belongs to that renderer's thread.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "microscape/player/engine_frame.hpp"
#include "microscape/player/text_render.hpp"

namespace microscape::player {

struct StatusCard {
    std::string screenName;
    std::string playerId;
    std::string stateZh;             // e.g. "暂无排期"
    std::string stateEn;             // e.g. "No schedule yet"
    std::vector<std::string> lines;  // from the caller, shown as given (at most 6)
    std::string clock;               // e.g. "2025-04-15 08:00:00 (Asia/Shanghai)"
    // When set, drawn as a QR code (black on white, quiet zone included) in
    // place of the lines, with qrCaption under it: the head statement.
    std::string qrText;
    std::string qrCaption;
};

// Draws text as a QR code (level L, 8-bit) of side `size` pixels at (x, y) on a
// white square with a 4-module quiet zone; modules are whole pixels, so the code
// may be a little smaller than size and is centred in it. False when the text
// does not fit a QR code or the square is under 1 pixel per module.
bool drawQrCode(Frame& f, const std::string& text, int x, int y, int size);

struct AudioCard {
    std::string screenName;
    std::int64_t elapsedMs = 0;
    std::int64_t durationMs = 0;  // scheduled; 0: unknown (no progress bar)
};

// The card colours (also the background when no font could be found).
inline constexpr Rgb kCardBackground{0x24, 0x3a, 0x5e};
inline constexpr Rgb kCardBand{0x1a, 0x2b, 0x47};
inline constexpr Rgb kCardText{0xff, 0xff, 0xff};
inline constexpr Rgb kCardDim{0xb8, 0xc7, 0xdc};
inline constexpr Rgb kCardAccent{0xff, 0xd7, 0x00};

// renderer may be null (no font on this system): the card is then plain.
Frame drawStatusCard(TextRenderer* renderer, int width, int height, const StatusCard& card);
Frame drawAudioCard(TextRenderer* renderer, int width, int height, const AudioCard& card);

// "YYYY-MM-DD HH:MM:SS" of a local wall-clock count (utcMs + offset).
std::string formatLocalClock(std::int64_t localMs);

}  // namespace microscape::player
