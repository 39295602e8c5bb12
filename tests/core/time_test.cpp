#include <catch2/catch.hpp>

#include "../support/catch_errc.hpp"
#include "microscape/core/time.hpp"

using namespace microscape;
using namespace microscape::timeutil;

namespace {

constexpr std::int64_t kDayMs = 86400000;

bool sameDate(const CivilDate& a, const CivilDate& b) {
    return a.year == b.year && a.month == b.month && a.day == b.day;
}

std::int64_t strict(std::string_view text) {
    return parseUtcStrict(text).value();
}

}  // namespace

TEST_CASE("civil dates convert to and from day counts", "[time]") {
    struct Known {
        CivilDate date;
        std::int64_t days;
        int isoWeekday;
    };
    const Known known[] = {
        {{1970, 1, 1}, 0, 4},     {{1969, 12, 31}, -1, 3},      {{2000, 1, 1}, 10957, 6},  {{2000, 2, 29}, 11016, 2},
        {{2000, 3, 1}, 11017, 3}, {{2100, 2, 28}, 47540, 7},    {{2100, 3, 1}, 47541, 1},  {{2026, 4, 15}, 20558, 3},
        {{1, 1, 1}, -719162, 1},  {{9999, 12, 31}, 2932896, 5}, {{1900, 3, 1}, -25508, 4}, {{2400, 2, 29}, 157113, 2},
    };
    for (const auto& k : known) {
        INFO(formatDate(k.date));
        CHECK(daysFromCivil(k.date) == k.days);
        CHECK(sameDate(civilFromDays(k.days), k.date));
        CHECK(isoWeekday(k.days) == k.isoWeekday);
    }
    SECTION("consecutive day counts are consecutive valid dates, 0001 to 9999") {
        CivilDate prev = civilFromDays(-719162);
        REQUIRE(sameDate(prev, CivilDate{1, 1, 1}));
        int mismatches = 0;
        for (std::int64_t d = -719161; d <= 2932896; ++d) {
            CivilDate c = civilFromDays(d);
            bool next = (c.year == prev.year && c.month == prev.month && c.day == prev.day + 1) ||
                        (c.year == prev.year && c.month == prev.month + 1 && c.day == 1) ||
                        (c.year == prev.year + 1 && c.month == 1 && c.day == 1 && prev.month == 12);
            if (!next || !isValidDate(c) || daysFromCivil(c) != d) ++mismatches;
            prev = c;
        }
        CHECK(mismatches == 0);
        CHECK(sameDate(prev, CivilDate{9999, 12, 31}));
    }
    SECTION("weekdays cycle Monday to Sunday, before and after 1970") {
        for (std::int64_t d = -20; d < 20; ++d) CHECK(isoWeekday(d + 1) == isoWeekday(d) % 7 + 1);
        CHECK(isoWeekday(-3) == 1);  // 1969-12-29 was a Monday
    }
}

TEST_CASE("leap years follow the Gregorian rule", "[time]") {
    CHECK(isValidDate({2000, 2, 29}));
    CHECK(isValidDate({2024, 2, 29}));
    CHECK(isValidDate({2400, 2, 29}));
    CHECK_FALSE(isValidDate({1900, 2, 29}));
    CHECK_FALSE(isValidDate({2100, 2, 29}));
    CHECK_FALSE(isValidDate({2026, 2, 29}));
    CHECK(daysFromCivil({2100, 3, 1}) - daysFromCivil({2100, 2, 28}) == 1);
    CHECK(daysFromCivil({2000, 3, 1}) - daysFromCivil({2000, 2, 28}) == 2);
    CHECK(daysFromCivil({2001, 1, 1}) - daysFromCivil({2000, 1, 1}) == 366);
    CHECK(daysFromCivil({2101, 1, 1}) - daysFromCivil({2100, 1, 1}) == 365);

    for (CivilDate bad : {CivilDate{2026, 4, 31}, CivilDate{2026, 6, 31}, CivilDate{2026, 0, 1}, CivilDate{2026, 13, 1},
                          CivilDate{2026, 1, 0}, CivilDate{2026, 1, 32}, CivilDate{0, 1, 1}, CivilDate{10000, 1, 1},
                          CivilDate{-1, 1, 1}}) {
        INFO(bad.year << "-" << bad.month << "-" << bad.day);
        CHECK_FALSE(isValidDate(bad));
    }
}

TEST_CASE("UTC formatting", "[time]") {
    CHECK(formatUtc(0) == "1970-01-01T00:00:00Z");
    CHECK(formatUtc(-1) == "1969-12-31T23:59:59Z");
    CHECK(formatUtc(1999) == "1970-01-01T00:00:01Z");  // milliseconds are truncated
    CHECK(formatUtc(11016 * kDayMs + 86399000) == "2000-02-29T23:59:59Z");
    CHECK(formatUtc(47540 * kDayMs + kDayMs) == "2100-03-01T00:00:00Z");
    CHECK(formatUtcMs(0) == "1970-01-01T00:00:00.000Z");
    CHECK(formatUtcMs(-1) == "1969-12-31T23:59:59.999Z");
    CHECK(formatUtcMs(1776240000123) == "2026-04-15T08:00:00.123Z");
    CHECK(formatDate({2026, 4, 15}) == "2026-04-15");
    CHECK(formatDate({1, 1, 1}) == "0001-01-01");
}

TEST_CASE("strict UTC parsing round trips with formatting", "[time]") {
    CHECK(strict("1970-01-01T00:00:00Z") == 0);
    CHECK(strict("2026-04-15T08:00:00Z") == 1776240000000);
    CHECK(strict("2000-02-29T12:34:56Z") == 11016 * kDayMs + (12 * 3600 + 34 * 60 + 56) * 1000LL);
    CHECK(strict("1969-12-31T23:59:59Z") == -1000);
    CHECK(strict("0001-01-01T00:00:00Z") == -719162 * kDayMs);
    CHECK(strict("9999-12-31T23:59:59Z") == 2932896 * kDayMs + 86399000);

    // Every second of a leap day and across the 2100 non-leap boundary, and a
    // spread of instants over the whole supported range.
    std::vector<std::int64_t> samples;
    for (std::int64_t s = 0; s < 86400; s += 61) samples.push_back(11016 * kDayMs + s * 1000);
    for (std::int64_t s = -3600; s < 3600; s += 7) samples.push_back(47541 * kDayMs + s * 1000);
    for (std::int64_t d = -719162; d <= 2932896; d += 997)
        samples.push_back(d * kDayMs + (d % 86400 + 86400) % 86400 * 1000);
    for (std::int64_t ms : samples) {
        std::string text = formatUtc(ms);
        auto back = parseUtcStrict(text);
        INFO(text);
        REQUIRE(back.ok());
        CHECK(*back == ms);
    }
}

TEST_CASE("strict parsing accepts only YYYY-MM-DDTHH:MM:SSZ", "[time]") {
    for (const char* bad :
         {"2026-04-15T08:00:00+08:00", "2026-04-15T08:00:00.000Z", "2026-04-15", "2026-04-15T08:00:00",
          "2026-04-15T08:00:00z", "2026-04-15t08:00:00Z", "2026-04-15 08:00:00Z", "2026-04-15T8:00:00Z",
          "2026-02-29T00:00:00Z", "2100-02-29T00:00:00Z", "2026-04-15T24:00:00Z", "2026-04-15T23:59:60Z",
          "0000-01-01T00:00:00Z", "+2026-04-15T08:00:00Z", "2026-04-15T08:00:00ZZ", "", "Z"}) {
        INFO(bad);
        CHECK(parseUtcStrict(bad).code() == Errc::BadManifest);
    }
}

TEST_CASE("lenient ISO 8601 parsing for command lines", "[time]") {
    const std::int64_t midnightUtc = strict("2026-04-15T00:00:00Z");
    CHECK(*parseIso8601("2026-04-15T08:00:00+08:00") == midnightUtc);
    CHECK(*parseIso8601("2026-04-15T00:00:00Z") == midnightUtc);
    CHECK(*parseIso8601("2026-04-14T18:30:00-05:30") == midnightUtc);
    CHECK(*parseIso8601("2026-04-15T00:00:00+00:00") == midnightUtc);
    CHECK(*parseIso8601("2026-04-15T00:00:00-00:00") == midnightUtc);
    CHECK(*parseIso8601("2026-04-15") == midnightUtc);  // a bare date is 00:00 UTC
    CHECK(*parseIso8601("2026-01-01T05:00:00+08:00") == strict("2025-12-31T21:00:00Z"));
    CHECK(*parseIso8601("2024-03-01T07:59:59+08:00") == strict("2024-02-29T23:59:59Z"));
    CHECK(*parseIso8601("2026-04-15T00:00:00.5Z") == midnightUtc + 500);
    CHECK(*parseIso8601("2026-04-15T00:00:00.05Z") == midnightUtc + 50);
    CHECK(*parseIso8601("2026-04-15T00:00:00.123Z") == midnightUtc + 123);
    CHECK(*parseIso8601("2026-04-15T00:00:00.123999Z") == midnightUtc + 123);  // truncated to ms
    CHECK(*parseIso8601("2026-04-15T08:00:00.250+08:00") == midnightUtc + 250);

    for (const char* bad :
         {"", "today", "2026-04-15T08:00:00", "2026-04-15 08:00:00Z", "2026-04-15T08:00Z", "2026-04-15T08:00:00+0800",
          "2026-04-15T08:00:00+08", "2026-04-15T08:00:00+24:00", "2026-04-15T08:00:00+08:60", "2026-04-15T08:00:00.Z",
          "2026-04-15T08:00:00z", "2026-04-15T08:00:00+08:00x", "2026-02-30", "2026-02-30T00:00:00Z", "2026-4-15",
          "2026-04-15T08:00:00 +08:00", "2026-04-15T08:00:00Z+08:00", "20260415T080000Z"}) {
        INFO(bad);
        CHECK(parseIso8601(bad).code() == Errc::Usage);
    }
}

TEST_CASE("date parsing", "[time]") {
    auto d = parseDate("2000-02-29");
    REQUIRE(d.ok());
    CHECK(sameDate(*d, CivilDate{2000, 2, 29}));
    CHECK(formatDate(*d) == "2000-02-29");
    for (const char* bad : {"2100-02-29", "2026-00-10", "2026-04-31", "2026-4-15", "26-04-15", "2026/04/15",
                            "2026-04-15T00:00:00Z", ""}) {
        INFO(bad);
        CHECK(parseDate(bad).code() == Errc::BadManifest);
    }
}
