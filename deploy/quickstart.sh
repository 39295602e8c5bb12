#!/usr/bin/env bash
# deploy/quickstart.sh — a Microscape demo network on this machine: a controller
# and three headless screens (商超, 地下车库出入口, 楼栋单元门口) playing a
# generated 普法 campaign. Run with --help for the options.
set -euo pipefail
# The whole script is one block, read before it runs: editing or updating the
# file while a demo runs cannot change the running script.
{

usage() {
  cat <<'EOF'
usage: deploy/quickstart.sh [OPTIONS]           start (or restart) the demo network
       deploy/quickstart.sh takeover [--dir DIR] [--minutes N]
                                                send a 反诈 takeover to every garage screen
                                                of the running demo (default 2 minutes)

Installs the Debian packages it needs (deploy/install-deps.sh, idempotent),
builds the controller, the player and microscape-pack in ./build (the same
build directory deploy/test.sh uses), then starts, all on 127.0.0.1:

  * microscape-controller with its embedded SQLite store;
  * three headless microscape-player screens enrolled with one-time tokens:
    商超 (mall), 地下车库出入口 (garage entrance), 楼栋单元门口 (building entrance);
  * on the first run only: users, locations, posters and clips made on the spot
    with ImageMagick and ffmpeg (反诈防骗, 一盔一带, 禁毒, 国家安全), approved by
    the approver, in playlists scheduled per venue type for the campaign
    "2026 冬季普法宣传周" (a week from today), and a fleet-wide filler.

It prints the console's https:// address and the demo logins, shows a live status line
(screens online, plays counted by the controller) and stops every process it
started on Ctrl-C or SIGTERM.

With --cluster the state lives in PostgreSQL instead, shared by two controller
nodes (docs/guide-operator.md, "Scaling"): a throwaway PostgreSQL 15 cluster
(initdb + pg_ctl, Debian's postgresql-15) in DIR/postgres, listening on a Unix
socket in that directory only; node 1 (DIR/controller) and node 2
(DIR/controller2, with node 1's keys copied and its media directory shared)
each serve the console and run a hub; the garage screen is enrolled with node 2,
the other two with node 1. A login on one node works on the other, and a
takeover made through node 1 reaches the garage screen on node 2. The status
line shows the screens connected to each node. PostgreSQL is stopped with
everything else. initdb refuses to run as root: as root, PostgreSQL's programs
run in a user namespace of their own (unshare --user), where they are not root.
A demo keeps the mode of its first run (--reset to change it).

Everything it writes is under the demo directory (default ~/microscape-demo):
controller/ (data), screens/NAME/ (each player's data, preview.png = what the
screen shows), content/ (generated media), logs/, logins.txt, demo.env.
A second run REUSES that directory: the same controller, screens, content and
play history restart where they stopped. --reset deletes it and builds a fresh
demo (new keys, new enrolments, a campaign starting today).

options:
  --dir DIR          demo directory (default ~/microscape-demo)
  --reset            delete the demo directory first (only one made by this script)
  --http-port N      console/API port (default 8080, else the next free one);
                     the hub's ZeroMQ port is chosen once (5560 or the next free)
  --screen WxH       the screens' size (default 1280x720; smaller costs less CPU)
  --no-build         do not build; use existing binaries (./build/bin or --bin)
  --bin DIR          directory with microscape-controller, -player, -pack
  --for SECONDS      run that long, then stop cleanly (tests, CI)
  --cluster          two controller nodes on a throwaway PostgreSQL (see above)
  -h, --help         this text

Exit status: 0 after a clean stop (Ctrl-C, SIGTERM or --for), 1 when something
failed (the message says what, the logs are in DIR/logs/), 2 for a usage error,
130 when stopped during the set-up (the next run then starts that set-up afresh).
EOF
}

root=$(cd "$(dirname "$0")/.." && pwd)
dir="${HOME:-/tmp}/microscape-demo"
reset=0 http_port="" screen_set=0 build=1 bin="" for_s=0 screen=1280x720 cmd=run minutes=2 cluster=0

die() { echo "quickstart: $*" >&2; exit 1; }
usage_err() { echo "quickstart: $*" >&2; echo "try: deploy/quickstart.sh --help" >&2; exit 2; }

if [ $# -gt 0 ] && [ "$1" = takeover ]; then cmd=takeover; shift; fi
while [ $# -gt 0 ]; do
  case $1 in
    --dir) [ $# -ge 2 ] || usage_err "--dir needs a value"; dir=$2; shift 2 ;;
    --reset) reset=1; shift ;;
    --http-port) [ $# -ge 2 ] || usage_err "--http-port needs a value"; http_port=$2; shift 2 ;;
    --screen) [ $# -ge 2 ] || usage_err "--screen needs a value"; screen=$2; screen_set=1; shift 2 ;;
    --no-build) build=0; shift ;;
    --bin) [ $# -ge 2 ] || usage_err "--bin needs a value"; bin=$2; build=0; shift 2 ;;
    --for) [ $# -ge 2 ] || usage_err "--for needs a value"; for_s=$2; shift 2 ;;
    --cluster) cluster=1; shift ;;
    --minutes) [ $# -ge 2 ] || usage_err "--minutes needs a value"; minutes=$2; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) usage_err "unknown option '$1'" ;;
  esac
done
[[ $for_s =~ ^[0-9]+$ ]] || usage_err "--for takes whole seconds"
[[ $minutes =~ ^[0-9]+$ ]] && [ "$minutes" -ge 1 ] || usage_err "--minutes takes a whole number >= 1"
[ -z "$http_port" ] || { [[ $http_port =~ ^[0-9]+$ ]] && [ "$http_port" -ge 1 ] && [ "$http_port" -le 65535 ]; } ||
  usage_err "--http-port takes a port number"
[[ $screen =~ ^([0-9]+)x([0-9]+)$ ]] || usage_err "--screen takes WIDTHxHEIGHT, e.g. 1280x720"
screen_w=${BASH_REMATCH[1]} screen_h=${BASH_REMATCH[2]}
case $dir in /*) ;; *) dir="$PWD/$dir" ;; esac
dir=${dir%/}

marker="$dir/.microscape-demo"
envfile="$dir/demo.env"
API=""          # https://127.0.0.1:PORT/api/v1 once known
# The controller serves HTTPS with a self-signed certificate made at its first
# start; curl trusts exactly that certificate (its key is what screens pin).
CACERT="$dir/controller/keys/tls-cert.pem"
ccurl() { curl --cacert "$CACERT" "$@"; }

# ---------------------------------------------------------------- helpers
urlenc() { jq -rn --arg s "$1" '$s|@uri'; }

# api METHOD PATH TOKEN [JSON] — prints the response body; fails on a non-2xx answer.
api() {
  local method=$1 path=$2 token=$3 body=${4:-} out code
  out=$(mktemp)
  local args=(-sS -o "$out" -w '%{http_code}' -X "$method" -H "Authorization: Bearer $token" --max-time 30)
  [ -z "$body" ] || args+=(-H 'Content-Type: application/json' --data-binary "$body")
  code=$(ccurl "${args[@]}" "$API$path") || { rm -f "$out"; die "$method $path: controller unreachable"; }
  if [ "${code:0:1}" != 2 ]; then
    local msg; msg=$(cat "$out"); rm -f "$out"
    die "$method $path answered $code: $msg"
  fi
  cat "$out"; rm -f "$out"
}

# upload TOKEN FILE NAME TAGS — prints the new media id.
upload() {
  local token=$1 file=$2 name=$3 tags=$4 out code
  out=$(mktemp)
  code=$(ccurl -sS -o "$out" -w '%{http_code}' --max-time 120 -H "Authorization: Bearer $token" \
           -H 'Content-Type: application/octet-stream' --data-binary "@$file" \
           "$API/media?filename=$(urlenc "$(basename "$file")")&name=$(urlenc "$name")&tags=$(urlenc "$tags")") ||
    { rm -f "$out"; die "upload $file: controller unreachable"; }
  [ "${code:0:1}" = 2 ] || { local m; m=$(cat "$out"); rm -f "$out"; die "upload $file answered $code: $m"; }
  jq -r .id "$out"; rm -f "$out"
}

# login USER PASSWORD — prints an API token (mst_…) made with a session.
login_token() {
  local user=$1 pw=$2 jar csrf out
  jar=$(mktemp)
  # The password goes through stdin, not the command line (visible in ps).
  out=$(jq -cn --arg u "$user" --arg p "$pw" '{username:$u,password:$p}' |
          ccurl -sS -f -c "$jar" -H 'Content-Type: application/json' --max-time 30 --data-binary @- "$API/login") ||
    { rm -f "$jar"; die "login as $user failed"; }
  csrf=$(jq -r .csrfToken <<<"$out")
  out=$(ccurl -sS -f -b "$jar" -H 'Content-Type: application/json' -H "X-CSRF-Token: $csrf" --max-time 30 \
          --data-binary '{"name":"quickstart"}' "$API/tokens") || { rm -f "$jar"; die "token for $user failed"; }
  rm -f "$jar"
  jq -r .token <<<"$out"
}

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
free_port_from() {
  local p=$1
  while port_busy "$p"; do
    p=$((p + 1))
    [ "$p" -lt $(($1 + 100)) ] || die "no free port in $1..$((p - 1))"
  done
  echo "$p"
}
password() { printf 'demo-%s' "$(od -An -tx1 -N5 /dev/urandom | tr -d ' \n')"; }
local_date() { TZ=Asia/Shanghai date "+%F" ${1:+-d "$1"}; }

# ---------------------------------------------------------------- takeover
if [ "$cmd" = takeover ]; then
  [ -f "$envfile" ] || die "no demo in $dir (start it with deploy/quickstart.sh first)"
  mkdir -p "$dir/run"
  export TMPDIR="$dir/run"   # temporary files (curl bodies) stay in the demo directory
  # shellcheck disable=SC1090
  . "$envfile"
  API="https://127.0.0.1:$HTTP_PORT/api/v1"
  ccurl -sf --max-time 5 "https://127.0.0.1:$HTTP_PORT/healthz" >/dev/null ||
    die "the demo controller is not running (start deploy/quickstart.sh --dir $dir in another terminal)"
  expires=$(date -u -d "+$minutes min" +%FT%TZ)
  body=$(jq -cn --argjson pl "$TAKEOVER_PLAYLIST" --arg e "$expires" --arg n "反诈紧急提醒（车库）" \
           '{name:$n, playlistId:$pl, target:{venueTypes:["garage_entrance"]}, expiresAt:$e}')
  id=$(api POST /takeovers "$EDITOR_TOKEN" "$body" | jq -r .id)
  echo "takeover $id sent to every 地下车库出入口 screen until $(TZ=Asia/Shanghai date -d "$expires" '+%H:%M:%S') (Asia/Shanghai)."
  echo "cancel it early in the console (紧急插播 → 取消) or: curl --cacert $CACERT -X POST -H 'Authorization: Bearer …' $API/takeovers/$id/cancel"
  exit 0
fi

# ---------------------------------------------------------------- set up
"$root/deploy/install-deps.sh"

if [ "$build" = 1 ]; then
  bdir="$root/build"
  echo "quickstart: building in $bdir (first time: several minutes)"
  cmake -S "$root" -B "$bdir" -G Ninja -DCMAKE_BUILD_TYPE="${CMAKE_BUILD_TYPE:-RelWithDebInfo}" >/dev/null
  # ninja shows its progress on one line in a terminal; compiler errors stay visible.
  cmake --build "$bdir" -j "$(nproc 2>/dev/null || echo 2)" \
    --target microscape-controller microscape-player microscape-pack ||
    die "build failed (see above; cmake --build $bdir repeats it)"
fi
bin=${bin:-$root/build/bin}
bin=$(cd "$bin" 2>/dev/null && pwd) || die "no binary directory $bin (build first, or drop --no-build)"
for b in microscape-controller microscape-player microscape-pack; do
  [ -x "$bin/$b" ] || die "$bin/$b is missing (build first, or drop --no-build)"
done

if [ -e "$dir" ] && [ ! -f "$marker" ] && [ -n "$(ls -A "$dir" 2>/dev/null)" ]; then
  die "$dir exists and was not made by the quickstart; choose another --dir"
fi
if [ "$reset" = 1 ] && [ -f "$marker" ]; then
  echo "quickstart: --reset: deleting $dir"
  rm -rf "$dir"
fi
if [ -f "$marker" ] && ! grep -q '^READY=1' "$envfile" 2>/dev/null; then
  echo "quickstart: the set-up in $dir did not finish last time; starting afresh"
  rm -rf "$dir"
fi
first=0
[ -f "$marker" ] || first=1
mkdir -p "$dir"
umask 077
touch "$marker"
mkdir -p "$dir/logs" "$dir/run" "$dir/controller" "$dir/screens"
export TMPDIR="$dir/run"   # temporary files (curl bodies, ImageMagick, ffmpeg) stay in the demo directory

# ---------------------------------------------------------------- processes
declare -A PIDS=()
stopping=0
stop_all() {
  local name
  # The screens first (each journals the play on air and sends what it can), then the controller(s).
  for name in "${!PIDS[@]}"; do [[ $name = controller* ]] || kill -TERM "${PIDS[$name]}" 2>/dev/null || true; done
  for name in "${!PIDS[@]}"; do [[ $name = controller* ]] || stop_one "$name"; done
  for name in "${!PIDS[@]}"; do [[ $name != controller* ]] || kill -TERM "${PIDS[$name]}" 2>/dev/null || true; done
  for name in "${!PIDS[@]}"; do [[ $name != controller* ]] || stop_one "$name"; done
  PIDS=()
}

# ---------------------------------------------------------------- PostgreSQL (--cluster)
pgdir="$dir/postgres"
pg_running=0
PG_BIN=""
for v in 15 16 17; do
  [ -x "/usr/lib/postgresql/$v/bin/pg_ctl" ] && { PG_BIN=/usr/lib/postgresql/$v/bin; break; }
done
# as_pg COMMAND... — a server program of PostgreSQL. initdb and postgres refuse to
# run as root; as root they run in a user namespace of their own, where they are
# an ordinary user (their files stay the demo directory's owner's).
as_pg() {
  if [ "$(id -u)" = 0 ]; then unshare --user --map-user=65534 --map-group=65534 "$@"; else "$@"; fi
}
pg_stop() {
  [ "$pg_running" = 1 ] || return 0
  pg_running=0
  as_pg "$PG_BIN/pg_ctl" -D "$pgdir/data" -m fast -w -t 30 stop >>"$dir/logs/postgres.log" 2>&1 ||
    echo "quickstart: PostgreSQL did not stop cleanly (see $dir/logs/postgres.log)" >&2
}
pg_start() {
  [ -n "$PG_BIN" ] || die "--cluster needs PostgreSQL's server programs (Debian: postgresql-15)"
  # A Unix socket path is at most 107 bytes.
  [ ${#pgdir} -le 90 ] || die "--cluster: the demo directory's path is too long for PostgreSQL's socket; choose a shorter --dir"
  if [ ! -f "$pgdir/data/PG_VERSION" ]; then
    rm -rf "$pgdir"
    mkdir -p "$pgdir"
    echo "quickstart: creating the PostgreSQL cluster in $pgdir"
    # trust: the only way in is the socket in this directory (mode 0700, no TCP listener).
    as_pg "$PG_BIN/initdb" -D "$pgdir/data" -U microscape --auth=trust -E UTF8 --locale=C.UTF-8 \
      >>"$dir/logs/postgres.log" 2>&1 || die "initdb failed (see $dir/logs/postgres.log)"
  fi
  if as_pg "$PG_BIN/pg_ctl" -D "$pgdir/data" status >/dev/null 2>&1; then
    die "an earlier demo's PostgreSQL still runs on $pgdir; stop it first: $PG_BIN/pg_ctl -D $pgdir/data stop"
  fi
  echo "quickstart: starting PostgreSQL (socket in $pgdir)"
  as_pg "$PG_BIN/pg_ctl" -D "$pgdir/data" -l "$dir/logs/postgres.log" -w -t 60 \
    -o "-k $pgdir -c listen_addresses=" start >/dev/null || die "PostgreSQL did not start (see $dir/logs/postgres.log)"
  pg_running=1
  if ! "$PG_BIN/psql" -X -q -At -h "$pgdir" -U microscape -d postgres \
         -c "SELECT 1 FROM pg_database WHERE datname = 'microscape'" 2>>"$dir/logs/postgres.log" | grep -qx 1; then
    "$PG_BIN/createdb" -h "$pgdir" -U microscape -E UTF8 -T template0 microscape >>"$dir/logs/postgres.log" 2>&1 ||
      die "createdb failed (see $dir/logs/postgres.log)"
  fi
}
pg_alive() { as_pg "$PG_BIN/pg_ctl" -D "$pgdir/data" status >/dev/null 2>&1; }
stop_one() {
  local name=$1 pid
  pid=${PIDS[$name]}
  for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then
    echo "quickstart: $name (pid $pid) did not stop in 10 s; killing it" >&2
    kill -KILL "$pid" 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null || true
  rm -f "$dir/run/$name.pid"
}
on_exit() {
  local rc=$?
  trap - EXIT INT TERM
  [ -z "${sleeper:-}" ] || kill "$sleeper" 2>/dev/null || true
  [ -t 1 ] && printf '\n'
  if [ ${#PIDS[@]} -gt 0 ]; then
    echo "quickstart: stopping the screens, then the controller$([ "$cluster" = 1 ] && echo ' nodes')"
    stop_all
  fi
  if [ "$pg_running" = 1 ]; then
    echo "quickstart: stopping PostgreSQL"
    pg_stop
  fi
  if grep -q '^READY=1' "$envfile" 2>/dev/null; then
    echo "quickstart: stopped; the demo data stays in $dir (run again to resume, --reset to start afresh)"
  else
    echo "quickstart: stopped before the set-up finished; the next run starts it afresh"
  fi
  exit "$rc"
}
trap on_exit EXIT
# A signal during the set-up stops at once; in the status loop it ends the loop (exit 0).
in_loop=0
on_signal() { stopping=1; [ "$in_loop" = 1 ] || exit 130; }
trap on_signal INT TERM

# start NAME LOGFILE COMMAND... — runs COMMAND in the background (its output to
# LOGFILE) in a session of its own, so that Ctrl-C in the terminal reaches only
# this script, which then stops the screens before the controller.
start() {
  local name=$1 log=$2; shift 2
  setsid "$@" >>"$log" 2>&1 </dev/null &
  PIDS[$name]=$!
  echo "${PIDS[$name]}" >"$dir/run/$name.pid"
}
alive() { kill -0 "${PIDS[$1]}" 2>/dev/null; }

# A stale process of an earlier run on the same directory (killed -9) would hold the ports.
for f in "$dir"/run/*.pid; do
  [ -e "$f" ] || continue
  p=$(cat "$f")
  if kill -0 "$p" 2>/dev/null && tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | grep -qF -- "$dir/"; then
    die "an earlier demo process (pid $p, $(basename "$f" .pid)) still runs on $dir; stop it first: kill $p"
  fi
  rm -f "$f"
done

# next_free_port FROM TAKEN... — the first free port from FROM that is none of TAKEN.
next_free_port() {
  local p=$1 t; shift
  while :; do
    p=$(free_port_from "$p")
    for t in "$@"; do [ "$p" != "$t" ] || { p=$((p + 1)); continue 2; }; done
    echo "$p"; return
  done
}
if [ "$first" = 1 ]; then
  HTTP_PORT=${http_port:-$(free_port_from 8080)}
  ZMQ_PORT=$(next_free_port 5560 "$HTTP_PORT")
  CLUSTER=$cluster HTTP_PORT2="" ZMQ_PORT2=""
  if [ "$cluster" = 1 ]; then
    # (each hub's bulk channel takes its port + 1 when free)
    HTTP_PORT2=$(next_free_port $((HTTP_PORT + 1)) "$ZMQ_PORT" $((ZMQ_PORT + 1)))
    ZMQ_PORT2=$(next_free_port $((ZMQ_PORT + 2)) "$HTTP_PORT" "$HTTP_PORT2")
  fi
else
  # shellcheck disable=SC1090
  . "$envfile"
  HTTP_PORT=${http_port:-$HTTP_PORT}
  CLUSTER=${CLUSTER:-0}
  [ "$CLUSTER" = "$cluster" ] || die "the demo in $dir was set up $([ "$CLUSTER" = 1 ] && echo with || echo without) --cluster; run it the same way, or with --reset"
  port_busy "$ZMQ_PORT" && die "port $ZMQ_PORT (the screens' hub, pinned at enrolment) is in use; free it or run with --reset"
  if [ "$cluster" = 1 ]; then
    port_busy "$ZMQ_PORT2" && die "port $ZMQ_PORT2 (node 2's hub, pinned at enrolment) is in use; free it or run with --reset"
    port_busy "$HTTP_PORT2" && die "port $HTTP_PORT2 (node 2's console, pinned at enrolment) is in use; free it or run with --reset"
  fi
fi
port_busy "$HTTP_PORT" && die "port $HTTP_PORT is in use; choose another with --http-port"
API="https://127.0.0.1:$HTTP_PORT/api/v1"
API2=""
store_args=()
if [ "$cluster" = 1 ]; then
  API2="https://127.0.0.1:$HTTP_PORT2/api/v1"
  STORE_URL="postgresql:///microscape?host=$pgdir&user=microscape"
  store_args=(--store "$STORE_URL")
  pg_start
fi

if [ "$first" = 1 ]; then
  ADMIN_PW=$(password) EDITOR_PW=$(password) APPROVER_PW=$(password) AUDITOR_PW=$(password)
  MICROSCAPE_ADMIN_PASSWORD=$ADMIN_PW "$bin/microscape-controller" --data-dir "$dir/controller" "${store_args[@]}" \
    --init-admin admin >>"$dir/logs/controller.log" 2>&1 || die "controller --init-admin failed (see $dir/logs/controller.log)"
fi

# wait_controller NAME PORT — until the node answers /healthz over HTTPS.
wait_controller() {
  for _ in $(seq 1 150); do
    [ -f "$CACERT" ] && ccurl -sf --max-time 2 "https://127.0.0.1:$2/healthz" >/dev/null && break
    alive "$1" || die "$1 stopped at start (see $dir/logs/$1.log)"
    sleep 0.2
  done
  ccurl -sf --max-time 2 "https://127.0.0.1:$2/healthz" >/dev/null || die "$1 does not answer on $2"
}
echo "quickstart: starting the controller$([ "$cluster" = 1 ] && echo ' (node 1)') on 127.0.0.1:$HTTP_PORT (hub $ZMQ_PORT)"
start controller "$dir/logs/controller.log" "$bin/microscape-controller" --data-dir "$dir/controller" "${store_args[@]}" \
  --http-port "$HTTP_PORT" --zmq-port "$ZMQ_PORT" --bind 127.0.0.1
wait_controller controller "$HTTP_PORT"
if [ "$cluster" = 1 ]; then
  # Node 2 keeps its own data directory: node 1's keys (the content signing key,
  # the hub's CURVE key and the TLS certificate every screen pins) copied, and
  # node 1's media directory shared (a network file system in a real deployment).
  if [ ! -d "$dir/controller2/keys" ]; then
    mkdir -p "$dir/controller2"
    cp -a "$dir/controller/keys" "$dir/controller2/keys"
  fi
  [ -L "$dir/controller2/media" ] || ln -s ../controller/media "$dir/controller2/media"
  echo "quickstart: starting node 2 on 127.0.0.1:$HTTP_PORT2 (hub $ZMQ_PORT2), same PostgreSQL database"
  start controller2 "$dir/logs/controller2.log" "$bin/microscape-controller" --data-dir "$dir/controller2" \
    "${store_args[@]}" --http-port "$HTTP_PORT2" --zmq-port "$ZMQ_PORT2" --bind 127.0.0.1
  wait_controller controller2 "$HTTP_PORT2"
fi

# ---------------------------------------------------------------- first run: the demo data
SCREENS=(mall garage building)
screen_node() { [ "$cluster" = 1 ] && [ "$1" = garage ] && echo 2 || echo 1; }
declare -A SCREEN_NAME=([mall]="万象城商场 一楼中庭屏" [garage]="锦绣花园 地下车库出入口屏" [building]="幸福里小区 3栋1单元门口屏")

make_poster() {  # FILE BG1 BG2 TITLE LINE1 LINE2
  local bold=/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc reg=/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc
  /usr/bin/convert -size 1280x720 "gradient:$2-$3" -depth 8 -alpha off \
    -font "$bold" -fill white -gravity north -pointsize 110 -annotate +0+150 "$4" \
    -font "$reg" -pointsize 44 -annotate +0+330 "$5" \
    -pointsize 30 -fill '#ffd54f' -annotate +0+420 "$6" \
    -gravity south -fill '#eeeeee' -pointsize 24 -annotate +0+40 "2026 冬季普法宣传周 · 市公安局" "$1"
}
make_clip() {  # FILE BG TITLE CAPTION — 4 s H.264 with a sliding bar
  local bold=/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc reg=/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc
  local frame="$1.frame.png"
  /usr/bin/convert -size 1280x720 "xc:$2" -depth 8 -alpha off -font "$bold" -fill white -gravity center \
    -pointsize 90 -annotate +0-60 "$3" -font "$reg" -pointsize 40 -fill '#ffeb3b' -annotate +0+60 "$4" "$frame"
  ffmpeg -hide_banner -loglevel error -nostdin -y -loop 1 -framerate 25 -i "$frame" -f lavfi -i "color=c=white:s=1280x14:r=25" \
    -filter_complex "[0][1]overlay=x='-W+W*t/4':y=H-60,format=yuv420p" -t 4 \
    -c:v libx264 -preset ultrafast -tune stillimage -crf 28 -movflags +faststart "$1"
  rm -f "$frame"
}

setup_demo() {
  local approver c="$dir/content"
  echo "quickstart: first run: users, locations, screens, content and the campaign"
  ADMIN_TOKEN=$(login_token admin "$ADMIN_PW")
  api POST /users "$ADMIN_TOKEN" "$(jq -cn --arg p "$EDITOR_PW" \
    '{username:"editor",password:$p,role:"editor",department:"宣传科",displayName:"宣传科 编辑"}')" >/dev/null
  api POST /users "$ADMIN_TOKEN" "$(jq -cn --arg p "$APPROVER_PW" \
    '{username:"approver",password:$p,role:"approver",displayName:"宣传处 审核"}')" >/dev/null
  api POST /users "$ADMIN_TOKEN" "$(jq -cn --arg p "$AUDITOR_PW" \
    '{username:"auditor",password:$p,role:"auditor",displayName:"审计"}')" >/dev/null
  EDITOR_TOKEN=$(login_token editor "$EDITOR_PW")
  approver=$(login_token approver "$APPROVER_PW")

  # Locations (Asia/Shanghai, with districts), then one enrolment token per screen.
  local -A loc=()
  loc[mall]=$(api POST /locations "$ADMIN_TOKEN" '{"name":"万象城商场","venueType":"mall","district":"江南区","address":"江南大道 88 号 一楼中庭","tags":["商圈"],"timezone":"Asia/Shanghai"}' | jq -r .id)
  loc[garage]=$(api POST /locations "$ADMIN_TOKEN" '{"name":"锦绣花园 地下车库","venueType":"garage_entrance","district":"城北区","address":"锦绣路 12 号 B1 出入口","tags":["住宅小区"],"timezone":"Asia/Shanghai"}' | jq -r .id)
  loc[building]=$(api POST /locations "$ADMIN_TOKEN" '{"name":"幸福里小区 3栋","venueType":"building_entrance","district":"高新区","address":"幸福里 3 栋 1 单元","tags":["住宅小区"],"timezone":"Asia/Shanghai"}' | jq -r .id)
  # Each screen runs the technician's command from the token's answer: it pins
  # the controller's TLS key and content signing key (docs/guide-technician.md).
  local s cmdline i
  local -a argv
  # With --cluster the garage screen is enrolled through node 2 (its command names
  # node 2's address and hub), the others through node 1.
  for s in "${SCREENS[@]}"; do
    cmdline=$([ "$(screen_node "$s")" = 1 ] || API=$API2
              api POST /enrollment-tokens "$ADMIN_TOKEN" \
                "$(jq -cn --arg n "${SCREEN_NAME[$s]}" --argjson l "${loc[$s]}" '{name:$n,locationId:$l,ttlSeconds:3600}')" |
                jq -r .command)
    read -r -a argv <<<"$cmdline"
    [ "${argv[0]:-}" = microscape-player ] && [ "${argv[1]:-}" = enroll ] || die "unexpected enrolment command: $cmdline"
    argv[0]="$bin/microscape-player"
    for i in "${!argv[@]}"; do [ "${argv[$i]}" != --data-dir ] || argv[$((i + 1))]="$dir/screens/$s"; done
    "${argv[@]}" --name "${SCREEN_NAME[$s]}" --width "$screen_w" --height "$screen_h" \
      >>"$dir/logs/$s.log" 2>&1 || die "enrolment of $s failed (see $dir/logs/$s.log)"
  done

  # Content made on the spot: four posters, three clips, a filler and a takeover card.
  mkdir -p "$c"
  echo "quickstart: making posters and clips in $c"
  make_poster "$c/反诈防骗海报.png" '#c62828' '#3e0000' '反诈防骗' '不听 不信 不转账' '陌生来电要警惕 · 全民反诈 人人有责'
  make_poster "$c/一盔一带海报.png" '#1565c0' '#0a1f44' '一盔一带' '骑乘电动车 佩戴安全头盔' '开车坐车 系好安全带'
  make_poster "$c/禁毒海报.png" '#2e7d32' '#0b2610' '珍爱生命 远离毒品' '识毒 防毒 拒毒' '发现涉毒线索 请拨打 110'
  make_poster "$c/国家安全海报.png" '#b71c1c' '#4a148c' '国家安全 人人有责' '维护国家安全是每个公民的义务' '发现危害国家安全行为 请拨打 12339'
  make_poster "$c/法治宣传垫片.png" '#455a64' '#102027' '学法 守法 用法' '法治社会 共建共享' '市公安局 普法宣传'
  make_poster "$c/反诈紧急提醒.png" '#ff6f00' '#b71c1c' '紧急提醒' '近期冒充客服退款诈骗高发' '凡是要求转账的 都是诈骗'
  make_clip "$c/反诈短片.mp4" '#8e0000' '谨防电信网络诈骗' '下载国家反诈中心 App · 接到 96110 来电请接听'
  make_clip "$c/一盔一带短片.mp4" '#0d47a1' '一盔一带 安全常在' '骑电动车戴头盔 · 坐车系好安全带'
  make_clip "$c/国家安全短片.mp4" '#4a148c' '4·15 全民国家安全教育日' '总体国家安全观 · 国家安全 人人有责'

  # Upload (editor), submit, approve (approver: nobody approves their own upload).
  local -A m=()
  m[fz]=$(upload "$EDITOR_TOKEN" "$c/反诈防骗海报.png" "反诈防骗海报" "反诈防骗")
  m[yk]=$(upload "$EDITOR_TOKEN" "$c/一盔一带海报.png" "一盔一带海报" "一盔一带,文明交通")
  m[jd]=$(upload "$EDITOR_TOKEN" "$c/禁毒海报.png" "禁毒海报" "禁毒")
  m[ga]=$(upload "$EDITOR_TOKEN" "$c/国家安全海报.png" "国家安全海报" "国家安全")
  m[fill]=$(upload "$EDITOR_TOKEN" "$c/法治宣传垫片.png" "法治宣传垫片" "法治教育")
  m[alert]=$(upload "$EDITOR_TOKEN" "$c/反诈紧急提醒.png" "反诈紧急提醒" "反诈防骗")
  m[fzv]=$(upload "$EDITOR_TOKEN" "$c/反诈短片.mp4" "反诈短片" "反诈防骗")
  m[ykv]=$(upload "$EDITOR_TOKEN" "$c/一盔一带短片.mp4" "一盔一带短片" "一盔一带")
  m[gav]=$(upload "$EDITOR_TOKEN" "$c/国家安全短片.mp4" "国家安全短片" "国家安全")
  local k
  for k in "${!m[@]}"; do
    api POST "/media/${m[$k]}/submit" "$EDITOR_TOKEN" '{}' >/dev/null
    api POST "/media/${m[$k]}/approve" "$approver" '{}' >/dev/null
  done

  # Playlists per venue type (stills 6 s), the filler and the takeover card.
  playlist() {  # NAME ITEM... (ITEM = media key; stills get 6 s)
    local name=$1 items="[]" k; shift
    for k in "$@"; do
      case $k in
        *v) items=$(jq -c --argjson id "${m[$k]}" '. + [{mediaId:$id}]' <<<"$items") ;;
        *) items=$(jq -c --argjson id "${m[$k]}" '. + [{mediaId:$id,durationMs:6000}]' <<<"$items") ;;
      esac
    done
    api POST /playlists "$EDITOR_TOKEN" "$(jq -cn --arg n "$name" --argjson i "$items" '{name:$n,items:$i}')" | jq -r .id
  }
  local pmall pgarage pbuilding pfill
  pmall=$(playlist "商超 · 冬季普法" fz fzv jd ga)
  pgarage=$(playlist "地下车库 · 冬季普法" yk ykv fz)
  pbuilding=$(playlist "楼栋单元门 · 冬季普法" jd ga gav fz)
  pfill=$(playlist "全市垫片 · 法治宣传" fill)
  TAKEOVER_PLAYLIST=$(playlist "反诈紧急插播" alert)
  api PUT /settings/filler "$ADMIN_TOKEN" "{\"playlistId\":$pfill}" >/dev/null

  # The campaign (a week from today, Asia/Shanghai) and one schedule per venue type.
  local from to cmp
  from=$(local_date) to=$(local_date "+6 day")
  cmp=$(api POST /campaigns "$EDITOR_TOKEN" "$(jq -cn --arg f "$from" --arg t "$to" \
          '{name:"2026 冬季普法宣传周",theme:"法治教育",startsOn:$f,endsOn:$t}')" | jq -r .id)
  schedule() {  # NAME PLAYLIST VENUE
    api POST /schedules "$EDITOR_TOKEN" "$(jq -cn --arg n "$1" --argjson p "$2" --arg v "$3" --argjson c "$cmp" \
      --arg f "$from" --arg t "$to" '{name:$n,playlistId:$p,campaignId:$c,priority:10,startsOn:$f,endsOn:$t,target:{venueTypes:[$v]}}')" >/dev/null
  }
  schedule "冬季普法 · 全部商超" "$pmall" mall
  schedule "冬季普法 · 全部地下车库出入口" "$pgarage" garage_entrance
  schedule "冬季普法 · 全部楼栋单元门口" "$pbuilding" building_entrance

  cat >"$dir/logins.txt" <<EOF
console  https://127.0.0.1:$HTTP_PORT/$([ "$cluster" = 1 ] && printf '   (node 2: https://127.0.0.1:%s/)' "$HTTP_PORT2")
admin     $ADMIN_PW      管理员 admin: users, locations, enrolment, everything
editor    $EDITOR_PW      宣传科编辑 editor: upload, playlists, schedules, takeovers
approver  $APPROVER_PW      审核 approver: approves or rejects uploads
auditor   $AUDITOR_PW      审计 auditor: reports, audit log, evidence export
EOF
  {
    echo "# written by deploy/quickstart.sh: ports, logins and API tokens of this demo"
    printf '%s=%q\n' HTTP_PORT "$HTTP_PORT" ZMQ_PORT "$ZMQ_PORT" SCREEN "$screen" \
      CLUSTER "$cluster" HTTP_PORT2 "$HTTP_PORT2" ZMQ_PORT2 "$ZMQ_PORT2" \
      ADMIN_PW "$ADMIN_PW" EDITOR_PW "$EDITOR_PW" APPROVER_PW "$APPROVER_PW" AUDITOR_PW "$AUDITOR_PW" \
      ADMIN_TOKEN "$ADMIN_TOKEN" EDITOR_TOKEN "$EDITOR_TOKEN" TAKEOVER_PLAYLIST "$TAKEOVER_PLAYLIST" \
      CAMPAIGN_ID "$cmp" CAMPAIGN_FROM "$from" CAMPAIGN_TO "$to"
    echo "READY=1"
  } >"$envfile"
}

if [ "$first" = 1 ]; then
  t0=$SECONDS
  setup_demo
  echo "quickstart: demo set up in $((SECONDS - t0)) s"
elif [ -n "$http_port" ]; then
  sed -i "s/^HTTP_PORT=.*/HTTP_PORT=$HTTP_PORT/" "$envfile"
  sed -i "s|^console  https://127.0.0.1:[0-9]*/|console  https://127.0.0.1:$HTTP_PORT/|" "$dir/logins.txt"
fi

# ---------------------------------------------------------------- the screens
run_flags=()
"$bin/microscape-player" --help 2>&1 | grep -q -- '--headless' && run_flags+=(--headless)
[ "$screen_set" = 1 ] || screen=${SCREEN:-$screen}
sw=${screen%x*} sh=${screen#*x}
for s in "${SCREENS[@]}"; do
  start "$s" "$dir/logs/$s.log" "$bin/microscape-player" run --data-dir "$dir/screens/$s" "${run_flags[@]}" \
    --width "$sw" --height "$sh"
done

cat <<EOF

  Microscape demo network — 2026 冬季普法宣传周
  console 控制台:  https://127.0.0.1:$HTTP_PORT/$([ "$cluster" = 1 ] && printf '  (node 1)\n                   https://127.0.0.1:%s/  (node 2; one PostgreSQL database: %s)' "$HTTP_PORT2" "$pgdir")
                   (a self-signed certificate made by the controller: the browser asks
                   once; its key is $(openssl x509 -in "$CACERT" -pubkey -noout | openssl pkey -pubin -outform der | sha256sum | cut -c1-64 | sed 's/^/sha256:/'))
  logins 登录 (also in $dir/logins.txt):
$(sed -n '2,$p' "$dir/logins.txt" | sed 's/^/    /')
  screens 屏幕 (what each shows: $dir/screens/NAME/preview.png):
    mall      ${SCREEN_NAME[mall]}        商超$([ "$cluster" = 1 ] && echo '            node 1')
    garage    ${SCREEN_NAME[garage]}  地下车库出入口$([ "$cluster" = 1 ] && echo '  node 2')
    building  ${SCREEN_NAME[building]}  楼栋单元门口$([ "$cluster" = 1 ] && echo '    node 1')
  takeover 紧急插播:  deploy/quickstart.sh takeover$( [ "$dir" = "${HOME:-/tmp}/microscape-demo" ] || printf ' --dir %q' "$dir")
                     (2 minutes of 反诈紧急提醒 on the garage screen), or the console's 紧急插播 page
  logs 日志: $dir/logs/      stop 停止: Ctrl-C

EOF

# ---------------------------------------------------------------- live status
declare -A SCREEN_LABEL=([mall]=商超 [garage]=车库 [building]=楼栋) SCREEN_ID=()
for s in "${SCREENS[@]}"; do
  SCREEN_ID[$s]=$(jq -r .player_id "$dir/screens/$s/player.json")
done
status_line() {
  local players plays online today tko
  today=$(local_date)
  players=$(ccurl -sf --max-time 3 -H "Authorization: Bearer $ADMIN_TOKEN" "$API/players" 2>/dev/null) || players=""
  plays=$(ccurl -sf --max-time 3 -H "Authorization: Bearer $ADMIN_TOKEN" \
            "$API/reports/plays?from=$(local_date '-365 day')&to=$today&by=screen" 2>/dev/null) || plays=""
  tko=$(ccurl -sf --max-time 3 -H "Authorization: Bearer $ADMIN_TOKEN" "$API/takeovers" 2>/dev/null |
          jq -r '[(.takeovers // .)[] | select(.active)] | length' 2>/dev/null) || tko=""
  if [ -z "$players" ]; then
    printf '%s  controller not answering' "$(TZ=Asia/Shanghai date +%T)"
    return
  fi
  # A node's /players says online for the screens connected to its own hub.
  online=$(jq '[.players[] | select(.online)] | length' <<<"$players")
  local nodes="" players2 on2
  if [ "$cluster" = 1 ]; then
    nodes=" · node 1 :$HTTP_PORT $online"
    if players2=$(ccurl -sf --max-time 3 -H "Authorization: Bearer $ADMIN_TOKEN" "$API2/players" 2>/dev/null); then
      on2=$(jq '[.players[] | select(.online)] | length' <<<"$players2")
      online=$((online + on2))
      nodes+=", node 2 :$HTTP_PORT2 $on2"
    else
      nodes+=", node 2 :$HTTP_PORT2 not answering"
    fi
  fi
  local per="" s id n
  if [ -n "$plays" ]; then
    for s in "${SCREENS[@]}"; do
      id=${SCREEN_ID[$s]}
      n=$(jq --arg id "$id" '[(.rows // [])[] | select(.screen == $id) | .plays] | add // 0' <<<"$plays" 2>/dev/null) || n="?"
      per+="${per:+, }${SCREEN_LABEL[$s]} $n"
    done
    plays=$(jq '[(.rows // [])[] | .plays] | add // 0' <<<"$plays" 2>/dev/null) || plays="?"
  else
    plays="?"
  fi
  printf '%s  screens online %s/%s%s · plays counted %s (%s)%s' "$(TZ=Asia/Shanghai date +%T)" "$online" \
    "$(jq '.players | length' <<<"$players")" "$nodes" "$plays" "$per" "$( [ "${tko:-0}" -gt 0 ] 2>/dev/null && echo ' · 紧急插播 live')"
}

started=$SECONDS
sleeper=""
in_loop=1
while [ "$stopping" = 0 ]; do
  for s in "${!PIDS[@]}"; do
    alive "$s" || [ "$stopping" = 1 ] || die "$s stopped unexpectedly (see $dir/logs/$s.log)"
  done
  [ "$cluster" = 0 ] || pg_alive || [ "$stopping" = 1 ] || { pg_running=0; die "PostgreSQL stopped unexpectedly (see $dir/logs/postgres.log)"; }
  line=$(status_line)
  if [ -t 1 ]; then printf '\r\033[K%s' "$line"; else printf 'status: %s\n' "$line"; fi
  if [ "$for_s" -gt 0 ] && [ $((SECONDS - started)) -ge "$for_s" ]; then break; fi
  sleep 5 &
  sleeper=$!
  wait "$sleeper" || true
done
exit 0
}
