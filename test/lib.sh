# test/lib.sh: what the shell tests share. Source it (from a test under a
# top-level folder: . "$(dirname "$0")/../test/lib.sh"); it sets
# failures=0 and defines:
#   fail MESSAGE...              count a failure and print it
#   expect CODE PATTERN -- CMD...  run CMD: exit code CODE and PATTERN (ERE)
#                                in its output, or a failure
#   run_dir_of FILE              the run directory a `faultline run` output
#                                in FILE named (its last one)
# The test ends with its own verdict on $failures.

failures=0

fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

expect() {
  local want=$1 pattern=$2; shift 3
  local out code
  out=$("$@" 2>&1); code=$?
  if [ "$code" -ne "$want" ] || ! grep -qE -- "$pattern" <<<"$out"; then
    fail "$* -> exit $code (want $want), output:"; echo "$out" | head -5
  else
    echo "ok: $* -> $code"
  fi
}

run_dir_of() { sed -n 's/^faultline: run directory //p' "$1" | tail -1; }
