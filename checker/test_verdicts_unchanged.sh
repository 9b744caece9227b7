#!/usr/bin/env bash
# The checker registry must not change what check and shrink conclude:
# every history of histories/regressions/, the checker case folders and the
# Porcupine conformance set is checked and shrunk, and each verdict's
# signature (exit code, overall valid, each checker's valid, model, kind,
# key and op index; for shrink the original indices kept) is compared with
# checker/testdata/verdicts.tsv, recorded from the binary before the
# registry. `--record` rewrites that file (say why in the commit).
set -uo pipefail
BIN=${FAULTLINE_BIN:-bin}
CONF=${FAULTLINE_CONFORMANCE:-/work/shared/conformance/porcupine}
expected=checker/testdata/verdicts.tsv
record=0
[ "${1:-}" = --record ] && record=1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

inputs() {
  ls histories/regressions/*/history.jsonl checker/cases*/*/history.jsonl
  if [ -d "$CONF" ]; then
    ls "$CONF"/etcd/*.log "$CONF"/kv/*.txt
  fi
}

n=0
: >"$tmp/list"
while read -r f; do
  name=${f#"$CONF"/}
  n=$((n + 1))
  "$BIN/faultline" check --json "$f" >"$tmp/$n.check.json" 2>/dev/null
  printf 'check\t%s\t%s\t%s\n' "$name" $? "$tmp/$n.check.json" >>"$tmp/list"
  cp "$f" "$tmp/$n.h"
  "$BIN/faultline" shrink --time-limit 20 "$tmp/$n.h" >/dev/null 2>&1
  printf 'shrink\t%s\t%s\t%s\n' "$name" $? "$tmp/$n.h.shrunk.verdict.json" >>"$tmp/list"
done < <(inputs)

# One signature line per run: "KIND<TAB>name<TAB>signature".
/usr/bin/python3 - "$tmp/list" >"$tmp/got.tsv" <<'PY'
import json, sys
def one(v):
    a = v.get("anomaly") or {}
    op = a.get("op") or {}
    parts = [str(v.get("valid")).lower()]
    for k in ("model", "kind"):
        if v.get(k) is not None:
            parts.append("%s=%s" % (k, v[k]))
    if "key" in a:
        parts.append("key=%s" % json.dumps(a["key"]))
    if "index" in op:
        parts.append("op=%s" % op["index"])
    return ",".join(parts)
for line in open(sys.argv[1]):
    kind, name, code, path = line.rstrip("\n").split("\t")
    out = ["exit=%s" % code]
    try:
        v = json.load(open(path))
    except Exception:
        print("%s\t%s\t%s" % (kind, name, " ".join(out)))
        continue
    out.append("valid=%s" % str(v.get("valid")).lower())
    if kind == "check":
        for c, cv in sorted((v.get("checkers") or {}).items()):
            out.append("%s:%s" % (c, one(cv)))
    else:
        s = v.get("shrink") or {}
        out.append("how=%s" % s.get("how"))
        out.append("kept=%s" % ",".join(str(i) for i in s.get("original_indices", [])))
    print("%s\t%s\t%s" % (kind, name, " ".join(out)))
PY

if [ $record -eq 1 ]; then
  cp "$tmp/got.tsv" "$expected"
  echo "test_verdicts_unchanged: recorded $n histories into $expected"
  exit 0
fi
if [ ! -d "$CONF" ]; then
  grep -v -e $'\tetcd/' -e $'\tkv/' "$expected" >"$tmp/want.tsv"
  echo "test_verdicts_unchanged: no conformance set at $CONF; compared the rest"
else
  cp "$expected" "$tmp/want.tsv"
fi
if diff -u "$tmp/want.tsv" "$tmp/got.tsv"; then
  echo "test_verdicts_unchanged: $n histories, check and shrink as recorded"
else
  echo "FAIL: test_verdicts_unchanged: verdicts differ from $expected (above)"
  exit 1
fi
