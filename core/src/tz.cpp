#include "microscape/core/tz.hpp"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <limits>
#include <system_error>

namespace microscape::tz {
namespace {

constexpr std::int64_t kDaySeconds = 86400;

std::int64_t floorDiv(std::int64_t a, std::int64_t b) {
    std::int64_t q = a / b;
    if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
    return q;
}

Error bad(std::string message) {
    return makeError(Errc::BadManifest, std::move(message));
}

// ---------------------------------------------------------------------------
// Calendar arithmetic on days since 1970-01-01 (proleptic Gregorian).

std::int64_t daysFromCivil(int year, unsigned month, unsigned day) {
    using namespace std::chrono;
    const sys_days d{year_month_day{std::chrono::year{year}, std::chrono::month{month}, std::chrono::day{day}}};
    return d.time_since_epoch().count();
}

int yearOfDays(std::int64_t days) {
    using namespace std::chrono;
    const year_month_day ymd{sys_days{std::chrono::days{days}}};
    return static_cast<int>(ymd.year());
}

bool isLeap(int year) {
    return std::chrono::year{year}.is_leap();
}

// 0 = Sunday.
unsigned weekdayOfDays(std::int64_t days) {
    using namespace std::chrono;
    return weekday{sys_days{std::chrono::days{days}}}.c_encoding();
}

unsigned daysInMonth(int year, unsigned month) {
    using namespace std::chrono;
    const year_month_day_last last{std::chrono::year{year}, month_day_last{std::chrono::month{month}}};
    return static_cast<unsigned>(last.day());
}

// The day (days since epoch) a POSIX rule date falls on in a given year.
std::int64_t ruleDay(const PosixDate& date, int year) {
    const std::int64_t jan1 = daysFromCivil(year, 1, 1);
    switch (date.kind) {
        case PosixDate::Kind::Julian1: {
            int n = date.day - 1;  // zero-based, February 29 not counted
            if (isLeap(year) && date.day >= 60) ++n;
            return jan1 + n;
        }
        case PosixDate::Kind::Julian0:
            return jan1 + date.day;
        case PosixDate::Kind::MonthWeekDay: {
            const auto month = static_cast<unsigned>(date.month);
            const std::int64_t first = daysFromCivil(year, month, 1);
            const unsigned firstWeekday = weekdayOfDays(first);
            unsigned dom = 1 + (static_cast<unsigned>(date.day) + 7 - firstWeekday) % 7;
            dom += 7 * static_cast<unsigned>(date.week - 1);
            const unsigned len = daysInMonth(year, month);
            while (dom > len) dom -= 7;
            return first + (dom - 1);
        }
    }
    return jan1;
}

struct RuleEvent {
    std::int64_t utcSeconds;
    std::int32_t offsetSeconds;
};

// The DST changes of a footer rule for years [firstYear, lastYear], in time order.
// Equal instants keep generation order (start then end of each year), which makes
// "permanent DST" rules such as "EST5EDT,0/0,J365/25" come out as DST.
std::vector<RuleEvent> ruleEvents(const PosixTz& rule, int firstYear, int lastYear) {
    std::vector<RuleEvent> events;
    if (!rule.hasDst) return events;
    events.reserve(static_cast<std::size_t>(lastYear - firstYear + 1) * 2);
    for (int y = firstYear; y <= lastYear; ++y) {
        const std::int64_t startLocal = ruleDay(rule.dstStart, y) * kDaySeconds + rule.dstStart.timeSeconds;
        const std::int64_t endLocal = ruleDay(rule.dstEnd, y) * kDaySeconds + rule.dstEnd.timeSeconds;
        events.push_back({startLocal - rule.stdOffsetSeconds, rule.dstOffsetSeconds});
        events.push_back({endLocal - rule.dstOffsetSeconds, rule.stdOffsetSeconds});
    }
    std::stable_sort(events.begin(), events.end(),
                     [](const RuleEvent& a, const RuleEvent& b) { return a.utcSeconds < b.utcSeconds; });
    return events;
}

// Instants outside years 1..9999 are evaluated as if at the nearest end of that
// range, which keeps the calendar arithmetic in range.
constexpr std::int64_t kMinRuleSeconds = -62135596800;  // 0001-01-01T00:00:00Z
constexpr std::int64_t kMaxRuleSeconds = 253402300799;  // 9999-12-31T23:59:59Z

std::int32_t ruleOffsetAt(const PosixTz& rule, std::int64_t utcSeconds) {
    if (!rule.hasDst) return rule.stdOffsetSeconds;
    utcSeconds = std::clamp(utcSeconds, kMinRuleSeconds, kMaxRuleSeconds);
    const int year = yearOfDays(floorDiv(utcSeconds, kDaySeconds));
    // Two years back: a rule time may be up to 167 hours past its day.
    const auto events = ruleEvents(rule, year - 2, year + 1);
    std::int32_t offset = rule.stdOffsetSeconds;
    for (const auto& e : events) {
        if (e.utcSeconds > utcSeconds) break;
        offset = e.offsetSeconds;
    }
    return offset;
}

// ---------------------------------------------------------------------------
// POSIX TZ strings.

class TzTextParser {
  public:
    explicit TzTextParser(std::string_view s) : s_(s) {}

    bool atEnd() const { return pos_ == s_.size(); }
    char peek() const { return atEnd() ? '\0' : s_[pos_]; }
    bool accept(char c) {
        if (peek() != c || atEnd()) return false;
        ++pos_;
        return true;
    }

    Result<std::string> name() {
        std::string out;
        if (accept('<')) {
            while (!atEnd() && peek() != '>') {
                const char c = peek();
                const bool ok =
                    (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '-';
                if (!ok) return bad("tz string: bad character in quoted name");
                out += c;
                ++pos_;
            }
            if (!accept('>')) return bad("tz string: unterminated quoted name");
        } else {
            while (!atEnd() && ((peek() >= 'A' && peek() <= 'Z') || (peek() >= 'a' && peek() <= 'z'))) {
                out += peek();
                ++pos_;
            }
        }
        if (out.size() < 3) return bad("tz string: a zone abbreviation needs at least 3 characters");
        return out;
    }

    // [+-]hh[:mm[:ss]] with hh <= maxHours; returns signed seconds as written.
    Result<std::int32_t> hms(int maxHours, bool allowSign) {
        int sign = 1;
        if (allowSign) {
            if (accept('-')) {
                sign = -1;
            } else {
                (void)accept('+');
            }
        }
        auto digits = [&](int maxDigits, int& value) -> bool {
            int n = 0;
            value = 0;
            while (n < maxDigits && !atEnd() && peek() >= '0' && peek() <= '9') {
                value = value * 10 + (peek() - '0');
                ++pos_;
                ++n;
            }
            return n > 0;
        };
        int h = 0, m = 0, sec = 0;
        if (!digits(3, h) || h > maxHours) return bad("tz string: bad hours");
        if (accept(':')) {
            if (!digits(2, m) || m > 59) return bad("tz string: bad minutes");
            if (accept(':')) {
                if (!digits(2, sec) || sec > 59) return bad("tz string: bad seconds");
            }
        }
        return static_cast<std::int32_t>(sign * (h * 3600 + m * 60 + sec));
    }

    Result<int> number(int lo, int hi) {
        int value = 0, n = 0;
        while (n < 4 && !atEnd() && peek() >= '0' && peek() <= '9') {
            value = value * 10 + (peek() - '0');
            ++pos_;
            ++n;
        }
        if (n == 0 || value < lo || value > hi) return bad("tz string: number out of range");
        return value;
    }

    Result<PosixDate> date() {
        PosixDate d;
        if (accept('J')) {
            d.kind = PosixDate::Kind::Julian1;
            auto n = number(1, 365);
            MS_TRY(n);
            d.day = *n;
        } else if (accept('M')) {
            d.kind = PosixDate::Kind::MonthWeekDay;
            auto m = number(1, 12);
            MS_TRY(m);
            if (!accept('.')) return bad("tz string: expected '.' in Mm.w.d");
            auto w = number(1, 5);
            MS_TRY(w);
            if (!accept('.')) return bad("tz string: expected '.' in Mm.w.d");
            auto wd = number(0, 6);
            MS_TRY(wd);
            d.month = *m;
            d.week = *w;
            d.day = *wd;
        } else {
            d.kind = PosixDate::Kind::Julian0;
            auto n = number(0, 365);
            MS_TRY(n);
            d.day = *n;
        }
        if (accept('/')) {
            auto t = hms(167, true);
            MS_TRY(t);
            d.timeSeconds = *t;
        }
        return d;
    }

  private:
    std::string_view s_;
    std::size_t pos_ = 0;
};

// ---------------------------------------------------------------------------
// TZif.

struct TzifHeader {
    char version = 0;
    std::uint32_t isutcnt = 0, isstdcnt = 0, leapcnt = 0, timecnt = 0, typecnt = 0, charcnt = 0;
};

constexpr std::size_t kHeaderBytes = 44;

std::uint32_t be32(std::string_view b, std::size_t at) {
    return (std::uint32_t(static_cast<unsigned char>(b[at])) << 24) |
           (std::uint32_t(static_cast<unsigned char>(b[at + 1])) << 16) |
           (std::uint32_t(static_cast<unsigned char>(b[at + 2])) << 8) |
           std::uint32_t(static_cast<unsigned char>(b[at + 3]));
}

std::uint64_t be64(std::string_view b, std::size_t at) {
    return (std::uint64_t(be32(b, at)) << 32) | be32(b, at + 4);
}

Result<TzifHeader> readHeader(std::string_view bytes, std::size_t at) {
    if (bytes.size() < at + kHeaderBytes) return makeError(Errc::Truncated, "tzif: file ends inside a header");
    if (bytes.substr(at, 4) != "TZif") return makeError(Errc::UnsupportedFormat, "tzif: bad magic");
    TzifHeader h;
    h.version = bytes[at + 4];
    if (h.version != '\0' && h.version != '2' && h.version != '3' && h.version != '4')
        return makeError(Errc::UnsupportedFormat, "tzif: unknown version");
    const std::size_t c = at + 20;
    h.isutcnt = be32(bytes, c);
    h.isstdcnt = be32(bytes, c + 4);
    h.leapcnt = be32(bytes, c + 8);
    h.timecnt = be32(bytes, c + 12);
    h.typecnt = be32(bytes, c + 16);
    h.charcnt = be32(bytes, c + 20);
    if (h.leapcnt != 0)
        return makeError(Errc::UnsupportedFormat, "tzif: leap-second data (\"right/\" zones) is not supported");
    if (h.typecnt == 0 || h.typecnt > 256) return bad("tzif: type count out of range");
    if (h.charcnt == 0) return bad("tzif: designation count is zero");
    if (h.isutcnt != 0 && h.isutcnt != h.typecnt) return bad("tzif: UT indicator count mismatch");
    if (h.isstdcnt != 0 && h.isstdcnt != h.typecnt) return bad("tzif: standard indicator count mismatch");
    return h;
}

std::uint64_t blockBytes(const TzifHeader& h, unsigned timeBytes) {
    return std::uint64_t(h.timecnt) * timeBytes + h.timecnt + std::uint64_t(h.typecnt) * 6 + h.charcnt +
           std::uint64_t(h.leapcnt) * (timeBytes + 4) + h.isstdcnt + h.isutcnt;
}

// Reads one data block (already known to fit in bytes) into zone.
Status readBlock(std::string_view bytes, std::size_t at, const TzifHeader& h, unsigned timeBytes, Zone& zone) {
    std::size_t p = at;
    zone.transitionsUtcSeconds.resize(h.timecnt);
    for (std::uint32_t i = 0; i < h.timecnt; ++i, p += timeBytes) {
        const std::int64_t t =
            timeBytes == 8 ? static_cast<std::int64_t>(be64(bytes, p)) : static_cast<std::int32_t>(be32(bytes, p));
        if (i > 0 && t <= zone.transitionsUtcSeconds[i - 1]) return bad("tzif: transition times not ascending");
        zone.transitionsUtcSeconds[i] = t;
    }
    zone.transitionTypes.resize(h.timecnt);
    for (std::uint32_t i = 0; i < h.timecnt; ++i, ++p) {
        const auto type = static_cast<std::uint8_t>(bytes[p]);
        if (type >= h.typecnt) return bad("tzif: transition type index out of range");
        zone.transitionTypes[i] = type;
    }
    const std::size_t typesAt = p;
    const std::string_view chars = bytes.substr(typesAt + std::size_t(h.typecnt) * 6, h.charcnt);
    zone.types.resize(h.typecnt);
    for (std::uint32_t i = 0; i < h.typecnt; ++i, p += 6) {
        const auto utoff = static_cast<std::int32_t>(be32(bytes, p));
        const auto isdst = static_cast<unsigned char>(bytes[p + 4]);
        const auto idx = static_cast<unsigned char>(bytes[p + 5]);
        if (utoff < -89999 || utoff > 93599) return bad("tzif: UTC offset out of range");
        if (isdst > 1) return bad("tzif: DST flag is not 0 or 1");
        if (idx >= h.charcnt) return bad("tzif: designation index out of range");
        const std::size_t nul = chars.find('\0', idx);
        if (nul == std::string_view::npos) return bad("tzif: designation not terminated");
        zone.types[i] = LocalTimeType{utoff, isdst == 1, std::string(chars.substr(idx, nul - idx))};
    }
    p += h.charcnt;
    // Leap records are refused in readHeader; the indicators only matter for
    // POSIX-style rules without a footer, which we do not use.
    for (std::uint32_t i = 0; i < h.isstdcnt + h.isutcnt; ++i, ++p) {
        if (static_cast<unsigned char>(bytes[p]) > 1) return bad("tzif: indicator is not 0 or 1");
    }
    for (std::uint32_t i = 0; i < h.isutcnt; ++i) {
        // A UT indicator of 1 requires the standard indicator to be 1 too (RFC 8536 3.2).
        const std::size_t stdAt = p - h.isutcnt - h.isstdcnt + i;
        const std::size_t utAt = p - h.isutcnt + i;
        if (bytes[utAt] == 1 && h.isstdcnt != 0 && bytes[stdAt] != 1)
            return bad("tzif: UT indicator set without standard indicator");
    }
    return {};
}

}  // namespace

// ---------------------------------------------------------------------------

Result<PosixTz> parsePosixTz(std::string_view text) {
    TzTextParser p(text);
    PosixTz tz;
    auto stdName = p.name();
    MS_TRY(stdName);
    tz.stdAbbreviation = std::move(*stdName);
    auto stdOff = p.hms(24, true);
    MS_TRY(stdOff);
    tz.stdOffsetSeconds = -*stdOff;
    if (p.atEnd()) return tz;

    auto dstName = p.name();
    MS_TRY(dstName);
    tz.hasDst = true;
    tz.dstAbbreviation = std::move(*dstName);
    tz.dstOffsetSeconds = tz.stdOffsetSeconds + 3600;
    if (!p.atEnd() && p.peek() != ',') {
        auto dstOff = p.hms(24, true);
        MS_TRY(dstOff);
        tz.dstOffsetSeconds = -*dstOff;
    }
    if (!p.accept(',')) return bad("tz string: DST without rules is not supported");
    auto start = p.date();
    MS_TRY(start);
    if (!p.accept(',')) return bad("tz string: expected ',' before the DST end rule");
    auto end = p.date();
    MS_TRY(end);
    if (!p.atEnd()) return bad("tz string: trailing characters");
    tz.dstStart = *start;
    tz.dstEnd = *end;
    return tz;
}

Result<Zone> parseTzif(std::string_view bytes) {
    auto h1 = readHeader(bytes, 0);
    MS_TRY(h1);
    const std::uint64_t v1Bytes = blockBytes(*h1, 4);
    if (bytes.size() - kHeaderBytes < v1Bytes) return makeError(Errc::Truncated, "tzif: file ends inside the v1 data");

    Zone zone;
    if (h1->version == '\0') {
        zone.version = 1;
        MS_TRY(readBlock(bytes, kHeaderBytes, *h1, 4, zone));
        if (bytes.size() != kHeaderBytes + v1Bytes) return bad("tzif: trailing bytes after v1 data");
        return zone;
    }

    const std::size_t h2At = kHeaderBytes + static_cast<std::size_t>(v1Bytes);
    auto h2 = readHeader(bytes, h2At);
    MS_TRY(h2);
    if (h2->version != h1->version) return bad("tzif: the two headers disagree on the version");
    const std::size_t dataAt = h2At + kHeaderBytes;
    const std::uint64_t v2Bytes = blockBytes(*h2, 8);
    if (bytes.size() - dataAt < v2Bytes) return makeError(Errc::Truncated, "tzif: file ends inside the v2 data");
    zone.version = h1->version - '0';
    MS_TRY(readBlock(bytes, dataAt, *h2, 8, zone));

    std::size_t p = dataAt + static_cast<std::size_t>(v2Bytes);
    if (p >= bytes.size() || bytes[p] != '\n') return makeError(Errc::Truncated, "tzif: missing footer");
    const std::size_t close = bytes.find('\n', p + 1);
    if (close == std::string_view::npos) return makeError(Errc::Truncated, "tzif: unterminated footer");
    if (close + 1 != bytes.size()) return bad("tzif: trailing bytes after the footer");
    const std::string_view footer = bytes.substr(p + 1, close - p - 1);
    if (!footer.empty()) {
        auto rule = parsePosixTz(footer);
        MS_TRY(rule);
        zone.footer = std::move(*rule);
    }
    return zone;
}

std::int32_t utcOffsetAt(const Zone& zone, std::int64_t utcMs) {
    const std::int64_t s = floorDiv(utcMs, 1000);
    const auto& times = zone.transitionsUtcSeconds;
    if (times.empty()) {
        if (zone.footer) return ruleOffsetAt(*zone.footer, s);
        return zone.types.empty() ? 0 : zone.types[0].utcOffsetSeconds;
    }
    if (s < times.front()) return zone.types[0].utcOffsetSeconds;
    if (s >= times.back() && zone.footer) return ruleOffsetAt(*zone.footer, s);
    const auto it = std::upper_bound(times.begin(), times.end(), s);
    const auto i = static_cast<std::size_t>(it - times.begin()) - 1;
    return zone.types[zone.transitionTypes[i]].utcOffsetSeconds;
}

Result<std::vector<OffsetSpan>> offsetSpans(const Zone& zone, std::int64_t fromUtcMs, std::int64_t toUtcMs) {
    if (fromUtcMs >= toUtcMs) return makeError(Errc::Usage, "offsetSpans: empty interval");
    if (fromUtcMs < kMinRuleSeconds * 1000 || toUtcMs > (kMaxRuleSeconds + 1) * 1000)
        return makeError(Errc::Usage, "offsetSpans: interval outside years 1..9999");
    if (toUtcMs - fromUtcMs > kMaxSpanIntervalMs) return makeError(Errc::TooLarge, "offsetSpans: interval too long");

    std::vector<OffsetSpan> spans;
    spans.push_back({fromUtcMs, utcOffsetAt(zone, fromUtcMs)});
    // Changes arrive in time order; of several at one instant the last one holds.
    auto add = [&](std::int64_t atMs, std::int32_t offset) {
        if (atMs <= fromUtcMs || atMs >= toUtcMs) return;
        if (spans.back().startUtcMs == atMs) {
            spans.pop_back();
            if (spans.back().offsetSeconds != offset) spans.push_back({atMs, offset});
            return;
        }
        if (spans.back().offsetSeconds == offset) return;
        spans.push_back({atMs, offset});
    };

    const auto& times = zone.transitionsUtcSeconds;
    // Transition instants are whole seconds; only those inside the interval matter,
    // so the multiplication below cannot overflow.
    const std::int64_t fromS = floorDiv(fromUtcMs, 1000);
    const std::int64_t toS = floorDiv(toUtcMs, 1000) + 1;
    for (std::size_t i = 0; i < times.size(); ++i) {
        if (times[i] <= fromS || times[i] >= toS) continue;
        if (zone.footer && i + 1 == times.size()) break;  // the footer rules from here on
        add(times[i] * 1000, zone.types[zone.transitionTypes[i]].utcOffsetSeconds);
    }

    if (zone.footer) {
        // The footer governs from the last transition on (or everywhere if there is
        // none). Its value at the last transition is consistent with that
        // transition's type in well-formed data; we follow the footer.
        std::int64_t ruleFromS = times.empty() ? fromS : std::max(fromS, times.back());
        if (ruleFromS < toS) {
            const std::int64_t ruleFromMs = ruleFromS * 1000;
            if (!times.empty() && times.back() > fromS) add(ruleFromMs, ruleOffsetAt(*zone.footer, ruleFromS));
            const int y0 = yearOfDays(floorDiv(ruleFromS, kDaySeconds)) - 2;
            const int y1 = yearOfDays(floorDiv(toS, kDaySeconds)) + 1;
            for (const auto& e : ruleEvents(*zone.footer, y0, y1)) {
                if (e.utcSeconds <= ruleFromS) continue;
                if (e.utcSeconds >= toS) break;
                add(e.utcSeconds * 1000, e.offsetSeconds);
            }
        }
    }
    return spans;
}

std::int32_t offsetAt(std::span<const OffsetSpan> spans, std::int64_t utcMs) {
    if (spans.empty()) return 0;
    auto it = std::upper_bound(spans.begin(), spans.end(), utcMs,
                               [](std::int64_t t, const OffsetSpan& s) { return t < s.startUtcMs; });
    if (it == spans.begin()) return spans.front().offsetSeconds;
    return std::prev(it)->offsetSeconds;
}

std::int64_t localFromUtc(std::span<const OffsetSpan> spans, std::int64_t utcMs) {
    return utcMs + std::int64_t{offsetAt(spans, utcMs)} * 1000;
}

std::int64_t utcFromLocal(std::span<const OffsetSpan> spans, std::int64_t localMs) {
    if (spans.empty()) return localMs;
    constexpr std::int64_t kMaxOffsetMs = std::int64_t{kMaxOffsetSeconds} * 1000;
    // Span i shows local times [start_i + off_i, start_{i+1} + off_i). Only spans
    // starting within kMaxOffsetMs of localMs can show it.
    auto first = std::upper_bound(spans.begin(), spans.end(), localMs - kMaxOffsetMs,
                                  [](std::int64_t t, const OffsetSpan& s) { return t < s.startUtcMs; });
    std::size_t i = first == spans.begin() ? 0 : static_cast<std::size_t>(first - spans.begin()) - 1;
    for (; i < spans.size(); ++i) {
        const std::int64_t offMs = std::int64_t{spans[i].offsetSeconds} * 1000;
        const std::int64_t utc = localMs - offMs;
        const bool afterStart = i == 0 || utc >= spans[i].startUtcMs;
        const bool beforeEnd = i + 1 == spans.size() || utc < spans[i + 1].startUtcMs;
        if (afterStart && beforeEnd) return utc;      // earliest span showing it: overlap -> earlier
        if (!afterStart) return spans[i].startUtcMs;  // localMs fell in the gap before span i
    }
    return localMs - std::int64_t{spans.back().offsetSeconds} * 1000;  // not reached
}

bool isValidZoneName(std::string_view name) {
    if (name.empty() || name.size() > 128) return false;
    bool componentStart = true;
    for (char c : name) {
        if (c == '/') {
            if (componentStart) return false;  // leading "/" or "//"
            componentStart = true;
            continue;
        }
        const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
                        c == '+' || c == '-';
        if (!ok) return false;
        componentStart = false;
    }
    return !componentStart;  // no trailing "/"
}

Result<std::string> loadZoneFile(std::string_view zoneName, std::string_view zoneinfoDir) {
    if (!isValidZoneName(zoneName))
        return makeError(Errc::BadPath, "refusing time zone name '" + std::string(zoneName) + "'");
    const std::filesystem::path path = std::filesystem::path(zoneinfoDir) / std::filesystem::path(zoneName);
    std::error_code ec;
    if (!std::filesystem::is_regular_file(path, ec))
        return makeError(Errc::NotFound, "no time zone file " + path.string());
    const auto size = std::filesystem::file_size(path, ec);
    if (ec) return makeError(Errc::Io, "cannot stat " + path.string() + ": " + ec.message());
    if (size > kMaxZoneFileBytes) return makeError(Errc::TooLarge, "time zone file too large: " + path.string());
    std::ifstream in(path, std::ios::binary);
    if (!in) return makeError(Errc::Io, "cannot open " + path.string());
    std::string bytes(static_cast<std::size_t>(size), '\0');
    in.read(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    if (in.gcount() != static_cast<std::streamsize>(bytes.size()))
        return makeError(Errc::Io, "short read on " + path.string());
    // A file that grew between stat and read is cut; the parser will notice.
    return bytes;
}

}  // namespace microscape::tz
