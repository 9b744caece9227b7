#!/usr/bin/env bash
# test-quick
# The verdict in words and the fails by reason, on a recorded stale-read
# run (report/testdata/explain-stale-read: a shrunk failing run with its
# nodes' role events, and four fails added, one with a message after its
# code): `faultline check` prints the
# sentence, writes it into verdict.json ("explanation") and the report;
# the report splits fail by reason and its legend says which are expected
# and which are availability; report/explain.py and runner/summary.c
# classify the reasons alike. Rendered in headless Chromium when it is
# installed (test_report.sh requires it).
set -uo pipefail
BIN=${FAULTLINE_BIN:-bin}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
. "$(dirname "$0")/../test/lib.sh"

run="$tmp/run"
cp -r report/testdata/explain-stale-read "$run"
"$BIN/faultline" check "$run" >"$tmp/out" 2>&1; code=$?
cat "$tmp/out"
[ "$code" -eq 1 ] || fail "check: exit $code, want 1"
want="n1 answered a read of k0 with 4 at 2.479 s, after a write of 2 to k0 had completed at 2.471 s (on n2); n1 was a follower then (leader n2)."
grep -qxF "faultline: in words: $want" "$tmp/out" || fail "check does not say what happened in words"
python3 - "$run/verdict.json" "$want" <<'PY' || fail "verdict.json: no explanation"
import json, sys
v = json.load(open(sys.argv[1]))
assert v["explanation"] == [sys.argv[2]], v.get("explanation")
PY
# --json prints the verdict as before (no explanation line on stdout).
"$BIN/faultline" check --json "$run" >"$tmp/json" 2>/dev/null
python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$tmp/json" ||
  fail "check --json: stdout is not one JSON object"

page="$run/report.html"
grep -qF "$want" "$page" || fail "the report lacks the sentence"
grep -qF '"fails":{"total":4,"reasons":[["cas_mismatch",2,"expected"],["not_leader",1,"availability"],["timeout",1,"availability"]]}' "$page" ||
  fail "the report's data lacks the fails by reason: $(grep -o '"fails":[^}]*}' "$page")"

# A valid history: no explanation left behind in verdict.json.
head -4 "$run/history.jsonl" >"$tmp/h" && mv "$tmp/h" "$run/history.jsonl"
"$BIN/faultline" check "$run" >"$tmp/out2" 2>&1; code=$?
[ "$code" -eq 0 ] || fail "the cut history: exit $code: $(cat "$tmp/out2")"
grep -q "in words" "$tmp/out2" && fail "a valid run is explained: $(cat "$tmp/out2")"
grep -q '"explanation"' "$run/verdict.json" && fail "a stale explanation stayed in verdict.json"

# One classification: runner/summary.c's tables and report/explain.py's.
python3 - <<'PY' || fail "runner/summary.c and report/explain.py classify fails differently"
import re, sys
sys.path.insert(0, "report")
import explain
c = open("runner/summary.c").read()
def table(name):
    body = re.search(r"%s\[\] = \{(.*?)\};" % name, c, re.S).group(1)
    return set(re.findall(r'"([a-z_]+)"', body))
assert table("expected") == set(explain.FAIL_EXPECTED), table("expected")
assert table("availability") == set(explain.FAIL_AVAILABILITY), table("availability")
PY

if command -v chromium >/dev/null 2>&1; then
  cp -r report/testdata/explain-stale-read "$tmp/run2"
  "$BIN/faultline" check "$tmp/run2" >/dev/null 2>&1
  HOME=${HOME:-$tmp} timeout 120 chromium --headless --no-sandbox --disable-gpu \
    --disable-dev-shm-usage --user-data-dir="$tmp/chrome" --virtual-time-budget=15000 \
    --dump-dom "file://$(realpath "$tmp/run2/report.html")" >"$tmp/dom" 2>"$tmp/chrome.log" ||
    fail "chromium failed: $(tail -3 "$tmp/chrome.log")"
  grep -q 'data-errors=' "$tmp/dom" && fail "script errors: $(grep -o '<pre id="js-errors">[^<]*' "$tmp/dom")"
  grep -q '<h3>In words</h3><ul id="explanation"><li>n1 answered a read' "$tmp/dom" || fail "the page does not show the sentence"
  grep -q 'class="fail-legend">fail, by reason: <span class="fail-expected"><b>cas_mismatch</b></span>: expected' "$tmp/dom" ||
    fail "the legend does not say which fails are expected: $(grep -o 'fail-legend.\{0,300\}' "$tmp/dom")"
  grep -q '<span class="fail-availability"><b>not_leader, timeout</b></span>: availability' "$tmp/dom" ||
    fail "the legend does not say which fails are availability"
  grep -q '4 fail</span>: <span class="fail-expected"' "$tmp/dom" || fail "the header does not split fail"
else
  echo "test_explain: chromium not installed: the page is not rendered"
fi

[ "$failures" -eq 0 ] || { echo "test_explain: $failures failed"; exit 1; }
echo "test_explain: all passed"
