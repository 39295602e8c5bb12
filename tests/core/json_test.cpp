#include <catch2/catch.hpp>

#include "microscape/core/json.hpp"

using namespace microscape;
using namespace microscape::json;

TEST_CASE("canonical JSON sorts keys, drops whitespace and keeps UTF-8", "[json]") {
    auto v = parse(R"( { "b": [1, 2, {"z": null, "a": true}], "a": "反诈防骗", "c": -7 } )");
    REQUIRE(v.ok());
    CHECK(canonical(*v) == R"({"a":"反诈防骗","b":[1,2,{"a":true,"z":null}],"c":-7})");
}

TEST_CASE("canonical JSON escapes only what it must", "[json]") {
    Value v(std::string("q\"b\\s/\n\t\x01\x7f 一盔一带"));
    CHECK(canonical(v) == "\"q\\\"b\\\\s/\\n\\t\\u0001\x7f 一盔一带\"");
    auto back = parseCanonical(canonical(v));
    REQUIRE(back.ok());
    CHECK(*back == v);
}

TEST_CASE("escapes in input decode to UTF-8, surrogate pairs included", "[json]") {
    auto v = parse(R"("\u53cd\u8bc8 \ud83d\ude00 \/")");
    REQUIRE(v.ok());
    CHECK(v->asString() == "反诈 😀 /");
}

TEST_CASE("strict parser rejects ambiguous or invalid input", "[json]") {
    const char* bad[] = {
        "",
        "{",
        "{\"a\":1,\"a\":2}",  // duplicate key
        "1.5",                // fractions
        "1e3",                // exponents
        "01",                 // leading zero
        "-0",                 // negative zero
        "9007199254740992",   // beyond 2^53-1
        "\"\\ud800\"",        // lone high surrogate
        "\"\\udc00\"",        // lone low surrogate
        "\"\xff\"",           // invalid UTF-8
        "\"\xc0\xaf\"",       // overlong
        "\"\xed\xa0\x80\"",   // encoded surrogate
        "\"a\nb\"",           // raw control character
        "[1,]",
        "{\"a\" 1}",
        "tru",
        "[1] x",
        "\"\\x\"",
        "NaN",
    };
    for (const char* text : bad) {
        INFO(text);
        auto r = parse(text);
        CHECK_FALSE(r.ok());
        if (!r.ok()) CHECK(r.code() == Errc::BadJson);
    }
}

TEST_CASE("parser limits depth and size", "[json]") {
    std::string deep(100, '[');
    deep += std::string(100, ']');
    CHECK(parse(deep).code() == Errc::BadJson);
    ParseLimits small;
    small.maxBytes = 4;
    CHECK(parse("[1,2,3]", small).code() == Errc::TooLarge);
}

TEST_CASE("parseCanonical accepts canonical bytes only", "[json]") {
    CHECK(parseCanonical(R"({"a":1,"b":2})").ok());
    CHECK(parseCanonical(R"({"b":2,"a":1})").code() == Errc::NotCanonical);
    CHECK(parseCanonical(R"({"a": 1})").code() == Errc::NotCanonical);
    CHECK(parseCanonical(R"("\u0041")").code() == Errc::NotCanonical);
    CHECK(parseCanonical(R"("\/")").code() == Errc::NotCanonical);
}

TEST_CASE("extreme integers round-trip", "[json]") {
    for (std::int64_t n : {kMaxSafeInteger, -kMaxSafeInteger, std::int64_t{0}, std::int64_t{-1}}) {
        auto r = parseCanonical(canonical(Value(n)));
        REQUIRE(r.ok());
        CHECK(r->asInt() == n);
    }
}

namespace {
// The reference definition: canonical means canonical(parse(x)) == x.
Errc referenceCanonical(std::string_view text) {
    auto v = parse(text);
    if (!v) return v.code();
    return canonical(*v) == text ? Errc::Ok : Errc::NotCanonical;
}
}  // namespace

TEST_CASE("parseCanonical decides exactly like canonical(parse(x)) == x", "[json]") {
    std::vector<std::string> seeds = {
        R"({"a":1,"b":[true,false,null],"c":"反诈\n\t\"\\\u0001\u001f/","d":{}})",
        R"([{"k":"v"},[],"",-12,0])",
        R"({"media":[{"name":"一盔一带","sha256":"ab"}],"version":3})",
    };
    const std::vector<std::string> inserts = {
        " ",    "\n", "\\/",      "\\u0041",  "\\u001F", "\\u001f", "\\u0008", "\\b",     "\\ud83d\\ude00",
        "😀",    ",",  "\"z\":1,", "\"a\":0,", "0",       "-",       "\x7f",    "\\u007f", "\"",
        "\\\\", "}",  "]"};
    std::uint64_t rng = 12345;
    auto next = [&] {
        rng = rng * 6364136223846793005ull + 1442695040888963407ull;
        return static_cast<std::size_t>(rng >> 33);
    };
    int checked = 0;
    for (const auto& seed : seeds) {
        auto canon = canonical(*parse(seed));
        REQUIRE(parseCanonical(canon).ok());
        for (int i = 0; i < 4000; ++i) {
            std::string m = canon;
            int edits = 1 + static_cast<int>(next() % 2);
            for (int e = 0; e < edits; ++e) {
                std::size_t at = next() % (m.size() + 1);
                if (next() % 3 == 0 && !m.empty() && at < m.size())
                    m.erase(at, 1 + next() % 3);
                else
                    m.insert(at, inserts[next() % inserts.size()]);
            }
            Errc expected = referenceCanonical(m);
            auto got = parseCanonical(m);
            INFO(m);
            CHECK(got.code() == expected);
            ++checked;
        }
    }
    CHECK(checked == 12000);
}
