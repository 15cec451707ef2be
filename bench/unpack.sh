#!/bin/bash
# bench/unpack.sh - cold unpack of the tests' python base (a Debian bookworm
# rootfs with python3, ~250 MB, fixture_rootfs python) against umoci unpack
# and tar -x of the same layers, in the same run:
#   1 layer : the base as tests import it (one gzip layer);
#   4 layers: the same files split into 4 gzip layers (usr/lib, usr/share,
#             the rest of usr, everything else), where pinion unpacks the
#             layers in parallel (PINION_UNPACK_JOBS, default the cores).
# pinion's figures: `pinion run IMAGE true` with an empty cache dir (snapshot
# unpack + one sandbox start), the same with a warm cache (the sandbox alone:
# a snapshot is never unpacked twice), and `pinion unpack` (all layers onto
# one directory, as umoci and tar do).  Page cache warm (the blobs were just
# written); each figure is the best of REPEAT runs (default 3): wall seconds,
# and the CPU seconds (user + sys, children included) of that run, which on a
# loaded machine say more than the wall time.  Where the cold snapshot's time
# goes: the same with the inflate thread off (PINION_UNPACK_THREAD=0) and
# with zlib instead of igzip (PINION_INFLATE=zlib); PINION_BEFORE=BINARY adds
# a row for another pinion (e.g. one built from main) in the same run.
# Usage: bench/unpack.sh (env: PINION, PINION_BEFORE, REPEAT, BENCH_DIR: where
# the trees go, e.g. /dev/shm to leave the disk out).  Needs root for umoci
# unpack without --rootless and for tar to keep owners.
#
# bench/unpack.sh shout [ROUNDS]: issue 13's goal, pinion's own part of a cold
# build of the shout-sized model (Cog's function_predictor fixture: python
# 3.11, a function predictor) on the python base from a loopback registry,
# split by bench/breakdown.py: ROUNDS (default 1) cold builds on each of
#   host          the disk the bench runs on (here: an ext4 without a journal);
#   ext4-journal  an ext4 loop fs made here with mkfs.ext4's defaults (a
#                 journal, as users' disks have);
#   ext4-nojournal the same made with -O ^has_journal (this VM's root disk,
#                 but with no history),
# the cache dir, model and output on it, with PINION_BEFORE alternating with
# PINION in each round.  Each build gets a new directory and nothing is
# deleted until the end: on an ext4 WITHOUT a journal the kernel skips the
# inodes freed in the last 60 s, or 360 s while their inode table block is
# dirty, when it allocates one (fs/ext4/ialloc.c, recently_deleted), so on
# the host disk every file a build creates within minutes of a large delete
# (another bench's cleanup, a test suite's) scans past them: make bench runs
# this first for that reason, and the ext4-nojournal row is the same kind of
# disk without that history.  Adds one row per filesystem to make bench's
# table: the best own part of the rounds, against the goal 2 s.
# Needs root (loop mount).  Env: PINION_BUILD, PINION_BEFORE, BENCH_DIR.
shout_bench() {
	local rounds=${1:-1} fs who bin d ev own base best_host= best_ext4= best_nojournal=
	. bench/env.sh
	bench_setup
	registry_start plain >"$T/registry.log" 2>&1 || { cat "$T/registry.log"; return 1; }
	base=$(fixture_base_layout) &&
		"$PINION" copy "oci:$base:library/python:3.11-slim" "$REGISTRY/library/python:3.11-slim" \
			>/dev/null 2>&1 || return 1
	bench_ext4 "$T/ext4-journal" 8G || return 1
	bench_ext4 "$T/ext4-nojournal" 8G -O ^has_journal || return 1
	echo "shout-sized cold build, pinion's own part ($(nproc) cores, $(date -u +%F)); seconds:"
	printf '%-14s %-8s %7s %7s %7s %6s\n' filesystem binary own unpack total load
	for r in $(seq "$rounds"); do
		for fs in host ext4-journal ext4-nojournal; do
			for who in ${PINION_BEFORE:+before} after; do
				bin=$PINION && [ "$who" = after ] || bin=$PINION_BEFORE
				d="$T/$fs/$r-$who"
				mkdir -p "$d" && cp -r tests/compat/cases/function_predictor "$d/m" && sync
				ev="$T/$fs-$who-$r.events"
				"$PYTHON" bench/breakdown.py run "$ev" -- env PINION_CACHE_DIR="$d/cache" sh -c \
					'cd "$1/m" && "$2" build --registry-mirror "docker.io=$3" --registry-mirror "r8.im=$3" \
					--output "oci:$1/out:shout" --progress json' - "$d" "$bin" "$REGISTRY" ||
					{ grep error "$ev" | tail -5; return 1; }
				"$PYTHON" bench/breakdown.py parts "$ev" >"$ev.parts"
				own=$(sed -n 's/^pinion overhead\t//p' "$ev.parts")
				printf '%-14s %-8s %7s %7s %7s %6s\n' "$fs" "$who" "$own" \
					"$(sed -n 's/^unpack\t//p' "$ev.parts")" "$(sed -n 's/^total\t//p' "$ev.parts")" \
					"$(cut -d' ' -f1 /proc/loadavg)"
				grep -v '^pinion overhead\|^total\|^unpack' "$ev.parts" | tr '\t\n' '= ' | sed 's/^/    /; s/$/\n/'
				[ "$who" = after ] || continue
				case $fs in
				host) best_host=$(printf '%s\n' $best_host "$own" | sort -n | head -1) ;;
				ext4-journal) best_ext4=$(printf '%s\n' $best_ext4 "$own" | sort -n | head -1) ;;
				*) best_nojournal=$(printf '%s\n' $best_nojournal "$own" | sort -n | head -1) ;;
				esac
			done
		done
	done
	bench_row "shout-sized cold, own part, host ext4" "$best_host" "goal (issue 13)" 2
	bench_row "shout-sized cold, own part, ext4+journal" "$best_ext4" "goal (issue 13)" 2
	bench_row "shout-sized cold, own part, ext4, no journal" "$best_nojournal" "goal (issue 13)" 2
}
cd "$(dirname "$0")/.."
if [ "${1:-}" = shout ]; then
	shout_bench "${2:-1}"
	exit
fi
set -eu
export PINION=${PINION:-$(pwd)/build/pinion}
export PINION_TEST_CACHE=${PINION_TEST_CACHE:-/var/cache/pinion-test}
REPEAT=${REPEAT:-3}
. tests/tools/fixtures.sh
W=$(mktemp -d "${BENCH_DIR:-/tmp}/pinion-bench-unpack.XXXXXX")
trap 'rm -rf "$W"' EXIT
rootfs=$(fixture_rootfs python)

# best NAME CLEANUP CMD...: the best wall time of REPEAT runs (CLEANUP before
# each) and the CPU time (user + sys) of that run
best() {
	local name=$1 cleanup=$2 b= cpu= t u s
	shift 2
	for _ in $(seq "$REPEAT"); do
		eval "$cleanup"
		/usr/bin/time -f '%e %U %S' -o "$W/time" "$@" >/dev/null 2>&1 ||
			{ echo "$name: failed" >&2; return 1; }
		read -r t u s <"$W/time"
		if [ -z "$b" ] || [ "$(echo "$t < $b" | bc)" = 1 ]; then
			b=$t
			cpu=$(printf '%.2f s CPU (%.2f user, %.2f sys)' "$(echo "$u + $s" | bc)" "$u" "$s")
		fi
	done
	printf '%-44s %7.2f s  %s  load %s\n' "$name" "$b" "$cpu" "$(cut -d' ' -f1 /proc/loadavg)"
	echo "$b" >"$W/last"
}

# compose OUT_LAYOUT TAG PART_LAYOUT...: one image of the parts' layers, in order
compose() {
	local out=$1 tag=$2 cfg man d s
	shift 2
	mkdir -p "$out/blobs/sha256"
	for p in "$@"; do cp -n "$p"/blobs/sha256/* "$out/blobs/sha256/"; done
	cfg=$(for p in "$@"; do skopeo inspect --config "oci:$p:part"; done |
		jq -cs '.[0] + {rootfs: {type: "layers", diff_ids: [.[].rootfs.diff_ids[]]}, history: [.[].history[]]}')
	printf '%s' "$cfg" >"$W/cfg" && d=$(sha256sum <"$W/cfg" | cut -d' ' -f1) && cp "$W/cfg" "$out/blobs/sha256/$d"
	man=$(for p in "$@"; do skopeo inspect --raw "oci:$p:part"; done |
		jq -cs --arg d "sha256:$d" --argjson s "$(stat -c %s "$W/cfg")" \
		'.[0] + {config: (.[0].config + {digest: $d, size: $s}), layers: [.[].layers[]]}')
	printf '%s' "$man" >"$W/man" && d=$(sha256sum <"$W/man" | cut -d' ' -f1) && cp "$W/man" "$out/blobs/sha256/$d"
	s=$(stat -c %s "$W/man")
	echo '{"imageLayoutVersion":"1.0.0"}' >"$out/oci-layout"
	jq -n --arg d "sha256:$d" --argjson s "$s" --arg t "$tag" '{schemaVersion: 2, manifests: [{
		mediaType: "application/vnd.oci.image.manifest.v1+json", digest: $d, size: $s,
		annotations: {"org.opencontainers.image.ref.name": $t}}]}' >"$out/index.json"
}

echo "setup: importing the python base as 1 and as 4 layers" >&2
SOURCE_DATE_EPOCH=0 "$PINION" import "$rootfs" "oci:$W/one:base" >/dev/null
mkdir -p "$W/root" && tar -xf "$rootfs" -C "$W/root"
tar -cf "$W/p1.tar" -C "$W/root" ./usr/lib
tar -cf "$W/p2.tar" -C "$W/root" ./usr/share
tar -cf "$W/p3.tar" -C "$W/root" --exclude ./usr/lib --exclude ./usr/share ./usr
tar -cf "$W/p4.tar" -C "$W/root" --exclude ./usr .
rm -rf "$W/root"
for i in 1 2 3 4; do
	SOURCE_DATE_EPOCH=0 "$PINION" import "$W/p$i.tar" "oci:$W/p$i:part" >/dev/null
	rm -f "$W/p$i.tar"
done
compose "$W/four" base "$W/p1" "$W/p2" "$W/p3" "$W/p4"
"$PINION" ls "oci:$W/four" | grep -q '^base ' || { echo "composed image not listed" >&2; exit 1; }
sync

echo "unpack of the python base ($(du -sm "$rootfs" | cut -f1) MB rootfs; $(nproc) cores," \
	"load $(cut -d' ' -f1 /proc/loadavg), $(date -u +%F), trees on $(df --output=fstype "$W" | tail -1))"
for img in one four; do
	n=$(skopeo inspect --raw "oci:$W/$img:base" | jq '.layers | length')
	echo "--- $n layer(s), $(skopeo inspect --raw "oci:$W/$img:base" | jq '[.layers[].size] | add / 1048576 | floor') MiB of gzip"
	best "tar -xzf (each layer, in order)" 'rm -rf "$W/t"; mkdir "$W/t"' sh -c '
		for l in $(skopeo inspect --raw "oci:$1:base" | jq -r ".layers[].digest | sub(\"sha256:\"; \"\")"); do
			tar -xzf "$1/blobs/sha256/$l" -C "$2" || exit 1
		done' - "$W/$img" "$W/t"
	peer=$(cat "$W/last")
	best "umoci unpack" 'rm -rf "$W/u"' umoci unpack --image "$W/$img:base" "$W/u"
	umoci=$(cat "$W/last")
	best "pinion unpack" 'rm -rf "$W/p"' "$PINION" unpack "oci:$W/$img:base" "$W/p"
	best "pinion run true, cold (jobs 1)" 'rm -rf "$W/c"' \
		env PINION_CACHE_DIR="$W/c" PINION_UNPACK_JOBS=1 "$PINION" run --network none "oci:$W/$img:base" true
	best "pinion run true, cold (jobs $(nproc))" 'rm -rf "$W/c"' \
		env PINION_CACHE_DIR="$W/c" "$PINION" run --network none "oci:$W/$img:base" true
	cold=$(cat "$W/last")
	best "  the same, inflate in line" 'rm -rf "$W/c"' env PINION_CACHE_DIR="$W/c" \
		PINION_UNPACK_THREAD=0 "$PINION" run --network none "oci:$W/$img:base" true
	best "  the same, zlib for igzip" 'rm -rf "$W/c"' env PINION_CACHE_DIR="$W/c" \
		PINION_INFLATE=zlib "$PINION" run --network none "oci:$W/$img:base" true
	if [ -n "${PINION_BEFORE:-}" ]; then
		best "  the same, PINION_BEFORE" 'rm -rf "$W/c"' \
			env PINION_CACHE_DIR="$W/c" "$PINION_BEFORE" run --network none "oci:$W/$img:base" true
	fi
	best "pinion run true, warm (no unpack)" : \
		env PINION_CACHE_DIR="$W/c" "$PINION" run --network none "oci:$W/$img:base" true
	printf '%-40s %7.2fx tar, %.2fx umoci\n' "pinion cold snapshot vs peers" \
		"$(echo "$cold / $peer" | bc -l)" "$(echo "$cold / $umoci" | bc -l)"
	rm -rf "$W/t" "$W/u" "$W/p" "$W/c"
done
