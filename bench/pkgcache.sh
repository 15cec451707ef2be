#!/bin/bash
# bench/pkgcache.sh [RATE_MB_S...] - what the package caches save: a second
# model with the same requirements as a first, built with the warm pip and
# apt caches and with --no-package-cache, its pip step's time taken from
# --progress json (bench/breakdown.py).  Default rates 10 25 50 (MB/s).
#
# The requirements are wheels of realistic sizes (bench/make_wheels.py,
# cached by recipe under $PINION_TEST_CACHE): a 150 MB one standing for torch
# (its CPU wheel is ~190 MB), 18 MB for numpy, 4 MB for pillow, two of 1 MB,
# about 530 MB installed with 3200 Python modules; and jq from Debian's
# mirror.  A local index serves them at RATE bytes/s, as a remote index
# would (the rate file changes it between builds on the same URL: pip's
# cache is keyed by URL).  Per rate: one second model with the caches warm,
# one with --no-package-cache; the first model (cold) at the first rate.
# Then pip on its own, in a venv of the host's Python, the same wheels:
# empty cache / warm cache / warm cache with --no-compile (where the time of
# a cached install goes).
# Env: PINION_BUILD, BENCH_DIR (kept), BENCH_WHEELS (the recipe), BENCH_FS
# (host: build on the disk BENCH_DIR is on, not on a journaled ext4 loop fs).
. "$(dirname "$0")/env.sh"
RATES=${*:-10 25 50}
RECIPE=${BENCH_WHEELS:-bench-torchlike:150:2500,bench-numpylike:18:500,bench-pillowlike:4:120,bench-requestslike:1:60,bench-tqdmlike:1:20}
bench_setup
# the builds' disk: a journaled ext4 loop fs made here, as users' disks are
# (BENCH_FS=host, or not root: the disk $T is on).  On this VM's root disk, an
# ext4 without a journal, each file made within minutes of a large delete
# scans past the freed inodes (bench/unpack.sh shout says more), which moved
# pip's install phase from 7 to 12 s between builds of one run.
if [ "${BENCH_FS:-ext4}" != host ] && [ "$(id -u)" = 0 ]; then
	bench_ext4 "$T/fs" 24G && T=$T/fs
fi
calc() { "$PYTHON" -c "print(f'{$1:.2f}')"; }

echo "bench: setting up (wheels, index, registry, base)" >&2
key=$(printf '%s\n' "$RECIPE" | cat "$root/bench/make_wheels.py" - | sha256sum | cut -c1-16)
wheels="$PINION_TEST_CACHE/bench-wheels-$key"
if [ ! -d "$wheels" ]; then
	rm -rf "$wheels.tmp.$$"
	"$PYTHON" "$root/bench/make_wheels.py" "$RECIPE" "$wheels.tmp.$$" >/dev/null
	mv "$wheels.tmp.$$" "$wheels" 2>/dev/null || rm -rf "$wheels.tmp.$$"
fi
mkdir -p "$T/index/files"
cp -l "$wheels"/*.whl "$T/index/files/" 2>/dev/null || cp "$wheels"/*.whl "$T/index/files/"
n_wheels=$(ls "$T/index/files" | wc -l)
mb=$(du -cm "$T"/index/files/*.whl | tail -1 | cut -f1)
echo 0 >"$T/rate"
PIP_INDEX_RATE_FILE="$T/rate" pip_index_start "$T/index"
at_exit pip_index_stop
export PIP_TRUSTED_HOST="127.0.0.1:$PIP_INDEX_PORT" PIP_RETRIES=0
reqs=$(cd "$T/index/files" && ls | sed 's/-1\.0-.*/==1.0/; s/_/-/g')
printf '%s\n' $reqs >"$T/requirements.txt"
registry_start plain >/dev/null
rootfs=$(fixture_rootfs python)
SOURCE_DATE_EPOCH=0 "$PINION" import --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
	--env LANG=C.UTF-8 --cmd python3 "$rootfs" "oci:$T/base:library/python:3.11-slim" >/dev/null
"$PINION" copy "oci:$T/base:library/python:3.11-slim" "$REGISTRY/library/python:3.11-slim" >/dev/null 2>&1

# model NAME: the same requirements, an ENV of its own before the apt step
# (nothing of it is in the step cache), another predict.py
model() {
	mkdir -p "$T/$1"
	{
		printf 'build:\n  python_version: "3.11"\n  system_packages:\n    - jq\n  python_packages:\n'
		printf '    - "%s"\n' $reqs
		printf 'environment:\n  - BENCH_MODEL=%s\npredict: "predict.py:Predictor"\n' "$1"
	} >"$T/$1/cog.yaml"
	printf 'from cog import BasePredictor\n\n\nclass Predictor(BasePredictor):\n    def predict(self, s: str) -> str:\n        return "%s " + s\n' "$1" >"$T/$1/predict.py"
}
# build NAME [OPTION]: its events stamped into $T/NAME.events; sets total, pip
gets() { grep -c "^GET /files/.* 200$" "$T/index/.access.log" 2>/dev/null || true; }
build() {
	model "$1"
	echo "bench: build $1 ${2:-} (load $(cut -d' ' -f1 /proc/loadavg))" >&2
	"$PYTHON" "$root/bench/breakdown.py" run "$T/$1.events" -- sh -c \
		'cd "$1" && PINION_CACHE_DIR="$2" "$3" build --registry-mirror "docker.io=$4" \
		--output "oci:$1.out:m" --progress json $5' - "$T/$1" "$T/cache" "$PINION" "$REGISTRY" "${2:-}" ||
		{ grep error "$T/$1.events" | tail -5 >&2; exit 1; }
	"$PYTHON" "$root/bench/breakdown.py" parts "$T/$1.events" >"$T/$1.parts"
	total=$(sed -n 's/^total\t//p' "$T/$1.parts")
	pip=$(sed -n 's/^RUN pip\t//p' "$T/$1.parts")
	apt=$(sed -n 's/^RUN apt\t//p' "$T/$1.parts")
	"$PYTHON" "$root/bench/breakdown.py" phases "$T/$1.events" pip >"$T/$1.phases"
	printf '%-4s %-7s %-20s %7s %7s %7s %7s %7s\n' "$1" "$(($(cat "$T/rate") / 1000000))MB/s" \
		"${2:-package cache}" $pip $(cut -f2 "$T/$1.phases") >>"$T/phases.txt"
}
printf '%-33s %7s %7s %7s %7s %7s\n' "pip step of" "total" "start" "fetch" "install" "layer" >"$T/phases.txt"

first=${RATES%% *}
echo $((first * 1000000)) >"$T/rate"
build a
echo "first model (empty caches, $first MB/s): total $total s, pip $pip s, apt $apt s" >&2
bench_row "1st model, pip step, empty caches, $first MB/s" "$pip" "the whole build" "$total"
i=0
for r in $RATES; do
	echo $((r * 1000000)) >"$T/rate"
	i=$((i + 1))
	g0=$(gets)
	build "b$i"
	w_total=$total w_pip=$pip w_apt=$apt
	[ "$(gets)" = "$g0" ] || { echo "bench: the second model downloaded a wheel with the caches warm" >&2; exit 1; }
	build "c$i" --no-package-cache
	[ $(($(gets) - g0)) -ge "$n_wheels" ] || { echo "bench: --no-package-cache downloaded no wheel" >&2; exit 1; }
	echo "$r MB/s: pip step $w_pip s warm / $pip s empty; apt $w_apt / $apt; whole $w_total / $total" >&2
	bench_row "2nd model, pip step, warm caches, $r MB/s" "$w_pip" "pinion --no-package-cache" "$pip"
	bench_row "2nd model, whole build, warm caches, $r MB/s" "$w_total" "pinion --no-package-cache" "$total"
done

# pip on its own (host venv): where the time of an install goes
echo "bench: pip on its own ($mb MB of wheels)" >&2
"$PYTHON" -m venv "$T/venv"
vpip() { # vpip DIR OPTION...: seconds of a pip install of the requirements into root DIR
	local d=$1 t0; shift
	t0=$(now)
	"$T/venv/bin/pip" install -q --disable-pip-version-check --index-url "$PIP_INDEX_URL" \
		--root "$T/$d" -r "$T/requirements.txt" "$@" >/dev/null
	calc "$(now) - $t0"
}
t0=$(now); "$T/venv/bin/pip" --version >/dev/null; p_start=$(calc "$(now) - $t0")
p_empty=$(vpip r0 --cache-dir "$T/pipcache")
p_warm=$(vpip r1 --cache-dir "$T/pipcache")
p_nocomp=$(vpip r2 --cache-dir "$T/pipcache" --no-compile)
inst=$(du -sm "$T/r1" | cut -f1)
n_pyc=$(find "$T/r1" -name "*.pyc" | wc -l)
echo 0 >"$T/rate"
p_local=$(vpip r3 --cache-dir "$T/pipcache2")
printf '%s\n' "pip alone, $mb MB of wheels ($inst MB, $n_pyc .pyc installed), host venv, last rate $r MB/s:" \
	"  start-up (pip --version) $p_start s" "  empty cache $p_empty s" "  warm cache $p_warm s" \
	"  warm cache, --no-compile $p_nocomp s" "  empty cache, index unthrottled $p_local s" >&2
bench_row "pip alone: warm cache, $r MB/s" "$p_warm" "pip, empty cache" "$p_empty"
bench_row "pip alone: warm cache" "$p_warm" "the same, --no-compile" "$p_nocomp"
bench_row "pip alone: empty cache, unthrottled" "$p_local" "pip, empty cache, $r MB/s" "$p_empty"
echo "the pip step's phases, s (bench/breakdown.py phases: start = sandbox and pip's start-up," \
	"fetch = downloads or cache reads, install = unzip and .pyc, layer = capture, gzip, commit):" >&2
cat "$T/phases.txt" >&2
