#!/bin/bash
# bench/layer_write.sh - layer write throughput: a 1 GiB incompressible file
# written as a one-layer image with each compression (pinion import), next to
# `openssl dgst -sha256` of the same file in the same run, with peak memory
# (/usr/bin/time -v).  Usage: bench/layer_write.sh [SIZE_MIB] (default 1024).
# Env: PINION (binary, default build/pinion), BENCH_DIR (scratch, default /tmp).
set -eu
cd "$(dirname "$0")/.."
PINION=${PINION:-build/pinion}
MIB=${1:-1024}
W=$(mktemp -d "${BENCH_DIR:-/tmp}/pinion-bench.XXXXXX")
trap 'rm -rf "$W"' EXIT
mkdir -p "$W/tree"
head -c "$((MIB << 20))" /dev/urandom >"$W/tree/weights.bin"
sync

# run NAME CMD...: prints NAME, seconds, MiB/s, peak RSS
run() {
	local name=$1; shift
	/usr/bin/time -v -o "$W/time" "$@" >/dev/null
	awk -v name="$name" -v mib="$MIB" '
		/Elapsed \(wall clock\)/ { n = split($NF, p, ":"); s = (n == 3) ? p[1]*3600 + p[2]*60 + p[3] : p[1]*60 + p[2] }
		/Maximum resident set size/ { rss = $NF }
		END { printf "%-22s %8.2f s %9.1f MiB/s %8.1f MiB peak RSS\n", name, s, mib / s, rss / 1024 }' "$W/time"
}

echo "layer write of a ${MIB} MiB incompressible file ($(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg))"
run "openssl dgst -sha256" openssl dgst -sha256 "$W/tree/weights.bin"
# for scale: the disk (copy with fsync) and the zstd CLI on the same file
run "dd copy + fsync" dd if="$W/tree/weights.bin" of="$W/copy" bs=1M conv=fsync status=none
rm -f "$W/copy"
run "zstd -3 -T0 CLI" zstd -q -3 -T0 -c "$W/tree/weights.bin"
# the fair comparisons: each CLI writing its output to the disk with fsync,
# as pinion does for a blob
run "zstd CLI to file+sync" sh -c 'zstd -q -3 -T0 -c "$1" >"$2" && sync "$2"' - "$W/tree/weights.bin" "$W/out"
rm -f "$W/out"
run "gzip -6 CLI file+sync" sh -c 'gzip -6 -c "$1" >"$2" && sync "$2"' - "$W/tree/weights.bin" "$W/out"
rm -f "$W/out"
for c in none zstd gzip; do
	run "pinion layer $c" "$PINION" import --compression "$c" "$W/tree" "oci:$W/layout:$c"
done
# the same with both sha256s in the main thread (before the hash thread)
run "zstd, hash in line" env PINION_HASH_THREAD=0 "$PINION" import --compression zstd "$W/tree" "oci:$W/layout:zil"
