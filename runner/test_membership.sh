#!/usr/bin/env bash
# Membership changes as faults, on a real cluster (5 slots, 3 initial
# members, register workload, ~30 s): a seed whose plan holds every
# membership kind (member-remove, member-wipe, member-add, member-demote,
# member-grow, transfer-leader) is searched from FAULTLINE_SEED (else
# random, printed) with `faultline schedule`, then run. The run must end
# valid; every kind must have started and ended in the history (nemesis
# invoke/info, "<kind>-end"); every change record must carry an outcome
# (committed, failed, unknown) and add, assign, remove and transfer must
# each have committed once; configuration.json must hold every running
# node's answer and agree with the committed changes
# (runner/membership_check.py), be recorded in the history (the nemesis
# "configuration" info) and judged valid by the membership checker. Then bad input exits 3 naming the field:
# an unknown role in nemesis.demote_roles, an unknown nemesis key, members
# above nodes, grow_to out of range.
set -uo pipefail
BIN=${FAULTLINE_BIN:-bin}
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
seed=${FAULTLINE_SEED:-$((RANDOM * 32768 + RANDOM))}
tmp=$(mktemp -d /tmp/test_membership.XXXXXX)
. "$(dirname "$0")/../test/lib.sh"
trap '[ "$failures" -eq 0 ] && rm -rf "$tmp" || echo "test_membership: kept $tmp"' EXIT
t_start=$SECONDS

kinds="member-remove member-wipe member-add member-demote member-grow transfer-leader"
cat >"$tmp/m.json" <<EOF2
{
  "name": "test-membership", "nodes": 5, "members": 3,
  "duration_s": 28, "recovery_s": 4,
  "db": {"name": "taskd", "election_timeout_ms": 500, "heartbeat_ms": 50,
         "snapshot_threshold": 128, "snapshot_trailing": 32},
  "workload": {"name": "register", "clients": 5, "keys": 4, "rate": 60,
               "op_timeout_ms": 800, "values": 1000},
  "nemesis": {"faults": ["member-remove", "member-wipe", "member-add",
                         "member-demote", "member-grow", "transfer-leader"],
              "interval_s": 2.2, "duration_s": 1.0,
              "targets": ["one", "leader"]}
}
EOF2

# --- a seed whose plan has every kind --------------------------------------
found=
for try in $(seq 0 199); do
  s=$((seed + try))
  plan=$("$BIN/faultline" schedule "$tmp/m.json" --seed "$s" 2>&1) || {
    fail "faultline schedule exited $?: $plan"; break; }
  ok=1
  for k in $kinds; do
    grep -q " $k " <<<"$plan" || { ok=0; break; }
  done
  if [ "$ok" = 1 ]; then found=$s; break; fi
done
[ -n "$found" ] || { fail "no seed from $seed on plans every kind"; exit 1; }
echo "test_membership: seed $found (FAULTLINE_SEED=$found to repeat; searched from $seed)"

# --- the run -----------------------------------------------------------------
"$BIN/faultline" run "$tmp/m.json" --seed "$found" --runs-dir "$tmp/runs" \
  >"$tmp/run.out" 2>&1
code=$?
tail -4 "$tmp/run.out" | sed 's/^/    /'
[ "$code" -eq 0 ] || { fail "run exited $code (expected 0, valid)"; cat "$tmp/run.out"; }
dir=$(ls -d "$tmp"/runs/test-membership/*/ 2>/dev/null | head -1)
[ -n "$dir" ] || { fail "no run directory"; exit 1; }
"$PY" - "$dir" $kinds <<'PYEOF' || fail "history or configuration.json: see above"
import json, sys
run, kinds = sys.argv[1], sys.argv[2:]
ev = [json.loads(l) for l in open(run + "/history.jsonl") if l.startswith("{") and '"nemesis"' in l]
bad = 0
def no(msg):
    global bad
    print("  FAIL " + msg); bad += 1
for k in kinds:
    for f in (k, k + "-end"):
        inv = [e for e in ev if e["f"] == f and e["type"] == "invoke"]
        info = [e for e in ev if e["f"] == f and e["type"] == "info"]
        if not inv or len(info) != len(inv):
            no("%s: %d invokes, %d infos" % (f, len(inv), len(info)))
    starts = [e for e in ev if e["f"] == k and e["type"] == "info"]
    print("  %-16s %d started; outcomes %s" % (k, len(starts), sorted({e["value"]["outcome"] for e in starts})))
changes = [e for e in ev if e["f"] in ("add", "assign", "remove", "transfer") and e["type"] == "info"]
for e in changes:
    if e["value"].get("outcome") not in ("committed", "failed", "unknown"):
        no("change without an outcome: %s" % json.dumps(e))
for f in ("add", "assign", "remove", "transfer"):
    got = [e["value"]["outcome"] for e in changes if e["f"] == f]
    print("  change %-9s %s" % (f, {o: got.count(o) for o in sorted(set(got))}))
    if "committed" not in got:
        no("no %s committed" % f)
conf = json.load(open(run + "/configuration.json"))
c = conf.get("configuration")
if not isinstance(c, dict) or not c.get("voters"):
    no("configuration.json has no configuration with voters: %s" % conf)
else:
    print("  final configuration: voters %s standbys %s spares %s (index %s)" % (c["voters"], c["standbys"], c["spares"], c["index"]))
    if len(c["voters"]) != 3:
        no("expected 3 voters after every undo, got %s" % c["voters"])
# The runner's configuration record, and the membership checker judging it.
rec = [e for e in ev if e["f"] == "configuration" and e["type"] == "info"]
if len(rec) != 1 or rec[0]["value"].get("voters") != (c or {}).get("voters"):
    no("expected one nemesis configuration record equal to configuration.json's: %s" % rec)
mv = json.load(open(run + "/verdict.json")).get("checkers", {}).get("membership")
if not mv or mv.get("valid") is not True:
    no("the membership checker is not in verdict.json, or not valid: %s" % mv)
else:
    print("  membership checker: valid, counts %s" % mv.get("counts"))
running = [n for n, a in conf["nodes"].items() if a.get("error") != "not running"]
for n in running:
    if "members" not in conf["nodes"][n]:
        no("%s is running but gave no configuration: %s" % (n, conf["nodes"][n]))
sys.exit(1 if bad else 0)
PYEOF
"$PY" runner/membership_check.py "$dir" | sed 's/^/  /'
[ "${PIPESTATUS[0]}" -eq 0 ] || fail "membership_check: the final configuration disagrees with a committed change"

# --- bad input: exit 3 naming the field --------------------------------------
expect3() { # NAME TEXT JSON
  echo "$3" >"$tmp/$1.json"
  out=$("$BIN/faultline" run "$tmp/$1.json" --runs-dir "$tmp/runs" 2>&1)
  code=$?
  if [ "$code" -ne 3 ] || ! grep -qF -- "$2" <<<"$out"; then
    fail "$1: expected exit 3 with '$2', got $code: $out"
  else
    echo "  bad input $1: exit 3: $(head -1 <<<"$out")"
  fi
}
expect3 role '"nemesis.demote_roles[0]": unknown value "observer"' \
  '{"nodes": 5, "members": 3, "nemesis": {"faults": ["member-demote"], "demote_roles": ["observer"]}}'
expect3 key '"nemesis.member_wipe"' \
  '{"nodes": 5, "members": 3, "nemesis": {"faults": ["member-wipe"], "member_wipe": true}}'
expect3 members '"members"' '{"nodes": 3, "members": 5}'
expect3 grow '"nemesis.grow_to"' \
  '{"nodes": 5, "members": 3, "nemesis": {"faults": ["member-grow"], "grow_to": 1}}'

echo "test_membership: $((SECONDS - t_start)) s"
[ "$failures" -eq 0 ] || { echo "test_membership: $failures failed (seed $found)"; exit 1; }
echo "test_membership: all passed"
