// Where the controller's state lives, chosen by store.url / --store: an
// embedded SQLite file (the default, one node) or a PostgreSQL database that
// several controller nodes share. A Database lends connections from a small
// pool to read() and write(); write() is one transaction, run again when it
// loses a race with another node (so a write function must touch nothing but
// the connection it is given). Thread-safe: shared by every thread of a node.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "microscape/core/result.hpp"
#include "store/sql.hpp"

namespace microscape::controller::sql {

struct StoreUrl {
    Backend backend = Backend::Sqlite;
    std::filesystem::path sqliteFile;  // Sqlite
    std::string conninfo;              // Postgres: the URL as libpq reads it (no password in it)
    std::string password;              // Postgres: from a file or the environment, never the URL
    std::string display;               // for logs and status: no password
};

// "sqlite:" (the file controller.db in dataDir), "sqlite:PATH" (relative to
// dataDir unless absolute), or "postgresql://[user@]host[:port]/db[?param=...]"
// (libpq's URI, e.g. sslmode=verify-full, host=/run/postgresql for a socket).
// A password inside the URL is refused: it would show in process listings and
// logs; it comes from passwordFile (first line) or MICROSCAPE_STORE_PASSWORD
// (the caller reads those and sets password). Errors: Usage, with the reason.
Result<StoreUrl> parseStoreUrl(std::string_view url, const std::filesystem::path& dataDir);

struct DatabaseOptions {
    int poolSize = 8;  // PostgreSQL connections per node (SQLite: always 1)
    int busyTimeoutMs = 5000;
    int writeAttempts = 5;  // a write that keeps losing races fails after this many
    bool syncFull = true;   // SQLite: a commit is on disk before it returns
};

class Database {
  public:
    // Opens the store (creating the SQLite file). Throws sql::Error when the
    // database cannot be reached or opened.
    static std::unique_ptr<Database> open(const StoreUrl& url, const DatabaseOptions& options = {});
    ~Database();
    Database(const Database&) = delete;
    Database& operator=(const Database&) = delete;

    Backend backend() const { return backend_; }
    const std::string& display() const { return display_; }

    // f(Conn&) outside a transaction (each statement sees committed data).
    template <class F>
    auto read(F&& f) {
        Lease l(*this);
        return f(*l.conn);
    }

    // f(Conn&) in one transaction: committed when f returns, rolled back when it
    // throws. Run again (up to writeAttempts times) on RetryableError.
    template <class F>
    auto write(F&& f) {
        for (int attempt = 1;; ++attempt) {
            Lease l(*this);
            l.conn->begin();
            try {
                if constexpr (std::is_void_v<decltype(f(*l.conn))>) {
                    f(*l.conn);
                    l.conn->commit();
                    return;
                } else {
                    auto r = f(*l.conn);
                    l.conn->commit();
                    return r;
                }
            } catch (const RetryableError&) {
                l.conn->rollback();
                if (attempt >= options_.writeAttempts) throw;
            } catch (...) {
                l.conn->rollback();
                throw;
            }
        }
    }

    // Connections opened so far (PostgreSQL: at most poolSize).
    std::size_t connectionsOpened() const;

  private:
    Database(Backend backend, StoreUrl url, DatabaseOptions options);

    struct Lease {
        explicit Lease(Database& d) : db(d), conn(d.acquire()) {}
        ~Lease() { db.release(conn); }
        Database& db;
        Conn* conn;
    };
    Conn* acquire();
    void release(Conn* c);
    std::unique_ptr<Conn> connect();

    Backend backend_;
    StoreUrl url_;
    DatabaseOptions options_;
    std::string display_;

    mutable std::mutex mutex_;  // guards all_, idle_
    std::condition_variable available_;
    std::vector<std::unique_ptr<Conn>> all_;
    std::vector<Conn*> idle_;
};

}  // namespace microscape::controller::sql
