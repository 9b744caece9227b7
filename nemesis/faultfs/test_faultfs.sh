#!/usr/bin/env bash
# faultfs end to end: a real mount in a private mount namespace; see
# nemesis/faultfs/test_faultfs.py for what it checks.
set -uo pipefail
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
FAULTLINE_BIN=${FAULTLINE_BIN:-bin} exec timeout 120 "$PY" \
  "$(dirname "$0")/test_faultfs.py"
