#!/bin/bash
# t_poison.sh - cache poisoning (issue 17): an image with the legitimate config
# (so the legitimate diff_ids) whose manifest points at a modified layer blob
# (one added .pth file) is refused by `pinion run`, `pinion unpack` and a build,
# whether or not the cache already holds the real base's snapshot and steps;
# a build on the real base with the same cache dir afterwards gives the right
# image (the real base's layer, no .pth file anywhere).
. "$(dirname "$0")/lib.sh"
. "$TEST_ROOT/tests/tools/registry.sh"

TAG=library/python:3.11-slim
registry_start plain >"$T/registry.log" 2>&1 || echo "# registry did not start: $(cat "$T/registry.log")"

# poison SRC DST: DST is a layout holding SRC's image with its first layer
# replaced by the same tar plus usr/local/lib/python3.11/site-packages/evil.pth,
# the manifest pointing at the new blob, the config (and its diff_ids) as is
poison() {
	# hard links where the fixture cache shares a filesystem with $T (the script
	# only writes new files and renames), a copy where it does not (a tmpfs /tmp)
	{ cp -al "$1" "$2" 2>/dev/null || { rm -rf "$2" && cp -a "$1" "$2"; }; } &&
		"$PYTHON" - "$2" "$TAG" <<-'EOF'
	import gzip, hashlib, io, json, os, shutil, subprocess, sys, tarfile
	d, tag = sys.argv[1], sys.argv[2]
	def blob(dg): return os.path.join(d, "blobs", *dg.split(":"))
	def put(data):
	    dg = "sha256:" + hashlib.sha256(data).hexdigest()
	    with open(blob(dg) + ".tmp", "wb") as f: f.write(data)
	    os.replace(blob(dg) + ".tmp", blob(dg))
	    return dg
	index = json.load(open(os.path.join(d, "index.json")))
	mdesc = [m for m in index["manifests"]
	         if m.get("annotations", {}).get("org.opencontainers.image.ref.name") == tag][0]
	manifest = json.load(open(blob(mdesc["digest"])))
	layer = manifest["layers"][0]
	assert layer["mediaType"].endswith("gzip"), layer["mediaType"]
	plain = os.path.join(d, "layer.tar")
	with gzip.open(blob(layer["digest"])) as src, open(plain, "wb") as dst:
	    shutil.copyfileobj(src, dst, 1 << 20)
	with tarfile.open(plain, "a") as tf:
	    ti = tarfile.TarInfo("usr/local/lib/python3.11/site-packages/evil.pth")
	    code = b"import os; os.system('touch /tmp/pwned')\n"
	    ti.size, ti.mode = len(code), 0o644
	    tf.addfile(ti, io.BytesIO(code))
	data = subprocess.run(["gzip", "-1", "-n", "-c", plain], check=True, capture_output=True).stdout
	os.unlink(plain)
	layer["digest"], layer["size"] = put(data), len(data)
	raw = json.dumps(manifest, separators=(",", ":")).encode()
	mdesc["digest"], mdesc["size"] = put(raw), len(raw)
	tmp = os.path.join(d, "index.json.tmp")
	with open(tmp, "w") as f: json.dump(index, f)
	os.replace(tmp, os.path.join(d, "index.json"))  # a new inode: the fixture's stays
	print(layer["digest"])
	EOF
}
manifest_of() { skopeo inspect --raw "oci:$1" 2>/dev/null || skopeo inspect --raw --tls-verify=false "docker://$1"; }
config_diff_id() { skopeo inspect --config "oci:$1" | jq -r '.rootfs.diff_ids[0]'; }
# every diff_id of the image's config, as snapshot names (hex, sorted)
config_diff_ids() { skopeo inspect --config "oci:$1" | jq -r '.rootfs.diff_ids[]' | sed 's/^sha256://' | sort; }
no_pth_in_layers() { # LAYOUT TAG: no layer of the image holds evil.pth
	local l
	for l in $(skopeo inspect --raw "oci:$1:$2" | jq -r '.layers[].digest'); do
		if tar -tzf "$1/blobs/sha256/${l#sha256:}" | grep -q 'evil\.pth'; then
			echo "layer $l holds evil.pth"; return 1
		fi
	done
}
snapshots_of() { ls "$1/snapshots" 2>/dev/null | grep -E '^[0-9a-f]{64}$' || true; }

# the real base is the buildah-written one (Go's archive/tar, as Docker Hub's
# images are), not one pinion imported itself
test_expect_success 'setup: the real base, a poisoned copy of it, the registry' '
	rootfs=$(fixture_rootfs python) &&
	base=$("$PYTHON" "$TEST_ROOT/tests/tools/foreign_layers.py" "$rootfs" buildah) &&
	echo "$base" >"$T/base" &&
	evil_layer=$(poison "$base" "$T/evil") &&
	echo "$evil_layer" >"$T/evil_layer" &&
	real_layer=$(skopeo inspect --raw "oci:$base:$TAG" | jq -r ".layers[0].digest") &&
	echo "$real_layer" >"$T/real_layer" &&
	test "$evil_layer" != "$real_layer" &&
	test_equal "$(config_diff_id "$T/evil:$TAG")" "$(config_diff_id "$base:$TAG")" &&
	echo "$REGISTRY" >"$T/registry"
'
BASE=$(cat "$T/base" 2>/dev/null)
REGISTRY=$(cat "$T/registry" 2>/dev/null || echo 127.0.0.1:1)
MIRROR="--registry-mirror docker.io=$REGISTRY --registry-mirror r8.im=$REGISTRY"
DIFF_ID=$(config_diff_id "$BASE:$TAG" 2>/dev/null)
cp -r "$TEST_ROOT/examples/hello" "$T/hello"
rm -rf "$T/hello/.pinion"
publish() { pinion copy "oci:$1:$TAG" "$REGISTRY/$TAG" >/dev/null; }
build() { # CACHE OUT: build examples/hello from the registry's base
	(cd "$T/hello" && pinion build $MIRROR --cache-dir "$1" --output "oci:$2:hello" --progress plain)
}

test_expect_success 'pinion run refuses the poisoned image, naming both diff_ids, and keeps no snapshot' '
	test_expect_failure_status 1 pinion run --cache-dir "$T/c-run" "oci:$T/evil:$TAG" true 2>"$T/run.err" &&
	cat "$T/run.err" &&
	test_grep "does not match the image config" "$T/run.err" &&
	test_grep "the config says \`$DIFF_ID\`" "$T/run.err" &&
	test_grep "$(cat "$T/evil_layer")" "$T/run.err" &&
	test -z "$(snapshots_of "$T/c-run")" &&
	test -z "$(ls -A "$T/c-run/snapshots")"
'

test_expect_success 'pinion unpack refuses it too' '
	test_expect_failure_status 1 pinion unpack "oci:$T/evil:$TAG" "$T/unpacked" 2>"$T/unpack.err" &&
	test_grep "does not match the image config" "$T/unpack.err"
'

test_expect_success 'after the refusal, pinion run of the real base with the same cache works' '
	pinion run --cache-dir "$T/c-run" "oci:$BASE:$TAG" sh -c "test ! -e /usr/local/lib/python3.11/site-packages/evil.pth && echo clean" >"$T/run2.out" &&
	test_equal "$(cat "$T/run2.out")" clean &&
	test_equal "$(snapshots_of "$T/c-run")" "$(config_diff_ids "$BASE:$TAG")"
'

test_expect_success 'with the real base snapshot cached, the poisoned image is still refused' '
	test_expect_failure_status 1 pinion run --cache-dir "$T/c-run" "oci:$T/evil:$TAG" true 2>"$T/run3.err" &&
	test_grep "does not match the image config" "$T/run3.err" &&
	! grep -q "$(cat "$T/evil_layer")" "$T/c-run/snapshots/${DIFF_ID#sha256:}/blobs"
'

# refused_build CACHE OUT LOG: with the poisoned base published, a build with
# CACHE into OUT fails (status 1) naming the mismatch, and OUT holds no image
refused_build() {
	publish "$T/evil" &&
	test_expect_failure_status 1 build "$1" "$2" >"$T/$3.out" 2>"$T/$3.err" &&
	tail -5 "$T/$3.err" &&
	test_grep "does not match the image config" "$T/$3.err" &&
	! pinion ls "oci:$2" 2>/dev/null | grep -q hello
}
# real_build CACHE OUT LOG: with the real base published, a build with CACHE
# into OUT works, on the real base layer, with no evil.pth in any layer
real_build() {
	publish "$BASE" &&
	{ build "$1" "$2" >"$T/$3.out" 2>"$T/$3.err" || { tail -20 "$T/$3.err"; false; }; } &&
	test_equal "$(skopeo inspect --raw "oci:$2:hello" | jq -r ".layers[0].digest")" "$(cat "$T/real_layer")" &&
	no_pth_in_layers "$2" hello
}

test_expect_success 'a build on the poisoned base (fresh cache) is refused' '
	refused_build "$T/c-fresh" "$T/out-fresh" b1
'

test_expect_success 'then a build on the real base with the same cache gives the right image' '
	real_build "$T/c-fresh" "$T/out-fresh" b2
'

test_expect_success 'a build cached on the real base, then the poisoned base: refused, not served from the cache' '
	{ build "$T/c-warm" "$T/out-warm" >"$T/b3.out" 2>"$T/b3.err" || { tail -20 "$T/b3.err"; false; }; } &&
	refused_build "$T/c-warm" "$T/out-warm2" b4
'

test_expect_success 'and the real base again with that cache: all cached, the right image' '
	real_build "$T/c-warm" "$T/out-warm3" b5 &&
	test_equal "$(skopeo inspect --raw "oci:$T/out-warm3:hello" | jq -c "[.layers[].digest]")" \
		"$(skopeo inspect --raw "oci:$T/out-warm:hello" | jq -c "[.layers[].digest]")"
'

test_done
