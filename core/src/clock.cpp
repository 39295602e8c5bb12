#include "microscape/core/clock.hpp"

#include <chrono>

namespace microscape {

std::int64_t SystemClock::wallMs() const {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

std::int64_t SystemClock::steadyUs() const {
    return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

const Clock& systemClock() {
    static const SystemClock clock;
    return clock;
}

}  // namespace microscape
