// Runs an external media program (ImageMagick's convert/identify, ffmpeg) on an
// untrusted file in a separate process with limits: its own process group, no
// new privileges, no core dumps, bounded address space, CPU time and output
// size, dropped to "nobody" when started as root, an environment of its own,
// and killed with its group after a wall-clock timeout. Thread-safe: each call
// runs its own process.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace microscape::controller {

struct ConfinedLimits {
    std::uint64_t addressSpaceBytes = 2ull << 30;  // RLIMIT_AS
    int cpuSeconds = 120;                          // RLIMIT_CPU
    std::uint64_t fileSizeBytes = 2ull << 30;      // RLIMIT_FSIZE: its largest output
    int timeoutMs = 60000;                         // wall clock; then SIGKILL to its group
};

struct ConfinedRun {
    bool started = false;
    bool timedOut = false;
    int exitCode = -1;  // when it exited
    int signal = 0;     // when a signal ended it (SIGXCPU: the CPU limit; SIGXFSZ: the output limit)
    std::string err;    // the end of its standard error (at most 16 KiB), for the log and for classifying
    double seconds = 0;
    bool ok() const { return started && !timedOut && signal == 0 && exitCode == 0; }
    // One line for the log: how it ended.
    std::string describe() const;
};

// argv[0] is the program's absolute path. stdinFd and stdoutFd are given to the
// child as its descriptors 0 and 1 (-1: /dev/null); nothing else of the caller's
// reaches it. env: "NAME=value" entries (PATH and LC_ALL are added).
ConfinedRun runConfined(const std::vector<std::string>& argv, int stdinFd, int stdoutFd, const ConfinedLimits& limits,
                        const std::vector<std::string>& env = {});

}  // namespace microscape::controller
