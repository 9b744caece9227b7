#!/usr/bin/env bash
# faultline repro replays the faults a run recorded (times, nodes, cuts),
# not the seed's plan: run a short smoke scenario with kills and partitions,
# rewrite the recorded kill targets in its history to one node (n3), repro
# it, and check the new run made the same faults (kill n3, the same
# partition cuts) at the recorded times (within 0.5 s), that it is linked
# to the original (runner.log, repro.json), and that repro's exit code says
# whether the anomaly class came back (a valid run repro'd valid: 0).
set -uo pipefail
BIN=${FAULTLINE_BIN:-bin}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

# smoke.json with kills and partitions (isolate-leader: a target chosen
# at run time), a fault every 2 s.
/usr/bin/python3 - "$tmp/scenario.json" <<'PY'
import json, sys
s = json.load(open("scenarios/smoke.json"))
s["nemesis"].update({"faults": ["kill", "partition"], "interval_s": 2,
                     "duration_s": 1, "partitions": ["isolate-leader", "halves"]})
json.dump(s, open(sys.argv[1], "w"))
PY
"$BIN/faultline" run "$tmp/scenario.json" --seed 5 --time-limit 10 \
  --runs-dir "$tmp/orig" >"$tmp/run.out" 2>&1 || { cat "$tmp/run.out"; fail "the original run failed"; }
orig=$(dirname "$(ls "$tmp"/orig/*/*/history.jsonl)")
python3 - "$orig/history.jsonl" <<'PY' || fail "rewriting the original history"
import json, sys
path = sys.argv[1]
lines = open(path).read().splitlines()
out, n = [], 0
for line in lines:
    e = json.loads(line)
    if e.get("process") == "nemesis" and e.get("f") in ("kill", "start"):
        e["value"] = ["n3"]
        n += e["f"] == "kill" and e["type"] == "invoke"
    out.append(json.dumps(e, separators=(",", ":")))
open(path, "w").write("\n".join(out) + "\n")
assert n >= 1, "want a kill in 10 s"
PY

"$BIN/faultline" repro --runs-dir "$tmp/repro" "$orig" >"$tmp/repro.out" 2>&1; code=$?
[ "$code" -eq 0 ] || { fail "repro exited $code, want 0 (valid both times)"; cat "$tmp/repro.out"; }
grep -q "repro: reproduced" "$tmp/repro.out" || fail "repro does not say reproduced"
new=$(dirname "$(ls "$tmp"/repro/*/*/history.jsonl 2>/dev/null)" 2>/dev/null)
if [ -z "$new" ]; then
  fail "no new run directory"
else
  grep -q "repro of $orig" "$new/runner.log" || fail "runner.log does not name the original"
  grep -q '"reproduced": true' "$new/repro.json" || fail "repro.json: $(cat "$new/repro.json")"
  python3 - "$orig" "$new" <<'PY' || fail "the replayed faults differ from the recorded ones"
import json, sys
def faults(d):
    log = open(d + "/runner.log").read().splitlines()
    t0 = next(float(l.split()[0]) for l in log if "phase start -> faults" in l)
    out = []
    for line in open(d + "/history.jsonl"):
        e = json.loads(line)
        if e.get("process") == "nemesis" and e.get("type") == "invoke":
            out.append((e["f"], e["value"], e["time"] / 1e9 - t0))
    return out
a, b = faults(sys.argv[1]), faults(sys.argv[2])
starts = lambda fs, f: [x for x in fs if x[0] == f]
assert len(a) == len(b), (a, b)
for x, y in zip(a, b):
    assert x[0] == y[0] and x[1] == y[1], (x, y)
    assert abs(x[2] - y[2]) < 0.5, (x, y)
assert all(x[1] == ["n3"] for x in starts(b, "kill")), b
assert starts(b, "partition"), "want a partition in 10 s"
print("replayed %d kills of n3 and %d partitions (same cuts) at the "
      "recorded times" % (len(starts(b, "kill")), len(starts(b, "partition"))))
PY
fi

[ "$failures" -eq 0 ] || { echo "test_repro: $failures failed"; exit 1; }
echo "test_repro: all passed"
