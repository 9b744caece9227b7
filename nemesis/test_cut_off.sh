#!/usr/bin/env bash
# member-cut-off on a real cluster (3 taskd members, register workload,
# ~20 s a run): a removal sent through a leader whose followers are
# stopped, then every node SIGKILLed. The default taskd cannot commit it
# (outcome unknown) and the run is valid; under --bug change-before-commit
# the removal is acknowledged and lost, and the run is invalid (membership
# `lost` or raft `change_overwritten`). Each run must show the fault did
# its steps (the nemesis "cut-off" and "crash" infos in the history).
# Seeds: FAULTLINE_SEED, else random (printed).
set -uo pipefail
BIN=${FAULTLINE_BIN:-bin}
seed=${FAULTLINE_SEED:-$((RANDOM * 32768 + RANDOM))}
echo "test_cut_off: seed $seed (FAULTLINE_SEED=$seed to repeat)"
tmp=$(mktemp -d /tmp/test_cut_off.XXXXXX)
failures=0
trap '[ "$failures" -eq 0 ] && rm -rf "$tmp" || echo "test_cut_off: kept $tmp"' EXIT

cat >"$tmp/c.json" <<'JSON'
{
  "name": "cut-off", "nodes": 3, "members": 3,
  "duration_s": 12, "recovery_s": 5,
  "db": {"name": "taskd", "election_timeout_ms": 500, "heartbeat_ms": 50},
  "workload": {"name": "register", "clients": 4, "keys": 4, "rate": 80,
               "op_timeout_ms": 800, "values": 1000},
  "nemesis": {"faults": ["member-cut-off"], "interval_s": 2,
              "duration_s": 1.5, "targets": ["one"]}
}
JSON

# run WANT_CODE PATTERN [ARGS...]
run() {
  local want=$1 pattern=$2; shift 2
  local out code dir
  out=$("$BIN/faultline" run "$tmp/c.json" --seed "$seed" \
    --runs-dir "$tmp/runs" "$@" 2>&1); code=$?
  dir=$(sed -n 's/^faultline: run directory //p' <<<"$out" | tail -1)
  if [ "$code" -ne "$want" ] || ! grep -qE -- "$pattern" <<<"$out"; then
    echo "FAIL: ${*:-default} -> exit $code (want $want, /$pattern/):"
    grep -E '^faultline: (valid|invalid|unknown)' <<<"$out" | cut -c1-400
    failures=$((failures + 1))
  elif [ -z "$dir" ] ||
    ! grep -q '"type":"info","f":"cut-off"' "$dir/history.jsonl" ||
    ! grep -q '"type":"info","f":"crash"' "$dir/history.jsonl"; then
    echo "FAIL: ${*:-default}: no cut-off and crash in $dir/history.jsonl"
    failures=$((failures + 1))
  else
    echo "ok: ${*:-default} -> $code: $(grep -m1 -oE '^faultline: [a-z]+: .{0,160}' <<<"$out")"
  fi
}

run 0 '^faultline: valid: '
run 1 '^faultline: invalid: .*(membership: [0-9]+ lost|raft: [0-9]+ change_overwritten)' \
  --bug change-before-commit

[ "$failures" -eq 0 ] || { echo "test_cut_off: $failures failed (seed $seed)"; exit 1; }
echo "test_cut_off: all passed"
