#!/usr/bin/env bash
# test-quick
# The C engine, the python3 reference checker (checker/reference/) and the
# construction agree on small seeded random histories, for every model.
# DIFF_COUNT histories per model (default 1000); DIFF_SEED replays a run.
set -euo pipefail
BIN=${FAULTLINE_BIN:-bin}
args=(--bin "$BIN" --count "${DIFF_COUNT:-1000}")
if [ -n "${DIFF_SEED:-}" ]; then args+=(--seed "$DIFF_SEED"); fi
exec python3 "$(dirname "$0")/reference/differential.py" "${args[@]}"
