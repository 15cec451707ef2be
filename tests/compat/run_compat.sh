#!/bin/sh
# run_compat.sh - the Cog compatibility suite (tests/compat/cases, see run.py)
# under the host's python3, TAP for tests/run.sh.
set -u
cd "$(dirname "$0")/../.."
PYTHON=${PYTHON:-/usr/bin/python3}
export PYTHONDONTWRITEBYTECODE=1
exec "$PYTHON" tests/compat/run.py "$@"
