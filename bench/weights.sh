#!/bin/bash
# bench/weights.sh - a weights file in a built model (issue 13): the rebuild
# with --separate-weights after a SIZE_MIB incompressible file appeared in the
# model ("add": weights/ is new, so the source layer and post-build run again)
# and after it was replaced by another of the same size ("new": a new
# checkpoint, the weights step alone), on the host disk (ext4: the blob is a
# copy) and on an XFS loop filesystem with reflink (made here; the blob shares
# the file's extents), next to one sha256 pass over the file (openssl) and
# `cp --reflink=never` + `sync` of it in the same run (`sync COPY DIR`: the
# copy and its directory, as pinion fsyncs its blob and directory; a bare
# `sync` would also wait for every other writer on the machine, and on XFS for
# the loop file's dirty pages), with pinion's peak RSS.
# Needs root (loop mount).
# Usage: bench/weights.sh [SIZE_MIB] (default 2048).  Env: PINION.
set -u
cd "$(dirname "$0")/.."
MIB=${1:-2048}
. tests/e2e/lib.sh >/dev/null
. tests/tools/registry.sh
. bench/table.sh
registry_start plain >"$T/registry.log" 2>&1 || { cat "$T/registry.log"; exit 1; }
base=$(fixture_base_layout) &&
	pinion copy "oci:$base:library/python:3.11-slim" "$REGISTRY/library/python:3.11-slim" >/dev/null || exit 1
MIRROR="--registry-mirror docker.io=$REGISTRY --registry-mirror r8.im=$REGISTRY"
truncate -s $((MIB * 4 + 2048))M "$T/xfs.img" && mkfs.xfs -q -m reflink=1 "$T/xfs.img" &&
	mkdir -p "$T/xfs" && mount -o loop "$T/xfs.img" "$T/xfs" || { echo "no XFS loop mount"; exit 1; }
at_exit "umount -l '$T/xfs'"

secs() { awk '/Elapsed \(wall clock\)/ { n = split($NF, p, ":"); print (n == 3) ? p[1]*3600 + p[2]*60 + p[3] : p[1]*60 + p[2] }' "$1"; }
rss() { awk '/Maximum resident set size/ { printf "%.1f", $NF / 1024 }' "$1"; }
timed() { /usr/bin/time -v -o "$T/time" "$@" >/dev/null 2>"$T/err" || { tail -5 "$T/err"; return 1; }; }

# one rebuild after the weights changed: one sha256 pass and `cp` + `sync` of
# the new file, then the timed build; prints the row, adds it to the table
measure() { # FS CASE DIR
	local fs=$1 case=$2 d=$3 sha cp t
	timed openssl dgst -sha256 "$d/m/weights/model.bin" && sha=$(secs "$T/time")
	timed sh -c 'cp --reflink=never "$1" "$2" && sync "$2" "${2%/*}"' - "$d/m/weights/model.bin" "$d/copy" && cp=$(secs "$T/time")
	rm -f "$d/copy" && sync
	build "$d" || return 1
	t=$(secs "$T/time")
	printf '%-6s %-10s %9.2fs %9.2fs %11.2fs %10s %7.2fx %7.2fx\n' "$fs" "$case" "$sha" "$cp" "$t" \
		"$(rss "$T/time")" "$(echo "$t / $sha" | bc -l)" "$(echo "$t / $cp" | bc -l)"
	# the issue's goals: ext4 against cp + sync, a reflink filesystem against one sha256 pass
	local row="add $MIB MiB weights"
	[ "$case" = new ] && row="new $MIB MiB checkpoint"
	if [ "$fs" = ext4 ]; then
		bench_row "$row, ext4" "$t" "cp + sync" "$cp"
	else
		bench_row "$row, XFS reflink" "$t" "one sha256 pass" "$sha"
	fi
}
build() { (cd "$1/m" && PINION_CACHE_DIR="$1/cache" timed "$PINION" build $MIRROR --separate-weights \
	--use-cog-base-image=false --output "oci:$1/out:w" --progress plain); }
weights() { head -c $((MIB << 20)) /dev/urandom >"$1.new" && mv "$1.new" "$1" && sync; }

echo "a $MIB MiB incompressible weights file in a built model ($(nproc) cores," \
	"load $(cut -d' ' -f1 /proc/loadavg), $(date -u +%F))"
echo "add: weights/ is new (the source layer and post-build run again);" \
	"new: model.bin replaced by another of the same size (weights only)"
printf '%-6s %-10s %10s %10s %12s %10s %8s %8s\n' fs case sha256 cp+sync "pinion" "RSS MiB" "/sha256" "/cp"
for fs in ext4 xfs; do
	d="$T/$fs-w" && [ "$fs" = xfs ] && d="$T/xfs/w"
	mkdir -p "$d" && cp -r examples/hello "$d/m" && rm -rf "$d/m/.pinion"
	build "$d" || exit 1 # warm: everything but the weights
	mkdir -p "$d/m/weights" && weights "$d/m/weights/model.bin"
	measure "$fs" add "$d" || exit 1
	# a new checkpoint: the old blob stays in the cache, as it would
	weights "$d/m/weights/model.bin"
	measure "$fs" new "$d" || exit 1
	rm -rf "$d"
done
_run_file_cleanups
rm -rf "$T"
