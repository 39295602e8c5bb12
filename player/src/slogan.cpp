#include "microscape/player/slogan.hpp"

#include <algorithm>
#include <cmath>

#include "microscape/core/json.hpp"
#include "microscape/core/json_fields.hpp"

namespace microscape::player {

namespace {

Error bad(const std::string& what) {
    return makeError(Errc::BadMedia, "slogan: " + what);
}

}  // namespace

Result<Slogan> parseSlogan(std::string_view bytes) {
    if (bytes.size() > kMaxSloganFileBytes)
        return makeError(Errc::TooLarge,
                         "slogan: file is larger than " + std::to_string(kMaxSloganFileBytes) + " bytes");
    auto doc = json::parse(bytes, json::ParseLimits{kMaxSloganFileBytes, 8});
    if (!doc) return bad("not JSON: " + doc.error().message);
    auto top = json::Fields::of(*doc, "", "slogan: ");
    if (!top) return bad("the document is not a JSON object");
    auto marker = top->integer("microscape_slogan");
    if (!marker) return makeError(Errc::BadMedia, marker.error().message);
    if (*marker != 1) return bad("microscape_slogan " + std::to_string(*marker) + " is not understood (expected 1)");
    auto text = top->str("text");
    if (!text) return makeError(Errc::BadMedia, text.error().message);
    Slogan s;
    s.text = std::move(*text);
    if (s.text.empty() || s.text.size() > kMaxSloganTextBytes)
        return bad("text must be 1.." + std::to_string(kMaxSloganTextBytes) + " bytes");
    if (!json::isValidUtf8(s.text)) return bad("text is not UTF-8");
    if (top->has("style")) {
        auto st = top->get("style", json::Value::Type::Object);
        if (!st) return makeError(Errc::BadMedia, st.error().message);
        auto style = json::Fields::of(**st, "style", "slogan: ");
        if (!style) return makeError(Errc::BadMedia, style.error().message);
        for (const char* key : {"color", "background"}) {
            if (!style->has(key)) continue;
            auto v = style->str(key);
            if (!v) return makeError(Errc::BadMedia, v.error().message);
            auto c = parseColour(*v);
            if (!c) return bad(std::string("style.") + key + ": " + c.error().message);
            (std::string_view(key) == "color" ? s.style.colour : s.style.background) = *c;
        }
        if (style->has("fontSizePx")) {
            auto v = style->integer("fontSizePx", 8, 1000);
            if (!v) return makeError(Errc::BadMedia, v.error().message);
            s.style.fontSizePx = static_cast<int>(*v);
        }
        if (style->has("scrollSpeedPxPerS")) {
            auto v = style->integer("scrollSpeedPxPerS", 0, 2000);
            if (!v) return makeError(Errc::BadMedia, v.error().message);
            s.style.scrollSpeedPxPerS = static_cast<int>(*v);
        }
        if (auto f = style->finish(); !f) return makeError(Errc::BadMedia, f.error().message);
    }
    if (auto f = top->finish(); !f) return makeError(Errc::BadMedia, f.error().message);
    return s;
}

SloganView::SloganView(TextRenderer& renderer, Slogan slogan, int width, int height)
    : renderer_(renderer), slogan_(std::move(slogan)), width_(width), height_(height) {
    // Sizes and speeds are authored in pixels of a 1920-wide reference screen
    // (the console's preview) and scale with the screen's width, so a slogan
    // shows the same share of its text and crosses the screen in the same time
    // everywhere. The text is shrunk only so that it is no taller than 80% of the
    // screen.
    const double scale = width_ / kSloganReferenceWidth;
    const int authored = slogan_.style.fontSizePx;
    int size = std::max(4, static_cast<int>(std::lround(std::min(authored * scale, height_ * 0.8))));
    line_ = renderer_.layout(decodeUtf8(slogan_.text), size);
    const int margin = width_ / 20;
    speedPxPerS_ = slogan_.style.scrollSpeedPxPerS > 0
                       ? std::max(1, static_cast<int>(std::lround(slogan_.style.scrollSpeedPxPerS * scale)))
                       : 0;
    if (speedPxPerS_ == 0 && line_.width > width_ - 2 * margin)  // too wide to stand still: scroll anyway
        speedPxPerS_ = std::max(1, static_cast<int>(std::lround(std::max(40, authored * 2) * scale)));
    if (speedPxPerS_ > 0) {
        // Copies follow each other a gap apart, and the gap is narrower than the
        // screen, so some text is always on it. The first frame shows the text
        // where a static slogan would stand (or from the left edge).
        int gap = std::min(width_ / 2, std::max(static_cast<int>(authored * scale * 2), width_ / 4));
        periodPx_ = std::max(1, line_.width + gap);
        startX_ = std::max(0, (width_ - line_.width) / 2);
    } else {
        startX_ = (width_ - line_.width) / 2;
    }
    baselineY_ = (height_ - line_.height()) / 2 + line_.ascent;
}

int SloganView::textX(std::int64_t elapsedMs) const {
    if (speedPxPerS_ <= 0) return startX_;
    std::int64_t moved = std::max<std::int64_t>(0, elapsedMs) * speedPxPerS_ / 1000;
    return startX_ - static_cast<int>(moved % periodPx_);
}

void SloganView::draw(Frame& f, std::int64_t elapsedMs) {
    if (f.width != width_ || f.height != height_ || f.bgrx.size() != static_cast<std::size_t>(width_) * height_ * 4) {
        f.width = width_;
        f.height = height_;
        f.bgrx.assign(static_cast<std::size_t>(width_) * height_ * 4, 0);
    }
    fillRect(f, 0, 0, width_, height_, slogan_.style.background);
    int x = textX(elapsedMs);
    if (speedPxPerS_ <= 0) {
        renderer_.draw(f, line_, x, baselineY_, slogan_.style.colour);
        return;
    }
    // The copy before x may still show on the left; draw copies until the right edge.
    for (int cx = x - periodPx_; cx < width_; cx += periodPx_)
        if (cx + line_.width > 0) renderer_.draw(f, line_, cx, baselineY_, slogan_.style.colour);
}

}  // namespace microscape::player
