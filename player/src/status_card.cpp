#include "microscape/player/status_card.hpp"

#include <qrencode.h>

#include <algorithm>
#include <cstdio>
#include <memory>

#include "microscape/core/time.hpp"

namespace microscape::player {

namespace {

// One line centred horizontally in the columns [left, left + width) (the whole
// frame when width is 0), as large as `size` allows within them. Returns the y below it.
int centredLine(TextRenderer& r, Frame& f, const std::string& text, int size, int top, Rgb colour, int left = 0,
                int width = 0) {
    if (width <= 0) width = f.width;
    std::u32string t = decodeUtf8(text);
    int fitted = r.fitSize(t, size, width * 9 / 10, size * 2, 6);
    TextLayout l = r.layout(t, fitted);
    r.draw(f, l, left + (width - l.width) / 2, top + l.ascent, colour);
    return top + l.height();
}

}  // namespace

bool drawQrCode(Frame& f, const std::string& text, int x, int y, int size) {
    std::unique_ptr<QRcode, decltype(&QRcode_free)> qr(
        QRcode_encodeData(static_cast<int>(text.size()), reinterpret_cast<const unsigned char*>(text.data()), 0,
                          QR_ECLEVEL_L),
        &QRcode_free);
    if (!qr) return false;
    const int modules = qr->width + 8;  // 4 modules of quiet zone on each side
    const int px = size / modules;
    if (px < 1) return false;
    const int side = px * modules;
    x += (size - side) / 2;
    y += (size - side) / 2;
    fillRect(f, x, y, side, side, Rgb{0xff, 0xff, 0xff});
    for (int row = 0; row < qr->width; ++row)
        for (int col = 0; col < qr->width; ++col)
            if (qr->data[row * qr->width + col] & 1)
                fillRect(f, x + (col + 4) * px, y + (row + 4) * px, px, px, Rgb{0, 0, 0});
    return true;
}

std::string formatLocalClock(std::int64_t localMs) {
    std::int64_t days = localMs >= 0 ? localMs / 86'400'000 : (localMs - 86'399'999) / 86'400'000;
    std::int64_t msOfDay = localMs - days * 86'400'000;
    timeutil::CivilDate d = timeutil::civilFromDays(days);
    char buf[48];
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02d %02d:%02d:%02d", d.year, d.month, d.day,
                  static_cast<int>(msOfDay / 3'600'000), static_cast<int>(msOfDay / 60'000 % 60),
                  static_cast<int>(msOfDay / 1000 % 60));
    return buf;
}

namespace {

// The status card with a QR code: the name in the band, the QR code as large as
// the rest allows, the state and caption beside it (wide screens) or under it.
Frame drawQrCard(TextRenderer* r, int width, int height, const StatusCard& card) {
    Frame f = filledFrame(width, height, kCardBackground);
    const bool wide = width >= height * 3 / 2;
    const int unit = std::max(6, height / 24);
    const int bandH = wide ? std::max(2, height / 8) : std::max(2, height / 10);
    if (r) {
        fillRect(f, 0, 0, width, bandH, kCardBand);
        centredLine(*r, f, card.screenName.empty() ? card.playerId : card.screenName, unit * 2,
                    std::max(0, (bandH - unit * 3) / 2), kCardText);
    }
    const int room = height - bandH - (wide ? 0 : unit * 6);
    const int size = std::min(room, wide ? width / 2 : width);
    const int qx = wide ? std::max(0, width / 2 - size) : (width - size) / 2;
    drawQrCode(f, card.qrText, qx, bandH, size);
    if (!r) return f;
    // The text: right of the code on wide screens, under it otherwise.
    const int left = wide ? width / 2 : 0, columns = wide ? width / 2 : width;
    int ty = wide ? bandH + (height - bandH) / 3 : bandH + size + unit / 2;
    ty = centredLine(*r, f, card.stateZh, unit * 3 / 2, ty, kCardAccent, left, columns);
    ty = centredLine(*r, f, card.stateEn, unit, ty, kCardText, left, columns) + unit / 2;
    ty = centredLine(*r, f, card.qrCaption, unit, ty, kCardDim, left, columns);
    centredLine(*r, f, card.clock, unit, ty, kCardDim, left, columns);
    return f;
}

}  // namespace

Frame drawStatusCard(TextRenderer* r, int width, int height, const StatusCard& card) {
    if (!card.qrText.empty()) return drawQrCard(r, width, height, card);
    Frame f = filledFrame(width, height, kCardBackground);
    if (!r) return f;
    if (width >= 4 * height) {
        // A strip: one line across it, half its height tall (or narrower to fit).
        std::string line = (card.screenName.empty() ? card.playerId : card.screenName) + "  |  " + card.stateZh +
                           " / " + card.stateEn + "  |  " + card.clock;
        for (const auto& l : card.lines) line += "  |  " + l;
        std::u32string t = decodeUtf8(line);
        TextLayout l = r->layout(t, r->fitSize(t, height / 2, width * 95 / 100, height * 9 / 10, 6));
        fillRect(f, 0, height - std::max(1, height / 20), width, std::max(1, height / 20), kCardAccent);
        r->draw(f, l, (width - l.width) / 2, (height - l.height()) / 2 + l.ascent, kCardText);
        return f;
    }
    // Sizes follow the screen's height; the widest lines shrink to fit the width.
    const int unit = std::max(6, height / 18);
    const int bandH = std::max(2, height / 6);
    fillRect(f, 0, 0, width, bandH, kCardBand);
    fillRect(f, 0, bandH, width, std::max(1, height / 180), kCardAccent);
    centredLine(*r, f, card.screenName.empty() ? card.playerId : card.screenName, unit * 2,
                std::max(0, (bandH - unit * 2 * 3 / 2) / 2), kCardText);
    int y = bandH + unit;
    y = centredLine(*r, f, card.stateZh, unit * 2, y, kCardAccent);
    y = centredLine(*r, f, card.stateEn, unit * 3 / 2, y, kCardText) + unit / 2;
    // The caller's lines share one size: the largest at which all of them fit.
    std::vector<std::u32string> lines;
    for (const auto& line : card.lines)
        if (lines.size() < 6) lines.push_back(decodeUtf8(line));
    int lineSize = unit;
    for (const auto& t : lines) lineSize = std::min(lineSize, r->fitSize(t, unit, width * 9 / 10, unit * 2, 6));
    const int bottom = height - unit * 7 / 2;
    for (const auto& t : lines) {
        TextLayout l = r->layout(t, lineSize);
        if (y + l.height() > bottom) break;
        r->draw(f, l, (width - l.width) / 2, y + l.ascent, kCardDim);
        y += l.height();
    }
    centredLine(*r, f, "播放器 / Player " + card.playerId, unit, bottom, kCardDim);
    centredLine(*r, f, card.clock, unit, bottom + unit * 3 / 2, kCardDim);
    return f;
}

Frame drawAudioCard(TextRenderer* r, int width, int height, const AudioCard& card) {
    Frame f = filledFrame(width, height, kCardBackground);
    const int unit = std::max(6, height / 18);
    if (card.durationMs > 0) {
        // A progress bar, so the card visibly changes while the sound plays.
        int barW = width * 7 / 10, barH = std::max(2, unit / 3);
        int x = (width - barW) / 2, y = height - unit;
        fillRect(f, x, y, barW, barH, kCardBand);
        double done = std::clamp(static_cast<double>(card.elapsedMs) / static_cast<double>(card.durationMs), 0.0, 1.0);
        fillRect(f, x, y, static_cast<int>(barW * done), barH, kCardAccent);
    }
    if (!r) return f;
    int y = height / 2 - unit * 5;
    // U+266B (beamed notes) when the font has it; else U+266A; else a plain mark.
    std::string note = r->hasGlyph(U'\u266B') ? "\u266B" : r->hasGlyph(U'\u266A') ? "\u266A" : "*";
    y = centredLine(*r, f, note, unit * 3, y, kCardAccent);
    y = centredLine(*r, f, "音频播放中", unit * 2, y, kCardText);
    y = centredLine(*r, f, "Audio playing", unit * 3 / 2, y, kCardText);
    if (!card.screenName.empty()) centredLine(*r, f, card.screenName, unit, y + unit / 4, kCardDim);
    return f;
}

}  // namespace microscape::player
