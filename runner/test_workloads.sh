#!/usr/bin/env bash
# The tasks, queue and lease workloads against real taskd nodes: a short run
# of each (scenarios/X.json, 8 s of faults) writes a history that follows
# histories/FORMAT.md for its workload (runner/workload_history.py: every
# op's fields, rids reused only by retries, the final list or drain, one
# digest op per node after them: the convergence phase). The
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
. "$(dirname "$0")/../test/lib.sh"

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

# The lint must fail on broken histories. Each mutation names what it could
# not find (so it cannot quietly leave the history as it was).
broken() { # NAME DIR MUTATION: the history changed by MUTATION must not pass
  local name=$1 dir=$2 mutation=$3
  [ -d "$dir" ] || return
  rm -rf "$tmp/broken" && cp -r "$dir" "$tmp/broken"
  if ! $PY - "$mutation" "$tmp/broken/history.jsonl" <<'PYEOF'; then
import json, sys
mutation, path = sys.argv[1], sys.argv[2]
lines = open(path).read().splitlines()
recs = [json.loads(l) for l in lines]
def rid(r):
    v = r.get("value")
    return v.get("rid") if isinstance(v, dict) else None
keep = list(range(len(lines)))
if mutation == "rid-reuse":
    # Two creates of different tasks: every line of the second request
    # takes the first request's rid.
    seen = {}
    for r in recs:
        if r.get("type") == "invoke" and r.get("f") == "create" and rid(r):
            seen.setdefault(r.get("key"), rid(r))
            if len(seen) == 2:
                break
    if len(seen) < 2:
        sys.exit("mutation rid-reuse: fewer than two creates with a rid")
    first, second = list(seen.values())
    for i, r in enumerate(recs):
        if rid(r) == second:
            r["value"]["rid"] = first
            lines[i] = json.dumps(r, separators=(",", ":"))
elif mutation == "no-final-list":
    # Every list op goes, the final one with them.
    keep = [i for i, r in enumerate(recs) if r.get("f") != "list"]
    if len(keep) == len(lines):
        sys.exit("mutation no-final-list: no list op")
elif mutation == "drain-cut":
    # Every claim that found the queue empty goes (invoke and completion),
    # the drain's last ones with them: no claim ever saw it empty.
    gone, open_at = set(), {}
    for i, r in enumerate(recs):
        if r.get("type") == "invoke":
            open_at[r.get("process")] = i
        elif r.get("f") == "claim" and r.get("error") == "empty":
            gone |= {i, open_at[r.get("process")]}
    if not gone:
        sys.exit("mutation drain-cut: no empty claim")
    keep = [i for i in keep if i not in gone]
elif mutation == "no-expires":
    hit = [i for i, r in enumerate(recs) if r.get("type") == "ok"
           and r.get("f") == "claim" and isinstance(r.get("value"), dict)
           and "expires_ms" in r["value"]]
    if not hit:
        sys.exit("mutation no-expires: no claim ok with expires_ms")
    del recs[hit[0]]["value"]["expires_ms"]
    lines[hit[0]] = json.dumps(recs[hit[0]], separators=(",", ":"))
elif mutation == "digest-missing":
    # The last node's convergence probe goes (invoke and completion).
    hit = [i for i, r in enumerate(recs) if r.get("f") == "digest"]
    if not hit:
        sys.exit("mutation digest-missing: no digest op")
    node = recs[hit[-1]].get("key")
    keep = [i for i in keep if not (recs[i].get("f") == "digest"
                                    and recs[i].get("key") == node)]
else:
    sys.exit("unknown mutation " + mutation)
with open(path, "w") as f:
    f.write("".join(lines[i] + "\n" for i in keep))
PYEOF
    fail "could not make a history with $name"
    return
  fi
  if $PY runner/workload_history.py "$tmp/broken" >"$tmp/broken.out" 2>&1; then
    fail "lint passed a history with $name"
  else
    echo "ok: lint rejects $name: $(grep -m1 history.jsonl "$tmp/broken.out")"
  fi
}
broken "a rid reused by another request" "$tmp/tasks" rid-reuse
broken "no final list" "$tmp/tasks" no-final-list
broken "a drain cut short (no empty claim)" "$tmp/queue" drain-cut
broken "a claim's ok value without expires_ms" "$tmp/queue" no-expires
broken "a node without its convergence probe" "$tmp/lease" digest-missing

[ "$failures" -eq 0 ] || { echo "test_workloads: $failures failed (seed $seed)"; exit 1; }
echo "test_workloads: all passed"
