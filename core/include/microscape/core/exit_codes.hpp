// The exit status table shared by microscape-controller, microscape-player and
// microscape-pack (docs/exit-codes.md). The numbers above 1 are the BSD
// sysexits.h codes, which systemd also names (status=78/CONFIG in the journal).
// Constants only: safe from any thread.
#pragma once

namespace microscape::exitcode {

constexpr int kOk = 0;           // done, or stopped by SIGTERM/SIGINT
constexpr int kFailure = 1;      // the input was rejected or the work failed (a bad bundle, a lost X server)
constexpr int kUsage = 64;       // EX_USAGE: bad command line (unknown command or option, missing value)
constexpr int kSoftware = 70;    // EX_SOFTWARE: an internal error
constexpr int kCantCreate = 73;  // EX_CANTCREAT: the data directory, database or a port cannot be opened
constexpr int kConfig = 78;      // EX_CONFIG: bad configuration file or value; a screen not enrolled

// The table as every program's --help prints it (and so its manual page).
inline constexpr const char* kHelpText =
    "Exit status:\n"
    "  0   success, or stopped by SIGTERM/SIGINT\n"
    "  1   failure: the input was rejected or the work failed\n"
    "  64  bad command line (unknown command or option, missing value)\n"
    "  70  internal error\n"
    "  73  the data directory, database or a port cannot be opened\n"
    "  78  bad configuration file or value; the screen is not enrolled\n";

}  // namespace microscape::exitcode
