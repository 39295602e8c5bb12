// Periodic jobs on several nodes: while one node runs a job, another node's
// round of the same job is skipped (not queued), other jobs still run, and a
// node that dies mid-job does not keep the job from the others. On SQLite a
// job always runs.
#include <catch2/catch.hpp>

#include "../support/temp_dir.hpp"
#include "../support/wait_for.hpp"
#include "pg_cluster.hpp"
#include "store/job_lock.hpp"

using namespace microscape;
using namespace microscape::controller::sql;

TEST_CASE("store job lock: one node at a time runs a job on PostgreSQL", "[store]") {
    testing::PgCluster pg;
    testing::TempDir tmp;
    const auto url = *parseStoreUrl(pg.createDatabase(), tmp.path);
    JobLock nodeA(url), nodeB(url);
    int ranA = 0, ranB = 0, ranOther = 0;
    const bool a = nodeA.runExclusive("recalls", [&] {
        ++ranA;
        // B's round of the same job, while A holds it: skipped.
        CHECK_FALSE(nodeB.runExclusive("recalls", [&] { ++ranB; }));
        // Another job is not held up.
        CHECK(nodeB.runExclusive("alert-feed", [&] { ++ranOther; }));
    });
    CHECK(a);
    CHECK(ranA == 1);
    CHECK(ranB == 0);
    CHECK(ranOther == 1);
    CHECK(nodeB.skipped() == 1);
    // A's round is over: B's next round runs.
    CHECK(nodeB.runExclusive("recalls", [&] { ++ranB; }));
    CHECK(ranB == 1);

    SECTION("a job that throws releases the lock") {
        CHECK_THROWS(nodeA.runExclusive("recalls", [] { throw std::runtime_error("failed round"); }));
        CHECK(nodeB.runExclusive("recalls", [&] { ++ranB; }));
        CHECK(ranB == 2);
    }
    SECTION("a node whose connection ends (killed mid-job) leaves the job to the others") {
        // The dying node holds the job's lock on its connection, as JobLock does.
        auto dying = Database::open(url, DatabaseOptions{.poolSize = 1});
        dying->read([](Conn& c) { c.exec("SELECT pg_advisory_lock(?)", {jobLockKey("recalls")}); });
        CHECK_FALSE(nodeB.runExclusive("recalls", [&] { ++ranB; }));
        dying.reset();  // its connection ends, and the lock with it
        CHECK(testing::waitFor([&] { return nodeB.runExclusive("recalls", [&] { ++ranB; }); }, 10000));
        CHECK(ranB == 2);
    }
}

TEST_CASE("store job lock: on SQLite every round runs", "[store]") {
    testing::TempDir tmp;
    const auto url = *parseStoreUrl("sqlite:", tmp.path);
    JobLock one(url), two(url);
    int ran = 0;
    CHECK(one.runExclusive("recalls", [&] { CHECK(two.runExclusive("recalls", [&] { ++ran; })); }));
    CHECK(ran == 1);
    CHECK(two.skipped() == 0);
}
