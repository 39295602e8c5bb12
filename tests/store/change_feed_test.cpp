// Changes announced on one node reach every node's feed when the transaction
// commits, never when it rolls back, and a feed that lost its server says so
// when it is back (so its owner reads the state again).
#include <catch2/catch.hpp>

#include <mutex>

#include "../support/temp_dir.hpp"
#include "../support/wait_for.hpp"
#include "pg_cluster.hpp"
#include "store/change_feed.hpp"

using namespace microscape;
using namespace microscape::controller::sql;

namespace {

struct Collector {
    std::mutex mutex;
    std::vector<std::string> seen;
    int resyncs = 0;
    ChangeFeed::Callbacks callbacks() {
        return {[this](const std::string& p) {
                    std::lock_guard l(mutex);
                    seen.push_back(p);
                },
                [this] {
                    std::lock_guard l(mutex);
                    ++resyncs;
                }};
    }
    std::vector<std::string> get() {
        std::lock_guard l(mutex);
        return seen;
    }
};

}  // namespace

TEST_CASE("store change feed: commits reach every node, rollbacks none", "[store]") {
    testing::PgCluster pg;
    testing::TempDir tmp;
    const auto url = *parseStoreUrl(pg.createDatabase(), tmp.path);
    auto writer = Database::open(url);
    Collector a, b;
    ChangeFeed feedA(url, a.callbacks()), feedB(url, b.callbacks());

    writer->write([](Conn& c) { announce(c, "manifest player-1 7"); });
    CHECK_THROWS(writer->write([](Conn& c) {
        announce(c, "never");
        throw std::runtime_error("rolled back");
    }));
    writer->write([](Conn& c) {
        announce(c, "takeover 3 反诈");
        announce(c, "command player-2 restart");
    });
    REQUIRE(testing::waitFor([&] { return a.get().size() >= 3 && b.get().size() >= 3; }, 30000));
    const std::vector<std::string> want{"manifest player-1 7", "takeover 3 反诈", "command player-2 restart"};
    CHECK(a.get() == want);
    CHECK(b.get() == want);
    CHECK(feedA.delivered() == 3);

    SECTION("a lost server: the feed resyncs when it is back and then hears again") {
        pg.stop();
        pg.start();
        REQUIRE(testing::waitFor([&] { return feedA.reconnects() >= 1; }, 60000));
        CHECK(a.resyncs >= 1);
        auto again = Database::open(url);
        again->write([](Conn& c) { announce(c, "after"); });
        REQUIRE(testing::waitFor([&] { return a.get().size() >= 4; }, 30000));
        CHECK(a.get().back() == "after");
    }
}

TEST_CASE("store change feed: inert on SQLite", "[store]") {
    testing::TempDir tmp;
    const auto url = *parseStoreUrl("sqlite:", tmp.path);
    auto db = Database::open(url);
    Collector c;
    ChangeFeed feed(url, c.callbacks());
    db->write([](Conn& conn) { announce(conn, "x"); });
    CHECK(feed.delivered() == 0);
}
