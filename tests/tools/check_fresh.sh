#!/bin/bash
# tests/tools/check_fresh.sh - run by `make check-fresh` (as root): proves the
# README's two commands on a fresh Debian 12 machine.
#  1. a Debian 12 root holding only build-essential, git, curl and
#     ca-certificates (mmdebstrap minbase; the tarball is cached in
#     $PINION_TEST_CACHE keyed by its recipe);
#  2. `git archive HEAD` of this checkout at /root/pinion in it (committed work
#     only), the checkout's ../shared (else /work/shared) at /root/shared;
#  3. in new mount and pid namespaces (the host's network, so apt reaches
#     Debian's mirror): /proc, /dev, /sys and resolv.conf bound in, tmpfs /tmp
#     and /run, then pivot_root into it (not chroot: user namespaces must work);
#  4. as root, with a clean environment (no LANG/LC_ALL), `make demo` then
#     `make test` in /root/pinion.
# It passes when the demo prints its prediction and the test summary says
# "0 failed"; it prints the wall times of both.  Everything it starts dies
# with its pid namespace; its root is removed at the end.
# Env: PINION_FRESH_KEEP=1 keeps the root (path printed) for debugging;
# PINION_FRESH_DIR (where roots are made, default /var/tmp);
# PINION_FRESH_LOG (full log, default build/check-fresh.log);
# PINION_FRESH_TESTS (passed to make test as PINION_TESTS, for a quick run);
# PINION_TEST_JOBS (passed to make test; unset, tests/run.sh picks its lanes).
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
[ "$(id -u)" -eq 0 ] || { echo "check-fresh: needs root (mmdebstrap, namespaces, pivot_root)" >&2; exit 2; }
for c in mmdebstrap unshare git tar; do
	command -v "$c" >/dev/null || { echo "check-fresh: '$c' is missing: run \`make deps\`" >&2; exit 1; }
done
export PINION_TEST_CACHE=${PINION_TEST_CACHE:-/var/cache/pinion-test}
. "$src/tests/tools/fixtures.sh" # fixture_mirror
log=${PINION_FRESH_LOG:-$src/build/check-fresh.log}
mkdir -p "$(dirname "$log")" "$PINION_TEST_CACHE"
: >"$log"
say() { echo "check-fresh: $*" | tee -a "$log"; }

# 1. the base root, cached by recipe
recipe="mmdebstrap v1 bookworm minbase include=build-essential,git,curl,ca-certificates"
key=$(printf '%s' "$recipe" | sha256sum | cut -c1-16)
base="$PINION_TEST_CACHE/fresh-debian12-$key.tar"
if [ ! -s "$base" ]; then
	(
		exec 9>"$PINION_TEST_CACHE/.lock-fresh"
		flock 9
		[ -s "$base" ] && exit 0
		say "building the fresh Debian 12 root ($recipe)"
		tmp="$base.tmp.$$"
		mmdebstrap --quiet --format=tar --variant=minbase \
			--include=build-essential,git,curl,ca-certificates \
			--customize-hook='rm -rf "$1"/var/cache/apt/*.bin "$1"/var/lib/apt/lists/*' \
			bookworm "$tmp" "$(fixture_mirror)" >>"$log" 2>&1 || { rm -f "$tmp"; exit 1; }
		mv "$tmp" "$base"
	) || { say "mmdebstrap failed (log: $log)"; exit 1; }
fi

# 2. the root with the checkout in it
parent=${PINION_FRESH_DIR:-/var/tmp}
R=$(mktemp -d "$parent/pinion-fresh.XXXXXX")
child=""
cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	# the namespace's pid 1 takes every process in it along when it dies
	if [ -n "$child" ]; then
		kill -KILL "$child" 2>/dev/null || true
		wait "$child" 2>/dev/null || true
	fi
	if [ -d "$R/root/pinion/build/test-logs" ]; then
		rm -rf "$src/build/check-fresh-logs"
		cp -r "$R/root/pinion/build/test-logs" "$src/build/check-fresh-logs" 2>/dev/null || true
	fi
	if [ "${PINION_FRESH_KEEP:-0}" = 1 ]; then
		say "kept the root: $R"
	else
		say "removing the root $R (a minute or so)"
		rm -rf --one-file-system "$R"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
chmod 755 "$R"
tar -C "$R" --numeric-owner -xpf "$base"
mkdir -p "$R/root/pinion"
git -C "$src" archive HEAD | tar -C "$R/root/pinion" -x
[ -z "$(git -C "$src" status --porcelain --untracked-files=no)" ] ||
	say "note: uncommitted changes are not in the test (it uses HEAD, $(git -C "$src" rev-parse --short HEAD))"
shared=""
for d in "$src/../shared" /work/shared; do [ -d "$d" ] && { shared=$d; break; }; done
if [ -n "$shared" ]; then cp -rL "$shared" "$R/root/shared"; else say "note: no ../shared to copy"; fi
# what any installed machine has and an image tarball has not
[ -s "$R/etc/hosts" ] || printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n' >"$R/etc/hosts"
[ -s "$R/etc/hostname" ] || echo pinion-fresh >"$R/etc/hostname"
rm -f "$R/etc/resolv.conf" && : >"$R/etc/resolv.conf"

# 3.-4. inside: demo, then test, each timed
cat >"$R/root/check-fresh-inner.sh" <<EOF
#!/bin/bash
cd /root/pinion
s=\$(date +%s)
make demo >/root/demo.out 2>&1; rc=\$?
echo "demo_rc=\$rc demo_secs=\$((\$(date +%s) - s))" >/root/times
[ \$rc -eq 0 ] || exit \$rc
s=\$(date +%s)
make test ${PINION_FRESH_TESTS:+PINION_TESTS="$PINION_FRESH_TESTS"} ${PINION_TEST_JOBS:+PINION_TEST_JOBS="$PINION_TEST_JOBS"} >/root/test.out 2>&1; rc=\$?
echo "test_rc=\$rc test_secs=\$((\$(date +%s) - s))" >>/root/times
exit \$rc
EOF
chmod 755 "$R/root/check-fresh-inner.sh"

say "root $R (HEAD $(git -C "$src" rev-parse --short HEAD)); running make demo, then make test (log: $log)"
# tail the two outputs into the log and the terminal while they run
touch "$R/root/demo.out" "$R/root/test.out"
unshare --mount --pid --fork --kill-child --propagation private -- /bin/sh -ec '
	R=$1
	mount --bind "$R" "$R"
	mount -t proc proc "$R/proc"
	mount --rbind /dev "$R/dev"
	mount --rbind /sys "$R/sys"
	mount -t tmpfs -o mode=1777 tmpfs "$R/tmp"
	mount -t tmpfs -o mode=755 tmpfs "$R/run"
	mkdir -p "$R/run/lock" && chmod 1777 "$R/run/lock"
	mount --bind /etc/resolv.conf "$R/etc/resolv.conf"
	cd "$R"
	mkdir -p .oldroot
	pivot_root . .oldroot
	umount -l /.oldroot
	rmdir /.oldroot
	cd /
	exec env -i HOME=/root USER=root LOGNAME=root SHELL=/bin/bash TERM=dumb \
		PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
		/bin/bash /root/check-fresh-inner.sh
' check-fresh "$R" &
child=$!
# (tail ends by itself when the namespace's first process is gone)
tail -q -n +1 -F --pid="$child" "$R/root/demo.out" "$R/root/test.out" 2>/dev/null | tee -a "$log" &
tailpid=$!
rc=0
wait "$child" || rc=$?
child=""
wait "$tailpid" 2>/dev/null || true

demo_secs=$(sed -n 's/.*demo_secs=\([0-9]*\).*/\1/p' "$R/root/times" 2>/dev/null)
test_secs=$(sed -n 's/.*test_secs=\([0-9]*\).*/\1/p' "$R/root/times" 2>/dev/null)
ok=1
grep -q '^prediction: ' "$R/root/demo.out" || { ok=0; say "FAIL: make demo printed no prediction"; }
summary=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$R/root/test.out" | tail -1 || true)
case "$summary" in *" 0 failed"*) ;; *) ok=0; say "FAIL: make test summary: ${summary:-none}" ;; esac
[ "$rc" -eq 0 ] || { ok=0; say "FAIL: exit status $rc"; }
say "make demo: ${demo_secs:-?}s; make test: ${test_secs:-?}s; $(grep '^prediction: ' "$R/root/demo.out" || true); ${summary:-no summary}"
[ "$ok" -eq 1 ] || { say "logs: $log, $src/build/check-fresh-logs"; exit 1; }
say "passed"
