// Waiting in tests for a condition instead of sleeping a fixed time: the
// condition is polled every few milliseconds until it holds or the time is up.
#pragma once

#include <chrono>
#include <thread>

namespace microscape::testing {

// Asks cond() every pollMs until it is true or timeoutMs have passed; its last
// answer. A condition that costs a request or a database read polls slower.
template <class F>
bool waitFor(F&& cond, int timeoutMs = 10000, int pollMs = 20) {
    const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeoutMs);
    while (!cond()) {
        if (std::chrono::steady_clock::now() >= until) return cond();
        std::this_thread::sleep_for(std::chrono::milliseconds(pollMs));
    }
    return true;
}

}  // namespace microscape::testing
