#!/usr/bin/env bash
# The one command that installs what is needed, builds everything and runs the
# whole test suite. Exits non-zero on any failure.
#
#   deploy/test.sh              # build in ./build and run every test
#   BUILD_DIR=/tmp/b deploy/test.sh
#   MICROSCAPE_SANITIZE=ON deploy/test.sh   # ASan/UBSan build
#   MICROSCAPE_FIXED_INSTANTS=1 deploy/test.sh  # then a second pass at fixed instants
#
# Every run includes fixed_instants_dates: the tests that compute dates, days and
# zones run again with the clock moved to 23:30 and 00:30 Beijing time and to a
# leap day (tests/deploy/fixed_instants.sh --dates), so that no test depends on
# when CI happens to run. With MICROSCAPE_FIXED_INSTANTS=1, after the suite the
# whole suite runs again at those three instants.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$root/build}
jobs=$(nproc 2>/dev/null || echo 2)

"$root/deploy/install-deps.sh"

cmake -S "$root" -B "$build" -G Ninja \
  -DCMAKE_BUILD_TYPE="${CMAKE_BUILD_TYPE:-RelWithDebInfo}" \
  -DMICROSCAPE_SANITIZE="${MICROSCAPE_SANITIZE:-OFF}" >/dev/null
cmake --build "$build" -j "$jobs"
if [ "${MICROSCAPE_SANITIZE:-OFF}" = "ON" ]; then
  # (programs that run libvlc keep its plugins mapped for leak checking: cmake/vlc_sanitizer_defaults.cpp)
  export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_stack_use_after_return=1}"
  export LSAN_OPTIONS="${LSAN_OPTIONS:-suppressions=$root/tests/lsan.supp}"
  export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1}"
fi
ctest --test-dir "$build" --output-on-failure -j "$jobs" --timeout 600
if [ "${MICROSCAPE_FIXED_INSTANTS:-0}" = "1" ] && [ "${MICROSCAPE_SANITIZE:-OFF}" != "ON" ]; then
  # (libfaketime is preloaded, which AddressSanitizer refuses: not with the sanitizers)
  "$root/tests/deploy/fixed_instants.sh" "$build" --output-on-failure -j "$jobs" --timeout 600
fi
