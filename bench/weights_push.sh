#!/bin/bash
# bench/weights_push.sh - `pinion build --push --separate-weights` of a model
# with MIB (default 1024) MiB of incompressible weights, streamed from the
# model file to a loopback docker-registry (issue 13, item 2), against
# `skopeo copy` of the same image built into a layout (oci: -> docker://).
#   bash bench/weights_push.sh [MIB [RUNS]]   (default 1024 MiB, 3 runs, alternating)
# Every run pushes into two fresh registries (one per tool; skopeo's blob info
# cache would otherwise mount the weights from the run before), each already
# holding the base image in the target repository, so both tools skip the
# base layers (HEAD) and send the same bytes: the weights layer, the code
# layers, the config and the manifest.  pinion's cache is warm (base, code
# layers, the weights' digest memo): the timed build reads the weights file
# once, hashing and uploading it.  skopeo runs with --preserve-digests: by
# default it gzips the uncompressed weights layer on the way to a registry,
# which pushes another image (and costs a gzip pass).  Env: PINION.
set -u
cd "$(dirname "$0")/.."
MIB=${1:-1024}
RUNS=${2:-3}
. tests/e2e/lib.sh >/dev/null
. tests/tools/registry.sh
. bench/table.sh

now() { date +%s.%N; }
# timed NAME CMD...: appends the wall time of CMD to $T/times.NAME
timed() {
	local name=$1 t0 t1
	shift
	t0=$(now)
	"$@" >/dev/null 2>"$T/last.err" || { echo "bench: $name failed:"; tail -5 "$T/last.err"; exit 1; }
	t1=$(now)
	echo "$t1 - $t0" | bc >>"$T/times.$name"
	printf '  %-7s %6.2f s  (load %s)\n' "$name" "$(echo "$t1 - $t0" | bc)" \
		"$(cut -d' ' -f1-3 /proc/loadavg)"
}
median() { sort -n "$1" | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }

registry_start plain base >"$T/registry.log" 2>&1 || { cat "$T/registry.log"; exit 1; }
BREG=$REGISTRY
base=$(fixture_base_layout) &&
	pinion --progress quiet copy "oci:$base:library/python:3.11-slim" "$BREG/library/python:3.11-slim" >/dev/null || exit 1
MIRROR="--registry-mirror docker.io=$BREG --registry-mirror r8.im=$BREG"
cp -r examples/hello "$T/m" && rm -rf "$T/m/.pinion" && mkdir -p "$T/m/weights" &&
	head -c $((MIB << 20)) /dev/urandom >"$T/m/weights/model.bin" || exit 1

# pb CACHE ARGS...: build the model with its own cache directory
pb() {
	(cd "$T/m" && PINION_CACHE_DIR="$T/$1" "$PINION" build $MIRROR --separate-weights \
		--use-cog-base-image=false --progress quiet "${@:2}")
}
# skopeo's image: the same model built into a layout (its own cache)
pb laycache --output "oci:$T/lay:w" >/dev/null || exit 1
# pinion's warm cache: one streamed push to a throwaway registry
registry_start plain warm >/dev/null || exit 1
pb cache --push -t "$REGISTRY/m:warm" >/dev/null || exit 1
registry_stop warm

echo "build --push of a model with $MIB MiB of weights against skopeo copy of its layout" \
	"($(nproc) cores, $(date -u +%F))"
for i in $(seq 1 "$RUNS"); do
	registry_start plain "pin$i" >/dev/null; PREG=$REGISTRY
	registry_start plain "sko$i" >/dev/null; SREG=$REGISTRY
	pinion --progress quiet copy "oci:$base:library/python:3.11-slim" "$PREG/m:base" >/dev/null &&
		pinion --progress quiet copy "oci:$base:library/python:3.11-slim" "$SREG/m:base" >/dev/null || exit 1
	sync
	if [ $((i % 2)) = 1 ]; then
		timed pinion pb cache --push -t "$PREG/m:v1"
		timed skopeo skopeo copy -q --preserve-digests --dest-tls-verify=false "oci:$T/lay:w" "docker://$SREG/m:v1"
	else
		timed skopeo skopeo copy -q --preserve-digests --dest-tls-verify=false "oci:$T/lay:w" "docker://$SREG/m:v1"
		timed pinion pb cache --push -t "$PREG/m:v1"
	fi
	# the same layers either way (the build is reproducible)
	a=$(skopeo inspect --raw --tls-verify=false "docker://$PREG/m:v1" | jq -c '[.layers[].digest]')
	b=$(skopeo inspect --raw --tls-verify=false "docker://$SREG/m:v1" | jq -c '[.layers[].digest]')
	[ "$a" = "$b" ] || echo "  note: the layers differ ($a, $b)"
	registry_stop "pin$i"; registry_stop "sko$i"
done
pp=$(median "$T/times.pinion"); sp=$(median "$T/times.skopeo")
printf 'push %d MiB of weights  pinion build --push %.2f s  skopeo copy %.2f s  ratio %.2f\n' \
	"$MIB" "$pp" "$sp" "$(echo "$pp / $sp" | bc -l)"
echo "(median of $RUNS runs, local docker-registry on 127.0.0.1, plain HTTP, base layers in the registry)"
bench_row "build --push, $MIB MiB weights" "$pp" "skopeo copy of the layout" "$sp"
_run_file_cleanups
rm -rf "$T"
