#!/bin/sh
# bench/run.sh - benchmarks, each workload against its peer in the same run,
# ending with ONE table (bench/table.sh): pinion s, peer, peer s, ratio.
#   build.sh        cold / warm / edited rebuild vs buildah build --isolation
#                   chroot --layers of `pinion dockerfile`; a second model with
#                   the same requirements vs buildah with --mount=type=cache;
#                   the cold build's breakdown from --progress json
#   weights.sh      2 GiB of weights added, ext4 vs cp + sync, XFS reflink
#                   (a loop fs it makes) vs one sha256 pass
#   pull_push.sh    pull and push of ~500 MiB vs skopeo copy (one run)
#   pkgcache.sh     a second model with the same requirements (175 MB of
#                   wheels from an index at 10 and 50 MB/s, jq): its pip step
#                   with the warm package caches vs --no-package-cache, and
#                   where the pip step's time goes (on a journaled ext4 loop
#                   fs it makes; BENCH_FS=host for the disk it runs on)
#   weights_push.sh build --push of 1 GiB of weights vs skopeo copy of its layout
#   unpack-shout    unpack.sh shout: pinion's own part of a cold build of the
#                   shout-sized model (issue 13's goal: 2 s), on the host disk
#                   and on ext4 loop filesystems it makes (with and without a
#                   journal); first, before the other workloads delete their
#                   trees (unpack.sh says why that matters on this VM's disk)
# `make bench` runs these (about 27 minutes on 2 cores).  Also, by name:
#   layer_write.sh  layer write throughput vs openssl dgst / zstd CLI / disk
#   sandbox.sh      sandbox start and step commit vs buildah run + commit
#   unpack.sh       cold unpack of the python base vs umoci unpack and tar -x
# Absolute seconds depend on the machine; compare within one run.
# Usage: make bench, or bench/run.sh [NAME...] (env: PINION_BUILD).
set -u
cd "$(dirname "$0")/.."
export PINION_BUILD=${PINION_BUILD:-build}
case "$PINION_BUILD" in /*) ;; *) PINION_BUILD="$(pwd)/$PINION_BUILD" ;; esac
export PINION="$PINION_BUILD/pinion"
names=${*:-unpack-shout build weights pull_push pkgcache weights_push}
. bench/table.sh
BENCH_TABLE=$(mktemp /tmp/pinion-bench-table.XXXXXX)
export BENCH_TABLE
rc=0
for n in $names; do
	script=$n
	case $n in
	weights) args=2048 ;;
	pull_push) args="1 416" ;;
	pkgcache) args="10 50" ;;
	unpack-shout) script=unpack args="shout 2" ;;
	*) args= ;;
	esac
	echo "=== bench/$script.sh $args"
	bash "bench/$script.sh" $args || { echo "bench/$script.sh failed"; rc=1; }
done
echo
echo "=== pinion against its peers ($(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg), $(date -u +%F))"
bench_table_print "$BENCH_TABLE"
rm -f "$BENCH_TABLE"
exit $rc
