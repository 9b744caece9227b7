#!/usr/bin/env bash
# test_redis: Redis with Sentinel as a system under test. Three parts:
#  1. the client's mapping (register and task ops, WAIT, refusals) against a
#     real redis-server with a Sentinel beside it;
#  2. Sentinel discovery and failover following: a primary and a replica,
#     the primary SIGKILLed, the client must land its write on the new one;
#  3. a short faultline run of scenarios/redis-kill.json that ends with a
#     verdict (any: no test asserts that Redis loses data or does not);
#     Before it, a clock fault is refused before the run (exit 3).
#  4. the same for the queue workload (scenarios/redis-queue.json): a
#     verdict from the queue checker, claims and acks in the history.
# The queue mapping itself (claim order, the sweep of expired claims, ack
# by the holder only, retries answered once) is part of 1.
# Servers run on free ports of 127.0.0.1 in a temp dir and are killed at the
# end, even on failure. Seeds: FAULTLINE_SEED, else random (printed).
set -uo pipefail
BIN=${FAULTLINE_BIN:-bin}
# The client driver is built beside the binaries under test (make, or
# make SAN=1: build/asan/bin and build/asan/tests).
case $BIN in
  bin|./bin) TESTS=build/release/tests ;;
  *) TESTS=$(dirname "$BIN")/tests ;;
esac
seed=${FAULTLINE_SEED:-$((RANDOM * 32768 + RANDOM))}
echo "test_redis: seed $seed (FAULTLINE_SEED=$seed to repeat)"
for p in redis-server redis-sentinel redis-cli; do
  command -v $p >/dev/null || { echo "FAIL: $p not installed (make deps)"; exit 1; }
done
tmp=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null; done
  rm -rf "$tmp"
}
trap cleanup EXIT
. "$(dirname "$0")/../test/lib.sh"

# A port P with P and P+1 free on 127.0.0.1 (redis, then its Sentinel).
free_pair() {
  python3 - "$@" <<'PY'
import random, socket, sys
taken = {int(a) for a in sys.argv[1:]}
while True:
    p = random.randrange(20000, 60000, 2)
    if p in taken or p + 1 in taken:
        continue
    try:
        for q in (p, p + 1):
            s = socket.socket(); s.bind(("127.0.0.1", q)); s.close()
    except OSError:
        continue
    print(p); break
PY
}

# Wait (up to 10 s) until `redis-cli -p PORT ARGS...` prints something
# matching PATTERN.
wait_for() {
  local port=$1 pattern=$2; shift 2
  for _ in $(seq 200); do
    redis-cli -p "$port" "$@" 2>/dev/null | grep -q "$pattern" && return 0
    sleep 0.05
  done
  fail "port $port: '$*' never matched $pattern"
  return 1
}

start_redis() { # DIR PORT [replicaof PORT]
  mkdir -p "$1"
  redis-server --bind 127.0.0.1 --port "$2" --dir "$1" --save '' \
    --appendonly yes --daemonize no --logfile "$1/redis.log" \
    ${3:+--replicaof 127.0.0.1 $3} &
  pids+=($!)
  last_pid=$!
}

start_sentinel() { # DIR REDIS_PORT MONITORED_PORT
  cat >"$1/sentinel.conf" <<CONF
bind 127.0.0.1
port $(($2 + 1))
daemonize no
logfile "$1/sentinel.log"
dir $1
sentinel monitor faultline 127.0.0.1 $3 1
sentinel down-after-milliseconds faultline 500
sentinel failover-timeout faultline 2000
CONF
  redis-sentinel "$1/sentinel.conf" &
  pids+=($!)
}

# 1. The mapping, against one primary.
t0=$SECONDS
a=$(free_pair)
start_redis "$tmp/a" "$a"
start_sentinel "$tmp/a" "$a" "$a"
wait_for "$a" PONG ping
wait_for $((a + 1)) "$a" SENTINEL get-master-addr-by-name faultline
"$TESTS/test_redis_client" mapping "127.0.0.1:$a" || fail "client mapping"
echo "test_redis: mapping $((SECONDS - t0)) s"

# 2. Failover: primary b, replica c with the Sentinel.
t0=$SECONDS
b=$(free_pair "$a")
c=$(free_pair "$a" "$b")
start_redis "$tmp/b" "$b"
bpid=$last_pid
wait_for "$b" PONG ping
start_redis "$tmp/c" "$c" "$b"
start_sentinel "$tmp/c" "$c" "$b"
wait_for "$c" master_link_status:up INFO replication
# The Sentinel must know the replica before the kill (it learns of it from
# the primary's INFO), else it finds "no good slave" to promote.
wait_for $((c + 1)) "^$c\$" SENTINEL replicas faultline
"$TESTS/test_redis_client" failover "127.0.0.1:$b" "127.0.0.1:$c" "$bpid" ||
  fail "client did not follow the failover"
grep -q "+promoted-slave" "$tmp/c/sentinel.log" || fail "Sentinel never promoted the replica"
echo "test_redis: failover $((SECONDS - t0)) s"

# 3. A short faultline run: it must end with a verdict (exit 0 or 1) and a
#    run directory with both processes' logs; the kills reach the Sentinels.
t0=$SECONDS
# A clock fault is refused before the run (jemalloc's redis-server does
# not start under libfaketime): exit 3 naming the fault and the system.
python3 -c '
import json, sys
s = json.load(open("scenarios/redis-kill.json"))
s["nemesis"]["faults"] = ["clock"]
json.dump(s, open(sys.argv[1], "w"))' "$tmp/redis-clock.json"
out=$("$BIN/faultline" run "$tmp/redis-clock.json" --seed 1 --runs-dir "$tmp/runs" 2>&1); code=$?
if [ "$code" -ne 3 ] || ! grep -q 'nemesis.faults\[0\]": the fault clock needs .*; redis does not' <<<"$out"; then
  fail "a clock fault on redis: exit $code (want 3 naming the fault and redis): $out"
else
  echo "ok: a clock fault on redis is refused before the run (exit 3)"
fi

"$BIN/faultline" run scenarios/redis-kill.json --seed "$seed" --time-limit 12 \
  --runs-dir "$tmp/runs" >"$tmp/run.out" 2>&1
code=$?
tail -6 "$tmp/run.out"
dir=$(sed -n 's/^faultline: run directory //p' "$tmp/run.out" | tail -1)
[ "$code" -eq 0 ] || [ "$code" -eq 1 ] || fail "faultline run exited $code, want a verdict (0 or 1)"
grep -qE "^faultline: (valid|invalid)" "$tmp/run.out" || fail "no verdict line"
for f in verdict.json history.jsonl nodes/n1/redis.conf nodes/n2/sentinel.conf \
         nodes/n1/sidecar.log nodes/n3/data/appendonlydir; do
  [ -e "$dir/$f" ] || fail "run directory lacks $f"
done
grep -q "Sentinel ID is" "$dir/nodes/n2/sidecar.log" || fail "n2's Sentinel did not start"
# Every schedule has a kill in its first 12 s (interval 6 s): the node and
# its Sentinel go down together and come back together.
kills=$(grep -c '"process":"nemesis","type":"info","f":"kill"' "$dir/history.jsonl")
sidecars=$(grep -c "started sidecar" "$dir/runner.log")
killed=$(grep -c "sent Killed to sidecar" "$dir/runner.log")
[ "$kills" -ge 1 ] || fail "no kill in 12 s"
[ "$killed" -ge "$kills" ] || fail "$kills kills but $killed Sentinels killed"
[ "$sidecars" -ge $((3 + kills)) ] || fail "$kills kills, $sidecars Sentinel starts (want 3 + kills)"
oks=$(grep -c '"type":"ok"' "$dir/history.jsonl")
[ "$oks" -ge 300 ] || fail "expected at least 300 ok ops, saw $oks"
echo "test_redis: faultline run $((SECONDS - t0)) s, $oks ok ops"

# 4. The queue workload end to end: any verdict, from the queue checker.
t0=$SECONDS
"$BIN/faultline" run scenarios/redis-queue.json --seed "$seed" --time-limit 8 \
  --runs-dir "$tmp/qruns" >"$tmp/qrun.out" 2>&1
code=$?
tail -4 "$tmp/qrun.out"
qdir=$(sed -n 's/^faultline: run directory //p' "$tmp/qrun.out" | tail -1)
[ "$code" -eq 0 ] || [ "$code" -eq 1 ] || fail "queue run exited $code, want a verdict (0 or 1)"
grep -qE "^faultline: (valid|invalid): queue" "$tmp/qrun.out" || fail "no queue verdict line"
python3 - "$qdir/verdict.json" <<'PY' || fail "verdict.json has no queue checker result"
import json, sys
q = json.load(open(sys.argv[1]))["checkers"]["queue"]
assert q["valid"] in (True, False, "unknown"), q
assert q["claims"] > 0 and q["tasks"] > 0, q
PY
for f in enqueue claim ack; do
  grep -q "\"type\":\"ok\",\"f\":\"$f\"" "$qdir/history.jsonl" || fail "no ok $f in the queue run"
done
echo "test_redis: queue run $((SECONDS - t0)) s"

[ "$failures" -eq 0 ] && echo "test_redis: ok" || echo "test_redis: $failures failure(s)"
[ "$failures" -eq 0 ]
