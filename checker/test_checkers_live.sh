#!/usr/bin/env bash
# The set, queue and lease checkers on real runs: no false alarm on the
# default taskd (tasks with leader kills, cuts and packet loss; lease with
# clock bumps), and taskd's lost-claim bug (two workers given one task) is
# caught by the queue checker. Short runs (4 s of faults each).
# Seeds: FAULTLINE_SEED, else random (printed).
set -uo pipefail
BIN=${FAULTLINE_BIN:-bin}
seed=${FAULTLINE_SEED:-$((RANDOM * 32768 + RANDOM))}
echo "test_checkers_live: seed $seed (FAULTLINE_SEED=$seed to repeat)"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0

# run WANT_CODE PATTERN SCENARIO [ARGS...]: the run's exit code and verdict.
run() {
  local want=$1 pattern=$2 scenario=$3; shift 3
  local out code
  out=$("$BIN/faultline" run "scenarios/$scenario.json" --seed "$seed" \
    --time-limit 4 --runs-dir "$tmp/runs" "$@" 2>&1); code=$?
  if [ "$code" -ne "$want" ] || ! grep -qE -- "$pattern" <<<"$out"; then
    echo "FAIL: $scenario $* -> exit $code (want $want, /$pattern/):"
    grep -E '^faultline: (valid|invalid|unknown|run directory)' <<<"$out" |
      cut -c1-300 | head -3
    failures=$((failures + 1))
  else
    echo "ok: $scenario $* -> $code: $(grep -m1 -E '^faultline: (valid|invalid)' <<<"$out" | cut -c12-150)"
  fi
}

run 0 '^faultline: valid: set \([0-9]+ ok.*; linearizable \(task-record' tasks
run 0 '^faultline: valid: lease \([0-9]+ acquires\); linearizable \(lease' lease
run 1 '^faultline: invalid: queue: [0-9]+ double_claim' queue --bug lost-claim

[ "$failures" -eq 0 ] || { echo "test_checkers_live: $failures failed (seed $seed)"; exit 1; }
echo "test_checkers_live: all passed"
