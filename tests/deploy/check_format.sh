#!/usr/bin/env bash
# The house's formatting, checked: every C++ file git tracks against
# .clang-format (clang-format --dry-run --Werror), and the console's JavaScript
# and the browser tests against .prettierrc.json (prettier --check, pinned in
# tests/browser/package.json). Fix with:
#   git ls-files '*.cpp' '*.hpp' | xargs clang-format -i
#   tests/browser/node_modules/.bin/prettier --write controller/web/js tests/browser/*.mjs
#
#   tests/deploy/check_format.sh SOURCE_DIR
set -euo pipefail
src=${1:?usage: check_format.sh SOURCE_DIR}
cd "$src"
fail=0

command -v clang-format >/dev/null || { echo "clang-format is not installed (deploy/install-deps.sh)" >&2; exit 1; }
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  mapfile -t cxx < <(git ls-files '*.cpp' '*.hpp')
else
  mapfile -t cxx < <(find core controller player content-packager tests bench fuzz -name '*.cpp' -o -name '*.hpp')
fi
if ! clang-format --dry-run --Werror "${cxx[@]}" 2>/tmp/check_format.$$; then
  echo "C++ files not formatted as .clang-format says:"
  grep -o '^[^:]*:[0-9]*' /tmp/check_format.$$ | cut -d: -f1 | sort | uniq -c
  fail=1
fi
rm -f /tmp/check_format.$$
echo "clang-format: ${#cxx[@]} C++ files checked"

"$src/tests/browser/setup.sh"
if ! "$src/tests/browser/node_modules/.bin/prettier" --check --log-level warn controller/web/js tests/browser/*.mjs; then
  echo "JavaScript not formatted as .prettierrc.json says (prettier --write fixes it)"
  fail=1
fi
echo "prettier: controller/web/js and tests/browser checked"
exit $fail
