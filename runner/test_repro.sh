#!/usr/bin/env bash
# faultline repro replays the faults a run recorded (times, nodes, cuts),
# not the seed's plan: run a short smoke scenario with kills and partitions,
# rewrite the recorded kill targets in its history to one node (n3), repro
# it, and check the new run made the same faults (kill n3, the same
# partition cuts) at the recorded times (within 0.5 s), that it is linked
# to the original (runner.log, repro.json), and that repro's exit code says
# whether the original's verdict came back (a valid run repro'd valid: 0),
# twice (--attempts 2: each attempt replays the same faults, and the rate
# comes last). What it says of an invalid original (the same anomaly, the
# same class only) is tested without a cluster: test_repro_classify.c.
set -uo pipefail
BIN=${FAULTLINE_BIN:-bin}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
. "$(dirname "$0")/../test/lib.sh"

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

"$BIN/faultline" repro --attempts 2 --runs-dir "$tmp/repro" "$orig" >"$tmp/repro.out" 2>&1; code=$?
[ "$code" -eq 0 ] || { fail "repro exited $code, want 0 (valid each time)"; cat "$tmp/repro.out"; }
grep -q "^faultline: repro: original: no anomaly (valid)" "$tmp/repro.out" || fail "repro does not say what the original was"
for k in 1 2; do
  grep -q "^faultline: repro: attempt $k of 2: valid; run directory " "$tmp/repro.out" ||
    fail "repro does not say attempt $k was valid"
done
grep -qx "faultline: repro: valid 2 of 2" "$tmp/repro.out" || fail "repro gives no rate: $(tail -1 "$tmp/repro.out")"
news=$(ls "$tmp"/repro/*/*/history.jsonl 2>/dev/null | wc -l)
[ "$news" -eq 2 ] || fail "want 2 new run directories, got $news"
for h in $(ls "$tmp"/repro/*/*/history.jsonl 2>/dev/null); do
  new=$(dirname "$h")
  grep -q "repro of $orig" "$new/runner.log" || fail "runner.log does not name the original"
  python3 - "$new/repro.json" <<'PY' || fail "repro.json: $(cat "$new/repro.json")"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["reproduced"] is True and r["outcome"] == "valid", r
assert r["attempts"] == 2 and r["attempt"] in (1, 2), r
assert r["original_anomalies"] == [] and r["anomaly_details"] == [], r
PY
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
done

[ "$failures" -eq 0 ] || { echo "test_repro: $failures failed"; exit 1; }
echo "test_repro: all passed"
