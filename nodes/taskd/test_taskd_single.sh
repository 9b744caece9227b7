#!/usr/bin/env bash
# test_taskd_single: one-node taskd clusters: the golden transcript (no bug
# flag changes an answer), the bugs visible on one node, the libfiu points
# (see taskd_single.py). Run from the repository root; FAULTLINE_BIN names
# the directory holding the taskd under test.
set -euo pipefail
cd "$(dirname "$0")/../.."
export FAULTLINE_BIN=${FAULTLINE_BIN:-bin}
if [[ $FAULTLINE_BIN == *asan* ]]; then
  export FAULTLINE_SLOW=1
fi
exec python3 nodes/taskd/taskd_single.py
