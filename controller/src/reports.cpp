#include "reports.hpp"

#include <Poco/StringTokenizer.h>

#include <map>
#include <set>

#include "api.hpp"
#include "audit_export.hpp"
#include "keys.hpp"
#include "microscape/core/manifest.hpp"
#include "microscape/core/schedule.hpp"
#include "microscape/core/time.hpp"
#include "store/reports.hpp"
#include "store/rollups.hpp"

namespace microscape::controller {

namespace {

constexpr std::int64_t kDayMs = 86400000;
constexpr std::int64_t kMaxReportDays = 400;

std::string csvField(const std::string& s) {
    if (s.find_first_of(",\"\r\n") == std::string::npos) return s;
    std::string out = "\"";
    for (char c : s) {
        if (c == '"') out += '"';
        out += c;
    }
    return out + "\"";
}

std::vector<std::string> listParam(const RequestCtx& ctx, const std::string& name) {
    std::vector<std::string> out;
    if (auto v = ctx.query(name)) {
        Poco::StringTokenizer t(*v, ",", Poco::StringTokenizer::TOK_TRIM | Poco::StringTokenizer::TOK_IGNORE_EMPTY);
        out.assign(t.begin(), t.end());
    }
    return out;
}

// ?from=YYYY-MM-DD&to=YYYY-MM-DD (local dates, inclusive); days since the epoch.
std::pair<std::int64_t, std::int64_t> dateRange(const RequestCtx& ctx) {
    auto day = [&](const char* name) {
        auto v = ctx.query(name);
        if (!v) badRequest(std::string(name) + " is required (YYYY-MM-DD, local date)");
        auto d = timeutil::parseDate(*v);
        if (!d) badRequest(std::string(name) + ": " + d.error().message);
        return timeutil::daysFromCivil(*d);
    };
    auto from = day("from"), to = day("to");
    if (to < from) badRequest("to is before from");
    if (to - from >= kMaxReportDays) badRequest("at most " + std::to_string(kMaxReportDays) + " days per report");
    return {from, to};
}

std::string dateOf(std::int64_t day) {
    return timeutil::formatDate(timeutil::civilFromDays(day));
}

std::string seconds(std::int64_t ms) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%lld.%03lld", static_cast<long long>(ms / 1000), static_cast<long long>(ms % 1000));
    return buf;
}

using reports::Table;

std::string cellText(const DbValue& v) {
    if (auto i = std::get_if<std::int64_t>(&v)) return std::to_string(*i);
    if (auto s = std::get_if<std::string>(&v)) return *s;
    return {};
}

void sendTable(RequestCtx& ctx, const Table& t, const std::string& fileStem, Poco::JSON::Object::Ptr meta) {
    const std::string format = ctx.query("format").value_or("json");
    if (format == "csv") {
        std::vector<std::vector<std::string>> rows;
        rows.reserve(t.rows.size());
        for (const auto& r : t.rows) {
            std::vector<std::string> cells;
            for (const auto& v : r) {
                std::string cell = cellText(v);
                // Text that a spreadsheet would run as a formula is shown as text.
                if (std::holds_alternative<std::string>(v) && !cell.empty() &&
                    std::string_view("=+-@").find(cell.front()) != std::string_view::npos)
                    cell.insert(0, 1, '\'');
                cells.push_back(std::move(cell));
            }
            rows.push_back(std::move(cells));
        }
        std::string body = toCsv(t.columns, rows);
        ctx.resp.setStatus(Poco::Net::HTTPResponse::HTTP_OK);
        ctx.resp.setContentType("text/csv; charset=utf-8");
        ctx.resp.set("Content-Disposition", "attachment; filename=\"" + fileStem + ".csv\"");
        ctx.resp.set("Cache-Control", "no-store");
        ctx.resp.setContentLength64(static_cast<Poco::Int64>(body.size()));
        ctx.resp.send() << body;
        return;
    }
    if (format != "json") badRequest("format must be json or csv");
    Poco::JSON::Array::Ptr rows = new Poco::JSON::Array;
    for (const auto& r : t.rows) {
        Poco::JSON::Object::Ptr o = new Poco::JSON::Object;
        for (std::size_t i = 0; i < t.columns.size(); ++i) {
            if (auto n = std::get_if<std::int64_t>(&r[i]))
                o->set(t.columns[i], *n);
            else
                o->set(t.columns[i], cellText(r[i]));
        }
        rows->add(o);
    }
    meta->set("rows", rows);
    ctx.sendJson(200, meta);
}

// Appends on_screen_seconds after on_screen_ms (exact, 3 decimals).
void addSeconds(Table& t) {
    auto it = std::find(t.columns.begin(), t.columns.end(), "on_screen_ms");
    if (it == t.columns.end()) return;
    const auto col = static_cast<std::size_t>(it - t.columns.begin());
    t.columns.insert(t.columns.begin() + static_cast<std::ptrdiff_t>(col) + 1, "on_screen_seconds");
    for (auto& r : t.rows)
        r.insert(r.begin() + static_cast<std::ptrdiff_t>(col) + 1,
                 DbValue(seconds(std::get_if<std::int64_t>(&r[col]) ? std::get<std::int64_t>(r[col]) : 0)));
}

Poco::JSON::Object::Ptr metaOf(std::int64_t from, std::int64_t to) {
    Poco::JSON::Object::Ptr m = new Poco::JSON::Object;
    m->set("from", dateOf(from));
    m->set("to", dateOf(to));
    return m;
}

// GET /api/v1/reports/plays?from&to&by=media,location,day&players=&campaign=&location=&format=
void playsReport(RequestCtx& ctx) {
    auto [from, to] = dateRange(ctx);
    auto by = listParam(ctx, "by");
    if (by.empty()) by = {"location", "day", "media"};
    bool hourly = false;
    for (const auto& b : by) {
        if (!reports::dimension(b))
            badRequest(
                "by: unknown dimension '" + b +
                "' (media, playlist, campaign, theme, tag, department, location, venue_type, district, screen, day, "
                "hour)");
        if (b == "hour") hourly = true;
    }
    for (const auto& b : by)
        if (hourly && !reports::dimension(b)->hourly)
            badRequest("by: '" + b + "' cannot be combined with hour (hourly counts are per screen)");
    reports::PlaysQuery q;
    q.by = by;
    q.fromDate = dateOf(from);
    q.toDate = dateOf(to);
    q.players = listParam(ctx, "players");
    q.campaign = ctx.query("campaign");
    if (q.campaign && hourly) badRequest("campaign cannot be combined with hour");
    if (auto l = ctx.query("location")) q.locationId = static_cast<std::int64_t>(std::atoll(l->c_str()));
    Table t = ctx.svc.db.read([&](DbConn& c) { return reports::plays(c, q); });
    addSeconds(t);
    auto meta = metaOf(from, to);
    meta->set("by", toArray(by));
    sendTable(ctx, t, "plays-" + dateOf(from) + "-" + dateOf(to), meta);
}

// The local midnight (UTC ms) that starts a local day in a zone.
std::int64_t localMidnightUtc(const tz::Zone* zone, std::int64_t day) {
    const std::int64_t local = day * kDayMs;
    auto off = [&](std::int64_t utc) { return (zone ? tz::utcOffsetAt(*zone, utc) : 8 * 3600) * std::int64_t(1000); };
    std::int64_t guess = local - off(local);
    return local - off(guess);
}

// One enrolled screen's local day: the item slots its schedule gave (the
// newest manifest compiled before the day ended) and what it played.
struct ScheduledDay {
    std::string screen, name;
    std::int64_t day = 0;  // days since 1970-01-01 (local)
    std::int64_t slots = 0, slotMs = 0;
    reports::DayPlays played;
};

// scheduled-vs-played over local days [fromDay, toDay], per enrolled screen
// (those in wanted, or all); the yearly report sums the same rows. A day that
// has ended (by nowMs) keeps its scheduled numbers for good (the manifest a
// screen held that day was compiled before the day ended), so they are kept in
// scheduled_days with that manifest's version and evaluated once.
std::vector<ScheduledDay> scheduledDays(Db& db, std::int64_t fromDay, std::int64_t toDay,
                                        const std::set<std::string>& wantedSet, std::int64_t nowMs) {
    using Played = reports::DayPlays;
    struct Version {
        std::int64_t version = 0, createdAtMs = 0;
        std::string manifest;  // parsed when a day needs it
        std::optional<schedule::Schedule> schedule;
        bool parsed = false;
    };
    using Cached = reports::KeptDay;
    std::map<std::string, PlayerPlace> places;
    std::map<std::string, std::string> names;
    std::map<std::pair<std::string, std::string>, Played> played;
    std::map<std::pair<std::string, std::string>, Cached> cached;
    std::map<std::string, std::vector<Version>> versions;
    db.read([&](DbConn& c) {
        places = playerPlaces(c);
        names = reports::enrolledPlayerNames(c);
        played = reports::playsByScreenDay(c, dateOf(fromDay), dateOf(toDay));
        cached = reports::keptScheduledDays(c, dateOf(fromDay), dateOf(toDay));
        reports::forEachCompiledManifest(c, [&](const std::string& playerId, std::int64_t version,
                                                std::int64_t createdAtMs, const std::string& manifest) {
            if (!names.count(playerId) || (!wantedSet.empty() && !wantedSet.count(playerId))) return;
            versions[playerId].push_back(Version{version, createdAtMs, manifest, std::nullopt, false});
        });
    });
    ZoneCache zones("/usr/share/zoneinfo");
    std::vector<ScheduledDay> out;
    std::vector<std::tuple<std::string, std::string, Cached>> toKeep;  // ended days evaluated now
    for (const auto& [id, name] : names) {
        if (!wantedSet.empty() && !wantedSet.count(id)) continue;
        const auto placeIt = places.find(id);
        const PlayerPlace place = placeIt != places.end() ? placeIt->second : PlayerPlace{};
        const tz::Zone* zone = zones.get(place.zone);
        auto& vs = versions[id];
        for (std::int64_t day = fromDay; day <= toDay; ++day) {
            const std::int64_t start = localMidnightUtc(zone, day), end = localMidnightUtc(zone, day + 1);
            const std::string date = dateOf(day);
            // The manifest the screen held that day: the newest made before the day ended.
            Version* v = nullptr;
            for (auto& x : vs)
                if (x.createdAtMs < end) v = &x;
            ScheduledDay d{id, name, day};
            auto hit = cached.find({id, date});
            if (v && hit != cached.end() && hit->second.version == v->version) {
                d.slots = hit->second.slots;
                d.slotMs = hit->second.slotMs;
            } else if (v) {
                if (!v->parsed) {
                    v->parsed = true;
                    if (auto man = manifest::parse(v->manifest))
                        if (auto sc = schedule::fromJson(man->schedule)) v->schedule = std::move(*sc);
                    v->manifest.clear();
                }
                if (v->schedule)
                    schedule::forEachSegment(*v->schedule, start, end, [&](const schedule::Segment& s) {
                        if (s.state != schedule::State::Playing) return true;
                        d.slotMs += s.endUtcMs - s.startUtcMs;
                        if (s.startUtcMs == s.itemStartUtcMs) ++d.slots;
                        return true;
                    });
                if (end <= nowMs) toKeep.emplace_back(id, date, Cached{v->version, d.slots, d.slotMs});
            }
            if (auto it = played.find({id, date}); it != played.end()) {
                d.played = it->second;
            }
            out.push_back(std::move(d));
        }
    }
    if (!toKeep.empty()) db.write([&](DbConn& c) { reports::keepScheduledDays(c, toKeep); });
    return out;
}

// GET /api/v1/reports/scheduled-vs-played?from&to&players=&format=
void scheduledVsPlayed(RequestCtx& ctx) {
    auto [from, to] = dateRange(ctx);
    auto wanted = listParam(ctx, "players");
    Table t;
    t.columns = {"screen",   "screen_name", "day",    "scheduled_plays", "scheduled_ms", "completed",
                 "degraded", "interrupted", "failed", "on_screen_ms",    "shortfall"};
    for (const auto& d : scheduledDays(ctx.svc.db, from, to, {wanted.begin(), wanted.end()}, ctx.svc.nowMs()))
        t.rows.push_back({d.screen, d.name, dateOf(d.day), d.slots, d.slotMs, d.played.completed, d.played.degraded,
                          d.played.interrupted, d.played.failed, d.played.onScreenMs,
                          std::max<std::int64_t>(0, d.slots - d.played.completed)});
    addSeconds(t);
    sendTable(ctx, t, "scheduled-vs-played-" + dateOf(from) + "-" + dateOf(to), metaOf(from, to));
}

// GET /api/v1/reports/uptime?from&to&format=: per screen and day, the share of the
// day covered by plays, the hours with plays, the last heartbeat and problems.
void uptimeReport(RequestCtx& ctx) {
    auto [from, to] = dateRange(ctx);
    Table t = ctx.svc.db.read([&](DbConn& c) { return reports::uptime(c, dateOf(from), dateOf(to)); });
    addSeconds(t);
    sendTable(ctx, t, "uptime-" + dateOf(from) + "-" + dateOf(to), metaOf(from, to));
}

// GET /api/v1/reports/problems?player=&limit=&format=: what the ingest refused or flagged.
void problemsReport(RequestCtx& ctx) {
    std::int64_t limit = 1000;
    if (auto l = ctx.query("limit")) limit = std::clamp<std::int64_t>(std::atoll(l->c_str()), 1, 100000);
    Table t = ctx.svc.db.read([&](DbConn& c) { return reports::problems(c, ctx.query("player"), limit); });
    Poco::JSON::Object::Ptr meta = new Poco::JSON::Object;
    sendTable(ctx, t, "problems", meta);
}

// GET /api/v1/reports/campaigns/{id}/summary?from&to: ready to quote in the yearly report.
// --- the yearly report (普法履职统计) ----------------------------------------------------------

using reports::YearLine;

const char* venueName(const std::string& v) {
    static const std::map<std::string, const char*> kNames = {{"mall", "商超"},
                                                              {"community", "社区"},
                                                              {"street_gate", "步行街进出口"},
                                                              {"garage_entrance", "地下车库出入口"},
                                                              {"building_entrance", "楼栋单元门口"},
                                                              {"campus", "校园"},
                                                              {"other", "其他场所"}};
    auto it = kNames.find(v);
    return it == kNames.end() ? "" : it->second;
}

// Hours with one decimal, from milliseconds (truncated, as on_screen_hours is).
std::string hoursText(std::int64_t ms) {
    return std::to_string(ms / 3600000) + "." + std::to_string(ms / 360000 % 10);
}

Poco::JSON::Object::Ptr yearLineJson(const YearLine& l) {
    Poco::JSON::Object::Ptr o = new Poco::JSON::Object;
    o->set("key", l.key);
    o->set("name", l.name);
    o->set("screens", l.screens);
    o->set("locations", l.locations);
    o->set("completed", l.completed);
    o->set("degraded", l.degraded);
    o->set("interrupted", l.interrupted);
    o->set("failed", l.failed);
    o->set("plays", l.plays());
    o->set("on_screen_ms", l.onScreenMs);
    o->set("on_screen_hours", seconds(l.onScreenMs / 3600));
    return o;
}

// Scheduled against played over the year's local days that have ended: the
// item slots the screens' schedules gave, what they completed, and uptime as
// the share of the scheduled time the screens had something on air.
struct YearSchedule {
    std::string through;  // the last day counted ("" when none has ended yet)
    std::int64_t slots = 0, slotMs = 0, completed = 0, onScreenMs = 0;
    // Basis points (1/100 %), truncated; 0 when nothing was scheduled.
    std::int64_t completionBp() const { return slots ? completed * 10000 / slots : 0; }
    std::int64_t uptimeBp() const { return slotMs ? std::min(slotMs, onScreenMs) * 10000 / slotMs : 0; }
};

std::string percentText(std::int64_t bp) {
    return std::to_string(bp / 100) + "." + std::to_string(bp / 10 % 10) + "%";
}

// The paragraph of the 履职报告, from the year's numbers.
std::string annualParagraph(int year, const YearLine& total, const std::vector<YearLine>& venues,
                            const std::vector<YearLine>& themes, std::size_t departments, std::int64_t campaigns,
                            std::int64_t takeovers, std::int64_t alertTakeovers,
                            std::pair<std::int64_t, std::int64_t> recalls, const YearSchedule& sched) {
    const std::string y = std::to_string(year) + "年";
    if (total.plays() == 0) return y + "，暂无经屏幕签名证实的播放记录。";
    std::string places;
    for (const auto& v : venues) {
        const std::string n = venueName(v.key);
        if (n.empty()) continue;
        places += (places.empty() ? "" : "、") + n;
    }
    std::string text = y + "，在" + (places.empty() ? std::string() : places + "等") + std::to_string(total.locations) +
                       "个场所的" + std::to_string(total.screens) + "块LED屏幕滚动播放普法宣传画和视频，完整播放" +
                       std::to_string(total.completed) + "次、累计在屏" + hoursText(total.onScreenMs) + "小时";
    std::string parts;
    int n = 0;
    for (const auto& t : themes) {
        if (t.key.empty() || t.completed == 0 || ++n > 5) continue;
        parts += (parts.empty() ? "" : "、") + t.key + std::to_string(t.completed) + "次";
    }
    if (!parts.empty()) text += "，其中" + parts;
    text += "。" + std::to_string(departments) + "个警种部门的宣传内容参与播放，开展宣传活动" +
            std::to_string(campaigns) + "个，紧急插播" + std::to_string(takeovers) + "次" +
            (alertTakeovers ? "（其中按预警信息插播" + std::to_string(alertTakeovers) + "次）" : std::string());
    if (recalls.first)
        text += "，召回素材" + std::to_string(recalls.first) + "次（" +
                (recalls.second == recalls.first ? std::string("均已逐屏确认下架")
                                                 : "其中" + std::to_string(recalls.second) + "次已逐屏确认下架") +
                "）";
    text += "。";
    if (sched.slots)
        text += "按排期应播" + std::to_string(sched.slots) + "次，完整播放率" + percentText(sched.completionBp()) +
                "，屏幕在岗率" + percentText(sched.uptimeBp()) + "。";
    return text;
}

// GET /api/v1/reports/annual?year=YYYY&format=json|csv (docs/reports.md)
void annualReport(RequestCtx& ctx) {
    const auto y = ctx.query("year");
    if (!y) badRequest("year is required (YYYY)");
    const long long parsed = std::stoll(*y);  // digits within int64: checked against the route's declaration
    if (parsed < 2000 || parsed > 9999) badRequest("year must be within 2000..9999");
    const int year = static_cast<int>(parsed);
    const std::string from = std::to_string(year) + "-01-01", to = std::to_string(year) + "-12-31";
    YearLine total;
    std::vector<YearLine> venues, themes, departments, months, campaigns;
    std::int64_t campaignCount = 0, takeovers = 0, alertTakeovers = 0, recalls = 0, recallsCompleted = 0;
    ctx.svc.db.read([&](DbConn& c) {
        using reports::YearGroup;
        auto all = reports::yearGroups(c, YearGroup::Total, from, to);
        if (!all.empty()) total = all.front();
        venues = reports::yearGroups(c, YearGroup::VenueType, from, to);
        for (auto& v : venues) v.name = venueName(v.key);
        themes = reports::yearGroups(c, YearGroup::Theme, from, to);
        departments = reports::yearGroups(c, YearGroup::Department, from, to);
        months = reports::yearGroups(c, YearGroup::Month, from, to);
        std::sort(months.begin(), months.end(), [](const YearLine& a, const YearLine& b) { return a.key < b.key; });
        campaigns = reports::yearGroups(c, YearGroup::Campaign, from, to);
        campaignCount = reports::campaignsOverlapping(c, from, to);
        // Takeovers by their start's date in Beijing time (UTC+8 all year).
        // (the year's bounds as UTC instants of Beijing midnights: plain integer
        // comparisons, the same SQL on both backends)
        const std::int64_t yearStartMs = timeutil::daysFromCivil({year, 1, 1}) * 86'400'000 - 8 * 3'600'000;
        const std::int64_t yearEndMs = timeutil::daysFromCivil({year + 1, 1, 1}) * 86'400'000 - 8 * 3'600'000;
        takeovers = reports::takeoversStarting(c, yearStartMs, yearEndMs);
        // Of them, those a CAP alert started.
        alertTakeovers = reports::alertTakeoversStarting(c, yearStartMs, yearEndMs);
        // Recalls by the date they were made, Beijing time; completed: every screen confirmed.
        std::tie(recalls, recallsCompleted) = reports::recallsMade(c, yearStartMs, yearEndMs);
    });
    // Scheduled vs played over the days of the year that have ended (local, Beijing time).
    YearSchedule sched;
    {
        const std::int64_t first = timeutil::daysFromCivil({year, 1, 1});
        const std::int64_t today = (ctx.svc.nowMs() + 8 * 3600000) / kDayMs;
        const std::int64_t last = std::min(timeutil::daysFromCivil({year, 12, 31}), today - 1);
        if (last >= first) {
            sched.through = dateOf(last);
            for (const auto& d : scheduledDays(ctx.svc.db, first, last, {}, ctx.svc.nowMs())) {
                sched.slots += d.slots;
                sched.slotMs += d.slotMs;
                sched.completed += d.played.completed;
                sched.onScreenMs += d.played.onScreenMs;
            }
        }
    }
    std::size_t deptCount = 0;
    for (const auto& d : departments) deptCount += !d.key.empty() && d.plays() > 0;
    const std::string paragraph = annualParagraph(year, total, venues, themes, deptCount, campaignCount, takeovers,
                                                  alertTakeovers, {recalls, recallsCompleted}, sched);
    const std::vector<std::pair<const char*, const std::vector<YearLine>*>> sections = {{"venue_type", &venues},
                                                                                        {"theme", &themes},
                                                                                        {"department", &departments},
                                                                                        {"month", &months},
                                                                                        {"campaign", &campaigns}};
    if (ctx.query("format").value_or("json") == "csv") {
        Table t;
        t.columns = {"section",  "key",         "name",   "screens", "locations",    "completed",
                     "degraded", "interrupted", "failed", "plays",   "on_screen_ms", "on_screen_hours"};
        auto row = [&](const std::string& section, const YearLine& l) {
            t.rows.push_back({section, l.key, l.name, l.screens, l.locations, l.completed, l.degraded, l.interrupted,
                              l.failed, l.plays(), l.onScreenMs, seconds(l.onScreenMs / 3600)});
        };
        row("total", total);
        for (const auto& [name, lines] : sections)
            for (const auto& l : *lines) row(name, l);
        // Scheduled vs played: plays as completed, on-screen time as on_screen_ms.
        t.rows.push_back({std::string("scheduled"), sched.through, std::string("scheduled_plays"), std::int64_t{0},
                          std::int64_t{0}, sched.slots, std::int64_t{0}, std::int64_t{0}, std::int64_t{0}, sched.slots,
                          sched.slotMs, seconds(sched.slotMs / 3600)});
        t.rows.push_back({std::string("scheduled"), sched.through, std::string("played"), std::int64_t{0},
                          std::int64_t{0}, sched.completed, std::int64_t{0}, std::int64_t{0}, std::int64_t{0},
                          sched.completed, sched.onScreenMs, seconds(sched.onScreenMs / 3600)});
        sendTable(ctx, t, "annual-" + std::to_string(year), new Poco::JSON::Object);
        return;
    }
    Poco::JSON::Object::Ptr out = new Poco::JSON::Object;
    out->set("year", year);
    out->set("from", from);
    out->set("to", to);
    out->set("total", yearLineJson(total));
    for (const auto& [name, lines] : sections) {
        Poco::JSON::Array::Ptr a = new Poco::JSON::Array;
        for (const auto& l : *lines) a->add(yearLineJson(l));
        out->set(std::string("by_") + name, a);
    }
    out->set("campaigns", campaignCount);
    out->set("takeovers", takeovers);
    out->set("alert_takeovers", alertTakeovers);
    out->set("recalls", recalls);
    out->set("recalls_completed", recallsCompleted);
    Poco::JSON::Object::Ptr so = new Poco::JSON::Object;
    so->set("through", sched.through.empty() ? Poco::Dynamic::Var() : Poco::Dynamic::Var(sched.through));
    so->set("scheduled_plays", sched.slots);
    so->set("scheduled_ms", sched.slotMs);
    so->set("completed", sched.completed);
    so->set("on_screen_ms", sched.onScreenMs);
    so->set("completion_basis_points", sched.completionBp());
    so->set("uptime_basis_points", sched.uptimeBp());
    out->set("scheduled", so);
    out->set("summary", paragraph);
    ctx.sendJson(200, out);
}

void campaignSummary(RequestCtx& ctx) {
    const std::int64_t id = ctx.idParam("id");
    auto [from, to] = dateRange(ctx);
    const std::string key = "cmp-" + std::to_string(id);
    Poco::JSON::Object::Ptr out = metaOf(from, to);
    ctx.svc.db.read([&](DbConn& c) {
        auto cg = reports::campaignNameTheme(c, id);
        if (!cg) notFound("campaign");
        out->set("campaign", key);
        out->set("name", cg->first);
        out->set("theme", cg->second);
        const auto tot = reports::campaignTotals(c, key, dateOf(from), dateOf(to));
        out->set("screens", tot.screens);
        out->set("locations", tot.locations);
        out->set("completed", tot.completed);
        out->set("degraded", tot.degraded);
        out->set("interrupted", tot.interrupted);
        out->set("failed", tot.failed);
        out->set("on_screen_ms", tot.onScreenMs);
        out->set("on_screen_hours", seconds(tot.onScreenMs / 3600));  // ms/3600 = hours with 3 decimals
        auto breakdown = [&](reports::CampaignBreakdown by, const std::string& name) {
            Poco::JSON::Array::Ptr arr = new Poco::JSON::Array;
            for (const auto& g : reports::campaignBreakdown(c, by, key, dateOf(from), dateOf(to))) {
                Poco::JSON::Object::Ptr o = new Poco::JSON::Object;
                o->set(name, g.key);
                o->set("screens", g.screens);
                o->set("completed", g.completed);
                o->set("on_screen_hours", seconds(g.onScreenMs / 3600));
                arr->add(o);
            }
            out->set("by_" + name, arr);
        };
        breakdown(reports::CampaignBreakdown::VenueType, "venue_type");
        breakdown(reports::CampaignBreakdown::Theme, "theme");
        breakdown(reports::CampaignBreakdown::Department, "department");
    });
    ctx.sendJson(200, out);
}

// OstreamSink for the export tar.
class StreamSink final : public tar::ByteSink {
  public:
    explicit StreamSink(std::ostream& out) : out_(out) {}
    Status write(const void* buf, std::size_t n) override {
        out_.write(static_cast<const char*>(buf), static_cast<std::streamsize>(n));
        if (!out_) return makeError(Errc::Io, "the client went away");
        return {};
    }

  private:
    std::ostream& out_;
};

// GET /api/v1/audit/export?from&to&players=: the signed evidence tar.
void auditExport(RequestCtx& ctx) {
    auto from = ctx.query("from"), to = ctx.query("to");
    if (!from || !to) badRequest("from and to are required (ISO 8601 instants with a zone, or YYYY-MM-DD in UTC)");
    auto instant = [&](const std::string& field, const std::string& text) -> std::int64_t {
        if (text.size() == 10)
            if (auto d = timeutil::parseDate(text)) return timeutil::daysFromCivil(*d) * kDayMs;
        return parseIsoField(field, text);
    };
    ExportRequest req;
    req.fromMs = instant("from", *from);
    req.toMs = instant("to", *to);
    if (req.toMs <= req.fromMs) badRequest("to must be after from");
    req.players = listParam(ctx, "players");
    req.nowMs = ctx.svc.nowMs();
    req.exportId = "exp-" + std::to_string(req.nowMs);
    auto key = crypto::PrivateKey::load((ctx.svc.config.dataDir / "keys" / kSigningKeyFile).string());
    if (!key) throw ApiError(500, "internal", "the content signing key is unavailable");
    // The first pass (hashes for export.json) before the response starts, so that
    // its errors are still proper HTTP errors; then the tar streams.
    auto plan = planExport(ctx.svc.db, req);
    if (!plan) {
        if (plan.error().code == Errc::NotFound) throw ApiError(404, "not_found", plan.error().message);
        throw ApiError(500, "internal", plan.error().str());
    }
    ctx.svc.db.write([&](DbConn& c) {
        Poco::JSON::Object::Ptr what = new Poco::JSON::Object;
        what->set("from", isoUtc(req.fromMs));
        what->set("to", isoUtc(req.toMs));
        what->set("players", toArray(req.players));
        what->set("records", static_cast<Poco::Int64>(plan->records));
        recordAudit(c, ctx, "export", "proof_of_play", req.exportId, {}, what);
    });
    ctx.resp.setStatus(Poco::Net::HTTPResponse::HTTP_OK);
    ctx.resp.setContentType("application/x-tar");
    ctx.resp.set("Content-Disposition", "attachment; filename=\"" + req.exportId + ".tar\"");
    ctx.resp.set("Cache-Control", "no-store");
    ctx.resp.setChunkedTransferEncoding(true);
    StreamSink sink(ctx.resp.send());
    auto st = streamExport(ctx.svc.db, *plan, *key, sink);
    if (!st) throw std::runtime_error("export " + req.exportId + " failed: " + st.error().str());
}

}  // namespace

std::string toCsv(const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows) {
    std::string out = "\xEF\xBB\xBF";
    auto line = [&](const std::vector<std::string>& cells) {
        for (std::size_t i = 0; i < cells.size(); ++i) {
            if (i) out += ',';
            out += csvField(cells[i]);
        }
        out += "\r\n";
    };
    line(header);
    for (const auto& r : rows) line(r);
    return out;
}

Poco::JSON::Object::Ptr popSummaryJson(DbConn& c, const std::string& playerId) {
    const auto sum = reports::popSummary(c, playerId);
    Poco::JSON::Object::Ptr o = new Poco::JSON::Object;
    o->set("lastSeq", sum.lastSeq);
    o->set("records", sum.records);
    o->set("problems", sum.problems);
    Poco::Dynamic::Var last;
    if (sum.lastProblem) {
        Poco::JSON::Object::Ptr l = new Poco::JSON::Object;
        l->set("code", sum.lastProblem->code);
        l->set("seq", sum.lastProblem->seq);
        l->set("atMs", sum.lastProblem->atMs);
        last = l;
    }
    o->set("lastProblem", last);
    return o;
}

void addReportRoutes(Router& r) {
    constexpr unsigned kReaders = kAnyUser;
    r.add(withQuery(Route{"GET", "/api/v1/reports/plays", kReaders, "reports",
                          "Play counts and on-screen time "
                          "(?from&to=YYYY-MM-DD&by=media,location,day,...&format=json|csv)",
                          playsReport},
                    {{"from", "string", "date"},
                     {"to", "string", "date"},
                     {"by"},
                     {"players"},
                     {"campaign", "integer"},
                     {"location", "integer"},
                     {"format", "string", "", {"json", "csv"}}})
              .reply("PlaysReport")
              .replyAs("text/csv"));
    r.add(withQuery(
              Route{"GET", "/api/v1/reports/scheduled-vs-played", kReaders, "reports",
                    "Scheduled against proven plays per screen and local day, with the shortfall", scheduledVsPlayed},
              {{"from", "string", "date"},
               {"to", "string", "date"},
               {"players"},
               {"format", "string", "", {"json", "csv"}}})
              .reply("ScheduledVsPlayed")
              .replyAs("text/csv"));
    r.add(withQuery(Route{"GET", "/api/v1/reports/uptime", kReaders, "reports",
                          "Screen coverage by plays per local day, last heartbeat and problems", uptimeReport},
                    {{"from", "string", "date"}, {"to", "string", "date"}, {"format", "string", "", {"json", "csv"}}})
              .reply("Uptime")
              .replyAs("text/csv"));
    r.add(
        withQuery(Route{"GET", "/api/v1/reports/problems", kReaders, "reports",
                        "Proof-of-play problems found at ingest (gaps, broken links, refused batches)", problemsReport},
                  {{"limit", "integer"}, {"player"}, {"format", "string", "", {"json", "csv"}}})
            .reply("Problems")
            .replyAs("text/csv"));
    r.add(withQuery(Route{"GET", "/api/v1/reports/annual", kReaders, "reports",
                          "The year's numbers for the yearly report (普法履职): places and screens by venue type, "
                          "plays and on-screen hours by theme, department, month and campaign, and the paragraph",
                          annualReport},
                    {{"year", "integer"}, {"format", "string", "", {"json", "csv"}}})
              .reply("AnnualReport")
              .replyAs("text/csv"));
    r.add(withQuery(Route{"GET", "/api/v1/reports/campaigns/{id}/summary", kReaders, "reports",
                          "Campaign summary: screens, locations, complete plays and on-screen "
                          "hours by venue type and theme",
                          campaignSummary},
                    {{"from", "string", "date"}, {"to", "string", "date"}})
              .reply("CampaignSummary"));
    r.add(withQuery(Route{"GET", "/api/v1/audit/export", kAdmin | kAuditor, "audit",
                          "Signed proof-of-play evidence export (tar) for microscape-pack audit "
                          "(?from&to&players=)",
                          auditExport},
                    {{"from"}, {"to"}, {"players"}})
              .replyAs("application/x-tar"));
}

}  // namespace microscape::controller
