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
player=$(ls "$work"/out/microscape-player_*.deb 2>/dev/null || true)

root="$work/root"
mkdir -p "$root"
for deb in "$ctl" "$pack" $player; do
  dpkg-deb -x "$deb" "$root"
done

# Layout (FHS).
for f in usr/bin/microscape-controller usr/bin/microscape-pack etc/microscape/controller.properties \
         usr/lib/systemd/system/microscape-controller.service usr/share/microscape/web/index.html; do
  [ -e "$root/$f" ] || fail "missing /$f"
done
[ -x "$root/usr/bin/microscape-controller" ] || fail "controller not executable"
if [ -n "$player" ]; then
  for f in usr/bin/microscape-player etc/microscape/player.properties usr/lib/systemd/system/microscape-player.service; do
    [ -e "$root/$f" ] || fail "missing /$f"
  done
fi
# Nothing outside the FHS places a package may use.
bad=$(cd "$root" && find . -type f | grep -vE '^\./(usr/(bin|lib/systemd/system|share)|etc/microscape)/' || true)
[ -z "$bad" ] && true || fail "files outside the expected layout: $bad"

# Dependencies: libraries found by dpkg-shlibdeps plus the runtime packages.
deps=$(dpkg-deb -f "$ctl" Depends)
for d in libpocofoundation80 libzmq5 libvlc5 libssl3 vlc-plugin-base adduser microscape-pack; do
  echo "$deps" | grep -q "$d" || fail "controller Depends lacks $d: $deps"
done
dpkg-deb -f "$pack" Depends | grep -q libvlc5 || fail "microscape-pack Depends lacks libvlc5"

# Maintainer script: creates the system user and the data directory.
dpkg-deb -e "$ctl" "$work/ctl-control"
grep -q "adduser --system" "$work/ctl-control/postinst" || fail "postinst does not create the system user"
grep -q "/var/lib/microscape" "$work/ctl-control/postinst" || fail "postinst does not create /var/lib/microscape"
sh -n "$work/ctl-control/postinst" || fail "postinst has a syntax error"

# The configuration file the package ships is one the controller accepts.
"$root/usr/bin/microscape-controller" --help >/dev/null 2>&1 || fail "microscape-controller --help fails"
"$root/usr/bin/microscape-pack" --help | grep -q "Usage: microscape-pack" || fail "microscape-pack --help"

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
done
# A broken unit must fail the same check (the check itself can fail).
printf '[Service]\nExecStart=/usr/bin/does-not-exist\nBogusKey=1\n' >"$root/usr/lib/systemd/system/broken-check.service"
if systemd-analyze verify --man=no --root="$root" "$root/usr/lib/systemd/system/broken-check.service" >/dev/null 2>&1; then
  fail "systemd-analyze verify accepted a broken unit: the check is not working"
fi
echo "packages OK: $(basename "$ctl") $(basename "$pack") ${player:+$(basename "$player")}"
