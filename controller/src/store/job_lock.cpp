#include "store/job_lock.hpp"

#include "microscape/core/crypto.hpp"

namespace microscape::controller::sql {

std::int64_t jobLockKey(std::string_view job) {
    const auto digest = crypto::sha256("job:" + std::string(job));
    std::uint64_t k = 0;
    for (int i = 0; i < 8; ++i) k = k << 8 | static_cast<std::uint8_t>(digest[static_cast<std::size_t>(i)]);
    return static_cast<std::int64_t>(k);
}

JobLock::JobLock(StoreUrl url) : url_(std::move(url)) {}

JobLock::~JobLock() = default;

bool JobLock::runExclusive(std::string_view job, const std::function<void()>& fn) {
    if (url_.backend != Backend::Postgres) {
        fn();
        return true;
    }
    if (!db_) db_ = Database::open(url_, DatabaseOptions{.poolSize = 1});
    const std::int64_t key = jobLockKey(job);
    // A session-level lock: it outlives the statement and is held until unlocked
    // on this same connection (the pool has one) or the connection ends.
    bool got = false;
    try {
        got = db_->read([&](Conn& c) { return c.one("SELECT pg_try_advisory_lock(?)", {key})->i64(0) == 1; });
    } catch (const Error&) {
        db_.reset();  // a new connection next time (a lost one released its locks)
        throw;
    }
    if (!got) {
        ++skipped_;
        return false;
    }
    auto unlock = [&] {
        try {
            db_->read([&](Conn& c) { c.exec("SELECT pg_advisory_unlock(?)", {key}); });
        } catch (const Error&) {
            db_.reset();  // the connection is gone, and the lock with it
        }
    };
    try {
        fn();
    } catch (...) {
        unlock();
        throw;
    }
    unlock();
    return true;
}

}  // namespace microscape::controller::sql
