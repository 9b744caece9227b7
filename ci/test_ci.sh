#!/usr/bin/env bash
# ci/gate and ci/nightly: a real one-scenario gate with a tiny fault phase
# (valid: exit 0, JUnit XML with one passing testcase, the run directory
# deleted), then the failure paths with a stand-in faultline (the scripts'
# logic is under test here, not taskd): an invalid verdict fails the gate
# (exit 1, a <failure> whose message is the verdict line, the run directory
# kept), a harness error is an <error> (exit 4), --first-failure stops, and
# the nightly hunt stops a scenario at its first failure and prints the
# summary table; ci/repro-rate counts the repro runs that bring the anomaly
# back (stand-in faultline).
set -uo pipefail
BIN=${FAULTLINE_BIN:-bin}
BIN=$(cd "$BIN" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
. "$(dirname "$0")/../test/lib.sh"

# junit FILE TESTS FAILURES ERRORS: a sanity check of the XML's shape.
junit() {
  /usr/bin/python3 - "$@" <<'PY'
import sys, xml.etree.ElementTree as ET
path, tests, failures, errors = sys.argv[1], *map(int, sys.argv[2:])
root = ET.parse(path).getroot()
assert root.tag == "testsuites", root.tag
suites = root.findall("testsuite")
assert len(suites) == 1, suites
s = suites[0]
cases = s.findall("testcase")
assert int(s.get("tests")) == len(cases) == tests, (s.get("tests"), len(cases), tests)
assert int(s.get("failures")) == len(s.findall("testcase/failure")) == failures
assert int(s.get("errors")) == len(s.findall("testcase/error")) == errors
for c in cases:
    assert c.get("name") and c.get("classname"), c.attrib
    float(c.get("time"))
    for f in c.findall("failure") + c.findall("error"):
        assert f.get("message") and f.get("type"), f.attrib
        assert "run directory: " in f.text, f.text
PY
}

# 1. A real gate of one scenario, a few seconds of faults.
ci/gate --scenarios scenarios/smoke.json --time-limit 3 --bin "$BIN" \
  --runs-dir "$tmp/runs" --junit "$tmp/real.xml" >"$tmp/real.out" 2>&1; code=$?
[ "$code" -eq 0 ] || { fail "real gate exited $code"; cat "$tmp/real.out"; }
grep -q "ci/gate: PASS: 1 of 1 runs valid" "$tmp/real.out" || fail "real gate: no PASS line"
junit "$tmp/real.xml" 1 0 0 || fail "real gate: JUnit XML"
[ -z "$(ls -A "$tmp/runs" 2>/dev/null)" ] || fail "real gate: passing run directory kept: $(ls -R "$tmp/runs" | head)"

# 2. A stand-in faultline: scenario "bad" is invalid from seed 3 on,
# "broken" is a harness error, anything else valid. It makes the run
# directory as faultline does.
mkdir -p "$tmp/stub"
cat >"$tmp/stub/faultline" <<'SH'
#!/usr/bin/env bash
scen=$2; seed=; runs=histories/runs
shift 2
while [ $# -gt 0 ]; do
  case $1 in --seed) seed=$2; shift ;; --runs-dir) runs=$2; shift ;; esac; shift
done
name=$(basename "$scen" .json)
dir=$runs/$name/T-$seed; mkdir -p "$dir"
echo "faultline: run directory $dir"
case $name in
  bad) if [ "$seed" -ge 3 ]; then
         echo 'faultline: invalid: key "k1": read -> 4 (process 2, index 9) cannot be linearized'
         exit 1
       fi ;;
  broken) echo "faultline: no leader after 30 s" >&2
          echo "faultline: run failed; history kept; check it with: faultline check $dir"; exit 4 ;;
esac
echo "faultline: valid: linearizable (cas-register, 10 ops, 1 keys)"
SH
chmod +x "$tmp/stub/faultline"
for n in good bad broken; do
  echo "{\"name\":\"$n\",\"duration_s\":1,\"recovery_s\":0}" >"$tmp/$n.json"
done

ci/gate --bin "$tmp/stub" --scenarios "$tmp/good.json" "$tmp/bad.json" \
  --seed 3 --runs-dir "$tmp/sruns" --junit "$tmp/fail.xml" >"$tmp/fail.out" 2>&1; code=$?
[ "$code" -eq 1 ] || fail "invalid verdict: gate exited $code, want 1"
junit "$tmp/fail.xml" 2 1 0 || fail "invalid verdict: JUnit XML"
grep -q 'message="invalid: key &quot;k1&quot;: read -&gt; 4' "$tmp/fail.xml" || fail "the failure message is not the verdict line"
[ -d "$tmp/sruns/bad/T-3" ] || fail "the failing run directory was not kept"
[ -d "$tmp/sruns/good/T-3" ] && fail "the passing run directory was kept"
grep -q "kept $tmp/sruns/bad/T-3" "$tmp/fail.out" || fail "the kept run directory is not printed"

ci/gate --bin "$tmp/stub" --scenarios "$tmp/good.json" "$tmp/broken.json" \
  --seed 3 --runs-dir "$tmp/sruns2" --junit "$tmp/err.xml" >"$tmp/err.out" 2>&1; code=$?
[ "$code" -eq 4 ] || fail "harness error: gate exited $code, want 4"
junit "$tmp/err.xml" 2 0 1 || fail "harness error: JUnit XML"
grep -q 'message="harness error (exit 4): faultline: no leader after 30 s"' "$tmp/err.xml" || fail "the error message is not what went wrong"

ci/gate --bin "$tmp/stub" --scenarios "$tmp/bad.json" "$tmp/good.json" \
  --seed 3 --first-failure --runs-dir "$tmp/sruns3" >"$tmp/ff.out" 2>&1; code=$?
[ "$code" -eq 1 ] || fail "--first-failure: exited $code"
grep -q "1 of 1 runs\|0 of 1 runs" "$tmp/ff.out" || fail "--first-failure ran on: $(tail -3 "$tmp/ff.out")"

ci/gate --bin "$tmp/stub" --scenarios "$tmp/nothing.json" >/dev/null 2>&1; code=$?
[ "$code" -eq 3 ] || fail "a missing scenario: gate exited $code, want 3"
ci/gate --budget -1 >/dev/null 2>&1; code=$?
[ "$code" -eq 3 ] || fail "a negative budget: gate exited $code, want 3"

# 3. The nightly hunt: "bad" fails at seed 3 (its third run from seed 1)
# and is hunted no more; "good" runs until --max-runs.
ci/nightly --bin "$tmp/stub" --scenarios "$tmp/good.json" "$tmp/bad.json" \
  --seed 1 --max-runs 5 --budget 5 --runs-dir "$tmp/nruns" --junit "$tmp/n.xml" \
  >"$tmp/n.out" 2>&1; code=$?
[ "$code" -eq 1 ] || fail "nightly exited $code, want 1"
grep -qE '^scenario +runs +failures +first failing seed +coverage +run dir' "$tmp/n.out" || fail "nightly: no summary table"
grep -qE "^good +5 +0 +- +0 +-" "$tmp/n.out" || fail "nightly: good should run 5 times: $(grep ^good "$tmp/n.out")"
grep -qE "^bad +3 +1 +3 +0 +$tmp/nruns/bad/T-3" "$tmp/n.out" || fail "nightly: bad should stop at seed 3: $(grep ^bad "$tmp/n.out")"
junit "$tmp/n.xml" 8 1 0 || fail "nightly: JUnit XML"

# 4. The repro rate: a stand-in `faultline repro` that brings the anomaly
# back every other time (and its class only the other times in a run
# directory named "class"), and never for a run directory named "never".
mkdir -p "$tmp/rstub" "$tmp/r/once" "$tmp/r/never" "$tmp/r/class" "$tmp/r/empty"
cat >"$tmp/rstub/faultline" <<SH
#!/usr/bin/env bash
[ "\$1" = repro ] || exit 3
dir=\${@: -1}
n=\$(( \$(cat "$tmp/rcount" 2>/dev/null || echo 0) + 1 )); echo \$n >"$tmp/rcount"
case \$dir in *never) echo "faultline: valid: set (1 ok)"; exit 1 ;; esac
if [ \$((n % 2)) -eq 1 ]; then echo "faultline: invalid: set: lost"; exit 0; fi
case \$dir in *class) echo "faultline: invalid: set: lost"; exit 6 ;; esac
echo "faultline: valid: set (1 ok)"; exit 1
SH
chmod +x "$tmp/rstub/faultline"
for d in once never class; do
  echo '{"name":"tasks","db":{"bug":"no-dedup"}}' >"$tmp/r/$d/scenario.json"
  : >"$tmp/r/$d/history.jsonl"
done
ci/repro-rate --bin "$tmp/rstub" -n 4 "$tmp/r/once" >"$tmp/rr.out" 2>&1; code=$?
[ "$code" -eq 0 ] || fail "repro-rate: exited $code, want 0"
grep -qE "^$tmp/r/once +tasks +no-dedup +2 of 4 +0 of 4 +0 " "$tmp/rr.out" || fail "repro-rate: want 2 of 4: $(tail -1 "$tmp/rr.out")"
rm -f "$tmp/rcount"
ci/repro-rate --bin "$tmp/rstub" -n 4 "$tmp/r/class" >"$tmp/rrc.out" 2>&1; code=$?
[ "$code" -eq 0 ] || fail "repro-rate: class: exited $code, want 0"
grep -qE "^$tmp/r/class +tasks +no-dedup +2 of 4 +2 of 4 +0 " "$tmp/rrc.out" || fail "repro-rate: want 2 of 4 and 2 of 4 the class only: $(tail -1 "$tmp/rrc.out")"
ci/repro-rate --bin "$tmp/rstub" -n 2 "$tmp/r/once" "$tmp/r/never" >"$tmp/rr2.out" 2>&1; code=$?
[ "$code" -eq 1 ] || fail "repro-rate: a run never reproduced: exited $code, want 1"
grep -qE "^$tmp/r/never +tasks +no-dedup +0 of 2 " "$tmp/rr2.out" || fail "repro-rate: want 0 of 2: $(tail -1 "$tmp/rr2.out")"
ci/repro-rate --bin "$tmp/rstub" "$tmp/r/empty" >"$tmp/rr3.out" 2>&1; code=$?
[ "$code" -eq 3 ] || fail "repro-rate: a directory without a history: exited $code, want 3"

# 5. gate-mutants --repeat: detection rates over repeated gates, with a
# stand-in taskd listing two bugs and a stand-in faultline that catches
# "alpha" always (in "bad" at seed 3) and "beta" only in odd-numbered
# runs of "good" (a bug caught by luck).
mkdir -p "$tmp/mstub"
printf '#!/usr/bin/env bash\n[ "$1" = --list-bugs ] && printf "alpha\\tone\\nbeta\\ttwo\\n"\n' >"$tmp/mstub/taskd"
cat >"$tmp/mstub/faultline" <<SH
#!/usr/bin/env bash
scen=\$2; bug=; seed=; runs=histories/runs
shift 2
while [ \$# -gt 0 ]; do
  case \$1 in --seed) seed=\$2; shift ;; --runs-dir) runs=\$2; shift ;; --bug) bug=\$2; shift ;; esac; shift
done
name=\$(basename "\$scen" .json)
n=\$(( \$(cat "$tmp/mcount" 2>/dev/null || echo 0) + 1 )); echo \$n >"$tmp/mcount"
dir=\$runs/\$name/T-\$seed-\$n; mkdir -p "\$dir"
echo "faultline: run directory \$dir"
if [ "\$bug" = alpha ] && [ "\$name" = bad ] || { [ "\$bug" = beta ] && [ "\$name" = good ] && [ \$((n % 2)) -eq 1 ]; }; then
  echo 'faultline: invalid: set: lost (1)'; exit 1
fi
echo "faultline: valid: set (1 ok)"
SH
chmod +x "$tmp/mstub/taskd" "$tmp/mstub/faultline"
ci/gate-mutants --bin "$tmp/mstub" --scenarios "$tmp/good.json" "$tmp/bad.json" \
  --seed 3 --repeat 4 --runs-dir "$tmp/mruns" >"$tmp/m.out" 2>&1; code=$?
[ "$code" -eq 1 ] || fail "gate-mutants --repeat: exited $code, want 1 (beta missed sometimes)"
grep -qE "^alpha +4 of 4 +[0-9]+ s +bad 4 " "$tmp/m.out" || fail "gate-mutants: alpha should be 4 of 4 by bad: $(grep ^alpha "$tmp/m.out")"
grep -qE "^beta +[1-3] of 4 +[0-9]+ s +good [1-3] " "$tmp/m.out" || fail "gate-mutants: beta should be caught sometimes: $(grep ^beta "$tmp/m.out")"
grep -q "1 of 2 bugs caught in every gate (4 gates each)" "$tmp/m.out" || fail "gate-mutants: summary line: $(tail -1 "$tmp/m.out")"

[ "$failures" -eq 0 ] || { echo "test_ci: $failures failed"; cat "$tmp"/*.out | tail -30; exit 1; }
echo "test_ci: all passed"
