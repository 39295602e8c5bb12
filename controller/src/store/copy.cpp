#include "store/copy.hpp"

#include "store/rollups.hpp"

#include <algorithm>
#include <limits>
#include <set>
#include <vector>

namespace microscape::controller {
namespace {

struct Table {
    std::string name;
    std::vector<std::string> columns;
    std::set<std::string> parents;  // tables its foreign keys name
};

// The tables of the SQLite store with their columns and references.
std::vector<Table> sqliteTables(Db& from) {
    std::vector<Table> tables;
    from.read([&](DbConn& c) {
        for (const auto& t : c.query("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE "
                                     "'sqlite_%' AND name <> 'schema_version' ORDER BY name")) {
            Table table{t.str(0), {}, {}};
            for (const auto& col : c.query("SELECT name FROM pragma_table_info(?) ORDER BY cid", {table.name}))
                table.columns.push_back(col.str(0));
            for (const auto& fk : c.query("SELECT \"table\" FROM pragma_foreign_key_list(?)", {table.name}))
                if (fk.str(0) != table.name) table.parents.insert(fk.str(0));
            tables.push_back(std::move(table));
        }
    });
    return tables;
}

// Parents before children (the schema has no cycles; a cycle would be a bug).
std::vector<Table> inForeignKeyOrder(std::vector<Table> tables) {
    std::vector<Table> out;
    std::set<std::string> done;
    while (!tables.empty()) {
        bool moved = false;
        for (auto it = tables.begin(); it != tables.end();) {
            bool ready = true;
            for (const auto& p : it->parents)
                if (!done.count(p)) ready = false;
            if (ready) {
                done.insert(it->name);
                out.push_back(std::move(*it));
                it = tables.erase(it);
                moved = true;
            } else {
                ++it;
            }
        }
        if (!moved) throw std::logic_error("foreign keys form a cycle at table " + tables.front().name);
    }
    return out;
}

std::string joined(const std::vector<std::string>& cols, const std::string& each) {
    std::string s;
    for (std::size_t i = 0; i < cols.size(); ++i) s += (i ? ", " : "") + (each.empty() ? cols[i] : each);
    return s;
}

}  // namespace

Result<CopyReport> copyStore(Db& from, Db& to, int batchRows,
                             const std::function<void(const std::string&, std::int64_t)>& progress) {
    if (from.backend() != sql::Backend::Sqlite) return makeError(Errc::Usage, "the source must be an SQLite store");
    if (to.backend() != sql::Backend::Postgres) return makeError(Errc::Usage, "the target must be PostgreSQL");
    if (from.schemaVersion() != to.schemaVersion())
        return makeError(Errc::Usage, "schema versions differ (" + std::to_string(from.schemaVersion()) + " and " +
                                          std::to_string(to.schemaVersion()) + ")");
    CopyReport report;
    try {
        const auto tables = inForeignKeyOrder(sqliteTables(from));
        // Empty but for the seeds the schema brings (tags, observances), which
        // the source has too, perhaps edited: they are replaced by the source's.
        for (const auto& t : tables) {
            const bool seeded = t.name == "tags" || t.name == "observances";
            const auto n = to.read([&](DbConn& c) { return c.one("SELECT COUNT(*) FROM " + t.name)->i64(0); });
            if (n > 0 && !seeded)
                return makeError(Errc::Usage, "the target database is not empty (table " + t.name + " has " +
                                                  std::to_string(n) + " rows)");
        }
        to.write([&](DbConn& c) {
            c.exec("DELETE FROM tags");
            c.exec("DELETE FROM observances");
        });
        // Which target columns hold bytes (bound as bytea, not text), and which
        // tables number their rows with an identity column "id".
        std::set<std::pair<std::string, std::string>> bytea;
        std::set<std::string> identity;
        to.read([&](DbConn& c) {
            for (const auto& r : c.query("SELECT table_name FROM information_schema.columns WHERE "
                                         "table_schema = current_schema() AND column_name = 'id' AND "
                                         "is_identity = 'YES'"))
                identity.insert(r.str(0));
            for (const auto& r : c.query("SELECT table_name, column_name FROM information_schema.columns WHERE "
                                         "table_schema = current_schema() AND data_type = 'bytea'"))
                bytea.insert({r.str(0), r.str(1)});
        });
        for (const auto& t : tables) {
            const std::string insert =
                "INSERT INTO " + t.name + "(" + joined(t.columns, "") + ") VALUES (" + joined(t.columns, "?") + ")";
            std::vector<bool> isBytes;
            for (const auto& col : t.columns) isBytes.push_back(bytea.count({t.name, col}) > 0);
            std::int64_t copied = 0;
            // Read in pages by SQLite's rowid (every table here has one), write
            // each page in one transaction of the target.
            const std::string pageSql = "SELECT " + joined(t.columns, "") + ", rowid FROM " + t.name +
                                        " WHERE rowid > ? ORDER BY rowid LIMIT ?";
            std::int64_t after = std::numeric_limits<std::int64_t>::min();
            for (;;) {
                std::vector<std::vector<DbValue>> rows;
                from.read([&](DbConn& c) {
                    SqlStmt st(c, pageSql);
                    st.bind(1, after).bind(2, std::int64_t(batchRows));
                    const int n = static_cast<int>(t.columns.size());
                    while (st.step()) {
                        std::vector<DbValue> row;
                        row.reserve(t.columns.size());
                        for (int i = 0; i < n; ++i) {
                            if (st.isNull(i))
                                row.emplace_back(nullptr);
                            else if (isBytes[static_cast<std::size_t>(i)])
                                row.emplace_back(sql::Blob{st.str(i)});
                            else if (st.isText(i))
                                row.emplace_back(st.str(i));
                            else
                                row.emplace_back(st.i64(i));
                        }
                        after = st.i64(n);
                        rows.push_back(std::move(row));
                    }
                });
                if (rows.empty()) break;
                to.write([&](DbConn& c) {
                    auto st = c.raw().prepare(insert);
                    for (const auto& row : rows) {
                        st->bindAll(row);
                        st->run();
                    }
                });
                copied += static_cast<std::int64_t>(rows.size());
                if (progress) progress(t.name, copied);
                if (rows.size() < static_cast<std::size_t>(batchRows)) break;
            }
            // New rows continue after the copied ids.
            if (identity.count(t.name))
                to.write([&](DbConn& c) {
                    c.exec(
                        "SELECT setval(pg_get_serial_sequence(?, 'id'), GREATEST(COALESCE(MAX(id), 0), 1), "
                        "MAX(id) IS NOT NULL) FROM " +
                            t.name,
                        {t.name});
                });
            report.totalRows += copied;
            report.rows[t.name] = copied;
        }
    } catch (const std::exception& e) {
        return makeError(Errc::Internal, std::string("copying the store failed: ") + e.what());
    }
    return report;
}

}  // namespace microscape::controller
