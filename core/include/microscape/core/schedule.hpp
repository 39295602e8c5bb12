// The per-player schedule payload carried in a signed manifest
// (docs/schedule-format.md), and the evaluator that decides what a screen shows at
// an instant. The controller compiles and previews with it; the player plays
// with it. Pure functions over plain values: time is always an argument, nothing
// reads a clock or a file. Thread-safe (no shared state).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "microscape/core/json.hpp"
#include "microscape/core/result.hpp"
#include "microscape/core/time.hpp"
#include "microscape/core/tz.hpp"

namespace microscape::schedule {

// Documented limits (docs/schedule-format.md, "Limits").
constexpr std::int64_t kDayMs = 86'400'000;
using timeutil::kMaxUtcMs;                            // 10000-01-01T00:00:00Z, exclusive
constexpr std::int64_t kMaxPayloadMs = 400 * kDayMs;  // until - from
// The offsets must start this long before from_utc_ms, so that the window a loop is
// anchored to can be placed exactly even at the first instant of the payload.
constexpr std::int64_t kOffsetsLookbackMs = 3 * kDayMs;
constexpr std::size_t kMaxOffsets = 1000;
constexpr std::size_t kMaxPlaylists = 1000;
constexpr std::size_t kMaxItemsPerPlaylist = 1000;
constexpr std::size_t kMaxEntries = 1000;
constexpr std::size_t kMaxTakeovers = 100;
constexpr std::size_t kMaxDayparts = 32;
constexpr std::int64_t kMaxItemDurationMs = kDayMs;

enum class Fit { Letterbox, Fill };

struct Item {
    std::string mediaSha256;  // 64 lowercase hex
    std::int64_t durationMs = 0;
    Fit fit = Fit::Letterbox;
    bool audio = false;
    std::optional<std::int64_t> validFromUtcMs;   // skipped before this instant
    std::optional<std::int64_t> validUntilUtcMs;  // skipped from this instant on

    bool operator==(const Item&) const = default;
};

struct Playlist {
    std::string id;
    std::string name;  // UTF-8, for people
    std::vector<Item> items;

    bool operator==(const Playlist&) const = default;
};

// A weekly time window in local time. endMinute <= startMinute means the window
// crosses midnight; it then belongs to the weekday (and date) on which it starts.
// startMinute == endMinute is a full 24 hours.
struct Daypart {
    std::uint8_t weekdays = 0;  // bit (d - 1) for ISO weekday d: Monday = 1 ... Sunday = 7
    int startMinute = 0;        // 0..1439
    int endMinute = 0;          // 0..1439

    bool crossesMidnight() const { return endMinute <= startMinute; }
    bool operator==(const Daypart&) const = default;
};

struct Entry {
    std::string id;
    std::string playlistId;
    std::string campaignId;  // may be empty
    std::int32_t priority = 0;
    std::int64_t startDay = 0;      // local date, days since 1970-01-01, inclusive
    std::int64_t endDay = 0;        // local date, inclusive
    std::vector<Daypart> dayparts;  // empty: all day

    bool operator==(const Entry&) const = default;
};

struct Takeover {
    std::string id;
    std::string playlistId;
    std::int64_t startUtcMs = 0;
    std::int64_t expiresUtcMs = 0;  // exclusive

    bool operator==(const Takeover&) const = default;
};

struct Schedule {
    std::string zoneName = "Asia/Shanghai";
    std::vector<tz::OffsetSpan> offsets;  // cover [fromUtcMs - kOffsetsLookbackMs, untilUtcMs)
    std::int64_t fromUtcMs = 0;
    std::int64_t untilUtcMs = 0;                         // entries end here; the filler plays on
    std::optional<std::vector<Daypart>> operatingHours;  // none: always on
    std::vector<Playlist> playlists;
    std::vector<Entry> entries;
    std::vector<Takeover> takeovers;
    std::optional<std::string> fillerPlaylistId;

    const Playlist* findPlaylist(std::string_view id) const;
    bool operator==(const Schedule&) const = default;
};

// ---------------------------------------------------------------------------
// Payload.

// Checks every value, limit and reference of a schedule (the rules of
// docs/schedule-format.md that are not about JSON types). Errors: BadManifest
// with the path of the offending field ("entries[2].dayparts[0].start: ...").
Status validate(const Schedule& s);

// Reads a payload: every field with its type, no unknown fields, then validate().
// Errors: BadManifest.
Result<Schedule> fromJson(const json::Value& v);

// The payload of a schedule. Every field is written, so
// fromJson(toJson(s)) == s and toJson(*fromJson(toJson(s))) == toJson(s).
json::Value toJson(const Schedule& s);

// The offsets a payload for [fromUtcMs, untilUtcMs) must carry.
// Errors: those of tz::offsetSpans.
Result<std::vector<tz::OffsetSpan>> offsetsFor(const tz::Zone& zone, std::int64_t fromUtcMs, std::int64_t untilUtcMs);

// "HH:MM" <-> minutes of the day; "YYYY-MM-DD" <-> days since 1970-01-01.
std::string formatMinute(int minuteOfDay);
std::string formatDay(std::int64_t day);
std::string_view fitName(Fit fit);

// ---------------------------------------------------------------------------
// Evaluation. The functions below expect a schedule that passed validate(); on
// one that did not, they neither crash nor loop, but their answer is unspecified.

enum class State { Dark, Playing, Idle };
enum class Source { None, Takeover, Entry, Filler };
std::string_view stateName(State s);    // "dark", "playing", "idle"
std::string_view sourceName(Source s);  // "none", "takeover", "entry", "filler"

// What a screen shows at one instant.
struct Decision {
    State state = State::Idle;
    Source source = Source::None;
    std::string sourceId;       // takeover or entry id; empty for the filler
    std::string playlistId;     // empty unless Playing
    std::string campaignId;     // the entry's campaign; empty otherwise
    std::size_t itemIndex = 0;  // index into the playlist's items
    std::string mediaSha256;
    Fit fit = Fit::Letterbox;
    bool audio = false;
    // The item's slot in the rotation; zero unless Playing. The slot may have
    // started before the instant asked about (offsetMs into it).
    std::int64_t itemStartUtcMs = 0;
    std::int64_t itemEndUtcMs = 0;
    std::int64_t offsetMs = 0;
    // Evaluate again at this instant at the latest: the end of the item, or earlier
    // when what plays changes (a takeover starts or ends, a window or the operating
    // hours open or close, an item's validity begins or ends). For Dark and Idle it
    // may be a look-ahead limit at which nothing changes.
    std::int64_t nextChangeUtcMs = 0;

    bool operator==(const Decision&) const = default;
};

// One stretch of a timeline during which the same thing is shown.
struct Segment {
    State state = State::Idle;
    Source source = Source::None;
    std::string sourceId;
    std::string playlistId;
    std::string campaignId;
    std::size_t itemIndex = 0;
    std::string mediaSha256;
    std::int64_t startUtcMs = 0;
    std::int64_t endUtcMs = 0;
    // The item's slot in the rotation (zero unless Playing). A segment shorter than
    // its slot is a partial play: cut by a takeover, a window edge, or the ends of
    // the interval asked for.
    std::int64_t itemStartUtcMs = 0;
    std::int64_t itemEndUtcMs = 0;

    bool operator==(const Segment&) const = default;
};

// What the screen shows at utcMs. Rules: docs/schedule-format.md, "Evaluation".
Decision evaluate(const Schedule& s, std::int64_t utcMs);

// The consecutive segments covering [fromUtcMs, toUtcMs) (the first starts at
// fromUtcMs, the last ends at toUtcMs, neighbours differ). At every instant t in the
// interval the segment containing t agrees with evaluate(s, t). The cost is linear
// in the number of segments; the caller bounds the interval.
std::vector<Segment> timeline(const Schedule& s, std::int64_t fromUtcMs, std::int64_t toUtcMs);

// The same segments, handed one by one to a callback that returns false to stop
// (for counting plays without holding a timeline).
void forEachSegment(const Schedule& s, std::int64_t fromUtcMs, std::int64_t toUtcMs,
                    const std::function<bool(const Segment&)>& onSegment);

}  // namespace microscape::schedule
