// On-screen text: UTF-8 decoding, the CJK font found through fontconfig, glyph
// blending into frames, slogan documents and banners, and the status card.
#include <catch2/catch.hpp>

#include <algorithm>

#include "microscape/player/slogan.hpp"
#include "microscape/player/status_card.hpp"
#include "microscape/player/text_render.hpp"

using namespace microscape;
using namespace microscape::player;

namespace {

const Rgb kBg{0x10, 0x20, 0x30};
const Rgb kGold{0xFF, 0xD7, 0x00};

std::unique_ptr<TextRenderer> renderer() {
    auto r = TextRenderer::create();
    REQUIRE(r.ok());
    return std::move(*r);
}

Rgb at(const Frame& f, int x, int y) {
    const std::uint8_t* p = &f.bgrx[(static_cast<std::size_t>(y) * f.width + x) * 4];
    return Rgb{p[2], p[1], p[0]};
}

struct Box {
    int x0 = 1 << 30, y0 = 1 << 30, x1 = -1, y1 = -1;
    long count = 0;
};

// Pixels that differ from the background: their bounding box and count.
Box inkOf(const Frame& f, Rgb bg) {
    Box b;
    for (int y = 0; y < f.height; ++y)
        for (int x = 0; x < f.width; ++x)
            if (!(at(f, x, y) == bg)) {
                b.x0 = std::min(b.x0, x), b.y0 = std::min(b.y0, y);
                b.x1 = std::max(b.x1, x), b.y1 = std::max(b.y1, y);
                ++b.count;
            }
    return b;
}

long pixelsOf(const Frame& f, Rgb c) {
    long n = 0;
    for (int y = 0; y < f.height; ++y)
        for (int x = 0; x < f.width; ++x)
            if (at(f, x, y) == c) ++n;
    return n;
}

}  // namespace

TEST_CASE("decodeUtf8 decodes Chinese and replaces every ill-formed sequence", "[text]") {
    CHECK(decodeUtf8("一盔一带 ok") == U"一盔一带 ok");
    CHECK(decodeUtf8("") == U"");
    CHECK(decodeUtf8("\xF0\x9F\x9A\x94") == U"\U0001F694");
    SECTION("bad bytes become U+FFFD and decoding goes on") {
        CHECK(decodeUtf8("a\xFF"
                         "b") == U"a\uFFFDb");
        CHECK(decodeUtf8("\x80\x80") == U"\uFFFD\uFFFD");
        CHECK(decodeUtf8("\xC0\xAF") == U"\uFFFD\uFFFD");  // C0 is never a lead byte
        CHECK(decodeUtf8("\xE0\x80\xAF"
                         "x") == U"\uFFFDx");  // overlong
        CHECK(decodeUtf8("\xED\xA0\x80"
                         "x") == U"\uFFFDx");                // surrogate
        CHECK(decodeUtf8("\xF4\x90\x80\x80") == U"\uFFFD");  // beyond U+10FFFF
        CHECK(decodeUtf8("反\xE8\xAF") == U"反\uFFFD");      // truncated at the end
        CHECK(decodeUtf8("\xE8\xAF"
                         "A") == U"\uFFFDA");  // truncated before ASCII
    }
}

TEST_CASE("parseColour reads #RRGGBB and refuses anything else", "[text]") {
    CHECK(*parseColour("#FFD700") == Rgb{0xFF, 0xD7, 0x00});
    CHECK(*parseColour("#0a0B0c") == Rgb{0x0A, 0x0B, 0x0C});
    for (const char* bad : {"", "FFD700", "#FFD70", "#FFD7000", "#GGD700", "red"}) {
        auto c = parseColour(bad);
        CHECK_FALSE(c.ok());
        if (!c) CHECK(c.error().code == Errc::BadMedia);
    }
}

TEST_CASE("the font found through fontconfig is the CJK one and has the Chinese glyphs", "[text]") {
    auto r = renderer();
    INFO(r->fontPath() << " " << r->familyName());
    CHECK(r->fontPath().find("NotoSansCJK") != std::string::npos);
    for (char32_t cp : std::u32string(U"反诈防骗一盔一带禁毒AZ09")) CHECK(r->hasGlyph(cp));
    // hasGlyph is FreeType's FT_Get_Char_Index != 0; a Latin-only font lacks them.
    auto latin = TextRenderer::fromFile("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf");
    if (latin) {
        CHECK((*latin)->hasGlyph(U'A'));
        CHECK_FALSE((*latin)->hasGlyph(U'反'));
    }
    CHECK_FALSE(TextRenderer::fromFile("/nonexistent/font.ttf").ok());
}

TEST_CASE("Chinese text draws in the requested colour inside its measured box", "[text]") {
    auto r = renderer();
    Frame f = filledFrame(400, 120, kBg);
    TextLayout l = r->layout("反诈防骗", 48);
    CHECK(l.missing == 0);
    CHECK(l.width > 4 * 40);  // four full-width characters
    CHECK(l.width < 4 * 56);
    CHECK(l.height() >= 48);
    const int x = 20, baseline = 80;
    r->draw(f, l, x, baseline, kGold);
    Box ink = inkOf(f, kBg);
    REQUIRE(ink.count > 500);
    CHECK(ink.x0 >= x);
    CHECK(ink.x1 < x + l.width);
    CHECK(ink.y0 >= baseline - l.ascent);
    CHECK(ink.y1 < baseline + l.descent);
    CHECK(pixelsOf(f, kGold) > 200);  // solid strokes carry the exact colour
    // Every inked pixel is a blend between the background and the colour.
    for (int y = ink.y0; y <= ink.y1; ++y)
        for (int xx = ink.x0; xx <= ink.x1; ++xx) {
            Rgb c = at(f, xx, y);
            CHECK((c.r >= kBg.r && c.g >= kBg.g && c.b <= kBg.b));
        }
}

TEST_CASE("empty, very long, clipped and undecodable text does not break drawing", "[text]") {
    auto r = renderer();
    Frame f = filledFrame(320, 80, kBg);
    SECTION("empty text measures zero and draws nothing") {
        TextLayout l = r->layout("", 40);
        CHECK(l.width == 0);
        CHECK(l.glyphs.empty());
        r->draw(f, l, 10, 50, kGold);
        CHECK(inkOf(f, kBg).count == 0);
    }
    SECTION("a very long line is measured in full and clipped to the frame") {
        std::string text;
        for (int i = 0; i < 700; ++i) text += "安全";
        TextLayout l = r->layout(text, 40);
        CHECK(l.glyphs.size() == 1400);
        CHECK(l.width > 1400 * 30);
        r->draw(f, l, -20000, 50, kGold);
        r->draw(f, l, 300, -10, kGold);  // partly above the top edge
        CHECK(inkOf(f, kBg).count > 0);
    }
    SECTION("invalid UTF-8 and characters the font lacks are drawn as replacements") {
        TextLayout l = r->layout(std::string("防\xFF\xFE骗 \xF0\x9F\x80\x80\x01"), 40);
        CHECK(l.glyphs.size() == 7);
        r->draw(f, l, 5, 50, kGold);
        CHECK(inkOf(f, kBg).count > 0);
    }
    SECTION("fitSize shrinks a line to the width") {
        int size = r->fitSize(U"一盔一带 安全常在", 200, 300, 200);
        CHECK(size < 200);
        CHECK(r->layout(U"一盔一带 安全常在", size).width <= 300);
        CHECK(r->fitSize(U"一盔一带", 20, 300, 200) == 20);
    }
}

TEST_CASE("slogan documents are read strictly", "[text][slogan]") {
    SECTION("the controller's canonical document") {
        auto s = parseSlogan(
            R"({"microscape_slogan":1,"style":{"background":"#000000","color":"#FFD700","fontSizePx":48,"scrollSpeedPxPerS":0},"text":"一盔一带 安全常在"})");
        REQUIRE(s.ok());
        CHECK(s->text == "一盔一带 安全常在");
        CHECK(s->style.colour == kGold);
        CHECK(s->style.background == Rgb{0, 0, 0});
        CHECK(s->style.fontSizePx == 48);
        CHECK(s->style.scrollSpeedPxPerS == 0);
    }
    SECTION("style is optional, and so is each of its members") {
        auto s = parseSlogan(R"({"microscape_slogan":1,"text":"拒绝毒品","style":{"scrollSpeedPxPerS":120}})");
        REQUIRE(s.ok());
        CHECK(s->style.scrollSpeedPxPerS == 120);
        CHECK(s->style == SloganStyle{Rgb{0xFF, 0xD7, 0}, Rgb{0, 0, 0}, 48, 120});
    }
    SECTION("malformed documents are refused with the reason") {
        const char* bad[] = {
            "",
            "not json",
            R"([{"microscape_slogan":1,"text":"x"}])",
            R"({"microscape_slogan":2,"text":"x"})",
            R"({"microscape_slogan":1})",
            R"({"microscape_slogan":1,"text":""})",
            R"({"microscape_slogan":1,"text":12})",
            R"({"microscape_slogan":1,"text":"x","lines":["x"]})",
            R"({"microscape_slogan":1,"text":"x","style":{"color":"red"}})",
            R"({"microscape_slogan":1,"text":"x","style":{"fontSizePx":4}})",
            R"({"microscape_slogan":1,"text":"x","style":{"scrollSpeedPxPerS":-1}})",
            R"({"microscape_slogan":1,"text":"x","style":{"blink":true}})",
            R"({"microscape_slogan":1,"text":"x","style":"big"})",
            "{\"microscape_slogan\":1,\"text\":\"\xFF\"}",
        };
        for (const char* doc : bad) {
            auto s = parseSlogan(doc);
            INFO(doc);
            CHECK_FALSE(s.ok());
            if (!s) CHECK(s.error().code == Errc::BadMedia);
        }
        CHECK(parseSlogan(std::string(kMaxSloganFileBytes + 1, ' ')).error().code == Errc::TooLarge);
        std::string longText(kMaxSloganTextBytes + 1, 'a');
        CHECK_FALSE(parseSlogan(R"({"microscape_slogan":1,"text":")" + longText + "\"}").ok());
    }
}

TEST_CASE("a static slogan stands centred and a scrolling one moves right to left", "[text][slogan]") {
    auto r = renderer();
    // A third of the 1920-pixel reference: sizes and speeds are divided by 3.
    const int w = 640, h = 180;
    Slogan s{"一盔一带 安全常在", SloganStyle{kGold, Rgb{0, 0, 0}, 144, 0}};
    SECTION("static: the same centred frame at any time") {
        SloganView v(*r, s, w, h);
        CHECK_FALSE(v.scrolls());
        CHECK(v.pixelSize() == 48);
        Frame a, b;
        v.draw(a, 0);
        v.draw(b, 5000);
        CHECK((a.bgrx == b.bgrx));
        Box ink = inkOf(a, Rgb{0, 0, 0});
        REQUIRE(ink.count > 500);
        CHECK(std::abs((ink.x0 + ink.x1) / 2 - w / 2) < 24);
        CHECK(std::abs((ink.y0 + ink.y1) / 2 - h / 2) < 24);
        CHECK(pixelsOf(a, kGold) > 200);
    }
    SECTION("scrolling: the next frame is this one shifted left by speed / fps") {
        s.style.scrollSpeedPxPerS = 300;
        SloganView v(*r, s, w, h);
        CHECK(v.scrolls());
        CHECK(v.speedPxPerS() == 100);
        Frame a, b;
        v.draw(a, 1000);
        v.draw(b, 1040);
        CHECK(v.textX(1000) - v.textX(1040) == 4);
        CHECK((a.bgrx != b.bgrx));
        // b(x) == a(x + 4) away from the copies' wrap-around.
        long same = 0, total = 0;
        for (int y = 0; y < h; ++y)
            for (int x = 0; x + 4 < w; ++x) {
                ++total;
                if (at(b, x, y) == at(a, x + 4, y)) ++same;
            }
        CHECK(same == total);
        // Never an empty banner: some text is on screen all through a period.
        for (int t = 0; t < 30000; t += 370) {
            Frame f;
            v.draw(f, t);
            INFO("t=" << t);
            CHECK(inkOf(f, Rgb{0, 0, 0}).count > 100);
        }
    }
    SECTION("text wider than the screen scrolls even at speed 0") {
        s.text = "一盔一带 安全常在 文明交通 从我做起 反诈防骗 守护钱袋";
        SloganView v(*r, s, w, h);
        CHECK(v.scrolls());
        CHECK(v.speedPxPerS() == 96);  // twice the size per second
        CHECK(v.textWidth() > w);
    }
    SECTION("the same slogan on a 1920-wide screen keeps its authored size") {
        SloganView v(*r, s, 1920, 540);
        CHECK(v.pixelSize() == 144);
        CHECK_FALSE(v.scrolls());
    }
    SECTION("a size taller than the screen is shrunk to fit it") {
        s.style.fontSizePx = 1000;
        SloganView v(*r, s, w, h);
        CHECK(v.pixelSize() == h * 8 / 10);
        Frame f;
        v.draw(f, 0);
        CHECK(inkOf(f, Rgb{0, 0, 0}).count > 100);
    }
}

TEST_CASE("the status card shows the screen's name and state in text", "[text][card]") {
    auto r = renderer();
    StatusCard card{"地下车库 B1 出入口",
                    "p-garage-01",
                    "暂无排期",
                    "No schedule yet",
                    {"控制器已连接 / controller connected", "版本 v12"},
                    "2025-04-15 08:00:00 (Asia/Shanghai)"};
    Frame f = drawStatusCard(r.get(), 640, 360, card);
    CHECK(f.width == 640);
    CHECK(f.height == 360);
    CHECK_FALSE(isBlack(f.bgrx.data(), f.width, f.height));
    CHECK(pixelsOf(f, kCardText) > 500);
    CHECK(pixelsOf(f, kCardAccent) > 200);
    // Another name draws another card; the clock changes it too.
    StatusCard other = card;
    other.screenName = "步行街 南口";
    CHECK((drawStatusCard(r.get(), 640, 360, other).bgrx != f.bgrx));
    other = card;
    other.clock = "2025-04-15 08:00:01 (Asia/Shanghai)";
    CHECK((drawStatusCard(r.get(), 640, 360, other).bgrx != f.bgrx));
    // Without a font the card is plain, never black.
    Frame plain = drawStatusCard(nullptr, 64, 36, card);
    CHECK_FALSE(isBlack(plain.bgrx.data(), plain.width, plain.height));
    // Tiny and strip-shaped screens do not break the layout.
    Frame strip = drawStatusCard(r.get(), 1920, 120, card);
    CHECK(pixelsOf(strip, kCardText) > 100);
    Frame tiny = drawStatusCard(r.get(), 16, 16, card);
    CHECK(tiny.bgrx.size() == 16u * 16 * 4);
}

TEST_CASE("the audio card shows a note and the progress of the sound", "[text][card]") {
    auto r = renderer();
    Frame a = drawAudioCard(r.get(), 640, 360, AudioCard{"社区公告屏", 0, 10000});
    Frame b = drawAudioCard(r.get(), 640, 360, AudioCard{"社区公告屏", 5000, 10000});
    CHECK_FALSE(isBlack(a.bgrx.data(), a.width, a.height));
    CHECK(pixelsOf(a, kCardText) > 300);
    CHECK(pixelsOf(b, kCardAccent) > pixelsOf(a, kCardAccent));  // the bar filled up
}

TEST_CASE("formatLocalClock writes the local calendar time", "[text][card]") {
    CHECK(formatLocalClock(1744646400000 + 8 * 3600 * 1000) == "2025-04-15 00:00:00");
    CHECK(formatLocalClock(0) == "1970-01-01 00:00:00");
    CHECK(formatLocalClock(-1000) == "1969-12-31 23:59:59");
}

TEST_CASE("arbitrary bytes decode, lay out and draw without harm, and never parse as a slogan by accident",
          "[text][slogan]") {
    auto r = renderer();
    std::uint32_t seed = 12345;
    auto next = [&seed] {
        seed = seed * 1664525u + 1013904223u;
        return static_cast<std::uint8_t>(seed >> 24);
    };
    Frame f = filledFrame(96, 48, kBg);
    for (int round = 0; round < 300; ++round) {
        std::string bytes(static_cast<std::size_t>(next()) % 64, '\0');
        for (auto& c : bytes) c = static_cast<char>(next());
        std::u32string text = decodeUtf8(bytes);
        CHECK(text.size() <= bytes.size());
        for (char32_t cp : text) CHECK((cp <= 0x10FFFF && !(cp >= 0xD800 && cp <= 0xDFFF)));
        TextLayout l = r->layout(text, 8 + next() % 40);
        r->draw(f, l, static_cast<int>(next()) - 128, static_cast<int>(next()) - 64, kGold);
        CHECK_FALSE(parseSlogan(bytes).ok());
        // The same bytes as the text of a well-formed slogan: parsed when they are UTF-8 without
        // characters that JSON must escape, refused otherwise; never a crash.
        (void)parseSlogan(R"({"microscape_slogan":1,"text":")" + bytes + "\"}");
    }
}

TEST_CASE("a short slogan on black is not black although the sample grid may miss it", "[text][slogan]") {
    auto r = renderer();
    Slogan s{"禁", SloganStyle{kGold, Rgb{0, 0, 0}, 24, 0}};
    SloganView v(*r, s, 1920, 1080);
    Frame f;
    v.draw(f, 0);
    CHECK_FALSE(isBlackEverywhere(f.bgrx.data(), f.width, f.height));
    Frame dark = filledFrame(1920, 1080, Rgb{15, 15, 15});
    CHECK(isBlackEverywhere(dark.bgrx.data(), dark.width, dark.height));
    fillRect(dark, 1000, 500, 1, 1, Rgb{0, 16, 0});
    CHECK_FALSE(isBlackEverywhere(dark.bgrx.data(), dark.width, dark.height));
    CHECK(isBlack(dark.bgrx.data(), dark.width, dark.height));  // the grid misses one pixel
}
