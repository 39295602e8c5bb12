#!/usr/bin/env bash
# check_logging.sh BIN_DIR — the controller's log lines (docs/logging.md): with
# standard error as the journal's stream, "<N>logger: text" and no time; as a
# plain file, the time and the level name; a bad logging setting stops it (78).
set -uo pipefail
bin=$1
work=$(mktemp -d)
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# run_controller NAME [ENV...]: starts a controller on free ports with its
# stderr in NAME.err, waits until it listens, stops it with SIGTERM.
run_controller() {
  local name=$1
  shift
  : >"$work/$name.err"
  : >"$work/$name.out"
  local stream
  stream=$(stat -c '%d:%i' "$work/$name.err")
  env "${@//@STREAM@/$stream}" "$bin/microscape-controller" --data-dir "$work/$name.data" --http-port 0 --zmq-port 0 \
    --bind 127.0.0.1 >"$work/$name.out" 2>>"$work/$name.err" &
  pid=$!
  # Wait for the line it prints once listening (or for it to die).
  while ! grep -q "listening on" "$work/$name.out"; do
    kill -0 "$pid" 2>/dev/null || fail "$name: the controller stopped: $(cat "$work/$name.err")"
    sleep 0.1
  done
  kill -TERM "$pid"
  wait "$pid" || fail "$name: exit status $? after SIGTERM"
  pid=
}

# Standard error is the journal's stream: priorities, no time.
run_controller journal JOURNAL_STREAM=@STREAM@
grep -q '^<6>controller: termination requested' "$work/journal.err" ||
  fail "no '<6>controller: termination requested' line: $(cat "$work/journal.err")"
bad=$(grep -vE '^<[0-7]>[a-z][a-z0-9._]*: ' "$work/journal.err")
[ -z "$bad" ] || fail "lines without a priority prefix: $bad"
grep -qE '[0-9]{4}-[0-9]{2}-[0-9]{2}[ T][0-9]{2}:[0-9]{2}' "$work/journal.err" &&
  fail "a journal line carries its own time: $(cat "$work/journal.err")"

# JOURNAL_STREAM naming another file (inherited from a parent): plain text.
run_controller inherited JOURNAL_STREAM=1:1
# A plain file: the time, the level name, the logger.
run_controller text
for f in inherited text; do
  grep -qE '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z Information controller: termination requested' \
    "$work/$f.err" || fail "$f: no text line with time and level: $(cat "$work/$f.err")"
  grep -q '^<[0-9]>' "$work/$f.err" && fail "$f: priority prefixes outside the journal: $(cat "$work/$f.err")"
done

# The level and the format come from the configuration file.
printf 'controller.dataDir = %s/quiet.data\ncontroller.logLevel = warning\ncontroller.logFormat = journal\n' "$work" \
  >"$work/quiet.properties"
: >"$work/quiet.err"
: >"$work/quiet.out"
"$bin/microscape-controller" --config "$work/quiet.properties" --http-port 0 --zmq-port 0 --bind 127.0.0.1 \
  >"$work/quiet.out" 2>"$work/quiet.err" &
pid=$!
while ! grep -q "listening on" "$work/quiet.out"; do
  kill -0 "$pid" 2>/dev/null || fail "quiet: the controller stopped: $(cat "$work/quiet.err")"
  sleep 0.1
done
kill -TERM "$pid"
wait "$pid" || fail "quiet: exit status $? after SIGTERM"
pid=
grep -q '^<6>' "$work/quiet.err" && fail "logLevel = warning still logs information: $(cat "$work/quiet.err")"

# Bad settings are configuration errors.
for kv in "controller.logFormat = fancy" "controller.logLevel = loud"; do
  printf 'controller.dataDir = %s/bad.data\n%s\n' "$work" "$kv" >"$work/bad.properties"
  "$bin/microscape-controller" --config "$work/bad.properties" --http-port 0 --zmq-port 0 >/dev/null 2>"$work/bad.err"
  rc=$?
  [ "$rc" = 78 ] || fail "'$kv' exits $rc, not 78: $(cat "$work/bad.err")"
done
mkdir -p "$work/screen"
"$bin/microscape-player" run --data-dir "$work/screen" --log-format fancy >/dev/null 2>&1
[ $? = 64 ] || fail "microscape-player run --log-format fancy does not exit 64"
printf 'player.dataDir = %s/screen\nplayer.logFormat = fancy\n' "$work" >"$work/player.properties"
"$bin/microscape-player" run --config "$work/player.properties" >/dev/null 2>&1
[ $? = 78 ] || fail "player.logFormat = fancy does not exit 78"
echo "logging OK"
