#!/bin/bash
# t_userns.sh - pinion as root of a user namespace (Kubernetes hostUsers:
# false, rootless podman, `unshare --user --map-root-user`): it maps the ids
# it has, one (single-id mode) or 65536 (through newuidmap); and where user
# namespaces cannot be created, build/predict/run stop before any pull with
# one line naming the cause, exit 1.
. "$(dirname "$0")/lib.sh"
. "$TEST_ROOT/tests/tools/registry.sh"
. "$TEST_ROOT/tests/tools/users.sh"

base_registry_start 'setup: registry with library/python:3.11-slim, users' test_user_setup

# a copy of examples/hello owned by USER, with an optional build.run line
model_for() { # USER DIR [RUN]
	cp -r "$TEST_ROOT/examples/hello" "$2" && rm -rf "$2/.pinion" &&
	if [ -n "${3:-}" ]; then
		printf 'build:\n  python_version: "3.11"\n  run:\n    - "%s"\npredict: "predict.py:Predictor"\n' \
			"$3" >"$2/cog.yaml"
	fi &&
	mkdir -p "$2.cache" && chown -R "$1" "$2" "$2.cache"
}
# files pinion left in a cache besides the embedded wheel it unpacks first
cache_files() { find "$1" -type f -not -path "*/wheels/*" 2>/dev/null | wc -l; }

test_expect_success 'root of `unshare --user --map-root-user` (one id) builds and predicts' '
	model_for pinion-nosub "$T/one" &&
	run_as pinion-nosub env PINION_CACHE_DIR="$T/one.cache" unshare --user --map-root-user \
		sh -c "cat /proc/self/uid_map; cd $T/one && $PINION build $MIRROR --progress plain 2>build.err && $PINION predict -i name=one 2>predict.err" \
		>"$T/one.out" || { tail -n 30 "$T/one/build.err" "$T/one/predict.err"; false; } &&
	test_grep "^ *0 *[0-9]* *1$" "$T/one.out" &&
	test_grep "^hello, one!$" "$T/one.out" &&
	test_equal "$(grep -c "user namespace with one id" "$T/one/build.err")" 1 &&
	test_equal "$(grep -c "user namespace with one id" "$T/one/predict.err")" 1 &&
	! grep -q "map ids\|did not start\|Operation not permitted" "$T/one/build.err" "$T/one/predict.err"
'

# build.run chowns to uid 1000: impossible with one id, so this proves the map
test_expect_success 'root of a user namespace with 65536 ids (newuidmap, --map-auto) maps them all' '
	model_for pinion-sub "$T/many" "install -d -o 1000 -g 1000 /home/app && touch /home/app/x && chown 1000:1000 /home/app/x" &&
	run_as pinion-sub env PINION_CACHE_DIR="$T/many.cache" unshare --user --map-auto --map-root-user \
		sh -c "cat /proc/self/uid_map; cd $T/many && $PINION build $MIRROR --progress plain && $PINION predict -i name=many" \
		>"$T/many.out" 2>"$T/many.err" || { tail -30 "$T/many.err"; false; } &&
	test_grep "^ *1 *[0-9]* *65535$" "$T/many.out" &&
	test_grep "^hello, many!$" "$T/many.out" &&
	! grep -q "one id\|subordinate ids" "$T/many.err" &&
	mkdir -p "$T/many.root" && pinion unpack "oci:$T/many/.pinion/layout:latest" "$T/many.root/r" >/dev/null &&
	test_equal "$(stat -c %u:%g "$T/many.root/r/home/app/x")" 1000:1000
'

test_expect_success 'the same model fails in a one-id namespace: the 65536 case is not vacuous' '
	model_for pinion-nosub "$T/many1" "install -d -o 1000 -g 1000 /home/app" &&
	! run_as pinion-nosub env PINION_CACHE_DIR="$T/many1.cache" unshare --user --map-root-user \
		sh -c "cd $T/many1 && $PINION build $MIRROR --progress plain" >/dev/null 2>"$T/many1.err" &&
	test_grep "run 1" "$T/many1.err"
'

# user.max_user_namespaces is per user namespace: 0 in a fresh one of the test
nouserns() { unshare --user --map-root-user sh -c 'echo 0 >/proc/sys/user/max_user_namespaces && exec "$@"' sh "$@"; }

test_expect_success 'no user namespaces: build fails before any pull, one line, exit 1' '
	model_for root "$T/none" &&
	(cd "$T/none" && PINION_CACHE_DIR="$T/none.cache" nouserns "$PINION" build $MIRROR --progress plain) \
		>"$T/none.out" 2>"$T/none.err"
	test_equal $? 1 &&
	test_equal "$(wc -l <"$T/none.err")" 1 &&
	test_grep "^pinion: user namespaces are unavailable: user.max_user_namespaces is 0 (.*sysctl -w user.max_user_namespaces=" "$T/none.err" &&
	! test -e "$T/none/.pinion" &&
	test_equal "$(cache_files "$T/none.cache")" 0
'

test_expect_success 'no user namespaces: predict and run fail the same way; --dry-run still works' '
	(cd "$T/none" && PINION_CACHE_DIR="$T/none.cache" nouserns "$PINION" predict -i name=x) >/dev/null 2>"$T/np.err"
	test_equal $? 1 &&
	test_equal "$(wc -l <"$T/np.err")" 1 &&
	test_grep "user.max_user_namespaces is 0" "$T/np.err" &&
	PINION_CACHE_DIR="$T/none.cache" nouserns "$PINION" run $MIRROR python:3.11-slim -- true >/dev/null 2>"$T/nr.err"
	test_equal $? 1 &&
	test_equal "$(wc -l <"$T/nr.err")" 1 &&
	test_grep "user.max_user_namespaces is 0" "$T/nr.err" &&
	test_equal "$(cache_files "$T/none.cache")" 0 &&
	(cd "$T/none" && nouserns "$PINION" build --dry-run) >"$T/nd.out" &&
	test_grep "base image" "$T/nd.out"
'

test_expect_success 'real root where user namespaces are refused still runs (mount and pid namespaces)' '
	PINION_RUNNER_NO_USERNS=1 pinion run $MIRROR python:3.11-slim -- sh -c "id -u; echo \$\$" \
		>"$T/nu.out" 2>"$T/nu.err" || { cat "$T/nu.err"; false; } &&
	test_equal "$(sed -n 1p "$T/nu.out")" 0 &&
	test "$(sed -n 2p "$T/nu.out")" -lt 10 &&
	test_grep "no user namespace: build steps run as real root" "$T/nu.err" &&
	! grep -q "unavailable" "$T/nu.err"
'

test_done
