#!/bin/bash
# bench/pull_push.sh - push and pull of the same image with pinion and with
# `skopeo copy`, against the same local registry in the same run; prints the
# median wall times and pinion/skopeo ratios (below 1: pinion is faster).
#   bash bench/pull_push.sh [RUNS [MIB]]   (default 3 runs of each, alternating)
# The image: the python fixture rootfs (Debian bookworm + python3, ~260 MB)
# imported as a one-layer gzip image, plus a second MIB (default 64) MB
# incompressible layer-sized image so both a large compressible and a large
# incompressible blob are moved (`make bench`: 416, ~500 MiB in all).  Pulls
# go to fresh layout directories.  Env: PINION_BUILD (default build).
set -u
RUNS=${1:-3}
MIB=${2:-64}
. "$(dirname "$0")/../tests/e2e/lib.sh"
. "$TEST_ROOT/tests/tools/registry.sh"
. "$TEST_ROOT/bench/table.sh"
at_exit 'true'

now() { date +%s.%N; }
# timed NAME CMD...: appends the wall time of CMD to $T/times.NAME
timed() {
	local name=$1 t0 t1
	shift
	t0=$(now)
	"$@" >/dev/null 2>"$T/last.err" || { echo "bench: $name failed:"; cat "$T/last.err"; exit 1; }
	t1=$(now)
	echo "$t1 - $t0" | bc >>"$T/times.$name"
}
median() { sort -n "$1" | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }

rootfs=$(fixture_rootfs python) || { echo "bench: no python fixture rootfs"; exit 1; }
echo "bench: importing $rootfs" >&2
pinion --progress quiet import "$rootfs" "oci:$T/img:v1" >/dev/null || exit 1
mkdir -p "$T/rand"
head -c $((MIB << 20)) /dev/urandom >"$T/rand/weights.bin"
pinion --progress quiet import --compression none "$T/rand" "oci:$T/img:w1" >/dev/null || exit 1
size=$(du -sm "$T/img/blobs" | cut -f1)
echo "image: layout $T/img, ${size} MiB of blobs (python rootfs gzip layer + $MIB MiB uncompressed layer)"

# Each run pushes into fresh registries (one per tool): skopeo remembers
# where it saw blobs (its blob info cache) and would mount them instead of
# sending them if both tools pushed into one registry.
for i in $(seq 1 "$RUNS"); do
	registry_start plain "pin$i" >/dev/null; PREG=$REGISTRY
	registry_start plain "sko$i" >/dev/null; SREG=$REGISTRY
	for tag in v1 w1; do
		timed pinion_push pinion --progress quiet copy "oci:$T/img:$tag" "$PREG/bench:$tag"
		timed skopeo_push skopeo copy -q --dest-tls-verify=false "oci:$T/img:$tag" "docker://$SREG/bench:$tag"
		timed skopeo_pull skopeo copy -q --src-tls-verify=false "docker://$PREG/bench:$tag" "oci:$T/sp$i:$tag"
		timed pinion_pull pinion --progress quiet pull "$SREG/bench:$tag" "oci:$T/pp$i:$tag"
	done
	rm -rf "$T/sp$i" "$T/pp$i"
	registry_stop "pin$i"; registry_stop "sko$i"
done
# each run moved both images: sum per run is what the lines below compare
for n in pinion_push skopeo_push pinion_pull skopeo_pull; do
	awk 'NR % 2 {s = $1; next} {print s + $1}' "$T/times.$n" >"$T/run.$n"
done
pp=$(median "$T/run.pinion_push"); sp=$(median "$T/run.skopeo_push")
pl=$(median "$T/run.pinion_pull"); sl=$(median "$T/run.skopeo_pull")
printf 'push  pinion %.2f s  skopeo %.2f s  ratio %.2f\n' "$pp" "$sp" "$(echo "$pp / $sp" | bc -l)"
printf 'pull  pinion %.2f s  skopeo %.2f s  ratio %.2f\n' "$pl" "$sl" "$(echo "$pl / $sl" | bc -l)"
echo "(median of $RUNS runs, ${size} MiB per run, local docker-registry on 127.0.0.1, plain HTTP)"
bench_row "push ${size} MiB" "$pp" "skopeo copy" "$sp"
bench_row "pull ${size} MiB" "$pl" "skopeo copy" "$sl"
test_done >/dev/null
