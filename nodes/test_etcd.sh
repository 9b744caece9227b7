#!/usr/bin/env bash
# etcd end to end: a short chaos run against a real 3-member etcd 3.4
# cluster (scenarios/etcd-smoke.json, members SIGKILLed and restarted) ends
# valid with etcd's own files on disk; faults etcd can't take (a clock jump
# through libfaketime, a libfiu disk error: etcd is a Go binary and makes
# its own syscalls) are refused before anything starts, exit 3, naming the
# fault and the system. The client mapping itself is test_etcd_client (a C
# test against a single member). Seeds: FAULTLINE_SEED, else random.
set -uo pipefail
BIN=${FAULTLINE_BIN:-bin}
if ! command -v etcd >/dev/null 2>&1; then
  echo "test_etcd: SKIP: etcd not installed (Debian's etcd-server)"
  exit 0
fi
seed=${FAULTLINE_SEED:-$((RANDOM * 32768 + RANDOM))}
echo "test_etcd: seed $seed (FAULTLINE_SEED=$seed to repeat)"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT # the members die with the runner (its sandbox)
. "$(dirname "$0")/../test/lib.sh"

# 1. Refused: each fault kind etcd lacks a capability for, exit 3, and
# nothing started (no run directory).
for fault in clock disk; do
  python3 - "$fault" "$tmp/etcd-$fault.json" <<'PY'
import json, sys
fault, out = sys.argv[1], sys.argv[2]
s = json.load(open("scenarios/etcd-smoke.json"))
s["name"] = "etcd-" + fault
s["nemesis"] = {"faults": [fault], "interval_s": 3, "duration_s": 1}
if fault == "disk":
    s["nemesis"].update({"disk_ops": ["fsync"], "disk_errno": "EIO"})
json.dump(s, open(out, "w"))
PY
  "$BIN/faultline" run "$tmp/etcd-$fault.json" --runs-dir "$tmp/refused" \
    >"$tmp/$fault.out" 2>&1
  code=$?
  cat "$tmp/$fault.out"
  [ "$code" -eq 3 ] || fail "$fault on etcd exited $code, want 3"
  grep -q "the fault $fault needs .*; etcd does not" "$tmp/$fault.out" ||
    fail "$fault refusal does not name the fault and etcd"
  [ ! -e "$tmp/refused" ] || fail "$fault: a refused run made a run directory"
done

# 2. The chaos run: valid, kills happened, etcd's WAL in the data dirs.
"$BIN/faultline" run scenarios/etcd-smoke.json --seed "$seed" \
  --runs-dir "$tmp/runs" >"$tmp/run.out" 2>&1
code=$?
cat "$tmp/run.out"
dir=$(sed -n 's/^faultline: run directory //p' "$tmp/run.out" | tail -1)
[ "$code" -eq 0 ] || fail "etcd-smoke exited $code, want 0 (valid)"
grep -q '^faultline: valid: linearizable' "$tmp/run.out" || fail "no valid verdict"
if [ -n "$dir" ] && [ -d "$dir" ]; then
  kills=$(grep -c '"process":"nemesis","type":"info","f":"kill"' "$dir/history.jsonl")
  oks=$(grep -c '"type":"ok"' "$dir/history.jsonl")
  echo "test_etcd: $oks ok ops, $kills kills"
  [ "$kills" -ge 3 ] || fail "expected at least 3 kills in 15 s, saw $kills"
  [ "$oks" -ge 300 ] || fail "expected at least 300 ok ops, saw $oks"
  for n in n1 n2 n3; do
    ls "$dir/nodes/$n/data/member/wal/"*.wal >/dev/null 2>&1 ||
      fail "$n: no etcd WAL under its data dir"
  done
  grep -q '"name": "etcd"' "$dir/scenario.json" || fail "scenario.json lacks db etcd"
else
  fail "no run directory"
fi

[ "$failures" -eq 0 ] && echo "test_etcd: ok" || echo "test_etcd: $failures failures"
exit $((failures > 0))
