#!/bin/bash
# t_archive.sh - the archive transports, oci-archive:FILE[:REF] and
# docker-archive:FILE[:REF]: each round-trips through skopeo both ways (the
# manifest digest of an oci-archive, the config digest and diff_ids of a
# docker-archive survive), podman load / podman save, pull and push through
# a registry, build --output, inspect, hostile archives refused, and a --authfile or
# $REGISTRY_AUTH_FILE that does not exist named in an error.
. "$(dirname "$0")/lib.sh"
. "$TEST_ROOT/tests/tools/registry.sh"
cd "$T" || exit 1

mkdir -p "$T/root/etc" "$T/root/bin" "$T/root2"
echo "hello from pinion" >"$T/root/etc/greeting"
head -c 200000 /dev/urandom >"$T/root/bin/blob"
echo second >"$T/root2/f"
pq import --label org.pinion.test=archive "$T/root" "oci:$T/src:v1" >"$T/src.digest" ||
	{ echo "Bail out! pinion import failed"; exit 1; }
pq import --compression zstd "$T/root2" "oci:$T/src:zst" >/dev/null ||
	{ echo "Bail out! pinion import (zstd) failed"; exit 1; }
SRC_DIGEST=$(cat "$T/src.digest")
pq inspect "oci:$T/src:v1" >"$T/src.json"
pq inspect "oci:$T/src:zst" >"$T/zst.json"
SRC_CONFIG=$(jq -r .manifest.config.digest "$T/src.json")
ZST_CONFIG=$(jq -r .manifest.config.digest "$T/zst.json")

test_expect_success 'oci-archive: pinion writes, skopeo inspects and copies it (the digest survives)' '
	pq copy "oci:$T/src:v1" "oci-archive:$T/a.tar:v1" >out &&
	test_equal "$(cat out)" "$SRC_DIGEST" &&
	test_equal "$(skopeo inspect oci-archive:$T/a.tar:v1 | jq -r .Digest)" "$SRC_DIGEST" &&
	skopeo copy -q "oci-archive:$T/a.tar:v1" "oci:$T/sk:v1" &&
	test_equal "$(layout_digest $T/sk v1)" "$SRC_DIGEST"
'

test_expect_success 'oci-archive: skopeo writes, pinion inspects and copies it (the digest survives)' '
	skopeo copy -q "oci:$T/src:v1" "oci-archive:$T/sk.tar:r8.im/me/model:v3" &&
	test_equal "$(pq inspect oci-archive:$T/sk.tar:r8.im/me/model:v3 | jq -r .digest)" "$SRC_DIGEST" &&
	pq copy "oci-archive:$T/sk.tar:r8.im/me/model:v3" "oci:$T/back:v1" >out &&
	test_equal "$(layout_digest $T/back v1)" "$SRC_DIGEST" &&
	test_equal "$(pq inspect oci-archive:$T/sk.tar | jq -r .digest)" "$SRC_DIGEST"
'

test_expect_success 'docker-archive: pinion writes (a zstd layer comes out a plain tar), skopeo reads the same config and diff_ids' '
	pq copy "oci:$T/src:zst" "docker-archive:$T/d.tar:me/model:v3" >/dev/null &&
	tar -xOf d.tar manifest.json >man.json &&
	test_equal "$(jq -c ".[0].RepoTags" man.json)" "[\"me/model:v3\"]" &&
	diff_id=$(jq -r ".config.rootfs.diff_ids[0]" zst.json) &&
	test_equal "sha256:$(tar -xOf d.tar "$(jq -r ".[0].Layers[0]" man.json)" | sha256sum | cut -c1-64)" "$diff_id" &&
	test_equal "$(skopeo inspect --raw docker-archive:$T/d.tar | jq -r .config.digest)" "$ZST_CONFIG" &&
	test_equal "$(skopeo inspect --config docker-archive:$T/d.tar | jq -c .rootfs.diff_ids)" \
		"$(jq -c .config.rootfs.diff_ids zst.json)" &&
	skopeo copy -q "docker-archive:$T/d.tar" "oci:$T/skd:x" &&
	test_equal "$(skopeo inspect --config oci:$T/skd:x | jq -c .rootfs.diff_ids)" \
		"$(jq -c .config.rootfs.diff_ids zst.json)"
'

test_expect_success 'docker-archive: skopeo writes (legacy layout, symlinked layer), pinion reads the same config and diff_ids' '
	skopeo copy -q "oci:$T/src:v1" "docker-archive:$T/skd.tar:me/x:v1" &&
	tar -tvf skd.tar | grep -q "^l" &&
	pq inspect "docker-archive:$T/skd.tar:me/x:v1" >skd.json &&
	test_equal "$(jq -r .manifest.config.digest skd.json)" "$SRC_CONFIG" &&
	test_equal "$(jq -c .config.rootfs.diff_ids skd.json)" "$(jq -c .config.rootfs.diff_ids src.json)" &&
	pq copy "docker-archive:$T/skd.tar:@0" "oci:$T/dback" >/dev/null &&
	pq unpack "oci:$T/dback:docker.io/me/x:v1" "$T/dback-root" 2>/dev/null &&
	cmp "$T/dback-root/bin/blob" "$T/root/bin/blob"
'

test_expect_success 'docker-archive: several images: without a name the error lists them; a wrong name too' '
	python3 - <<-EOF &&
	import json, tarfile
	src = tarfile.open("$T/skd.tar")
	m = json.load(src.extractfile("manifest.json"))
	m.append(dict(m[0], RepoTags=["other:v2"]))
	with tarfile.open("$T/two.tar", "w") as out:
	    for ti in src.getmembers():
	        if ti.name != "manifest.json":
	            out.addfile(ti, src.extractfile(ti) if ti.isfile() else None)
	    data = json.dumps(m).encode()
	    ti = tarfile.TarInfo("manifest.json"); ti.size = len(data)
	    import io; out.addfile(ti, io.BytesIO(data))
	EOF
	test_expect_failure_status 2 pq inspect "docker-archive:$T/two.tar" 2>err &&
	test_grep "holds 2 images" err && test_grep "other:v2" err &&
	test_expect_failure_status 1 pq inspect "docker-archive:$T/two.tar:nope" 2>err &&
	test_grep "no image .nope." err &&
	test_equal "$(pq inspect docker-archive:$T/two.tar:other:v2 | jq -r .manifest.config.digest)" "$SRC_CONFIG"
'

PODMAN="podman --root $T/podman/root --runroot $T/podman/run --storage-driver vfs"
if [ "$(id -u)" -eq 0 ] && command -v podman >/dev/null && $PODMAN images >/dev/null 2>&1; then
	test_expect_success 'podman load reads a pinion docker-archive; pinion reads what podman save writes (docker-archive, oci-archive)' '
		test_when_finished "$PODMAN rmi -a -f >/dev/null 2>&1; true" &&
		$PODMAN load -i "$T/d.tar" >load.out 2>&1 &&
		test_grep "me/model:v3" load.out &&
		test_equal "sha256:$($PODMAN image inspect me/model:v3 --format "{{.Id}}")" "$ZST_CONFIG" &&
		$PODMAN save --format docker-archive -o "$T/ps.tar" localhost/me/model:v3 2>/dev/null &&
		pq inspect "docker-archive:$T/ps.tar" >ps.json &&
		test_equal "$(jq -r .manifest.config.digest ps.json)" "$ZST_CONFIG" &&
		$PODMAN save --format oci-archive -o "$T/pso.tar" localhost/me/model:v3 2>/dev/null &&
		pq inspect "oci-archive:$T/pso.tar" >pso.json &&
		test_equal "$(jq -c .config.rootfs.diff_ids pso.json)" "$(jq -c .config.rootfs.diff_ids zst.json)"
	'
else
	test_skip 'podman load reads a pinion docker-archive' "podman does not run here as root"
fi

registry_start plain plain
PLAIN=$REGISTRY

test_expect_success 'pull into an oci-archive and a docker-archive; push from each' '
	pq copy "oci:$T/src:v1" "$PLAIN/demo:v1" >/dev/null &&
	pq pull "$PLAIN/demo:v1" "oci-archive:$T/p.tar" >out &&
	test_equal "$(cat out)" "$SRC_DIGEST" &&
	test_equal "$(skopeo inspect oci-archive:$T/p.tar:$PLAIN/demo:v1 | jq -r .Digest)" "$SRC_DIGEST" &&
	pq pull "$PLAIN/demo:v1" "docker-archive:$T/pd.tar" >/dev/null &&
	test_equal "$(tar -xOf pd.tar manifest.json | jq -r ".[0].RepoTags[0]")" "$PLAIN/demo:v1" &&
	pq push "oci-archive:$T/p.tar:v1" "$PLAIN/fromoci:v1" >out &&
	test_equal "$(skopeo inspect --tls-verify=false docker://$PLAIN/fromoci:v1 | jq -r .Digest)" "$SRC_DIGEST" &&
	pq push "docker-archive:$T/pd.tar" "$PLAIN/fromdocker:v1" >/dev/null &&
	test_equal "$(skopeo inspect --raw --tls-verify=false docker://$PLAIN/fromdocker:v1 | jq -r .config.digest)" "$SRC_CONFIG"
'

test_expect_success 'inspect of an archive names what is wrong: a missing file, a missing tag' '
	test_expect_failure_status 1 pq inspect "oci-archive:$T/none.tar" 2>err &&
	test_grep "none.tar" err &&
	test_expect_failure_status 1 pq inspect "oci-archive:$T/a.tar:nosuch" 2>err &&
	test_grep "nosuch" err
'

test_expect_success 'hostile archives are refused with the member named; nothing lands outside' '
	mkdir -p "$T/h" &&
	python3 - <<-EOF &&
	import io, tarfile
	def mk(name, extra):
	    with tarfile.open(name, "w") as t:
	        for n, d in [("oci-layout", b"{\"imageLayoutVersion\":\"1.0.0\"}"),
	                     ("index.json", b"{\"schemaVersion\":2,\"manifests\":[]}")]:
	            ti = tarfile.TarInfo(n); ti.size = len(d); t.addfile(ti, io.BytesIO(d))
	        t.addfile(extra, io.BytesIO(b"x") if extra.isfile() else None)
	ti = tarfile.TarInfo("../../escaped"); ti.size = 1; mk("$T/h/dotdot.tar", ti)
	ti = tarfile.TarInfo("blobs/link"); ti.type = tarfile.SYMTYPE; ti.linkname = "/etc/passwd"
	mk("$T/h/sym.tar", ti)
	ti = tarfile.TarInfo("blobs/sha256/" + "0" * 64); ti.size = 1; mk("$T/h/digest.tar", ti)
	EOF
	test_expect_failure_status 2 pq copy "oci-archive:$T/h/dotdot.tar" "oci:$T/h/out" 2>err &&
	test_grep "\.\./\.\./escaped" err && test ! -e "$T/escaped" && test ! -e "$T/../escaped" &&
	test_expect_failure_status 2 pq copy "oci-archive:$T/h/sym.tar" "oci:$T/h/out" 2>err &&
	test_grep "symlink" err &&
	test_expect_failure_status 1 pq copy "oci-archive:$T/h/digest.tar" "oci:$T/h/out" 2>err &&
	test_grep "digest" err
'

BASE=$(fixture_base_layout)
cp -r "$TEST_ROOT/examples/hello" "$T/hello" && rm -rf "$T/hello/.pinion"
BMIRROR="--registry-mirror docker.io=oci:$BASE --registry-mirror r8.im=oci:$BASE"
test_expect_success 'build --output docker-archive: (named by -t) and oci-archive: (inside the model, kept out of the source)' '
	test -n "$BASE" &&
	(cd "$T/hello" && pinion build $BMIRROR -t r8.im/me/hello:v1 --output "docker-archive:$T/hello.tar" \
		--progress quiet) >b1.out 2>b1.err || { cat b1.err; false; } &&
	test_grep "^docker-archive:$T/hello.tar sha256:" b1.out &&
	test_equal "$(tar -xOf hello.tar manifest.json | jq -r ".[0].RepoTags[0]")" r8.im/me/hello:v1 &&
	skopeo inspect "docker-archive:$T/hello.tar" | jq -e ".Labels[\"run.cog.has_init\"] == \"true\"" >/dev/null &&
	(cd "$T/hello" && pinion build $BMIRROR --output "oci-archive:model.tar:v1" --progress quiet) >b2.out &&
	(cd "$T/hello" && pinion build $BMIRROR --output "oci-archive:model.tar:v1" --progress quiet) >b3.out &&
	test_cmp b2.out b3.out &&
	test_equal "$(skopeo inspect oci-archive:$T/hello/model.tar:v1 | jq -r .Digest)" "$(cut -d" " -f2 b2.out)"
'

test_expect_success 'no temporary layout is left in the cache' '
	! ls "$PINION_CACHE_DIR" 2>/dev/null | grep -q "^copy-"
'

test_expect_success 'an unknown --output transport lists the ones there are' '
	test_expect_failure_status 2 pq build --output "zip:$T/x" 2>err &&
	test_grep "oci-archive:FILE" err && test_grep "docker-archive:FILE" err
'

test_expect_success 'a --authfile or $REGISTRY_AUTH_FILE that does not exist is an error naming it' '
	test_expect_failure_status 2 pq inspect --authfile "$T/no-such-auth.json" "$PLAIN/demo:v1" 2>err &&
	test_grep "no-such-auth.json. (--authfile) does not exist" err &&
	test_expect_failure_status 2 env REGISTRY_AUTH_FILE="$T/no-env-auth.json" \
		"$PINION" --progress quiet pull "$PLAIN/demo:v1" "oci:$T/auth-out" 2>err &&
	test_grep "no-env-auth.json. (\$REGISTRY_AUTH_FILE) does not exist" err &&
	echo "{}" >"$T/empty-auth.json" &&
	pq inspect --authfile "$T/empty-auth.json" "$PLAIN/demo:v1" >/dev/null
'

test_done
