#!/usr/bin/env bash
# Every fault of the nemesis takes effect, and its heal undoes it: short real
# runs (one per fault family, two at a time), each watched from outside the
# sandbox by nemesis/test_faults.py, which probes the nodes inside their own
# network namespaces while each fault is in effect and after it ends:
#   schedule   `faultline schedule` is a pure function of scenario and seed;
#              a real run injects the planned kinds, in order, on time
#   partition  isolate-one (3 nodes) and halves (5 nodes): the sides can't
#              reach each other's raft port, each side reaches its own, the
#              majority has a leader; after the heal the minority connects
#   pause      the process is stopped (T) and silent; after resume it answers
#   kill       the old pid is gone and nothing runs; after start a new pid
#              answers
#   disk       fsync, then pwrite, EIO (a run each): io_error, exit, logged
#              as a crash, restarted, answers; raft-append once taskd has it
#   clock      event times are off by the recorded offset in the window and
#              back to real time after the reset
# Every run must end valid (exit 0). Then: no process, namespace, bridge or
# veth left behind. Seed: FAULTLINE_SEED, else random (printed).
set -uo pipefail
BIN=${FAULTLINE_BIN:-bin}
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
seed=${FAULTLINE_SEED:-$((RANDOM * 32768 + RANDOM))}
echo "test_faults: seed $seed (FAULTLINE_SEED=$seed to repeat)"
tmp=$(mktemp -d /tmp/test_faults.XXXXXX)
jobs_pids=()
. "$(dirname "$0")/../test/lib.sh"
cleanup() {
  for p in "${jobs_pids[@]}"; do
    kill -TERM "$p" 2>/dev/null
  done
  wait 2>/dev/null
  if [ "$failures" -eq 0 ]; then
    rm -rf "$tmp"
  else
    echo "test_faults: run directories kept in $tmp/runs"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
t_start=$SECONDS

netns_before=$(ip netns list 2>/dev/null | sort)
links() { ip -o link show 2>/dev/null | awk -F': ' '{print $2}' | sed 's/@.*//' |
          grep -E '^(fl0|v[0-9]+)$' | sort; }
links_before=$(links)

# --- scenarios ------------------------------------------------------------
# Small and fast: 50 ops/s, short election timeout, faults of 2-3 s spaced so
# that two never overlap (a fault starts every interval +- a quarter of it).
scenario() { # NAME NODES DURATION RECOVERY NEMESIS-JSON [SNAPSHOT-THRESHOLD]
  cat >"$tmp/$1.json" <<EOF
{
  "name": "$1", "nodes": $2, "duration_s": $3, "recovery_s": $4,
  "db": {"name": "taskd", "election_timeout_ms": 500, "heartbeat_ms": 50,
         "snapshot_threshold": ${6:-256}, "snapshot_trailing": 16},
  "workload": {"name": "register", "clients": 4, "keys": 4, "rate": 50,
               "op_timeout_ms": 1000},
  "nemesis": $5
}
EOF
}
scenario schedule 3 20 3 '{"faults": ["kill", "pause", "partition"], "interval_s": 4,
  "duration_s": 1.8, "targets": ["one"], "partitions": ["isolate-one"]}'
scenario partition-one 3 18 3 '{"faults": ["partition"], "interval_s": 6.5,
  "duration_s": 3, "partitions": ["isolate-one"]}'
scenario partition-halves 5 18 3 '{"faults": ["partition"], "interval_s": 6.5,
  "duration_s": 3, "partitions": ["halves"]}'
scenario pause 3 16 3 '{"faults": ["pause"], "interval_s": 5, "duration_s": 2.2,
  "targets": ["one", "leader"]}'
scenario kill 3 16 3 '{"faults": ["kill"], "interval_s": 5, "duration_s": 2,
  "targets": ["one", "leader"]}'
# taskd calls fsync only when it writes a snapshot: snapshots every ~32
# entries (about a second here) so that each 2 s fault meets one.
scenario disk-fsync 3 14 3 '{"faults": ["disk"], "interval_s": 4.5, "duration_s": 2,
  "targets": ["one"], "disk_ops": ["fsync"], "disk_errno": "EIO"}' 32
scenario disk-pwrite 3 14 3 '{"faults": ["disk"], "interval_s": 4.5, "duration_s": 2,
  "targets": ["one"], "disk_ops": ["pwrite"], "disk_errno": "EIO"}'
scenario disk-raft-append 3 14 3 '{"faults": ["disk"], "interval_s": 4.5,
  "duration_s": 2, "targets": ["one"], "disk_ops": ["raft-append"], "disk_errno": "EIO"}'
scenario clock 3 24 4 '{"faults": ["clock"], "interval_s": 6.5, "duration_s": 3.2,
  "targets": ["one", "all"], "clock_offset_ms": 30000,
  "clock_modes": ["bump", "strobe"]}'

# --- 1. the schedule is a function of scenario and seed --------------------
"$BIN/faultline" schedule "$tmp/schedule.json" --seed "$seed" >"$tmp/plan.a" 2>&1 ||
  fail "faultline schedule exited $?"
"$BIN/faultline" schedule "$tmp/schedule.json" --seed "$seed" >"$tmp/plan.b" 2>&1
"$BIN/faultline" schedule "$tmp/schedule.json" --seed "$((seed + 1))" >"$tmp/plan.c" 2>&1
steps=$(grep -c ' for ' "$tmp/plan.a")
echo "test_faults: schedule, seed $seed ($steps steps):"
sed 's/^/    /' "$tmp/plan.a"
[ "$steps" -ge 3 ] || fail "schedule: expected at least 3 steps in 20 s, got $steps"
if cmp -s "$tmp/plan.a" "$tmp/plan.b"; then
  echo "  schedule: same scenario and seed twice: identical"
else
  fail "schedule: two plans from the same seed differ"; diff "$tmp/plan.a" "$tmp/plan.b"
fi
if cmp -s <(tail -n +2 "$tmp/plan.a") <(tail -n +2 "$tmp/plan.c"); then
  fail "schedule: seeds $seed and $((seed + 1)) give the same plan"
else
  echo "  schedule: seed $((seed + 1)) gives a different plan"
fi

# --- 2.-6. real runs, two at a time ----------------------------------------
runs=(
  "clock clock"
  "schedule schedule --plan $tmp/plan.a"
  "partition-one partition"
  "partition-halves partition"
  "pause pause"
  "kill kill"
  "disk-fsync disk"
  "disk-pwrite disk"
)
# libfiu's POSIX preload and an ASan build of taskd don't load together (the
# node dies at start), so under `make asan` the preload-based disk runs are
# skipped; taskd's own points (raft-append) need no preload and still run.
if grep -qa __asan_init "$BIN/taskd"; then
  echo "test_faults: SKIP (expected) disk-fsync, disk-pwrite under ASan:" \
       "libfiu's posix preload can't be loaded into an ASan taskd"
  keep=()
  for r in "${runs[@]}"; do
    case $r in disk-fsync*|disk-pwrite*) ;; *) keep+=("$r") ;; esac
  done
  runs=("${keep[@]}")
fi
if grep -rq "taskd/raft/append" nodes/taskd 2>/dev/null; then
  runs+=("disk-raft-append disk")
else
  echo "test_faults: SKIP (expected) disk raft-append: taskd has no libfiu point" \
       "\"taskd/raft/append\" yet (grep -r taskd/raft/append nodes/taskd finds nothing);" \
       "nemesis/disk.c enables it, so such a fault would never fire"
fi

declare -A job_of=()
run_one() { # LABEL CHECKS [ARGS...]
  local label=$1 checks=$2
  shift 2
  "$PY" nemesis/test_faults.py run "$checks" --label "$label" \
    --scenario "$tmp/$label.json" --seed "$seed" --runs-dir "$tmp/runs" \
    --bin "$BIN" "$@" >"$tmp/$label.out" 2>&1
}
report() { # PID EXIT-CODE
  local label=${job_of[$1]}
  echo "== $label (exit $2)"
  cat "$tmp/$label.out"
  [ "$2" -eq 0 ] || fail "$label: see above"
  unset "job_of[$1]"
}
reap_one() {
  local done_pid code
  wait -n -p done_pid "${!job_of[@]}"
  code=$?
  report "$done_pid" "$code"
}
for spec in "${runs[@]}"; do
  # shellcheck disable=SC2086
  set -- $spec
  while [ "${#job_of[@]}" -ge 2 ]; do reap_one; done
  run_one "$@" &
  job_of[$!]=$1
  jobs_pids+=("$!")
done
while [ "${#job_of[@]}" -gt 0 ]; do reap_one; done

# --- 7. nothing left behind -------------------------------------------------
sleep 0.5
left=$(pgrep -a -f "$tmp/runs" 2>/dev/null | grep -v "pgrep" || true)
if [ -n "$left" ]; then
  fail "processes of the runs are still alive:"; echo "$left"
else
  echo "test_faults: leaks: no process of the runs left"
fi
netns_after=$(ip netns list 2>/dev/null | sort)
if [ "$netns_after" = "$netns_before" ]; then
  echo "test_faults: leaks: ip netns list unchanged (${netns_after:-empty})"
else
  fail "ip netns list changed: before [$netns_before] after [$netns_after]"
fi
links_after=$(links)
new_links=$(comm -13 <(echo "$links_before") <(echo "$links_after") | grep . || true)
if [ -n "$new_links" ]; then
  fail "links left in the host namespace:" $new_links
else
  echo "test_faults: leaks: no fl0 bridge or vN veth in ip link${links_before:+ (already there before: $links_before)}"
fi

echo "test_faults: $((SECONDS - t_start)) s"
[ "$failures" -eq 0 ] || { echo "test_faults: $failures failed (seed $seed)"; exit 1; }
echo "test_faults: all passed"
