// UTF-8 decoding, the one decoder of the project: the JSON reader validates
// with it and the player's text renderer draws what it decodes. Strict: no
// overlong forms, no surrogates, nothing above U+10FFFF. Pure; thread-safe.
#pragma once

#include <cstddef>
#include <string_view>

namespace microscape::utf8 {

struct Decoded {
    char32_t codePoint = 0;
    std::size_t length = 1;  // bytes taken (at least 1)
    bool valid = false;
};

// The character that starts at s[pos] (pos < s.size()). When the bytes there are
// not a valid character, valid is false and length covers the lead byte and the
// continuation bytes read with it, so a reader that goes on at pos + length
// replaces one broken sequence by one U+FFFD.
Decoded decodeAt(std::string_view s, std::size_t pos);

// Whether every byte of s belongs to a valid character.
bool isValid(std::string_view s);

}  // namespace microscape::utf8
