#!/usr/bin/env bash
# test-quick
# The regression corpus: every histories/regressions/<name>/ holds a
# history.jsonl (usually a shrunk failing run), expected.json (fields the
# verdict must have: a subset of `faultline check --json`'s object) and a
# README line saying where it came from. Re-check each and compare.
set -uo pipefail
BIN=${FAULTLINE_BIN:-bin}
dir=${REGRESSIONS_DIR:-histories/regressions}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0
count=0

for case in "$dir"/*/; do
  case=${case%/}
  name=$(basename "$case")
  count=$((count + 1))
  for f in history.jsonl expected.json README; do
    [ -s "$case/$f" ] || { echo "FAIL: $name: no $f"; failures=$((failures + 1)); continue 2; }
  done
  out=$("$BIN/faultline" check --json "$case/history.jsonl" 2>&1); code=$?
  if [ "$code" -ge 3 ]; then
    echo "FAIL: $name: check exited $code: $out"; failures=$((failures + 1)); continue
  fi
  printf '%s\n' "$out" >"$tmp/verdict.json"
  if msg=$(/usr/bin/python3 - "$case/expected.json" "$tmp/verdict.json" 2>&1 <<'PY'
import json, sys

def subset(want, got, path):
    """Every field of want is in got with the same value (objects
    recursively; other values compared as they are)."""
    if isinstance(want, dict):
        if not isinstance(got, dict):
            return ["%s: expected an object, got %s" % (path, json.dumps(got))]
        out = []
        for k, v in want.items():
            if k not in got:
                out.append("%s.%s: missing" % (path, k))
            else:
                out += subset(v, got[k], path + "." + k)
        return out
    if want != got:
        return ["%s: expected %s, got %s" % (path, json.dumps(want), json.dumps(got))]
    return []

want = json.load(open(sys.argv[1]))
got = json.load(open(sys.argv[2]))
errors = subset(want, got, "verdict")
print("\n".join(errors))
sys.exit(1 if errors else 0)
PY
  ); then
    echo "ok: $name ($(head -c 60 "$case/README")...)"
  else
    echo "FAIL: $name: $msg"; failures=$((failures + 1))
  fi
done

[ "$count" -gt 0 ] || { echo "FAIL: no regressions in $dir"; failures=$((failures + 1)); }
[ "$failures" -eq 0 ] || { echo "test_regressions: $failures of $count failed"; exit 1; }
echo "test_regressions: $count histories as expected"
