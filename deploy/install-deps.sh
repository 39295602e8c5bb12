#!/usr/bin/env bash
# Installs every package Microscape needs to build, test and run, from Debian 12's
# archive. Idempotent: when everything is present it prints nothing and exits 0.
set -euo pipefail

PACKAGES=(
  # build
  build-essential cmake ninja-build pkg-config clang libclang-rt-14-dev ccache
  # formatting check (tests/deploy/check_format.sh)
  clang-format git
  # libraries
  libpoco-dev libssl-dev libsqlite3-dev sqlite3 libzmq3-dev cppzmq-dev
  libvlc-dev libvlc-bin vlc-plugin-base
  # player: text (slogans, status card) with FreeType + fontconfig, display mode on X11
  libfreetype-dev libfontconfig-dev fonts-noto-cjk libx11-dev libxext-dev
  # player: the head statement shown as a QR code (show_head); tests decode it with zbarimg
  libqrencode-dev zbar-tools
  # controller: CAP 1.2 alerts (XML with libxml2, XML-DSig with xmlsec's OpenSSL
  # backend); tests sign alerts with the xmlsec1 command
  libxml2-dev libxmlsec1-dev xmlsec1
  # controller store: PostgreSQL through libpq; the tests run their own
  # throwaway PostgreSQL 15 cluster (initdb + pg_ctl in a temporary directory)
  libpq-dev postgresql-15
  # controller: uploads normalised (ImageMagick 6) and clips rendered per screen size (ffmpeg);
  # tests make their media with them too
  ffmpeg imagemagick
  # tests
  catch2 tzdata
  # the second verifier of evidence exports (tests/audit_verifier.py): Ed25519
  python3 python3-cryptography
  # the suite again at fixed instants (23:30 and 00:30 Beijing time, 29 February)
  faketime
  # display-mode tests: a virtual X server and a screenshot tool
  xvfb x11-apps
  # package test: dpkg-shlibdeps for cpack, systemd-analyze for the units,
  # lintian for the packages (and man-db, which it reads the manual pages with)
  dpkg-dev systemd lintian man-db
  # the units under a real systemd: a Debian 12 root booted in a container
  # (tests/deploy/systemd_units.sh)
  debootstrap systemd-container
  # /metrics test: promtool (Debian 12 ships it only inside the prometheus
  # package, whose server unit is then enabled on a host with systemd; disable
  # it there if this machine should not run a Prometheus server)
  prometheus
  # benchmarks (bench_fanout's HTTP clients use libcurl)
  nginx openssl libcurl4-openssl-dev
  # deploy/quickstart.sh talks to the controller's API
  curl jq
  # web console (browser libraries served by the controller) and its browser test
  libjs-bootstrap5 libjs-chart.js chromium nodejs
)
# npm from Debian only where nodejs does not bring its own (NodeSource's nodejs does).
command -v npm >/dev/null 2>&1 || PACKAGES+=(npm)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
