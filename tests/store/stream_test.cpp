// Rows stream from the database: a result of a million rows is read one row
// at a time (PostgreSQL's single-row mode; SQLite steps natively), a statement
// left before its last row leaves the connection ready for the next, and a
// caller that runs a second statement between the rows of a first gets both
// answers whole. Against a real PostgreSQL 15 cluster and a real SQLite file.
#include <catch2/catch.hpp>

#include <fstream>
#include <memory>
#include <string>

#include "../support/temp_dir.hpp"
#include "pg_cluster.hpp"
#include "store/database.hpp"

using namespace microscape;
using namespace microscape::controller::sql;

namespace {

testing::PgCluster& cluster() {
    static std::unique_ptr<testing::PgCluster> c = std::make_unique<testing::PgCluster>();
    return *c;
}

struct Fresh {
    testing::TempDir tmp;
    std::unique_ptr<Database> db;
    explicit Fresh(Backend b) {
        auto url = parseStoreUrl(b == Backend::Sqlite ? "sqlite:" : cluster().createDatabase(), tmp.path);
        REQUIRE(url.ok());
        db = Database::open(*url);
        db->write([](Conn& c) { c.execScript("CREATE TABLE t (k BIGINT PRIMARY KEY, v TEXT NOT NULL)"); });
    }
};

// This process's resident memory now, in bytes (Linux).
std::int64_t residentBytes() {
    std::ifstream in("/proc/self/statm");
    std::int64_t size = 0, resident = 0;
    in >> size >> resident;
    return resident * 4096;
}

// A series of n rows (k, a 200-byte text) on either engine.
std::string series(Backend b) {
    if (b == Backend::Postgres) return "SELECT g, repeat('x', 200) FROM generate_series(1, ?) AS g";
    return "WITH RECURSIVE s(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM s WHERE g < ?) "
           "SELECT g, substr(hex(zeroblob(100)), 1, 200) FROM s";
}

}  // namespace

TEST_CASE("store stream: a million PostgreSQL rows read in bounded memory", "[store]") {
    Fresh f(Backend::Postgres);
    constexpr std::int64_t kRows = 1'000'000;  // ~200 MB of text if held at once
    const std::int64_t before = residentBytes();
    std::int64_t peak = before, count = 0, sum = 0;
    f.db->read([&](Conn& c) {
        auto st = c.prepare(series(Backend::Postgres));
        st->bind(0, kRows);
        while (st->step()) {
            ++count;
            sum += st->i64(0);
            if (st->str(1).size() != 200) FAIL("row " << count << " has the wrong text");
            if (count % 50'000 == 0) peak = std::max(peak, residentBytes());
        }
    });
    CHECK(count == kRows);
    CHECK(sum == kRows * (kRows + 1) / 2);
    const std::int64_t growthMb = (peak - before) / (1024 * 1024);
    WARN("resident memory grew by " << growthMb << " MB while reading " << kRows << " rows");
    CHECK(growthMb < 64);
}

TEST_CASE("store stream: a statement left mid-way leaves the connection usable", "[store]") {
    const Backend backend = GENERATE(Backend::Sqlite, Backend::Postgres);
    INFO(std::string(backendName(backend)));
    Fresh f(backend);
    SECTION("outside a transaction, many rows left") {
        f.db->read([&](Conn& c) {
            {
                auto st = c.prepare(series(backend));
                st->bind(0, std::int64_t{500'000});
                for (int i = 1; i <= 10; ++i) {
                    REQUIRE(st->step());
                    CHECK(st->i64(0) == i);
                }
            }  // abandoned after 10 rows
            CHECK(c.one("SELECT 2")->i64(0) == 2);
            CHECK(c.query(series(backend), {std::int64_t{3}}).size() == 3);
        });
        // the pool's connection serves the next borrower too
        CHECK(f.db->read([](Conn& c) { return c.one("SELECT 3")->i64(0); }) == 3);
    }
    SECTION("inside a transaction, then a write in it commits") {
        f.db->write([&](Conn& c) {
            auto st = c.prepare(series(backend));
            st->bind(0, std::int64_t{20'000});
            REQUIRE(st->step());
            REQUIRE(st->step());
            st->reset();  // mid-way
            c.exec("INSERT INTO t(k, v) VALUES (?, ?)", {std::int64_t{1}, std::string("after")});
            // the same statement again, from the start
            st->bind(0, std::int64_t{4});
            std::int64_t n = 0;
            while (st->step()) n += st->i64(0);
            CHECK(n == 10);
        });
        CHECK(f.db->read([](Conn& c) { return c.one("SELECT v FROM t WHERE k = 1")->str(0); }) == "after");
    }
    SECTION("a failure after some rows is typed, and the connection serves the next") {
        f.db->read([&](Conn& c) {
            if (backend == Backend::Postgres) {
                auto st = c.prepare("SELECT 10 / (g - 5000) FROM generate_series(1, 10000) AS g");
                std::int64_t rows = 0;
                try {
                    while (st->step()) ++rows;
                    FAIL("no error");
                } catch (const controller::sql::ConstraintError&) {
                    FAIL("a division by zero is no constraint");
                } catch (const controller::sql::Error& e) {
                    CHECK(e.sqlState == "22012");
                }
                CHECK(rows < 5000);
            }
            CHECK(c.one("SELECT 4")->i64(0) == 4);
        });
        f.db->write([](Conn& c) { c.exec("INSERT INTO t(k, v) VALUES (7, 'a')"); });
        CHECK_THROWS_AS(f.db->write([](Conn& c) { c.exec("INSERT INTO t(k, v) VALUES (7, 'b')"); }),
                        controller::sql::ConstraintError);
        CHECK(f.db->write([](Conn& c) {
            c.exec("INSERT INTO t(k, v) VALUES (8, 'c')");
            return c.changes();
        }) == 1);
    }
}

TEST_CASE("store stream: statements run between the rows of another get every answer", "[store]") {
    const Backend backend = GENERATE(Backend::Sqlite, Backend::Postgres);
    INFO(std::string(backendName(backend)));
    Fresh f(backend);
    constexpr std::int64_t kRows = 3000;
    f.db->write([&](Conn& c) {
        auto outer = c.prepare(series(backend));
        outer->bind(0, kRows);
        std::int64_t seen = 0, expect = 1;
        while (outer->step()) {
            CHECK(outer->i64(0) == expect);
            ++expect;
            ++seen;
            // a write and a read on the same connection between two rows
            c.exec("INSERT INTO t(k, v) VALUES (?, ?)", {outer->i64(0), outer->str(1)});
            if (seen % 500 == 0) CHECK(c.one("SELECT COUNT(*) FROM t")->i64(0) == seen);
        }
        CHECK(seen == kRows);
        // two statements stepped in turn
        auto a = c.prepare("SELECT k FROM t WHERE k <= 5 ORDER BY k");
        auto b = c.prepare("SELECT k FROM t WHERE k > ? ORDER BY k DESC");
        b->bind(0, kRows - 5);
        std::string order;
        for (int i = 0; i < 5; ++i) {
            REQUIRE(a->step());
            REQUIRE(b->step());
            order += std::to_string(a->i64(0)) + "/" + std::to_string(b->i64(0)) + " ";
        }
        CHECK_FALSE(a->step());
        CHECK_FALSE(b->step());
        CHECK(order == "1/3000 2/2999 3/2998 4/2997 5/2996 ");
    });
    CHECK(f.db->read([](Conn& c) { return c.one("SELECT COUNT(*) FROM t")->i64(0); }) == kRows);
}

TEST_CASE("store stream: the rows left when another statement runs are kept packed", "[store]") {
    Fresh f(Backend::Postgres);
    constexpr std::int64_t kRows = 300'000;  // ~60 MB of text
    const std::int64_t before = residentBytes();
    std::int64_t peak = before, count = 0, sum = 0;
    f.db->read([&](Conn& c) {
        auto st = c.prepare(series(Backend::Postgres));
        st->bind(0, kRows);
        REQUIRE(st->step());
        CHECK(c.one("SELECT 5")->i64(0) == 5);  // the rest is read into memory here
        peak = std::max(peak, residentBytes());
        do {
            ++count;
            sum += st->i64(0);
            if (st->str(1).size() != 200) FAIL("row " << count << " has the wrong text");
        } while (st->step());
    });
    CHECK(count == kRows);
    CHECK(sum == kRows * (kRows + 1) / 2);
    const std::int64_t growthMb = (peak - before) / (1024 * 1024);
    WARN("resident memory grew by " << growthMb << " MB holding " << kRows - 1 << " rows of 200 bytes");
    CHECK(growthMb < 150);  // packed: ~70 MB; a result per row would take several hundred
}
