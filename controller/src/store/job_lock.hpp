// Periodic jobs (recall housekeeping, the alert feed's poll) that every
// controller node runs but that must not run on two nodes at once: on
// PostgreSQL each run holds a session-level pg_try_advisory_lock named after
// the job on a connection of its own (a node that finds it held skips that
// round; a node that dies loses its connection and with it the lock). On
// SQLite there is one node and the job always runs.
//
// Thread-safety: one JobLock per thread that runs jobs (it owns one
// connection); runExclusive() is not reentrant.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "store/database.hpp"

namespace microscape::controller::sql {

// The advisory lock key of a job (the first 8 bytes of SHA-256("job:" + name)).
std::int64_t jobLockKey(std::string_view job);

class JobLock {
  public:
    explicit JobLock(StoreUrl url);  // connects on first use
    ~JobLock();
    JobLock(const JobLock&) = delete;
    JobLock& operator=(const JobLock&) = delete;

    // Runs fn unless another node runs the job `job` now; returns whether fn ran.
    // fn's exceptions pass through (the lock is released first). Throws sql::Error
    // when the store cannot be reached (the job did not run).
    bool runExclusive(std::string_view job, const std::function<void()>& fn);

    // Rounds skipped because another node held the job (for /metrics and tests).
    std::uint64_t skipped() const { return skipped_.load(); }

  private:
    StoreUrl url_;
    std::unique_ptr<Database> db_;  // PostgreSQL: one connection, opened on first use
    std::atomic<std::uint64_t> skipped_{0};
};

}  // namespace microscape::controller::sql
