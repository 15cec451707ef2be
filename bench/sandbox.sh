#!/bin/bash
# bench/sandbox.sh - pinion's sandbox next to buildah on the same base image in
# the same run (as root; buildah with --isolation chroot and overlay storage):
#   1. `true` in a fresh sandbox over the ~300 MB python fixture base:
#      cold (pinion: snapshot unpacked; buildah: `buildah from` + run) and
#      warm (snapshot / container storage already there; median of 5)
#   2. `apt-get install jq` as one step, then the time to turn its changes
#      into a layer: pinion's diff + write (reported by `pinion run --commit`)
#      vs `buildah commit` (diff + layer + image into an OCI layout)
#   bash bench/sandbox.sh        (env: PINION_BUILD, default build)
# Prints one table; every figure is wall-clock seconds from this run.
set -u
. "$(dirname "$0")/../tests/e2e/lib.sh"
at_exit 'true'
[ "$(id -u)" -eq 0 ] || { echo "bench: run as root (buildah comparison)"; exit 1; }
command -v buildah >/dev/null || { echo "bench: buildah not installed"; exit 1; }

now() { date +%s.%N; }
secs() { echo "$2 - $1" | bc; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
# timed CMD...: prints the wall time of CMD (its output to $T/last.*)
timed() {
	local t0 t1
	t0=$(now)
	"$@" >"$T/last.out" 2>"$T/last.err" || { echo "bench: failed: $*" >&2; tail -20 "$T/last.err" >&2; exit 1; }
	t1=$(now)
	secs "$t0" "$t1"
}
STEP='apt-get update -qq && apt-get install -y -qq --no-install-recommends jq >/dev/null && rm -rf /var/lib/apt/lists/*'
BUILDAH="buildah --root $T/bstore --runroot $T/brun --storage-driver overlay"
# buildah wants lowercase layout paths; $T has mixed case
LC=/tmp/pinion-bench-$$
at_exit "rm -f $LC-base; rm -rf $LC-out"

rootfs=$(fixture_rootfs python) || { echo "bench: no python fixture"; exit 1; }
pinion --progress quiet import "$rootfs" "oci:$T/base:py" >/dev/null || exit 1
base_mb=$(du -sm "$rootfs" | cut -f1)
echo "base: python fixture rootfs, ${base_mb} MB unpacked, one gzip layer ($(du -sm "$T/base/blobs" | cut -f1) MB)" >&2

# ---- pinion
export PINION_CACHE_DIR="$T/pcache"
p_cold=$(timed pinion --progress quiet run "oci:$T/base:py" -- true)
p_warm=$(for i in 1 2 3 4 5; do timed pinion --progress quiet run "oci:$T/base:py" -- true; done | median)
p_step=$(timed pinion --progress json run --commit "oci:$T/pout:jq" "oci:$T/base:py" -- sh -c "$STEP")
p_commit=$(grep -o '"commit_seconds":[0-9.]*' "$T/last.err" | cut -d: -f2)
p_run=$(grep -o '"seconds":[0-9.]*' "$T/last.err" | head -1 | cut -d: -f2)
p_size=$(grep -o '"size":[0-9]*' "$T/last.err" | cut -d: -f2)

# ---- buildah (root, chroot isolation, overlay storage)
ln -s "$T/base" "$LC-base"
b_from=$(timed $BUILDAH from --name bench-true "oci:$LC-base:py")
b_run1=$(timed $BUILDAH run --isolation chroot bench-true -- true)
b_cold=$(echo "$b_from + $b_run1" | bc)
b_warm=$(for i in 1 2 3 4 5; do timed $BUILDAH run --isolation chroot bench-true -- true; done | median)
timed $BUILDAH from --name bench-jq "oci:$LC-base:py" >/dev/null
b_run=$(timed $BUILDAH run --isolation chroot bench-jq -- sh -c "$STEP")
b_commit=$(timed $BUILDAH commit --disable-compression=false bench-jq "oci:$LC-out:jq")
b_layer=$(jq -r '.manifests[0].digest' "$LC-out/index.json" | cut -d: -f2)
b_size=$(jq -r '.layers[-1].size' "$LC-out/blobs/sha256/$b_layer")
$BUILDAH rm -a >/dev/null 2>&1
$BUILDAH rmi -a -f >/dev/null 2>&1

printf '%-44s %10s %10s\n' "seconds (wall, this run)" pinion buildah
printf '%-44s %10.2f %10.2f\n' "true, cold (unpack base + run)" "$p_cold" "$b_cold"
printf '%-44s %10.2f %10.2f\n' "true, warm (median of 5)" "$p_warm" "$b_warm"
printf '%-44s %10.2f %10.2f\n' "apt-get install jq (run only)" "$p_run" "$b_run"
printf '%-44s %10.2f %10.2f\n' "diff + write layer (buildah: commit)" "$p_commit" "$b_commit"
printf '%-44s %10s %10s\n' "layer size, bytes (gzip)" "$p_size" "$b_size"
echo "(pinion: whole apt step incl. sandbox setup and commit $p_step s; buildah from: $b_from s)"
$BUILDAH rm -a >/dev/null 2>&1
test_done >/dev/null
