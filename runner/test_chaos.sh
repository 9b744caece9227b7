#!/usr/bin/env bash
# End to end: a short chaos run against real taskd nodes ends valid with a
# complete run directory and replicas that converged; the same run against taskd --bug stale-read (reads
# served from local state, no barrier) must end invalid: the checker catches
# a real fault. Seeds: FAULTLINE_SEED, else random (printed).
set -uo pipefail
BIN=${FAULTLINE_BIN:-bin}
seed=${FAULTLINE_SEED:-$((RANDOM * 32768 + RANDOM))}
echo "test_chaos: seed $seed (FAULTLINE_SEED=$seed to repeat)"
tmp=$(mktemp -d)
cleanup() {
  # Nodes die with the runner (PR_SET_PDEATHSIG); make sure of it.
  pkill -KILL -f "$tmp/" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
. "$(dirname "$0")/../test/lib.sh"

# 1. The healthy node: valid, and everything a run promises is on disk.
"$BIN/faultline" run scenarios/smoke.json --seed "$seed" --runs-dir "$tmp/runs" \
  >"$tmp/valid.out" 2>&1
code=$?
cat "$tmp/valid.out"
dir=$(run_dir_of "$tmp/valid.out")
[ "$code" -eq 0 ] || fail "healthy run exited $code, want 0 (valid)"
grep -q "^faultline: valid" "$tmp/valid.out" || fail "no 'valid' verdict line"
for f in scenario.json history.jsonl verdict.json runner.log \
         nodes/n1/events.jsonl nodes/n2/stderr.log nodes/n3/data; do
  [ -e "$dir/$f" ] || fail "run directory lacks $f"
done
grep -q '"valid": true' "$dir/verdict.json" || fail "verdict.json is not valid: true"
kills=$(grep -c '"process":"nemesis","type":"info","f":"kill"' "$dir/history.jsonl")
oks=$(grep -c '"type":"ok"' "$dir/history.jsonl")
echo "test_chaos: healthy run: $oks ok ops, $kills kills"
[ "$kills" -ge 4 ] || fail "expected at least 4 kills in 20 s, saw $kills"
[ "$oks" -ge 500 ] || fail "expected at least 500 ok ops, saw $oks"
grep -q '"seed": '"$seed" "$dir/scenario.json" || fail "scenario.json lacks the seed"
head -1 "$dir/history.jsonl" | grep -qE '"faultline_version": ?"[0-9]' ||
  fail "the history header lacks faultline_version: $(head -1 "$dir/history.jsonl")"
# Fails are split by reason, in the progress lines and the summary: a
# register run's cas_mismatch is the op's own answer, said as expected.
grep -qE '^\[ *[0-9.]+s/[0-9]+s\] .* fail [0-9]+ \((cas_mismatch|not_leader|unreachable|timeout) [0-9]+' "$tmp/valid.out" ||
  fail "the progress lines do not split fail by reason"
grep -qE '^faultline: fail [0-9]+: cas_mismatch [0-9]+.*\(expected [0-9]+: the operations. own answers' "$tmp/valid.out" ||
  fail "the summary does not split fail by reason"
# The convergence phase: one digest op per node, all at one applied index
# with one digest, judged by the converge checker; and it is cheap.
digests=$(grep -c '"type":"ok","f":"digest"' "$dir/history.jsonl")
[ "$digests" -eq 3 ] || fail "expected 3 ok digest ops (one per node), saw $digests"
grep -qE '^faultline: valid: .*converge \(3 agreed; n1, n2, n3 agree at index [0-9]+\)' \
  "$tmp/valid.out" || fail "the verdict line lacks converge's agreement"
took=$(sed -n 's/.* convergence: one applied index after \([0-9.]*\) s.*/\1/p' "$dir/runner.log")
echo "test_chaos: convergence took ${took:-?} s"
awk -v t="${took:-99}" 'BEGIN { exit !(t < 2) }' ||
  fail "the convergence phase took ${took:-forever} s (runner.log), want < 2"
pgrep -f "$tmp/runs" >/dev/null && fail "node processes outlived the run"

# 2. The buggy node: stale reads must be caught.
"$BIN/faultline" run scenarios/smoke.json --seed "$seed" --runs-dir "$tmp/runs" \
  --bug stale-read >"$tmp/bug.out" 2>&1
code=$?
cat "$tmp/bug.out"
dir=$(run_dir_of "$tmp/bug.out")
[ "$code" -eq 1 ] || fail "stale-read run exited $code, want 1 (invalid)"
grep -q '"valid": false' "$dir/verdict.json" 2>/dev/null || fail "stale-read verdict.json is not invalid"
# Said in words too, naming the node that answered and what it was then.
grep -qE '^faultline: in words: n[0-9] (answered|acknowledged) .* at [0-9.]+ s' "$tmp/bug.out" ||
  fail "the stale-read run is not explained in words"

# 3. Re-checking a stored run gives the same verdict.
"$BIN/faultline" check "$dir" >/dev/null 2>&1
[ $? -eq 1 ] || fail "faultline check of the stale-read run is not invalid"

[ "$failures" -eq 0 ] || { echo "test_chaos: $failures failed (seed $seed)"; exit 1; }
echo "test_chaos: all passed"
