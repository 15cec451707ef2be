# bench/env.sh - sourced by the bench scripts that do not use the e2e
# harness: $root (the checkout), PINION_BUILD made absolute, PINION, PYTHON
# and the fixture cache.  Sets -eu.
set -eu
root=$(cd "$(dirname "${BASH_SOURCE[0]:-$0}")/.." && pwd)
export PINION_BUILD=${PINION_BUILD:-build}
case "$PINION_BUILD" in /*) ;; *) PINION_BUILD="$root/$PINION_BUILD" ;; esac
PINION="$PINION_BUILD/pinion"
PYTHON=${PYTHON:-/usr/bin/python3}
export PINION_TEST_CACHE=${PINION_TEST_CACHE:-/var/cache/pinion-test}
