# tests/e2e/lib.sh - the end-to-end harness (after git's t/test-lib.sh).
# Source it from tests/e2e/t_<area>.sh, then:
#   test_expect_success 'title' '
#       pinion import rootfs oci:$T/l:v1 &&
#       test_cmp expected actual
#   '
#   test_done
# Each case runs in a subshell under `set -e`-like && chains; it prints TAP.
# test_when_finished 'cmd' registers cleanup for the current case.
# $T is a fresh directory for the whole file, removed at the end; each case
# runs with $T as its working directory (so scratch files never land in the tree).
set -u
TEST_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
export PINION_BUILD=${PINION_BUILD:-build}
case "$PINION_BUILD" in /*) ;; *) PINION_BUILD="$TEST_ROOT/$PINION_BUILD" ;; esac
export PINION="$PINION_BUILD/pinion"
export PATH="$PINION_BUILD:$TEST_ROOT/tests/tools:$PATH"
export PYTHON=${PYTHON:-/usr/bin/python3}
# fixtures (base images, wheels) are cached between runs here, keyed by recipe
export PINION_TEST_CACHE=${PINION_TEST_CACHE:-/var/cache/pinion-test}
mkdir -p "$PINION_TEST_CACHE" && chmod 755 "$PINION_TEST_CACHE"
T=$(mktemp -d /tmp/pinion-e2e.XXXXXX)
chmod 755 "$T"
export T
# The rootless cases run $PINION as other users (run_as), who cannot reach a
# checkout in a private home (/root is 0700, and the README's checkout is in
# it): as root, every file runs a copy in $T, which is world-traversable.
if [ "$(id -u)" -eq 0 ] && [ -f "$PINION" ]; then
	mkdir -p "$T/.bin" && cp "$PINION" "$T/.bin/pinion" && chmod 755 "$T/.bin" "$T/.bin/pinion" &&
		PINION="$T/.bin/pinion"
fi
# pinion's own cache for this test file (snapshots, layer cache)
export PINION_CACHE_DIR="$T/.pinion-cache"
test_count=0; test_failed=0
_finish_cmds=""; _file_cleanup=""

# (a function: to background pinion and signal it, use "$PINION" itself)
pinion() { "$PINION" "$@"; }

# Both work from inside a case body too: the body runs in a subshell, so what
# it registers goes through files in $T that the parent shell reads.
test_when_finished() {
	if [ "${BASH_SUBSHELL:-0}" -gt 0 ]; then printf '%s\n' "$1" >>"$T/.finish.$test_count"
	else _finish_cmds="$1; $_finish_cmds"; fi
}
# at_exit 'cmd': cleanup for the whole file (services, users)
at_exit() {
	if [ "${BASH_SUBSHELL:-0}" -gt 0 ]; then printf '%s\n' "$1" >>"$T/.at_exit"
	else _file_cleanup="$1; $_file_cleanup"; fi
}
_run_file_cleanups() {
	[ -n "$_file_cleanup" ] && eval "$_file_cleanup" >/dev/null 2>&1
	# registered inside bodies: newest first
	[ -f "$T/.at_exit" ] && tac "$T/.at_exit" | while IFS= read -r c; do eval "$c"; done >/dev/null 2>&1
	_file_cleanup=""; rm -f "$T/.at_exit"
}

say_tap() { echo "$@"; }

test_expect_success() {
	local title=$1 body=$2 rc
	test_count=$((test_count + 1))
	_finish_cmds=""
	echo "# --- $title"
	( cd "$T" && eval "$body" ) </dev/null 2>&1 | sed 's/^/#   /'
	rc=${PIPESTATUS[0]}
	[ -n "$_finish_cmds" ] && eval "$_finish_cmds" >/dev/null 2>&1
	if [ -f "$T/.finish.$test_count" ]; then
		tac "$T/.finish.$test_count" | while IFS= read -r c; do eval "$c"; done >/dev/null 2>&1
		rm -f "$T/.finish.$test_count"
	fi
	if [ "$rc" -eq 0 ]; then
		say_tap "ok $test_count - $title"
	else
		test_failed=$((test_failed + 1))
		say_tap "not ok $test_count - $title"
	fi
}
# the body must fail (non-zero), e.g. for refusals
test_expect_failure_status() {
	local want=$1; shift
	"$@"; local got=$?
	if [ "$got" -ne "$want" ]; then echo "expected exit status $want, got $got"; return 1; fi
}
test_skip() {
	test_count=$((test_count + 1))
	say_tap "ok $test_count - $1 # SKIP ${2:-}"
}
test_cmp() {
	if ! diff -u "$1" "$2"; then echo "test_cmp: $1 and $2 differ"; return 1; fi
}
# test_grep PATTERN FILE: like grep -q but shows the file when it fails
test_grep() {
	if ! grep -q -- "$1" "$2"; then echo "test_grep: '$1' not in $2:"; sed 's/^/| /' "$2" | head -40; return 1; fi
}
test_equal() {
	if [ "$1" != "$2" ]; then printf 'expected: %s\nactual:   %s\n' "$2" "$1"; return 1; fi
}
test_done() {
	_run_file_cleanups
	rm -rf "$T" 2>/dev/null || { chmod -R u+rwX "$T" 2>/dev/null; rm -rf "$T"; }
	echo "1..$test_count"
	[ "$test_failed" -eq 0 ]
	exit $?
}
trap '_run_file_cleanups; rm -rf "$T" 2>/dev/null; exit 130' INT TERM

# free_port: a free TCP port on 127.0.0.1
free_port() { "$PYTHON" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# wait_port PORT [SECONDS]: until something listens there
wait_port() {
	local i=0 max=$(( ${2:-20} * 10 ))
	while ! (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null; do
		i=$((i + 1)); [ $i -ge $max ] && { echo "nothing listens on port $1"; return 1; }
		sleep 0.1
	done
}

# pq ARGS: pinion with quiet progress (a case that wants events asks for them)
pq() { pinion --progress quiet "$@"; }
# one_error_line FILE: exactly one line, the error ("pinion: ...")
one_error_line() {
	local n
	n=$(wc -l <"$1")
	if [ "$n" -ne 1 ] || ! grep -q '^pinion: ' "$1"; then
		echo "expected one 'pinion: ...' line, got $n:"; cat "$1"; return 1
	fi
}
# layout_digest DIR NAME: the manifest digest index.json names NAME by
layout_digest() {
	jq -r --arg t "$2" '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == $t) | .digest' \
		"$1/index.json"
}

. "$TEST_ROOT/tests/tools/fixtures.sh"
. "$TEST_ROOT/tests/tools/users.sh"

# local_servers_setup WHAT [BODY]: what builds that pull their base and a
# wheel from local servers start with (tests/tools/registry.sh and
# pip_index.sh sourced): a case "setup: registry, base image, local index,
# WHAT" that starts a plain registry holding the buildah-written base as
# library/python:3.11-slim and puts pinion-demo-greeting 1.0.0 in the index
# at $T/index, then runs BODY; after it $REGISTRY and $MIRROR (docker.io and
# r8.im to that registry) are set and the index serves (stopped at exit)
local_servers_setup() {
	registry_start plain >"$T/registry.log" 2>&1 || echo "# registry did not start: $(cat "$T/registry.log")"
	test_expect_success "setup: registry, base image, local index, $1" '
		base=$(fixture_base_layout) &&
		pinion copy "oci:$base:library/python:3.11-slim" "$REGISTRY/library/python:3.11-slim" >/dev/null &&
		echo "$REGISTRY" >"$T/registry" &&
		mkdir -p "$T/index/files" &&
		wheel_make pinion-demo-greeting 1.0.0 "$T/index/files" >/dev/null &&
		'"${2:-true}"'
	'
	REGISTRY=$(cat "$T/registry" 2>/dev/null || echo 127.0.0.1:1)
	MIRROR="--registry-mirror docker.io=$REGISTRY --registry-mirror r8.im=$REGISTRY"
	pip_index_start "$T/index" && at_exit pip_index_stop
}
