// Login-failure handling (等保 "登录失败处理"): growing delays per source address and
// per (address, username), and a bounded slowdown per username, kept in memory.
// Thread-safe: every method takes the one mutex; time is an argument.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>

namespace microscape::controller {

struct LoginThrottlePolicy {
    // Failures one (address, username) pair may make before it must wait; then each
    // further failure doubles the wait, from baseDelayMs up to maxDelayMs.
    int pairFreeFailures = 5;
    // Failures one address may make over all usernames (spraying) before it must wait.
    int addressFreeFailures = 20;
    // Failures one username may collect from all addresses before its logins are
    // slowed down (never refused: the right password from another address still works).
    int accountSlowAfter = 10;
    std::int64_t baseDelayMs = 1000;
    std::int64_t maxDelayMs = 15 * 60 * 1000;
    std::int64_t accountBaseSlowdownMs = 100;
    std::int64_t accountMaxSlowdownMs = 2000;
    // A key whose last failure is this old is forgotten.
    std::int64_t forgetAfterMs = 60 * 60 * 1000;
    // Each of the three tables holds at most this many keys; when full, forgotten keys
    // go first, then the eighth with the oldest failures.
    std::size_t maxEntries = 10000;
    // Failed-login audit rows and log lines: at most this many per minute; the rest are
    // counted and summed up in the next row.
    int auditPerMinute = 30;
};

class LoginThrottle {
  public:
    explicit LoginThrottle(LoginThrottlePolicy policy = {}) : policy_(policy) {}

    struct Decision {
        bool allowed = true;
        std::int64_t retryAfterMs = 0;  // when refused: how long until the next try
        std::int64_t slowdownMs = 0;    // when allowed: how long to hold the answer
    };
    // Before checking a password: may this address try this username now? An
    // allowed attempt counts as a failure (at nowMs) until recordFailure,
    // recordSuccess or abandon ends it, so that guesses sent in parallel are
    // refused as the same guesses sent one after the other would be (each
    // would otherwise pass the check before any of them had failed).
    Decision check(const std::string& address, const std::string& username, std::int64_t nowMs);
    void recordFailure(const std::string& address, const std::string& username, std::int64_t nowMs);
    // The right password: clears the pair and the username, not the address.
    void recordSuccess(const std::string& address, const std::string& username);
    // An allowed attempt that neither failed nor succeeded (an internal error).
    void abandon(const std::string& address, const std::string& username);

    struct AuditTicket {
        bool record = false;                // write this failure to the audit log and the log
        std::int64_t suppressedBefore = 0;  // failures left out since the last recorded one
    };
    AuditTicket auditTicket(std::int64_t nowMs);

    std::size_t entries() const;  // keys held over all tables (tests: memory stays bounded)

    // The key an address is counted under: IPv4 as is, IPv6 by its /64.
    static std::string addressKey(const std::string& host);

  private:
    struct Entry {
        int failures = 0;
        std::int64_t lastFailureMs = 0;
    };
    using Table = std::unordered_map<std::string, Entry>;
    using InFlight = std::unordered_map<std::string, int>;  // allowed attempts not yet ended, by key
    // When the key may try again: its failures and its attempts in flight (as
    // failures now) against its free failures.
    std::int64_t lockedUntil(const Entry* e, int inFlight, int freeFailures, std::int64_t nowMs) const;
    static int inFlightOf(const InFlight& t, const std::string& key);
    static void endOne(InFlight& t, const std::string& key);
    void bump(Table& t, const std::string& key, std::int64_t nowMs);
    void makeRoom(Table& t, std::int64_t nowMs);
    const Entry* find(Table& t, const std::string& key, std::int64_t nowMs);

    const LoginThrottlePolicy policy_;
    mutable std::mutex mutex_;  // guards everything below
    Table pairs_, addresses_, accounts_;
    InFlight pairsInFlight_, addressesInFlight_;
    std::int64_t auditWindowStartMs_ = 0;
    int auditInWindow_ = 0;
    std::int64_t auditSuppressed_ = 0;
};

}  // namespace microscape::controller
