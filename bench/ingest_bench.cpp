// bench_ingest: proof-of-play ingest of signed batches (parse, checkpoint
// signature, chain, plausibility, exactly-once store, rollups) against a plain
// batched insert of the same rows into a table of the same shape, in the same
// run: on SQLite a prepared INSERT per row, on PostgreSQL a COPY per batch.
// Usage: bench_ingest [--store sqlite:|postgresql:temp|postgresql://...]
//        [RECORDS=1000000] [PLAYERS=500] [BATCH=500] [workers|sync|pipelined]
// (workers, the default: two threads calling ingestBatch on batches of different
// players, as the hub's two ingest workers do, so one verifies while the other
// stores; sync: ingestBatch one batch at a time on one thread; pipelined:
// PopIngest::prepare of the next batch on a second thread while the current one
// commits).
// Goal (issue 6): ingest >= 0.5 x the plain insert and >= 100k records/s.
#include <sqlite3.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <thread>

#include "bench_args.hpp"
#include "bench_store.hpp"
#include "controller/ingest_sim.hpp"
#include "microscape/controller/db.hpp"
#include "microscape/core/manifest.hpp"
#include "pop_ingest.hpp"

using namespace microscape;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

constexpr std::int64_t kStart = 1776182400000;  // 2026-04-15T00:00:00+08:00

double secondsSince(Clock::time_point t) {
    return std::chrono::duration<double>(Clock::now() - t).count();
}

void check(int rc, sqlite3* db, const char* what) {
    if (rc != SQLITE_OK && rc != SQLITE_DONE && rc != SQLITE_ROW) {
        std::fprintf(stderr, "%s: %s\n", what, sqlite3_errmsg(db));
        std::exit(1);
    }
}

}  // namespace

int main(int argc, char** argv) {
    std::int64_t total = 1000000, playersArg = 500, batchArg = 500;
    std::string mode = "workers", storeArg = "sqlite:";
    microscape::bench::BenchArgs args("bench_ingest",
                                      "Proof-of-play ingest rate into the controller's store, against a plain\n"
                                      "insert of the same rows (SQLite: prepared INSERTs; PostgreSQL: COPY).");
    args.option("store", microscape::bench::kStoreHelp, storeArg)
        .positional("RECORDS", "play records in all", total, 1, INT64_MAX)
        .positional("PLAYERS", "players sending them", playersArg, 1, 1000000)
        .positional("BATCH", "records per PROOFS batch", batchArg, 1, 1000000)
        .positional("MODE", "workers, sync or pipelined", mode, {"workers", "sync", "pipelined"});
    if (int rc = args.parse(argc, argv); rc >= 0) return rc;
    const int nPlayers = static_cast<int>(playersArg), batchSize = static_cast<int>(batchArg);
    const fs::path dir = fs::temp_directory_path() / ("ms-bench-ingest-" + std::to_string(std::random_device{}()));
    fs::create_directories(dir);

    std::vector<std::string> media;
    for (int i = 0; i < 12; ++i) media.push_back(crypto::sha256Hex("media" + std::to_string(i)));

    int storeStatus = 0;
    auto store = bench::openBenchStore("bench_ingest", storeArg, dir, storeStatus);
    if (!store) {
        std::error_code ec;
        fs::remove_all(dir, ec);
        return storeStatus;
    }
    controller::Db db(store->url());
    std::vector<microscape::testing::SimPlayer> players(static_cast<std::size_t>(nPlayers));
    db.write([&](controller::DbConn& c) {
        c.exec(
            "INSERT INTO locations(id, name, venue_type, district, timezone, created_at, "
            "updated_at) "
            "VALUES (1, '万达广场', 'mall', '锦江区', 'Asia/Shanghai', 0, 0)");
        manifest::Manifest m;
        m.version = 1;
        m.issuedAtMs = kStart;
        m.expiresAtMs = kStart + 30 * 86400000LL;
        m.signer = std::string(64, 'a');
        for (auto& s : media) {
            manifest::MediaEntry e;
            e.sha256 = s;
            e.sizeBytes = 1;
            e.kind = MediaKind::Image;
            e.mime = "image/png";
            e.name = "poster";
            e.fileName = "poster.png";
            m.media.push_back(e);
        }
        for (int i = 0; i < nPlayers; ++i) {
            auto& p = players[static_cast<std::size_t>(i)];
            p.id = "scr-" + std::to_string(100000 + i);
            c.exec(
                "INSERT INTO players(id, name, location_id, state, identity_key, curve_key, "
                "enrolled_at, "
                "updated_at) VALUES (?, ?, 1, 'enrolled', ?, ?, ?, 0)",
                {p.id, p.id, p.publicPem(), "curve-" + p.id, kStart - 86400000});
            m.bundleId = "b-" + p.id;
            m.target = p.id;
            c.exec(
                "INSERT INTO compiled_manifests(player_id, version, content_hash, manifest, "
                "signature, created_at) "
                "VALUES (?, 1, 'h', ?, 's', 0)",
                {p.id, manifest::toCanonicalBytes(m)});
        }
    });
    controller::PopIngest ingest(db);

    // The baseline: the same rows, the same table, batched in transactions of the
    // same size, with a prepared statement and nothing else.
    // PostgreSQL: a table of the same shape in the same database, filled with one
    // COPY per batch (text format), each batch its own transaction.
    PGconn* pgPlain = nullptr;
    if (store->postgres()) {
        pgPlain = store->connect();
        bench::pgExec(pgPlain,
                      "SET client_min_messages = warning; DROP TABLE IF EXISTS bench_plain_pop_records; "
                      "CREATE TABLE bench_plain_pop_records (player_id TEXT NOT NULL, seq BIGINT NOT NULL, "
                      "hash TEXT NOT NULL, kind TEXT NOT NULL, media TEXT NOT NULL, playlist TEXT NOT NULL, "
                      "schedule TEXT NOT NULL, campaign TEXT NOT NULL, start_utc_ms BIGINT NOT NULL, "
                      "end_utc_ms BIGINT NOT NULL, measured_ms BIGINT NOT NULL, outcome TEXT NOT NULL, "
                      "record TEXT NOT NULL, received_at BIGINT NOT NULL, PRIMARY KEY (player_id, seq))");
    }
    sqlite3* plain = nullptr;
    check(sqlite3_open((dir / "plain.db").c_str(), &plain), plain, "open");
    check(sqlite3_exec(plain,
                       "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; "
                       "CREATE TABLE pop_records (player_id TEXT NOT NULL, seq INTEGER NOT NULL, hash TEXT "
                       "NOT NULL, "
                       "kind TEXT NOT NULL, media TEXT NOT NULL, playlist TEXT NOT NULL, schedule TEXT NOT "
                       "NULL, "
                       "campaign TEXT NOT NULL, start_utc_ms INTEGER NOT NULL, end_utc_ms INTEGER NOT NULL, "
                       "measured_ms INTEGER NOT NULL, outcome TEXT NOT NULL, record TEXT NOT NULL, "
                       "received_at INTEGER NOT NULL, PRIMARY KEY (player_id, seq))",
                       nullptr, nullptr, nullptr),
          plain, "schema");
    sqlite3_stmt* ins = nullptr;
    check(sqlite3_prepare_v2(plain, "INSERT INTO pop_records VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)", -1, &ins, nullptr),
          plain, "prepare");

    struct Chain {
        std::int64_t seq = 0;
        std::string prev = std::string(pop::kGenesisHash);
    };
    std::vector<Chain> chains(players.size());
    double ingestS = 0, plainS = 0;
    std::int64_t done = 0, bytes = 0, resent = 0;
    std::mt19937 rng(42);
    const int rounds = static_cast<int>((total + static_cast<std::int64_t>(nPlayers) * batchSize - 1) /
                                        (static_cast<std::int64_t>(nPlayers) * batchSize));
    struct Item {
        std::string playerId;
        pop::Batch batch;
        std::string body;
        std::int64_t last = 0;
    };
    for (int round = 0; round < rounds && done < total; ++round) {
        // 1. This round's batches, one per player (not timed).
        std::vector<Item> items;
        std::int64_t planned = done;
        for (auto& p : players) {
            if (planned >= total) break;
            const int n = static_cast<int>(std::min<std::int64_t>(batchSize, total - planned));
            planned += n;
            std::int64_t t = kStart + round * static_cast<std::int64_t>(batchSize) * 15000;
            auto& ch = chains[static_cast<std::size_t>(&p - players.data())];
            Item it;
            it.playerId = p.id;
            for (int i = 0; i < n; ++i, t += 15000) {
                pop::Record r;
                r.playerId = p.id;
                r.seq = ++ch.seq;
                r.prevHash = ch.prev;
                r.bundleVersion = 1;
                r.mediaSha256 = media[rng() % media.size()];
                r.playlistId = "pl-1";
                r.scheduleId = "sch-1";
                r.source = "entry";
                r.campaignId = "cmp-1";
                r.startUtcMs = t;
                r.scheduledMs = 15000;
                r.measuredMs = rng() % 13 == 0 ? 4000 : 15000;
                r.endUtcMs = t + r.measuredMs;
                r.outcome = pop::classify(r.scheduledMs, r.measuredMs);
                ch.prev = pop::recordHash(r);
                it.batch.records.push_back(std::move(r));
            }
            it.last = ch.seq;
            it.batch.checkpoint = pop::makeCheckpoint(it.batch.records, t, *p.key);
            it.body = pop::encodeBatch(it.batch);
            bytes += static_cast<std::int64_t>(it.body.size());
            items.push_back(std::move(it));
        }

        // 2. Ingest, timed: synchronously (as the hub calls it), or with prepare()
        // of the next batch on a second thread while the current one commits.
        const std::int64_t now = kStart + 86400000LL * 60;
        auto checkOutcome = [&](const Item& it, const Result<controller::IngestOutcome>& r) {
            if (!r || r->ackSeq != it.last || !r->problems.empty()) {
                std::fprintf(stderr, "ingest failed for %s: %s\n", it.playerId.c_str(),
                             !r ? r.error().str().c_str()
                                : (r->problems.empty() ? "bad ack" : r->problems.front().message.c_str()));
                std::exit(1);
            }
        };
        std::vector<std::size_t> resend;
        for (std::size_t k = 0; k < items.size(); ++k)
            if (rng() % 100 == 0) resend.push_back(k);  // 1% of batches re-sent (a lost ack)
        auto t0 = Clock::now();
        if (mode == "sync") {
            for (const auto& it : items) checkOutcome(it, ingest.ingestBatch(it.playerId, it.body, now));
        } else if (mode == "workers") {
            // Each item is a different player, so the two may take any of them.
            std::atomic<std::size_t> nextItem{0};
            auto worker = [&] {
                for (std::size_t k; (k = nextItem.fetch_add(1)) < items.size();)
                    checkOutcome(items[k], ingest.ingestBatch(items[k].playerId, items[k].body, now));
            };
            std::thread second(worker);
            worker();
            second.join();
        } else {
            std::vector<controller::PopIngest::Prepared> prepared(items.size());
            std::atomic<std::size_t> ready{0};
            std::thread producer([&] {
                for (std::size_t k = 0; k < items.size(); ++k) {
                    prepared[k] = controller::PopIngest::prepare(items[k].playerId, items[k].body);
                    ready.store(k + 1, std::memory_order_release);
                }
            });
            for (std::size_t k = 0; k < items.size(); ++k) {
                while (ready.load(std::memory_order_acquire) <= k) std::this_thread::yield();
                checkOutcome(items[k], ingest.commit(std::move(prepared[k]), now));
            }
            producer.join();
        }
        for (auto k : resend) {
            auto again = ingest.ingestBatch(items[k].playerId, items[k].body, now);
            if (!again || again->stored != 0) return 1;
            ++resent;
        }
        ingestS += secondsSince(t0);

        // 3. The baseline, timed: it gets the already-parsed rows and their hashes for free.
        for (const auto& it : items) {
            std::vector<std::string> lines, hashes;
            for (const auto& rec : it.batch.records) {
                lines.push_back(pop::canonicalBytes(rec));
                hashes.push_back(crypto::sha256Hex(lines.back()));
            }
            if (pgPlain) {
                auto t1 = Clock::now();
                std::string data;
                for (std::size_t i = 0; i < it.batch.records.size(); ++i) {
                    const auto& rec = it.batch.records[i];
                    auto field = [&](std::string_view v, char end = '\t') {
                        bench::copyField(data, v);
                        data += end;
                    };
                    field(rec.playerId);
                    field(std::to_string(rec.seq));
                    field(hashes[i]);
                    field("play");
                    field(rec.mediaSha256);
                    field(rec.playlistId);
                    field(rec.scheduleId);
                    field(rec.campaignId);
                    field(std::to_string(rec.startUtcMs));
                    field(std::to_string(rec.endUtcMs));
                    field(std::to_string(rec.measuredMs));
                    field(pop::outcomeName(rec.outcome));
                    field(lines[i]);
                    field("0", '\n');
                }
                bench::pgExec(pgPlain, "BEGIN");
                bench::pgCopyIn(pgPlain, "COPY bench_plain_pop_records FROM STDIN");
                if (PQputCopyData(pgPlain, data.data(), static_cast<int>(data.size())) != 1 ||
                    PQputCopyEnd(pgPlain, nullptr) != 1) {
                    std::fprintf(stderr, "COPY: %s\n", PQerrorMessage(pgPlain));
                    return 1;
                }
                PGresult* r = PQgetResult(pgPlain);
                if (PQresultStatus(r) != PGRES_COMMAND_OK) {
                    std::fprintf(stderr, "COPY: %s\n", PQresultErrorMessage(r));
                    return 1;
                }
                PQclear(r);
                while ((r = PQgetResult(pgPlain))) PQclear(r);
                bench::pgExec(pgPlain, "COMMIT");
                plainS += secondsSince(t1);
                done += static_cast<std::int64_t>(it.batch.records.size());
                continue;
            }
            auto t1 = Clock::now();
            check(sqlite3_exec(plain, "BEGIN", nullptr, nullptr, nullptr), plain, "begin");
            for (std::size_t i = 0; i < it.batch.records.size(); ++i) {
                const auto& rec = it.batch.records[i];
                auto text = [&](int col, const std::string& v) {
                    sqlite3_bind_text(ins, col, v.data(), static_cast<int>(v.size()), SQLITE_STATIC);
                };
                text(1, rec.playerId);
                sqlite3_bind_int64(ins, 2, rec.seq);
                text(3, hashes[i]);
                sqlite3_bind_text(ins, 4, "play", 4, SQLITE_STATIC);
                text(5, rec.mediaSha256);
                text(6, rec.playlistId);
                text(7, rec.scheduleId);
                text(8, rec.campaignId);
                sqlite3_bind_int64(ins, 9, rec.startUtcMs);
                sqlite3_bind_int64(ins, 10, rec.endUtcMs);
                sqlite3_bind_int64(ins, 11, rec.measuredMs);
                auto oc = pop::outcomeName(rec.outcome);
                sqlite3_bind_text(ins, 12, oc.data(), static_cast<int>(oc.size()), SQLITE_STATIC);
                text(13, lines[i]);
                sqlite3_bind_int64(ins, 14, 0);
                check(sqlite3_step(ins), plain, "insert");
                sqlite3_reset(ins);
            }
            check(sqlite3_exec(plain, "COMMIT", nullptr, nullptr, nullptr), plain, "commit");
            plainS += secondsSince(t1);
            done += static_cast<std::int64_t>(it.batch.records.size());
        }
    }
    sqlite3_finalize(ins);
    sqlite3_close(plain);
    if (pgPlain) {
        bench::pgExec(pgPlain, "DROP TABLE bench_plain_pop_records");
        PQfinish(pgPlain);
    }

    const double ingestRate = static_cast<double>(done) / ingestS, plainRate = static_cast<double>(done) / plainS;
    std::printf(
        "records %lld from %d players, batches of %d (%.1f MB of batch bytes), %lld re-sent "
        "batches\n",
        static_cast<long long>(done), nPlayers, batchSize, static_cast<double>(bytes) / 1e6,
        static_cast<long long>(resent));
    std::printf("store: %s (%s)\n", store->name().c_str(), store->url().display.c_str());
    std::printf("ingest, %s (verify + store + rollups): %8.2f s  %9.0f records/s\n", mode.c_str(), ingestS, ingestRate);
    std::printf("%s %8.2f s  %9.0f records/s\n",
                store->postgres() ? "plain COPY per batch (PostgreSQL):" : "plain batched SQLite insert:      ", plainS,
                plainRate);
    std::printf("ratio ingest / plain: %.2f (goal >= 0.5); ingest rate goal >= 100000/s: %s\n", ingestRate / plainRate,
                ingestRate >= 100000 ? "met" : "NOT met");
    std::error_code ec;
    fs::remove_all(dir, ec);
    return 0;
}
