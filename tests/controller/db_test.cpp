#include <catch2/catch.hpp>

#include "microscape/controller/db.hpp"
#include "microscape/controller/repo.hpp"
#include "test_support.hpp"

using namespace microscape::controller;

TEST_CASE("database: migrations run once, forward only", "[controller][db]") {
    microscape::testing::TempDir dir;
    const auto file = dir.path / "c.db";
    int version = 0;
    {
        Db db(file);
        version = db.schemaVersion();
        CHECK(version >= 1);
        auto tags = db.read([](DbConn& c) { return repo::listTags(c); });
        CHECK(tags.size() == 7);  // the seeded themes
    }
    {
        Db again(file);  // reopening applies nothing twice
        CHECK(again.schemaVersion() == version);
        CHECK(again.read([](DbConn& c) { return repo::listTags(c); }).size() == 7);
        auto mode = again.read([](DbConn& c) { return c.one("PRAGMA journal_mode")->str(0); });
        CHECK(mode == "wal");
        // A database from a newer program is refused rather than misread.
        again.write([](DbConn& c) { c.exec("INSERT INTO schema_version(version, applied_at) VALUES (999, 0)"); });
    }
    CHECK_THROWS(Db(file));
}

TEST_CASE("database: a failed write leaves nothing behind", "[controller][db]") {
    microscape::testing::TempDir dir;
    Db db(dir.path / "c.db");
    User u;
    u.username = "a";
    u.displayName = "a";
    u.role = Role::Auditor;
    CHECK_THROWS(db.write([&](DbConn& c) {
        repo::insertUser(c, u, "hash", 1);
        throw std::runtime_error("later step failed");
    }));
    CHECK(db.read([](DbConn& c) { return repo::countUsers(c); }) == 0);
    db.write([&](DbConn& c) { repo::insertUser(c, u, "hash", 1); });
    CHECK_THROWS_AS(db.write([&](DbConn& c) { repo::insertUser(c, u, "hash", 2); }), ConstraintError);
    CHECK(db.read([](DbConn& c) { return repo::countUsers(c); }) == 1);
    // Foreign keys are enforced.
    CHECK_THROWS_AS(db.write([&](DbConn& c) { c.exec("INSERT INTO media_tags(media_id, tag) VALUES (12345, 'x')"); }),
                    ConstraintError);
}
