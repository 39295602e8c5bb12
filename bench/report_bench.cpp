// bench_report: the play-count report (media x location x local day, the
// auditor's table) served from the rollups against a raw GROUP BY over the
// stored records, in the same run and on the same data; also times
// --rebuild-rollups, and streams the evidence export of every record
// (GET /api/v1/audit/export) into a counting sink, sampling the process's RSS
// while it streams. Usage: bench_report [RECORDS=2000000] [PLAYERS=500] [DAYS=30] [noexport]
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
#include "microscape/controller/db.hpp"
#include "microscape/core/crypto.hpp"
#include "pop_ingest.hpp"

using namespace microscape;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

constexpr std::int64_t kStart = 1776182400000;  // 2026-04-15T00:00:00+08:00

double msSince(Clock::time_point t) {
    return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

// The SQL of GET /api/v1/reports/plays?by=location,day,media (controller/src/reports.cpp).
constexpr const char* kRollupSql =
    "SELECT COALESCE(CAST(l.id AS TEXT), '') AS location_id, COALESCE(l.name, '') AS location, "
    "r.local_date AS day, "
    "r.media AS media, COALESCE(m.display_name, '') AS media_name, SUM(r.completed) AS completed, "
    "SUM(r.interrupted) AS interrupted, SUM(r.failed) AS failed, SUM(r.completed + r.interrupted + "
    "r.failed) AS plays, "
    "SUM(r.on_screen_ms) AS on_screen_ms FROM pop_rollup_location r LEFT JOIN media m ON m.sha256 "
    "= r.media "
    "LEFT JOIN locations l ON l.id = r.location_id "
    "WHERE r.local_date BETWEEN ? AND ? GROUP BY 1,2,3,4,5 ORDER BY 1,2,3,4,5";
// The same table from the raw records (Asia/Shanghai has no DST: a fixed +8 h).
constexpr const char* kRawSql =
    "SELECT COALESCE(CAST(l.id AS TEXT), '') AS location_id, COALESCE(l.name, '') AS location, "
    "date((r.start_utc_ms + 28800000) / 1000, 'unixepoch') AS day, r.media AS media, "
    "COALESCE(m.display_name, '') AS media_name, SUM(r.outcome = 'completed'), SUM(r.outcome = "
    "'interrupted'), "
    "SUM(r.outcome = 'failed'), COUNT(*), SUM(CASE WHEN r.outcome IN ('completed', 'interrupted') "
    "THEN r.measured_ms "
    "ELSE 0 END) FROM pop_records r LEFT JOIN media m ON m.sha256 = r.media "
    "LEFT JOIN players p ON p.id = r.player_id LEFT JOIN locations l ON l.id = p.location_id "
    "WHERE r.kind = 'play' AND day BETWEEN ? AND ? GROUP BY 1,2,3,4,5 ORDER BY 1,2,3,4,5";

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

Timing run(sqlite3* db, const char* sql, const std::string& from, const std::string& to) {
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(db, sql, -1, &st, nullptr) != SQLITE_OK) {
        std::fprintf(stderr, "prepare: %s\n", sqlite3_errmsg(db));
        std::exit(1);
    }
    sqlite3_bind_text(st, 1, from.c_str(), -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, to.c_str(), -1, SQLITE_STATIC);
    Timing r;
    auto t = Clock::now();
    while (sqlite3_step(st) == SQLITE_ROW) {
        ++r.rows;
        r.plays += sqlite3_column_int64(st, 8);
        r.onScreenMs += sqlite3_column_int64(st, 9);
    }
    r.ms = msSince(t);
    sqlite3_finalize(st);
    return r;
}

}  // namespace

int main(int argc, char** argv) {
    std::int64_t total = 2000000, playersArg = 500, daysArg = 30;
    std::string exportArg = "export";
    microscape::bench::BenchArgs args("bench_report",
                                      "Report queries and the evidence export over a filled "
                                      "store.");
    args.positional("RECORDS", "play records in the store", total, 1, INT64_MAX)
        .positional("PLAYERS", "players", playersArg, 1, 1000000)
        .positional("DAYS", "days the records cover", daysArg, 1, 3660)
        .positional("EXPORT", "export or noexport (skip the export)", exportArg, {"export", "noexport"});
    if (int rc = args.parse(argc, argv); rc >= 0) return rc;
    const int nPlayers = static_cast<int>(playersArg), days = static_cast<int>(daysArg);
    const bool exportToo = exportArg == "export";
    const fs::path dir = fs::temp_directory_path() / ("ms-bench-report-" + std::to_string(std::random_device{}()));
    fs::create_directories(dir);
    {
        controller::Db db(dir / "controller.db");  // the real schema
    }
    sqlite3* db = nullptr;
    sqlite3_open((dir / "controller.db").c_str(), &db);
    sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA cache_size=-262144", nullptr, nullptr,
                 nullptr);

    // 50 locations, the players spread over them (sharing one real key, which the
    // export lists), 20 media.
    const std::string pem = crypto::PrivateKey::generate().value().publicKey().toPem();
    sqlite3_exec(db, "BEGIN", nullptr, nullptr, nullptr);
    for (int l = 1; l <= 50; ++l)
        sqlite3_exec(
            db,
            ("INSERT INTO locations(id, name, venue_type, district, timezone, created_at, "
             "updated_at) VALUES (" +
             std::to_string(l) + ", '万达广场 " + std::to_string(l) + "', 'mall', '锦江区', 'Asia/Shanghai', 0, 0)")
                .c_str(),
            nullptr, nullptr, nullptr);
    for (int p = 0; p < nPlayers; ++p)
        sqlite3_exec(db,
                     ("INSERT INTO players(id, name, location_id, state, identity_key, curve_key, "
                      "enrolled_at, "
                      "updated_at) VALUES ('scr-" +
                      std::to_string(p) + "', 's', " + std::to_string(p % 50 + 1) + ", 'enrolled', '" + pem + "', 'c" +
                      std::to_string(p) + "', 0, 0)")
                         .c_str(),
                     nullptr, nullptr, nullptr);
    std::vector<std::string> media;
    for (int i = 0; i < 20; ++i) media.push_back(crypto::sha256Hex("media" + std::to_string(i)));
    sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr);

    // Raw records as ingest stores them (a realistic ~650-byte record text).
    auto t0 = Clock::now();
    sqlite3_stmt* ins = nullptr;
    sqlite3_prepare_v2(db,
                       "INSERT INTO pop_records(player_id, seq, hash, kind, media, playlist, schedule, campaign, "
                       "start_utc_ms, end_utc_ms, measured_ms, outcome, record, received_at) "
                       "VALUES (?,?,?,'play',?,'pl-1','sch-1','cmp-1',?,?,?,?,?,0)",
                       -1, &ins, nullptr);
    const std::string recordText(650, 'x');
    const std::string hash(64, 'a');
    const std::int64_t perPlayer = total / nPlayers;
    const std::int64_t stepMs = static_cast<std::int64_t>(days) * 86400000 / std::max<std::int64_t>(1, perPlayer);
    std::mt19937 rng(7);
    std::int64_t n = 0;
    sqlite3_exec(db, "BEGIN", nullptr, nullptr, nullptr);
    for (int p = 0; p < nPlayers; ++p) {
        const std::string id = "scr-" + std::to_string(p);
        for (std::int64_t s = 1; s <= perPlayer; ++s, ++n) {
            const std::int64_t start = kStart + (s - 1) * stepMs;
            const unsigned roll = rng() % 20;
            const char* outcome = roll == 0 ? "failed" : roll < 3 ? "interrupted" : "completed";
            const std::int64_t measured = roll == 0 ? 0 : roll < 3 ? 4000 : 15000;
            sqlite3_bind_text(ins, 1, id.c_str(), -1, SQLITE_STATIC);
            sqlite3_bind_int64(ins, 2, s);
            sqlite3_bind_text(ins, 3, hash.c_str(), -1, SQLITE_STATIC);
            sqlite3_bind_text(ins, 4, media[rng() % media.size()].c_str(), -1, SQLITE_STATIC);
            sqlite3_bind_int64(ins, 5, start);
            sqlite3_bind_int64(ins, 6, start + measured);
            sqlite3_bind_int64(ins, 7, measured);
            sqlite3_bind_text(ins, 8, outcome, -1, SQLITE_STATIC);
            sqlite3_bind_text(ins, 9, recordText.c_str(), -1, SQLITE_STATIC);
            sqlite3_step(ins);
            sqlite3_reset(ins);
            if (n % 10000 == 9999) {
                sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr);
                sqlite3_exec(db, "BEGIN", nullptr, nullptr, nullptr);
            }
        }
    }
    sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr);
    sqlite3_finalize(ins);
    const double loadMs = msSince(t0);

    // Rollups as --rebuild-rollups makes them.
    controller::ZoneCache zones("/usr/share/zoneinfo");
    auto t1 = Clock::now();
    std::int64_t rebuilt = 0;
    {
        controller::Db store(dir / "controller.db");
        rebuilt = store.write([&](controller::DbConn& c) { return controller::rebuildRollups(c, zones); });
    }
    const double rebuildMs = msSince(t1);
    sqlite3_exec(db, "ANALYZE", nullptr, nullptr, nullptr);

    const std::string from = "2026-04-15", to = "2026-05-14";
    run(db, kRollupSql, from, to);  // warm the cache for both
    Timing roll = run(db, kRollupSql, from, to);
    Timing raw = run(db, kRawSql, from, to);
    Timing roll2 = run(db, kRollupSql, from, to);
    if (roll2.ms < roll.ms) roll = roll2;

    std::printf(
        "records %lld (%d players, 50 locations, 20 media, %d days); loaded in %.1f s, rollups "
        "rebuilt from "
        "%lld records in %.1f s\n",
        static_cast<long long>(n), nPlayers, days, loadMs / 1000, static_cast<long long>(rebuilt), rebuildMs / 1000);
    std::printf("report via rollups:  %9.1f ms  (%zu rows, %lld plays, %lld ms on screen)\n", roll.ms, roll.rows,
                static_cast<long long>(roll.plays), static_cast<long long>(roll.onScreenMs));
    std::printf("report via raw GROUP BY: %5.1f ms  (%zu rows, %lld plays, %lld ms on screen)\n", raw.ms, raw.rows,
                static_cast<long long>(raw.plays), static_cast<long long>(raw.onScreenMs));
    const bool same = roll.rows == raw.rows && roll.plays == raw.plays && roll.onScreenMs == raw.onScreenMs;
    std::printf("speed-up %.1f x (goal >= 20), rollup query %s 100 ms; results %s\n", raw.ms / roll.ms,
                roll.ms <= 100 ? "within" : "OVER", same ? "identical" : "DIFFER");
    sqlite3_close(db);

    if (exportToo) {
        controller::Db cdb(dir / "controller.db");
        auto key = crypto::PrivateKey::generate().value();
        controller::ExportRequest req;
        req.fromMs = kStart;
        req.toMs = kStart + std::int64_t(days) * 86400000;
        req.nowMs = req.toMs;
        req.exportId = "bench";
        CountingSink sink;
        const long before = rssKiB();
        auto t2 = Clock::now();
        auto st = controller::writeAuditExport(cdb, req, key, sink);
        const double exportMs = msSince(t2);
        if (!st) {
            std::fprintf(stderr, "export failed: %s\n", st.error().str().c_str());
            return 1;
        }
        std::printf(
            "evidence export of %lld records: %.1f GB streamed in %.1f s (two passes); RSS %.1f MB "
            "before, "
            "at most %.1f MB while streaming (growth %.1f MB)\n",
            static_cast<long long>(n), static_cast<double>(sink.bytes) / 1e9, exportMs / 1000, before / 1024.0,
            std::max(before, sink.maxRssKiB) / 1024.0, (std::max(before, sink.maxRssKiB) - before) / 1024.0);
    }
    std::error_code ec;
    fs::remove_all(dir, ec);
    return same ? 0 : 1;
}
