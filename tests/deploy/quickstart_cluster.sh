# shellcheck shell=bash disable=SC2154  # src, bin, work, demo, qs_pid: set by quickstart_test.sh
# quickstart_cluster.sh — sourced by quickstart_test.sh SOURCE_DIR BIN_DIR --cluster
# (its helpers: fail, leftovers, api_get, plays_per_screen, today). The two-node
# demo: deploy/quickstart.sh --cluster runs a throwaway PostgreSQL and two
# controller nodes; both serve the console, screens on both nodes play, a login
# on node 1 works on node 2, a takeover sent through node 1 plays on the garage
# screen connected to node 2; Ctrl-C/SIGTERM and --for stop everything,
# PostgreSQL included; a second run resumes the same cluster.

pg_bin=""
for v in 15 16 17; do [ -x "/usr/lib/postgresql/$v/bin/pg_ctl" ] && { pg_bin=/usr/lib/postgresql/$v/bin; break; }; done
[ -n "$pg_bin" ] || fail "PostgreSQL's server programs are not installed (postgresql-15)"

env_get() { (. "$demo/demo.env" && eval "echo \"\$$1\""); }
# online NODE — screens connected to that node's hub (its /players says online for those only).
online_on() {
  local port
  port=$(env_get "$([ "$1" = 1 ] && echo HTTP_PORT || echo HTTP_PORT2)")
  (. "$demo/demo.env" && curl -sf --max-time 5 --cacert "$demo/controller/keys/tls-cert.pem" \
     -H "Authorization: Bearer $ADMIN_TOKEN" "https://127.0.0.1:$port/api/v1/players") |
    jq '[.players[] | select(.online)] | length'
}
# pg_ctl refuses root: as the quickstart does, in a user namespace of its own.
pg_ctl_demo() {
  if [ "$(id -u)" = 0 ]; then unshare --user --map-user=65534 --map-group=65534 "$pg_bin/pg_ctl" "$@"
  else "$pg_bin/pg_ctl" "$@"; fi
}
psql_demo() { "$pg_bin/psql" -X -q -At -h "$demo/postgres" -U microscape -d microscape -c "$1"; }

# --- First run: set-up, then the checks while it runs; SIGTERM stops it.
"$src/deploy/quickstart.sh" --no-build --bin "$bin" --dir "$demo" --cluster --screen 320x180 >"$work/run1.out" 2>&1 &
qs_pid=$!
seen_console1=0 seen_console2=0 seen_online=0 seen_plays=0 seen_login=0
deadline=$((SECONDS + 300))
until [ $((seen_console1 + seen_console2 + seen_online + seen_plays + seen_login)) = 5 ]; do
  kill -0 "$qs_pid" 2>/dev/null || fail "the cluster demo ended by itself"
  [ $SECONDS -lt $deadline ] ||
    fail "within 300 s: console node 1 $seen_console1, node 2 $seen_console2, online $seen_online, plays $seen_plays, login $seen_login"
  if grep -q '^READY=1' "$demo/demo.env" 2>/dev/null; then
    p1=$(env_get HTTP_PORT) p2=$(env_get HTTP_PORT2)
    curl -sf --max-time 5 --cacert "$demo/controller/keys/tls-cert.pem" "https://127.0.0.1:$p1/login" |
      grep -q '<html' && seen_console1=1
    curl -sf --max-time 5 --cacert "$demo/controller/keys/tls-cert.pem" "https://127.0.0.1:$p2/login" |
      grep -q '<html' && seen_console2=1
    # the garage screen on node 2, the other two on node 1
    [ "$(online_on 1 2>/dev/null || echo 0)" = 2 ] && [ "$(online_on 2 2>/dev/null || echo 0)" = 1 ] && seen_online=1
    if per=$(plays_per_screen 2>/dev/null) && [ "$(wc -l <<<"$per")" = 3 ] && ! grep -qx 0 <<<"$per"; then
      seen_plays=1
    fi
    # a browser session made on node 1 (cookie and CSRF token) works on node 2
    if [ "$seen_login" = 0 ]; then
      jar="$work/jar"
      rm -f "$jar"
      if out=$(jq -cn --arg p "$(env_get ADMIN_PW)" '{username:"admin",password:$p}' |
                 curl -sf --max-time 10 --cacert "$demo/controller/keys/tls-cert.pem" -c "$jar" \
                   -H 'Content-Type: application/json' --data-binary @- "https://127.0.0.1:$p1/api/v1/login"); then
        csrf=$(jq -r .csrfToken <<<"$out")
        me=$(curl -sf --max-time 10 --cacert "$demo/controller/keys/tls-cert.pem" -b "$jar" \
               "https://127.0.0.1:$p2/api/v1/me") || fail "the session made on node 1 is refused by node 2"
        [ "$(jq -r .user.username <<<"$me")" = admin ] || fail "node 2's /me for node 1's session: $me"
        code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 --cacert "$demo/controller/keys/tls-cert.pem" \
                 -b "$jar" -H "X-CSRF-Token: $csrf" -X POST "https://127.0.0.1:$p2/api/v1/logout")
        [ "$code" = 204 ] || fail "logout through node 2 with node 1's session answered $code"
        code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 --cacert "$demo/controller/keys/tls-cert.pem" \
                 -b "$jar" "https://127.0.0.1:$p1/api/v1/me")
        [ "$code" = 401 ] || fail "node 1 still accepts the session ended on node 2 ($code)"
        seen_login=1
      fi
    fi
  fi
  sleep 2
done
grep -q 'creating the PostgreSQL cluster' "$work/run1.out" || fail "no PostgreSQL cluster was created"
grep -E 'https://127.0.0.1:[0-9]+/ +\(node 2' "$work/run1.out" >/dev/null || fail "node 2's console address was not printed"
p1=$(env_get HTTP_PORT) p2=$(env_get HTTP_PORT2)
[ "$(jq -r .controller_http "$demo/screens/garage/player.json")" = "https://127.0.0.1:$p2" ] ||
  fail "the garage screen was not enrolled through node 2: $(jq -c . "$demo/screens/garage/player.json")"
for s in mall building; do
  [ "$(jq -r .controller_http "$demo/screens/$s/player.json")" = "https://127.0.0.1:$p1" ] ||
    fail "$s was not enrolled through node 1"
done
# Node 2 holds no database of its own: its state is PostgreSQL's.
[ ! -e "$demo/controller2/controller.db" ] || fail "node 2 made an SQLite file"
[ ! -e "$demo/controller/controller.db" ] || fail "node 1 made an SQLite file"
[ "$(psql_demo "SELECT count(*) FROM players WHERE state = 'enrolled'")" = 3 ] || fail "PostgreSQL does not hold the 3 screens"

# A takeover sent through node 1 plays on the garage screen, connected to node 2, and nowhere else.
out=$("$src/deploy/quickstart.sh" takeover --dir "$demo" --minutes 1 2>&1) || fail "takeover failed: $out"
garage=$(jq -r .player_id "$demo/screens/garage/player.json")
deadline=$((SECONDS + 90))
until [ "$(psql_demo "SELECT count(*) FROM pop_records WHERE schedule LIKE 'tko-%' AND player_id = '$garage'")" -gt 0 ]; do
  kill -0 "$qs_pid" 2>/dev/null || fail "the cluster demo ended by itself"
  [ $SECONDS -lt $deadline ] || fail "the garage screen on node 2 did not play the takeover made on node 1 within 90 s"
  sleep 2
done
others=$(psql_demo "SELECT count(*) FROM pop_records WHERE schedule LIKE 'tko-%' AND player_id != '$garage'")
[ "$others" = 0 ] || fail "the garage takeover played on $others other screens"
sleep 6  # one more status line after the checks (it is printed every 5 s)
kill -TERM "$qs_pid"
set +e
wait "$qs_pid"; rc=$?
set -e
qs_pid=""
[ "$rc" = 0 ] || fail "the cluster demo exited $rc after SIGTERM"
grep -E 'screens online 3/3 · node 1 :[0-9]+ 2, node 2 :[0-9]+ 1 · plays counted [1-9]' "$work/run1.out" >/dev/null ||
  fail "the status line never showed both nodes with their screens and plays"
grep -q 'stopping PostgreSQL' "$work/run1.out" || fail "PostgreSQL was not stopped"
[ -z "$(leftovers)" ] || fail "processes left behind after SIGTERM:$(leftovers)"
pg_ctl_demo -D "$demo/postgres/data" status >/dev/null 2>&1 && fail "PostgreSQL still runs"
[ -z "$(ls "$demo/run")" ] || fail "pid files left in $demo/run"
plays1=$(grep -oE 'plays counted [0-9]+' "$work/run1.out" | tail -n 1 | grep -oE '[0-9]+$')

# --- The mode of a demo is kept: without --cluster it is refused, untouched.
set +e
out=$("$src/deploy/quickstart.sh" --no-build --bin "$bin" --dir "$demo" --for 1 2>&1); rc=$?
set -e
[ "$rc" = 1 ] && grep -q 'set up with --cluster' <<<"$out" || fail "a cluster demo run without --cluster ($rc): $out"
[ -z "$(leftovers)" ] || fail "processes left behind after the refused run:$(leftovers)"

# --- Second run, --for: the same cluster resumes (no new set-up), then stops cleanly by itself.
ids_before=$(jq -r .player_id "$demo"/screens/*/player.json | sort)
"$src/deploy/quickstart.sh" --no-build --bin "$bin" --dir "$demo" --cluster --for 40 >"$work/run2.out" 2>&1 ||
  fail "second cluster run exited $?"
grep -q 'first run' "$work/run2.out" && fail "second run set the demo up again instead of resuming"
grep -q 'creating the PostgreSQL cluster' "$work/run2.out" && fail "second run made a new PostgreSQL cluster"
grep -E 'screens online 3/3 · node 1 :[0-9]+ 2, node 2 :[0-9]+ 1' "$work/run2.out" >/dev/null ||
  fail "the second run's status line never showed the three screens back on their nodes"
[ "$(jq -r .player_id "$demo"/screens/*/player.json | sort)" = "$ids_before" ] || fail "the screens changed identity"
[ -z "$(leftovers)" ] || fail "processes left behind after --for:$(leftovers)"
pg_ctl_demo -D "$demo/postgres/data" status >/dev/null 2>&1 && fail "PostgreSQL still runs after --for"
echo "quickstart --cluster OK: two nodes on one PostgreSQL, $plays1 plays counted in the first run"
