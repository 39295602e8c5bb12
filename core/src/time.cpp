#include "microscape/core/time.hpp"

#include <cstdio>

namespace microscape::timeutil {

namespace {

constexpr std::int64_t kMsPerDay = 86400000;

std::int64_t floorDiv(std::int64_t a, std::int64_t b) {
    std::int64_t q = a / b;
    if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
    return q;
}

bool digits(std::string_view s, std::size_t pos, std::size_t n, int& out) {
    if (pos + n > s.size()) return false;
    int v = 0;
    for (std::size_t i = 0; i < n; ++i) {
        char c = s[pos + i];
        if (c < '0' || c > '9') return false;
        v = v * 10 + (c - '0');
    }
    out = v;
    return true;
}

int daysInMonth(int y, int m) {
    static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : kDays[m - 1];
}

// Parses "YYYY-MM-DDTHH:MM:SS" at the start of s; returns the ms and sets consumed.
bool parseDateTime(std::string_view s, std::int64_t& ms, std::size_t& consumed) {
    CivilDate d;
    int hh, mi, ss;
    if (s.size() < 19 || !digits(s, 0, 4, d.year) || s[4] != '-' || !digits(s, 5, 2, d.month) || s[7] != '-' ||
        !digits(s, 8, 2, d.day) || s[10] != 'T' || !digits(s, 11, 2, hh) || s[13] != ':' || !digits(s, 14, 2, mi) ||
        s[16] != ':' || !digits(s, 17, 2, ss))
        return false;
    if (!isValidDate(d) || hh > 23 || mi > 59 || ss > 59) return false;
    ms = daysFromCivil(d) * kMsPerDay + (hh * 3600LL + mi * 60LL + ss) * 1000LL;
    consumed = 19;
    return true;
}

}  // namespace

bool isValidDate(const CivilDate& d) {
    return d.year >= 1 && d.year <= 9999 && d.month >= 1 && d.month <= 12 && d.day >= 1 &&
           d.day <= daysInMonth(d.year, d.month);
}

std::int64_t daysFromCivil(const CivilDate& d) {
    // Shifts the year to start in March so that the leap day is the last day.
    std::int64_t y = d.year - (d.month <= 2 ? 1 : 0);
    std::int64_t era = floorDiv(y, 400);
    std::int64_t yoe = y - era * 400;
    std::int64_t mp = (d.month + 9) % 12;
    std::int64_t doy = (153 * mp + 2) / 5 + d.day - 1;
    std::int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

CivilDate civilFromDays(std::int64_t z) {
    z += 719468;
    std::int64_t era = floorDiv(z, 146097);
    std::int64_t doe = z - era * 146097;
    std::int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    std::int64_t y = yoe + era * 400;
    std::int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    std::int64_t mp = (5 * doy + 2) / 153;
    int d = static_cast<int>(doy - (153 * mp + 2) / 5 + 1);
    int m = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
    return CivilDate{static_cast<int>(y + (m <= 2 ? 1 : 0)), m, d};
}

int isoWeekday(std::int64_t days) {
    // 1970-01-01 was a Thursday (4).
    std::int64_t w = (days + 3) % 7;
    if (w < 0) w += 7;
    return static_cast<int>(w) + 1;
}

std::string formatUtc(std::int64_t utcMs) {
    std::int64_t days = floorDiv(utcMs, kMsPerDay);
    std::int64_t secOfDay = (utcMs - days * kMsPerDay) / 1000;
    CivilDate d = civilFromDays(days);
    char buf[32];
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02dZ", d.year, d.month, d.day,
                  static_cast<int>(secOfDay / 3600), static_cast<int>(secOfDay / 60 % 60),
                  static_cast<int>(secOfDay % 60));
    return buf;
}

std::string formatUtcMs(std::int64_t utcMs) {
    std::string s = formatUtc(utcMs);
    std::int64_t ms = utcMs - floorDiv(utcMs, 1000) * 1000;
    char buf[8];
    std::snprintf(buf, sizeof buf, ".%03dZ", static_cast<int>(ms));
    s.pop_back();
    return s + buf;
}

Result<std::int64_t> parseUtcStrict(std::string_view text) {
    std::int64_t ms = 0;
    std::size_t used = 0;
    if (text.size() != 20 || !parseDateTime(text, ms, used) || text[19] != 'Z')
        return makeError(Errc::BadManifest, "time '" + std::string(text) + "' is not of the form YYYY-MM-DDTHH:MM:SSZ");
    return ms;
}

Result<std::int64_t> parseIso8601(std::string_view text) {
    auto bad = [&] {
        return makeError(Errc::Usage,
                         "'" + std::string(text) + "' is not an ISO 8601 time (e.g. 2026-04-15T08:00:00+08:00)");
    };
    if (text.size() == 10) {
        auto d = parseDate(text);
        if (!d) return bad();
        return daysFromCivil(*d) * kMsPerDay;
    }
    std::int64_t ms = 0;
    std::size_t pos = 0;
    if (!parseDateTime(text, ms, pos)) return bad();
    if (pos < text.size() && text[pos] == '.') {
        ++pos;
        std::int64_t frac = 0;
        int n = 0;
        while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
            if (n < 3) frac = frac * 10 + (text[pos] - '0');
            ++n;
            ++pos;
        }
        if (n == 0) return bad();
        for (int i = n; i < 3; ++i) frac *= 10;
        ms += frac;
    }
    if (pos == text.size()) return bad();
    if (text[pos] == 'Z' && pos + 1 == text.size()) return ms;
    if ((text[pos] == '+' || text[pos] == '-') && pos + 6 == text.size() && text[pos + 3] == ':') {
        int oh, om;
        if (!digits(text, pos + 1, 2, oh) || !digits(text, pos + 4, 2, om) || oh > 23 || om > 59) return bad();
        std::int64_t off = (oh * 60LL + om) * 60000LL;
        return text[pos] == '+' ? ms - off : ms + off;
    }
    return bad();
}

Result<CivilDate> parseDate(std::string_view text) {
    CivilDate d;
    if (text.size() != 10 || !digits(text, 0, 4, d.year) || text[4] != '-' || !digits(text, 5, 2, d.month) ||
        text[7] != '-' || !digits(text, 8, 2, d.day) || !isValidDate(d))
        return makeError(Errc::BadManifest, "date '" + std::string(text) + "' is not a valid YYYY-MM-DD");
    return d;
}

std::string formatDate(const CivilDate& d) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02d", d.year, d.month, d.day);
    return buf;
}

}  // namespace microscape::timeutil
