#include <catch2/catch.hpp>

#include "microscape/core/manifest.hpp"

using namespace microscape;

TEST_CASE("display names keep Chinese text but refuse spoofing controls", "[manifest]") {
    CHECK(manifest::isValidDisplayName("反诈防骗海报"));
    CHECK(manifest::isValidDisplayName("一盔一带 · 安全常在"));
    CHECK(manifest::isValidFileName("2025国家安全教育日.mp4"));
    // U+202E RIGHT-TO-LEFT OVERRIDE would make "gpj.exe" read as "exe.jpg".
    CHECK_FALSE(
        manifest::isValidDisplayName("poster\xe2\x80\xae"
                                     "gpj.exe"));
    CHECK_FALSE(
        manifest::isValidDisplayName("a\xe2\x81\xa6"
                                     "b"));  // U+2066 LEFT-TO-RIGHT ISOLATE
    CHECK_FALSE(
        manifest::isValidDisplayName("a\xc2\x85"
                                     "b"));  // U+0085 NEXT LINE (C1)
    CHECK(
        manifest::isValidDisplayName("a\xe2\x80\x94"
                                     "b"));  // U+2014 EM DASH is fine
    CHECK_FALSE(manifest::isValidFileName("../x"));
    CHECK_FALSE(manifest::isValidFileName(".."));
    CHECK_FALSE(manifest::isValidFileName("a\\b"));
    CHECK_FALSE(manifest::isValidDisplayName(std::string(256, 'a')));
    CHECK_FALSE(manifest::isValidDisplayName("\xff"));
}
