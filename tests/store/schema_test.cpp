// The PostgreSQL schema is the SQLite schema: the same tables, columns,
// NOT NULL constraints and indexes after every migration of each backend,
// and the evidence tables refuse changes on both.
#include <catch2/catch.hpp>

#include <map>
#include <set>
#include <thread>

#include "../support/temp_dir.hpp"
#include "pg_cluster.hpp"
#include "store/migrations.hpp"
#include "store/schema.hpp"

using namespace microscape;
using namespace microscape::controller::sql;

namespace {

testing::PgCluster& cluster() {
    static std::unique_ptr<testing::PgCluster> c = std::make_unique<testing::PgCluster>();
    return *c;
}

std::vector<Migration> sqliteMigrations() {
    std::vector<Migration> out;
    int v = 0;
    for (const auto& statements : controller::schemaMigrations()) out.push_back(Migration{++v, statements});
    return out;
}

struct Shape {
    std::map<std::string, std::map<std::string, bool>> columns;  // table -> column -> NOT NULL
    std::set<std::string> indexes;
};

Shape sqliteShape(Database& db) {
    Shape s;
    db.read([&](Conn& c) {
        for (const auto& t : c.query("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE "
                                     "'sqlite_%' AND name <> 'schema_version'")) {
            for (const auto& col : c.query("SELECT name, \"notnull\", pk FROM pragma_table_info(?)", {t.str(0)}))
                // a primary key column is NOT NULL in PostgreSQL whatever it says
                s.columns[t.str(0)][col.str(0)] = col.i64(1) != 0 || col.i64(2) != 0;
        }
        for (const auto& i : c.query("SELECT name FROM sqlite_master WHERE type = 'index' AND name NOT LIKE "
                                     "'sqlite_autoindex%'"))
            s.indexes.insert(i.str(0));
    });
    return s;
}

Shape postgresShape(Database& db) {
    Shape s;
    db.read([&](Conn& c) {
        for (const auto& col : c.query("SELECT table_name, column_name, is_nullable FROM information_schema.columns "
                                       "WHERE table_schema = 'public' AND table_name <> 'schema_version'"))
            s.columns[col.str(0)][col.str(1)] = col.str(2) == "NO";
        for (const auto& i : c.query("SELECT indexname FROM pg_indexes WHERE schemaname = 'public' AND indexname NOT "
                                     "LIKE '%_pkey' AND indexname NOT LIKE '%_key'"))
            s.indexes.insert(i.str(0));
    });
    return s;
}

}  // namespace

TEST_CASE("store schema: PostgreSQL's equals SQLite's after every migration", "[store]") {
    testing::TempDir tmp;
    auto lite = Database::open(*parseStoreUrl("sqlite:", tmp.path));
    auto pg = Database::open(*parseStoreUrl(cluster().createDatabase(), tmp.path));
    const auto liteList = sqliteMigrations();
    CHECK(migrate(*lite, liteList) == 0);
    CHECK(migrate(*pg, postgresMigrations()) == 0);
    REQUIRE(schemaVersion(*lite) == static_cast<int>(liteList.size()));
    // every SQLite version has its PostgreSQL form
    REQUIRE(schemaVersion(*pg) == schemaVersion(*lite));

    const Shape a = sqliteShape(*lite), b = postgresShape(*pg);
    CHECK(a.indexes == b.indexes);
    for (const auto& [table, cols] : a.columns) {
        CAPTURE(table);
        REQUIRE(b.columns.count(table) == 1);
        CHECK(b.columns.at(table) == cols);
    }
    CHECK(a.columns.size() == b.columns.size());
    CHECK(a.columns.size() >= 30);  // (the comparison saw the whole schema)
    CHECK(a.indexes.size() >= 10);

    SECTION("running the migrations again changes nothing") {
        CHECK(migrate(*pg, postgresMigrations()) == schemaVersion(*lite));
        CHECK(migrate(*lite, liteList) == schemaVersion(*lite));
    }
    SECTION("the evidence refuses UPDATE and DELETE on both") {
        for (Database* db : {lite.get(), pg.get()}) {
            CAPTURE(backendName(db->backend()));
            db->write([](Conn& c) {
                c.exec(
                    "INSERT INTO pop_records(player_id, seq, hash, kind, media, playlist, schedule, campaign, "
                    "start_utc_ms, end_utc_ms, measured_ms, outcome, record, received_at) VALUES ('p', 1, 'h', "
                    "'play', 'm', '', '', '', 0, 1, 1, 'completed', '{}', 0)");
            });
            CHECK_THROWS_AS(db->write([](Conn& c) { c.exec("UPDATE pop_records SET outcome = 'failed'"); }),
                            controller::sql::Error);
            CHECK_THROWS_AS(db->write([](Conn& c) { c.exec("DELETE FROM pop_records"); }), controller::sql::Error);
            CHECK(db->read([](Conn& c) { return c.one("SELECT outcome FROM pop_records")->str(0); }) == "completed");
        }
    }
    SECTION("a database newer than the program is refused") {
        pg->write([](Conn& c) { c.exec("INSERT INTO schema_version(version, applied_at) VALUES (999, 0)"); });
        CHECK_THROWS_WITH(migrate(*pg, postgresMigrations()), Catch::Matchers::Contains("newer"));
    }
}

TEST_CASE("store schema: two nodes starting at once migrate once", "[store]") {
    testing::TempDir tmp;
    const std::string url = cluster().createDatabase();
    auto a = Database::open(*parseStoreUrl(url, tmp.path));
    auto b = Database::open(*parseStoreUrl(url, tmp.path));
    std::thread t([&] { migrate(*a, postgresMigrations()); });
    migrate(*b, postgresMigrations());
    t.join();
    CHECK(a->read([](Conn& c) { return c.one("SELECT COUNT(*) FROM schema_version")->i64(0); }) ==
          static_cast<std::int64_t>(postgresMigrations().size()));
    CHECK(a->read([](Conn& c) { return c.one("SELECT COUNT(*) FROM tags")->i64(0); }) == 7);
}
