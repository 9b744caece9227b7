#!/usr/bin/env bash
# The raft checker on real runs (checker/raft_safety.h): three short runs
# of one scenario whose rules crash-restart a node right after it reports
# a vote, and right after it reports an append, durable (event-driven, not
# timed: the first vote of the first election always fires the rule).
#   default taskd            valid, and the raft checker compared restarts
#   --bug vote-not-persisted the voter comes back without its vote: vote_lost
#   --bug append-early-ack   the node comes back with a shorter log than it
#                            acknowledged: log_lost
# Seeds: FAULTLINE_SEED, else random (printed). About 40 s.
set -uo pipefail
BIN=${FAULTLINE_BIN:-bin}
seed=${FAULTLINE_SEED:-$((RANDOM * 32768 + RANDOM))}
echo "test_raft_live: seed $seed (FAULTLINE_SEED=$seed to repeat)"
tmp=$(mktemp -d /tmp/test_raft_live.XXXXXX)
failures=0
trap '[ "$failures" -eq 0 ] && rm -rf "$tmp" || echo "test_raft_live: kept $tmp"' EXIT

cat >"$tmp/crash-on-persist.json" <<'JSON'
{
  "name": "crash-on-persist", "nodes": 3, "duration_s": 6, "recovery_s": 3,
  "db": {"name": "taskd", "election_timeout_ms": 500, "heartbeat_ms": 50},
  "workload": {"name": "register", "clients": 4, "keys": 4, "rate": 100,
               "op_timeout_ms": 1000},
  "nemesis": {"faults": [], "rules": [
    {"on": "vote_persisted", "probability": 1, "delay_ms": [0, 0],
     "fault": "crash-restart", "target": "self", "max": 2, "cooldown_ms": 1000},
    {"on": "append_persisted", "probability": 1, "delay_ms": [0, 0],
     "fault": "crash-restart", "target": "self", "max": 3, "cooldown_ms": 1500}
  ]}
}
JSON

# run WANT_CODE PATTERN [ARGS...]: the run's exit code and its raft verdict.
run() {
  local want=$1 pattern=$2; shift 2
  local out code
  out=$("$BIN/faultline" run "$tmp/crash-on-persist.json" --seed "$seed" \
    --runs-dir "$tmp/runs" "$@" 2>&1); code=$?
  if [ "$code" -ne "$want" ] || ! grep -qE -- "$pattern" <<<"$out"; then
    echo "FAIL: $* -> exit $code (want $want, /$pattern/):"
    grep -E '^faultline: (valid|invalid|unknown|run directory)' <<<"$out" |
      cut -c1-400 | head -3
    failures=$((failures + 1))
  else
    echo "ok: ${*:-default} -> $code: $(grep -m1 -oE 'raft[ :(][^;]*' <<<"$out" | cut -c1-200)"
  fi
  last_dir=$(sed -n 's/^faultline: run directory //p' <<<"$out" | tail -1)
}

# check WANT_CODE PATTERN ARGS...: `faultline check` (the raft checker is
# in the registry: --checker raft chooses it, on a run directory only).
check() {
  local want=$1 pattern=$2; shift 2
  local out code
  out=$("$BIN/faultline" check "$@" 2>&1); code=$?
  if [ "$code" -ne "$want" ] || ! grep -qE -- "$pattern" <<<"$out"; then
    echo "FAIL: check $* -> exit $code (want $want, /$pattern/):"
    cut -c1-400 <<<"$out" | head -3
    failures=$((failures + 1))
  else
    echo "ok: check ${*##*/} -> $code"
  fi
}

run 0 '^faultline: valid: .*raft \([^;]*[1-9][0-9]* restarts_compared'
run 1 '^faultline: invalid: .*raft: .*[0-9]+ vote_lost' --bug vote-not-persisted
if [ -n "$last_dir" ]; then
  check 1 '^invalid: raft: .*[0-9]+ vote_lost' "$last_dir" --checker raft
  check 3 'raft judges a run directory' "$last_dir/history.jsonl" --checker raft
  # check rewrites the run's verdict.json: all of its checkers again.
  check 1 'raft: .*vote_lost' "$last_dir"
else
  echo "FAIL: no run directory in the output"; failures=$((failures + 1))
fi
run 1 '^faultline: invalid: .*raft: .*[0-9]+ log_lost' --bug append-early-ack

[ "$failures" -eq 0 ] || { echo "test_raft_live: $failures failed (seed $seed)"; exit 1; }
echo "test_raft_live: all passed"
