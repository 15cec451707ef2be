#!/bin/bash
# t_cache_remote.sh - the step cache in a registry (--cache-from/--cache-to,
# docs/build.md "The registry cache"), against the real docker-registry with
# token auth: two "pods" (separate empty cache dirs, separate users) sharing
# only the registry; the predict.py edit; four concurrent writers of one
# cache REF; corrupt entries (missing blob, wrong size, bad digest) as
# misses with warnings; skopeo reading the artifact; oci:DIR:TAG as REF.
. "$(dirname "$0")/lib.sh"
. "$TEST_ROOT/tests/tools/registry.sh"

registry_start token token >"$T/registry.log" 2>&1 || echo "# registry did not start: $(cat "$T/registry.log")"
test_expect_success 'setup: token registry with library/python:3.11-slim' '
	base=$(fixture_base_layout) &&
	pinion copy --ca-bundle "$REGISTRY_CA" --creds "$REGISTRY_USER:$REGISTRY_PASS" \
		"oci:$base:library/python:3.11-slim" "$REGISTRY/library/python:3.11-slim" >/dev/null &&
	test_user_setup &&
	echo "$REGISTRY" >"$T/registry"
'
REG=$(cat "$T/registry" 2>/dev/null || echo 127.0.0.1:1)
CA=${REGISTRY_CA:-/nonexistent}
CREDS="--creds ${REGISTRY_USER:-x}:${REGISTRY_PASS:-x}"
MIRROR="--ca-bundle $CA --registry-mirror docker.io=$REG --registry-mirror r8.im=$REG"
REF="$REG/cache/hello:buildcache"
cp -r "$TEST_ROOT/examples/hello" "$T/hello"
rm -rf "$T/hello/.pinion"
chmod -R a+rX "$T/hello"

# a build in a "pod": an empty cache dir of its own; events in $T/NAME.json
pod_build() {
	local name=$1 model=$2
	shift 2
	mkdir -p "$T/pod-$name" &&
		(cd "$model" && PINION_CACHE_DIR="$T/pod-$name" pinion build $MIRROR --progress json \
			--output "oci:$T/out-$name:img" "$@") >"$T/$name.out" 2>"$T/$name.json" ||
		{ grep -v "^{" "$T/$name.json" | tail -20; return 1; }
}
events() { grep "^{" "$T/$1.json"; }
rebuilt() { events "$1" | jq -s -r "map(select(.event == \"step\" and (.cached | not))) | map(.step) | join(\",\")"; }
digest_of() { awk "{print \$2}" "$T/$1.out"; }
layers_of() { skopeo inspect --raw "oci:$T/out-$1:img" | jq -r ".layers[].digest"; }

test_expect_success 'pod 1 (root) builds cold and exports to the registry cache' '
	pod_build one "$T/hello" $CREDS --cache-to "$REF" &&
	test_equal "$(rebuilt one)" "tini,cog,source,post-build" &&
	events one | jq -s -e "map(select(.event == \"cache-export\")) | length == 1" >/dev/null &&
	test_grep "repository:cache/hello:pull,push" "$REGISTRY_DIR/token.log"
'

test_expect_success 'skopeo inspect --raw reads the cache artifact: its artifactType, config and layers' '
	skopeo inspect --raw --cert-dir "$REGISTRY_CERT_DIR" "docker://$REF" >"$T/artifact.json" &&
	test_equal "$(jq -r .artifactType "$T/artifact.json")" application/vnd.pinion.buildcache.v1+json &&
	test_equal "$(jq -r .config.mediaType "$T/artifact.json")" application/vnd.pinion.buildcache.entries.v1+json &&
	layers_of one | tail -n 3 | sort >"$T/image-layers" &&
	jq -r ".layers[].digest" "$T/artifact.json" | sort >"$T/artifact-layers" &&
	test_cmp "$T/image-layers" "$T/artifact-layers"
'

test_expect_success 'pod 2 (another user, empty cache, anonymous read-only pull): all hits, same digest, no upload' '
	mkdir -p "$T/pod-two" && chown pinion-sub "$T/pod-two" &&
	cp -r "$T/hello" "$T/hello2" && chown -R pinion-sub "$T/hello2" &&
	(cd "$T/hello2" && RUN_AS_CACHE_DIR="$T/pod-two" run_as pinion-sub "$PINION" build $MIRROR \
		--progress json --output "oci:$T/hello2/out:img" --cache-from "$REF") \
		>"$T/two.out" 2>"$T/two.json" || { grep -v "^{" "$T/two.json" | tail; false; } &&
	test_equal "$(rebuilt two)" "" &&
	events two | jq -s -e "map(select(.event == \"step\")) | length == 4" >/dev/null &&
	events two | jq -s -e "map(select(.event == \"step-start\")) | length == 0" >/dev/null &&
	test_equal "$(digest_of two)" "$(digest_of one)" &&
	events two | jq -s -e "map(select(.event == \"cache-import\"))[0].entries == 5" >/dev/null
'

test_expect_success 'pod 3 with --cache-from and --cache-to uploads no layer blob and pushes no new artifact' '
	manifests=$(find "$REGISTRY_DIR/data" -path "*_manifests/revisions/sha256/*" -name link | wc -l) &&
	pod_build three "$T/hello" $CREDS --cache-from "$REF" --cache-to "$REF" &&
	test_equal "$(rebuilt three)" "" &&
	test_equal "$(digest_of three)" "$(digest_of one)" &&
	test_equal "$(events three | jq -s "map(select(.event == \"blob-pushed\")) | length")" 0 &&
	test_equal "$(find "$REGISTRY_DIR/data" -path "*_manifests/revisions/sha256/*" -name link | wc -l)" "$manifests"
'

test_expect_success 'after a predict.py edit a new pod builds only the source layer (and the post-build)' '
	cp -r "$T/hello" "$T/edited" &&
	sed -i "s/hello/howdy/" "$T/edited/predict.py" &&
	pod_build four "$T/edited" --cache-from "$REF" &&
	test_equal "$(rebuilt four)" "source,post-build" &&
	layers_of one >"$T/l1" && layers_of four >"$T/l4" &&
	test_equal "$(head -n -1 "$T/l1")" "$(head -n -1 "$T/l4")"
'

test_expect_success 'the flags also come from PINION_CACHE_FROM / PINION_CACHE_TO; bad specs are usage errors' '
	(cd "$T/hello" && PINION_CACHE_DIR="$T/pod-env" PINION_CACHE_FROM="$REF" \
		pinion build $MIRROR --progress json --output "oci:$T/out-env:img") >"$T/env.out" 2>"$T/env.json" &&
	test_equal "$(rebuilt env)" "" &&
	(cd "$T/hello" && test_expect_failure_status 2 pinion build --cache-to "$REF,mode=huge" --dry-run) 2>err1 &&
	test_grep "unknown option .mode=huge." err1 &&
	(cd "$T/hello" && test_expect_failure_status 2 pinion build --cache-from "$REF,mode=max" --dry-run) 2>err2 &&
	test_grep "options belong to --cache-to" err2 &&
	(cd "$T/hello" && PINION_CACHE_TO="oci:" test_expect_failure_status 2 pinion build --dry-run) 2>err3 &&
	test_grep "PINION_CACHE_TO" err3
'

# four models: hello with a `run` step of its own and its own predict.py
for i in 1 2 3 4; do
	cp -r "$T/hello" "$T/m$i"
	sed -i "/python_version/a\\  run:\\n    - echo model-$i >/model-id" "$T/m$i/cog.yaml"
	sed -i "s/hello/hello$i/" "$T/m$i/predict.py"
done
test_expect_success 'four concurrent builds of different models export to one cache REF' '
	for i in 1 2 3 4; do
		pod_build "c$i" "$T/m$i" $CREDS --cache-to "$REG/cache/farm:buildcache" &
	done &&
	wait &&
	for i in 1 2 3 4; do test_grep "cache-export" "$T/c$i.json" || exit 1; done &&
	skopeo inspect --raw --cert-dir "$REGISTRY_CERT_DIR" "docker://$REG/cache/farm:buildcache" >"$T/farm.json" &&
	test_equal "$(jq -r .artifactType "$T/farm.json")" application/vnd.pinion.buildcache.v1+json
'

test_expect_success 'each of the four rebuilds from an empty cache dir hits every step' '
	for i in 1 2 3 4; do
		pod_build "r$i" "$T/m$i" --cache-from "$REG/cache/farm:buildcache" || exit 1
		test_equal "$(rebuilt "r$i")" "" || exit 1
		test_equal "$(digest_of "r$i")" "$(digest_of "c$i")" || exit 1
	done
'

# builds that are all hits export within a second of each other: their
# read-merge-push rounds overlap, and the re-read must catch the overwrites
test_expect_success 'four writers whose exports overlap lose no entry (the re-read merges again)' '
	RACE="$REG/cache/race:buildcache" &&
	for i in 1 2 3 4; do
		(cd "$T/m$i" && PINION_CACHE_DIR="$T/pod-r$i" pinion build $MIRROR $CREDS --progress json \
			--output "oci:$T/out-race$i:img" --cache-to "$RACE") >/dev/null 2>"$T/race$i.json" &
	done &&
	wait &&
	for i in 1 2 3 4; do test_grep "\"cache-export\"" "$T/race$i.json" || exit 1; done &&
	skopeo inspect --config --raw --cert-dir "$REGISTRY_CERT_DIR" "docker://$RACE" >"$T/race-entries.json" &&
	test_equal "$(jq ".entries | length" "$T/race-entries.json")" 18 &&
	{ grep -h "merging again" "$T"/race?.json || true; }
'

test_expect_success 'oci:DIR:TAG as cache REF works with no registry (export, then a new pod imports)' '
	pod_build ocia "$T/hello" --cache-from "$REF" --cache-to "oci:$T/ocicache:bc,mode=max,max-entries=50" &&
	skopeo inspect --raw "oci:$T/ocicache:bc" | jq -e ".artifactType == \"application/vnd.pinion.buildcache.v1+json\"" >/dev/null &&
	(cd "$T/hello" && PINION_CACHE_DIR="$T/pod-ocib" pinion build $MIRROR --progress json \
		--output "oci:$T/out-ocib:img" --cache-from "oci:$T/ocicache:bc") >"$T/ocib.out" 2>"$T/ocib.json" &&
	test_equal "$(rebuilt ocib)" "" &&
	test_equal "$(digest_of ocib)" "$(digest_of one)"
'

test_expect_success 'cache-from and cache-to lines in the registries config (no flag, no variable)' '
	printf "cache-from oci:%s\ncache-to oci:%s,mode=max\n" "$T/ocicache:bc" "$T/confcache:bc" >"$T/conf.conf" &&
	(cd "$T/hello" && unset PINION_CACHE_FROM PINION_CACHE_TO &&
		PINION_REGISTRIES_CONF="$T/conf.conf" PINION_CACHE_DIR="$T/pod-conf" pinion build $MIRROR \
		--progress json --output "oci:$T/out-conf:img") >"$T/conf.out" 2>"$T/conf.json" &&
	test_equal "$(rebuilt conf)" "" &&
	test_equal "$(digest_of conf)" "$(digest_of one)" &&
	skopeo inspect --raw "oci:$T/confcache:bc" | jq -e ".artifactType == \"application/vnd.pinion.buildcache.v1+json\"" >/dev/null &&
	printf "cache-to oci:%s,mode=sideways\n" "$T/confcache:bc" >"$T/bad.conf" &&
	{ (cd "$T/hello" && PINION_REGISTRIES_CONF="$T/bad.conf" pinion build --dry-run) >/dev/null 2>"$T/bad.err"; rc=$?; } ;
	test_equal "$rc" 2 &&
	test_grep "registries config .cache-to." "$T/bad.err"
'

# small2 exports 5 entries (3 layers, the post-build results, the SBOM inventory), all
# stamped one second after small1's: max-entries=5 keeps exactly them (a bound below
# 5 would choose among entries of equal age by key, which depends on the base)
test_expect_success 'max-entries bounds the artifact: the least recently exported entries go' '
	pod_build small1 "$T/hello" --cache-from "$REF" --cache-to "oci:$T/small:bc,max-entries=3" &&
	cfg=$(skopeo inspect --raw "oci:$T/small:bc" | jq -r .config.digest) &&
	test_equal "$(jq ".entries | length" "$T/small/blobs/sha256/${cfg#sha256:}")" 3 &&
	sleep 1 &&
	pod_build small2 "$T/edited" --cache-from "$REF" --cache-to "oci:$T/small:bc,max-entries=5" &&
	cfg=$(skopeo inspect --raw "oci:$T/small:bc" | jq -r .config.digest) &&
	jq -r ".entries[] | .layer.digest // \"data\"" "$T/small/blobs/sha256/${cfg#sha256:}" | sort >"$T/kept" &&
	layers_of small2 | tail -n 3 | sort >"$T/want" && printf "data\ndata\n" >>"$T/want" && sort -o "$T/want" "$T/want" &&
	test_cmp "$T/want" "$T/kept"
'

# rewrite the entries of an oci: cache (tag bc) with python:
#   edit_cache DIR size LAYER   the entry of LAYER says one byte more
#   edit_cache DIR age -        every entry was last exported in 1970
edit_cache() {
	"$PYTHON" - "$@" <<-"EOF"
	import hashlib, json, os, sys
	d, what, layer = sys.argv[1], sys.argv[2], sys.argv[3]
	ix = json.load(open(d + "/index.json"))
	m = [x for x in ix["manifests"] if x.get("annotations", {}).get("org.opencontainers.image.ref.name") == "bc"][0]
	blob = lambda dg: d + "/blobs/sha256/" + dg.split(":")[1]
	man = json.load(open(blob(m["digest"])))
	doc = json.load(open(blob(man["config"]["digest"])))
	for e in doc["entries"].values():
	    if e.get("layer", {}).get("digest") == layer and what == "size":
	        e["layer"]["size"] += 1
	    if what == "age":
	        e["used"] = 1
	def put(b):
	    dg = "sha256:" + hashlib.sha256(b).hexdigest()
	    open(blob(dg), "wb").write(b)
	    return dg, len(b)
	man["config"]["digest"], man["config"]["size"] = put(json.dumps(doc).encode())
	m["digest"], m["size"] = put(json.dumps(man).encode())
	json.dump(ix, open(d + "/index.json", "w"))
	EOF
}

test_expect_success 'max-age: entries exported longer ago than DAYS leave the artifact' '
	edit_cache "$T/small" age - &&
	pod_build small3 "$T/hello" --cache-from "$REF" --cache-to "oci:$T/small:bc,max-age=2" &&
	cfg=$(skopeo inspect --raw "oci:$T/small:bc" | jq -r .config.digest) &&
	jq -r ".entries[] | .layer.digest // \"data\"" "$T/small/blobs/sha256/${cfg#sha256:}" | sort >"$T/kept3" &&
	layers_of small3 | tail -n 3 | sort >"$T/want3" && printf "data\ndata\n" >>"$T/want3" && sort -o "$T/want3" "$T/want3" &&
	test_cmp "$T/want3" "$T/kept3"
'

test_expect_success 'corrupt entries: a missing blob is a miss with a warning; the next step still hits' '
	layers_of one >"$T/ref-layers" &&
	tini=$(sed -n "$(( $(wc -l <"$T/ref-layers") - 2 ))p" "$T/ref-layers") &&
	cp -r "$T/ocicache" "$T/ocicache.orig" &&
	rm "$T/ocicache/blobs/sha256/${tini#sha256:}" &&
	pod_build miss "$T/hello" --cache-from "oci:$T/ocicache:bc" &&
	test_equal "$(rebuilt miss)" "tini" &&
	test_grep "is not used (a miss)" "$T/miss.json" &&
	test_equal "$(digest_of miss)" "$(digest_of one)"
'

test_expect_success 'corrupt entries: a wrong size and a blob that fails its digest are misses with warnings' '
	rm -rf "$T/ocicache" && cp -r "$T/ocicache.orig" "$T/ocicache" &&
	tini=$(sed -n "$(( $(wc -l <"$T/ref-layers") - 2 ))p" "$T/ref-layers") &&
	src=$(tail -1 "$T/ref-layers") &&
	edit_cache "$T/ocicache" size "$tini" &&
	f="$T/ocicache/blobs/sha256/${src#sha256:}" && chmod u+w "$f" &&
	"$PYTHON" -c "import sys; f=open(sys.argv[1], \"r+b\"); f.seek(100); b=f.read(1); f.seek(100); f.write(bytes([b[0] ^ 1]))" "$f" &&
	pod_build bad "$T/hello" --cache-from "oci:$T/ocicache:bc" &&
	test_equal "$(rebuilt bad)" "tini,source" &&
	test_equal "$(grep -c "is not used (a miss)" "$T/bad.json")" 2 &&
	test_grep "blob size [0-9]* does not match the expected" "$T/bad.json" &&
	test_grep "digest mismatch" "$T/bad.json" &&
	test_equal "$(digest_of bad)" "$(digest_of one)"
'

test_expect_success 'corrupt registry storage: a blob served with the wrong bytes is a miss, the image right' '
	src=$(tail -1 "$T/ref-layers") && h=${src#sha256:} &&
	f="$REGISTRY_DIR/data/docker/registry/v2/blobs/sha256/$(echo "$h" | cut -c1-2)/$h/data" &&
	test -f "$f" && printf "tampered" >"$f" &&
	pod_build tamper "$T/hello" --cache-from "$REF" &&
	test_equal "$(rebuilt tamper)" "source" &&
	test_grep "is not used (a miss)" "$T/tamper.json" &&
	test_equal "$(digest_of tamper)" "$(digest_of one)"
'

test_done
