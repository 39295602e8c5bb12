#!/usr/bin/env bash
# The one command that installs what is needed, builds everything and runs the
# whole test suite. Exits non-zero on any failure.
#
#   deploy/test.sh              # build in ./build and run every test
#   BUILD_DIR=/tmp/b deploy/test.sh
#   MICROSCAPE_SANITIZE=ON deploy/test.sh   # ASan/UBSan build
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$root/build}
jobs=$(nproc 2>/dev/null || echo 2)

"$root/deploy/install-deps.sh"

cmake -S "$root" -B "$build" -G Ninja \
  -DCMAKE_BUILD_TYPE="${CMAKE_BUILD_TYPE:-RelWithDebInfo}" \
  -DMICROSCAPE_SANITIZE="${MICROSCAPE_SANITIZE:-OFF}" >/dev/null
cmake --build "$build" -j "$jobs"
ctest --test-dir "$build" --output-on-failure -j "$jobs" --timeout 600
