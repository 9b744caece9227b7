#!/usr/bin/env bash
# test-quick
# The faultline command rejects bad input with a message naming the place
# and the documented exit code (README, "Exit codes").
set -uo pipefail
BIN=${FAULTLINE_BIN:-bin}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
. "$(dirname "$0")/../test/lib.sh"

expect 0 "usage: faultline" -- "$BIN/faultline" --help
expect 3 "unknown command" -- "$BIN/faultline" frobnicate
expect 3 "expected one SCENARIO" -- "$BIN/faultline" run
expect 3 "No such file" -- "$BIN/faultline" run "$tmp/missing.json"

echo '{"name":"x","workload":{"rat":5}}' >"$tmp/unknown-key.json"
expect 3 '"workload.rat": unknown key' -- "$BIN/faultline" run "$tmp/unknown-key.json"
echo '{"name":"x","nodes":"three"}' >"$tmp/wrong-type.json"
expect 3 '"nodes": expected an integer' -- "$BIN/faultline" run "$tmp/wrong-type.json"
echo '{"name":"x","nemesis":{"faults":["kill","meteor"]}}' >"$tmp/bad-fault.json"
expect 3 'nemesis.faults\[1\].*unknown value "meteor"' -- "$BIN/faultline" run "$tmp/bad-fault.json"
echo '{"name":"x","workload":{"name":"tasks","values":5}}' >"$tmp/foreign-key.json"
expect 3 '"workload.values": not a key of the tasks workload' -- "$BIN/faultline" run "$tmp/foreign-key.json"
echo '{"name":"x","workload":{"name":"sets"}}' >"$tmp/bad-workload.json"
expect 3 'unknown workload "sets" \(known: register, tasks, queue, lease\)' -- "$BIN/faultline" run "$tmp/bad-workload.json"
echo '{"name":"x","workload":{"name":"queue","claim":0}}' >"$tmp/no-claims.json"
expect 3 'queue workload needs enqueue and claim' -- "$BIN/faultline" run "$tmp/no-claims.json"
printf '{"name":"x",\n "nodes": 3,,\n}\n' >"$tmp/bad-json.json"
expect 3 'bad-json.json:2:' -- "$BIN/faultline" run "$tmp/bad-json.json"
expect 3 "positive number" -- "$BIN/faultline" run --time-limit abc scenarios/smoke.json

# check: bad histories name file:line.
printf '{"index":0,"time":1,"process":0,"type":"invoke","f":"read","key":"k","value":null}\n{"index":1,"time":2,"process":0,"type":"okay","f":"read","key":"k","value":null}\n' >"$tmp/bad-type.jsonl"
expect 3 'bad-type.jsonl:2' -- "$BIN/faultline" check "$tmp/bad-type.jsonl"
expect 3 'No such file|cannot|not found' -- "$BIN/faultline" check "$tmp/nothing.jsonl"
expect 3 "memory-limit|expected" -- "$BIN/faultline" check --memory-limit 0 "$tmp/bad-type.jsonl"

# check: a valid and an invalid hand-written history.
cat >"$tmp/valid.jsonl" <<'H'
{"index":0,"time":10,"process":0,"type":"invoke","f":"write","key":"k","value":1}
{"index":1,"time":20,"process":0,"type":"ok","f":"write","key":"k","value":1}
{"index":2,"time":30,"process":1,"type":"invoke","f":"read","key":"k","value":null}
{"index":3,"time":40,"process":1,"type":"ok","f":"read","key":"k","value":1}
H
expect 0 "valid" -- "$BIN/faultline" check "$tmp/valid.jsonl"
sed 's/"type":"ok","f":"read","key":"k","value":1/"type":"ok","f":"read","key":"k","value":2/' \
  "$tmp/valid.jsonl" >"$tmp/invalid.jsonl"
expect 1 "invalid" -- "$BIN/faultline" check "$tmp/invalid.jsonl"
expect 1 '"valid": false' -- "$BIN/faultline" check --json "$tmp/invalid.jsonl"

# shrink: an invalid history is cut down and written beside it; a valid one
# is refused (exit 0: valid, nothing written).
expect 1 "shrunk 2 ops to 1" -- "$BIN/faultline" shrink "$tmp/invalid.jsonl"
[ -s "$tmp/invalid.jsonl.shrunk.jsonl" ] && [ -s "$tmp/invalid.jsonl.shrunk.verdict.json" ] \
  || { echo "FAIL: shrink wrote no shrunk history"; failures=$((failures + 1)); }
expect 1 "invalid" -- "$BIN/faultline" check "$tmp/invalid.jsonl.shrunk.jsonl"
expect 0 "nothing to shrink" -- "$BIN/faultline" shrink "$tmp/valid.jsonl"
[ -e "$tmp/valid.jsonl.shrunk.jsonl" ] && { echo "FAIL: shrink wrote a shrunk valid history"; failures=$((failures + 1)); }
cp histories/regressions/tasks-stale-read-flapping/history.jsonl "$tmp/tasks.jsonl"
expect 1 "set, projected on one task" -- "$BIN/faultline" shrink "$tmp/tasks.jsonl"
expect 1 "flapping" -- "$BIN/faultline" check "$tmp/tasks.jsonl.shrunk.jsonl"
expect 3 "--checker" -- "$BIN/faultline" shrink --checker frob "$tmp/tasks.jsonl"
cp histories/regressions/lost-claim-double-claim/history.jsonl "$tmp/queue.jsonl"
expect 1 "shrunk 3 ops to 3 \(queue" -- "$BIN/faultline" shrink "$tmp/queue.jsonl"
# Task records are judged by logical request, in shrink as in check: a
# retry that got its first outcome back is no anomaly to shrink to.
cp checker/cases_task/retry_with_duplicate/history.jsonl "$tmp/retry.jsonl"
expect 0 "nothing to shrink" -- "$BIN/faultline" shrink --checker linearizable \
  --model task-record "$tmp/retry.jsonl"
cp checker/cases_task/stale_get/history.jsonl "$tmp/stale.jsonl"
expect 1 "linearizable, one key" -- "$BIN/faultline" shrink --checker linearizable \
  --model task-record "$tmp/stale.jsonl"
expect 3 "No such file" -- "$BIN/faultline" shrink "$tmp/nothing"
expect 3 "bad-type.jsonl:2" -- "$BIN/faultline" shrink "$tmp/bad-type.jsonl"

# A missing, unreadable or empty run directory: every command says which
# and exits 3.
mkdir -p "$tmp/empty-run" "$tmp/locked-run"
expect 3 "nothing-here: No such file" -- "$BIN/faultline" check "$tmp/nothing-here"
expect 3 "nothing-here: No such file" -- "$BIN/faultline" repro "$tmp/nothing-here"
expect 3 "^faultline repro: .*empty-run/scenario.json: no such file: not a run directory" -- "$BIN/faultline" repro "$tmp/empty-run"
# One wording for a directory that is not a run's, as report says it, and
# one prefix per command (issue 16, item 8).
expect 3 "^faultline check: .*empty-run/history.jsonl: no such file: not a run directory" -- "$BIN/faultline" check "$tmp/empty-run"
expect 3 "^faultline shrink: .*empty-run/history.jsonl: no such file: not a run directory" -- "$BIN/faultline" shrink "$tmp/empty-run"
expect 3 "^faultline report: .*empty-run/history.jsonl: no such file: not a run directory" -- "$BIN/faultline" report "$tmp/empty-run"
expect 3 "^faultline check: .*nothing-here: No such file" -- "$BIN/faultline" check "$tmp/nothing-here"
expect 3 "not a directory" -- "$BIN/faultline" repro "$tmp/valid.jsonl"
expect 3 "expected one RUN_DIR" -- "$BIN/faultline" repro
# Unreadable even for root: history.jsonl is a directory.
mkdir -p "$tmp/odd-run/history.jsonl"
echo '{"name":"x"}' >"$tmp/odd-run/scenario.json"
expect 3 "odd-run/history.jsonl.*Is a directory" -- "$BIN/faultline" check "$tmp/odd-run"
expect 3 "odd-run/history.jsonl.*Is a directory" -- "$BIN/faultline" shrink "$tmp/odd-run"
expect 3 "odd-run/history.jsonl.*Is a directory" -- "$BIN/faultline" repro "$tmp/odd-run"
if [ "$(id -u)" -ne 0 ]; then
  chmod 000 "$tmp/locked-run"
  expect 3 "locked-run.*Permission denied" -- "$BIN/faultline" repro "$tmp/locked-run"
  chmod 755 "$tmp/locked-run"
fi

# A history from a future format version: named, with both versions.
printf '{"format":"faultline-history","version":99}\n' >"$tmp/future.jsonl"
expect 3 "future.jsonl:1.*newer faultline.*version 99" -- "$BIN/faultline" check "$tmp/future.jsonl"
expect 3 "future.jsonl:1.*version 99" -- "$BIN/faultline" shrink "$tmp/future.jsonl"
mkdir -p "$tmp/future-run" && cp "$tmp/future.jsonl" "$tmp/future-run/history.jsonl"
expect 3 "history.jsonl:1.*version 99" -- "$BIN/faultline" check "$tmp/future-run"

# A run whose scenario.json has an unknown key (hand-edited): named.
mkdir -p "$tmp/bad-scenario-run" && cp "$tmp/valid.jsonl" "$tmp/bad-scenario-run/history.jsonl"
echo '{"name":"x","nemesis":{"fautls":["kill"]}}' >"$tmp/bad-scenario-run/scenario.json"
expect 3 '"nemesis.fautls": unknown key' -- "$BIN/faultline" repro "$tmp/bad-scenario-run"
expect 3 '"nemesis.fautls": unknown key' -- "$BIN/faultline" check "$tmp/bad-scenario-run"
expect 3 '"nemesis.fautls": unknown key' -- "$BIN/faultline" schedule "$tmp/bad-scenario-run/scenario.json" --seed 1

# The plugin contract: each section's keys belong to their plugin, whose
# registry names the known ones; the schedule shows the targets each fault
# draws, as the run would apply them.
cat >"$tmp/sched.json" <<'JSON'
{"nodes": 5, "nemesis": {"faults": ["kill", "partition", "disk-error"],
 "targets": ["one"], "partitions": ["isolate-one"], "fs_files": ["*.db"]}}
JSON
expect 0 'kill +for +2.000 s +\["n[1-5]"\]' -- "$BIN/faultline" schedule "$tmp/sched.json" --seed 7
expect 0 '"shape":"isolate-one"' -- "$BIN/faultline" schedule "$tmp/sched.json" --seed 7
expect 0 '"files":"\*\.db".*"op":"fsync"' -- "$BIN/faultline" schedule "$tmp/sched.json" --seed 7
echo '{"db": {"name": "taskd", "election_timeout": 5}}' >"$tmp/dbkey.json"
expect 3 '"db.election_timeout": unknown key for the system taskd \(known: name, bug, election_timeout_ms' -- "$BIN/faultline" schedule "$tmp/dbkey.json" --seed 1
echo '{"db": {"name": "frobdb"}}' >"$tmp/dbname.json"
expect 3 '"db.name": unknown system "frobdb" \(known: taskd' -- "$BIN/faultline" schedule "$tmp/dbname.json" --seed 1
echo '{"workload": {"name": "register", "ttl_ms": 5}}' >"$tmp/wkey.json"
expect 3 '"workload.ttl_ms": not a key of the register workload \(read by: lease\)' -- "$BIN/faultline" schedule "$tmp/wkey.json" --seed 1
echo '{"nemesis": {"faults": ["kill"], "clock_modes": ["wobble"]}}' >"$tmp/nkey.json"
expect 3 '"nemesis.clock_modes\[0\]": unknown value "wobble" \(known: bump, strobe, drift\)' -- "$BIN/faultline" schedule "$tmp/nkey.json" --seed 1
echo '{"nemesis": {"faults": ["kill", "quake"]}}' >"$tmp/nfault.json"
expect 3 '"nemesis.faults\[1\]": unknown value "quake" \(known: kill, pause' -- "$BIN/faultline" schedule "$tmp/nfault.json" --seed 1

# A run interrupted half-way (its marker): check says partial, still checks.
mkdir -p "$tmp/cut-run" && cp "$tmp/invalid.jsonl" "$tmp/cut-run/history.jsonl"
printf '{"index":4,"time":50,"process":2,"type":"invoke","f":"wri' >>"$tmp/cut-run/history.jsonl"
echo "interrupted by Interrupt at 0.050 s, in phase faults" >"$tmp/cut-run/interrupted"
expect 1 "partial history \(run interrupted by Interrupt.*invalid" -- "$BIN/faultline" check "$tmp/cut-run"
rm "$tmp/cut-run/interrupted"
expect 1 "partial history \(the last line was cut off\).*invalid" -- "$BIN/faultline" check "$tmp/cut-run"
# check rewrites the run's report with the verdict; with --json, stdout is
# the verdict alone.
[ -s "$tmp/cut-run/report.html" ] && grep -q invalid "$tmp/cut-run/report.html" \
  || { echo "FAIL: check did not rewrite the run's report.html"; failures=$((failures + 1)); }
"$BIN/faultline" check --json "$tmp/cut-run" >"$tmp/cut.json" 2>/dev/null
/usr/bin/python3 -m json.tool "$tmp/cut.json" >/dev/null || { echo "FAIL: check --json RUN_DIR: stdout is not one JSON object"; failures=$((failures + 1)); }

# One voice (issue 16, item 8). Bad input to each command: every line on
# stderr begins "faultline COMMAND: ", and where a history's or a
# scenario's line is at fault, the message says FILE:LINE: as a JSON
# syntax error does.
# stderr_says CODE COMMAND PATTERN -- ARGS...: exit CODE, every stderr line
# (usage text aside) starts with "faultline COMMAND: ", one matches PATTERN.
stderr_says() {
  local want=$1 cmd=$2 pattern=$3; shift 4
  local err code
  err=$("$BIN/faultline" "$cmd" "$@" 2>&1 >/dev/null); code=$?
  if [ "$code" -ne "$want" ] || ! grep -qE -- "$pattern" <<<"$err" ||
    grep -vE "^(faultline $cmd: |usage: |  |$)" <<<"$err" | grep -q .; then
    echo "FAIL: faultline $cmd $* -> exit $code (want $want), stderr:"; echo "$err" | head -5
    failures=$((failures + 1))
  else
    echo "ok: faultline $cmd $* -> $code: $(head -1 <<<"$err")"
  fi
}
printf '%s\n' '{"time":1,"process":0,"type":"invoke","f":"read"}' \
  '{"time":2,"process":0,"type":"ok","f":"read","value":1}' \
  '{"time":3,"process":0,"type":"ok","f":"read","value":1}' >"$tmp/orphan.jsonl"
printf '%s\n' '{"time":1,"process":0,"type":"invoke","f":"write","value":"x"}' \
  '{"time":2,"process":0,"type":"ok","f":"write","value":"x"}' >"$tmp/strval.jsonl"
printf '%s\n' '{"time":1,"process":0,"type":"invoke","f":"read"}' \
  '{"time":2,"process":0,"type":"ok","f":"read"' \
  '{"time":3,"process":0,"type":"invoke","f":"read"}' >"$tmp/badline.jsonl"
printf '%s\n' '{:type :invoke, :f :read, :process 0}' \
  '{:type :ok, :f :read, :process 0, :value "a"}' >"$tmp/strval.edn"
printf '{\n  "name": "x",\n  "nemesis": {\n    "faults": ["kill"],\n    "fautls": 1\n  }\n}\n' >"$tmp/key-on-5.json"
printf '{\n  "name": "x",\n  "workload": {\n    "rate": "fast"\n  }\n}\n' >"$tmp/type-on-4.json"
printf '{\n  "name": "x",\n' >"$tmp/cut-scenario.json"
mkdir -p "$tmp/key-on-5-run" && cp "$tmp/key-on-5.json" "$tmp/key-on-5-run/scenario.json" &&
  cp "$tmp/valid.jsonl" "$tmp/key-on-5-run/history.jsonl"
stderr_says 3 check "orphan.jsonl:3: process 0: ok read without an invoke" -- "$tmp/orphan.jsonl"
stderr_says 3 check "strval.jsonl:1: process 0 write \(ok at line 2\)" -- "$tmp/strval.jsonl"
stderr_says 3 check "strval.jsonl:1: process 0 write \(ok at line 2\): write without a key" -- --model task-record "$tmp/strval.jsonl"
stderr_says 3 check "badline.jsonl:2:[0-9]+: invalid JSON" -- "$tmp/badline.jsonl"
stderr_says 3 check "strval.edn:1: process 0 read \(ok at line 2\): ok read value: expected an integer or null" -- "$tmp/strval.edn"
stderr_says 3 check "key-on-5-run/scenario.json:5: \"nemesis.fautls\": unknown key" -- "$tmp/key-on-5-run"
stderr_says 3 check "^faultline check: --threads: expected 1 to" -- --threads 0 "$tmp/valid.jsonl"
stderr_says 3 shrink "orphan.jsonl:3: process 0: ok read without an invoke" -- "$tmp/orphan.jsonl"
stderr_says 3 shrink "strval.jsonl:1: process 0 write" -- "$tmp/strval.jsonl"
stderr_says 3 run "key-on-5.json:5: \"nemesis.fautls\": unknown key" -- "$tmp/key-on-5.json"
stderr_says 3 run "type-on-4.json:4: \"workload.rate\": expected a number" -- "$tmp/type-on-4.json"
stderr_says 3 run "cut-scenario.json:3: " -- "$tmp/cut-scenario.json"
stderr_says 3 run "^faultline run: --seed: expected a non-negative integer" -- --seed x "$tmp/key-on-5.json"
stderr_says 3 schedule "key-on-5.json:5: \"nemesis.fautls\": unknown key" -- "$tmp/key-on-5.json" --seed 1
stderr_says 3 repro "key-on-5-run/scenario.json:5: \"nemesis.fautls\": unknown key" -- "$tmp/key-on-5-run"
stderr_says 3 repro "^faultline repro: --attempts: expected 1 to 1000, got 0" -- --attempts 0 "$tmp/key-on-5-run"
stderr_says 3 report "nothing-here: No such file or directory" -- "$tmp/nothing-here"
stderr_says 3 report "empty-run/history.jsonl: no such file: not a run directory" -- "$tmp/empty-run"
# null, not nil, in what people read (Jepsen EDN's nil is still read), and
# a truncated history said once.
out=$("$BIN/faultline" check "$tmp/cut-run" 2>&1)
[ "$(grep -oE "cut off|truncated" <<<"$out" | wc -l)" -eq 1 ] ||
  { echo "FAIL: a truncated history said other than once: $out"; failures=$((failures + 1)); }
printf '%s\n' '{"time":1,"process":0,"type":"invoke","f":"write","value":1}' \
  '{"time":2,"process":0,"type":"ok","f":"write","value":1}' \
  '{"time":3,"process":1,"type":"invoke","f":"read"}' \
  '{"time":4,"process":1,"type":"ok","f":"read","value":null}' >"$tmp/read-null.jsonl"
expect 1 'read -> null \(process 1, index 2\).*state 1$' -- "$BIN/faultline" check "$tmp/read-null.jsonl"
printf '%s\n' '{:type :invoke, :f :write, :value 1, :process 0, :time 1}' \
  '{:type :ok, :f :write, :value 1, :process 0, :time 2}' \
  '{:type :invoke, :f :read, :value nil, :process 1, :time 3}' \
  '{:type :ok, :f :read, :value 2, :process 1, :time 4}' >"$tmp/read-2.edn"
out=$("$BIN/faultline" check "$tmp/read-null.jsonl" 2>&1
  "$BIN/faultline" check "$tmp/read-2.edn" 2>&1
  "$BIN/faultline" shrink "$tmp/read-null.jsonl" 2>&1)
! grep -q nil <<<"$out" || { echo "FAIL: nil in check's words: $out"; failures=$((failures + 1)); }

[ "$failures" -eq 0 ] || { echo "test_cli: $failures failed"; exit 1; }
echo "test_cli: all passed"
