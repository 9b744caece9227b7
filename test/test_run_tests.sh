#!/usr/bin/env bash
# test-quick
# test/run_tests.sh, the driver of make test, on stand-in tests: a progress
# line per test, each one's output in its log and printed in full only when
# it fails, a closing count naming the failed ones, exit 1 when any failed;
# --quick runs only the scripts marked "# test-quick".
set -uo pipefail
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
. "$(dirname "$0")/../test/lib.sh"

mkdir -p "$tmp/t"
printf '#!/usr/bin/env bash\n# test-quick\necho quiet-pass-output\n' >"$tmp/t/test_pass.sh"
printf '#!/usr/bin/env bash\necho slow-pass-output\n' >"$tmp/t/test_slow.sh"
printf '#!/usr/bin/env bash\n# test-quick\necho line-one-of-failure\necho line-two-of-failure >&2\nexit 2\n' >"$tmp/t/test_fail.sh"
printf '#!/bin/sh\necho binary-output\n' >"$tmp/t/test_bin"
chmod +x "$tmp/t/test_bin"

bash test/run_tests.sh --logs "$tmp/logs" "$tmp/t/test_bin" "$tmp/t/test_pass.sh" \
  "$tmp/t/test_fail.sh" "$tmp/t/test_slow.sh" >"$tmp/out" 2>&1; code=$?
cat "$tmp/out"
[ "$code" -eq 1 ] || fail "a failed test: exit $code, want 1"
grep -qE '^\[1/4\] test_bin \.\.\. ok [0-9]+ s$' "$tmp/out" || fail "no progress line for the binary"
grep -qE "^\[2/4\] $tmp/t/test_pass.sh \.\.\. ok [0-9]+ s$" "$tmp/out" || fail "no progress line for the passing script"
grep -qE "^\[3/4\] $tmp/t/test_fail.sh \.\.\. FAILED \(exit 2\)" "$tmp/out" || fail "no FAILED line"
grep -q 'line-one-of-failure' "$tmp/out" && grep -q 'line-two-of-failure' "$tmp/out" ||
  fail "the failed test's output (stdout and stderr) is not printed"
grep -q 'quiet-pass-output' "$tmp/out" && fail "a passing test's output is printed"
grep -q 'quiet-pass-output' "$tmp/logs/"*test_pass.sh.log || fail "a passing test's output is not in its log"
[ -f "$tmp/logs/test_bin.log" ] || fail "no log for the binary: $(ls "$tmp/logs")"
tail -1 "$tmp/out" | grep -qE "^3 passed, 1 failed: $tmp/t/test_fail.sh \(" ||
  fail "closing line: $(tail -1 "$tmp/out")"

bash test/run_tests.sh --logs "$tmp/logs2" "$tmp/t/test_bin" "$tmp/t/test_pass.sh" \
  "$tmp/t/test_slow.sh" >"$tmp/out2" 2>&1; code=$?
[ "$code" -eq 0 ] || fail "all passed: exit $code"
tail -1 "$tmp/out2" | grep -qE '^3 passed, 0 failed' || fail "closing line: $(tail -1 "$tmp/out2")"

bash test/run_tests.sh --quick --logs "$tmp/logs3" "$tmp/t/test_bin" "$tmp/t/test_pass.sh" \
  "$tmp/t/test_slow.sh" >"$tmp/out3" 2>&1; code=$?
[ "$code" -eq 0 ] || fail "--quick: exit $code"
grep -q test_slow "$tmp/out3" && fail "--quick ran a script not marked # test-quick"
grep -qE '^\[2/2\] .*test_pass.sh \.\.\. ok' "$tmp/out3" || fail "--quick: $(cat "$tmp/out3")"

[ "$failures" -eq 0 ] || { echo "test_run_tests: $failures failed"; exit 1; }
echo "test_run_tests: all passed"
