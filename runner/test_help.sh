#!/usr/bin/env bash
# test-quick
# Every command answers --help with its own usage (exit 0, stdout),
# --version prints the one version string, and run --help lists taskd's
# seeded bugs from `taskd --list-bugs` (or says it can't).
set -uo pipefail
BIN=${FAULTLINE_BIN:-bin}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
. "$(dirname "$0")/../test/lib.sh"

for cmd in run check repro shrink schedule report; do
  out=$("$BIN/faultline" "$cmd" --help 2>"$tmp/err"); code=$?
  [ "$code" -eq 0 ] || fail "$cmd --help: exit $code: $(cat "$tmp/err")"
  head -1 <<<"$out" | grep -q "^usage: faultline $cmd" || fail "$cmd --help: $(head -1 <<<"$out")"
  # Its own usage, not every command's.
  [ "$(grep -c '^usage:' <<<"$out")" -eq 1 ] && ! grep -qE '^  (run|check|repro|shrink|schedule|report) ' <<<"$out" ||
    fail "$cmd --help prints more than its own usage"
done
"$BIN/faultline" schedule --frobnicate >/dev/null 2>"$tmp/err"; code=$?
[ "$code" -eq 3 ] && grep -q "^usage: faultline schedule" "$tmp/err" || fail "schedule with a bad option: exit $code, $(cat "$tmp/err")"

out=$("$BIN/faultline" --version); code=$?
[ "$code" -eq 0 ] && grep -qE '^faultline [0-9]+\.[0-9]+' <<<"$out" || fail "--version: exit $code: $out"

out=$("$BIN/faultline" --help)
for cmd in run check repro shrink schedule report; do
  grep -qE "^  $cmd " <<<"$out" || fail "--help lacks $cmd"
done
grep -q -- "--memory-limit MB memory" <<<"$out" || fail "--help does not explain --memory-limit"
grep -q -- "--runs-dir DIR  where run directories go" <<<"$out" || fail "--help does not explain --runs-dir"

# run --help lists the bugs taskd lists; a taskd without --list-bugs is said.
mkdir -p "$tmp/bin"
cp "$BIN/faultline" "$tmp/bin/"
printf '#!/bin/sh\n[ "$1" = --list-bugs ] || exit 2\nprintf "stale-read\\tserve reads from local state\\nlost-claim\\tforget a claim\\n"\n' >"$tmp/bin/taskd"
chmod +x "$tmp/bin/taskd"
out=$("$tmp/bin/faultline" run --help)
grep -qE '^ +stale-read +serve reads from local state$' <<<"$out" &&
  grep -qE '^ +lost-claim +forget a claim$' <<<"$out" || fail "run --help lacks the bugs: $out"
printf '#!/bin/sh\necho "taskd: --list-bugs: unknown flag" >&2; exit 2\n' >"$tmp/bin/taskd"
out=$("$tmp/bin/faultline" run --help)
grep -q "(taskd --list-bugs unavailable)" <<<"$out" || fail "run --help with an old taskd: $out"

[ "$failures" -eq 0 ] || { echo "test_help: $failures failed"; exit 1; }
echo "test_help: all passed"
