#!/usr/bin/env bash
# check_packages.sh BUILD_DIR — build the .deb packages and check them.
set -euo pipefail
build=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

(cd "$build" && cpack -B "$work/out" >"$work/cpack.log" 2>&1) || { cat "$work/cpack.log"; fail "cpack failed"; }
ctl=$(ls "$work"/out/microscape-controller_*.deb) || fail "no controller package"
pack=$(ls "$work"/out/microscape-pack_*.deb) || fail "no microscape-pack package"
player=$(ls "$work"/out/microscape-player_*.deb) || fail "no microscape-player package"

root="$work/root"
mkdir -p "$root"
for deb in "$ctl" "$pack" "$player"; do
  dpkg-deb -x "$deb" "$root"
done

# Layout (FHS).
for f in usr/bin/microscape-controller usr/bin/microscape-pack etc/microscape/controller.properties \
         usr/lib/systemd/system/microscape-controller.service usr/share/microscape/web/index.html; do
  [ -e "$root/$f" ] || fail "missing /$f"
done
[ -x "$root/usr/bin/microscape-controller" ] || fail "controller not executable"
for f in usr/bin/microscape-player etc/microscape/player.properties usr/lib/systemd/system/microscape-player.service; do
  [ -e "$root/$f" ] || fail "missing /$f"
done
[ -x "$root/usr/bin/microscape-player" ] || fail "player not executable"
# The configuration files are conffiles (kept on upgrade if the admin changed them).
dpkg-deb -e "$player" "$work/player-control"
grep -qx /etc/microscape/player.properties "$work/player-control/conffiles" || fail "player.properties is not a conffile"
# The player's keys are exactly the ones `run --config` knows.
keys=$(grep -oE '^player\.[A-Za-z]+' "$root/etc/microscape/player.properties" | sort | tr '\n' ' ')
[ "$keys" = "player.dataDir player.height player.importDir player.logLevel player.output player.preview player.width " ] ||
  fail "player.properties keys: $keys"
# The units' Documentation= pages are installed.
for unit in "$root"/usr/lib/systemd/system/microscape-*.service; do
  doc=$(sed -n 's|^Documentation=file://||p' "$unit")
  [ -f "$root$doc" ] || fail "$(basename "$unit"): Documentation=$doc is not in the package"
done
# Nothing outside the FHS places a package may use.
bad=$(cd "$root" && find . -type f | grep -vE '^\./(usr/(bin|lib/systemd/system|share)|etc/microscape)/' || true)
[ -z "$bad" ] && true || fail "files outside the expected layout: $bad"

# Dependencies: libraries found by dpkg-shlibdeps plus the runtime packages.
deps=$(dpkg-deb -f "$ctl" Depends)
for d in libpocofoundation80 libzmq5 libvlc5 libssl3 vlc-plugin-base adduser microscape-pack; do
  echo "$deps" | grep -q "$d" || fail "controller Depends lacks $d: $deps"
done
dpkg-deb -f "$pack" Depends | grep -q libvlc5 || fail "microscape-pack Depends lacks libvlc5"
deps=$(dpkg-deb -f "$player" Depends)
for d in libpocofoundation80 libzmq5 libvlc5 libssl3 libsqlite3-0 libfreetype6 libfontconfig1 libx11-6 \
         vlc-plugin-base fonts-noto-cjk tzdata adduser microscape-pack; do
  echo "$deps" | grep -q "$d" || fail "player Depends lacks $d: $deps"
done

# Maintainer scripts: create the system user and the data directories; stop the service on removal.
dpkg-deb -e "$ctl" "$work/ctl-control"
grep -qx /etc/microscape/controller.properties "$work/ctl-control/conffiles" || fail "controller.properties is not a conffile"
for c in ctl player; do
  for s in postinst prerm; do
    f="$work/$c-control/$s"
    [ -x "$f" ] || fail "$c: no executable $s"
    sh -n "$f" || fail "$c: $s has a syntax error"
  done
  grep -q "adduser --system" "$work/$c-control/postinst" || fail "$c: postinst does not create the system user"
  grep -q "systemctl stop" "$work/$c-control/prerm" || fail "$c: prerm does not stop the service"
done
grep -q "/var/lib/microscape/controller" "$work/ctl-control/postinst" || fail "postinst does not create /var/lib/microscape/controller"
grep -q "/var/lib/microscape/player" "$work/player-control/postinst" || fail "player postinst does not create its data directory"
grep -q "video audio" "$work/player-control/postinst" || fail "player postinst does not add the video and audio groups"

# The maintainer scripts for real, as dpkg runs them, twice (an upgrade runs
# postinst again): inside a private mount namespace over copies of /etc and an
# empty /var/lib, so the machine's users and directories are never touched.
if [ "$(id -u)" = 0 ] && unshare -m true 2>/dev/null && command -v adduser >/dev/null; then
  before=$(getent passwd microscape || true)
  out=$(unshare -m sh -ec '
    work=$1
    cp -a /etc "$work/etc"
    mount --bind "$work/etc" /etc
    mkdir -p "$work/varlib"
    mount --bind "$work/varlib" /var/lib
    for c in player ctl; do
      "$work/$c-control/postinst" configure
      "$work/$c-control/postinst" configure 0.1.0
    done
    "$work/player-control/prerm" remove
    "$work/ctl-control/prerm" remove
    id -nG microscape
    getent passwd microscape | cut -d: -f6,7
    stat -c "%U:%G %a %n" /var/lib/microscape /var/lib/microscape/player /var/lib/microscape/import /var/lib/microscape/controller
  ' sh "$work" 2>&1) || fail "maintainer scripts failed: $out"
  for want in "audio" "video" "/var/lib/microscape:/usr/sbin/nologin" "microscape:microscape 750 /var/lib/microscape/player" \
              "microscape:microscape 750 /var/lib/microscape/import" "microscape:microscape 750 /var/lib/microscape/controller"; do
    echo "$out" | grep -qF "$want" || fail "after postinst: no '$want' in: $out"
  done
  echo "$out" | grep -q "Warning" && fail "postinst warns: $out"
  [ "$(getent passwd microscape || true)" = "$before" ] || fail "the postinst test changed this machine's users"
else
  echo "note: maintainer scripts checked for syntax only (running them needs root and unshare)"
fi

# The configuration file the package ships is one the controller accepts.
"$root/usr/bin/microscape-controller" --help >/dev/null 2>&1 || fail "microscape-controller --help fails"
"$root/usr/bin/microscape-pack" --help | grep -q "Usage: microscape-pack" || fail "microscape-pack --help"
"$root/usr/bin/microscape-player" --help | grep -q "microscape-player run" || fail "microscape-player --help"
# The shipped player.properties parses (a config error exits 2); pointed at an
# empty data directory, the player then stops because the screen is not enrolled.
sed "s|^player.dataDir = .*|player.dataDir = $work/screen|" "$root/etc/microscape/player.properties" >"$work/player.properties"
mkdir -p "$work/screen"
set +e
out=$("$root/usr/bin/microscape-player" status --config "$work/player.properties" 2>&1); rc=$?
set -e
[ "$rc" = 1 ] || fail "microscape-player status --config with the shipped file exits $rc (want 1, not enrolled): $out"
echo "$out" | grep -q "$work/screen" || fail "microscape-player did not use player.dataDir: $out"
echo "player.bogus = 1" >>"$work/player.properties"
set +e
"$root/usr/bin/microscape-player" status --config "$work/player.properties" >/dev/null 2>&1; rc=$?
set -e
[ "$rc" = 2 ] || fail "an unknown key in player.properties exits $rc, not 2"

# systemd units: verified against the unpacked root (with the system's target units).
for t in sysinit.target basic.target multi-user.target network-online.target shutdown.target \
         graphical.target local-fs.target sockets.target timers.target paths.target slices.target; do
  [ -e "/usr/lib/systemd/system/$t" ] && cp "/usr/lib/systemd/system/$t" "$root/usr/lib/systemd/system/" || true
done
for unit in "$root"/usr/lib/systemd/system/microscape-*.service; do
  out=$(systemd-analyze verify --man=no --root="$root" "$unit" 2>&1) || fail "systemd-analyze verify $(basename "$unit"): $out"
  [ -z "$out" ] || fail "systemd-analyze verify $(basename "$unit") warns: $out"
  grep -q '^NoNewPrivileges=true' "$unit" || fail "$(basename "$unit") lacks NoNewPrivileges"
  grep -q '^ProtectSystem=' "$unit" || fail "$(basename "$unit") lacks ProtectSystem"
  # systemd's own exposure score (0 best .. 10): keep the hardening at "OK" (<= 4.0).
  systemd-analyze security --offline=yes --root="$root" --threshold=40 "$unit" >"$work/security.txt" 2>&1 ||
    fail "$(basename "$unit"): $(tail -n 1 "$work/security.txt")"
done
u="$root/usr/lib/systemd/system/microscape-player.service"
for l in 'ExecStart=/usr/bin/microscape-player run --config /etc/microscape/player.properties' 'Type=notify' \
         'NotifyAccess=main' 'Restart=always' 'User=microscape' 'SupplementaryGroups=video audio' 'PrivateTmp=true'; do
  grep -qx "$l" "$u" || fail "microscape-player.service lacks $l"
done
grep -qE '^WatchdogSec=[1-9]' "$u" || fail "microscape-player.service has no watchdog"
grep -qE '^RestrictAddressFamilies=.*AF_UNIX' "$u" || fail "microscape-player.service blocks AF_UNIX (X11, notify)"
grep -qE '^ReadWritePaths=.*/var/lib/microscape/player' "$u" || fail "microscape-player.service cannot write its data"
# A broken unit must fail the same check (the check itself can fail).
printf '[Service]\nExecStart=/usr/bin/does-not-exist\nBogusKey=1\n' >"$root/usr/lib/systemd/system/broken-check.service"
if systemd-analyze verify --man=no --root="$root" "$root/usr/lib/systemd/system/broken-check.service" >/dev/null 2>&1; then
  fail "systemd-analyze verify accepted a broken unit: the check is not working"
fi
echo "packages OK: $(basename "$ctl") $(basename "$pack") $(basename "$player")"
