// The store a bench runs against, from its --store option:
//   sqlite:                a fresh SQLite file in the bench's temporary directory (the default);
//   postgresql:temp        a throwaway PostgreSQL 15 cluster (initdb + pg_ctl in a temporary
//                          directory, a Unix socket only; as root its programs run as nobody),
//                          stopped and removed at the end;
//   postgresql://...       an existing, empty database (libpq's URI; the password from
//                          MICROSCAPE_STORE_PASSWORD, never the command line). The bench
//                          fills it and leaves its rows there.
// Also a bare libpq connection to the same database, for the baselines (COPY,
// raw GROUP BY) that must not go through the controller's code. Single-threaded
// use in main().
#pragma once

#include <libpq-fe.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>

#include "microscape/controller/db.hpp"
#include "microscape/core/exit_codes.hpp"
#include "store/database.hpp"
#ifdef MICROSCAPE_BENCH_PG_TEMP
#include "pg_cluster.hpp"
#endif

namespace microscape::bench {

constexpr const char* kStoreHelp =
    "sqlite: (a temporary file), postgresql:temp (a throwaway\n"
    "                        cluster) or postgresql://... (an empty database; the\n"
    "                        password from MICROSCAPE_STORE_PASSWORD)";

class BenchStore {
  public:
    BenchStore(const std::string& arg, const std::filesystem::path& dir) {
        std::string url = arg;
        if (arg == "postgresql:temp") {
#ifdef MICROSCAPE_BENCH_PG_TEMP
            tempCluster() = std::make_unique<microscape::testing::PgCluster>();
            url = tempCluster()->createDatabase();
#else
            throw std::runtime_error(
                "postgresql:temp needs the tests' PostgreSQL helper (build with MICROSCAPE_TESTS)");
#endif
        }
        auto parsed = controller::sql::parseStoreUrl(url, dir);
        if (!parsed)
            throw std::invalid_argument("--store takes sqlite:, postgresql:temp or postgresql://...: " +
                                        parsed.error().message);
        url_ = *parsed;
        if (url_.backend == controller::sql::Backend::Postgres)
            if (const char* pw = std::getenv("MICROSCAPE_STORE_PASSWORD")) url_.password = pw;
    }
    ~BenchStore() {
#ifdef MICROSCAPE_BENCH_PG_TEMP
        tempCluster().reset();
#endif
    }
    BenchStore(const BenchStore&) = delete;
    BenchStore& operator=(const BenchStore&) = delete;

    bool postgres() const {
        return url_.backend == controller::sql::Backend::Postgres;
    }
    const controller::sql::StoreUrl& url() const {
        return url_;
    }
    std::string name() const {
        return postgres() ? "PostgreSQL" : "SQLite";
    }

    // A bare libpq connection (PostgreSQL only); the caller PQfinish()es it.
    PGconn* connect() const {
        const char* keys[] = {"dbname", url_.password.empty() ? nullptr : "password", nullptr};
        const char* values[] = {url_.conninfo.c_str(), url_.password.c_str(), nullptr};
        PGconn* c = PQconnectdbParams(keys, values, 1);
        if (PQstatus(c) != CONNECTION_OK) {
            std::string msg = PQerrorMessage(c);
            PQfinish(c);
            throw std::runtime_error("connecting to " + url_.display + ": " + msg);
        }
        return c;
    }

  private:
#ifdef MICROSCAPE_BENCH_PG_TEMP
    // Static storage: std::exit() on a failed step (pgExec, the benches' checks)
    // still stops the throwaway cluster and removes its directory.
    static std::unique_ptr<microscape::testing::PgCluster>& tempCluster() {
        static std::unique_ptr<microscape::testing::PgCluster> cluster;
        return cluster;
    }
#endif
    controller::sql::StoreUrl url_;
};

// Opens the store of --store; a bad URL is a usage error (exit 64), a store
// that cannot be reached or started a failure (exit 1): null then.
inline std::unique_ptr<BenchStore> openBenchStore(const char* program, const std::string& arg,
                                                  const std::filesystem::path& dir, int& exitStatus) {
    try {
        return std::make_unique<BenchStore>(arg, dir);
    } catch (const std::invalid_argument& e) {
        std::fprintf(stderr, "%s: %s (see %s --help)\n", program, e.what(), program);
        exitStatus = exitcode::kUsage;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "%s: %s\n", program, e.what());
        exitStatus = exitcode::kFailure;
    }
    return nullptr;
}

// Runs sql on a bare connection; exits with the server's message on failure.
inline void pgExec(PGconn* c, const std::string& sql) {
    PGresult* r = PQexec(c, sql.c_str());
    const auto st = PQresultStatus(r);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        std::fprintf(stderr, "%s: %s\n", sql.substr(0, 60).c_str(), PQresultErrorMessage(r));
        std::exit(1);
    }
    PQclear(r);
}

// Starts COPY ... FROM STDIN on a bare connection; exits on failure.
inline void pgCopyIn(PGconn* c, const std::string& sql) {
    PGresult* r = PQexec(c, sql.c_str());
    if (PQresultStatus(r) != PGRES_COPY_IN) {
        std::fprintf(stderr, "%s: %s\n", sql.substr(0, 60).c_str(), PQresultErrorMessage(r));
        std::exit(1);
    }
    PQclear(r);
}

// Text-format COPY escaping of one field.
inline void copyField(std::string& out, std::string_view v) {
    for (char ch : v) {
        switch (ch) {
            case '\\':
                out += "\\\\";
                break;
            case '\t':
                out += "\\t";
                break;
            case '\n':
                out += "\\n";
                break;
            case '\r':
                out += "\\r";
                break;
            default:
                out += ch;
        }
    }
}

}  // namespace microscape::bench
