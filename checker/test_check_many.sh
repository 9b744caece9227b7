#!/usr/bin/env bash
# faultline check FILE... and DIR: one process, one line per history, a
# summary, --json with each history's result and time, --threads N over
# histories (child processes): the same verdicts as one file at a time.
set -uo pipefail
BIN=${FAULTLINE_BIN:-bin}
CONF=${FAULTLINE_CONFORMANCE:-/work/shared/conformance/porcupine}
. "$(dirname "$0")/../test/lib.sh"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "test_check_many: seed none (fixed inputs)"

if [ -f "$CONF/expected.tsv" ]; then
  out=$("$BIN/faultline" check "$CONF/etcd"); code=$?
  [ "$code" -eq 1 ] || fail "etcd dir: exit $code, want 1"
  n=$(grep -c '^/.*etcd_[0-9]*\.log: ' <<<"$out")
  [ "$n" -eq 103 ] || fail "etcd dir: $n lines, want 103"
  grep -q '103 histories: 23 valid, 79 invalid, 0 unknown, 1 unreadable' \
    <<<"$out" || fail "etcd dir summary: $(tail -1 <<<"$out")"
  # Each line agrees with expected.tsv.
  while IFS=$'\t' read -r f want; do
    case "$f" in etcd/*) ;; *) continue ;; esac
    line=$(grep -F "/$f: " <<<"$out")
    if [ "$want" = true ] && [[ "$line" != *": valid: "* ]]; then fail "$line"; fi
    if [ "$want" = false ] && [[ "$line" != *": invalid: "* ]]; then fail "$line"; fi
  done < "$CONF/expected.tsv"
  two=$("$BIN/faultline" check --threads 2 "$CONF/etcd")
  [ "$(head -n -1 <<<"$two")" = "$(head -n -1 <<<"$out")" ] ||
    fail "--threads 2 gives other lines"
  js=$("$BIN/faultline" check --json "$CONF/kv/c10-ok.txt" "$CONF/kv/c10-bad.txt")
  code=$?
  [ "$code" -eq 1 ] || fail "kv files --json: exit $code, want 1"
  python3 - "$js" <<'PY' || fail "kv files --json: $js"
import json, sys
d = json.loads(sys.argv[1])
h = d["histories"]
assert [x["valid"] for x in h] == ["true", "false"], h
assert all(x["seconds"] >= 0 and "verdict" in x for x in h)
assert d["counts"]["valid"] == 1 and d["counts"]["invalid"] == 1
PY
fi
# A valid file and an unreadable one: exit 3, both named.
printf '{"index":0,"time":1,"process":0,"type":"invoke","f":"read","key":"x"}\n{"index":1,"time":2,"process":0,"type":"ok","f":"read","key":"x"}\n' > "$tmp/a.jsonl"
printf 'not a history\n' > "$tmp/b.jsonl"
out=$("$BIN/faultline" check "$tmp"); code=$?
[ "$code" -eq 3 ] || fail "valid + unreadable: exit $code, want 3"
grep -q 'a.jsonl: valid' <<<"$out" || fail "a.jsonl line: $out"
grep -q 'b.jsonl: error' <<<"$out" || fail "b.jsonl line: $out"

if [ "$failures" -ne 0 ]; then echo "test_check_many: $failures failed"; exit 1; fi
echo "test_check_many: all passed"
