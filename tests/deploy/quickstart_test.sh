#!/usr/bin/env bash
# quickstart_test.sh SOURCE_DIR BIN_DIR [--cluster] — runs deploy/quickstart.sh as a user
# would (with --no-build), checks from its output and from the controller's API
# (over HTTPS: the controller's self-signed certificate, screens enrolled with the
# pinned command) that three screens came online and every one of them had plays counted, that
# nothing it started outlives it, and that a second run on the same directory
# resumes the same network (and stops on SIGTERM).
# With --cluster: the two-node demo on its throwaway PostgreSQL instead (see the
# end of this file).
set -euo pipefail
src=$1
bin=$2
mode=${3:-}
work=$(mktemp -d)
demo="$work/demo"
qs_pid=""
cleanup() {
  [ -z "$qs_pid" ] || kill -TERM "$qs_pid" 2>/dev/null || true
  [ -z "$qs_pid" ] || wait "$qs_pid" 2>/dev/null || true
  # A PostgreSQL left by a failed cluster run.
  for pgc in /usr/lib/postgresql/*/bin/pg_ctl; do
    [ -d "$demo/postgres/data" ] && [ -x "$pgc" ] || continue
    if [ "$(id -u)" = 0 ]; then unshare --user --map-user=65534 --map-group=65534 "$pgc" -D "$demo/postgres/data" -m immediate stop
    else "$pgc" -D "$demo/postgres/data" -m immediate stop; fi >/dev/null 2>&1 || true
    break
  done
  rm -rf "$work"
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*" >&2
  for f in "$work"/run*.out "$demo"/logs/*.log; do
    [ -f "$f" ] && { echo "---- $f (last 30 lines)"; tail -n 30 "$f"; }
  done >&2
  exit 1
}

# Processes whose command line names the demo directory (the quickstart's children).
leftovers() {
  local p out=""
  for p in /proc/[0-9]*; do
    [ "${p#/proc/}" = "$$" ] && continue
    if { tr '\0' ' ' <"$p/cmdline"; } 2>/dev/null | grep -qE -- "--data-dir $demo/|-D $demo/postgres"; then out+=" ${p#/proc/}"; fi
  done
  echo "$out"
}

# API GET with the demo's admin token (written by the quickstart to demo.env).
api_get() {
  # shellcheck disable=SC1090,SC1091
  (. "$demo/demo.env" && curl -sf --max-time 5 --cacert "$demo/controller/keys/tls-cert.pem" \
     -H "Authorization: Bearer $ADMIN_TOKEN" "https://127.0.0.1:$HTTP_PORT/api/v1$1")
}
today() { TZ=Asia/Shanghai date +%F; }
# plays per screen so far, one number per enrolled screen
plays_per_screen() {
  local players plays
  players=$(api_get /players) || return 1
  plays=$(api_get "/reports/plays?from=$(TZ=Asia/Shanghai date -d "-30 day" +%F)&to=$(today)&by=screen") || return 1
  jq -r --argjson r "$plays" '.players[] | .id as $i | [$r.rows[] | select(.screen == $i) | .plays] | add // 0' <<<"$players"
}
online_count() { api_get /players | jq '[.players[] | select(.online)] | length'; }
total_plays() { sqlite3 "$demo/controller/controller.db" "SELECT count(*) FROM pop_records WHERE kind = 'play'"; }

if [ "$mode" = --cluster ]; then
  # shellcheck source=tests/deploy/quickstart_cluster.sh
  . "$(dirname "$0")/quickstart_cluster.sh"
  exit 0
fi

# --- Usage errors and a directory the quickstart did not make are refused.
set +e
"$src/deploy/quickstart.sh" --bogus >/dev/null 2>&1; rc=$?
set -e
[ "$rc" = 2 ] || fail "an unknown option exits $rc, not 2"
mkdir -p "$work/notdemo" && echo keep >"$work/notdemo/file"
set +e
out=$("$src/deploy/quickstart.sh" --no-build --bin "$bin" --dir "$work/notdemo" --reset --for 1 2>&1); rc=$?
set -e
[ "$rc" = 1 ] && grep -q "not made by the quickstart" <<<"$out" || fail "a foreign directory was not refused ($rc): $out"
[ -f "$work/notdemo/file" ] || fail "--reset deleted a directory the quickstart did not make"

# --- SIGTERM in the middle of the set-up: exit 130, nothing left running, and the
# next run starts the set-up afresh.
"$src/deploy/quickstart.sh" --no-build --bin "$bin" --dir "$demo" --screen 320x180 >"$work/run0.out" 2>&1 &
qs_pid=$!
deadline=$((SECONDS + 60))
until grep -q 'first run' "$work/run0.out" 2>/dev/null; do
  kill -0 "$qs_pid" 2>/dev/null || fail "the interrupted run ended by itself"
  [ $SECONDS -lt $deadline ] || fail "the set-up did not start within 60 s"
  sleep 0.5
done
kill -TERM "$qs_pid"
set +e
wait "$qs_pid"; rc=$?
set -e
qs_pid=""
[ "$rc" = 130 ] || fail "SIGTERM during the set-up exits $rc, not 130"
[ -z "$(leftovers)" ] || fail "processes left behind after SIGTERM during the set-up:$(leftovers)"

# --- First run: set-up, then about a minute of play; check the API while it runs.
"$src/deploy/quickstart.sh" --no-build --bin "$bin" --dir "$demo" --for 60 --screen 320x180 >"$work/run1.out" 2>&1 &
qs_pid=$!
seen_online=0 seen_plays=0 seen_console=0
while kill -0 "$qs_pid" 2>/dev/null; do
  if grep -q '^READY=1' "$demo/demo.env" 2>/dev/null; then
    # shellcheck disable=SC1091
    (. "$demo/demo.env" && curl -sf --max-time 5 --cacert "$demo/controller/keys/tls-cert.pem" \
       "https://127.0.0.1:$HTTP_PORT/login") | grep -q '<html' && seen_console=1
    [ "$(online_count 2>/dev/null || echo 0)" = 3 ] && seen_online=1
    if per=$(plays_per_screen 2>/dev/null) && [ "$(wc -l <<<"$per")" = 3 ] && ! grep -qx 0 <<<"$per"; then
      seen_plays=1
    fi
  fi
  sleep 2
done
set +e
wait "$qs_pid"; rc=$?
set -e
qs_pid=""
[ "$rc" = 0 ] || fail "first run exited $rc"
[ "$seen_online" = 1 ] || fail "the API never showed 3 screens online"
[ "$seen_plays" = 1 ] || fail "the API never showed plays counted for each of the 3 screens"
[ "$seen_console" = 1 ] || fail "the console page was never served"
grep -q 'did not finish last time; starting afresh' "$work/run1.out" || fail "the interrupted set-up was not started afresh"
grep -q 'https://127.0.0.1:[0-9]*/' "$work/run1.out" || fail "no https:// console address printed"
# The console is not served in clear, and the screens enrolled with pinned commands.
(. "$demo/demo.env" && curl -s --max-time 5 "http://127.0.0.1:$HTTP_PORT/login" | grep -q '<html') &&
  fail "the console answered plain HTTP"
for s in mall garage building; do
  jq -r .controller_http "$demo/screens/$s/player.json" | grep -q '^https://127.0.0.1:' || fail "$s did not enrol over HTTPS"
done
for u in admin editor approver auditor; do
  grep -qE "^ +$u +demo-[0-9a-f]+" "$work/run1.out" || fail "no login printed for $u"
done
grep -q 'screens online 3/3' "$work/run1.out" || fail "the status line never showed 3/3 screens online"
grep -E 'plays counted [1-9][0-9]* \(商超 [1-9][0-9]*, 车库 [1-9][0-9]*, 楼栋 [1-9][0-9]*\)' "$work/run1.out" >/dev/null ||
  fail "the status line never showed plays for all three screens"
[ -z "$(leftovers)" ] || fail "processes left behind after the first run:$(leftovers)"
[ -z "$(ls "$demo/run")" ] || fail "pid files left in $demo/run"
first=$(total_plays)
[ "$first" -gt 0 ] || fail "no play records stored"

# The campaign's approvals were made by another user than the uploader.
self=$(sqlite3 "$demo/controller/controller.db" "SELECT count(*) FROM media WHERE reviewed_by = uploaded_by OR state != 'approved'")
[ "$self" = 0 ] || fail "$self media approved by their uploader or not approved"

# --- Second run on the same directory: the same network resumes; SIGTERM stops it.
ids_before=$(jq -r .player_id "$demo"/screens/*/player.json | sort)
"$src/deploy/quickstart.sh" --no-build --bin "$bin" --dir "$demo" --screen 320x180 >"$work/run2.out" 2>&1 &
qs_pid=$!
deadline=$((SECONDS + 90))
until [ "$(total_plays)" -gt "$first" ] && [ "$(online_count 2>/dev/null || echo 0)" = 3 ]; do
  kill -0 "$qs_pid" 2>/dev/null || fail "second run ended by itself"
  [ $SECONDS -lt $deadline ] || fail "second run: no new plays or not 3 screens online within 90 s"
  sleep 2
done
# The takeover example: sent to the garage screen only, which then plays it.
out=$("$src/deploy/quickstart.sh" takeover --dir "$demo" --minutes 1 2>&1) || fail "takeover failed: $out"
grep -q '地下车库出入口' <<<"$out" || fail "takeover output: $out"
garage=$(jq -r .player_id "$demo/screens/garage/player.json")
deadline=$((SECONDS + 60))
until [ "$(sqlite3 "$demo/controller/controller.db" "SELECT count(*) FROM pop_records WHERE schedule LIKE 'tko-%' AND player_id = '$garage'")" -gt 0 ]; do
  kill -0 "$qs_pid" 2>/dev/null || fail "second run ended by itself"
  [ $SECONDS -lt $deadline ] || fail "the garage screen did not play the takeover within 60 s"
  sleep 2
done
others=$(sqlite3 "$demo/controller/controller.db" "SELECT count(*) FROM pop_records WHERE schedule LIKE 'tko-%' AND player_id != '$garage'")
[ "$others" = 0 ] || fail "the garage takeover played on $others other screens"
kill -TERM "$qs_pid"
set +e
wait "$qs_pid"; rc=$?
set -e
qs_pid=""
[ "$rc" = 0 ] || fail "second run exited $rc after SIGTERM"
grep -q 'first run' "$work/run2.out" && fail "second run set the demo up again instead of resuming"
[ "$(jq -r .player_id "$demo"/screens/*/player.json | sort)" = "$ids_before" ] || fail "the screens changed identity"
[ -z "$(leftovers)" ] || fail "processes left behind after SIGTERM:$(leftovers)"
echo "quickstart OK: $first plays in the first run, $(total_plays) after the second"
