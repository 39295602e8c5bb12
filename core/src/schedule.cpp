// The schedule payload (docs/schedule-format.md): its model, strict parser,
// validator and canonical JSON. The evaluator is in schedule_eval.cpp.
#include "microscape/core/schedule.hpp"

#include "microscape/core/crypto.hpp"
#include "microscape/core/json_fields.hpp"

#include <algorithm>
#include <cstdio>
#include <limits>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include "microscape/core/manifest.hpp"
#include "microscape/core/time.hpp"

namespace microscape::schedule {
namespace {

// ===========================================================================
// Payload: reading, checking, writing.

Error bad(const std::string& path, std::string_view what) {
    std::string m = "schedule: ";
    if (!path.empty()) m += path + ": ";
    m += what;
    return makeError(Errc::BadManifest, std::move(m));
}

std::string join(const std::string& path, std::string_view key) {
    return path.empty() ? std::string(key) : path + "." + std::string(key);
}

std::string at(const std::string& path, std::size_t i) {
    return path + "[" + std::to_string(i) + "]";
}

// Schedule fields: the shared strict reader, with errors prefixed "schedule: ".
class Fields : public json::Fields {
  public:
    static Result<Fields> of(const json::Value& v, std::string path) {
        auto f = json::Fields::of(v, std::move(path), "schedule: ");
        if (!f) return f.error();
        return Fields(std::move(*f));
    }

  private:
    explicit Fields(json::Fields f) : json::Fields(std::move(f)) {}
};

bool isDigit(char c) {
    return c >= '0' && c <= '9';
}

Result<int> parseMinute(std::string_view text, const std::string& path) {
    if (text.size() != 5 || !isDigit(text[0]) || !isDigit(text[1]) || text[2] != ':' || !isDigit(text[3]) ||
        !isDigit(text[4]))
        return bad(path, "expected \"HH:MM\", got \"" + std::string(text) + "\"");
    const int h = (text[0] - '0') * 10 + (text[1] - '0');
    const int m = (text[3] - '0') * 10 + (text[4] - '0');
    if (h > 23 || m > 59) return bad(path, "time \"" + std::string(text) + "\" is not within 00:00-23:59");
    return h * 60 + m;
}

Result<std::int64_t> parseDay(std::string_view text, const std::string& path) {
    auto d = timeutil::parseDate(text);
    if (!d) return bad(path, "expected a date \"YYYY-MM-DD\", got \"" + std::string(text) + "\"");
    return timeutil::daysFromCivil(*d);
}

Result<Daypart> readDaypart(const json::Value& v, const std::string& path) {
    auto f = Fields::of(v, path);
    MS_TRY(f);
    Daypart d;
    auto days = f->array("weekdays");
    MS_TRY(days);
    if ((*days)->empty()) return bad(join(path, "weekdays"), "must name at least one weekday");
    std::int64_t prev = 0;
    for (std::size_t i = 0; i < (*days)->size(); ++i) {
        const auto& w = (**days)[i];
        const std::string wp = at(join(path, "weekdays"), i);
        if (!w.isInt()) return bad(wp, "expected an integer 1..7");
        const std::int64_t day = w.asInt();
        if (day < 1 || day > 7) return bad(wp, "weekday " + std::to_string(day) + " is not within 1..7 (Monday = 1)");
        if (day <= prev) return bad(wp, "weekdays must be strictly ascending");
        prev = day;
        d.weekdays = static_cast<std::uint8_t>(d.weekdays | (1u << (day - 1)));
    }
    auto start = f->str("start");
    MS_TRY(start);
    auto startMinute = parseMinute(*start, join(path, "start"));
    MS_TRY(startMinute);
    auto end = f->str("end");
    MS_TRY(end);
    auto endMinute = parseMinute(*end, join(path, "end"));
    MS_TRY(endMinute);
    d.startMinute = *startMinute;
    d.endMinute = *endMinute;
    MS_TRY(f->finish());
    return d;
}

Result<std::vector<Daypart>> readDayparts(const json::Array& a, const std::string& path) {
    if (a.size() > kMaxDayparts) return bad(path, "more than " + std::to_string(kMaxDayparts) + " windows");
    std::vector<Daypart> out;
    for (std::size_t i = 0; i < a.size(); ++i) {
        auto d = readDaypart(a[i], at(path, i));
        MS_TRY(d);
        out.push_back(*d);
    }
    return out;
}

Result<std::optional<std::int64_t>> optionalInt(Fields& f, std::string_view key) {
    if (!f.has(key)) return std::optional<std::int64_t>{};
    auto v = f.integer(key);
    MS_TRY(v);
    return std::optional<std::int64_t>{*v};
}

Result<Item> readItem(const json::Value& v, const std::string& path) {
    auto f = Fields::of(v, path);
    MS_TRY(f);
    Item item;
    auto media = f->str("media");
    MS_TRY(media);
    item.mediaSha256 = *media;
    auto duration = f->integer("duration_ms");
    MS_TRY(duration);
    item.durationMs = *duration;
    auto fit = f->str("fit");
    MS_TRY(fit);
    if (*fit == "letterbox") {
        item.fit = Fit::Letterbox;
    } else if (*fit == "fill") {
        item.fit = Fit::Fill;
    } else {
        return bad(join(path, "fit"), "expected \"letterbox\" or \"fill\"");
    }
    if (f->has("audio")) {
        auto audio = f->boolean("audio");
        MS_TRY(audio);
        item.audio = *audio;
    }
    auto from = optionalInt(*f, "valid_from_utc_ms");
    MS_TRY(from);
    item.validFromUtcMs = *from;
    auto until = optionalInt(*f, "valid_until_utc_ms");
    MS_TRY(until);
    item.validUntilUtcMs = *until;
    MS_TRY(f->finish());
    return item;
}

Result<Playlist> readPlaylist(const json::Value& v, const std::string& path) {
    auto f = Fields::of(v, path);
    MS_TRY(f);
    Playlist p;
    auto id = f->str("id");
    MS_TRY(id);
    p.id = *id;
    auto name = f->str("name");
    MS_TRY(name);
    p.name = *name;
    auto items = f->array("items");
    MS_TRY(items);
    if ((*items)->size() > kMaxItemsPerPlaylist)
        return bad(join(path, "items"), "more than " + std::to_string(kMaxItemsPerPlaylist) + " items");
    for (std::size_t i = 0; i < (*items)->size(); ++i) {
        auto item = readItem((**items)[i], at(join(path, "items"), i));
        MS_TRY(item);
        p.items.push_back(std::move(*item));
    }
    MS_TRY(f->finish());
    return p;
}

Result<Entry> readEntry(const json::Value& v, const std::string& path) {
    auto f = Fields::of(v, path);
    MS_TRY(f);
    Entry e;
    auto id = f->str("id");
    MS_TRY(id);
    e.id = *id;
    auto playlist = f->str("playlist");
    MS_TRY(playlist);
    e.playlistId = *playlist;
    auto campaign = f->str("campaign");
    MS_TRY(campaign);
    e.campaignId = *campaign;
    auto priority = f->integer("priority");
    MS_TRY(priority);
    if (*priority < std::numeric_limits<std::int32_t>::min() || *priority > std::numeric_limits<std::int32_t>::max())
        return bad(join(path, "priority"), "out of the 32-bit range");
    e.priority = static_cast<std::int32_t>(*priority);
    auto startDate = f->str("start_date");
    MS_TRY(startDate);
    auto startDay = parseDay(*startDate, join(path, "start_date"));
    MS_TRY(startDay);
    e.startDay = *startDay;
    auto endDate = f->str("end_date");
    MS_TRY(endDate);
    auto endDay = parseDay(*endDate, join(path, "end_date"));
    MS_TRY(endDay);
    e.endDay = *endDay;
    auto dayparts = f->array("dayparts");
    MS_TRY(dayparts);
    auto parts = readDayparts(**dayparts, join(path, "dayparts"));
    MS_TRY(parts);
    e.dayparts = std::move(*parts);
    MS_TRY(f->finish());
    return e;
}

Result<Takeover> readTakeover(const json::Value& v, const std::string& path) {
    auto f = Fields::of(v, path);
    MS_TRY(f);
    Takeover t;
    auto id = f->str("id");
    MS_TRY(id);
    t.id = *id;
    auto playlist = f->str("playlist");
    MS_TRY(playlist);
    t.playlistId = *playlist;
    auto start = f->integer("start_utc_ms");
    MS_TRY(start);
    t.startUtcMs = *start;
    auto expires = f->integer("expires_utc_ms");
    MS_TRY(expires);
    t.expiresUtcMs = *expires;
    MS_TRY(f->finish());
    return t;
}

Result<tz::OffsetSpan> readOffset(const json::Value& v, const std::string& path) {
    auto f = Fields::of(v, path);
    MS_TRY(f);
    tz::OffsetSpan span;
    auto start = f->integer("start_utc_ms");
    MS_TRY(start);
    span.startUtcMs = *start;
    auto offset = f->integer("offset_s");
    MS_TRY(offset);
    if (*offset < -tz::kMaxOffsetSeconds || *offset > tz::kMaxOffsetSeconds)
        return bad(join(path, "offset_s"), "offset beyond 26 hours");
    span.offsetSeconds = static_cast<std::int32_t>(*offset);
    MS_TRY(f->finish());
    return span;
}

Status checkDaypart(const Daypart& d, const std::string& path) {
    if (d.weekdays == 0 || d.weekdays > 0x7f) return bad(join(path, "weekdays"), "must be a non-empty subset of 1..7");
    if (d.startMinute < 0 || d.startMinute > 1439) return bad(join(path, "start"), "not within 00:00-23:59");
    if (d.endMinute < 0 || d.endMinute > 1439) return bad(join(path, "end"), "not within 00:00-23:59");
    return {};
}

Status checkDayparts(const std::vector<Daypart>& parts, const std::string& path) {
    if (parts.size() > kMaxDayparts) return bad(path, "more than " + std::to_string(kMaxDayparts) + " windows");
    for (std::size_t i = 0; i < parts.size(); ++i) MS_TRY(checkDaypart(parts[i], at(path, i)));
    return {};
}

bool inUtcRange(std::int64_t t) {
    return t >= 0 && t < kMaxUtcMs;
}

const std::int64_t kMaxDay = timeutil::daysFromCivil({9999, 12, 31});

}  // namespace

const Playlist* Schedule::findPlaylist(std::string_view id) const {
    for (const auto& p : playlists)
        if (p.id == id) return &p;
    return nullptr;
}

Status validate(const Schedule& s) {
    if (!tz::isValidZoneName(s.zoneName)) return bad("zone", "not a valid time zone name");
    if (!inUtcRange(s.fromUtcMs)) return bad("from_utc_ms", "out of range");
    if (s.untilUtcMs <= s.fromUtcMs || s.untilUtcMs > kMaxUtcMs)
        return bad("until_utc_ms", "must be after from_utc_ms (and before year 10000)");
    if (s.untilUtcMs - s.fromUtcMs > kMaxPayloadMs) return bad("until_utc_ms", "payload covers more than 400 days");

    if (s.offsets.empty()) return bad("offsets", "must not be empty");
    if (s.offsets.size() > kMaxOffsets) return bad("offsets", "more than " + std::to_string(kMaxOffsets) + " spans");
    for (std::size_t i = 0; i < s.offsets.size(); ++i) {
        const auto& o = s.offsets[i];
        const std::string p = at("offsets", i);
        if (o.offsetSeconds < -tz::kMaxOffsetSeconds || o.offsetSeconds > tz::kMaxOffsetSeconds)
            return bad(join(p, "offset_s"), "offset beyond 26 hours");
        if (o.startUtcMs < -kMaxUtcMs || o.startUtcMs >= s.untilUtcMs)
            return bad(join(p, "start_utc_ms"), "must be before until_utc_ms");
        if (i > 0 && o.startUtcMs <= s.offsets[i - 1].startUtcMs)
            return bad(join(p, "start_utc_ms"), "spans must be strictly ascending");
        if (i > 0 && o.offsetSeconds == s.offsets[i - 1].offsetSeconds)
            return bad(join(p, "offset_s"), "same offset as the span before (redundant span)");
    }
    if (s.offsets.front().startUtcMs > s.fromUtcMs - kOffsetsLookbackMs)
        return bad("offsets[0].start_utc_ms", "must be at least 3 days before from_utc_ms");

    if (s.operatingHours) {
        if (s.operatingHours->empty()) return bad("operating_hours", "must not be empty (leave it out for always on)");
        MS_TRY(checkDayparts(*s.operatingHours, "operating_hours"));
    }

    if (s.playlists.size() > kMaxPlaylists)
        return bad("playlists", "more than " + std::to_string(kMaxPlaylists) + " playlists");
    std::unordered_set<std::string_view> playlistIds;
    for (std::size_t i = 0; i < s.playlists.size(); ++i) {
        const auto& pl = s.playlists[i];
        const std::string p = at("playlists", i);
        if (!manifest::isValidId(pl.id)) return bad(join(p, "id"), "must be 1-128 characters of [A-Za-z0-9._:@-]");
        if (!playlistIds.insert(pl.id).second) return bad(join(p, "id"), "duplicate playlist id \"" + pl.id + "\"");
        if (!manifest::isValidDisplayName(pl.name))
            return bad(join(p, "name"), "must be 1-255 bytes of UTF-8 without control characters");
        if (pl.items.empty()) return bad(join(p, "items"), "a playlist needs at least one item");
        if (pl.items.size() > kMaxItemsPerPlaylist)
            return bad(join(p, "items"), "more than " + std::to_string(kMaxItemsPerPlaylist) + " items");
        for (std::size_t j = 0; j < pl.items.size(); ++j) {
            const auto& item = pl.items[j];
            const std::string ip = at(join(p, "items"), j);
            if (!crypto::isSha256Hex(item.mediaSha256))
                return bad(join(ip, "media"), "expected 64 lowercase hexadecimal characters (SHA-256)");
            if (item.durationMs <= 0 || item.durationMs > kMaxItemDurationMs)
                return bad(join(ip, "duration_ms"), "must be within 1..86400000");
            if (item.validFromUtcMs && !inUtcRange(*item.validFromUtcMs))
                return bad(join(ip, "valid_from_utc_ms"), "out of range");
            if (item.validUntilUtcMs && !inUtcRange(*item.validUntilUtcMs))
                return bad(join(ip, "valid_until_utc_ms"), "out of range");
            if (item.validFromUtcMs && item.validUntilUtcMs && *item.validUntilUtcMs <= *item.validFromUtcMs)
                return bad(join(ip, "valid_until_utc_ms"), "must be after valid_from_utc_ms");
        }
    }

    if (s.entries.size() > kMaxEntries) return bad("entries", "more than " + std::to_string(kMaxEntries) + " entries");
    std::unordered_set<std::string_view> entryIds;
    for (std::size_t i = 0; i < s.entries.size(); ++i) {
        const auto& e = s.entries[i];
        const std::string p = at("entries", i);
        if (!manifest::isValidId(e.id)) return bad(join(p, "id"), "must be 1-128 characters of [A-Za-z0-9._:@-]");
        if (!entryIds.insert(e.id).second) return bad(join(p, "id"), "duplicate entry id \"" + e.id + "\"");
        if (!playlistIds.count(e.playlistId))
            return bad(join(p, "playlist"), "unknown playlist \"" + e.playlistId + "\"");
        if (!e.campaignId.empty() && !manifest::isValidId(e.campaignId))
            return bad(join(p, "campaign"), "must be empty or 1-128 characters of [A-Za-z0-9._:@-]");
        if (e.startDay < 0 || e.startDay > kMaxDay) return bad(join(p, "start_date"), "out of range");
        if (e.endDay < 0 || e.endDay > kMaxDay) return bad(join(p, "end_date"), "out of range");
        if (e.endDay < e.startDay) return bad(join(p, "end_date"), "is before start_date");
        MS_TRY(checkDayparts(e.dayparts, join(p, "dayparts")));
    }

    if (s.takeovers.size() > kMaxTakeovers)
        return bad("takeovers", "more than " + std::to_string(kMaxTakeovers) + " takeovers");
    std::unordered_set<std::string_view> takeoverIds;
    for (std::size_t i = 0; i < s.takeovers.size(); ++i) {
        const auto& t = s.takeovers[i];
        const std::string p = at("takeovers", i);
        if (!manifest::isValidId(t.id)) return bad(join(p, "id"), "must be 1-128 characters of [A-Za-z0-9._:@-]");
        if (!takeoverIds.insert(t.id).second) return bad(join(p, "id"), "duplicate takeover id \"" + t.id + "\"");
        if (!playlistIds.count(t.playlistId))
            return bad(join(p, "playlist"), "unknown playlist \"" + t.playlistId + "\"");
        if (!inUtcRange(t.startUtcMs)) return bad(join(p, "start_utc_ms"), "out of range");
        if (t.expiresUtcMs <= t.startUtcMs || t.expiresUtcMs > kMaxUtcMs)
            return bad(join(p, "expires_utc_ms"), "must be after start_utc_ms");
    }

    if (s.fillerPlaylistId && !playlistIds.count(*s.fillerPlaylistId))
        return bad("filler", "unknown playlist \"" + *s.fillerPlaylistId + "\"");
    return {};
}

Result<Schedule> fromJson(const json::Value& v) {
    auto f = Fields::of(v, "");
    if (!f) return bad("", "the schedule must be a JSON object");
    Schedule s;
    auto zone = f->str("zone");
    MS_TRY(zone);
    s.zoneName = *zone;
    auto from = f->integer("from_utc_ms");
    MS_TRY(from);
    s.fromUtcMs = *from;
    auto until = f->integer("until_utc_ms");
    MS_TRY(until);
    s.untilUtcMs = *until;

    auto offsets = f->array("offsets");
    MS_TRY(offsets);
    if ((*offsets)->size() > kMaxOffsets) return bad("offsets", "more than " + std::to_string(kMaxOffsets) + " spans");
    for (std::size_t i = 0; i < (*offsets)->size(); ++i) {
        auto span = readOffset((**offsets)[i], at("offsets", i));
        MS_TRY(span);
        s.offsets.push_back(*span);
    }

    if (f->has("operating_hours")) {
        auto hours = f->array("operating_hours");
        MS_TRY(hours);
        auto parts = readDayparts(**hours, "operating_hours");
        MS_TRY(parts);
        s.operatingHours = std::move(*parts);
    }

    auto playlists = f->array("playlists");
    MS_TRY(playlists);
    if ((*playlists)->size() > kMaxPlaylists)
        return bad("playlists", "more than " + std::to_string(kMaxPlaylists) + " playlists");
    for (std::size_t i = 0; i < (*playlists)->size(); ++i) {
        auto p = readPlaylist((**playlists)[i], at("playlists", i));
        MS_TRY(p);
        s.playlists.push_back(std::move(*p));
    }

    auto entries = f->array("entries");
    MS_TRY(entries);
    if ((*entries)->size() > kMaxEntries)
        return bad("entries", "more than " + std::to_string(kMaxEntries) + " entries");
    for (std::size_t i = 0; i < (*entries)->size(); ++i) {
        auto e = readEntry((**entries)[i], at("entries", i));
        MS_TRY(e);
        s.entries.push_back(std::move(*e));
    }

    auto takeovers = f->array("takeovers");
    MS_TRY(takeovers);
    if ((*takeovers)->size() > kMaxTakeovers)
        return bad("takeovers", "more than " + std::to_string(kMaxTakeovers) + " takeovers");
    for (std::size_t i = 0; i < (*takeovers)->size(); ++i) {
        auto t = readTakeover((**takeovers)[i], at("takeovers", i));
        MS_TRY(t);
        s.takeovers.push_back(std::move(*t));
    }

    if (f->has("filler")) {
        auto filler = f->str("filler");
        MS_TRY(filler);
        s.fillerPlaylistId = *filler;
    }
    MS_TRY(f->finish());
    MS_TRY(validate(s));
    return s;
}

std::string formatMinute(int minuteOfDay) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "%02d:%02d", (minuteOfDay / 60) % 100, minuteOfDay % 60);
    return buf;
}

std::string formatDay(std::int64_t day) {
    return timeutil::formatDate(timeutil::civilFromDays(day));
}

std::string_view fitName(Fit fit) {
    return fit == Fit::Fill ? "fill" : "letterbox";
}

namespace {

json::Value daypartsJson(const std::vector<Daypart>& parts) {
    json::Array out;
    for (const auto& d : parts) {
        json::Array days;
        for (int w = 1; w <= 7; ++w)
            if (d.weekdays & (1u << (w - 1))) days.emplace_back(w);
        out.emplace_back(json::Object{
            {"weekdays", std::move(days)}, {"start", formatMinute(d.startMinute)}, {"end", formatMinute(d.endMinute)}});
    }
    return out;
}

}  // namespace

json::Value toJson(const Schedule& s) {
    json::Object o;
    o["zone"] = s.zoneName;
    o["from_utc_ms"] = s.fromUtcMs;
    o["until_utc_ms"] = s.untilUtcMs;
    json::Array offsets;
    for (const auto& span : s.offsets)
        offsets.emplace_back(json::Object{{"start_utc_ms", span.startUtcMs}, {"offset_s", span.offsetSeconds}});
    o["offsets"] = std::move(offsets);
    if (s.operatingHours) o["operating_hours"] = daypartsJson(*s.operatingHours);

    json::Array playlists;
    for (const auto& p : s.playlists) {
        json::Array items;
        for (const auto& item : p.items) {
            json::Object i{{"media", item.mediaSha256},
                           {"duration_ms", item.durationMs},
                           {"fit", fitName(item.fit)},
                           {"audio", item.audio}};
            if (item.validFromUtcMs) i["valid_from_utc_ms"] = *item.validFromUtcMs;
            if (item.validUntilUtcMs) i["valid_until_utc_ms"] = *item.validUntilUtcMs;
            items.emplace_back(std::move(i));
        }
        playlists.emplace_back(json::Object{{"id", p.id}, {"name", p.name}, {"items", std::move(items)}});
    }
    o["playlists"] = std::move(playlists);

    json::Array entries;
    for (const auto& e : s.entries) {
        entries.emplace_back(json::Object{{"id", e.id},
                                          {"playlist", e.playlistId},
                                          {"campaign", e.campaignId},
                                          {"priority", static_cast<std::int64_t>(e.priority)},
                                          {"start_date", formatDay(e.startDay)},
                                          {"end_date", formatDay(e.endDay)},
                                          {"dayparts", daypartsJson(e.dayparts)}});
    }
    o["entries"] = std::move(entries);

    json::Array takeovers;
    for (const auto& t : s.takeovers) {
        takeovers.emplace_back(json::Object{{"id", t.id},
                                            {"playlist", t.playlistId},
                                            {"start_utc_ms", t.startUtcMs},
                                            {"expires_utc_ms", t.expiresUtcMs}});
    }
    o["takeovers"] = std::move(takeovers);
    if (s.fillerPlaylistId) o["filler"] = *s.fillerPlaylistId;
    return o;
}

Result<std::vector<tz::OffsetSpan>> offsetsFor(const tz::Zone& zone, std::int64_t fromUtcMs, std::int64_t untilUtcMs) {
    return tz::offsetSpans(zone, fromUtcMs - kOffsetsLookbackMs, untilUtcMs);
}

std::string_view stateName(State s) {
    switch (s) {
        case State::Dark:
            return "dark";
        case State::Playing:
            return "playing";
        case State::Idle:
            return "idle";
    }
    return "idle";
}

std::string_view sourceName(Source s) {
    switch (s) {
        case Source::None:
            return "none";
        case Source::Takeover:
            return "takeover";
        case Source::Entry:
            return "entry";
        case Source::Filler:
            return "filler";
    }
    return "none";
}

}  // namespace microscape::schedule
