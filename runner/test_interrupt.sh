#!/usr/bin/env bash
# An interrupted run (SIGINT, SIGTERM) stops every node, exits 5, and leaves a
# history that faultline check can read; a SIGKILLed runner takes everything
# it made with it (processes, network namespaces, bridge, veths, mounts: the
# sandbox's pid namespace dies with it) and leaves every written line
# readable.
set -uo pipefail
BIN=${FAULTLINE_BIN:-bin}
tmp=$(mktemp -d)
trap 'pkill -KILL -f "$tmp/" 2>/dev/null; rm -rf "$tmp"' EXIT
. "$(dirname "$0")/../test/lib.sh"

wait_for_ops() { # wait until the run's history has some ops
  for _ in $(seq 1 100); do
    h=$(ls "$tmp"/runs/*/*/history.jsonl 2>/dev/null | head -1)
    [ -n "$h" ] && [ "$(grep -c '"type":"ok"' "$h")" -gt 20 ] && return 0
    sleep 0.2
  done
  return 1
}

netns_before=$(ip netns list | sort)
for sig in INT TERM KILL; do
  rm -rf "$tmp/runs"
  "$BIN/faultline" run scenarios/smoke.json --seed 7 --runs-dir "$tmp/runs" \
    >"$tmp/out" 2>&1 &
  pid=$!
  wait_for_ops || fail "$sig: the run never got going"
  kill -"$sig" "$pid"
  # 2>/dev/null: bash's job notice ("line 31: 2309 Killed") is expected
  # here and read like a failure; the status is checked below.
  wait "$pid" 2>/dev/null; code=$?
  sleep 0.5
  if [ "$sig" = KILL ]; then
    [ "$code" -eq 137 ] || fail "KILL: exit $code"
  else
    [ "$code" -eq 5 ] || fail "$sig: exit $code, want 5"
  fi
  pgrep -f "$tmp/runs" >/dev/null && fail "$sig: node processes outlived the runner"
  [ "$(ip netns list | sort)" = "$netns_before" ] || fail "$sig: network namespaces left: $(ip netns list)"
  ip -o link show | grep -qE ' (fl0|v[0-9]+)[@:]' && fail "$sig: bridge or veth left: $(ip -o link show | grep -E ' (fl0|v[0-9]+)[@:]')"
  grep -q faultline-netns /proc/mounts && fail "$sig: the sandbox's /run/netns mount is visible outside"
  dir=$(dirname "$(ls "$tmp"/runs/*/*/history.jsonl)")
  "$BIN/faultline" check "$dir" >"$tmp/check" 2>&1; c=$?
  [ "$c" -le 2 ] || { fail "$sig: check of the interrupted history exited $c"; cat "$tmp/check"; }
  if [ "$sig" != KILL ]; then
    [ -s "$dir/interrupted" ] || fail "$sig: no interrupted marker in $dir"
    grep -q "partial history (run interrupted" "$tmp/check" || fail "$sig: check does not say the history is partial: $(cat "$tmp/check")"
    grep -q '"interrupted"' "$dir/verdict.json" || fail "$sig: verdict.json does not record the interruption"
    # The runner itself says what the recorded part shows, marked partial.
    grep -qE '^faultline: partial: interrupted at [0-9.]+ s' "$tmp/out" ||
      fail "$sig: the runner does not say it was interrupted: $(cat "$tmp/out")"
    grep -qE '^faultline: partial history \(run interrupted .*\): (valid|invalid|unknown)' "$tmp/out" ||
      fail "$sig: the runner prints no verdict of the partial history: $(cat "$tmp/out")"
  fi
  echo "ok: $sig -> runner exit $code, check exit $c"
done

[ "$failures" -eq 0 ] || { echo "test_interrupt: $failures failed"; exit 1; }
echo "test_interrupt: all passed"
