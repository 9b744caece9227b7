#!/usr/bin/env bash
# test-quick
# faultline check reads every format it imports, detects it from the
# content, picks the model from it, and exits 0/1/2/3 as documented.
set -uo pipefail
BIN=${FAULTLINE_BIN:-bin}
CONF=${FAULTLINE_CONFORMANCE:-/work/shared/conformance/porcupine}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
. "$(dirname "$0")/../test/lib.sh"

if [ -f "$CONF/expected.tsv" ]; then
  expect 0 'valid.*kv' -- "$BIN/faultline" check "$CONF/kv/c10-ok.txt"
  expect 1 'invalid: linearizable: key' -- "$BIN/faultline" check "$CONF/kv/c10-bad.txt"
  expect 1 '"format": "kv-edn"' -- "$BIN/faultline" check --json "$CONF/kv/c01-bad.txt"
  # Not split: kv is a product of keys, so it is decided key by key and
  # says so; a register (one value for all keys, unsplit) is searched whole.
  expect 1 'invalid: .*decided per key: the kv model is P-compositional' -- "$BIN/faultline" check --no-split "$CONF/kv/c01-bad.txt"
  expect 0 'valid: .*decided per key' -- "$BIN/faultline" check --no-split "$CONF/kv/c50-ok.txt"
  expect 1 'invalid: .*whole history' -- "$BIN/faultline" check --no-split "$CONF/etcd/etcd_000.log"
  expect 1 'invalid.*read -> 2' -- "$BIN/faultline" check "$CONF/etcd/etcd_000.log"
  expect 0 'valid' -- "$BIN/faultline" check --format etcd-log "$CONF/etcd/etcd_002.log"
  expect 3 'no events' -- "$BIN/faultline" check --format etcd-log "$CONF/etcd/etcd_095.log"
  expect 3 'empty file' -- "$BIN/faultline" check "$CONF/etcd/etcd_095.log"
  # Keys on several threads: the same verdict, word for word.
  one=$("$BIN/faultline" check --threads 1 "$CONF/kv/c50-bad.txt")
  four=$("$BIN/faultline" check --threads 4 "$CONF/kv/c50-bad.txt")
  if [ "$one" != "$four" ] || [[ "$one" != invalid* ]]; then
    echo "FAIL: --threads 1 and 4 disagree:"; echo "  $one"; echo "  $four"
    failures=$((failures + 1))
  else
    echo "ok: --threads 1 and 4 give the same verdict"
  fi
  expect 3 'threads: expected 1 to 64' -- "$BIN/faultline" check --threads 0 "$CONF/kv/c01-bad.txt"
  # Export as Jepsen EDN and check the export: same verdict.
  "$BIN/faultline" check --export-edn "$tmp/c10.edn" "$CONF/kv/c10-bad.txt"
  expect 1 'invalid' -- "$BIN/faultline" check "$tmp/c10.edn"
fi

cat >"$tmp/h.edn" <<'H'
[{:process 0, :type :invoke, :f :write, :value 1, :time 1}
 {:process :nemesis, :type :info, :f :kill, :value ["n1"], :time 2}
 {:process 0, :type :ok, :f :write, :value 1, :time 3}
 {:process 1, :type :invoke, :f :read, :value nil, :time 4}
 {:process 1, :type :ok, :f :read, :value 2, :time 5}]
H
expect 1 'invalid.*read -> 2' -- "$BIN/faultline" check "$tmp/h.edn"
expect 3 'unknown format' -- "$BIN/faultline" check --format xml "$tmp/h.edn"
expect 3 'unknown model' -- "$BIN/faultline" check --model nope "$tmp/h.edn"
printf '[{:process 0, :type :invoke, :f :write, :value 1, :time 1}\n {:process 0 :type' >"$tmp/cut.edn"
expect 3 'cut.edn:2:' -- "$BIN/faultline" check "$tmp/cut.edn"
printf '{:process 0, :type :invoke, :f :get, :key "k"}\n{:process 0, :type :ok, :f :get, :key "k", :value 7}\n' >"$tmp/kvtype.txt"
expect 3 'expected a string' -- "$BIN/faultline" check "$tmp/kvtype.txt"
printf '{:process 0, :type :ok, :f :get, :key "k", :value ""}\n' >"$tmp/noinvoke.txt"
expect 3 'without an invoke' -- "$BIN/faultline" check "$tmp/noinvoke.txt"
# Jepsen's file order is the real-time order (issue 16, item 12): the read
# invoked after the write returned (in the file) must see it, though its
# :time (150) is before the write's return (200). Once refused (exit 3).
printf '%s\n' '{:type :invoke, :f :write, :value 1, :process 0, :time 100}' \
  '{:type :ok, :f :write, :value 1, :process 0, :time 200}' \
  '{:type :invoke, :f :read, :value nil, :process 1, :time 150}' \
  '{:type :ok, :f :read, :value 0, :process 1, :time 300}' >"$tmp/back.edn"
expect 1 'invalid.*read -> 0' -- "$BIN/faultline" check "$tmp/back.edn"
expect 1 'back.edn:3: warning: 1 events. :time went back' -- "$BIN/faultline" check "$tmp/back.edn"
sed -i 's/:value 0, :process 1/:value 1, :process 1/' "$tmp/back.edn"
expect 0 '^valid' -- "$BIN/faultline" check "$tmp/back.edn"
# Jepsen's register semantics on EDN (issue 17, item 3): Knossos reads an
# ok read of nil as "value not known"; our JSONL reads it as "unset".
printf '%s\n' '{:type :invoke, :f :write, :value 1, :process 0, :time 1}' \
  '{:type :ok, :f :write, :value 1, :process 0, :time 2}' \
  '{:type :invoke, :f :read, :value nil, :process 1, :time 3}' \
  '{:type :ok, :f :read, :value nil, :process 1, :time 4}' >"$tmp/nil.edn"
expect 0 '^valid' -- "$BIN/faultline" check "$tmp/nil.edn"
printf '%s\n' '{"time":1,"process":0,"type":"invoke","f":"write","value":1}' \
  '{"time":2,"process":0,"type":"ok","f":"write","value":1}' \
  '{"time":3,"process":1,"type":"invoke","f":"read"}' \
  '{"time":4,"process":1,"type":"ok","f":"read","value":null}' >"$tmp/nil.jsonl"
expect 1 'invalid.*read -> null' -- "$BIN/faultline" check "$tmp/nil.jsonl"
# --initial VALUE: the register's first value, for EDN and JSONL alike.
printf '%s\n' '{:type :invoke, :f :read, :value nil, :process 0, :time 1}' \
  '{:type :ok, :f :read, :value 0, :process 0, :time 2}' \
  '{:type :invoke, :f :cas, :value [0 5], :process 0, :time 3}' \
  '{:type :ok, :f :cas, :value [0 5], :process 0, :time 4}' >"$tmp/init.edn"
expect 1 '^invalid' -- "$BIN/faultline" check "$tmp/init.edn"
expect 0 '^valid' -- "$BIN/faultline" check --initial 0 "$tmp/init.edn"
"$BIN/faultline" check --export-edn - "$tmp/init.edn" >/dev/null
printf '%s\n' '{"time":1,"process":0,"type":"invoke","f":"read"}' \
  '{"time":2,"process":0,"type":"ok","f":"read","value":7}' >"$tmp/init.jsonl"
expect 1 '^invalid' -- "$BIN/faultline" check "$tmp/init.jsonl"
expect 0 '^valid' -- "$BIN/faultline" check --initial 7 "$tmp/init.jsonl"
expect 3 '--initial: expected an integer' -- "$BIN/faultline" check --initial x "$tmp/init.jsonl"

[ "$failures" -eq 0 ] || { echo "test_check_formats: $failures failed"; exit 1; }
echo "test_check_formats: all passed"
