#!/usr/bin/env bash
# run_tests: run test programs one after the other, one progress line each
# ("[12/37] nodes/taskd/test_taskd.sh ... ok 48 s"), each one's output in a
# log file of its own, printed in full when it fails; then one closing line
# ("35 passed, 2 failed: a, b"). Exit 0 when every test passed, 1 if not.
#
# usage: test/run_tests.sh [--quick] [--logs DIR] TEST...
#   TEST     a test binary (run as it is) or a test_*.sh script (run with
#            bash, FAULTLINE_BIN passed on from the environment)
#   --quick  skip the scripts that do not say "# test-quick" on a line of
#            their own: those start clusters (make test-quick)
#   --logs   where the logs go (default build/test-logs), one per test,
#            named after its path
set -uo pipefail

logs=build/test-logs
quick=0
while [ $# -gt 0 ]; do
  case $1 in
  --quick) quick=1 ;;
  --logs) logs=$2; shift ;;
  --) shift; break ;;
  -*) echo "run_tests: unknown option $1" >&2; exit 3 ;;
  *) break ;;
  esac
  shift
done

tests=()
for t in "$@"; do
  if [ "$quick" -eq 1 ] && [[ $t == *.sh ]] && ! grep -qx '# test-quick' "$t"; then
    continue
  fi
  tests+=("$t")
done
mkdir -p "$logs" || exit 4

# The name shown: a script's path, a binary's file name.
name_of() {
  case $1 in
  *.sh) echo "$1" ;;
  *) basename "$1" ;;
  esac
}

n=${#tests[@]}
passed=0
failed=()
start_all=$SECONDS
i=0
for t in "${tests[@]}"; do
  i=$((i + 1))
  name=$(name_of "$t")
  log="$logs/$(echo "$name" | tr '/' '-').log"
  printf '[%*d/%d] %s ... ' "${#n}" "$i" "$n" "$name"
  start=$SECONDS
  if [[ $t == *.sh ]]; then
    bash "$t" >"$log" 2>&1 </dev/null
  else
    "$t" >"$log" 2>&1 </dev/null
  fi
  code=$?
  took=$((SECONDS - start))
  if [ "$code" -eq 0 ]; then
    passed=$((passed + 1))
    echo "ok $took s"
  else
    failed+=("$name")
    if [ "$code" -gt 128 ]; then
      echo "FAILED (killed by signal $((code - 128))) $took s; log $log:"
    else
      echo "FAILED (exit $code) $took s; log $log:"
    fi
    sed 's/^/    /' "$log"
    echo "[$i/$n] $name: FAILED, its log is above ($log)"
  fi
done

total=$((SECONDS - start_all))
if [ "${#failed[@]}" -eq 0 ]; then
  echo "$passed passed, 0 failed ($total s; logs in $logs)"
  exit 0
fi
list=$(printf '%s, ' "${failed[@]}")
echo "$passed passed, ${#failed[@]} failed: ${list%, } ($total s; logs in $logs)"
exit 1
