#!/usr/bin/env bash
# test-quick
# ci/soak with a stand-in faultline (the script's logic is under test, not
# taskd): it runs N runs round-robin over the scenarios with seed, seed+1...,
# counts valid, invalid, unknown and harness errors, keeps the run
# directories of all but valid runs, and reports a process left behind
# that names its runs directory (exit 4 when everything was valid).
set -uo pipefail
tmp=$(mktemp -d)
leak_pid=
trap '[ -n "$leak_pid" ] && kill "$leak_pid" 2>/dev/null; rm -rf "$tmp"' EXIT
. "$(dirname "$0")/../test/lib.sh"

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
  bad) echo 'faultline: invalid: key "k1": read -> 4 (process 2, index 9) cannot be linearized'; exit 1 ;;
  slow) echo 'faultline: unknown: key "k0": time limit'; exit 2 ;;
  broken) echo "faultline: no leader after 30 s" >&2; exit 4 ;;
  leaky) bash -c 'sleep 60; :' "$runs/n1/taskd" </dev/null >/dev/null 2>&1 &
         echo $! >"$runs/../leak.pid" ;;
esac
echo "faultline: valid: linearizable (cas-register, 10 ops, 1 keys)"
SH
chmod +x "$tmp/stub/faultline"
for n in good bad slow broken leaky; do
  echo "{\"name\":\"$n\",\"duration_s\":1,\"recovery_s\":0}" >"$tmp/$n.json"
done

ci/soak 6 --bin "$tmp/stub" --seed 10 --runs-dir "$tmp/runs" --scenarios \
  "$tmp/good.json" "$tmp/bad.json" "$tmp/slow.json" "$tmp/broken.json" >"$tmp/out" 2>&1; code=$?
cat "$tmp/out"
[ "$code" -eq 1 ] || fail "an invalid run: exit $code, want 1"
grep -q "^ci/soak: 6 runs in [0-9]* s: valid 2, invalid 2, unknown 1, harness error 1$" "$tmp/out" ||
  fail "the counts line"
grep -q "^ci/soak: \[5/6\] good  *seed 14 " "$tmp/out" || fail "round-robin with seed + k"
[ -d "$tmp/runs/bad/T-11" ] && [ -d "$tmp/runs/broken/T-13" ] || fail "the failing run directories were not kept"
[ -d "$tmp/runs/good/T-10" ] && fail "a valid run directory was kept"
grep -q "^ci/soak: left behind: nothing" "$tmp/out" || fail "left behind: $(grep 'left behind' "$tmp/out")"

ci/soak 1 --bin "$tmp/stub" --seed 1 --runs-dir "$tmp/runs2" --scenarios "$tmp/leaky.json" >"$tmp/out2" 2>&1; code=$?
leak_pid=$(cat "$tmp/leak.pid" 2>/dev/null)
cat "$tmp/out2"
[ "$code" -eq 4 ] || fail "a process left behind: exit $code, want 4"
grep -q "^ci/soak: left behind: process $leak_pid bash -c sleep 60; : $tmp/runs2/n1/taskd" "$tmp/out2" ||
  fail "the process left behind is not named"

# By default: taskd's scenarios, every one, and no other system's.
/usr/bin/python3 - <<'PY' || fail "the default scenarios are not taskd's own"
import glob, json, os, sys
sys.path.insert(0, "ci")
import faultline_ci as ci
got = [os.path.basename(p) for p in ci.taskd_scenarios(".")]
want = []
for p in sorted(glob.glob("scenarios/*.json")):
    db = json.load(open(p)).get("db") or {}
    if db.get("name", "taskd") == "taskd":
        want.append(os.path.basename(p))
assert got == want, (got, want)
assert not any("etcd" in p or "redis" in p for p in got), got
assert "snapshot-install.json" in got and "default.json" in got, got
PY

[ "$failures" -eq 0 ] || { echo "test_soak: $failures failed"; exit 1; }
echo "test_soak: all passed"
