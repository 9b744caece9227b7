#!/usr/bin/env bash
# test_taskd: a 3-node taskd cluster on loopback, killed and restarted (see
# taskd_cluster.py). Run from the repository root; FAULTLINE_BIN names the
# directory holding the taskd under test.
set -euo pipefail
cd "$(dirname "$0")/../.."
export FAULTLINE_BIN=${FAULTLINE_BIN:-bin}
if [[ $FAULTLINE_BIN == *asan* ]]; then
  export FAULTLINE_SLOW=1
fi
exec python3 nodes/taskd/taskd_cluster.py
