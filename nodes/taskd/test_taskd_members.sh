#!/usr/bin/env bash
# test_taskd_members: taskd's admin ops (add, assign, remove, transfer,
# members), a node joining with --join, and --bug change-before-commit (see
# taskd_members.py). Run from the repository root; FAULTLINE_BIN names the
# directory holding the taskd under test.
set -euo pipefail
cd "$(dirname "$0")/../.."
export FAULTLINE_BIN=${FAULTLINE_BIN:-bin}
if [[ $FAULTLINE_BIN == *asan* ]]; then
  export FAULTLINE_SLOW=1
fi
exec python3 nodes/taskd/taskd_members.py
