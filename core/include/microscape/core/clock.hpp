// The one seam for time: wall time (UTC ms, may jump) and steady time (µs,
// never goes back) read through a Clock, so that the player's engine, display
// and agent can run on a clock a test sets. Core's domain logic still takes
// time as an argument; only the edges hold a Clock.
// Thread-safety: every method of every Clock here may be called from any thread.
#pragma once

#include <atomic>
#include <cstdint>

namespace microscape {

class Clock {
  public:
    virtual ~Clock() = default;
    // UTC milliseconds since the Unix epoch; may step (NTP, an RTC reset).
    virtual std::int64_t wallMs() const = 0;
    // Microseconds on a clock that never goes back (unrelated to the wall).
    virtual std::int64_t steadyUs() const = 0;
    std::int64_t steadyMs() const { return steadyUs() / 1000; }
};

// The machine's clocks (system_clock and steady_clock).
class SystemClock final : public Clock {
  public:
    std::int64_t wallMs() const override;
    std::int64_t steadyUs() const override;
};

// A process-wide SystemClock, for the default of every Clock pointer.
const Clock& systemClock();

// A clock that moves only when told to: set() or advance(). Both readings
// start at the given instants.
class ManualClock final : public Clock {
  public:
    explicit ManualClock(std::int64_t wallMs = 0, std::int64_t steadyUs = 0) : wallMs_(wallMs), steadyUs_(steadyUs) {}
    std::int64_t wallMs() const override { return wallMs_.load(); }
    std::int64_t steadyUs() const override { return steadyUs_.load(); }
    // Both clocks move on by ms.
    void advance(std::int64_t ms) {
        wallMs_ += ms;
        steadyUs_ += ms * 1000;
    }
    // The wall clock steps (as after an NTP correction); the steady one does not.
    void setWall(std::int64_t wallMs) { wallMs_.store(wallMs); }

  private:
    std::atomic<std::int64_t> wallMs_;
    std::atomic<std::int64_t> steadyUs_;
};

}  // namespace microscape
