#!/usr/bin/env bash
# check_packages.sh BUILD_DIR — build the .deb packages and check them: layout,
# dependencies, maintainer scripts, units, hardened and stripped binaries with
# -dbgsym packages, manual pages, and lintian --pedantic (no error, warning or
# pedantic tag; overrides carry their reason).
set -euo pipefail
build=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

(cd "$build" && cpack -B "$work/out" >"$work/cpack.log" 2>&1) || { cat "$work/cpack.log"; fail "cpack failed"; }
ctl=$(ls "$work"/out/microscape-controller_*.deb) || fail "no controller package"
pack=$(ls "$work"/out/microscape-pack_*.deb) || fail "no microscape-pack package"
player=$(ls "$work"/out/microscape-player_*.deb) || fail "no microscape-player package"
for p in microscape-controller microscape-pack microscape-player; do
  ls "$work"/out/"$p"-dbgsym_*.ddeb >/dev/null 2>&1 || fail "no $p-dbgsym package: $(ls "$work/out")"
done

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
[ "$keys" = "player.dataDir player.height player.importDir player.logFormat player.logLevel player.output player.preview player.width " ] ||
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
  grep -q "deb-systemd-invoke stop" "$work/$c-control/prerm" || fail "$c: prerm does not stop the service"
  grep -q "deb-systemd-helper purge" "$work/$c-control/postrm" || fail "$c: postrm does not clean up on purge"
  grep -q "deb-systemd-invoke try-restart" "$work/$c-control/postinst" || fail "$c: postinst does not restart after an upgrade"
done
grep -q "/var/lib/microscape/controller" "$work/ctl-control/postinst" || fail "postinst does not create /var/lib/microscape/controller"
grep -qx 'User=microscape-controller' "$root/usr/lib/systemd/system/microscape-controller.service" ||
  fail "microscape-controller.service does not run as microscape-controller"
grep -q "/var/lib/microscape/player" "$work/player-control/postinst" || fail "player postinst does not create its data directory"
grep -q "video audio" "$work/player-control/postinst" || fail "player postinst does not add the video and audio groups"

# The maintainer scripts for real, as dpkg runs them: install, the admin
# enables the units, upgrade, remove, purge. Inside a private mount namespace
# over copies of /etc and the unit directory and an empty /var/lib (with the
# directories of the old shared user "microscape" in it), so the machine's users, units and
# directories are never touched.
if [ "$(id -u)" = 0 ] && unshare -m true 2>/dev/null && command -v adduser >/dev/null &&
   command -v deb-systemd-helper >/dev/null; then
  before=$(getent passwd microscape-controller microscape-player || true)
  out=$(unshare -m sh -ec '
    work=$1 root=$2
    cp -a /etc "$work/etc"
    mount --bind "$work/etc" /etc
    mkdir -p "$work/varlib"
    mount --bind "$work/varlib" /var/lib
    cp -a /usr/lib/systemd/system "$work/units"
    cp "$root"/usr/lib/systemd/system/microscape-*.service "$work/units/"
    mount --bind "$work/units" /usr/lib/systemd/system
    # Left by a version that ran both daemons as one user (systemd hands the
    # files inside over at the next start: StateDirectory=).
    mkdir -p /var/lib/microscape/controller /var/lib/microscape/player
    chown nobody /var/lib/microscape/controller /var/lib/microscape/player
    links() { find /etc/systemd/system -name "microscape-*" | sort | tr "\n" " "; }
    # As dpkg runs a maintainer script (deb-systemd-helper insists on it).
    maint() {
      c=$1 script=$2
      shift 2
      case $c in ctl) pkg=microscape-controller ;; *) pkg=microscape-player ;; esac
      DPKG_MAINTSCRIPT_PACKAGE=$pkg DPKG_MAINTSCRIPT_NAME=$script "$work/$c-control/$script" "$@"
    }
    for c in player ctl; do maint $c postinst configure; done
    echo "links after install: [$(links)]"
    systemctl enable microscape-controller.service microscape-player.service 2>/dev/null
    for c in player ctl; do maint $c postinst configure 0.1.0; done
    echo "links after upgrade: [$(links)]"
    echo "player groups: $(id -nG microscape-player)"
    echo "controller groups: $(id -nG microscape-controller)"
    getent passwd microscape-controller microscape-player | cut -d: -f1,6,7
    stat -c "%U:%G %a %n" /var/lib/microscape /var/lib/microscape/player /var/lib/microscape/import \
        /var/lib/microscape/controller
    for c in player ctl; do maint $c prerm remove; done
    for c in player ctl; do maint $c postrm remove; done
    echo "links after remove: [$(links)]"
    for c in player ctl; do maint $c postrm purge; done
    echo "links after purge: [$(links)]"
    echo "helper state after purge: [$(ls /var/lib/systemd/deb-systemd-helper-enabled 2>/dev/null | grep microscape | tr "\n" " ")]"
  ' sh "$work" "$root" 2>&1) || fail "maintainer scripts failed: $out"
  for want in "audio" "video" "microscape-controller:/var/lib/microscape/controller:/usr/sbin/nologin" \
              "microscape-player:/var/lib/microscape/player:/usr/sbin/nologin" \
              "root:root 755 /var/lib/microscape" \
              "microscape-player:microscape-player 750 /var/lib/microscape/player" \
              "microscape-player:microscape-player 750 /var/lib/microscape/import" \
              "microscape-controller:microscape-controller 750 /var/lib/microscape/controller" \
              "links after install: []" "links after purge: []" "helper state after purge: []"; do
    echo "$out" | grep -qF -- "$want" || fail "maintainer scripts: no '$want' in: $out"
  done
  # The admin's enabling survives an upgrade; a removed package's units are masked.
  echo "$out" | grep -q "links after upgrade: .*multi-user.target.wants/microscape-controller.service" ||
    fail "the upgrade lost the controller's enable link: $out"
  echo "$out" | grep -q "links after upgrade: .*graphical.target.wants/microscape-player.service" ||
    fail "the upgrade lost the player's enable link: $out"
  echo "$out" | grep -q "links after remove: .*/etc/systemd/system/microscape-controller.service " ||
    fail "postrm remove did not mask the controller: $out"
  # Each daemon apart: the player is in no group of the controller.
  echo "$out" | grep "^controller groups:" | grep -qw "microscape-player" && fail "the controller is in the player's group"
  echo "$out" | grep "^player groups:" | grep -qw "microscape-controller" && fail "the player is in the controller's group"
  echo "$out" | grep -q "Warning" && fail "postinst warns: $out"
  [ "$(getent passwd microscape-controller microscape-player || true)" = "$before" ] ||
    fail "the postinst test changed this machine's users"
else
  echo "note: maintainer scripts checked for syntax only (running them needs root, unshare and deb-systemd-helper)"
fi

# The configuration file the package ships is one the controller accepts.
"$root/usr/bin/microscape-controller" --help >/dev/null 2>&1 || fail "microscape-controller --help fails"
"$root/usr/bin/microscape-pack" --help | grep -q "Usage: microscape-pack" || fail "microscape-pack --help"
"$root/usr/bin/microscape-player" --help | grep -q "microscape-player run" || fail "microscape-player --help"
# The shipped player.properties parses (a config error exits 78); pointed at an
# empty data directory, the player then stops because the screen is not enrolled
# (also a configuration error, 78: no restart fixes it).
sed "s|^player.dataDir = .*|player.dataDir = $work/screen|" "$root/etc/microscape/player.properties" >"$work/player.properties"
mkdir -p "$work/screen"
set +e
out=$("$root/usr/bin/microscape-player" status --config "$work/player.properties" 2>&1); rc=$?
set -e
[ "$rc" = 78 ] || fail "microscape-player status --config with the shipped file exits $rc (want 78, not enrolled): $out"
echo "$out" | grep -q "$work/screen" || fail "microscape-player did not use player.dataDir: $out"
echo "player.bogus = 1" >>"$work/player.properties"
set +e
"$root/usr/bin/microscape-player" status --config "$work/player.properties" >/dev/null 2>&1; rc=$?
set -e
[ "$rc" = 78 ] || fail "an unknown key in player.properties exits $rc, not 78"

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
  # systemd's own exposure score (0 best .. 10): at most 2.0 for the controller,
  # 2.5 for the player (which needs the GPU, the sound card and the X socket).
  case "$(basename "$unit")" in microscape-controller.service) limit=20 ;; *) limit=25 ;; esac
  systemd-analyze security --offline=yes --root="$root" --threshold=$limit "$unit" >"$work/security.txt" 2>&1 ||
    fail "$(basename "$unit"): $(tail -n 1 "$work/security.txt") (limit $limit/10)"
  echo "$(tail -n 1 "$work/security.txt")"
  grep -qx 'RestartPreventExitStatus=64 78' "$unit" || fail "$(basename "$unit") restarts after a usage or configuration error"
  grep -qx 'SystemCallFilter=@system-service' "$unit" || fail "$(basename "$unit") has no system call filter"
done
u="$root/usr/lib/systemd/system/microscape-player.service"
for l in 'ExecStart=/usr/bin/microscape-player run --config /etc/microscape/player.properties' 'Type=notify' \
         'NotifyAccess=main' 'Restart=always' 'User=microscape-player' 'SupplementaryGroups=video audio' 'PrivateTmp=true'; do
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

# Binaries: hardened (dpkg-buildflags), stripped, debug information in -dbgsym.
for b in microscape-controller microscape-player microscape-pack; do
  f="$root/usr/bin/$b"
  # (Read whole, not piped into grep -q: pipefail would see readelf's SIGPIPE.)
  dyn=$(readelf -dW "$f") syms=$(readelf -W --dyn-syms "$f") segs=$(readelf -lW "$f") sects=$(readelf -SW "$f")
  if [ "${MICROSCAPE_HARDENED:-1}" = 1 ]; then
    grep -q 'BIND_NOW' <<<"$dyn" || fail "$b: no BIND_NOW (-z now)"
    grep -q 'GNU_RELRO' <<<"$segs" || fail "$b: no RELRO"
    grep -q '__stack_chk_fail' <<<"$syms" || fail "$b: no stack protector"
    grep -qE '__[a-z_]+_chk@' <<<"$syms" || fail "$b: no _FORTIFY_SOURCE functions"
  else
    echo "note: $b: hardening not checked (a sanitizer or unhardened build)"
  fi
  grep -q '\.debug_info' <<<"$sects" && fail "$b: not stripped"
  id=$(readelf -nW "$f" | sed -n 's/.*Build ID: *//p')
  [ -n "$id" ] || fail "$b: no build id"
  dbg=$(ls "$work"/out/"$b"-dbgsym_*.ddeb)
  grep -q "usr/lib/debug/.build-id/${id:0:2}/${id:2}.debug" <<<"$(dpkg-deb -c "$dbg")" ||
    fail "$b-dbgsym lacks the debug file of build id $id"
done

# Manual pages, generated from --help: one per program, a section for every
# command that --help lists.
for b in microscape-controller microscape-player microscape-pack; do
  page="$root/usr/share/man/man1/$b.1.gz"
  [ -f "$page" ] || fail "no manual page for $b"
  grep -q "^\.SH NAME" <<<"$(zcat "$page")" || fail "$b.1 has no NAME section"
done
for cmd in $("$root/usr/bin/microscape-pack" --help | sed -n '/^Commands:/,/^$/s/^  \([a-z]\+\) .*/\1/p'); do
  grep -q "^\.SS \"microscape\\\\-pack $cmd\"" <<<"$(zcat "$root/usr/share/man/man1/microscape-pack.1.gz")" ||
    fail "microscape-pack.1 lacks the command $cmd"
done

# Every package has a DEP-5 copyright and a changelog whose version is the package's.
for deb in "$ctl" "$pack" "$player"; do
  name=$(dpkg-deb -f "$deb" Package) version=$(dpkg-deb -f "$deb" Version)
  head -n 1 "$root/usr/share/doc/$name/copyright" | grep -q '^Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/' ||
    fail "$name: copyright is not DEP-5"
  grep -q "($version)" <<<"$(zcat "$root/usr/share/doc/$name/changelog.gz" | sed -n 1p)" || fail "$name: changelog is not at $version"
done

# lintian --pedantic: no error, warning or pedantic tag on the packages. Info
# tags and overrides are printed; an override without a reason fails.
command -v lintian >/dev/null || fail "lintian is not installed (deploy/install-deps.sh installs it)"
for o in "$root"/usr/share/lintian/overrides/*; do
  # A comment opens a group of overrides; a blank line closes it.
  awk -v f="$(basename "$o")" '/^#/ { ok=1; next } /^$/ { ok=0; next }
       !ok { print "override without a reason in " f ": " $0; bad=1 } END { exit bad }' "$o" ||
    fail "lintian overrides need a comment"
done
lintian --pedantic --display-info --show-overrides --fail-on error,warning,pedantic \
  "$ctl" "$pack" "$player" >"$work/lintian.txt" 2>&1 || { cat "$work/lintian.txt"; fail "lintian --pedantic"; }
grep -E '^[EWP]: ' "$work/lintian.txt" && fail "lintian tags: $(cat "$work/lintian.txt")"
sed 's/^/lintian: /' "$work/lintian.txt"
echo "packages OK: $(basename "$ctl") $(basename "$pack") $(basename "$player")"
