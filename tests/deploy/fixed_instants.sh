#!/usr/bin/env bash
# Runs the test suite again with the clocks of every process moved to instants
# where a test that depends on the date, the hour or the machine's zone breaks:
#
#   23:30 Asia/Shanghai (the local day ends within the hour; UTC is still on the
#         same date)
#   00:30 Asia/Shanghai on 1 January (UTC is still on 31 December of the year before)
#   12:00 Asia/Shanghai on 29 February of a leap year, with the machine's zone set
#         to America/Los_Angeles (its date is still the 28th)
#
# Time comes from libfaketime (Debian's faketime) as a fixed offset from the real
# clock, so all processes of a test agree and time still runs; the monotonic
# clocks are left alone (timeouts and ZeroMQ heartbeats keep their real meaning).
#
# Left out: fixed_instants_dates (it moves the clock itself, and under a clock
# already moved its instants would land elsewhere), the Debian packages, the units under systemd and the quickstart (they take minutes and hold no
# date logic of their own beyond what the other tests cover), and the engine's playback tests (test names starting "engine "). Their
# wall clock is injected (a test clock at a fixed instant), so the real date never
# reaches them, and what they check is on-air timing to the tens of milliseconds,
# which libfaketime's interception of libvlc's timed waits delays by hundreds of
# milliseconds at any offset, even +0.
#
#   tests/deploy/fixed_instants.sh BUILD_DIR [ctest arguments...]
#   tests/deploy/fixed_instants.sh --dates BUILD_DIR
#
# --dates runs, at each instant, only the tests where dates, days and zones are
# computed (the core library; the packager and its verifier; the player's agent,
# journal and configuration; the controller's reports, export, proof of play,
# preview, fleet, scoping and flows, and real screens playing and counting) straight from their Catch
# binaries, selected by tag, and the browser test of the console once (on New
# Year's night): about six minutes in all, so the suite runs it every time as
# the ctest entry fixed_instants_dates. The whole suite at the
# three instants (the first form) is MICROSCAPE_FIXED_INSTANTS=1 deploy/test.sh.
#
# Exits non-zero when any run fails; prints which instant failed.
set -euo pipefail

mode=ctest
if [ "${1:-}" = "--dates" ]; then
  mode=dates
  shift
fi
build=${1:?usage: fixed_instants.sh [--dates] BUILD_DIR [ctest arguments...]}
shift

# The date-bearing tests, by binary and Catch tag filter (--dates).
dated_runs=(
  "core_tests|"
  "packager_tests|"
  "player_tests|[agent],[journal],[config],[import],[cache],[activation],[sync]"
  "controller_tests|[reports],[export],[counts],[run],[pop],[preview],[flow],[e2e],[audit],[fleet],[scoping]"
)

# libfaketime shares one named semaphore among a process and all it starts, and
# takes it around every stat() call: a screen killed with SIGKILL at that moment
# (several tests do) would leave it taken and every other process hanging.
# FAKETIME_FLSHM=1 gives each process its own; the ones killed processes leave
# in /dev/shm are removed at the end.
export FAKETIME_FLSHM=1
remove_stale_shm() {
  local f pid
  for f in /dev/shm/sem.faketime_sem_* /dev/shm/faketime_shm_*; do
    [ -e "$f" ] || continue
    pid=${f##*_}
    kill -0 "$pid" 2>/dev/null || rm -f "$f"
  done
}
trap remove_stale_shm EXIT

run_dated() {
  local entry bin filter
  for entry in "${dated_runs[@]}"; do
    IFS='|' read -r bin filter <<<"$entry"
    if [ ! -x "$build/bin/$bin" ]; then
      echo "fixed_instants: $build/bin/$bin is not built" >&2
      return 1
    fi
    echo "-- $bin ${filter:-(all)}"
    if [ -n "$filter" ]; then
      "$build/bin/$bin" "$filter" || return 1
    else
      "$build/bin/$bin" || return 1
    fi
  done
}

lib=$(ls /usr/lib/*/faketime/libfaketime.so.1 2>/dev/null | head -1 || true)
if [ -z "$lib" ]; then
  echo "fixed_instants: libfaketime not found (apt-get install faketime)" >&2
  exit 2
fi

# name | instant (UTC) | TZ of the machine during the run
instants=(
  "23:30-beijing|$(date -u +%Y-%m-%d) 15:30:00|${TZ:-UTC}"
  "new-year-00:30-beijing|2026-12-31 16:30:00|UTC"
  "leap-day-los-angeles|2028-02-29 04:00:00|America/Los_Angeles"
)

failed=()
for entry in "${instants[@]}"; do
  IFS='|' read -r name instant zone <<<"$entry"
  target=$(date -u -d "$instant" +%s)
  offset=$((target - $(date -u +%s)))
  sign=+
  [ "$offset" -lt 0 ] && sign=- && offset=$((-offset))
  exclude='^engine |^debian_packages$|^systemd_units$|^quickstart_demo$|^fixed_instants_dates$'
  echo "== fixed instant $name: $instant UTC (offset $sign${offset}s), TZ=$zone"
  if [ "$mode" = dates ]; then
    if ! (export TZ="$zone" LD_PRELOAD="$lib" FAKETIME="$sign${offset}" FAKETIME_DONT_FAKE_MONOTONIC=1
      run_dated); then
      failed+=("$name")
    fi
    # The console in a real browser once, on New Year's night: Chromium keeps the
    # real clock, so "today" must come from the controller (web/js/clock.js).
    if [ "$name" = new-year-00:30-beijing ] &&
      ! TZ="$zone" LD_PRELOAD="$lib" FAKETIME="$sign${offset}" FAKETIME_DONT_FAKE_MONOTONIC=1 \
        ctest --test-dir "$build" -R '^console_browser$' --output-on-failure; then
      failed+=("$name (browser)")
    fi
  elif ! TZ="$zone" LD_PRELOAD="$lib" FAKETIME="$sign${offset}" FAKETIME_DONT_FAKE_MONOTONIC=1 \
    ctest --test-dir "$build" -E "$exclude" "$@"; then
    failed+=("$name")
  fi
done

if [ ${#failed[@]} -gt 0 ]; then
  echo "fixed_instants: failed at ${failed[*]}" >&2
  exit 1
fi
echo "fixed_instants: the suite passed at all ${#instants[@]} instants"
