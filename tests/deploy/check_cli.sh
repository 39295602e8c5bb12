#!/usr/bin/env bash
# check_cli.sh SOURCE_DIR BIN_DIR — the command-line conventions of the three
# programs and the benchmarks: --help, -h and --version everywhere, usage errors
# exit 64, and the exit status table of --help is the one in docs/exit-codes.md.
set -uo pipefail
src=$1 bin=$2
failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }
version=$(sed -n 's/^project(microscape VERSION \([0-9.]*\).*/\1/p' "$src/CMakeLists.txt")

# run WANT_RC CMD... : runs CMD, checks its exit status, keeps stdout and stderr.
run() {
  local want=$1
  shift
  "$@" >/tmp/check_cli.$$.out 2>/tmp/check_cli.$$.err
  local rc=$?
  out=$(cat /tmp/check_cli.$$.out) err=$(cat /tmp/check_cli.$$.err)
  [ "$rc" = "$want" ] || fail "'$*' exits $rc, want $want: $out $err"
}
trap 'rm -f /tmp/check_cli.$$.out /tmp/check_cli.$$.err' EXIT

# The table every --help ends with, as docs/exit-codes.md lists it.
doc_codes=$(grep -E '^\| [0-9]+ \|' "$src/docs/exit-codes.md" | cut -d'|' -f2 | tr -d ' ' | tr '\n' ' ')
[ "$doc_codes" = "0 1 64 70 73 78 " ] || fail "docs/exit-codes.md lists the codes '$doc_codes'"
help_codes() { sed -n '/^Exit status:/,$p' | grep -oE '^  [0-9]+ ' | tr -d ' ' | tr '\n' ' '; }

declare -A commands=(
  [microscape-controller]=""
  [microscape-player]="enroll run import status"
  [microscape-pack]="keygen build verify inspect extract audit"
)
for prog in microscape-controller microscape-player microscape-pack; do
  p="$bin/$prog"
  for h in --help -h; do
    run 0 "$p" "$h"
    [ "$(help_codes <<<"$out")" = "$doc_codes" ] || fail "$prog $h: exit status table differs from docs/exit-codes.md"
    [ -z "$err" ] || fail "$prog $h writes to stderr: $err"
  done
  run 0 "$p" --version
  grep -qx "$prog $version.*" <<<"$out" || fail "$prog --version prints '$out', want '$prog $version'"
  run 64 "$p" --no-such-option
  grep -q -- "--help" <<<"$err" || fail "$prog --no-such-option does not point at --help: $err"
  for cmd in ${commands[$prog]}; do
    for h in --help -h; do
      run 0 "$p" "$cmd" "$h"
      grep -qi "usage: $prog $cmd" <<<"$out" || fail "$prog $cmd $h does not show the usage of $cmd: $out"
      [ "$(help_codes <<<"$out")" = "$doc_codes" ] || fail "$prog $cmd $h: no exit status table"
    done
    run 0 "$p" help "$cmd"
    grep -qi "usage: $prog $cmd" <<<"$out" || fail "$prog help $cmd does not show the usage of $cmd"
    run 64 "$p" "$cmd" --no-such-option
    if [ "$prog/$cmd" != microscape-pack/build ]; then  # build --version N is the bundle version
      run 0 "$p" "$cmd" --version
      grep -qx "$prog $version.*" <<<"$out" || fail "$prog $cmd --version prints '$out'"
    fi
  done
  run 64 "$p" -Z
done
run 64 "$bin/microscape-pack"
run 64 "$bin/microscape-pack" no-such-command
run 64 "$bin/microscape-player"
run 64 "$bin/microscape-player" no-such-command
run 64 "$bin/microscape-player" run stray-argument
# A bad configuration file is a configuration error, for both daemons.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"; rm -f /tmp/check_cli.$$.out /tmp/check_cli.$$.err' EXIT
printf 'player.dataDir = %s\nplayer.output = tv\n' "$tmp" >"$tmp/player.properties"
run 78 "$bin/microscape-player" run --config "$tmp/player.properties"
run 78 "$bin/microscape-player" status --data-dir "$tmp"  # not enrolled
printf 'controller.dataDir = %s/c\nhttp.prot = 1\n' "$tmp" >"$tmp/controller.properties"
run 78 "$bin/microscape-controller" --config "$tmp/controller.properties"
run 78 "$bin/microscape-controller" --config "$tmp/missing.properties"

# The benchmarks: --help prints their options; anything unknown is refused
# before any work starts.
for b in bench_pack bench_player bench_delta bench_fanout bench_scale bench_recompile bench_ingest bench_report bench_audit_export microscape-swarm; do
  [ -x "$bin/$b" ] || continue
  run 0 "$bin/$b" --help
  grep -q "^usage: $b" <<<"$out" || fail "$b --help: $out"
  run 0 "$bin/$b" -h
  run 64 "$bin/$b" --no-such-option 1
  run 64 "$bin/$b" -x
done
for b in bench_ingest bench_report; do
  [ -x "$bin/$b" ] || continue
  run 64 "$bin/$b" --help-me
  run 64 "$bin/$b" lots   # RECORDS must be a number (it used to read as 0)
  run 64 "$bin/$b" 1 2 3 4 5
done
[ -x "$bin/bench_audit_export" ] && run 64 "$bin/bench_audit_export"
[ -x "$bin/bench_fanout" ] && run 64 "$bin/bench_fanout" --mode sideways

[ "$failures" = 0 ] || { echo "$failures failures" >&2; exit 1; }
echo "command lines OK"
