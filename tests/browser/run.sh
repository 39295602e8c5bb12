#!/usr/bin/env bash
# ctest entry for the web console's browser test.
#   run.sh CONTROLLER_BIN ARTIFACT_DIR
# microscape-player and microscape-pack are taken from beside CONTROLLER_BIN unless
# MICROSCAPE_PLAYER_BIN / MICROSCAPE_PACK_BIN say otherwise; MICROSCAPE_DOC_SHOTS=DIR
# also writes the documentation's screenshots (docs/console.md).
# Exits 77 (ctest: skipped) when node or Chromium is missing; deploy/install-deps.sh
# installs both.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
chromium=${MICROSCAPE_CHROMIUM:-/usr/bin/chromium}
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "SKIP: node/npm not installed (deploy/install-deps.sh installs them)"
  exit 77
fi
if [ ! -x "$chromium" ]; then
  echo "SKIP: $chromium not installed (deploy/install-deps.sh installs chromium)"
  exit 77
fi
"$here/setup.sh"
exec node "$here/console_test.mjs" "$@"
