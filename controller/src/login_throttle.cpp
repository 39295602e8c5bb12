#include "microscape/controller/login_throttle.hpp"

#include <Poco/Net/IPAddress.h>

#include <algorithm>
#include <vector>

namespace microscape::controller {

namespace {
std::string pairKey(const std::string& address, const std::string& username) {
    return address + '\x1f' + username;
}
}  // namespace

std::string LoginThrottle::addressKey(const std::string& host) {
    Poco::Net::IPAddress ip;
    if (!Poco::Net::IPAddress::tryParse(host, ip) || ip.family() != Poco::Net::IPAddress::IPv6 || ip.isIPv4Mapped())
        return host;
    // One IPv6 host usually owns a whole /64; count it as one address.
    const auto* b = static_cast<const unsigned char*>(ip.addr());
    static const char* kHex = "0123456789abcdef";
    std::string out;
    for (int i = 0; i < 8; ++i) {
        out += kHex[b[i] >> 4];
        out += kHex[b[i] & 15];
        if (i % 2 == 1) out += ':';
    }
    return out + ":/64";
}

std::int64_t LoginThrottle::lockedUntil(const Entry* e, int inFlight, int freeFailures, std::int64_t nowMs) const {
    const int failures = (e ? e->failures : 0) + inFlight;
    if (failures <= freeFailures) return 0;
    const std::int64_t last = inFlight > 0 ? std::max(e ? e->lastFailureMs : 0, nowMs) : e->lastFailureMs;
    const int doublings = std::min(failures - freeFailures - 1, 40);
    const std::int64_t delay = std::min(policy_.baseDelayMs << doublings, policy_.maxDelayMs);
    return last + delay;
}

int LoginThrottle::inFlightOf(const InFlight& t, const std::string& key) {
    auto it = t.find(key);
    return it == t.end() ? 0 : it->second;
}

void LoginThrottle::endOne(InFlight& t, const std::string& key) {
    auto it = t.find(key);
    if (it != t.end() && --it->second <= 0) t.erase(it);
}

const LoginThrottle::Entry* LoginThrottle::find(Table& t, const std::string& key, std::int64_t nowMs) {
    auto it = t.find(key);
    if (it == t.end()) return nullptr;
    if (nowMs - it->second.lastFailureMs >= policy_.forgetAfterMs) {
        t.erase(it);
        return nullptr;
    }
    return &it->second;
}

LoginThrottle::Decision LoginThrottle::check(const std::string& address, const std::string& username,
                                             std::int64_t nowMs) {
    std::lock_guard lock(mutex_);
    Decision d;
    const std::string pair = pairKey(address, username);
    const std::int64_t until = std::max(
        lockedUntil(find(pairs_, pair, nowMs), inFlightOf(pairsInFlight_, pair), policy_.pairFreeFailures, nowMs),
        lockedUntil(find(addresses_, address, nowMs), inFlightOf(addressesInFlight_, address),
                    policy_.addressFreeFailures, nowMs));
    if (until > nowMs) {
        d.allowed = false;
        d.retryAfterMs = until - nowMs;
        return d;
    }
    // (Bounded: at most one per request being served.)
    pairsInFlight_[pair]++;
    addressesInFlight_[address]++;
    if (auto* e = find(accounts_, username, nowMs); e && e->failures >= policy_.accountSlowAfter) {
        const int doublings = std::min(e->failures - policy_.accountSlowAfter, 40);
        d.slowdownMs = std::min(policy_.accountBaseSlowdownMs << doublings, policy_.accountMaxSlowdownMs);
    }
    return d;
}

void LoginThrottle::makeRoom(Table& t, std::int64_t nowMs) {
    if (t.size() < policy_.maxEntries) return;
    for (auto it = t.begin(); it != t.end();)
        it = nowMs - it->second.lastFailureMs >= policy_.forgetAfterMs ? t.erase(it) : std::next(it);
    if (t.size() < policy_.maxEntries) return;
    // Still full: drop the eighth whose last failure is oldest (amortises the scan).
    std::vector<std::int64_t> times;
    times.reserve(t.size());
    for (const auto& [k, e] : t) times.push_back(e.lastFailureMs);
    const std::size_t drop = std::max<std::size_t>(1, t.size() / 8);
    std::nth_element(times.begin(), times.begin() + static_cast<std::ptrdiff_t>(drop - 1), times.end());
    const std::int64_t cutoff = times[drop - 1];
    std::size_t dropped = 0;
    for (auto it = t.begin(); it != t.end() && dropped < drop;) {
        if (it->second.lastFailureMs <= cutoff) {
            it = t.erase(it);
            ++dropped;
        } else {
            ++it;
        }
    }
}

void LoginThrottle::bump(Table& t, const std::string& key, std::int64_t nowMs) {
    auto it = t.find(key);
    if (it != t.end() && nowMs - it->second.lastFailureMs >= policy_.forgetAfterMs) it->second = Entry{};
    if (it == t.end()) {
        makeRoom(t, nowMs);
        it = t.emplace(key, Entry{}).first;
    }
    it->second.failures++;
    it->second.lastFailureMs = nowMs;
}

void LoginThrottle::recordFailure(const std::string& address, const std::string& username, std::int64_t nowMs) {
    std::lock_guard lock(mutex_);
    endOne(pairsInFlight_, pairKey(address, username));
    endOne(addressesInFlight_, address);
    bump(pairs_, pairKey(address, username), nowMs);
    bump(addresses_, address, nowMs);
    bump(accounts_, username, nowMs);
}

void LoginThrottle::recordSuccess(const std::string& address, const std::string& username) {
    std::lock_guard lock(mutex_);
    endOne(pairsInFlight_, pairKey(address, username));
    endOne(addressesInFlight_, address);
    pairs_.erase(pairKey(address, username));
    accounts_.erase(username);
}

void LoginThrottle::abandon(const std::string& address, const std::string& username) {
    std::lock_guard lock(mutex_);
    endOne(pairsInFlight_, pairKey(address, username));
    endOne(addressesInFlight_, address);
}

LoginThrottle::AuditTicket LoginThrottle::auditTicket(std::int64_t nowMs) {
    std::lock_guard lock(mutex_);
    if (nowMs - auditWindowStartMs_ >= 60'000 || nowMs < auditWindowStartMs_) {
        auditWindowStartMs_ = nowMs;
        auditInWindow_ = 0;
    }
    AuditTicket t;
    if (auditInWindow_ >= policy_.auditPerMinute) {
        auditSuppressed_++;
        return t;
    }
    auditInWindow_++;
    t.record = true;
    t.suppressedBefore = auditSuppressed_;
    auditSuppressed_ = 0;
    return t;
}

std::size_t LoginThrottle::entries() const {
    std::lock_guard lock(mutex_);
    return pairs_.size() + addresses_.size() + accounts_.size() + pairsInFlight_.size() + addressesInFlight_.size();
}

}  // namespace microscape::controller
