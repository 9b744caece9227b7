#!/usr/bin/env bash
# test-quick
# faultline check picks its checkers from the workload (here: from the op
# names), combines their verdicts into one, and names the one that failed.
set -uo pipefail
BIN=${FAULTLINE_BIN:-bin}
C=checker
. "$(dirname "$0")/../test/lib.sh"

# Task ops: the set checker and the task-record model both run.
expect 0 '^valid: set \(3 ok\); linearizable \(task-record' -- \
  "$BIN/faultline" check $C/cases_set/all_present/history.jsonl
expect 1 '^invalid: set: 1 lost' -- \
  "$BIN/faultline" check $C/cases_set/lost/history.jsonl
expect 1 '^invalid: linearizable: key "t1": get t1' -- \
  "$BIN/faultline" check --checker linearizable $C/cases_task/stale_get/history.jsonl
# No list at all: the set checker can't tell lost tasks: unknown overall.
expect 2 '^unknown: set: no final read' -- \
  "$BIN/faultline" check $C/cases_task/lifecycle/history.jsonl
expect 0 '^valid: linearizable \(task-record' -- \
  "$BIN/faultline" check --model task-record $C/cases_task/lifecycle/history.jsonl
# The JSON: one overall "valid", each checker's verdict under "checkers".
out=$("$BIN/faultline" check --json $C/cases_set/present_but_failed/history.jsonl)
if python3 - "$out" <<'PY'
import json, sys
v = json.loads(sys.argv[1])
assert v["valid"] is False, v["valid"]
assert v["checkers"]["set"]["valid"] is False
assert v["checkers"]["set"]["anomalies"]["present_but_failed"]["count"] == 1
assert v["checkers"]["linearizable"]["model"] == "task-record"
assert v["checkers"]["set"]["kind"] == "present_but_failed"
assert "checker" not in v  # top-level fields only for linearizable alone
PY
then echo "ok: --json verdict object"; else echo "FAIL: --json verdict object: $out" | head -20; failures=$((failures + 1)); fi
# Register histories keep today's line and top-level fields.
expect 0 '^valid: linearizable \(cas-register' -- \
  "$BIN/faultline" check $C/cases/sequential_valid/history.jsonl
expect 1 '"checker": "linearizable"' -- \
  "$BIN/faultline" check --json $C/cases/stale_read/history.jsonl
# Queue ops: the queue checker.
expect 1 '^invalid: queue: 1 double_claim' -- \
  "$BIN/faultline" check $C/cases_queue/double_claim/history.jsonl
expect 0 '^valid: queue' -- \
  "$BIN/faultline" check $C/cases_queue/expired_reclaimed/history.jsonl
# Lease ops: the lease checker.
expect 1 '^invalid: lease: 1 two_holders' -- \
  "$BIN/faultline" check $C/cases_lease/two_holders/history.jsonl
expect 0 '^valid: lease \(2 acquires\); linearizable \(lease' -- \
  "$BIN/faultline" check $C/cases_lease/handover_after_expiry/history.jsonl
# A value a checker can't read: bad input, naming the line.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
printf '%s\n' '{"time":0,"process":0,"type":"invoke","f":"list"}' \
  '{"time":1,"process":0,"type":"ok","f":"list","value":{"t1":1}}' >"$tmp/l.jsonl"
expect 3 'l.jsonl:2: ok list value: expected an array' -- \
  "$BIN/faultline" check "$tmp/l.jsonl"
printf '%s\n' '{"time":0,"process":0,"type":"invoke","f":"create","key":"t1","value":{"rid":"a"}}' \
  '{"time":1,"process":0,"type":"ok","f":"create","key":"t1","value":7}' >"$tmp/c.jsonl"
expect 3 'c.jsonl:1: process 0 create \(ok at line 2\): ok create value' -- \
  "$BIN/faultline" check --checker linearizable "$tmp/c.jsonl"
expect 3 'unknown checker "bogus"' -- \
  "$BIN/faultline" check --checker set,bogus $C/cases_set/lost/history.jsonl
# The header says which checkers (checker/registry.c): here the lease
# checker over register ops, where the op names would pick linearizable.
R=checker/testdata/registry
expect 0 '^[a-z]+: lease' -- \
  "$BIN/faultline" check $R/lease_header_register_ops.jsonl
expect 3 'unknown_workload.jsonl:1: field "workload": unknown workload "bank" \(known: tasks, queue, lease, kv, register' -- \
  "$BIN/faultline" check $R/unknown_workload.jsonl
expect 3 'unknown_checker.jsonl:1: field "checkers": unknown checker "elle" \(known: linearizable, set, queue, lease, converge, membership, raft\)' -- \
  "$BIN/faultline" check $R/unknown_checker.jsonl
expect 3 'unknown_checker.jsonl:1: field "checkers": unknown checker "elle"' -- \
  "$BIN/faultline" shrink $R/unknown_checker.jsonl
expect 3 'unknown model "paxos" \(known: task-record, lease, kv, cas-register\)' -- \
  "$BIN/faultline" check --model paxos $C/cases/stale_read/history.jsonl
# The shrunk history keeps the header's workload and checkers.
cp $C/cases_queue/double_claim/history.jsonl "$tmp/q.jsonl"
sed -i '1s/"seed":0}/"seed":0,"workload":"queue","checkers":["queue"],"model":null}/' "$tmp/q.jsonl"
expect 1 'invalid: queue' -- "$BIN/faultline" shrink "$tmp/q.jsonl"
expect 0 '"workload":"queue","checkers":\["queue"\]' -- head -1 "$tmp/q.jsonl.shrunk.jsonl"
# Nothing to check is not valid (issue 16, item 9): a header-only history,
# or a run that never found a leader, is unknown with the reason.
printf '%s\n' '{"format":"faultline-history","version":1}' >"$tmp/empty.jsonl"
expect 2 '^unknown: nothing to check: the history has no client operations' -- \
  "$BIN/faultline" check "$tmp/empty.jsonl"
expect 2 '"valid": "unknown"' -- "$BIN/faultline" check --json "$tmp/empty.jsonl"
expect 2 'nothing to shrink: unknown' -- "$BIN/faultline" shrink "$tmp/empty.jsonl"
mkdir "$tmp/noleader"
printf '%s\n' '{"format":"faultline-history","version":1}' \
  '{"time":5,"process":"nemesis","type":"info","f":"kill","value":["n1"]}' >"$tmp/noleader/history.jsonl"
echo "0.001 run: phase start -> start" >"$tmp/noleader/runner.log"
expect 2 'unknown: nothing to check: the run never found a leader' -- \
  env FAULTLINE_PYTHON=/bin/false "$BIN/faultline" check "$tmp/noleader"
# shrink's verdict line names the original's indices, as its table does
# (issue 16, item 4): the read is event 4 of the original, 0 of the shrunk.
cp $C/cases/cas_fail_but_applied/history.jsonl "$tmp/r.jsonl"
expect 1 'read -> 2 \(process 0, index 4\) cannot be linearized' -- "$BIN/faultline" shrink "$tmp/r.jsonl"
cp $C/cases_queue/lost/history.jsonl "$tmp/lost.jsonl"
expect 1 'q2 acked \(index 3\) but never claimed' -- "$BIN/faultline" shrink "$tmp/lost.jsonl"

[ "$failures" -eq 0 ] || { echo "test_check_dispatch: $failures failed"; exit 1; }
echo "test_check_dispatch: all passed"
