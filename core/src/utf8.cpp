#include "microscape/core/utf8.hpp"

namespace microscape::utf8 {

Decoded decodeAt(std::string_view s, std::size_t pos) {
    const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
    const unsigned char c = byte(pos);
    if (c < 0x80) return {c, 1, true};
    std::size_t need = 0;
    char32_t cp = 0, min = 0;
    if (c >= 0xC2 && c <= 0xDF)
        need = 1, cp = c & 0x1F, min = 0x80;
    else if (c >= 0xE0 && c <= 0xEF)
        need = 2, cp = c & 0x0F, min = 0x800;
    else if (c >= 0xF0 && c <= 0xF4)
        need = 3, cp = c & 0x07, min = 0x10000;
    if (need == 0) return {0, 1, false};  // a continuation byte out of place, C0/C1, F5..FF
    std::size_t k = 1;
    for (; k <= need && pos + k < s.size(); ++k) {
        const unsigned char d = byte(pos + k);
        if ((d & 0xC0) != 0x80) break;
        cp = (cp << 6) | (d & 0x3F);
    }
    if (k != need + 1 || cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return {0, k, false};
    return {cp, k, true};
}

bool isValid(std::string_view s) {
    for (std::size_t i = 0; i < s.size();) {
        const Decoded d = decodeAt(s, i);
        if (!d.valid) return false;
        i += d.length;
    }
    return true;
}

}  // namespace microscape::utf8
