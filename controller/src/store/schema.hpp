// The schema's history for each backend and the runner that applies it.
// SQLite replays every version from 1 (controller/src/store/migrations.cpp holds
// them). PostgreSQL, added at version 12, starts from a baseline that creates
// version 12's schema in one step; every later version has a statement list
// for each backend. Two nodes starting at once do not both migrate: on
// PostgreSQL the runner holds an advisory lock for the whole transaction.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "store/database.hpp"

namespace microscape::controller::sql {

struct Migration {
    int version = 0;                      // the schema version after it
    std::vector<std::string> statements;  // run in order, in one transaction
};

// PostgreSQL's baseline: version 12 of the schema as one migration.
const Migration& postgresBaseline();

// Brings the database to the newest version in migrations (ascending
// versions; a version may skip ahead, as a baseline does). afterEach runs in
// the same transaction after each migration (SQLite: the foreign key check).
// Returns the version the database had before. Throws Error when the database
// is newer than the list, or a migration fails (that migration leaves nothing).
int migrate(Database& db, const std::vector<Migration>& migrations,
            const std::function<void(Conn&, const Migration&)>& afterEach = {});

// The version recorded in schema_version (0 for an empty database).
int schemaVersion(Database& db);

}  // namespace microscape::controller::sql

namespace microscape::controller::sql {

// Every PostgreSQL migration: the baseline, then each version after 12.
const std::vector<Migration>& postgresMigrations();

}  // namespace microscape::controller::sql
