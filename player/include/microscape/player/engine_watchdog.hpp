// systemd notification protocol (sd_notify) without libsystemd: READY=1,
// STATUS=..., WATCHDOG=1 datagrams to $NOTIFY_SOCKET, and the watchdog interval
// from $WATCHDOG_USEC. Thread-safe (each call opens its own socket); a no-op
// when not running under systemd.
#pragma once

#include <cstdint>
#include <string>

namespace microscape::player {

// Sends one notification ("READY=1", "WATCHDOG=1", "STATUS=playing ...").
// Returns false when there is no $NOTIFY_SOCKET or sending failed.
bool sdNotify(const std::string& state);

// Half of $WATCHDOG_USEC in milliseconds (how often to ping), or 0 when systemd
// does not watch this process ($WATCHDOG_PID set to another pid also gives 0).
std::int64_t watchdogPingIntervalMs();

// The engine is alive when its owner loop turned within this many ms; ping
// systemd only then, so a hung playback thread gets the process restarted.
inline bool engineAlive(std::int64_t lastLoopSteadyMs, std::int64_t nowSteadyMs, std::int64_t limitMs = 5000) {
    return lastLoopSteadyMs != 0 && nowSteadyMs - lastLoopSteadyMs <= limitMs;
}

}  // namespace microscape::player
