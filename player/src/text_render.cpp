#include "microscape/player/text_render.hpp"

#include <fontconfig/fontconfig.h>
#include <ft2build.h>
#include FT_FREETYPE_H

#include <algorithm>
#include <cstring>

#include <unistd.h>

#include "microscape/core/utf8.hpp"

namespace microscape::player {

namespace {

// Bounded so a slogan in many distinct characters at a large size cannot grow
// the cache without limit; the cache is simply emptied when it is full.
constexpr std::size_t kMaxGlyphCacheBytes = 32u << 20;

int hexDigit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

}  // namespace

Result<Rgb> parseColour(std::string_view text) {
    if (text.size() != 7 || text[0] != '#')
        return makeError(Errc::BadMedia, "colour " + std::string(text.substr(0, 16)) + " is not #RRGGBB");
    std::uint8_t v[3];
    for (int i = 0; i < 3; ++i) {
        int hi = hexDigit(text[1 + 2 * i]), lo = hexDigit(text[2 + 2 * i]);
        if (hi < 0 || lo < 0) return makeError(Errc::BadMedia, "colour " + std::string(text) + " is not #RRGGBB");
        v[i] = static_cast<std::uint8_t>(hi * 16 + lo);
    }
    return Rgb{v[0], v[1], v[2]};
}

std::u32string decodeUtf8(std::string_view s) {
    std::u32string out;
    out.reserve(s.size());
    for (std::size_t i = 0; i < s.size();) {
        const auto d = utf8::decodeAt(s, i);
        out.push_back(d.valid ? d.codePoint : U'\uFFFD');  // one replacement per broken sequence
        i += d.length;
    }
    return out;
}

void fillRect(Frame& f, int x, int y, int w, int h, Rgb c) {
    int x0 = std::max(0, x), y0 = std::max(0, y);
    int x1 = std::min(f.width, x + w), y1 = std::min(f.height, y + h);
    if (x0 >= x1 || y0 >= y1) return;
    const std::uint8_t px[4] = {c.b, c.g, c.r, 255};
    for (int yy = y0; yy < y1; ++yy) {
        std::uint8_t* row = f.bgrx.data() + (static_cast<std::size_t>(yy) * f.width + x0) * 4;
        for (int xx = x0; xx < x1; ++xx, row += 4) std::memcpy(row, px, 4);
    }
}

Frame filledFrame(int width, int height, Rgb colour) {
    Frame f;
    f.width = width;
    f.height = height;
    f.bgrx.resize(static_cast<std::size_t>(width) * height * 4);
    fillRect(f, 0, 0, width, height, colour);
    return f;
}

struct TextRenderer::Impl {
    FT_Library library = nullptr;
    FT_Face face = nullptr;
    ~Impl() {
        if (face) FT_Done_Face(face);
        if (library) FT_Done_FreeType(library);
    }
};

TextRenderer::TextRenderer(std::unique_ptr<Impl> impl, std::string path, int faceIndex)
    : impl_(std::move(impl)), path_(std::move(path)), faceIndex_(faceIndex) {}

TextRenderer::~TextRenderer() = default;

Result<std::unique_ptr<TextRenderer>> TextRenderer::fromFile(const std::string& path, int faceIndex) {
    if (::access(path.c_str(), R_OK) != 0) return makeError(Errc::NotFound, "font: cannot read " + path);
    auto impl = std::make_unique<Impl>();
    if (FT_Init_FreeType(&impl->library) != 0) return makeError(Errc::Internal, "font: FreeType did not start");
    if (FT_New_Face(impl->library, path.c_str(), faceIndex, &impl->face) != 0)
        return makeError(Errc::Internal, "font: FreeType cannot open " + path + " face " + std::to_string(faceIndex));
    if (!FT_IS_SCALABLE(impl->face)) return makeError(Errc::Internal, "font: " + path + " is not scalable");
    FT_Select_Charmap(impl->face, FT_ENCODING_UNICODE);
    return std::unique_ptr<TextRenderer>(new TextRenderer(std::move(impl), path, faceIndex));
}

Result<std::unique_ptr<TextRenderer>> TextRenderer::create(const std::string& family) {
    FcConfig* config = FcInitLoadConfigAndFonts();
    if (!config) return makeError(Errc::Internal, "font: fontconfig did not start");
    std::string path;
    int index = 0;
    for (const std::string& name : {family, std::string("sans-serif")}) {
        FcPattern* pat = FcNameParse(reinterpret_cast<const FcChar8*>(name.c_str()));
        if (!pat) continue;
        FcPatternAddString(pat, FC_LANG, reinterpret_cast<const FcChar8*>("zh-cn"));
        FcPatternAddBool(pat, FC_SCALABLE, FcTrue);
        FcConfigSubstitute(config, pat, FcMatchPattern);
        FcDefaultSubstitute(pat);
        FcResult res = FcResultNoMatch;
        FcPattern* match = FcFontMatch(config, pat, &res);
        FcPatternDestroy(pat);
        if (!match) continue;
        FcChar8* file = nullptr;
        if (FcPatternGetString(match, FC_FILE, 0, &file) == FcResultMatch && file) {
            path = reinterpret_cast<const char*>(file);
            if (FcPatternGetInteger(match, FC_INDEX, 0, &index) != FcResultMatch) index = 0;
        }
        FcPatternDestroy(match);
        if (!path.empty()) break;
    }
    FcConfigDestroy(config);
    if (path.empty()) return makeError(Errc::NotFound, "font: fontconfig found no font for " + family);
    return fromFile(path, index);
}

std::string TextRenderer::familyName() const {
    return impl_->face->family_name ? impl_->face->family_name : "";
}

bool TextRenderer::hasGlyph(char32_t cp) const {
    return FT_Get_Char_Index(impl_->face, cp) != 0;
}

bool TextRenderer::setSize(int pixelSize) {
    if (pixelSize == currentSize_) return true;
    if (FT_Set_Pixel_Sizes(impl_->face, 0, static_cast<FT_UInt>(pixelSize)) != 0) return false;
    currentSize_ = pixelSize;
    return true;
}

const TextRenderer::Glyph* TextRenderer::glyph(std::uint32_t index, int pixelSize) {
    auto key = std::make_pair(pixelSize, index);
    if (auto it = cache_.find(key); it != cache_.end()) return &it->second;
    if (!setSize(pixelSize)) return nullptr;
    if (FT_Load_Glyph(impl_->face, index, FT_LOAD_DEFAULT) != 0) return nullptr;
    if (FT_Render_Glyph(impl_->face->glyph, FT_RENDER_MODE_NORMAL) != 0) return nullptr;
    const FT_GlyphSlot slot = impl_->face->glyph;
    const FT_Bitmap& bm = slot->bitmap;
    Glyph g;
    g.left = slot->bitmap_left;
    g.top = slot->bitmap_top;
    if (bm.pixel_mode == FT_PIXEL_MODE_GRAY && bm.buffer) {
        g.width = static_cast<int>(bm.width);
        g.rows = static_cast<int>(bm.rows);
        g.alpha.resize(static_cast<std::size_t>(g.width) * g.rows);
        for (int y = 0; y < g.rows; ++y)
            std::memcpy(g.alpha.data() + static_cast<std::size_t>(y) * g.width, bm.buffer + y * bm.pitch,
                        static_cast<std::size_t>(g.width));
    }
    if (cacheBytes_ + g.alpha.size() > kMaxGlyphCacheBytes) {
        cache_.clear();
        cacheBytes_ = 0;
    }
    cacheBytes_ += g.alpha.size() + 64;
    return &cache_.emplace(key, std::move(g)).first->second;
}

TextLayout TextRenderer::layout(std::u32string_view text, int pixelSize) {
    TextLayout l;
    l.pixelSize = std::clamp(pixelSize, 4, 2000);
    if (!setSize(l.pixelSize)) return l;
    FT_Face face = impl_->face;
    l.ascent = static_cast<int>((face->size->metrics.ascender + 63) / 64);
    l.descent = static_cast<int>((-face->size->metrics.descender + 63) / 64);
    const bool kerning = FT_HAS_KERNING(face);
    FT_Pos pen = 0;  // 26.6
    std::uint32_t previous = 0;
    l.glyphs.reserve(text.size());
    for (char32_t cp : text) {
        if (cp < 0x20 || cp == 0x7F) cp = U' ';  // control characters (newlines too) show as a space
        std::uint32_t index = FT_Get_Char_Index(face, cp);
        if (index == 0) ++l.missing;
        if (kerning && previous && index) {
            FT_Vector k{};
            if (FT_Get_Kerning(face, previous, index, FT_KERNING_DEFAULT, &k) == 0) pen += k.x;
        }
        l.glyphs.push_back(TextLayout::Glyph{index, static_cast<int>((pen + 32) / 64)});
        if (FT_Load_Glyph(face, index, FT_LOAD_DEFAULT) == 0) pen += face->glyph->advance.x;
        previous = index;
    }
    l.width = static_cast<int>((pen + 63) / 64);
    return l;
}

void TextRenderer::draw(Frame& f, const TextLayout& line, int x, int baselineY, Rgb c) {
    if (f.empty() || line.glyphs.empty()) return;
    // Glyphs reach at most about one em beyond their pen position.
    const int reach = line.pixelSize * 2;
    if (baselineY + reach < 0 || baselineY - reach >= f.height) return;
    for (const auto& pg : line.glyphs) {
        int penX = x + pg.x;
        if (penX + reach < 0 || penX - reach >= f.width) continue;
        const Glyph* g = glyph(pg.index, line.pixelSize);
        if (!g || g->alpha.empty()) continue;
        int gx = penX + g->left, gy = baselineY - g->top;
        int x0 = std::max(0, -gx), y0 = std::max(0, -gy);
        int x1 = std::min(g->width, f.width - gx), y1 = std::min(g->rows, f.height - gy);
        for (int yy = y0; yy < y1; ++yy) {
            const std::uint8_t* a = g->alpha.data() + static_cast<std::size_t>(yy) * g->width;
            std::uint8_t* dst = f.bgrx.data() + (static_cast<std::size_t>(gy + yy) * f.width + gx) * 4;
            for (int xx = x0; xx < x1; ++xx) {
                unsigned al = a[xx];
                if (al == 0) continue;
                std::uint8_t* p = dst + xx * 4;
                if (al == 255) {
                    p[0] = c.b, p[1] = c.g, p[2] = c.r;
                } else {
                    unsigned inv = 255 - al;
                    p[0] = static_cast<std::uint8_t>((c.b * al + p[0] * inv + 127) / 255);
                    p[1] = static_cast<std::uint8_t>((c.g * al + p[1] * inv + 127) / 255);
                    p[2] = static_cast<std::uint8_t>((c.r * al + p[2] * inv + 127) / 255);
                }
            }
        }
    }
}

int TextRenderer::fitSize(std::u32string_view text, int maxPixelSize, int maxWidth, int maxHeight, int minPixelSize) {
    int hi = std::clamp(maxPixelSize, 4, 2000), lo = std::clamp(minPixelSize, 4, hi);
    TextLayout l = layout(text, hi);
    if (l.width <= maxWidth && l.height() <= maxHeight) return hi;
    // Width and height grow about linearly with the size: estimate, then step down.
    double s = hi;
    if (l.width > maxWidth && l.width > 0) s = std::min(s, hi * static_cast<double>(maxWidth) / l.width);
    if (l.height() > maxHeight && l.height() > 0) s = std::min(s, hi * static_cast<double>(maxHeight) / l.height());
    int size = std::max(lo, static_cast<int>(s));
    while (size > lo) {
        l = layout(text, size);
        if (l.width <= maxWidth && l.height() <= maxHeight) break;
        --size;
    }
    return size;
}

}  // namespace microscape::player
