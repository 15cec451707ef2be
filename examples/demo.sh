#!/bin/sh
# examples/demo.sh - run by `make demo`: no registry and no Docker needed.
#  1. a base image from Debian packages (tests/tools/fixtures.sh `python`,
#     ~40 s the first time, cached after) is imported into an OCI layout as
#     library/python:3.11-slim;
#  2. that layout stands in for Docker Hub through a layout mirror
#     (--registry-mirror docker.io=oci:DIR), and examples/hello is built into
#     an OCI layout;
#  3. one prediction runs in the sandbox and its output is printed.
# Env: PINION_BUILD (build dir, default build), PINION_DEMO_DIR (work dir,
# default /tmp/pinion-demo), PINION_TEST_CACHE (fixture cache).
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
B=${PINION_BUILD:-build}
case "$B" in /*) ;; *) B="$root/$B" ;; esac
pinion="$B/pinion"
work=${PINION_DEMO_DIR:-/tmp/pinion-demo}
: "${PINION_TEST_CACHE:=/var/cache/pinion-test}"
[ -w "$(dirname "$PINION_TEST_CACHE")" ] || [ -w "$PINION_TEST_CACHE" ] 2>/dev/null ||
	PINION_TEST_CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/pinion-test"
export PINION_TEST_CACHE
. "$root/tests/tools/fixtures.sh"
mkdir -p "$work"

echo "==> base image (Debian bookworm + python3, standing in for python:3.11-slim)"
rootfs=$(fixture_rootfs python)
key=$(basename "$rootfs" .tar)
if ! "$pinion" ls "oci:$work/bases" 2>/dev/null | grep -q "library/python:3.11-slim"; then
	rm -rf "$work/bases"
	"$pinion" import --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
		--env LANG=C.UTF-8 --cmd python3 "$rootfs" "oci:$work/bases:library/python:3.11-slim"
fi
echo "    $key -> oci:$work/bases:library/python:3.11-slim"

echo "==> pinion build examples/hello"
"$pinion" build -f "$root/examples/hello/cog.yaml" --output "oci:$work/out:hello" \
	--registry-mirror docker.io=oci:"$work/bases" --progress plain

echo "==> pinion predict oci:$work/out:hello -i name=pinion"
out=$("$pinion" predict "oci:$work/out:hello" -i name=pinion 2>"$work/predict.log") || {
	cat "$work/predict.log" >&2
	exit 1
}
echo "prediction: $out"
