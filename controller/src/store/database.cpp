#include "store/database.hpp"

#include "store/backends.hpp"

namespace microscape::controller::sql {

Result<StoreUrl> parseStoreUrl(std::string_view url, const std::filesystem::path& dataDir) {
    StoreUrl out;
    if (url.empty() || url == "sqlite:" || url == "sqlite://") {
        out.backend = Backend::Sqlite;
        out.sqliteFile = dataDir / "controller.db";
    } else if (url.rfind("sqlite:", 0) == 0) {
        std::string_view rest = url.substr(7);
        if (rest.rfind("//", 0) == 0) rest.remove_prefix(2);
        if (rest.empty() || rest.find('\0') != std::string_view::npos)
            return makeError(Errc::Usage, "store URL: sqlite: needs a file name");
        std::filesystem::path p{std::string(rest)};
        out.backend = Backend::Sqlite;
        out.sqliteFile = p.is_absolute() ? p : dataDir / p;
    } else if (url.rfind("postgresql://", 0) == 0 || url.rfind("postgres://", 0) == 0) {
        const std::size_t start = url.find("://") + 3;
        const std::size_t end = url.find_first_of("/?", start);
        const std::string_view authority = url.substr(start, end == std::string_view::npos ? url.npos : end - start);
        if (const auto at = authority.rfind('@'); at != std::string_view::npos) {
            if (authority.substr(0, at).find(':') != std::string_view::npos)
                return makeError(Errc::Usage,
                                 "store URL: a password does not belong in the URL (it would show in process "
                                 "listings and logs); put it in store.passwordFile or MICROSCAPE_STORE_PASSWORD");
        }
        const std::string_view query = url.find('?') == std::string_view::npos ? "" : url.substr(url.find('?'));
        if (query.find("password=") != std::string_view::npos)
            return makeError(Errc::Usage,
                             "store URL: a password does not belong in the URL; put it in "
                             "store.passwordFile or MICROSCAPE_STORE_PASSWORD");
        for (char c : url)
            if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f)
                return makeError(Errc::Usage, "store URL: control characters");
        out.backend = Backend::Postgres;
        out.conninfo = std::string(url);
    } else {
        return makeError(Errc::Usage, "store URL: expected sqlite:[FILE] or postgresql://user@host:port/db, not \"" +
                                          std::string(url.substr(0, 64)) + "\"");
    }
    out.display = out.backend == Backend::Sqlite ? "sqlite:" + out.sqliteFile.string() : out.conninfo;
    return out;
}

std::unique_ptr<Database> Database::open(const StoreUrl& url, const DatabaseOptions& options) {
    std::unique_ptr<Database> db(new Database(url.backend, url, options));
    db->release(db->acquire());  // connect now: a wrong URL fails at start-up, not at the first request
    return db;
}

Database::Database(Backend backend, StoreUrl url, DatabaseOptions options)
    : backend_(backend), url_(std::move(url)), options_(options), display_(url_.display) {
    if (backend_ == Backend::Sqlite) options_.poolSize = 1;
    if (options_.poolSize < 1) options_.poolSize = 1;
    if (options_.writeAttempts < 1) options_.writeAttempts = 1;
}

Database::~Database() = default;

std::unique_ptr<Conn> Database::connect() {
    if (backend_ == Backend::Sqlite)
        return openSqlite(url_.sqliteFile, SqliteSettings{options_.busyTimeoutMs, options_.syncFull});
    return openPostgres(url_.conninfo, url_.password);
}

Conn* Database::acquire() {
    std::unique_lock lock(mutex_);
    for (;;) {
        if (!idle_.empty()) {
            Conn* c = idle_.back();
            idle_.pop_back();
            return c;
        }
        if (all_.size() < static_cast<std::size_t>(options_.poolSize)) {
            // Connect outside the lock would let two threads exceed the pool; a
            // new connection is rare (once per slot per process), so hold it.
            all_.push_back(connect());
            return all_.back().get();
        }
        available_.wait(lock);
    }
}

void Database::release(Conn* c) {
    {
        std::lock_guard lock(mutex_);
        if (c->healthy()) {
            idle_.push_back(c);
        } else {  // the server went away: the next borrower connects afresh
            std::erase_if(all_, [c](const std::unique_ptr<Conn>& p) { return p.get() == c; });
        }
    }
    available_.notify_one();
}

std::size_t Database::connectionsOpened() const {
    std::lock_guard lock(mutex_);
    return all_.size();
}

}  // namespace microscape::controller::sql
