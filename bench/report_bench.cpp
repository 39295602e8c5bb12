// bench_report: the play-count report (media x location x local day, the
// auditor's table) as GET /api/v1/reports/plays builds it from the rollups
// (controller::reports::plays, the route's own query), against a raw GROUP BY
// over the stored records, in the same run and on the same data, on SQLite or
// PostgreSQL (--store); also times --rebuild-rollups, and streams the
// evidence export of every record (GET /api/v1/audit/export) into a counting
// sink, sampling the process's RSS while it streams.
// Usage: bench_report [--store URL] [RECORDS=2000000] [PLAYERS=500] [DAYS=30] [noexport]
// Goals (issue 6, at 10M records): rollups <= 100 ms and >= 20 x faster than
// raw; the export's memory bounded (RSS growth independent of the record count).
#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>

#include "audit_export.hpp"
#include "bench_args.hpp"
#include "bench_store.hpp"
#include "microscape/controller/db.hpp"
#include "microscape/core/crypto.hpp"
#include "microscape/core/time.hpp"
#include "pop_ingest.hpp"
#include "store/reports.hpp"
#include "store/rollups.hpp"

using namespace microscape;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

constexpr std::int64_t kStart = 1776182400000;  // 2026-04-15T00:00:00+08:00
constexpr std::int64_t kDayMs = 86400000;

double msSince(Clock::time_point t) {
    return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

// The same table from the raw records, in SQL both engines run (Asia/Shanghai
// has no DST: a local day is a fixed +8 h; the day is kept as a day number).
constexpr const char* kRawSql =
    "SELECT COALESCE(CAST(l.id AS TEXT), '') AS location_id, COALESCE(l.name, '') AS location, "
    "(r.start_utc_ms + 28800000) / 86400000 AS day, r.media AS media, COALESCE(m.display_name, '') AS media_name, "
    "SUM(CASE WHEN r.outcome = 'completed' THEN 1 ELSE 0 END) AS completed, "
    "SUM(CASE WHEN r.outcome = 'interrupted' THEN 1 ELSE 0 END) AS interrupted, "
    "SUM(CASE WHEN r.outcome = 'failed' THEN 1 ELSE 0 END) AS failed, COUNT(*) AS plays, "
    "SUM(CASE WHEN r.outcome IN ('completed', 'interrupted') THEN r.measured_ms ELSE 0 END) AS on_screen_ms "
    "FROM pop_records r LEFT JOIN media m ON m.sha256 = r.media "
    "LEFT JOIN players p ON p.id = r.player_id LEFT JOIN locations l ON l.id = p.location_id "
    "WHERE r.kind = 'play' AND r.start_utc_ms >= ? AND r.start_utc_ms < ? GROUP BY 1,2,3,4,5 ORDER BY 1,2,3,4,5";

// This process's resident set (VmRSS), in KiB.
long rssKiB() {
    std::ifstream in("/proc/self/status");
    std::string line;
    while (std::getline(in, line))
        if (line.rfind("VmRSS:", 0) == 0) return std::atol(line.c_str() + 6);
    return 0;
}

// Counts the export's bytes and samples RSS every 64 MiB.
class CountingSink final : public tar::ByteSink {
  public:
    Status write(const void*, std::size_t n) override {
        bytes += n;
        if (bytes - lastSample >= (64u << 20)) {
            lastSample = bytes;
            maxRssKiB = std::max(maxRssKiB, rssKiB());
        }
        return {};
    }
    std::uint64_t bytes = 0, lastSample = 0;
    long maxRssKiB = 0;
};

struct Timing {
    double ms = 0;
    std::size_t rows = 0;
    std::int64_t plays = 0, onScreenMs = 0;
};

std::int64_t number(const controller::DbValue& v) {
    if (auto i = std::get_if<std::int64_t>(&v)) return *i;
    if (auto s = std::get_if<std::string>(&v)) return std::atoll(s->c_str());
    return 0;
}

// The report as the route makes it: the controller's own function, the one
// place this bench calls into the report code.
Timing realReport(controller::Db& db, std::int64_t fromDay, std::int64_t toDay) {
    controller::reports::PlaysQuery q;
    q.fromDate = timeutil::formatDate(timeutil::civilFromDays(fromDay));
    q.toDate = timeutil::formatDate(timeutil::civilFromDays(toDay));
    q.by = {"location", "day", "media"};
    auto t = Clock::now();
    controller::reports::Table table = db.read([&](controller::DbConn& c) { return controller::reports::plays(c, q); });
    Timing r;
    r.ms = msSince(t);
    const auto col = [&](const char* name) {
        return static_cast<std::size_t>(std::find(table.columns.begin(), table.columns.end(), name) -
                                        table.columns.begin());
    };
    const std::size_t plays = col("plays"), onScreen = col("on_screen_ms");
    if (plays >= table.columns.size() || onScreen >= table.columns.size()) {
        std::fprintf(stderr, "the report has no plays or on_screen_ms column\n");
        std::exit(1);
    }
    r.rows = table.rows.size();
    for (const auto& row : table.rows) {
        r.plays += number(row[plays]);
        r.onScreenMs += number(row[onScreen]);
    }
    return r;
}

// The raw GROUP BY through the same store connection.
Timing rawReport(controller::Db& db, std::int64_t fromMs, std::int64_t toMs) {
    auto t = Clock::now();
    auto rows = db.read([&](controller::DbConn& c) { return c.query(kRawSql, {fromMs, toMs}); });
    Timing r;
    r.ms = msSince(t);
    r.rows = rows.size();
    for (const auto& row : rows) {
        r.plays += row.i64(8);
        r.onScreenMs += row.i64(9);
    }
    return r;
}

}  // namespace

int main(int argc, char** argv) {
    std::int64_t total = 2000000, playersArg = 500, daysArg = 30;
    std::string exportArg = "export", storeArg = "sqlite:";
    microscape::bench::BenchArgs args("bench_report",
                                      "The plays report (the route's own code, from the rollups) against a raw\n"
                                      "GROUP BY, and the evidence export, over a filled store (SQLite or PostgreSQL).");
    args.option("store", microscape::bench::kStoreHelp, storeArg)
        .positional("RECORDS", "play records in the store", total, 1, INT64_MAX)
        .positional("PLAYERS", "players", playersArg, 1, 1000000)
        .positional("DAYS", "days the records cover", daysArg, 1, 3660)
        .positional("EXPORT", "export or noexport (skip the export)", exportArg, {"export", "noexport"});
    if (int rc = args.parse(argc, argv); rc >= 0) return rc;
    const int nPlayers = static_cast<int>(playersArg), days = static_cast<int>(daysArg);
    const bool exportToo = exportArg == "export";
    const fs::path dir = fs::temp_directory_path() / ("ms-bench-report-" + std::to_string(std::random_device{}()));
    fs::create_directories(dir);
    int storeStatus = 0;
    auto store = bench::openBenchStore("bench_report", storeArg, dir, storeStatus);
    if (!store) {
        std::error_code ec;
        fs::remove_all(dir, ec);
        return storeStatus;
    }
    auto cdb = std::make_unique<controller::Db>(store->url());  // the real schema

    // 50 locations, the players spread over them (sharing one real key, which the
    // export lists), 20 media.
    const std::string pem = crypto::PrivateKey::generate().value().publicKey().toPem();
    cdb->write([&](controller::DbConn& c) {
        for (int l = 1; l <= 50; ++l)
            c.exec(
                "INSERT INTO locations(id, name, venue_type, district, timezone, created_at, updated_at) "
                "VALUES (?, ?, 'mall', '锦江区', 'Asia/Shanghai', 0, 0)",
                {std::int64_t{l}, "万达广场 " + std::to_string(l)});
        for (int p = 0; p < nPlayers; ++p)
            c.exec(
                "INSERT INTO players(id, name, location_id, state, identity_key, curve_key, enrolled_at, "
                "updated_at) VALUES (?, 's', ?, 'enrolled', ?, ?, 0, 0)",
                {"scr-" + std::to_string(p), std::int64_t{p % 50 + 1}, pem, "c" + std::to_string(p)});
    });
    std::vector<std::string> media;
    for (int i = 0; i < 20; ++i) media.push_back(crypto::sha256Hex("media" + std::to_string(i)));

    // Raw records as ingest stores them (a realistic ~650-byte record text),
    // loaded the fastest way each engine has: prepared INSERTs in large
    // transactions (SQLite), one COPY (PostgreSQL).
    auto t0 = Clock::now();
    const std::string recordText(650, 'x');
    const std::string hash(64, 'a');
    const std::int64_t perPlayer = total / nPlayers;
    const std::int64_t stepMs = static_cast<std::int64_t>(days) * kDayMs / std::max<std::int64_t>(1, perPlayer);
    std::mt19937 rng(7);
    std::int64_t n = 0;
    struct Gen {
        std::string id;
        std::int64_t seq, start, measured;
        const char* outcome;
        const std::string* media;
    };
    auto forEachRecord = [&](auto&& f) {
        for (int p = 0; p < nPlayers; ++p) {
            Gen g;
            g.id = "scr-" + std::to_string(p);
            for (std::int64_t s = 1; s <= perPlayer; ++s, ++n) {
                g.seq = s;
                g.start = kStart + (s - 1) * stepMs;
                const unsigned roll = rng() % 20;
                g.outcome = roll == 0 ? "failed" : roll < 3 ? "interrupted" : "completed";
                g.measured = roll == 0 ? 0 : roll < 3 ? 4000 : 15000;
                g.media = &media[rng() % media.size()];
                f(g);
            }
        }
    };
    if (store->postgres()) {
        PGconn* pg = store->connect();
        bench::pgCopyIn(pg,
                        "COPY pop_records(player_id, seq, hash, kind, media, playlist, schedule, campaign, "
                        "start_utc_ms, end_utc_ms, measured_ms, outcome, record, received_at) FROM STDIN");
        std::string buf;
        auto flush = [&] {
            if (PQputCopyData(pg, buf.data(), static_cast<int>(buf.size())) != 1) {
                std::fprintf(stderr, "COPY: %s\n", PQerrorMessage(pg));
                std::exit(1);
            }
            buf.clear();
        };
        forEachRecord([&](const Gen& g) {
            buf += g.id + '\t' + std::to_string(g.seq) + '\t' + hash + "\tplay\t" + *g.media +
                   "\tpl-1\tsch-1\tcmp-1\t" + std::to_string(g.start) + '\t' + std::to_string(g.start + g.measured) +
                   '\t' + std::to_string(g.measured) + '\t' + g.outcome + '\t' + recordText + "\t0\n";
            if (buf.size() > (1u << 20)) flush();
        });
        flush();
        if (PQputCopyEnd(pg, nullptr) != 1) return 1;
        for (PGresult* r; (r = PQgetResult(pg));) {
            if (PQresultStatus(r) != PGRES_COMMAND_OK) {
                std::fprintf(stderr, "COPY: %s\n", PQresultErrorMessage(r));
                return 1;
            }
            PQclear(r);
        }
        PQfinish(pg);
    } else {
        sqlite3* db = nullptr;
        sqlite3_open(store->url().sqliteFile.c_str(), &db);
        sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL", nullptr, nullptr, nullptr);
        sqlite3_stmt* ins = nullptr;
        sqlite3_prepare_v2(db,
                           "INSERT INTO pop_records(player_id, seq, hash, kind, media, playlist, schedule, campaign, "
                           "start_utc_ms, end_utc_ms, measured_ms, outcome, record, received_at) "
                           "VALUES (?,?,?,'play',?,'pl-1','sch-1','cmp-1',?,?,?,?,?,0)",
                           -1, &ins, nullptr);
        sqlite3_exec(db, "BEGIN", nullptr, nullptr, nullptr);
        forEachRecord([&](const Gen& g) {
            sqlite3_bind_text(ins, 1, g.id.c_str(), -1, SQLITE_STATIC);
            sqlite3_bind_int64(ins, 2, g.seq);
            sqlite3_bind_text(ins, 3, hash.c_str(), -1, SQLITE_STATIC);
            sqlite3_bind_text(ins, 4, g.media->c_str(), -1, SQLITE_STATIC);
            sqlite3_bind_int64(ins, 5, g.start);
            sqlite3_bind_int64(ins, 6, g.start + g.measured);
            sqlite3_bind_int64(ins, 7, g.measured);
            sqlite3_bind_text(ins, 8, g.outcome, -1, SQLITE_STATIC);
            sqlite3_bind_text(ins, 9, recordText.c_str(), -1, SQLITE_STATIC);
            sqlite3_step(ins);
            sqlite3_reset(ins);
            if (n % 10000 == 9999) {
                sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr);
                sqlite3_exec(db, "BEGIN", nullptr, nullptr, nullptr);
            }
        });
        sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr);
        sqlite3_finalize(ins);
        sqlite3_close(db);
    }
    const double loadMs = msSince(t0);

    // Rollups as --rebuild-rollups makes them.
    controller::ZoneCache zones("/usr/share/zoneinfo");
    auto t1 = Clock::now();
    const std::int64_t rebuilt =
        cdb->write([&](controller::DbConn& c) { return controller::rebuildRollups(c, zones); });
    const double rebuildMs = msSince(t1);
    cdb->write([](controller::DbConn& c) { c.exec("ANALYZE"); });

    const std::int64_t fromDay = kStart / kDayMs + 1;  // 2026-04-15 (the start is 16:00 UTC the day before)
    const std::int64_t toDay = fromDay + days - 1;
    const std::int64_t fromMs = kStart, toMs = kStart + std::int64_t(days) * kDayMs;
    realReport(*cdb, fromDay, toDay);  // warm the caches for both
    rawReport(*cdb, fromMs, toMs);
    Timing roll = realReport(*cdb, fromDay, toDay);
    Timing raw = rawReport(*cdb, fromMs, toMs);
    Timing roll2 = realReport(*cdb, fromDay, toDay);
    if (roll2.ms < roll.ms) roll = roll2;

    std::printf("store: %s (%s)\n", store->name().c_str(), store->url().display.c_str());
    std::printf(
        "records %lld (%d players, 50 locations, 20 media, %d days); loaded in %.1f s, rollups rebuilt from "
        "%lld records in %.1f s\n",
        static_cast<long long>(n), nPlayers, days, loadMs / 1000, static_cast<long long>(rebuilt), rebuildMs / 1000);
    std::printf("report via rollups (reports::plays, %s..%s):  %9.1f ms  (%zu rows, %lld plays, %lld ms on screen)\n",
                timeutil::formatDate(timeutil::civilFromDays(fromDay)).c_str(),
                timeutil::formatDate(timeutil::civilFromDays(toDay)).c_str(), roll.ms, roll.rows,
                static_cast<long long>(roll.plays), static_cast<long long>(roll.onScreenMs));
    std::printf("report via raw GROUP BY: %9.1f ms  (%zu rows, %lld plays, %lld ms on screen)\n", raw.ms, raw.rows,
                static_cast<long long>(raw.plays), static_cast<long long>(raw.onScreenMs));
    const bool same = roll.rows == raw.rows && roll.plays == raw.plays && roll.onScreenMs == raw.onScreenMs;
    std::printf("speed-up %.1f x (goal >= 20), rollup report %s 100 ms; results %s\n", raw.ms / roll.ms,
                roll.ms <= 100 ? "within" : "OVER", same ? "identical" : "DIFFER");

    if (exportToo) {
        auto key = crypto::PrivateKey::generate().value();
        controller::ExportRequest req;
        req.fromMs = kStart;
        req.toMs = kStart + std::int64_t(days) * kDayMs;
        req.nowMs = req.toMs;
        req.exportId = "bench";
        CountingSink sink;
        const long before = rssKiB();
        auto t2 = Clock::now();
        auto st = controller::writeAuditExport(*cdb, req, key, sink);
        const double exportMs = msSince(t2);
        if (!st) {
            std::fprintf(stderr, "export failed: %s\n", st.error().str().c_str());
            return 1;
        }
        std::printf(
            "evidence export of %lld records: %.1f GB streamed in %.1f s (two passes); RSS %.1f MB before, "
            "at most %.1f MB while streaming (growth %.1f MB)\n",
            static_cast<long long>(n), static_cast<double>(sink.bytes) / 1e9, exportMs / 1000, before / 1024.0,
            std::max(before, sink.maxRssKiB) / 1024.0, (std::max(before, sink.maxRssKiB) - before) / 1024.0);
    }
    cdb.reset();
    store.reset();
    std::error_code ec;
    fs::remove_all(dir, ec);
    return same ? 0 : 1;
}
