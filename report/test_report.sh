#!/usr/bin/env bash
# test_report: report.html from a real run (written by the runner at its
# end, rewritten by `faultline report`) and from a synthetic 100,000-op run:
# self-contained, under 20 MB, rendered by headless Chromium without a
# script error; a page whose script throws is caught; a report failure
# never changes a run's exit code; bad input gets exit code 3.
set -euo pipefail

BIN=${FAULTLINE_BIN:-bin}
MAX_BYTES=$((20 * 1000 * 1000))
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

fail() {
  echo "test_report: FAIL: $*" >&2
  exit 1
}
ok() { echo "ok: $*"; }

command -v chromium >/dev/null 2>&1 ||
  fail "chromium is not installed (ci/install-deps installs it: apt-get install chromium)"

# No network needed: nothing loaded from elsewhere, no remote URL at all.
self_contained() {
  local page=$1 size
  size=$(stat -c %s "$page")
  [ "$size" -lt "$MAX_BYTES" ] || fail "$page: $size bytes, not under $MAX_BYTES"
  if grep -Eoi "(src|href|action)[[:space:]]*=[[:space:]]*[\"']?[[:space:]]*(https?:)?//[^\"' >]*" "$page" |
    head -3 | grep .; then
    fail "$page loads something over the network"
  fi
  if grep -Eoi "(url\([\"']?(https?:)?//|@import)" "$page" | head -3 | grep .; then
    fail "$page: its CSS loads something over the network"
  fi
  echo "ok: $page is self-contained, $size bytes"
}

# Load @page in headless Chromium; its script sets body[data-rendered] when
# it has drawn everything, and window.onerror / console.error write into
# <pre id="js-errors"> and html[data-errors]. Then again as
# page#selftest, which zooms, hovers, highlights and clicks as a person
# would (body[data-selftest]). Returns non-zero on an error.
render() {
  render_one "$1" "$2" "" && render_one "$1" "$2" "#selftest" &&
    grep -q 'data-selftest="passed"' "$2" || {
    echo "$1#selftest: $(grep -o 'data-selftest="[^"]*"' "$2")" >&2
    return 1
  }
}

render_one() {
  local page=$1 dom=$2 hash=$3
  HOME=${HOME:-$tmp} timeout 120 chromium --headless --no-sandbox --disable-gpu \
    --disable-dev-shm-usage --user-data-dir="$tmp/chrome" --virtual-time-budget=15000 \
    --dump-dom "file://$(realpath "$page")$hash" >"$dom" 2>"$tmp/chrome.log" || {
    echo "chromium failed on $page: $(tail -3 "$tmp/chrome.log")" >&2
    return 1
  }
  if grep -q 'data-errors=' "$dom" || ! grep -q '<pre id="js-errors"></pre>' "$dom"; then
    echo "$page: script errors: $(grep -o '<pre id="js-errors">[^<]*' "$dom" | cut -c24-)" >&2
    return 1
  fi
  if ! grep -q 'data-rendered="yes"' "$dom"; then
    echo "$page: never finished drawing (no data-rendered)" >&2
    return 1
  fi
}

# --- 0. runload.py's pieces ---------------------------------------------------
python3 report/test_runload.py 2>"$tmp/unit.log" || { cat "$tmp/unit.log" >&2; fail "test_runload.py"; }
ok "test_runload.py: $(grep -o 'Ran [0-9]* tests' "$tmp/unit.log")"

# --- 1. A real run: the runner writes report.html at its end ---------------
"$BIN/faultline" run scenarios/smoke.json --seed 7 --time-limit 8 \
  --bug stale-read --runs-dir "$tmp/runs" >"$tmp/run.out" 2>"$tmp/run.err" && code=0 || code=$?
[ "$code" -le 1 ] || fail "run exited $code: $(tail -5 "$tmp/run.err")"
dir=$(sed -n 's/^faultline: run directory //p' "$tmp/run.out" | tail -1)
[ -f "$dir/report.html" ] || fail "the run wrote no $dir/report.html"
grep -qx "faultline: report $dir/report.html" "$tmp/run.out" ||
  fail "the run's summary does not say where the report is"
for want in '^faultline: [0-9]+ ops: [0-9]+ ok, [0-9]+ fail, [0-9]+ info' \
  '^faultline: faults injected: ([0-9]+ \(|none$)' '^faultline: node restarts: '; do
  grep -Eq "$want" "$tmp/run.out" || fail "no summary line matching $want"
done
grep -q "report written" "$dir/runner.log" || fail "runner.log does not record the report"
ok "the run wrote its report (exit $code)"
self_contained "$dir/report.html"
if grep -q '"valid": false' "$dir/verdict.json"; then
  # faultline shrink rewrites the report, which then shows the shrunk ops.
  "$BIN/faultline" shrink "$dir" >"$tmp/shrink.out" 2>&1 && code=0 || code=$?
  [ "$code" -eq 1 ] || fail "faultline shrink exited $code: $(tail -3 "$tmp/shrink.out")"
  grep -qx "faultline: report $dir/report.html" "$tmp/shrink.out" ||
    fail "faultline shrink did not rewrite the report"
fi
render "$dir/report.html" "$tmp/dom.html" || fail "the real run's report does not render"
if grep -q '"valid": false' "$dir/verdict.json"; then
  index=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["anomaly"]["op"]["index"])' "$dir/verdict.json")
  grep -q "<tr class=\"hl\"><td class=\"num\"><a class=\"op\" data-op=\"[0-9]*\">$index</a>" "$tmp/dom.html" ||
    fail "the anomaly's op $index is not highlighted in the report"
  ok "the anomaly (op $index) is highlighted"
  grep -q 'Shrunk history: [0-9]* operations that are still invalid' "$tmp/dom.html" ||
    fail "the report does not show the shrunk history"
  ok "after faultline shrink, the report shows the shrunk history"
fi
ok "the real run's report renders"

# --- 2. faultline report rewrites it -----------------------------------------
rm "$dir/report.html"
"$BIN/faultline" report "$dir" >"$tmp/report.out" || fail "faultline report exited $?"
[ -f "$dir/report.html" ] || fail "faultline report wrote nothing"
ok "faultline report RUN_DIR rewrites report.html"

# --- 3. On a terminal, without python3 ----------------------------------------
# A 70-column terminal (script(1) gives the run one): the progress line is
# redrawn in place and never wider than the terminal; without python3 the
# run warns and still exits with its verdict's code.
script -qec "stty cols 70; FAULTLINE_PYTHON='$tmp/no-python3' '$BIN/faultline' run \
  scenarios/smoke.json --seed 8 --time-limit 3 --runs-dir '$tmp/runs2'" /dev/null \
  </dev/null >"$tmp/run2.tty" 2>&1 && code=0 || code=$?
tr '\r' '\n' <"$tmp/run2.tty" | sed 's/\x1b\[K//g' >"$tmp/run2.out"
dir2=$(sed -n 's/^faultline: run directory //p' "$tmp/run2.out" | tail -1)
[ -d "$dir2" ] || fail "no run directory in the terminal's output: $(tail -5 "$tmp/run2.out")"
FAULTLINE_PYTHON="$tmp/no-python3" "$BIN/faultline" check "$dir2" >/dev/null 2>&1 && want=0 || want=$?
[ "$code" -eq "$want" ] || fail "without python3 the run exited $code, its verdict says $want"
grep -q "warning: no report: $tmp/no-python3" "$tmp/run2.out" ||
  fail "no warning about the missing python3: $(tail -5 "$tmp/run2.out")"
redraws=$(grep -o $'\r\033\\[K\\[ *[0-9.]*s/[0-9]*s\\] [a-z]* *ops [0-9]*' "$tmp/run2.tty" | wc -l)
[ "$redraws" -ge 5 ] || fail "the progress line was redrawn in place $redraws times, expected many"
widest=$(tr '\r' '\n' <"$tmp/run2.tty" | sed 's/\x1b\[K//g' | grep '^\[ *[0-9.]*s/' | awk '{ if (length($0) > w) w = length($0) } END { print w + 0 }')
[ "$widest" -le 69 ] || fail "a progress line of $widest columns on a 70-column terminal"
grep -q '^faultline: [0-9]* ops: ' "$tmp/run2.out" || fail "no summary on the terminal"
ok "on a terminal: $redraws redraws in place, at most $widest columns of 70"
grep -q "warning: no report" "$dir2/runner.log" || fail "no warning in runner.log"
[ ! -e "$dir2/report.html" ] || fail "a report.html appeared without python3"
ok "a missing python3 is a warning, the exit code stays the verdict's ($code)"

# --- 4. A synthetic 100,000-op run, verdict with several checkers, shrunk ----
python3 report/testdata/make_run.py "$tmp/big" --ops 100000 --seed 11 --shrunk \
  --verdict checkers >/dev/null
python3 report/report.py "$tmp/big" || fail "report.py failed on 100,000 ops"
self_contained "$tmp/big/report.html"
render "$tmp/big/report.html" "$tmp/dom.html" || fail "the 100,000-op report does not render"
for want in '<td>linearizable</td>' '<td>set</td>' '<td>queue</td>' \
  'Shrunk history: 3 operations'; do
  grep -q "$want" "$tmp/dom.html" || fail "the 100,000-op report lacks $want"
done
[ "$(grep -o 'tr class="hl"><td class="num"><a class="op"' "$tmp/dom.html" | wc -l)" -eq 3 ] ||
  fail "the 100,000-op report does not highlight the 3 ops its verdict names"
ok "a 100,000-op report renders: checkers, named ops, the shrunk history"

# --- 5. The check can fail: a page whose script throws ------------------------
python3 report/testdata/make_run.py "$tmp/small" --ops 300 --seed 3 --verdict flat >/dev/null
python3 report/report.py "$tmp/small" >/dev/null
sed 's/^main();$/main(); D.nothing.here = 1;/' "$tmp/small/report.html" >"$tmp/throws.html"
cmp -s "$tmp/small/report.html" "$tmp/throws.html" && fail "could not break the page's script"
render "$tmp/throws.html" "$tmp/dom.html" 2>/dev/null && fail "a script error went unnoticed"
# Code that only runs under the mouse: a plain load misses it, #selftest not.
sed 's/if (best) return best.node + " at "/if (best) return bogus.node + " at "/' \
  "$tmp/big/report.html" >"$tmp/hover.html"
cmp -s "$tmp/big/report.html" "$tmp/hover.html" && fail "could not break the hover code"
render_one "$tmp/hover.html" "$tmp/dom.html" "" || fail "a plain load ran the hover code"
render_one "$tmp/hover.html" "$tmp/dom.html" "#selftest" 2>/dev/null &&
  fail "an error under the mouse went unnoticed"
sed 's/"ops":{/"ops":{,/' "$tmp/small/report.html" >"$tmp/bad-data.html"
render "$tmp/bad-data.html" "$tmp/dom.html" 2>/dev/null && fail "unreadable data went unnoticed"
ok "a page whose script throws, on load or under the mouse, fails the check"

# --- 6. Bad input ------------------------------------------------------------
python3 report/report.py "$tmp/none" 2>"$tmp/err" && code=0 || code=$?
[ "$code" -eq 3 ] && grep -q "$tmp/none" "$tmp/err" || fail "no run directory: exit $code, $(cat "$tmp/err")"
mkdir -p "$tmp/bad"
printf '{"index":0,"time":1,"process":0,"type":"invoke","f":"read"}\nnot json\n{"index":1,"time":2,"process":0,"type":"ok","f":"read"}\n' \
  >"$tmp/bad/history.jsonl"
python3 report/report.py "$tmp/bad" 2>"$tmp/err" && code=0 || code=$?
[ "$code" -eq 3 ] && grep -q "history.jsonl:2" "$tmp/err" || fail "a malformed line: exit $code, $(cat "$tmp/err")"
"$BIN/faultline" report 2>/dev/null && code=0 || code=$?
[ "$code" -eq 3 ] || fail "faultline report without RUN_DIR exited $code"
"$BIN/faultline" report "$tmp/none" 2>/dev/null && code=0 || code=$?
[ "$code" -eq 3 ] || fail "faultline report of a missing directory exited $code"
ok "bad input: exit 3 with the place named"

echo "test_report: all passed"
