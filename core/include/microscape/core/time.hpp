// UTC time as integer milliseconds since the Unix epoch, and its text forms.
// Pure functions; thread-safe. Nothing here reads a clock.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "microscape/core/result.hpp"

namespace microscape::timeutil {

// The end of the representable UTC range: 10000-01-01T00:00:00Z (exclusive), in
// milliseconds. Every signed document refuses instants at or beyond it.
constexpr std::int64_t kMaxUtcMs = 253'402'300'800'000;

struct CivilDate {
    int year = 1970;
    int month = 1;  // 1..12
    int day = 1;    // 1..31
};

// Days since 1970-01-01 for a proleptic Gregorian date, and back.
std::int64_t daysFromCivil(const CivilDate& d);
CivilDate civilFromDays(std::int64_t days);
// ISO weekday (Monday = 1 ... Sunday = 7) of a day count since the epoch.
int isoWeekday(std::int64_t days);
bool isValidDate(const CivilDate& d);

// "YYYY-MM-DDTHH:MM:SSZ" (second precision; milliseconds are truncated).
std::string formatUtc(std::int64_t utcMs);
// "YYYY-MM-DDTHH:MM:SS.mmmZ".
std::string formatUtcMs(std::int64_t utcMs);

// Strict form used in manifests: exactly "YYYY-MM-DDTHH:MM:SSZ". Errors: BadManifest.
Result<std::int64_t> parseUtcStrict(std::string_view text);

// Lenient form for command lines: RFC 3339 with optional fraction and a "Z" or
// "+hh:mm"/"-hh:mm" offset, or a bare date ("YYYY-MM-DD", meaning 00:00 UTC).
// Errors: Usage.
Result<std::int64_t> parseIso8601(std::string_view text);

// "YYYY-MM-DD" → CivilDate. Errors: BadManifest.
Result<CivilDate> parseDate(std::string_view text);
std::string formatDate(const CivilDate& d);

}  // namespace microscape::timeutil
