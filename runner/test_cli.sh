#!/usr/bin/env bash
# The faultline command rejects bad input with a message naming the place
# and the documented exit code (README, "Exit codes").
set -uo pipefail
BIN=${FAULTLINE_BIN:-bin}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0

# expect CODE PATTERN -- COMMAND...: exit code CODE and PATTERN in the output.
expect() {
  local want=$1 pattern=$2; shift 3
  local out code
  out=$("$@" 2>&1); code=$?
  if [ "$code" -ne "$want" ] || ! grep -qE -- "$pattern" <<<"$out"; then
    echo "FAIL: $* -> exit $code (want $want), output:"; echo "$out" | head -5
    failures=$((failures + 1))
  else
    echo "ok: $* -> $code"
  fi
}

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

[ "$failures" -eq 0 ] || { echo "test_cli: $failures failed"; exit 1; }
echo "test_cli: all passed"
