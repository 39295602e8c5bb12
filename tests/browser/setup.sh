#!/usr/bin/env bash
# Installs the tests' npm dependencies (playwright-core, prettier and
# @apidevtools/swagger-parser, pinned by
# package-lock.json) into tests/browser/node_modules when they are missing or
# older than the lock file. Quiet when there is nothing to do. Never downloads a
# browser: the test drives Debian's /usr/bin/chromium.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$here"
exec 9>"${TMPDIR:-/tmp}/microscape-browser-setup.lock"
flock 9
stamp=node_modules/.package-lock.json
if [ -f "$stamp" ] && [ "$stamp" -nt package-lock.json ] && [ -d node_modules/playwright-core ] && [ -d node_modules/prettier ] \
  && [ -d node_modules/@apidevtools/swagger-parser ]; then
  exit 0
fi
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm_config_update_notifier=false
npm ci --no-audit --no-fund --loglevel=error >/dev/null
