#include <catch2/catch.hpp>

#include "microscape/core/utf8.hpp"

using namespace microscape;

TEST_CASE("utf8: valid characters of every length decode to their code points", "[utf8]") {
    const std::string s = "a\xC3\xA9\xE5\x8F\x8D\xF0\x9F\x9A\xA8";  // a é 反 🚨
    const char32_t want[] = {U'a', U'\u00E9', U'\u53CD', U'\U0001F6A8'};
    std::size_t pos = 0;
    for (char32_t cp : want) {
        const auto d = utf8::decodeAt(s, pos);
        CHECK(d.valid);
        CHECK(d.codePoint == cp);
        pos += d.length;
    }
    CHECK(pos == s.size());
    CHECK(utf8::isValid(s));
    CHECK(utf8::isValid(""));
}

TEST_CASE("utf8: broken, overlong, surrogate and out-of-range sequences are refused", "[utf8]") {
    for (const std::string bad :
         {std::string("\x80"), std::string("\xC0\xAF"), std::string("\xC1\xBF"), std::string("\xE0\x80\xAF"),
          std::string("\xED\xA0\x80"), std::string("\xF4\x90\x80\x80"), std::string("\xF5\x80\x80\x80"),
          std::string("\xE5\x8F"), std::string("\xFF")}) {
        INFO(bad.size() << " bytes");
        CHECK_FALSE(utf8::isValid(bad));
        CHECK_FALSE(utf8::decodeAt(bad, 0).valid);
    }
    // A truncated sequence is taken with the continuation bytes read with it: one
    // replacement, then the reader goes on at the next character.
    const std::string cut =
        "\xE5\x8F"
        "b";
    const auto d = utf8::decodeAt(cut, 0);
    CHECK_FALSE(d.valid);
    CHECK(d.length == 2);
    CHECK(utf8::decodeAt(cut, d.length).codePoint == U'b');
}
