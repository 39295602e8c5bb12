#!/usr/bin/env bash
# systemd_units.sh BUILD_DIR — the packages' units under a real systemd: a
# Debian 12 root (debootstrap, cached) gets the three .deb packages, boots in
# systemd-nspawn with systemd as PID 1 and its own network, and then:
#   - the controller unit starts, answers /healthz, logs to journald with
#     priorities, and probes an upload inside its sandbox;
#   - a screen is enrolled with the console's command and the player unit
#     (Type=notify, watchdog) starts headless, comes online and plays a
#     scheduled poster;
#   - systemd-analyze security on the live units: <= 2.0 and <= 2.5;
#   - a configuration error stops the controller with 78 and no restarts;
#   - reinstalling the package restarts a running controller;
#   - a purge removes the units' enable links.
# Skips (77) without root, systemd-nspawn or debootstrap, or when the Debian
# mirror cannot be reached to make the root.
set -euo pipefail
build=$(cd "$1" && pwd)
skip() {
  echo "SKIP: $*"
  exit 77
}
[ "$(id -u)" -eq 0 ] || skip "needs root (debootstrap, systemd-nspawn)"
command -v systemd-nspawn >/dev/null || skip "no systemd-nspawn (package systemd-container)"
command -v debootstrap >/dev/null || skip "no debootstrap"

mirror=$(sed -n 's/^URIs: *\(http[^ ]*debian\)$/\1/p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -1)
mirror=${mirror:-http://deb.debian.org/debian}
cache=${MICROSCAPE_TEST_CACHE:-/var/cache/microscape-tests}
base="$cache/bookworm-systemd-root.tar"
work=$(mktemp -d /var/tmp/microscape-units.XXXXXX)
root="$work/root"
nspawn_pid=""
pid=""
ct() { nsenter -t "$pid" -a "$@"; }   # a command inside the container
net() { nsenter -t "$pid" -n "$@"; }  # a host command in the container's network
cleanup() {
  if [ -n "$nspawn_pid" ] && kill -0 "$nspawn_pid" 2>/dev/null; then
    kill -TERM "$nspawn_pid" 2>/dev/null || true # nspawn shuts the container down cleanly
    for _ in $(seq 1 60); do kill -0 "$nspawn_pid" 2>/dev/null || break; sleep 0.5; done
    kill -KILL "$nspawn_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*" >&2
  if [ -n "$pid" ]; then
    ct journalctl --no-pager -n 60 -u microscape-controller -u microscape-player >&2 || true
  fi
  exit 1
}

# 1. The root: Debian 12 with systemd, made once and kept as a tar.
mkdir -p "$cache"
(
  flock 9
  if [ ! -s "$base" ]; then
    tmp=$(mktemp -d /var/tmp/microscape-debootstrap.XXXXXX)
    if ! debootstrap --variant=minbase --include=systemd,systemd-sysv,dbus,ca-certificates,curl \
      bookworm "$tmp/root" "$mirror" >"$tmp/log" 2>&1; then
      tail -5 "$tmp/log"
      rm -rf "$tmp"
      exit 3
    fi
    tar -C "$tmp/root" -cf "$base.part" . && mv "$base.part" "$base"
    rm -rf "$tmp"
  fi
) 9>"$cache/.lock" || skip "debootstrap from $mirror failed (no Debian mirror reachable?)"
mkdir "$root"
tar -C "$root" -xf "$base"

# 2. The packages, installed with their dependencies as an administrator would.
(cd "$build" && cpack -B "$work/out" >"$work/cpack.log" 2>&1) || {
  cat "$work/cpack.log"
  fail "cpack failed"
}
mkdir -p "$root/var/tmp/debs"
cp "$work"/out/microscape-{controller,pack,player}_*.deb "$root/var/tmp/debs/"
systemd-nspawn -q -D "$root" --register=no --keep-unit --pipe sh -c \
  'apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends /var/tmp/debs/*.deb' \
  >"$work/install.log" 2>&1 || {
  tail -20 "$work/install.log"
  fail "installing the packages failed"
}
# No X server here: the player draws headless (the unit is the same).
sed -i 's/^player.output = display$/player.output = headless/' "$root/etc/microscape/player.properties"
grep -q '^player.output = headless$' "$root/etc/microscape/player.properties" || fail "player.properties: no output key"

# 3. Boot: systemd as PID 1, a private network (loopback only).
systemd-nspawn -q -D "$root" --boot --register=no --keep-unit --private-network --console=read-only \
  --machine="microscape-units-$$" >"$work/console.log" 2>&1 &
nspawn_pid=$!
for _ in $(seq 1 100); do
  pid=$(pgrep -P "$nspawn_pid" -x systemd || true)
  [ -n "$pid" ] && break
  sleep 0.2
done
[ -n "$pid" ] || {
  cat "$work/console.log"
  skip "systemd-nspawn could not boot a container here"
}
# Until systemd has opened its bus, systemctl cannot ask it anything: retry.
state=""
for _ in $(seq 1 240); do
  state=$(timeout 120 nsenter -t "$pid" -a systemctl is-system-running --wait 2>/dev/null || true)
  case "$state" in running | degraded) break ;; esac
  sleep 0.5
done
[ "$state" = running ] || [ "$state" = degraded ] || fail "the container did not boot: '$state'"

# 4. The controller, as the operator's guide says: enable and start it.
ct systemctl enable --now microscape-controller >/dev/null 2>&1 || fail "enable --now microscape-controller"
health=""
for _ in $(seq 1 60); do
  health=$(net curl -skf https://127.0.0.1:8080/healthz 2>/dev/null) && break
  sleep 0.5
done
echo "$health" | grep -q '"status":"ok"' || fail "no /healthz from the controller unit: $(ct systemctl is-active microscape-controller)"
[ "$(ct systemctl show -p NRestarts --value microscape-controller)" = 0 ] || fail "the controller restarted"
# journald: its own priority on each line, no second timestamp in the message.
ct journalctl -u microscape-controller -o json --no-pager | python3 -c '
import json, re, sys
lines = [json.loads(l) for l in sys.stdin]
own = [e for e in lines if e.get("SYSLOG_IDENTIFIER") == "microscape-controller"]
assert own, "no controller lines in the journal"
listening = [e for e in own if "listening on" in e["MESSAGE"]]
assert listening and listening[0]["PRIORITY"] == "6", "the start-up line is not at priority info"
stamped = [e["MESSAGE"] for e in own if re.match(r"^\d{4}-\d\d-\d\d[T ]\d\d:\d\d", e["MESSAGE"])]
assert not stamped, "timestamps inside messages: %r" % stamped[:2]
' || fail "controller journal lines"

# 5. Content: an admin, an approver, an upload probed in the sandbox, approved.
password='Units-test-pass-1'
ct env MICROSCAPE_ADMIN_PASSWORD="$password" runuser -u microscape-controller -- \
  microscape-controller --config /etc/microscape/controller.properties --init-admin admin >/dev/null ||
  fail "--init-admin as microscape-controller"
api() { # api USER METHOD PATH [JSON] -> body on stdout; fails unless 2xx
  local jar="$work/$1.jar" csrf
  csrf=$(cat "$work/$1.csrf")
  net curl -skf -b "$jar" -H "X-CSRF-Token: $csrf" -H 'Content-Type: application/json' -X "$2" \
    ${4:+-d "$4"} "https://127.0.0.1:8080/api/v1$3"
}
login() { # login USER PASSWORD
  net curl -skf -c "$work/$1.jar" -H 'Content-Type: application/json' \
    -d "{\"username\":\"$1\",\"password\":\"$2\"}" https://127.0.0.1:8080/api/v1/login |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["csrfToken"])' >"$work/$1.csrf"
}
field() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }
login admin "$password" || fail "admin login"
api admin POST /users "{\"username\":\"approver\",\"password\":\"$password\",\"role\":\"approver\"}" >/dev/null ||
  fail "create approver"
login approver "$password" || fail "approver login"
convert -size 640x360 xc:'#B40000' "$work/poster.png" || fail "ImageMagick could not make the poster"
media=$(net curl -skf -b "$work/admin.jar" -H "X-CSRF-Token: $(cat "$work/admin.csrf")" \
  -F "file=@$work/poster.png;type=image/png" -F 'name=海报' https://127.0.0.1:8080/api/v1/media | field '["id"]') ||
  fail "upload (the probe runs inside the controller's sandbox): $(ct journalctl -u microscape-controller --no-pager -n 5)"
api admin POST "/media/$media/submit" >/dev/null || fail "submit"
api approver POST "/media/$media/approve" >/dev/null || fail "approve"
playlist=$(api admin POST /playlists "{\"name\":\"units\",\"items\":[{\"mediaId\":$media,\"durationMs\":5000}]}" |
  field '["id"]') || fail "playlist"
api admin POST /schedules "{\"name\":\"all day\",\"playlistId\":$playlist,\"startsOn\":\"2000-01-01\",\"endsOn\":\"2099-12-31\",\"target\":{\"all\":true}}" \
  >/dev/null || fail "schedule"

# 6. A screen: not enrolled, the player unit stops with 78 and is not restarted.
ct systemctl start microscape-player >/dev/null 2>&1 && fail "an unenrolled player started"
sleep 1
[ "$(ct systemctl show -p ExecMainStatus --value microscape-player)" = 78 ] ||
  fail "an unenrolled player did not exit 78: $(ct systemctl show -p ExecMainStatus,Result microscape-player)"
[ "$(ct systemctl show -p NRestarts --value microscape-player)" = 0 ] || fail "an unenrolled player was restarted"
command=$(api admin POST /enrollment-tokens '{"name":"车库屏"}' | field '["command"]') || fail "enrolment token"
# shellcheck disable=SC2086 # the console's command, word for word
ct runuser -u microscape-player -- $command >/dev/null || fail "enrol as microscape-player: $command"
ct systemctl reset-failed microscape-player
timeout 90 nsenter -t "$pid" -a systemctl enable --now microscape-player >/dev/null 2>&1 ||
  fail "the player unit did not report ready"
playing=""
for _ in $(seq 1 90); do
  playing=$(api admin GET /players | python3 -c '
import json, sys
for p in json.load(sys.stdin)["players"]:
    s = (p.get("status") or {}).get("playback") or {}
    if p["online"] and s.get("state") == "playing" and s.get("plays", 0) >= 1:
        print(p["id"])') || true
  [ -n "$playing" ] && break
  sleep 1
done
[ -n "$playing" ] || fail "the screen did not come online and play: $(api admin GET /players)"
[ "$(ct systemctl show -p NRestarts --value microscape-player)" = 0 ] || fail "the player restarted"

# 7. systemd's exposure score on the running units.
score() { ct systemd-analyze security --no-pager "$1" | sed -n 's/.*Overall exposure level for .*: \([0-9.]*\) .*/\1/p'; }
c=$(score microscape-controller.service)
p=$(score microscape-player.service)
echo "exposure: controller $c, player $p"
python3 -c "import sys; sys.exit(0 if float('$c') <= 2.0 and float('$p') <= 2.5 else 1)" ||
  fail "exposure controller $c (at most 2.0), player $p (at most 2.5)"

# 8. A configuration error: exit 78, no restart loop; fixed, it starts again.
cp "$root/etc/microscape/controller.properties" "$work/controller.properties"
echo 'http.prot = 8080' >>"$root/etc/microscape/controller.properties"
ct systemctl restart microscape-controller >/dev/null 2>&1 || true
sleep 4
[ "$(ct systemctl show -p ExecMainStatus --value microscape-controller)" = 78 ] ||
  fail "a bad key did not stop the controller with 78: $(ct systemctl show -p ExecMainStatus,Result,ActiveState microscape-controller)"
[ "$(ct systemctl show -p NRestarts --value microscape-controller)" = 0 ] || fail "a bad configuration was restarted"
[ "$(ct systemctl is-active microscape-controller)" = failed ] || fail "the controller is not failed"
cp "$work/controller.properties" "$root/etc/microscape/controller.properties"
ct systemctl reset-failed microscape-controller
ct systemctl start microscape-controller || fail "the controller did not start again"

# 9. An upgrade (here: the same package again) restarts the running controller.
before=$(ct systemctl show -p MainPID --value microscape-controller)
ct sh -c 'DEBIAN_FRONTEND=noninteractive dpkg -i /var/tmp/debs/microscape-controller_*.deb' >/dev/null 2>&1 ||
  fail "reinstalling the controller package"
after=$(ct systemctl show -p MainPID --value microscape-controller)
[ "$after" != 0 ] && [ "$after" != "$before" ] || fail "the controller was not restarted by the upgrade ($before -> $after)"
[ "$(ct systemctl is-active microscape-controller)" = active ] || fail "the controller is not active after the upgrade"

# 10. Purge: the units stop and their enable links go.
ct sh -c 'DEBIAN_FRONTEND=noninteractive apt-get purge -y -q microscape-player microscape-controller' >/dev/null 2>&1 ||
  fail "purge"
left=$(ct find /etc/systemd/system -name 'microscape-*' -print)
[ -z "$left" ] || fail "purge left unit links: $left"
[ "$(ct systemctl is-active microscape-controller || true)" = inactive ] || fail "the controller still runs after the purge"
echo "systemd units: controller and player ran under systemd (PID 1); screen $playing played"
