// The schedule evaluator (docs/schedule-format.md, "Evaluation"): the pure
// function from a schedule payload and an instant to what plays, shared by the
// controller's preview and the players. The payload model, its parser and
// validator are in schedule.cpp.
#include <algorithm>
#include <limits>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include "microscape/core/schedule.hpp"
#include "microscape/core/time.hpp"

namespace microscape::schedule {

// ===========================================================================
// Evaluation.
//
// The base plan (operating hours, entries, filler) is a sequence of runs: maximal
// stretches during which the same thing is eligible to play - the same winning
// entries, each in the same window occurrence, with the same playable items (or
// the filler with the same playable items, or Dark, or Idle). An all-day entry is
// one occurrence over its whole date range, and the filler is not tied to a day,
// so nothing changes at local midnight. A run's rotation is anchored at the latest
// of its entries' window starts (an all-day entry: its first date's midnight) and
// the instant the location last opened; with none of these (the filler at a
// location always open) at the epoch: its position is (t - 0) mod cycle. Takeovers form runs of their own (same
// playable items), laid over the base plan without disturbing it, so when one ends
// the base plan is exactly where it would have been without it.

namespace {

// Long enough to see a window's start (windows last at most 24 h) and when the
// location last opened: operating hours repeat weekly, so a location open for
// longer than a week is always open (and its runs are anchored at the epoch).
constexpr std::int64_t kLookbackMs = 8 * kDayMs;
constexpr std::int64_t kHorizonMs = 2 * kDayMs;  // how far evaluate() looks for the next change

using Spans = std::span<const tz::OffsetSpan>;

std::int64_t floorDiv(std::int64_t a, std::int64_t b) {
    std::int64_t q = a / b;
    if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
    return q;
}

std::int64_t localDayOf(Spans sp, std::int64_t utcMs) {
    return floorDiv(tz::localFromUtc(sp, utcMs), kDayMs);
}

std::int64_t utcOfLocal(Spans sp, std::int64_t day, std::int64_t msOfDay) {
    return tz::utcFromLocal(sp, day * kDayMs + msOfDay);
}

struct Occurrence {
    std::int64_t start;
    std::int64_t end;
};

// Window occurrences of dayparts (or whole local days if there are none) on local
// days [day0, day1]. A window that falls entirely into a DST gap does not occur.
void addOccurrences(const std::vector<Daypart>& parts, std::int64_t day0, std::int64_t day1, Spans sp,
                    std::vector<Occurrence>& out) {
    for (std::int64_t d = day0; d <= day1; ++d) {
        if (parts.empty()) {
            const std::int64_t s = utcOfLocal(sp, d, 0), e = utcOfLocal(sp, d + 1, 0);
            if (e > s) out.push_back({s, e});
            continue;
        }
        const int weekday = timeutil::isoWeekday(d);
        for (const auto& p : parts) {
            if (!(p.weekdays & (1u << (weekday - 1)))) continue;
            const std::int64_t s = utcOfLocal(sp, d, std::int64_t{p.startMinute} * 60000);
            const std::int64_t e = utcOfLocal(sp, d + (p.crossesMidnight() ? 1 : 0), std::int64_t{p.endMinute} * 60000);
            if (e > s) out.push_back({s, e});
        }
    }
}

bool itemPlayableAt(const Item& item, std::int64_t t) {
    if (item.durationMs <= 0) return false;
    if (item.validFromUtcMs && t < *item.validFromUtcMs) return false;
    if (item.validUntilUtcMs && t >= *item.validUntilUtcMs) return false;
    return true;
}

std::vector<std::uint32_t> playableItems(const Playlist& p, std::int64_t t) {
    std::vector<std::uint32_t> out;
    for (std::size_t i = 0; i < p.items.size(); ++i)
        if (itemPlayableAt(p.items[i], t)) out.push_back(static_cast<std::uint32_t>(i));
    return out;
}

void addValidityEdges(const Playlist& p, std::int64_t lo, std::int64_t hi, std::vector<std::int64_t>& out) {
    for (const auto& item : p.items) {
        if (item.validFromUtcMs && *item.validFromUtcMs > lo && *item.validFromUtcMs < hi)
            out.push_back(*item.validFromUtcMs);
        if (item.validUntilUtcMs && *item.validUntilUtcMs > lo && *item.validUntilUtcMs < hi)
            out.push_back(*item.validUntilUtcMs);
    }
}

void sortUnique(std::vector<std::int64_t>& v) {
    std::sort(v.begin(), v.end());
    v.erase(std::unique(v.begin(), v.end()), v.end());
}

// One playlist taking part in a run.
struct Member {
    Source source = Source::Entry;
    std::int32_t index = -1;           // entry or takeover index; -1 for the filler
    std::int64_t occurrenceStart = 0;  // the window it plays in (an all-day entry: its whole range); 0 for the filler
    std::vector<std::uint32_t> items;  // playable item indices, in playlist order

    bool operator==(const Member&) const = default;
};

enum class RunKind { Dark, Idle, Play };

struct Slot {
    std::uint32_t member;
    std::uint32_t item;
    std::int64_t offsetMs;  // from the start of the cycle
    std::int64_t durationMs;
};

struct Run {
    std::int64_t start = 0;
    std::int64_t end = 0;
    std::int64_t anchor = 0;  // where the rotation's cycles are counted from
    RunKind kind = RunKind::Idle;
    std::vector<Member> members;  // sorted by entry id
    // The rotation, built on first use.
    std::vector<Slot> slots;
    std::int64_t cycleMs = 0;

    bool sameKey(RunKind k, const std::vector<Member>& m) const { return kind == k && members == m; }
};

class Engine {
  public:
    explicit Engine(const Schedule& s) : s_(s), spans_(s.offsets) {
        std::unordered_map<std::string_view, const Playlist*> byId;
        for (const auto& p : s.playlists) byId.emplace(p.id, &p);
        auto find = [&](std::string_view id) -> const Playlist* {
            auto it = byId.find(id);
            return it == byId.end() ? nullptr : it->second;
        };
        for (const auto& e : s.entries) entryPlaylist_.push_back(find(e.playlistId));
        for (const auto& t : s.takeovers) takeoverPlaylist_.push_back(find(t.playlistId));
        if (s.fillerPlaylistId) filler_ = find(*s.fillerPlaylistId);
    }

    // Hands the merged segments of [lo, hi) to out until it returns false.
    void run(std::int64_t lo, std::int64_t hi, const std::function<bool(const Segment&)>& out) {
        out_ = &out;
        stopped_ = false;
        pending_.reset();
        if (lo >= hi) return;

        std::vector<Run> base = baseRuns(lo - kLookbackMs, hi);
        std::vector<std::vector<Run>> overlays = takeoverRuns(lo, hi);

        std::vector<std::int64_t> cuts{lo, hi};
        for (const auto& r : base)
            if (r.start > lo && r.start < hi) cuts.push_back(r.start);
        for (const auto& runs : overlays) {
            for (const auto& r : runs) {
                if (r.start > lo && r.start < hi) cuts.push_back(r.start);
                if (r.end > lo && r.end < hi) cuts.push_back(r.end);
            }
        }
        sortUnique(cuts);

        std::size_t bi = 0;
        std::vector<std::size_t> ti(overlays.size(), 0);
        for (std::size_t k = 0; k + 1 < cuts.size() && !stopped_; ++k) {
            const std::int64_t a = cuts[k], b = cuts[k + 1];
            while (bi + 1 < base.size() && base[bi].end <= a) ++bi;
            Run& br = base[bi];
            if (br.kind == RunKind::Dark) {
                emitBlank(State::Dark, a, b);
                continue;
            }
            Run* best = nullptr;
            std::size_t bestTakeover = 0;
            for (std::size_t t = 0; t < overlays.size(); ++t) {
                auto& runs = overlays[t];
                while (ti[t] < runs.size() && runs[ti[t]].end <= a) ++ti[t];
                if (ti[t] == runs.size()) continue;
                Run& r = runs[ti[t]];
                if (r.start > a || r.kind != RunKind::Play) continue;
                if (!best || beats(t, bestTakeover)) {
                    best = &r;
                    bestTakeover = t;
                }
            }
            if (best) {
                play(*best, a, b);
            } else if (br.kind == RunKind::Idle) {
                emitBlank(State::Idle, a, b);
            } else {
                play(br, a, b);
            }
        }
        flush();
    }

  private:
    // Latest start wins; equal starts: the smaller id.
    bool beats(std::size_t a, std::size_t b) const {
        const auto& ta = s_.takeovers[a];
        const auto& tb = s_.takeovers[b];
        if (ta.startUtcMs != tb.startUtcMs) return ta.startUtcMs > tb.startUtcMs;
        return ta.id < tb.id;
    }

    // Where an entry's occurrence (who >= 0) or the operating hours (who = -1)
    // open or close.
    struct Event {
        std::int64_t at;
        std::int32_t who;
        bool opens;
        std::int64_t occurrenceStart;
    };

    // The events of [lo, hi) sorted by time, and every instant where the
    // picture may change (cuts, sorted, unique, starting with lo).
    void collectEvents(std::int64_t lo, std::int64_t hi, std::vector<Event>& events,
                       std::vector<std::int64_t>& cuts) const {
        // Occurrences can start up to a day before the local day they reach into.
        const std::int64_t day0 = localDayOf(spans_, lo) - 2;
        const std::int64_t day1 = localDayOf(spans_, hi) + 1;
        cuts.assign(1, lo);
        std::vector<Occurrence> occ;
        for (std::size_t i = 0; i < s_.entries.size(); ++i) {
            const auto& e = s_.entries[i];
            if (!entryPlaylist_[i]) continue;
            occ.clear();
            if (e.dayparts.empty()) {
                // All day: one occurrence from the first date's midnight to the
                // end of the last date, whatever the interval asked about.
                if (e.startDay <= day1 && e.endDay >= day0) {
                    const std::int64_t s = utcOfLocal(spans_, e.startDay, 0), en = utcOfLocal(spans_, e.endDay + 1, 0);
                    if (en > s) occ.push_back({s, en});
                }
            } else {
                addOccurrences(e.dayparts, std::max(day0, e.startDay), std::min(day1, e.endDay), spans_, occ);
            }
            for (const auto& o : occ) {
                events.push_back({o.start, static_cast<std::int32_t>(i), true, o.start});
                events.push_back({o.end, static_cast<std::int32_t>(i), false, o.start});
            }
            addValidityEdges(*entryPlaylist_[i], lo, hi, cuts);
        }
        if (s_.operatingHours) {
            occ.clear();
            addOccurrences(*s_.operatingHours, day0, day1, spans_, occ);
            for (const auto& o : occ) {
                events.push_back({o.start, -1, true, o.start});
                events.push_back({o.end, -1, false, o.start});
            }
        }
        if (filler_) addValidityEdges(*filler_, lo, hi, cuts);
        if (s_.untilUtcMs > lo && s_.untilUtcMs < hi) cuts.push_back(s_.untilUtcMs);
        for (const auto& ev : events)
            if (ev.at > lo && ev.at < hi) cuts.push_back(ev.at);
        sortUnique(cuts);
        std::sort(events.begin(), events.end(), [](const Event& a, const Event& b) { return a.at < b.at; });
    }

    // Active entries, best first: higher priority, then smaller id.
    struct Better {
        const Schedule* s;
        bool operator()(std::int32_t a, std::int32_t b) const {
            const auto& ea = s->entries[static_cast<std::size_t>(a)];
            const auto& eb = s->entries[static_cast<std::size_t>(b)];
            if (ea.priority != eb.priority) return ea.priority > eb.priority;
            if (ea.id != eb.id) return ea.id < eb.id;
            return a < b;
        }
    };
    using ActiveSet = std::set<std::int32_t, Better>;

    // What plays at t (outside dark hours): the best active entries of one
    // priority that have playable items, else the filler.
    void membersAt(std::int64_t t, const ActiveSet& active,
                   const std::vector<std::vector<std::int64_t>>& openOccurrences, std::vector<Member>& members) const {
        if (t < s_.untilUtcMs) {
            std::optional<std::int32_t> groupPriority;
            for (std::int32_t idx : active) {
                const auto& e = s_.entries[static_cast<std::size_t>(idx)];
                if (groupPriority && e.priority != *groupPriority) break;
                auto items = playableItems(*entryPlaylist_[static_cast<std::size_t>(idx)], t);
                if (items.empty()) continue;
                const auto& open = openOccurrences[static_cast<std::size_t>(idx)];
                const std::int64_t occStart = *std::max_element(open.begin(), open.end());
                members.push_back({Source::Entry, idx, occStart, std::move(items)});
                groupPriority = e.priority;
            }
        }
        if (members.empty() && filler_) {
            auto items = playableItems(*filler_, t);
            if (!items.empty()) members.push_back({Source::Filler, -1, 0, std::move(items)});
        }
    }

    // The schedule's own runs over [lo, hi): a sweep over the cuts, opening and
    // closing occurrences as their events pass, merging equal neighbours.
    std::vector<Run> baseRuns(std::int64_t lo, std::int64_t hi) const {
        std::vector<Event> events;
        std::vector<std::int64_t> cuts;
        collectEvents(lo, hi, events, cuts);

        ActiveSet active(Better{&s_});
        std::vector<std::vector<std::int64_t>> openOccurrences(s_.entries.size());
        int openHours = 0;
        // When the location last opened, if the sweep saw it closed (else it has
        // been open for longer than a week, i.e. always).
        std::optional<std::int64_t> openSince;
        bool wasDark = false;

        std::vector<Run> runs;
        std::size_t ei = 0;
        std::vector<Member> members;
        for (std::size_t k = 0; k < cuts.size(); ++k) {
            const std::int64_t t = cuts[k];
            const std::int64_t next = k + 1 < cuts.size() ? cuts[k + 1] : hi;
            for (; ei < events.size() && events[ei].at <= t; ++ei) {
                const Event& ev = events[ei];
                if (ev.who < 0) {
                    openHours += ev.opens ? 1 : -1;
                    continue;
                }
                auto& open = openOccurrences[static_cast<std::size_t>(ev.who)];
                if (ev.opens) {
                    open.push_back(ev.occurrenceStart);
                    active.insert(ev.who);
                } else {
                    auto it = std::find(open.begin(), open.end(), ev.occurrenceStart);
                    if (it != open.end()) open.erase(it);
                    if (open.empty()) active.erase(ev.who);
                }
            }

            RunKind kind = RunKind::Idle;
            members.clear();
            if (s_.operatingHours && openHours <= 0) {
                kind = RunKind::Dark;
                wasDark = true;
            } else {
                if (wasDark) openSince = t;
                wasDark = false;
                membersAt(t, active, openOccurrences, members);
                kind = members.empty() ? RunKind::Idle : RunKind::Play;
            }
            if (!runs.empty() && runs.back().sameKey(kind, members)) {
                runs.back().end = next;
            } else {
                Run r;
                r.start = t;
                r.end = next;
                r.kind = kind;
                r.members = members;
                // The latest of: when the location opened, when each entry's window
                // (or an all-day entry's first date) began; none: the epoch.
                std::optional<std::int64_t> anchor = openSince;
                for (const auto& m : r.members)
                    if (m.source == Source::Entry)
                        anchor = std::max(anchor.value_or(m.occurrenceStart), m.occurrenceStart);
                r.anchor = anchor.value_or(0);
                runs.push_back(std::move(r));
            }
        }
        return runs;
    }

    // For each takeover, its runs over its whole life (so a run's start does not
    // depend on the interval asked for); empty for takeovers outside [lo, hi).
    std::vector<std::vector<Run>> takeoverRuns(std::int64_t lo, std::int64_t hi) const {
        std::vector<std::vector<Run>> all(s_.takeovers.size());
        for (std::size_t i = 0; i < s_.takeovers.size(); ++i) {
            const auto& t = s_.takeovers[i];
            const Playlist* p = takeoverPlaylist_[i];
            if (!p || t.startUtcMs >= hi || t.expiresUtcMs <= lo || t.expiresUtcMs <= t.startUtcMs) continue;
            std::vector<std::int64_t> cuts{t.startUtcMs};
            addValidityEdges(*p, t.startUtcMs, t.expiresUtcMs, cuts);
            sortUnique(cuts);
            auto& runs = all[i];
            for (std::size_t k = 0; k < cuts.size(); ++k) {
                const std::int64_t next = k + 1 < cuts.size() ? cuts[k + 1] : t.expiresUtcMs;
                std::vector<Member> members;
                auto items = playableItems(*p, cuts[k]);
                if (!items.empty())
                    members.push_back({Source::Takeover, static_cast<std::int32_t>(i), t.startUtcMs, std::move(items)});
                const RunKind kind = members.empty() ? RunKind::Idle : RunKind::Play;
                if (!runs.empty() && runs.back().sameKey(kind, members)) {
                    runs.back().end = next;
                } else {
                    Run r;
                    r.start = cuts[k];
                    r.end = next;
                    r.anchor = cuts[k];
                    r.kind = kind;
                    r.members = std::move(members);
                    runs.push_back(std::move(r));
                }
            }
        }
        return all;
    }

    const Playlist* playlistOf(const Member& m) const {
        switch (m.source) {
            case Source::Entry:
                return entryPlaylist_[static_cast<std::size_t>(m.index)];
            case Source::Takeover:
                return takeoverPlaylist_[static_cast<std::size_t>(m.index)];
            case Source::Filler:
                return filler_;
            case Source::None:
                break;
        }
        return nullptr;
    }

    // Equal-priority interleave: round r takes item (r mod n) of each member's
    // playable items, members in entry-id order; there are as many rounds as the
    // longest member has items, so shorter playlists wrap around.
    void buildRotation(Run& r) const {
        if (!r.slots.empty()) return;
        std::size_t rounds = 0;
        for (const auto& m : r.members) rounds = std::max(rounds, m.items.size());
        std::int64_t offset = 0;
        for (std::size_t round = 0; round < rounds; ++round) {
            for (std::size_t mi = 0; mi < r.members.size(); ++mi) {
                const auto& m = r.members[mi];
                const std::uint32_t item = m.items[round % m.items.size()];
                const std::int64_t duration = playlistOf(m)->items[item].durationMs;
                r.slots.push_back({static_cast<std::uint32_t>(mi), item, offset, duration});
                offset += duration;
            }
        }
        r.cycleMs = offset;
    }

    void play(Run& r, std::int64_t a, std::int64_t b) {
        buildRotation(r);
        if (r.cycleMs <= 0) {
            emitBlank(State::Idle, a, b);
            return;
        }
        const std::int64_t cycles = floorDiv(a - r.anchor, r.cycleMs);
        std::int64_t cycleStart = r.anchor + cycles * r.cycleMs;
        const std::int64_t intoCycle = a - cycleStart;
        auto it = std::upper_bound(r.slots.begin(), r.slots.end(), intoCycle,
                                   [](std::int64_t v, const Slot& s) { return v < s.offsetMs; });
        std::size_t j = static_cast<std::size_t>(it - r.slots.begin()) - 1;
        std::int64_t pos = a;
        while (pos < b && !stopped_) {
            const Slot& slot = r.slots[j];
            const Member& m = r.members[slot.member];
            const std::int64_t itemStart = cycleStart + slot.offsetMs;
            const std::int64_t itemEnd = itemStart + slot.durationMs;
            Segment seg;
            seg.state = State::Playing;
            seg.source = m.source;
            const Playlist* p = playlistOf(m);
            if (m.source == Source::Entry) {
                const auto& e = s_.entries[static_cast<std::size_t>(m.index)];
                seg.sourceId = e.id;
                seg.campaignId = e.campaignId;
            } else if (m.source == Source::Takeover) {
                seg.sourceId = s_.takeovers[static_cast<std::size_t>(m.index)].id;
            }
            seg.playlistId = p->id;
            seg.itemIndex = slot.item;
            seg.mediaSha256 = p->items[slot.item].mediaSha256;
            seg.startUtcMs = pos;
            seg.endUtcMs = std::min(b, itemEnd);
            seg.itemStartUtcMs = itemStart;
            seg.itemEndUtcMs = itemEnd;
            push(std::move(seg));
            pos = std::min(b, itemEnd);
            if (++j == r.slots.size()) {
                j = 0;
                cycleStart += r.cycleMs;
            }
        }
    }

    void emitBlank(State state, std::int64_t a, std::int64_t b) {
        Segment seg;
        seg.state = state;
        seg.startUtcMs = a;
        seg.endUtcMs = b;
        push(std::move(seg));
    }

    static bool continues(const Segment& p, const Segment& n) {
        return p.endUtcMs == n.startUtcMs && p.state == n.state && p.source == n.source && p.sourceId == n.sourceId &&
               p.playlistId == n.playlistId && p.itemIndex == n.itemIndex && p.itemStartUtcMs == n.itemStartUtcMs &&
               p.itemEndUtcMs == n.itemEndUtcMs;
    }

    void push(Segment seg) {
        if (pending_ && continues(*pending_, seg)) {
            pending_->endUtcMs = seg.endUtcMs;
            return;
        }
        flush();
        if (!stopped_) pending_ = std::move(seg);
    }

    void flush() {
        if (pending_ && !stopped_) {
            if (!(*out_)(*pending_)) stopped_ = true;
        }
        pending_.reset();
    }

    const Schedule& s_;
    Spans spans_;
    std::vector<const Playlist*> entryPlaylist_;
    std::vector<const Playlist*> takeoverPlaylist_;
    const Playlist* filler_ = nullptr;

    const std::function<bool(const Segment&)>* out_ = nullptr;
    std::optional<Segment> pending_;
    bool stopped_ = false;
};

// Evaluation is defined on [-kMaxUtcMs, kMaxUtcMs); outside, the screen is Idle.
constexpr std::int64_t kDomainLo = -kMaxUtcMs;
constexpr std::int64_t kDomainHi = kMaxUtcMs;

}  // namespace

void forEachSegment(const Schedule& s, std::int64_t fromUtcMs, std::int64_t toUtcMs,
                    const std::function<bool(const Segment&)>& onSegment) {
    if (fromUtcMs >= toUtcMs) return;
    Engine engine(s);
    // Outside the domain: one Idle segment on either side.
    bool go = true;
    if (fromUtcMs < kDomainLo) {
        Segment idle;
        idle.startUtcMs = fromUtcMs;
        idle.endUtcMs = std::min(toUtcMs, kDomainLo);
        go = onSegment(idle);
    }
    const std::int64_t lo = std::max(fromUtcMs, kDomainLo), hi = std::min(toUtcMs, kDomainHi);
    if (go && lo < hi) {
        engine.run(lo, hi, [&](const Segment& seg) { return go = onSegment(seg); });
    }
    if (go && toUtcMs > kDomainHi) {
        Segment idle;
        idle.startUtcMs = std::max(fromUtcMs, kDomainHi);
        idle.endUtcMs = toUtcMs;
        onSegment(idle);
    }
}

std::vector<Segment> timeline(const Schedule& s, std::int64_t fromUtcMs, std::int64_t toUtcMs) {
    std::vector<Segment> out;
    forEachSegment(s, fromUtcMs, toUtcMs, [&](const Segment& seg) {
        out.push_back(seg);
        return true;
    });
    return out;
}

Decision evaluate(const Schedule& s, std::int64_t utcMs) {
    Decision d;
    if (utcMs < kDomainLo) {
        d.nextChangeUtcMs = kDomainLo;
        return d;
    }
    if (utcMs >= kDomainHi) {
        d.nextChangeUtcMs = std::numeric_limits<std::int64_t>::max();
        return d;
    }
    std::optional<Segment> first;
    Engine engine(s);
    engine.run(utcMs, std::min(utcMs + kHorizonMs, kDomainHi), [&](const Segment& seg) {
        first = seg;
        return false;
    });
    if (!first) return d;  // not reached: the interval is not empty
    d.state = first->state;
    d.source = first->source;
    d.sourceId = std::move(first->sourceId);
    d.playlistId = std::move(first->playlistId);
    d.campaignId = std::move(first->campaignId);
    d.itemIndex = first->itemIndex;
    d.mediaSha256 = std::move(first->mediaSha256);
    d.nextChangeUtcMs = first->endUtcMs;
    if (d.state == State::Playing) {
        d.itemStartUtcMs = first->itemStartUtcMs;
        d.itemEndUtcMs = first->itemEndUtcMs;
        d.offsetMs = utcMs - first->itemStartUtcMs;
        if (const Playlist* p = s.findPlaylist(d.playlistId); p && d.itemIndex < p->items.size()) {
            d.fit = p->items[d.itemIndex].fit;
            d.audio = p->items[d.itemIndex].audio;
        }
    }
    return d;
}

}  // namespace microscape::schedule
