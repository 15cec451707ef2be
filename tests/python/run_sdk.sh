#!/bin/sh
# run_sdk.sh - the cog SDK's own tests (assembler/sdk/tests) under the host's
# python3: schemas of many predictor shapes against expected JSON, the HTTP
# server's endpoints, and the wheel (deterministic, installable offline into a
# fresh venv).  Prints TAP for tests/run.sh.
set -u
cd "$(dirname "$0")/../.."
PYTHON=${PYTHON:-/usr/bin/python3}
export PYTHONDONTWRITEBYTECODE=1
exec "$PYTHON" assembler/sdk/tests/tap.py "$@"
