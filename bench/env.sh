# bench/env.sh - sourced by the bench scripts that do not use the e2e
# harness: $root (the checkout), PINION_BUILD made absolute, PINION, PYTHON
# and the fixture cache.  Sets -eu.
set -eu
root=$(cd "$(dirname "${BASH_SOURCE[0]:-$0}")/.." && pwd)
export PINION_BUILD=${PINION_BUILD:-build}
case "$PINION_BUILD" in /*) ;; *) PINION_BUILD="$root/$PINION_BUILD" ;; esac
PINION="$PINION_BUILD/pinion"
PYTHON=${PYTHON:-/usr/bin/python3}
export PINION_TEST_CACHE=${PINION_TEST_CACHE:-/var/cache/pinion-test}

# bench_setup: what the scripts that build models set up first: $T (BENCH_DIR,
# kept, or a new temp dir, removed at exit), the part of tests/e2e/lib.sh that
# tests/tools/registry.sh uses (at_exit, free_port, wait_port), the fixtures,
# the registry and the pip index helpers, bench/table.sh and now().  At exit
# the at_exit commands run, newest first, then $T goes.
bench_setup() {
	T=${BENCH_DIR:-$(mktemp -d /tmp/pinion-bench.XXXXXX)}
	mkdir -p "$T"
	_bench_T=$T
	_bench_at_exit=""
	trap _bench_cleanup EXIT
	. "$root/tests/tools/fixtures.sh"
	. "$root/tests/tools/registry.sh"
	. "$root/tests/tools/pip_index.sh"
	. "$root/bench/table.sh"
}
at_exit() { _bench_at_exit="$1; $_bench_at_exit"; }
_bench_cleanup() {
	eval "$_bench_at_exit" >/dev/null 2>&1 || true
	[ -n "${BENCH_DIR:-}" ] || rm -rf "$_bench_T"
}
# bench_ext4 DIR SIZE [MKFS_OPTION...]: an ext4 loop fs of SIZE (truncate's
# units) made with mkfs.ext4's defaults and the options, mounted at DIR; its
# image DIR.img; both gone at exit.  Needs root.
bench_ext4() {
	local d=$1 size=$2
	shift 2
	truncate -s "$size" "$d.img" && mkfs.ext4 -q -F "$@" "$d.img" && mkdir -p "$d" &&
		mount -o loop "$d.img" "$d" || { echo "no ext4 loop mount at $d" >&2; return 1; }
	at_exit "umount -l '$d'; rm -f '$d.img'"
}
free_port() { "$PYTHON" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# wait_port PORT: until something listens there (30 s at the most)
wait_port() {
	for _ in $(seq 300); do (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0; sleep 0.1; done
	return 1
}
now() { date +%s.%N; }
