#include "microscape/controller/db.hpp"

#include <Poco/Logger.h>

#include "microscape/controller/repo.hpp"
#include "store/migrations.hpp"
#include "store/schema.hpp"

namespace microscape::controller {

std::int64_t DbConn::lastInsertId() {
    return one(backend() == sql::Backend::Sqlite ? "SELECT last_insert_rowid()" : "SELECT lastval()")->i64(0);
}

namespace {

sql::StoreUrl sqliteUrl(const std::filesystem::path& file) {
    sql::StoreUrl u;
    u.backend = sql::Backend::Sqlite;
    u.sqliteFile = file;
    u.display = "sqlite:" + file.string();
    return u;
}

}  // namespace

Db::Db(const std::filesystem::path& file) : Db(sqliteUrl(file)) {}

Db::Db(const sql::StoreUrl& url, const sql::DatabaseOptions& options)
    : url_(url), database_(sql::Database::open(url, options)) {
    migrate();
}

Db::~Db() = default;

int Db::schemaVersion() {
    return sql::schemaVersion(*database_);
}

void Db::migrate() {
    if (backend() == sql::Backend::Postgres) {
        sql::migrate(*database_, sql::postgresMigrations());
    } else {
        std::vector<sql::Migration> list;
        int v = 0;
        for (const auto& statements : schemaMigrations()) list.push_back(sql::Migration{++v, statements});
        // Migrations run with foreign keys off (SQLite's procedure for rebuilding a
        // table: with them on, DROP TABLE would cascade into the rows that refer to
        // it, and the pragma cannot change inside a transaction); each one's
        // references are checked before it commits.
        database_->read([](sql::Conn& c) { c.execScript("PRAGMA foreign_keys=OFF"); });
        try {
            sql::migrate(*database_, list, [](sql::Conn& c, const sql::Migration& m) {
                if (!c.query("PRAGMA foreign_key_check").empty())
                    throw sql::Error("schema migration " + std::to_string(m.version) + " broke a foreign key");
            });
        } catch (...) {
            database_->read([](sql::Conn& c) { c.execScript("PRAGMA foreign_keys=ON"); });
            throw;
        }
        database_->read([](sql::Conn& c) { c.execScript("PRAGMA foreign_keys=ON"); });
    }
    // Rows of the audit log from before it was hash-chained (migration 7).
    const auto n = write([](DbConn& c) { return repo::chainAuditLog(c); });
    if (n > 0) Poco::Logger::get("controller.db").information("audit log: %Ld earlier rows hash-chained", n);
}

}  // namespace microscape::controller
