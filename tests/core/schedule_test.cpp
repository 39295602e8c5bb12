#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdio>
#include <functional>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "microscape/core/json.hpp"
#include "microscape/core/schedule.hpp"
#include "microscape/core/time.hpp"
#include "microscape/core/tz.hpp"

using namespace microscape;
using namespace microscape::schedule;

namespace {

constexpr std::int64_t kSec = 1000;
constexpr std::int64_t kMin = 60 * kSec;
constexpr std::int64_t kHour = 60 * kMin;

std::string sha(int n) {
    char buf[65];
    std::snprintf(buf, sizeof buf, "%064x", n);
    return buf;
}

std::int64_t dayOf(const char* date) {
    auto d = timeutil::parseDate(date);
    REQUIRE(d.ok());
    return timeutil::daysFromCivil(*d);
}

const tz::Zone& zone(const std::string& name) {
    static std::map<std::string, tz::Zone> cache;
    auto it = cache.find(name);
    if (it == cache.end()) {
        auto bytes = tz::loadZoneFile(name);
        REQUIRE(bytes.ok());
        auto z = tz::parseTzif(*bytes);
        REQUIRE(z.ok());
        it = cache.emplace(name, std::move(z).value()).first;
    }
    return it->second;
}

// A playlist of stills with the given durations (seconds); media numbered from firstMedia.
Playlist playlist(std::string id, std::vector<int> seconds, int firstMedia) {
    Playlist p;
    p.id = std::move(id);
    p.name = "播放列表 " + p.id;
    for (std::size_t i = 0; i < seconds.size(); ++i) {
        Item item;
        item.mediaSha256 = sha(firstMedia + static_cast<int>(i));
        item.durationMs = seconds[i] * kSec;
        p.items.push_back(item);
    }
    return p;
}

Daypart window(std::vector<int> weekdays, int startH, int startM, int endH, int endM) {
    Daypart d;
    for (int w : weekdays) d.weekdays = static_cast<std::uint8_t>(d.weekdays | (1u << (w - 1)));
    d.startMinute = startH * 60 + startM;
    d.endMinute = endH * 60 + endM;
    return d;
}

const std::vector<int> kEveryDay{1, 2, 3, 4, 5, 6, 7};

Entry entry(std::string id, std::string playlistId, int priority, const char* first, const char* last,
            std::vector<Daypart> parts = {}) {
    Entry e;
    e.id = std::move(id);
    e.playlistId = std::move(playlistId);
    e.campaignId = "campaign-" + e.id;
    e.priority = priority;
    e.startDay = dayOf(first);
    e.endDay = dayOf(last);
    e.dayparts = std::move(parts);
    return e;
}

// A payload for a zone from local midnight of firstDate, for some days.
struct Fixture {
    Schedule s;

    explicit Fixture(const char* firstDate = "2025-04-14", int days = 14, const char* zoneName = "Asia/Shanghai") {
        s.zoneName = zoneName;
        const std::int64_t approx = dayOf(firstDate) * kDayMs;
        const std::int32_t off = tz::utcOffsetAt(zone(zoneName), approx);
        s.fromUtcMs = approx - std::int64_t{off} * kSec;
        s.untilUtcMs = s.fromUtcMs + days * kDayMs;
        auto offsets = offsetsFor(zone(zoneName), s.fromUtcMs, s.untilUtcMs);
        REQUIRE(offsets.ok());
        s.offsets = *offsets;
    }

    // The instant the local clock shows date hh:mm:ss (first occurrence).
    std::int64_t at(const char* date, int hh, int mm, int ss = 0) const {
        return tz::utcFromLocal(s.offsets, dayOf(date) * kDayMs + hh * kHour + mm * kMin + ss * kSec);
    }

    void add(Playlist p) { s.playlists.push_back(std::move(p)); }
    void add(Entry e) { s.entries.push_back(std::move(e)); }
    void add(Takeover t) { s.takeovers.push_back(std::move(t)); }

    void requireValid() const {
        auto st = validate(s);
        INFO((st.ok() ? std::string() : st.error().str()));
        REQUIRE(st.ok());
    }

    Decision eval(std::int64_t t) const { return evaluate(s, t); }
};

void checkPlaying(const Decision& d, const char* sourceId, std::size_t item, std::int64_t itemStart) {
    CHECK(d.state == State::Playing);
    CHECK(d.sourceId == sourceId);
    CHECK(d.itemIndex == item);
    CHECK(d.itemStartUtcMs == itemStart);
}

std::vector<std::string> mediaOf(const std::vector<Segment>& segs) {
    std::vector<std::string> out;
    for (const auto& s : segs) out.push_back(s.state == State::Playing ? s.mediaSha256 : stateName(s.state).data());
    return out;
}

}  // namespace

TEST_CASE("one entry plays its items in order, rotation anchored at the window start", "[schedule]") {
    Fixture f;
    f.add(playlist("p", {10, 20, 30}, 1));
    f.add(entry("e1", "p", 0, "2025-04-14", "2025-04-27", {window(kEveryDay, 8, 0, 20, 0)}));
    f.requireValid();

    SECTION("the local clock is Asia/Shanghai") {
        CHECK(f.at("2025-04-15", 8, 0) == 1744675200000);
    }

    SECTION("first item at the window start") {
        const auto t = f.at("2025-04-15", 8, 0);
        const Decision d = f.eval(t);
        checkPlaying(d, "e1", 0, t);
        CHECK(d.source == Source::Entry);
        CHECK(d.playlistId == "p");
        CHECK(d.campaignId == "campaign-e1");
        CHECK(d.mediaSha256 == sha(1));
        CHECK(d.itemEndUtcMs == t + 10 * kSec);
        CHECK(d.offsetMs == 0);
        CHECK(d.nextChangeUtcMs == t + 10 * kSec);
        CHECK(d.fit == Fit::Letterbox);
        CHECK_FALSE(d.audio);
    }

    SECTION("mid-item, with the offset into it") {
        const Decision d = f.eval(f.at("2025-04-15", 8, 0, 15));
        checkPlaying(d, "e1", 1, f.at("2025-04-15", 8, 0, 10));
        CHECK(d.offsetMs == 5 * kSec);
        CHECK(d.nextChangeUtcMs == f.at("2025-04-15", 8, 0, 30));
    }

    SECTION("the loop wraps on the wall clock") {
        checkPlaying(f.eval(f.at("2025-04-15", 8, 1)), "e1", 0, f.at("2025-04-15", 8, 1));
        const Decision late = f.eval(f.at("2025-04-15", 19, 59, 40));
        checkPlaying(late, "e1", 2, f.at("2025-04-15", 19, 59, 30));
        CHECK(late.nextChangeUtcMs == f.at("2025-04-15", 20, 0));
    }

    SECTION("outside the window: Idle until the next window") {
        const Decision before = f.eval(f.at("2025-04-15", 7, 59, 59));
        CHECK(before.state == State::Idle);
        CHECK(before.source == Source::None);
        CHECK(before.nextChangeUtcMs == f.at("2025-04-15", 8, 0));
        const Decision after = f.eval(f.at("2025-04-15", 20, 0));
        CHECK(after.state == State::Idle);
        CHECK(after.nextChangeUtcMs == f.at("2025-04-16", 8, 0));
    }

    SECTION("a window edge cuts an item: next change before the item's end") {
        Fixture g;
        g.add(playlist("p", {25}, 1));
        g.add(entry("short", "p", 0, "2025-04-14", "2025-04-27", {window(kEveryDay, 8, 0, 8, 1)}));
        const Decision d = g.eval(g.at("2025-04-15", 8, 0, 55));
        checkPlaying(d, "short", 0, g.at("2025-04-15", 8, 0, 50));
        CHECK(d.itemEndUtcMs == g.at("2025-04-15", 8, 1, 15));
        CHECK(d.nextChangeUtcMs == g.at("2025-04-15", 8, 1));
    }
}

TEST_CASE("the highest priority active entry wins", "[schedule]") {
    Fixture f;
    f.add(playlist("low", {10, 10}, 1));
    f.add(playlist("high", {10, 10}, 11));
    f.add(entry("base", "low", -5, "2025-04-14", "2025-04-27"));
    f.add(entry("alert", "high", 10, "2025-04-14", "2025-04-27", {window(kEveryDay, 10, 0, 11, 0)}));
    f.requireValid();

    CHECK(f.eval(f.at("2025-04-15", 10, 30)).sourceId == "alert");
    CHECK(f.eval(f.at("2025-04-15", 10, 0)).sourceId == "alert");
    const Decision before = f.eval(f.at("2025-04-15", 9, 59, 59));
    checkPlaying(before, "base", 1, f.at("2025-04-15", 9, 59, 50));
    CHECK(before.nextChangeUtcMs == f.at("2025-04-15", 10, 0));
    // A preempted entry starts its rotation again when it gets the screen back.
    checkPlaying(f.eval(f.at("2025-04-15", 11, 0)), "base", 0, f.at("2025-04-15", 11, 0));

    SECTION("an entry with nothing playable does not win") {
        for (auto& item : f.s.playlists[1].items) item.validUntilUtcMs = f.at("2025-04-15", 10, 30);
        f.requireValid();
        CHECK(f.eval(f.at("2025-04-15", 10, 29)).sourceId == "alert");
        checkPlaying(f.eval(f.at("2025-04-15", 10, 30)), "base", 0, f.at("2025-04-15", 10, 30));
    }
}

TEST_CASE("equal top priorities interleave round-robin by item, in entry id order", "[schedule]") {
    Fixture f;
    f.add(playlist("pa", {10, 10, 10}, 11));
    f.add(playlist("pb", {5}, 21));
    f.add(playlist("pc", {7}, 31));
    // Listed b before a: the order of the payload does not matter, the ids do.
    f.add(entry("b", "pb", 3, "2025-04-15", "2025-04-15"));
    f.add(entry("a", "pa", 3, "2025-04-15", "2025-04-15"));
    f.add(entry("c-lower", "pc", 2, "2025-04-15", "2025-04-15"));
    f.requireValid();

    const auto start = f.at("2025-04-15", 0, 0);
    const auto segs = timeline(f.s, start, start + 90 * kSec);
    const std::vector<std::string> want{sha(11), sha(21), sha(12), sha(21), sha(13), sha(21),
                                        sha(11), sha(21), sha(12), sha(21), sha(13), sha(21)};
    CHECK(mediaOf(segs) == want);
    REQUIRE(segs.size() == 12);
    CHECK(segs[0].sourceId == "a");
    CHECK(segs[1].sourceId == "b");
    CHECK(segs[1].campaignId == "campaign-b");
    CHECK(segs[1].startUtcMs == start + 10 * kSec);
    CHECK(segs[6].startUtcMs == start + 45 * kSec);  // cycle: 3 x 10 s + 3 x 5 s
}

TEST_CASE("dayparts crossing midnight belong to the weekday they start on", "[schedule]") {
    Fixture f;
    f.add(playlist("p", {10, 12, 13}, 1));  // 35 s cycle
    // 2025-04-18 is a Friday (5).
    f.add(entry("fri-night", "p", 0, "2025-04-14", "2025-04-27", {window({5}, 22, 0, 2, 0)}));
    f.requireValid();

    checkPlaying(f.eval(f.at("2025-04-18", 22, 0)), "fri-night", 0, f.at("2025-04-18", 22, 0));
    // No restart at midnight: 7200 s into the window is 25 s into the third cycle slot.
    checkPlaying(f.eval(f.at("2025-04-19", 0, 0)), "fri-night", 2, f.at("2025-04-18", 23, 59, 57));
    CHECK(f.eval(f.at("2025-04-19", 1, 59, 59)).state == State::Playing);
    CHECK(f.eval(f.at("2025-04-19", 2, 0)).state == State::Idle);
    CHECK(f.eval(f.at("2025-04-19", 22, 0)).state == State::Idle);  // Saturday not selected
    CHECK(f.eval(f.at("2025-04-18", 1, 0)).state == State::Idle);   // Thursday's night
    CHECK(f.eval(f.at("2025-04-17", 23, 0)).state == State::Idle);

    SECTION("start == end is a full day from the start time") {
        Fixture g;
        g.add(playlist("p", {10}, 1));
        g.add(entry("day", "p", 0, "2025-04-14", "2025-04-27", {window({2}, 6, 0, 6, 0)}));  // Tuesday
        CHECK(g.eval(g.at("2025-04-15", 5, 59)).state == State::Idle);
        CHECK(g.eval(g.at("2025-04-15", 6, 0)).state == State::Playing);
        CHECK(g.eval(g.at("2025-04-16", 5, 59, 59)).state == State::Playing);
        CHECK(g.eval(g.at("2025-04-16", 6, 0)).state == State::Idle);
    }
}

TEST_CASE("date ranges are inclusive local dates", "[schedule]") {
    SECTION("all-day entries") {
        Fixture f;
        f.add(playlist("p", {10, 12, 13}, 1));
        f.add(entry("two-days", "p", 0, "2025-04-15", "2025-04-16"));
        CHECK(f.eval(f.at("2025-04-15", 0, 0) - 1).state == State::Idle);
        checkPlaying(f.eval(f.at("2025-04-15", 0, 0)), "two-days", 0, f.at("2025-04-15", 0, 0));
        CHECK(f.eval(f.at("2025-04-17", 0, 0) - 1).state == State::Playing);
        CHECK(f.eval(f.at("2025-04-17", 0, 0)).state == State::Idle);
        // One window over both dates: the rotation goes on through midnight
        // (35 s cycle from 04-15 00:00; 86400 mod 35 = 20, so the 12 s item 1,
        // which began at 23:59:50, is on air at midnight and is not cut).
        checkPlaying(f.eval(f.at("2025-04-16", 0, 0)), "two-days", 1, f.at("2025-04-15", 23, 59, 50));
        const Decision before = f.eval(f.at("2025-04-16", 0, 0) - 1);
        checkPlaying(before, "two-days", 1, f.at("2025-04-15", 23, 59, 50));
        CHECK(before.nextChangeUtcMs == f.at("2025-04-16", 0, 0, 2));
    }

    SECTION("a window crossing midnight on the last date runs into the next day") {
        Fixture f;
        f.add(playlist("p", {10}, 1));
        f.add(entry("nights", "p", 0, "2025-04-15", "2025-04-16", {window(kEveryDay, 22, 0, 2, 0)}));
        CHECK(f.eval(f.at("2025-04-15", 1, 0)).state == State::Idle);  // the night of the 14th
        CHECK(f.eval(f.at("2025-04-15", 22, 0)).state == State::Playing);
        CHECK(f.eval(f.at("2025-04-17", 1, 0)).state == State::Playing);  // the night of the 16th
        CHECK(f.eval(f.at("2025-04-17", 22, 0)).state == State::Idle);
    }
}

TEST_CASE("windows follow the local clock of a DST zone", "[schedule]") {
    SECTION("Europe/Berlin spring forward (2025-03-30)") {
        Fixture f("2025-03-24", 14, "Europe/Berlin");
        f.add(playlist("p", {60}, 1));
        f.add(entry("morning", "p", 0, "2025-03-24", "2025-04-06", {window(kEveryDay, 8, 0, 9, 0)}));
        f.add(entry("in-gap", "p", 0, "2025-03-30", "2025-03-30", {window(kEveryDay, 2, 15, 2, 45)}));
        f.add(entry("to-gap", "p", 0, "2025-03-30", "2025-03-30", {window(kEveryDay, 1, 30, 2, 30)}));
        f.add(entry("whole-day", "p", -1, "2025-03-30", "2025-03-30"));
        f.requireValid();

        CHECK(f.eval(1743231600000 - 1).state == State::Idle);             // 03-29 07:59:59 CET
        checkPlaying(f.eval(1743231600000), "morning", 0, 1743231600000);  // 03-29 08:00 CET
        checkPlaying(f.eval(1743314400000), "morning", 0, 1743314400000);  // 03-30 08:00 CEST
        CHECK(f.eval(1743314400000 + kHour).sourceId == "whole-day");      // 09:00 CEST

        // The window that ends in the gap ends at the jump; the one inside it never occurs.
        checkPlaying(f.eval(1743294600000), "to-gap", 0, 1743294600000);  // 01:30 CET
        CHECK(f.eval(1743296400000 - 1).sourceId == "to-gap");
        CHECK(f.eval(1743296400000).sourceId == "whole-day");
        int inGap = 0;
        forEachSegment(f.s, 1743289200000, 1743372000000, [&](const Segment& seg) {
            if (seg.sourceId == "in-gap") ++inGap;
            return true;
        });
        CHECK(inGap == 0);

        // The local day of the change is 23 hours long.
        CHECK(f.eval(1743289200000 - 1).state == State::Idle);
        CHECK(f.eval(1743289200000).sourceId == "whole-day");
        CHECK(f.eval(1743372000000 - 1).sourceId == "whole-day");
        CHECK(f.eval(1743372000000).state == State::Idle);
    }

    SECTION("Europe/Berlin fall back (2025-10-26): repeated local times play once") {
        Fixture f("2025-10-20", 14, "Europe/Berlin");
        f.add(playlist("p", {60}, 1));
        f.add(entry("at-two", "p", 0, "2025-10-26", "2025-10-26", {window(kEveryDay, 2, 0, 2, 30)}));
        f.add(entry("whole-day", "p", -1, "2025-10-26", "2025-10-26"));
        f.requireValid();
        checkPlaying(f.eval(1761436800000), "at-two", 0, 1761436800000);  // first 02:00 (CEST)
        CHECK(f.eval(1761438600000 - 1).sourceId == "at-two");
        CHECK(f.eval(1761438600000).sourceId == "whole-day");
        CHECK(f.eval(1761436800000 + kHour).sourceId == "whole-day");  // second 02:00 (CET)
        // The local day of the change is 25 hours long.
        CHECK(f.eval(1761429600000).sourceId == "whole-day");
        CHECK(f.eval(1761519600000 - 1).sourceId == "whole-day");
        CHECK(f.eval(1761519600000).state == State::Idle);
    }
}

TEST_CASE("takeovers beat every entry and leave the schedule where it should be", "[schedule]") {
    Fixture f;
    f.add(playlist("p", {10, 12, 13}, 1));  // 35 s cycle from local midnight
    f.add(playlist("alert", {7, 7}, 91));
    f.add(entry("day", "p", 100, "2025-04-15", "2025-04-15"));
    Fixture plain = f;  // the same schedule without the takeover
    f.add(Takeover{"scam-alert", "alert", f.at("2025-04-15", 10, 0, 5), f.at("2025-04-15", 10, 0, 35)});
    f.requireValid();

    SECTION("interrupts at its start") {
        // 10:00:02 is in slot 2 (until 10:00:15), but the takeover starts at 10:00:05.
        const Decision d = f.eval(f.at("2025-04-15", 10, 0, 2));
        checkPlaying(d, "day", 2, f.at("2025-04-15", 10, 0, 2));
        CHECK(d.nextChangeUtcMs == f.at("2025-04-15", 10, 0, 5));
        const Decision t = f.eval(f.at("2025-04-15", 10, 0, 5));
        checkPlaying(t, "scam-alert", 0, f.at("2025-04-15", 10, 0, 5));
        CHECK(t.source == Source::Takeover);
        CHECK(t.playlistId == "alert");
        CHECK(t.campaignId.empty());
        CHECK(t.nextChangeUtcMs == f.at("2025-04-15", 10, 0, 12));
    }

    SECTION("its own rotation is anchored at its start; expiry cuts it") {
        const Decision d = f.eval(f.at("2025-04-15", 10, 0, 33));
        checkPlaying(d, "scam-alert", 0, f.at("2025-04-15", 10, 0, 33));
        CHECK(d.nextChangeUtcMs == f.at("2025-04-15", 10, 0, 35));
    }

    SECTION("expiry resumes at the wall-clock position, not where it was interrupted") {
        const auto t = f.at("2025-04-15", 10, 0, 35);
        const Decision d = f.eval(t);
        CHECK(d == plain.eval(t));
        checkPlaying(d, "day", 1, f.at("2025-04-15", 10, 0, 25));
        CHECK(d.offsetMs == 10 * kSec);
        for (std::int64_t u = t; u < t + 5 * kMin; u += 997) CHECK(f.eval(u) == plain.eval(u));
    }

    SECTION("overlapping takeovers: the latest started wins, the other resumes on its own clock") {
        f.s.takeovers.clear();
        f.add(playlist("alert2", {11, 20}, 95));
        f.add(Takeover{"t1", "alert2", f.at("2025-04-15", 10, 0), f.at("2025-04-15", 10, 10)});
        f.add(Takeover{"t2", "alert", f.at("2025-04-15", 10, 5), f.at("2025-04-15", 10, 7)});
        f.requireValid();
        CHECK(f.eval(f.at("2025-04-15", 10, 4, 59)).sourceId == "t1");
        CHECK(f.eval(f.at("2025-04-15", 10, 6)).sourceId == "t2");
        // 420 s after t1 started: 420 mod 31 = 17, slot 1 (11 s in) started at 10:06:54.
        const Decision d = f.eval(f.at("2025-04-15", 10, 7));
        checkPlaying(d, "t1", 1, f.at("2025-04-15", 10, 6, 54));
        CHECK(d.offsetMs == 6 * kSec);
        CHECK(f.eval(f.at("2025-04-15", 10, 10)) == plain.eval(f.at("2025-04-15", 10, 10)));
    }

    SECTION("takeovers starting at the same instant: the smaller id wins") {
        f.s.takeovers.clear();
        f.add(Takeover{"zz", "alert", f.at("2025-04-15", 10, 0), f.at("2025-04-15", 10, 10)});
        f.add(Takeover{"aa", "alert", f.at("2025-04-15", 10, 0), f.at("2025-04-15", 10, 10)});
        CHECK(f.eval(f.at("2025-04-15", 10, 1)).sourceId == "aa");
    }

    SECTION("a takeover with nothing playable does not take over") {
        for (auto& item : f.s.playlists[1].items) item.validFromUtcMs = f.at("2025-04-15", 10, 0, 20);
        f.requireValid();
        CHECK(f.eval(f.at("2025-04-15", 10, 0, 10)) == plain.eval(f.at("2025-04-15", 10, 0, 10)));
        // Its rotation starts when its items become playable.
        checkPlaying(f.eval(f.at("2025-04-15", 10, 0, 20)), "scam-alert", 0, f.at("2025-04-15", 10, 0, 20));
    }

    SECTION("a takeover also beats the filler and plays when no entry is scheduled") {
        f.s.entries.clear();
        f.add(playlist("fill", {10}, 81));
        f.s.fillerPlaylistId = "fill";
        CHECK(f.eval(f.at("2025-04-15", 10, 0)).source == Source::Filler);
        CHECK(f.eval(f.at("2025-04-15", 10, 0, 5)).source == Source::Takeover);
        f.s.fillerPlaylistId.reset();
        CHECK(f.eval(f.at("2025-04-15", 10, 0)).state == State::Idle);
        CHECK(f.eval(f.at("2025-04-15", 10, 0, 5)).source == Source::Takeover);
    }
}

TEST_CASE("the filler plays when nothing is scheduled, without one the screen is Idle", "[schedule]") {
    Fixture f;
    f.add(playlist("fill", {10, 13}, 81));  // 23 s cycle
    f.add(playlist("p", {10}, 1));
    f.add(entry("ten", "p", 0, "2025-04-14", "2025-04-27", {window(kEveryDay, 10, 0, 11, 0)}));
    f.s.fillerPlaylistId = "fill";
    f.requireValid();

    // Anchored at the epoch (1970-01-01T00:00Z): 04-15 09:00 in Shanghai is
    // 1744678800 s, a multiple of 23, so slot 0 starts then.
    const Decision d = f.eval(f.at("2025-04-15", 9, 0));
    checkPlaying(d, "", 0, f.at("2025-04-15", 9, 0));
    CHECK(d.source == Source::Filler);
    CHECK(d.playlistId == "fill");
    CHECK(f.eval(f.at("2025-04-15", 10, 30)).source == Source::Entry);
    // When the entry's window closes the filler resumes where it would have been
    // (1744686000 mod 23 = 1: slot 0 began at 10:59:59), as after a takeover.
    checkPlaying(f.eval(f.at("2025-04-15", 11, 0)), "", 0, f.at("2025-04-15", 10, 59, 59));
    // Nor does it start again at local midnight (1744732800 mod 23 = 19: slot 1,
    // 10-23 s into the cycle, began at 23:59:51 and goes on).
    checkPlaying(f.eval(f.at("2025-04-16", 0, 0)), "", 1, f.at("2025-04-15", 23, 59, 51));
    checkPlaying(f.eval(f.at("2025-04-16", 0, 0) - 1), "", 1, f.at("2025-04-15", 23, 59, 51));

    SECTION("past the end of the payload the filler plays on") {
        f.s.entries[0].dayparts.clear();
        f.s.entries[0].endDay = dayOf("2025-12-31");
        CHECK(f.eval(f.s.untilUtcMs - 1).source == Source::Entry);
        CHECK(f.eval(f.s.untilUtcMs).source == Source::Filler);
        CHECK(f.eval(f.s.untilUtcMs + 30 * kDayMs).source == Source::Filler);
    }

    SECTION("no filler: Idle, until the next window") {
        f.s.fillerPlaylistId.reset();
        const Decision idle = f.eval(f.at("2025-04-15", 9, 0));
        CHECK(idle.state == State::Idle);
        CHECK(idle.playlistId.empty());
        CHECK(idle.mediaSha256.empty());
        CHECK(idle.nextChangeUtcMs == f.at("2025-04-15", 10, 0));
    }

    SECTION("a filler with nothing playable: Idle") {
        for (auto& item : f.s.playlists[0].items) item.validUntilUtcMs = f.at("2025-04-15", 0, 0);
        CHECK(f.eval(f.at("2025-04-15", 9, 0)).state == State::Idle);
        CHECK(f.eval(f.at("2025-04-14", 9, 0)).source == Source::Filler);
    }
}

TEST_CASE("outside operating hours the screen is Dark", "[schedule]") {
    Fixture f;
    f.add(playlist("p", {10, 12, 13}, 1));
    f.add(playlist("fill", {10}, 81));
    f.add(playlist("alert", {10}, 91));
    f.s.fillerPlaylistId = "fill";
    f.s.operatingHours = std::vector<Daypart>{window({1, 2, 3, 4, 5}, 8, 0, 22, 0), window({6}, 10, 0, 2, 0)};
    f.add(entry("all", "p", 0, "2025-04-14", "2025-04-27"));
    f.add(Takeover{"night-alert", "alert", f.at("2025-04-15", 23, 0), f.at("2025-04-16", 9, 0)});
    f.requireValid();

    const Decision dark = f.eval(f.at("2025-04-15", 7, 59));
    CHECK(dark.state == State::Dark);
    CHECK(dark.source == Source::None);
    CHECK(dark.nextChangeUtcMs == f.at("2025-04-15", 8, 0));
    // The rotation starts at opening.
    checkPlaying(f.eval(f.at("2025-04-15", 8, 0)), "all", 0, f.at("2025-04-15", 8, 0));
    CHECK(f.eval(f.at("2025-04-15", 22, 0)).state == State::Dark);
    // Saturday's hours cross midnight into Sunday; Sunday itself is closed.
    CHECK(f.eval(f.at("2025-04-19", 23, 30)).state == State::Playing);
    CHECK(f.eval(f.at("2025-04-20", 1, 59)).state == State::Playing);
    CHECK(f.eval(f.at("2025-04-20", 2, 0)).state == State::Dark);
    CHECK(f.eval(f.at("2025-04-20", 12, 0)).state == State::Dark);
    // A takeover does not light a closed location; it shows once it opens.
    CHECK(f.eval(f.at("2025-04-15", 23, 30)).state == State::Dark);
    CHECK(f.eval(f.at("2025-04-16", 8, 0)).sourceId == "night-alert");
    CHECK(f.eval(f.at("2025-04-16", 9, 0)).sourceId == "all");
}

TEST_CASE("items outside their validity are skipped", "[schedule]") {
    Fixture f;
    f.add(playlist("p", {10, 10, 10}, 1));
    f.s.playlists[0].items[1].validFromUtcMs = f.at("2025-04-15", 12, 0);
    f.s.playlists[0].items[2].validUntilUtcMs = f.at("2025-04-15", 18, 0);
    f.add(entry("e", "p", 0, "2025-04-15", "2025-04-15"));
    f.requireValid();

    checkPlaying(f.eval(f.at("2025-04-15", 11, 0)), "e", 0, f.at("2025-04-15", 11, 0));
    checkPlaying(f.eval(f.at("2025-04-15", 11, 0, 10)), "e", 2, f.at("2025-04-15", 11, 0, 10));
    // A change of the playable set restarts the rotation.
    CHECK(f.eval(f.at("2025-04-15", 11, 59, 59)).nextChangeUtcMs == f.at("2025-04-15", 12, 0));
    checkPlaying(f.eval(f.at("2025-04-15", 12, 0)), "e", 0, f.at("2025-04-15", 12, 0));
    checkPlaying(f.eval(f.at("2025-04-15", 12, 0, 10)), "e", 1, f.at("2025-04-15", 12, 0, 10));
    checkPlaying(f.eval(f.at("2025-04-15", 12, 0, 20)), "e", 2, f.at("2025-04-15", 12, 0, 20));
    checkPlaying(f.eval(f.at("2025-04-15", 18, 0, 10)), "e", 1, f.at("2025-04-15", 18, 0, 10));

    for (const auto& seg : timeline(f.s, f.at("2025-04-15", 0, 0), f.at("2025-04-16", 0, 0))) {
        if (seg.itemIndex == 1) CHECK(seg.startUtcMs >= f.at("2025-04-15", 12, 0));
        if (seg.itemIndex == 2) CHECK(seg.endUtcMs <= f.at("2025-04-15", 18, 0));
    }
}

namespace {

// A schedule with a bit of everything, in a DST zone, over the spring change.
Fixture richFixture() {
    Fixture f("2025-03-24", 14, "Europe/Berlin");
    f.add(playlist("base", {10, 12, 13, 9}, 1));
    f.add(playlist("campaign", {15, 15, 20}, 11));
    f.add(playlist("short", {7}, 21));
    f.add(playlist("fill", {11, 17}, 31));
    f.add(playlist("alert", {8, 9}, 41));
    f.s.playlists[1].items[1].validFromUtcMs = f.at("2025-03-29", 13, 17, 3) + 417;
    f.s.playlists[0].items[3].validUntilUtcMs = f.at("2025-03-30", 9, 0);
    f.s.fillerPlaylistId = "fill";
    f.s.operatingHours = std::vector<Daypart>{window({1, 2, 3, 4, 5}, 6, 30, 23, 0), window({6, 7}, 1, 0, 0, 30)};
    f.add(entry("base", "base", 0, "2025-03-24", "2025-04-06",
                {window({1, 2, 3, 4, 5}, 7, 0, 22, 0), window({6, 7}, 20, 0, 3, 0)}));
    f.add(entry("tie-a", "campaign", 5, "2025-03-28", "2025-03-30", {window(kEveryDay, 12, 0, 15, 30)}));
    f.add(entry("tie-b", "short", 5, "2025-03-28", "2025-03-31", {window(kEveryDay, 13, 0, 17, 0)}));
    f.add(entry("top", "short", 9, "2025-03-29", "2025-03-29", {window({6}, 14, 20, 14, 25)}));
    f.add(Takeover{"t1", "alert", f.at("2025-03-29", 13, 59, 1) + 3, f.at("2025-03-29", 14, 20)});
    f.add(Takeover{"t2", "short", f.at("2025-03-29", 14, 10), f.at("2025-03-29", 14, 11)});
    f.add(Takeover{"t3", "alert", f.at("2025-03-30", 1, 30), f.at("2025-03-30", 4, 0)});
    f.requireValid();
    return f;
}

bool sameContent(const Segment& seg, const Decision& d) {
    return seg.state == d.state && seg.source == d.source && seg.sourceId == d.sourceId &&
           seg.playlistId == d.playlistId && seg.campaignId == d.campaignId && seg.itemIndex == d.itemIndex &&
           seg.mediaSha256 == d.mediaSha256 && seg.itemStartUtcMs == d.itemStartUtcMs &&
           seg.itemEndUtcMs == d.itemEndUtcMs;
}

}  // namespace

TEST_CASE("timeline agrees with evaluate at every sampled instant", "[schedule]") {
    const Fixture f = richFixture();
    const std::int64_t from = f.at("2025-03-28", 20, 0), to = f.at("2025-03-31", 2, 0);
    const auto segs = timeline(f.s, from, to);
    REQUIRE_FALSE(segs.empty());

    SECTION("segments are contiguous, non-empty, and neighbours differ") {
        CHECK(segs.front().startUtcMs == from);
        CHECK(segs.back().endUtcMs == to);
        for (std::size_t i = 0; i < segs.size(); ++i) {
            CHECK(segs[i].startUtcMs < segs[i].endUtcMs);
            if (segs[i].state == State::Playing) {
                CHECK(segs[i].itemStartUtcMs <= segs[i].startUtcMs);
                CHECK(segs[i].endUtcMs <= segs[i].itemEndUtcMs);
            }
            if (i > 0) {
                CHECK(segs[i - 1].endUtcMs == segs[i].startUtcMs);
                CHECK_FALSE((segs[i - 1].state == segs[i].state && segs[i - 1].sourceId == segs[i].sourceId &&
                             segs[i - 1].itemIndex == segs[i].itemIndex &&
                             segs[i - 1].itemStartUtcMs == segs[i].itemStartUtcMs));
            }
        }
        // Every kind of source shows up in this interval.
        std::set<std::string> seen;
        for (const auto& s : segs) seen.insert(std::string(stateName(s.state)) + "/" + s.sourceId);
        for (const char* want : {"dark/", "playing/", "playing/base", "playing/tie-a", "playing/tie-b", "playing/top",
                                 "playing/t1", "playing/t2", "playing/t3"}) {
            INFO(want);
            CHECK(seen.count(want) == 1);
        }
    }

    SECTION("random instants") {
        std::mt19937_64 rng(20250415);
        std::uniform_int_distribution<std::int64_t> pick(from, to - 1);
        for (int n = 0; n < 3000; ++n) {
            const std::int64_t t = pick(rng);
            auto it = std::upper_bound(segs.begin(), segs.end(), t,
                                       [](std::int64_t v, const Segment& s) { return v < s.startUtcMs; });
            const Segment& seg = *std::prev(it);
            const Decision d = evaluate(f.s, t);
            INFO("t = " << t);
            REQUIRE(sameContent(seg, d));
            if (d.state == State::Playing) CHECK(d.offsetMs == t - seg.itemStartUtcMs);
            if (seg.endUtcMs < to) CHECK(d.nextChangeUtcMs == seg.endUtcMs);
        }
    }

    SECTION("segment edges") {
        for (const auto& seg : segs) {
            REQUIRE(sameContent(seg, evaluate(f.s, seg.startUtcMs)));
            REQUIRE(sameContent(seg, evaluate(f.s, seg.endUtcMs - 1)));
        }
    }

    SECTION("a timeline of a sub-interval is the same timeline, clipped") {
        std::mt19937_64 rng(7);
        std::uniform_int_distribution<std::int64_t> pick(from, to - 1);
        for (int n = 0; n < 30; ++n) {
            std::int64_t a = pick(rng), b = pick(rng);
            if (a > b) std::swap(a, b);
            if (a == b) continue;
            std::vector<Segment> want;
            for (const auto& seg : segs) {
                if (seg.endUtcMs <= a || seg.startUtcMs >= b) continue;
                Segment c = seg;
                c.startUtcMs = std::max(a, c.startUtcMs);
                c.endUtcMs = std::min(b, c.endUtcMs);
                want.push_back(c);
            }
            REQUIRE(timeline(f.s, a, b) == want);
        }
    }
}

TEST_CASE("evaluation is a pure function of the payload and the instant", "[schedule]") {
    const Fixture f = richFixture();
    const std::int64_t t = f.at("2025-03-29", 13, 30);

    SECTION("two evaluations at the same instant are identical") {
        const Schedule copy = f.s;
        CHECK(evaluate(f.s, t) == evaluate(f.s, t));
        CHECK(evaluate(copy, t) == evaluate(f.s, t));
    }

    SECTION("a later payload version with a later start shows the same thing at the same instant") {
        Schedule later = f.s;
        later.fromUtcMs = f.at("2025-03-29", 13, 0) + 123;
        later.untilUtcMs = later.fromUtcMs + 5 * kDayMs;
        auto offsets = offsetsFor(zone("Europe/Berlin"), later.fromUtcMs, later.untilUtcMs);
        REQUIRE(offsets.ok());
        later.offsets = *offsets;
        REQUIRE(validate(later).ok());
        for (std::int64_t u = later.fromUtcMs; u < later.fromUtcMs + 26 * kHour; u += 7 * kMin + 13)
            REQUIRE(evaluate(later, u) == evaluate(f.s, u));
    }

    SECTION("the answer does not depend on the order of entries and takeovers in the payload") {
        Schedule shuffled = f.s;
        std::reverse(shuffled.entries.begin(), shuffled.entries.end());
        std::reverse(shuffled.takeovers.begin(), shuffled.takeovers.end());
        std::reverse(shuffled.playlists.begin(), shuffled.playlists.end());
        const std::int64_t from = f.at("2025-03-29", 0, 0);
        CHECK(timeline(shuffled, from, from + kDayMs) == timeline(f.s, from, from + kDayMs));
    }
}

TEST_CASE("a day of 10-second items is 8640 segments, counted without a timeline", "[schedule]") {
    Fixture f;
    f.add(playlist("p", {10, 10, 10, 10, 10, 10}, 1));
    f.add(entry("e", "p", 0, "2025-04-14", "2025-04-27"));
    const std::int64_t from = f.at("2025-04-15", 0, 0), to = f.at("2025-04-16", 0, 0);
    const auto segs = timeline(f.s, from, to);
    CHECK(segs.size() == 8640);
    std::map<std::string, int> plays;
    forEachSegment(f.s, from, to, [&](const Segment& seg) {
        if (seg.state == State::Playing && seg.startUtcMs == seg.itemStartUtcMs && seg.endUtcMs == seg.itemEndUtcMs)
            ++plays[seg.mediaSha256];
        return true;
    });
    CHECK(plays.size() == 6);
    for (const auto& [media, n] : plays) CHECK(n == 1440);

    int seen = 0;
    forEachSegment(f.s, from, to, [&](const Segment&) { return ++seen < 5; });
    CHECK(seen == 5);
}

TEST_CASE("the payload round-trips through JSON exactly", "[schedule]") {
    Fixture f = richFixture();
    f.s.playlists[2].items[0].audio = true;
    f.s.playlists[2].items[0].fit = Fit::Fill;
    f.s.entries[0].campaignId = "";
    const json::Value v = toJson(f.s);
    const std::string text = json::canonical(v);
    auto parsed = json::parse(text);
    REQUIRE(parsed.ok());
    auto back = fromJson(*parsed);
    INFO((back.ok() ? std::string() : back.error().str()));
    REQUIRE(back.ok());
    CHECK(*back == f.s);
    CHECK(json::canonical(toJson(*back)) == text);

    SECTION("optional fields: audio defaults to muted; absent operating hours and filler stay absent") {
        json::Value w = v;
        w.asObject()["playlists"].asArray()[0].asObject()["items"].asArray()[0].asObject().erase("audio");
        w.asObject().erase("operating_hours");
        w.asObject().erase("filler");
        auto s = fromJson(w);
        REQUIRE(s.ok());
        CHECK_FALSE(s->playlists[0].items[0].audio);
        CHECK_FALSE(s->operatingHours.has_value());
        CHECK_FALSE(s->fillerPlaylistId.has_value());
        CHECK(toJson(*s).find("operating_hours") == nullptr);
    }
}

TEST_CASE("the worked example of docs/schedule-format.md", "[schedule]") {
    // Kept in step with the document. Offsets: Asia/Shanghai has been UTC+8 since 1991.
    const char* text = R"({
      "zone": "Asia/Shanghai",
      "from_utc_ms": 1744560000000,
      "until_utc_ms": 1745164800000,
      "offsets": [{"start_utc_ms": 1744300800000, "offset_s": 28800}],
      "operating_hours": [{"weekdays": [1, 2, 3, 4, 5, 6, 7], "start": "07:00", "end": "23:00"}],
      "playlists": [
        {"id": "pl-fraud", "name": "反诈防骗 2025", "items": [
          {"media": "1111111111111111111111111111111111111111111111111111111111111111",
           "duration_ms": 15000, "fit": "letterbox", "audio": false},
          {"media": "2222222222222222222222222222222222222222222222222222222222222222",
           "duration_ms": 10000, "fit": "fill", "audio": false}]},
        {"id": "pl-nsed", "name": "国家安全教育日", "items": [
          {"media": "3333333333333333333333333333333333333333333333333333333333333333",
           "duration_ms": 30000, "fit": "letterbox", "audio": true}]},
        {"id": "pl-filler", "name": "一盔一带 安全常在", "items": [
          {"media": "4444444444444444444444444444444444444444444444444444444444444444",
           "duration_ms": 20000, "fit": "fill", "audio": false}]}
      ],
      "entries": [
        {"id": "s-fraud", "playlist": "pl-fraud", "campaign": "", "priority": 0,
         "start_date": "2025-04-01", "end_date": "2025-06-30",
         "dayparts": [{"weekdays": [1, 2, 3, 4, 5], "start": "07:30", "end": "09:30"},
                      {"weekdays": [1, 2, 3, 4, 5], "start": "17:00", "end": "20:00"}]},
        {"id": "s-nsed", "playlist": "pl-nsed", "campaign": "c-2025-nsed", "priority": 10,
         "start_date": "2025-04-15", "end_date": "2025-04-15", "dayparts": []}
      ],
      "takeovers": [],
      "filler": "pl-filler"
    })";
    auto v = json::parse(text);
    REQUIRE(v.ok());
    auto s = fromJson(*v);
    INFO((s.ok() ? std::string() : s.error().str()));
    REQUIRE(s.ok());
    const auto at = [&](const char* date, int hh, int mm, int ss) {
        return tz::utcFromLocal(s->offsets, dayOf(date) * kDayMs + hh * kHour + mm * kMin + ss * kSec);
    };
    // Monday 2025-04-14 07:31:35: 95 s into the 07:30 window; 95 mod 25 = 20, so the
    // second item, which started at 07:31:30.
    const Decision mon = evaluate(*s, at("2025-04-14", 7, 31, 35));
    CHECK(mon.sourceId == "s-fraud");
    CHECK(mon.itemIndex == 1);
    CHECK(mon.itemStartUtcMs == at("2025-04-14", 7, 31, 30));
    CHECK(mon.offsetMs == 5000);
    CHECK(mon.nextChangeUtcMs == at("2025-04-14", 7, 31, 40));
    CHECK(mon.fit == Fit::Fill);
    // Tuesday 2025-04-15 (National Security Education Day): the priority-10 entry all day.
    const Decision tue = evaluate(*s, at("2025-04-15", 8, 0, 0));
    CHECK(tue.sourceId == "s-nsed");
    CHECK(tue.campaignId == "c-2025-nsed");
    CHECK(tue.audio);
    // Between windows, the filler; at night, dark.
    CHECK(evaluate(*s, at("2025-04-14", 12, 0, 0)).source == Source::Filler);
    const Decision night = evaluate(*s, at("2025-04-14", 23, 30, 0));
    CHECK(night.state == State::Dark);
    CHECK(night.nextChangeUtcMs == at("2025-04-15", 7, 0, 0));
    // Opening, and the end of a window.
    const Decision open = evaluate(*s, at("2025-04-14", 7, 0, 0));
    CHECK(open.source == Source::Filler);
    CHECK(open.itemStartUtcMs == at("2025-04-14", 7, 0, 0));
    const Decision closing = evaluate(*s, at("2025-04-14", 9, 29, 50));
    CHECK(closing.sourceId == "s-fraud");
    CHECK(closing.itemIndex == 1);
    CHECK(closing.itemStartUtcMs == at("2025-04-14", 9, 29, 50));
    const Decision after = evaluate(*s, at("2025-04-14", 9, 30, 0));
    CHECK(after.source == Source::Filler);
    CHECK(after.itemStartUtcMs == at("2025-04-14", 9, 30, 0));
    CHECK(evaluate(*s, at("2025-04-15", 7, 0, 0)).sourceId == "s-nsed");
    // The takeover of the example: afterwards the window is where it would have been.
    Schedule with = *s;
    Item alert;
    alert.mediaSha256 = std::string(64, '5');
    alert.durationMs = 7000;
    with.playlists.push_back(Playlist{"pl-alert", "alert", {alert}});
    with.takeovers.push_back(Takeover{"t", "pl-alert", at("2025-04-14", 7, 31, 0), at("2025-04-14", 7, 32, 0)});
    REQUIRE(validate(with).ok());
    CHECK(evaluate(with, at("2025-04-14", 7, 31, 30)).sourceId == "t");
    const Decision resumed = evaluate(with, at("2025-04-14", 7, 32, 0));
    CHECK(resumed.sourceId == "s-fraud");
    CHECK(resumed.itemIndex == 1);
    CHECK(resumed.itemStartUtcMs == at("2025-04-14", 7, 31, 55));
    CHECK(resumed.offsetMs == 5000);
    CHECK(resumed == evaluate(*s, at("2025-04-14", 7, 32, 0)));
}

TEST_CASE("fromJson rejects every malformed payload with a precise message", "[schedule]") {
    Fixture f = richFixture();
    const json::Value good = toJson(f.s);
    REQUIRE(fromJson(good).ok());

    using Mutation = std::function<void(json::Object&)>;
    auto pl0 = [](json::Object& o) -> json::Object& { return o["playlists"].asArray()[0].asObject(); };
    auto item0 = [&](json::Object& o) -> json::Object& { return pl0(o)["items"].asArray()[0].asObject(); };
    auto e0 = [](json::Object& o) -> json::Object& { return o["entries"].asArray()[0].asObject(); };
    auto dp0 = [&](json::Object& o) -> json::Object& { return e0(o)["dayparts"].asArray()[0].asObject(); };
    auto t0 = [](json::Object& o) -> json::Object& { return o["takeovers"].asArray()[0].asObject(); };

    struct Case {
        const char* what;
        Mutation mutate;
        const char* message;  // a part of the expected message
    };
    const std::vector<Case> cases{
        {"uppercase hash", [&](json::Object& o) { item0(o)["media"] = std::string(64, 'A'); },
         "playlists[0].items[0].media"},
        {"short hash", [&](json::Object& o) { item0(o)["media"] = std::string(63, 'a'); }, "SHA-256"},
        {"non-hex hash", [&](json::Object& o) { item0(o)["media"] = std::string(64, 'g'); }, "SHA-256"},
        {"zero duration", [&](json::Object& o) { item0(o)["duration_ms"] = 0; }, "items[0].duration_ms"},
        {"negative duration", [&](json::Object& o) { item0(o)["duration_ms"] = -10; }, "duration_ms"},
        {"day-long duration", [&](json::Object& o) { item0(o)["duration_ms"] = kDayMs + 1; }, "duration_ms"},
        {"duration as string", [&](json::Object& o) { item0(o)["duration_ms"] = "10000"; }, "expected an integer"},
        {"bad fit", [&](json::Object& o) { item0(o)["fit"] = "stretch"; }, "fit"},
        {"audio not bool", [&](json::Object& o) { item0(o)["audio"] = 1; }, "audio: expected true or false"},
        {"validity reversed",
         [&](json::Object& o) {
             item0(o)["valid_from_utc_ms"] = std::int64_t{2000};
             item0(o)["valid_until_utc_ms"] = std::int64_t{1000};
         },
         "valid_until_utc_ms"},
        {"negative validity", [&](json::Object& o) { item0(o)["valid_from_utc_ms"] = -1; }, "valid_from_utc_ms"},
        {"unknown item field", [&](json::Object& o) { item0(o)["volume"] = 3; }, "items[0].volume: unknown field"},
        {"empty playlist", [&](json::Object& o) { pl0(o)["items"] = json::Array{}; }, "at least one item"},
        {"empty playlist name", [&](json::Object& o) { pl0(o)["name"] = ""; }, "playlists[0].name"},
        {"control char in name", [&](json::Object& o) { pl0(o)["name"] = "a\nb"; }, "playlists[0].name"},
        {"bad playlist id", [&](json::Object& o) { pl0(o)["id"] = "a b"; }, "playlists[0].id"},
        {"duplicate playlist id", [&](json::Object& o) { o["playlists"].asArray()[1].asObject()["id"] = "base"; },
         "duplicate playlist id"},
        {"entry names unknown playlist", [&](json::Object& o) { e0(o)["playlist"] = "nope"; },
         "entries[0].playlist: unknown playlist \"nope\""},
        {"takeover names unknown playlist", [&](json::Object& o) { t0(o)["playlist"] = "nope"; },
         "takeovers[0].playlist: unknown playlist"},
        {"filler names unknown playlist", [](json::Object& o) { o["filler"] = "nope"; }, "filler: unknown playlist"},
        {"duplicate entry id", [&](json::Object& o) { o["entries"].asArray()[1].asObject()["id"] = "base"; },
         "duplicate entry id"},
        {"duplicate takeover id", [&](json::Object& o) { o["takeovers"].asArray()[1].asObject()["id"] = "t1"; },
         "duplicate takeover id"},
        {"bad campaign id", [&](json::Object& o) { e0(o)["campaign"] = "c/1"; }, "entries[0].campaign"},
        {"priority beyond 32 bits", [&](json::Object& o) { e0(o)["priority"] = std::int64_t{1} << 31; },
         "entries[0].priority"},
        {"bad date", [&](json::Object& o) { e0(o)["start_date"] = "2025-02-30"; }, "entries[0].start_date"},
        {"date with time", [&](json::Object& o) { e0(o)["end_date"] = "2025-04-30T00:00"; }, "end_date"},
        {"end before start", [&](json::Object& o) { e0(o)["end_date"] = "2025-03-01"; }, "is before start_date"},
        {"time without leading zero", [&](json::Object& o) { dp0(o)["start"] = "8:00"; },
         "entries[0].dayparts[0].start: expected \"HH:MM\""},
        {"hour 24", [&](json::Object& o) { dp0(o)["end"] = "24:00"; }, "dayparts[0].end"},
        {"minute 60", [&](json::Object& o) { dp0(o)["start"] = "12:60"; }, "dayparts[0].start"},
        {"time with seconds", [&](json::Object& o) { dp0(o)["start"] = "12:00:00"; }, "HH:MM"},
        {"time as integer", [&](json::Object& o) { dp0(o)["start"] = 720; }, "expected a string"},
        {"weekday 0",
         [&](json::Object& o) {
             dp0(o)["weekdays"] = json::Array{0, 1};
         },
         "weekdays[0]"},
        {"weekday 8",
         [&](json::Object& o) {
             dp0(o)["weekdays"] = json::Array{1, 8};
         },
         "weekdays[1]"},
        {"weekdays unsorted",
         [&](json::Object& o) {
             dp0(o)["weekdays"] = json::Array{3, 1};
         },
         "strictly ascending"},
        {"weekdays repeated",
         [&](json::Object& o) {
             dp0(o)["weekdays"] = json::Array{2, 2};
         },
         "strictly ascending"},
        {"no weekdays", [&](json::Object& o) { dp0(o)["weekdays"] = json::Array{}; }, "at least one weekday"},
        {"weekday as string", [&](json::Object& o) { dp0(o)["weekdays"] = json::Array{"Mon"}; }, "weekdays[0]"},
        {"too many dayparts",
         [&](json::Object& o) {
             json::Array many(kMaxDayparts + 1, dp0(o));
             e0(o)["dayparts"] = many;
         },
         "more than 32 windows"},
        {"takeover expires at its start", [&](json::Object& o) { t0(o)["expires_utc_ms"] = t0(o)["start_utc_ms"]; },
         "takeovers[0].expires_utc_ms"},
        {"empty operating hours", [](json::Object& o) { o["operating_hours"] = json::Array{}; }, "operating_hours"},
        {"bad operating hours", [](json::Object& o) { o["operating_hours"].asArray()[0].asObject()["end"] = "23:5"; },
         "operating_hours[0].end"},
        {"until before from", [](json::Object& o) { o["until_utc_ms"] = o["from_utc_ms"]; }, "until_utc_ms"},
        {"payload over 400 days", [](json::Object& o) { o["until_utc_ms"] = o["from_utc_ms"].asInt() + 401 * kDayMs; },
         "400 days"},
        {"offsets start too late",
         [](json::Object& o) {
             o["offsets"].asArray()[0].asObject()["start_utc_ms"] = o["from_utc_ms"].asInt() - kDayMs;
         },
         "3 days before"},
        {"no offsets", [](json::Object& o) { o["offsets"] = json::Array{}; }, "offsets: must not be empty"},
        {"offsets not ascending",
         [](json::Object& o) {
             auto& a = o["offsets"].asArray();
             a[1].asObject()["start_utc_ms"] = a[0].asObject()["start_utc_ms"];
         },
         "strictly ascending"},
        {"redundant offset",
         [](json::Object& o) {
             auto& a = o["offsets"].asArray();
             a[1].asObject()["offset_s"] = a[0].asObject()["offset_s"];
         },
         "redundant"},
        {"offset beyond 26 h", [](json::Object& o) { o["offsets"].asArray()[0].asObject()["offset_s"] = 100000; },
         "offset_s"},
        {"bad zone name", [](json::Object& o) { o["zone"] = "../etc/passwd"; }, "zone"},
        {"missing field", [](json::Object& o) { o.erase("entries"); }, "entries: missing"},
        {"entries not an array", [](json::Object& o) { o["entries"] = json::Object{}; }, "entries: expected an array"},
        {"entry not an object", [](json::Object& o) { o["entries"].asArray()[0] = 5; },
         "entries[0]: expected an object"},
        {"unknown top-level field", [](json::Object& o) { o["version"] = 2; }, "version: unknown field"},
        {"null filler", [](json::Object& o) { o["filler"] = nullptr; }, "filler: expected a string"},
    };
    for (const auto& c : cases) {
        json::Value v = good;
        c.mutate(v.asObject());
        auto r = fromJson(v);
        INFO(c.what);
        REQUIRE_FALSE(r.ok());
        CHECK(r.code() == Errc::BadManifest);
        INFO(r.error().message);
        CHECK(r.error().message.find(c.message) != std::string::npos);
    }

    CHECK(fromJson(json::Value(json::Array{})).code() == Errc::BadManifest);
    CHECK(fromJson(json::Value("schedule")).code() == Errc::BadManifest);
}

TEST_CASE("validate checks schedules built in code too", "[schedule]") {
    Fixture f;
    f.add(playlist("p", {10}, 1));
    f.add(entry("e", "p", 0, "2025-04-14", "2025-04-14", {window({1}, 8, 0, 9, 0)}));
    f.requireValid();
    SECTION("minutes out of range") {
        f.s.entries[0].dayparts[0].endMinute = 1440;
        CHECK(validate(f.s).code() == Errc::BadManifest);
    }
    SECTION("no weekdays") {
        f.s.entries[0].dayparts[0].weekdays = 0;
        CHECK(validate(f.s).code() == Errc::BadManifest);
    }
    SECTION("weekday bits beyond Sunday") {
        f.s.entries[0].dayparts[0].weekdays = 0x80;
        CHECK(validate(f.s).code() == Errc::BadManifest);
    }
    SECTION("date beyond year 9999") {
        f.s.entries[0].endDay = dayOf("9999-12-31") + 1;
        CHECK(validate(f.s).code() == Errc::BadManifest);
    }
}

TEST_CASE("the evaluator survives payloads that did not pass validation", "[schedule]") {
    Schedule s;  // no offsets, nothing
    CHECK(evaluate(s, 0).state == State::Idle);
    s.playlists.push_back(Playlist{"p", "p", {}});
    s.entries.push_back(Entry{"e", "p", "", 0, 0, 100, {}});
    s.entries.push_back(Entry{"e2", "missing", "", 0, 0, 100, {}});
    s.takeovers.push_back(Takeover{"t", "p", 0, 1000});
    s.fillerPlaylistId = "missing";
    s.untilUtcMs = 10 * kDayMs;
    CHECK(evaluate(s, 5000).state == State::Idle);
    Playlist zero{"z", "z", {Item{sha(1), 0, Fit::Fill, false, {}, {}}}};
    s.playlists.push_back(zero);
    s.entries.push_back(Entry{"e3", "z", "", 0, 0, 100, {}});
    CHECK(evaluate(s, 5000).state == State::Idle);
    CHECK(timeline(s, 0, kDayMs).size() == 1);
    CHECK(evaluate(s, -kMaxUtcMs - 5).state == State::Idle);
    CHECK(evaluate(s, kMaxUtcMs).state == State::Idle);
    CHECK(timeline(s, 5, 5).empty());
}

TEST_CASE("timeline agrees with evaluate on random schedules", "[schedule]") {
    std::mt19937_64 rng(1010);
    auto uniform = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
    // Three days around a DST change in the two DST zones (US 03-09, EU 03-30).
    struct Setup {
        const char* zone;
        const char* payloadStart;
        const char* entriesFrom;
        const char* shortEnd;
        const char* longEnd;
        const char* first;
        const char* last;
    };
    const Setup setups[] = {
        {"Asia/Shanghai", "2025-03-05", "2025-03-06", "2025-03-09", "2025-03-12", "2025-03-08", "2025-03-11"},
        {"Europe/Berlin", "2025-03-26", "2025-03-27", "2025-03-30", "2025-04-02", "2025-03-29", "2025-04-01"},
        {"America/New_York", "2025-03-05", "2025-03-06", "2025-03-09", "2025-03-12", "2025-03-08", "2025-03-11"},
    };
    for (int round = 0; round < 24; ++round) {
        const Setup& setup = setups[round % 3];
        Fixture f(setup.payloadStart, 10, setup.zone);
        const std::int64_t t0 = f.at(setup.first, 0, 0), t1 = f.at(setup.last, 0, 0);
        const int playlists = uniform(1, 4);
        for (int p = 0; p < playlists; ++p) {
            std::vector<int> seconds;
            for (int i = uniform(1, 5); i > 0; --i) seconds.push_back(uniform(3, 40));
            Playlist pl = playlist("p" + std::to_string(p), seconds, 100 * p);
            for (auto& item : pl.items) {
                if (uniform(0, 4) == 0) item.validFromUtcMs = t0 + uniform(0, 72 * 60) * kMin;
                if (uniform(0, 4) == 0) item.validUntilUtcMs = t0 + uniform(24 * 60, 80 * 60) * kMin + 1;
                if (item.validFromUtcMs && item.validUntilUtcMs && *item.validUntilUtcMs <= *item.validFromUtcMs)
                    item.validUntilUtcMs.reset();
            }
            f.add(pl);
        }
        auto pid = [&] { return "p" + std::to_string(uniform(0, playlists - 1)); };
        for (int e = uniform(0, 6); e > 0; --e) {
            std::vector<Daypart> parts;
            for (int d = uniform(0, 3); d > 0; --d) {
                std::vector<int> days;
                for (int w = 1; w <= 7; ++w)
                    if (uniform(0, 1)) days.push_back(w);
                if (days.empty()) days.push_back(uniform(1, 7));
                parts.push_back(window(days, uniform(0, 23), uniform(0, 3) * 15, uniform(0, 23), uniform(0, 3) * 15));
            }
            f.add(entry("e" + std::to_string(e), pid(), uniform(0, 2), setup.entriesFrom,
                        uniform(0, 1) ? setup.shortEnd : setup.longEnd, parts));
        }
        for (int t = uniform(0, 3); t > 0; --t) {
            const std::int64_t start = t0 + uniform(0, 70 * 60) * kMin + uniform(0, 59999);
            f.add(Takeover{"t" + std::to_string(t), pid(), start, start + uniform(1, 180) * kMin});
        }
        if (uniform(0, 1)) f.s.fillerPlaylistId = pid();
        if (uniform(0, 2) == 0)
            f.s.operatingHours = std::vector<Daypart>{window(kEveryDay, uniform(5, 9), 0, uniform(20, 23), 30)};
        f.requireValid();

        const auto segs = timeline(f.s, t0, t1);
        REQUIRE(segs.front().startUtcMs == t0);
        REQUIRE(segs.back().endUtcMs == t1);
        std::uniform_int_distribution<std::int64_t> pick(t0, t1 - 1);
        for (int n = 0; n < 300; ++n) {
            const std::int64_t t = pick(rng);
            auto it = std::upper_bound(segs.begin(), segs.end(), t,
                                       [](std::int64_t v, const Segment& s) { return v < s.startUtcMs; });
            const Segment& seg = *std::prev(it);
            const Decision d = evaluate(f.s, t);
            INFO("round " << round << ", t = " << t);
            REQUIRE(sameContent(seg, d));
            if (seg.endUtcMs < t1 && seg.endUtcMs <= t + 2 * kDayMs) CHECK(d.nextChangeUtcMs == seg.endUtcMs);
        }
        for (std::size_t i = 1; i < segs.size(); ++i) REQUIRE(segs[i - 1].endUtcMs == segs[i].startUtcMs);
    }
}

namespace {

// Every segment of a Playing stretch of one source is a whole slot (except where
// the interval cuts it), and each slot is the one after the slot before in the
// playlist: the rotation never starts again.
void checkRotationContinues(const std::vector<Segment>& segs, const Playlist& p, std::int64_t from, std::int64_t to) {
    REQUIRE(segs.size() > 2);
    for (std::size_t k = 0; k < segs.size(); ++k) {
        const Segment& g = segs[k];
        INFO("segment " << k << " at " << g.startUtcMs << ", item " << g.itemIndex);
        REQUIRE(g.state == State::Playing);
        CHECK(g.itemEndUtcMs - g.itemStartUtcMs == p.items[g.itemIndex].durationMs);
        if (g.startUtcMs != from) CHECK(g.startUtcMs == g.itemStartUtcMs);
        if (g.endUtcMs != to) CHECK(g.endUtcMs == g.itemEndUtcMs);
        if (k > 0) CHECK(g.itemIndex == (segs[k - 1].itemIndex + 1) % p.items.size());
    }
}

}  // namespace

TEST_CASE("a rotation keeps its phase across local midnight", "[schedule][midnight]") {
    // Asia/Shanghai (UTC+8, no DST), Asia/Kolkata (UTC+5:30) and
    // America/New_York across its spring-forward night (2025-03-09).
    const char* zoneName = GENERATE("Asia/Shanghai", "Asia/Kolkata", "America/New_York");
    INFO(zoneName);
    Fixture f("2025-03-05", 14, zoneName);
    // A 37 s cycle that divides no day, so a restart at midnight would show.
    f.add(playlist("p", {10, 12, 15}, 1));
    f.add(entry("all-day", "p", 0, "2025-03-06", "2025-03-12"));
    f.requireValid();
    const Playlist& p = f.s.playlists[0];

    SECTION("an all-day entry: one rotation from its first date to its last") {
        const std::int64_t from = f.at("2025-03-06", 0, 0), to = f.at("2025-03-13", 0, 0);
        // It starts with its first item when its first date begins.
        checkPlaying(f.eval(from), "all-day", 0, from);
        checkRotationContinues(timeline(f.s, from, to), p, from, to);
        // Each midnight: the slot on air began before it and runs on.
        for (const char* day : {"2025-03-07", "2025-03-08", "2025-03-09", "2025-03-10", "2025-03-11", "2025-03-12"}) {
            INFO(day);
            const std::int64_t midnight = f.at(day, 0, 0);
            const Decision at = f.eval(midnight), before = f.eval(midnight - 1);
            if (before.itemEndUtcMs > midnight) {  // (on 03-08 a slot boundary falls on midnight)
                CHECK(at.itemStartUtcMs == before.itemStartUtcMs);
                CHECK(at.itemIndex == before.itemIndex);
            }
            // Where the rotation stands follows from the entry's start alone.
            const std::int64_t into = (midnight - from) % 37000;
            const std::size_t expected = into < 10000 ? 0 : into < 22000 ? 1 : 2;
            CHECK(at.itemIndex == expected);
        }
    }

    SECTION("the filler at a location that never closes") {
        f.s.entries.clear();
        f.s.fillerPlaylistId = "p";
        const std::int64_t from = f.at("2025-03-06", 12, 0), to = f.at("2025-03-12", 12, 0);
        checkRotationContinues(timeline(f.s, from, to), p, from, to);
        SECTION("operating hours of 24 h every day do not cut it either") {
            f.s.operatingHours = std::vector<Daypart>{window(kEveryDay, 0, 0, 0, 0)};
            f.requireValid();
            checkRotationContinues(timeline(f.s, from, to), p, from, to);
        }
    }

    SECTION("a location open Monday to Friday round the clock starts each Monday") {
        f.s.operatingHours = std::vector<Daypart>{window({1, 2, 3, 4, 5}, 0, 0, 0, 0)};
        f.requireValid();
        // Mon 03-10 00:00 to Sat 03-15 00:00 (the entry ends on the 12th: the
        // rotation is the entry's, anchored at its own start, up to then).
        const std::int64_t open = f.at("2025-03-10", 0, 0);
        CHECK(f.eval(open - 1).state == State::Dark);
        f.s.entries.clear();
        f.s.fillerPlaylistId = "p";
        checkPlaying(f.eval(open), "", 0, open);
        // Friday, four days on: the same rotation, seen from an evaluation
        // that starts long after the opening.
        const std::int64_t friday = f.at("2025-03-14", 18, 0);
        const Decision d = f.eval(friday);
        CHECK((d.itemStartUtcMs - open) % 37000 == (d.itemIndex == 0 ? 0 : d.itemIndex == 1 ? 10000 : 22000));
        checkRotationContinues(timeline(f.s, open, f.at("2025-03-15", 0, 0)), p, open, f.at("2025-03-15", 0, 0));
    }

    SECTION("a takeover over midnight leaves the rotation where it would be") {
        const Schedule plain = f.s;
        const std::int64_t midnight = f.at("2025-03-09", 0, 0);
        f.add(playlist("alert", {5}, 90));
        f.add(Takeover{"t-night", "alert", midnight - 90 * kSec, midnight + 95 * kSec});
        f.requireValid();
        CHECK(f.eval(midnight).source == Source::Takeover);
        for (std::int64_t t = midnight + 95 * kSec; t < midnight + 200 * kSec; t += 7 * kSec) {
            const Decision with = f.eval(t), without = evaluate(plain, t);
            CHECK(with.source == Source::Entry);
            CHECK(with.itemIndex == without.itemIndex);
            CHECK(with.itemStartUtcMs == without.itemStartUtcMs);
        }
    }

    SECTION("a payload compiled days later places the rotation at the same instants") {
        Fixture later("2025-03-08", 14, zoneName);
        later.s.playlists = f.s.playlists;
        later.s.entries = f.s.entries;
        // Both payloads' offsets reach back to the entry's first date.
        for (std::int64_t t = f.at("2025-03-08", 0, 0); t < f.at("2025-03-12", 0, 0); t += 7 * kHour + 13 * kSec) {
            const Decision a = f.eval(t), b = later.eval(t);
            CHECK(a.itemIndex == b.itemIndex);
            CHECK(a.itemStartUtcMs == b.itemStartUtcMs);
        }
    }
}
