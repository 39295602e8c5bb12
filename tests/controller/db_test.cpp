
#include <catch2/catch.hpp>

#include <map>

#include "microscape/controller/db.hpp"
#include "microscape/controller/repo.hpp"
#include "store/migrations.hpp"
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

TEST_CASE("database: the migration that adds the alert_feed role keeps accounts, sessions and tokens",
          "[controller][db][alerts]") {
    microscape::testing::TempDir dir;
    const auto file = dir.path / "c.db";
    // A database as it stood before that migration (found by what it creates, not
    // by its number, which may change when branches merge), with an account in use.
    const auto& all = schemaMigrations();
    std::size_t alerts = all.size();
    for (std::size_t v = 0; v < all.size(); ++v)
        for (const auto& sql : all[v])
            if (sql.find("CREATE TABLE alerts") != std::string::npos) alerts = v;
    REQUIRE(alerts < all.size());
    {
        auto url = sql::parseStoreUrl("sqlite:" + file.string(), dir.path);
        REQUIRE(url.ok());
        auto raw = sql::Database::open(*url);
        raw->read([&](sql::Conn& conn) {
            DbConn c(conn);
            c.exec("PRAGMA foreign_keys=ON");
            c.exec("CREATE TABLE schema_version (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)");
            for (std::size_t v = 0; v < alerts; ++v) {
                for (const auto& sql : all[v]) c.exec(sql);
                c.exec("INSERT INTO schema_version(version, applied_at) VALUES (?, 0)", {std::int64_t(v + 1)});
            }
            c.exec(
                "INSERT INTO users(id, username, display_name, role, department, password_hash, created_at, "
                "updated_at) "
                "VALUES (7, 'ed', 'Ed', 'editor', '交警', 'x', 0, 0)");
            c.exec(
                "INSERT INTO sessions(token_hash, user_id, csrf_token, created_at, expires_at) VALUES ('s', 7, 'c', 0, "
                "9)");
            c.exec("INSERT INTO api_tokens(user_id, name, token_hash, created_at) VALUES (7, 't', 'h', 0)");
            c.exec("INSERT INTO playlists(name, created_by, created_at, updated_at) VALUES ('p', 7, 0, 0)");
        });
    }
    Db db(file);
    CHECK(db.schemaVersion() == static_cast<int>(all.size()));
    db.read([](DbConn& c) {
        CHECK(c.one("SELECT COUNT(*) FROM sessions WHERE user_id = 7")->i64(0) == 1);
        CHECK(c.one("SELECT COUNT(*) FROM api_tokens WHERE user_id = 7")->i64(0) == 1);
        CHECK(c.one("SELECT role FROM users WHERE id = 7")->str(0) == "editor");
        CHECK(c.one("PRAGMA foreign_keys")->i64(0) == 1);
        CHECK(c.query("PRAGMA foreign_key_check").empty());
    });
    // The new role is allowed; references to users still hold and still cascade.
    db.write([](DbConn& c) {
        c.exec(
            "INSERT INTO users(username, display_name, role, password_hash, created_at, updated_at) "
            "VALUES ('feed', 'Feed', 'alert_feed', 'x', 0, 0)");
    });
    CHECK_THROWS_AS(db.write([](DbConn& c) { c.exec("UPDATE users SET role = 'root' WHERE id = 7"); }),
                    ConstraintError);
    CHECK_THROWS_AS(db.write([](DbConn& c) { c.exec("DELETE FROM users WHERE id = 7"); }),
                    ConstraintError);  // the playlist it created
    db.write([](DbConn& c) {
        c.exec("DELETE FROM playlists");
        c.exec("DELETE FROM users WHERE id = 7");
    });
    db.read([](DbConn& c) { CHECK(c.one("SELECT COUNT(*) FROM sessions")->i64(0) == 0); });
}

TEST_CASE("database: many screens' manifests at given versions, read together", "[controller][db]") {
    microscape::testing::TestServer srv;  // SQLite, or PostgreSQL with MICROSCAPE_TEST_STORE=postgresql
    Db db(srv.storeUrl());
    constexpr int kScreens = 1300;  // more than one statement's worth on both backends
    auto idOf = [](int i) { return i % 100 == 7 ? "scr \"q\\" + std::to_string(i) : "scr-" + std::to_string(i); };
    db.write([&](DbConn& c) {
        for (int i = 0; i < kScreens; ++i) {
            c.exec(
                "INSERT INTO players(id, name, state, identity_key, curve_key, enrolled_at, updated_at) "
                "VALUES (?, ?, 'enrolled', 'k', ?, 0, 0)",
                {idOf(i), idOf(i), "curve-" + std::to_string(i)});
            for (std::int64_t v = 1; v <= 2; ++v)
                c.exec(
                    "INSERT INTO compiled_manifests(player_id, version, content_hash, manifest, signature, "
                    "created_at, sha256) VALUES (?, ?, ?, ?, 'c2ln', 0, 'h')",
                    {idOf(i), v, "hash" + std::to_string(v), idOf(i) + " v" + std::to_string(v)});
        }
    });
    std::vector<std::pair<std::string, std::int64_t>> wanted;
    for (int i = 0; i < kScreens; ++i) wanted.emplace_back(idOf(i), 1 + i % 2);
    wanted.emplace_back(idOf(3), 2);     // asked twice: answered once
    wanted.emplace_back(idOf(5), 9);     // no such version
    wanted.emplace_back("scr-none", 1);  // no such screen
    auto got = db.read([&](DbConn& c) { return repo::manifestsAt(c, wanted); });
    REQUIRE(got.size() == kScreens);
    std::map<std::string, repo::StoredManifest> byScreen(got.begin(), got.end());
    REQUIRE(byScreen.size() == kScreens);
    for (int i = 0; i < kScreens; ++i) {
        const auto& m = byScreen.at(idOf(i));
        CHECK(m.version == 1 + i % 2);
        CHECK(m.manifest == idOf(i) + " v" + std::to_string(m.version));
        CHECK(m.contentHash == "hash" + std::to_string(m.version));
    }
    CHECK(db.read([](DbConn& c) { return repo::manifestsAt(c, {}); }).empty());
}
