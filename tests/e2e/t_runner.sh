#!/bin/bash
# t_runner.sh - the rootless sandbox through `pinion run`: apt and pip steps
# committed as layers (as root, with and without subordinate ids), the
# committed image in a fresh sandbox, whiteouts, reproducible layers,
# isolation, secrets, failures, hostile layers, independent clients.
. "$(dirname "$0")/lib.sh"
. "$TEST_ROOT/tests/tools/pip_index.sh"
. "$TEST_ROOT/tests/tools/registry.sh"

if [ "$(id -u)" -ne 0 ]; then
	test_skip "runner e2e" "needs root to create the test users"
	test_done
fi

test_user_setup >/dev/null
chmod 755 "$T"
BASE="oci:$T/base:library/python:3.11-slim"
STEP='set -e
apt-get update -qq
apt-get install -y -qq --no-install-recommends jq >/dev/null
rm -rf /var/lib/apt/lists/*
rm /etc/motd
pip install -q --no-cache-dir --index-url "$PIP_INDEX_URL" pinion-hello'

# as USER: pinion ARGS... (root runs it directly)
as() {
	local u=$1; shift
	if [ "$u" = root ]; then
		PINION_CACHE_DIR="$T/.pinion-cache" "$PINION" "$@"
	else
		run_as "$u" "$PINION" "$@"
	fi
}

# the last layer blob of an image in a layout, as a path
last_layer() {
	local dir=$1 tag=$2 m
	m=$(jq -r --arg t "$tag" '.manifests[] | select(.annotations."org.opencontainers.image.ref.name"==$t) | .digest' "$dir/index.json")
	echo "$dir/blobs/sha256/$(jq -r '.layers[-1].digest' "$dir/blobs/sha256/${m#sha256:}" | cut -d: -f2)"
}

# the buildah-written base (fixture_base_layout), copied with cp so that the
# test users can read it and its bytes stay buildah's
test_expect_success 'setup: base image written by buildah, local pip index' '
	base=$(fixture_base_layout) &&
	cp -r "$base" "$T/base" &&
	chmod -R a+rX "$T/base" &&
	wheel_make pinion-hello 1.2.3 "$T/index/files" >/dev/null &&
	pip_index_start "$T/index" &&
	echo "$PIP_INDEX_URL" >"$T/index-url" &&
	echo "$PIP_INDEX_PID" >"$T/index-pid"
'
export PIP_INDEX_URL=$(cat "$T/index-url" 2>/dev/null)
PIP_INDEX_PID=$(cat "$T/index-pid" 2>/dev/null)
at_exit 'pip_index_stop'
at_exit 'registry_stop'

for u in root pinion-sub pinion-nosub; do
	out="$T/out-$u"
	mkdir -m 777 "$out"
	test_expect_success "$u: apt-get install jq and pip install from the local index, committed" '
		as $u run --commit "oci:$out/img:jq" -e PIP_INDEX_URL="$PIP_INDEX_URL" "$BASE" \
			-- sh -c "$STEP" >"$out/digest" 2>"$out/log" ||
			{ tail -20 "$out/log"; false; } &&
		grep -q "^sha256:" "$out/digest" &&
		n=$(grep -c "no subordinate ids" "$out/log" || true) &&
		test_equal "$n" "$([ $u = pinion-nosub ] && echo 1 || echo 0)"
	'
	test_expect_success "$u: the committed image runs jq and the wheel in a fresh sandbox" '
		as $u run "oci:$out/img:jq" -- jq --version >"$out/jq" &&
		test_grep "^jq-1" "$out/jq" &&
		as $u run "oci:$out/img:jq" -- python3 -c "import pinion_hello; print(pinion_hello.hello())" >"$out/py" &&
		test_grep "hello from pinion-hello 1.2.3" "$out/py" &&
		as $u run "oci:$out/img:jq" -- ls -A /var/lib/apt/lists >"$out/lists" &&
		test_equal "$(cat "$out/lists")" ""
	'
	test_expect_success "$u: the layer holds the new files and whiteouts for removed ones" '
		layer=$(last_layer "$out/img" jq) &&
		tar -tvzf "$layer" >"$out/list" &&
		test_grep " usr/bin/jq$" "$out/list" &&
		test_grep "pinion_hello/__init__.py$" "$out/list" &&
		test_grep " etc/\.wh\.motd$" "$out/list" &&
		test_grep " var/lib/apt/lists/\.wh\.partial$" "$out/list" &&
		! grep -E " (etc/resolv\.conf|etc/hosts|proc/|dev/)" "$out/list"
	'
done

test_expect_success 'ownership as seen inside: _apt keeps uid 42 (root, subordinate ids)' '
	for u in root pinion-sub; do
		tar -tvzf "$(last_layer "$T/out-$u/img" jq)" --numeric-owner | grep " var/cache/apt/archives/partial/$" >"$T/partial-$u" &&
		test_grep " 42/0 " "$T/partial-$u" || return 1
	done
'

test_expect_success 'same change twice gives the same layer digest (also with the copy fallback)' '
	mkdir -p "$T/rep" &&
	for i in 1 2; do
		pinion run --commit "oci:$T/rep/a$i:x" "$BASE" -- sh -c "echo hi >/etc/x; rm /etc/motd; mkdir -p /opt/a; touch /opt/a/b" >/dev/null || return 1
	done &&
	pinion run --no-overlay --commit "oci:$T/rep/c:x" "$BASE" -- sh -c "echo hi >/etc/x; rm /etc/motd; mkdir -p /opt/a; touch /opt/a/b" >/dev/null &&
	a1=$(basename "$(last_layer "$T/rep/a1" x)") && a2=$(basename "$(last_layer "$T/rep/a2" x)") &&
	c=$(basename "$(last_layer "$T/rep/c" x)") &&
	test_equal "$a2" "$a1" && test_equal "$c" "$a1"
'

test_expect_success 'isolation: nothing created outside, host processes invisible, host files unreadable' '
	home=$(getent passwd pinion-sub | cut -d: -f6) &&
	mkdir -p "$home/.docker" && echo "{\"auths\":{\"x\":{\"auth\":\"SECRETAUTH\"}}}" >"$home/.docker/config.json" &&
	chown -R pinion-sub: "$home/.docker" &&
	run_as pinion-sub "$PINION" run "$BASE" -- sh -c "
		touch $T/outside-file 2>/dev/null; touch /../../$T/outside-file2 2>/dev/null
		cat $home/.docker/config.json 2>/dev/null
		ls -d /proc/[0-9]* | wc -l" >"$T/iso.out" 2>&1 &&
	test ! -e "$T/outside-file" && test ! -e "$T/outside-file2" &&
	! grep -q SECRETAUTH "$T/iso.out" &&
	test "$(tail -1 "$T/iso.out")" -le 5
	rc=$?
	rm -rf "$home/.docker"
	exit $rc
'

test_expect_success 'SIGTERM to pinion stops the step: no process or run dir left (subordinate ids)' '
	cache="$T/.cache-pinion-sub" # run_as gives each user a cache in $T
	{ run_as pinion-sub "$PINION" run "$BASE" -- sh -c "mkdir -p /d/e && touch /d/e/f &&
		chown -R 1000:1000 /d && chmod 700 /d/e && exec sleep 31337"
	  echo $? >"$T/sig.rc"; } >/dev/null 2>"$T/sig.err" </dev/null &
	for i in $(seq 150); do pgrep -u pinion-sub -x -f "sleep 31337" >/dev/null && break; sleep 0.1; done
	p=$(pgrep -u pinion-sub -o -f "run .*sleep 31337")
	pgrep -u pinion-sub -x -f "sleep 31337" >/dev/null &&
	test -n "$(ls -A "$cache/runs")" && test -n "$p" &&
	kill -TERM "$p" && wait &&
	test_equal "$(cat "$T/sig.rc")" 143 &&
	test_grep "interrupted by SIGTERM" "$T/sig.err" &&
	! pgrep -u pinion-sub -x -f "sleep 31337" &&
	test_equal "$(ls -A "$cache/runs")" ""
	rc=$?
	[ -n "$p" ] && kill -KILL "$p" 2>/dev/null
	exit $rc
'

test_expect_success 'a secret is readable in its step and in no blob' '
	printf "TOPSECRET-%s" "$$" >"$T/secret" &&
	chmod 644 "$T/secret" &&
	mkdir -m 777 "$T/sec" &&
	run_as pinion-sub "$PINION" run --secret "id=tok,src=$T/secret" --commit "oci:$T/sec/img:s" "$BASE" \
		-- sh -c "md5sum </run/secrets/tok >/used" >/dev/null &&
	for b in "$T"/sec/img/blobs/sha256/*; do
		if zcat -f "$b" | grep -qa TOPSECRET; then echo "secret in $b"; return 1; fi
	done &&
	tar -tzf "$(last_layer "$T/sec/img" s)" >"$T/sec/list" &&
	test_grep "^used$" "$T/sec/list" && ! grep -q "run/secrets" "$T/sec/list" &&
	tar -xzOf "$(last_layer "$T/sec/img" s)" used >"$T/sec/used" &&
	md5sum <"$T/secret" >"$T/sec/want" && test_cmp "$T/sec/want" "$T/sec/used"
'

test_expect_success '--network none: loopback only, the host index unreachable' '
	test_expect_failure_status 7 pinion run --network none "$BASE" -- python3 -c "
import socket, sys, urllib.request
names = [l.split(\":\")[0].strip() for l in open(\"/proc/net/dev\").readlines()[2:]]
assert names == [\"lo\"], names
try:
    urllib.request.urlopen(\"$PIP_INDEX_URL\", timeout=3)
except OSError:
    sys.exit(7)
"
'

test_expect_success 'pinion run passes stdin through, and a terminal when it has one' '
	echo piped-in | pinion run "$BASE" -- cat >"$T/stdin.out" &&
	test_equal "$(cat "$T/stdin.out")" piped-in &&
	script -qec "$PINION run $BASE -- sh -c \"test -t 0 && test -t 1 && echo tty-yes\"" /dev/null \
		>"$T/tty.out" &&
	test_grep tty-yes "$T/tty.out"
'

test_expect_success 'failures: exit 3 is reported as 3, a missing command is a clear error' '
	test_expect_failure_status 3 pinion run "$BASE" -- sh -c "echo last words; exit 3" >/dev/null 2>"$T/e3" &&
	test_grep "exited with status 3" "$T/e3" &&
	! pinion run "$BASE" -- no-such-command 2>"$T/enf" &&
	test_grep "command .no-such-command. not found in the image" "$T/enf" &&
	! pinion run --commit "oci:$T/fail:x" "$BASE" -- false 2>/dev/null &&
	test ! -e "$T/fail/index.json" -o -z "$(jq -r ".manifests[]?" "$T/fail/index.json" 2>/dev/null)"
'

test_expect_success 'a hostile layer is refused before anything runs' '
	"$PYTHON" - "$T/hostile" <<-\EOF &&
	import gzip, hashlib, io, json, os, sys, tarfile
	root = sys.argv[1]; blobs = os.path.join(root, "blobs", "sha256"); os.makedirs(blobs)
	def put(data):
	    d = hashlib.sha256(data).hexdigest()
	    open(os.path.join(blobs, d), "wb").write(data)
	    return "sha256:" + d, len(data)
	buf = io.BytesIO()
	with tarfile.open(fileobj=buf, mode="w") as t:
	    ti = tarfile.TarInfo("../../../../tmp/pinion-hostile-escape"); data = b"x"; ti.size = 1
	    t.addfile(ti, io.BytesIO(data))
	tar = buf.getvalue(); diff_id = "sha256:" + hashlib.sha256(tar).hexdigest()
	layer, lsize = put(gzip.compress(tar, mtime=0))
	cfg = {"architecture": "amd64", "os": "linux", "config": {}, "rootfs": {"type": "layers", "diff_ids": [diff_id]}}
	c, csize = put(json.dumps(cfg).encode())
	man = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
	       "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": c, "size": csize},
	       "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": layer, "size": lsize}]}
	m, msize = put(json.dumps(man).encode())
	json.dump({"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
	          "digest": m, "size": msize, "annotations": {"org.opencontainers.image.ref.name": "bad"}}]},
	          open(os.path.join(root, "index.json"), "w"))
	open(os.path.join(root, "oci-layout"), "w").write("{\"imageLayoutVersion\": \"1.0.0\"}")
	EOF
	rm -f /tmp/pinion-hostile-escape "$T/ran" &&
	! pinion run "oci:$T/hostile:bad" -- touch "$T/ran" 2>"$T/hostile.err" &&
	test_grep "unpack layer" "$T/hostile.err" &&
	test ! -e /tmp/pinion-hostile-escape && test ! -e "$T/ran"
'

test_expect_success 'the --commit image is accepted by skopeo and umoci' '
	skopeo inspect "oci:$T/out-pinion-sub/img:jq" >"$T/skopeo.json" &&
	test "$(jq ".Layers | length" "$T/skopeo.json")" -eq 2 &&
	(cd "$T/out-pinion-sub" && umoci unpack --image img:jq "$T/umoci-rootfs" >/dev/null) &&
	test -x "$T/umoci-rootfs/rootfs/usr/bin/jq" &&
	test ! -e "$T/umoci-rootfs/rootfs/etc/motd"
'

test_expect_success 'a registry reference is pulled and run (through a mirror)' '
	registry_start plain >/dev/null &&
	pinion copy "$BASE" "$REGISTRY/library/python:3.11-slim" >/dev/null &&
	pinion run --registry-mirror "docker.io=$REGISTRY" python:3.11-slim -- python3 -c "print(6 * 7)" >"$T/reg.out" &&
	test_equal "$(cat "$T/reg.out")" 42
	rc=$?
	registry_stop # here: its watchdog would hold this body'"'"'s output open
	exit $rc
'

test_expect_success 'snapshots are listed and pruned' '
	pinion snapshots list >"$T/snaps" &&
	test "$(grep -c "^sha256:" "$T/snaps")" -ge 2 &&
	pinion snapshots prune --all >/dev/null &&
	test "$(pinion snapshots list | grep -c "^sha256:")" -eq 0 &&
	run_as pinion-sub "$PINION" snapshots prune --all >/dev/null &&
	test -z "$(ls -A "$T/.cache-pinion-sub/snapshots")"
'

test_done
