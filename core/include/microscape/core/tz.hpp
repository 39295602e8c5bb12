// Time zones: a parser of TZif data (RFC 8536) and the UTC offsets a schedule
// carries. Everything here is a pure function over plain values and may be called
// from any thread, except loadZoneFile(), which reads a file.
//
// Times are UTC milliseconds since the Unix epoch (leap seconds ignored, as POSIX
// time does). Offsets are seconds east of UTC (Asia/Shanghai: +28800), which is
// the opposite sign of the numbers written in a POSIX TZ string ("CST-8").
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "microscape/core/result.hpp"

namespace microscape::tz {

// One local time type of a TZif file.
struct LocalTimeType {
    std::int32_t utcOffsetSeconds = 0;
    bool isDst = false;
    std::string abbreviation;

    bool operator==(const LocalTimeType&) const = default;
};

// A date of a POSIX TZ rule, with the local time of day at which the change
// happens (default 02:00:00; RFC 8536 allows -167..167 hours).
struct PosixDate {
    enum class Kind {
        Julian1,       // "Jn": day n in 1..365, February 29 never counted
        Julian0,       // "n": zero-based day n in 0..365, February 29 counted
        MonthWeekDay,  // "Mm.w.d": weekday d (0 = Sunday) of week w (5 = last) of month m
    };
    Kind kind = Kind::MonthWeekDay;
    int day = 0;    // Jn/n: the day number; Mm.w.d: the weekday 0..6
    int week = 0;   // Mm.w.d only: 1..5
    int month = 0;  // Mm.w.d only: 1..12
    std::int32_t timeSeconds = 7200;

    bool operator==(const PosixDate&) const = default;
};

// A POSIX TZ string as found in the footer of a TZif v2+ file ("CST-8",
// "CET-1CEST,M3.5.0,M10.5.0/3"). Offsets are stored east-positive.
struct PosixTz {
    std::string stdAbbreviation;
    std::int32_t stdOffsetSeconds = 0;
    bool hasDst = false;
    std::string dstAbbreviation;
    std::int32_t dstOffsetSeconds = 0;  // defaults to one hour ahead of standard time
    PosixDate dstStart;                 // in local standard time
    PosixDate dstEnd;                   // in local daylight time

    bool operator==(const PosixTz&) const = default;
};

// A parsed TZif file. Before the first transition, types[0] applies; from the
// last transition on, the footer rule applies when there is one.
struct Zone {
    int version = 1;                                  // 1..4
    std::vector<std::int64_t> transitionsUtcSeconds;  // strictly ascending
    std::vector<std::uint8_t> transitionTypes;        // index into types, one per transition
    std::vector<LocalTimeType> types;                 // at least one
    std::optional<PosixTz> footer;                    // none for v1 data or an empty footer
};

// The offset in force from startUtcMs until the next span's start. A list of
// spans is sorted by start, strictly ascending, with no two neighbours sharing an
// offset. For instants before the first span the first span's offset applies, and
// the last span never ends.
struct OffsetSpan {
    std::int64_t startUtcMs = 0;
    std::int32_t offsetSeconds = 0;

    bool operator==(const OffsetSpan&) const = default;
};

constexpr std::size_t kMaxZoneFileBytes = 256 * 1024;
// Largest |offset| accepted anywhere (RFC 8536 allows -89999..93599 seconds).
constexpr std::int32_t kMaxOffsetSeconds = 26 * 3600;
// offsetSpans() refuses intervals longer than this.
constexpr std::int64_t kMaxSpanIntervalMs = 200LL * 366 * 86400 * 1000;

// Parses TZif bytes: version 2+ files use their 64-bit data and footer; version 1
// files their 32-bit data. Errors: Truncated (ends inside a header or block),
// UnsupportedFormat (bad magic or version, leap-second data as in "right/" zones),
// BadManifest (counts, indices, offsets or order out of range; bad footer).
Result<Zone> parseTzif(std::string_view bytes);

// Parses a POSIX TZ string. Names are alphabetic (3+ letters) or quoted in <>;
// offsets are [+-]hh[:mm[:ss]] with hh <= 24; rule times allow hh <= 167 and a
// sign. A DST name without rules is rejected (its meaning is implementation
// defined). Errors: BadManifest.
Result<PosixTz> parsePosixTz(std::string_view text);

// The UTC offset a zone has at an instant.
std::int32_t utcOffsetAt(const Zone& zone, std::int64_t utcMs);

// The offsets of a zone over [fromUtcMs, toUtcMs): the first span starts at
// fromUtcMs, one more span per offset change inside the interval. Changes that keep
// the offset (only the abbreviation or DST flag differs) make no span.
// Errors: Usage (fromUtcMs >= toUtcMs, or outside years 1..9999), TooLarge (longer
// than kMaxSpanIntervalMs).
Result<std::vector<OffsetSpan>> offsetSpans(const Zone& zone, std::int64_t fromUtcMs, std::int64_t toUtcMs);

// The offset in force at utcMs (0 if spans is empty).
std::int32_t offsetAt(std::span<const OffsetSpan> spans, std::int64_t utcMs);

// Local wall-clock milliseconds ("UTC-like" count of the local calendar) for an
// instant: utcMs + offset.
std::int64_t localFromUtc(std::span<const OffsetSpan> spans, std::int64_t utcMs);

// The instant at which the local wall clock shows localMs. Two cases have no single
// answer, and are resolved so that the result never decreases as localMs grows:
//  - gap (clocks jump forward and localMs never shows): the instant of the jump,
//    i.e. the first instant after the gap. 02:30 on a spring-forward night that
//    skips 02:00-03:00 maps to the instant the clock jumps to 03:00.
//  - overlap (clocks go back and localMs shows twice): the earlier instant.
std::int64_t utcFromLocal(std::span<const OffsetSpan> spans, std::int64_t localMs);

// True for names like "Asia/Shanghai", "Etc/GMT+8", "America/Port-au-Prince":
// 1..128 bytes of components made of [A-Za-z0-9_+-], separated by single "/",
// with no empty component, no leading "/" and no "." anywhere (so no "..").
bool isValidZoneName(std::string_view zoneName);

// Reads <zoneinfoDir>/<zoneName> (not parsed). Errors: BadPath (name refused by
// isValidZoneName), NotFound (no such regular file), TooLarge (over
// kMaxZoneFileBytes), Io (read failed).
Result<std::string> loadZoneFile(std::string_view zoneName, std::string_view zoneinfoDir = "/usr/share/zoneinfo");

}  // namespace microscape::tz
