#!/usr/bin/env bash
# The tasks, queue and lease workloads against real taskd nodes: a short run
# of each (scenarios/X.json, 8 s of faults) writes a history that follows
# histories/FORMAT.md for its workload (runner/workload_history.py: every
# op's fields, rids reused only by retries, the final list or drain). The
# lint itself must catch a broken history: a rid reused for another request,
# a missing final list, a drain that stopped early. The healthy runs must be
# valid (the bugs these workloads catch: checker/test_checkers_live.sh and
# nodes/taskd/BUGS.md).
# Seeds: FAULTLINE_SEED, else random (printed).
set -uo pipefail
BIN=${FAULTLINE_BIN:-bin}
PY=/usr/bin/python3
seed=${FAULTLINE_SEED:-$((RANDOM * 32768 + RANDOM))}
echo "test_workloads: seed $seed (FAULTLINE_SEED=$seed to repeat)"
tmp=$(mktemp -d)
cleanup() {
  pkill -KILL -f "$tmp/" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
run_dir_of() { sed -n 's/^faultline: run directory //p' "$1" | tail -1; }

for w in tasks queue lease; do
  "$BIN/faultline" run "scenarios/$w.json" --seed "$seed" --time-limit 8 \
    --runs-dir "$tmp/runs" >"$tmp/$w.out" 2>&1
  code=$?
  tail -3 "$tmp/$w.out"
  dir=$(run_dir_of "$tmp/$w.out")
  [ -n "$dir" ] && [ -s "$dir/history.jsonl" ] || { fail "$w: no history"; continue; }
  [ "$code" -eq 0 ] || fail "$w: the healthy run exited $code, want 0 (valid)"
  $PY runner/workload_history.py "$dir" || fail "$w: history does not follow FORMAT.md"
  cp -r "$dir" "$tmp/$w"
done

# The lint must fail on broken histories.
broken() { # NAME DIR SED-SCRIPT: the history edited by SED-SCRIPT must not pass
  local name=$1 dir=$2 script=$3
  [ -d "$dir" ] || return
  rm -rf "$tmp/broken" && cp -r "$dir" "$tmp/broken"
  sed -i -e "$script" "$tmp/broken/history.jsonl"
  if $PY runner/workload_history.py "$tmp/broken" >"$tmp/broken.out" 2>&1; then
    fail "lint passed a history with $name"
  else
    echo "ok: lint rejects $name: $(grep -m1 history.jsonl "$tmp/broken.out")"
  fi
}
# The second create reuses the first create's rid.
broken "a rid reused by another request" "$tmp/tasks" \
  '0,/"f":"create","key":"t1","value":{"rid":"[^"]*"}/s//"f":"create","key":"t1","value":{"rid":"c0-REUSED"}/;0,/"f":"create","key":"t0","value":{"rid":"[^"]*"}/s//"f":"create","key":"t0","value":{"rid":"c0-REUSED"}/'
broken "no final list" "$tmp/tasks" '$d'
broken "a drain cut short (no empty claim)" "$tmp/queue" '/"error":"empty"/d'
broken "a claim's ok value without expires_ms" "$tmp/queue" \
  '0,/"type":"ok","f":"claim"/s/,"expires_ms":[0-9]*//'

[ "$failures" -eq 0 ] || { echo "test_workloads: $failures failed (seed $seed)"; exit 1; }
echo "test_workloads: all passed"
