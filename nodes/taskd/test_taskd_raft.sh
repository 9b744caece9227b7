#!/usr/bin/env bash
# test_taskd_raft: taskd's Raft layer on loopback clusters: the protocol
# events a reactive nemesis aims at, and each Raft-layer seeded bug shown
# changing what reaches the disk (see taskd_raft.py). Run from the
# repository root; FAULTLINE_BIN names the directory holding the taskd
# under test.
set -euo pipefail
cd "$(dirname "$0")/../.."
export FAULTLINE_BIN=${FAULTLINE_BIN:-bin}
if [[ $FAULTLINE_BIN == *asan* ]]; then
  export FAULTLINE_SLOW=1
fi
exec python3 nodes/taskd/taskd_raft.py
