#!/bin/sh
# bench/run.sh - every benchmark, each against its peer in the same run:
#   layer_write.sh  layer write throughput vs openssl dgst / zstd CLI / disk
#   pull_push.sh    pull and push vs skopeo copy
#   sandbox.sh      sandbox start and step commit vs buildah run + commit
#   build.sh        cold / warm / edited rebuild vs buildah build --isolation chroot
#   unpack.sh       cold unpack of the python base vs umoci unpack and tar -x
# Results are ratios against the peer; absolute seconds depend on the machine.
# Usage: make bench, or bench/run.sh [NAME...] (env: PINION_BUILD).
set -u
cd "$(dirname "$0")/.."
export PINION_BUILD=${PINION_BUILD:-build}
case "$PINION_BUILD" in /*) ;; *) PINION_BUILD="$(pwd)/$PINION_BUILD" ;; esac
export PINION="$PINION_BUILD/pinion"
names=${*:-layer_write pull_push sandbox build unpack}
rc=0
for n in $names; do
	echo "=== bench/$n.sh"
	bash "bench/$n.sh" || { echo "bench/$n.sh failed"; rc=1; }
done
exit $rc
