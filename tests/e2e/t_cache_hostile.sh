#!/bin/bash
# t_cache_hostile.sh - a hostile --cache-from (docs/SECURITY.md "The registry
# build cache"): an artifact written by someone else, edited by hand.  Entries
# whose layer claims a huge or negative size, a digest of another algorithm
# or with path characters, a config blob that is huge or nested too deep are
# refused with a warning and the image is the one a cold build gives; the
# urls and annotations of a layer descriptor are dropped (never fetched); a
# config descriptor whose size is over the bound is not fetched at all (a
# proxy offers an endless body); an entry naming another valid layer is used
# as is (the documented trust in whoever writes the cache REF).
. "$(dirname "$0")/lib.sh"
. "$TEST_ROOT/tests/tools/registry.sh"

registry_start plain >"$T/registry.log" 2>&1 || echo "# registry did not start: $(cat "$T/registry.log")"
test_expect_success 'setup: registry with the base, a cold build exporting its cache' '
	base=$(fixture_base_layout) &&
	pinion copy "oci:$base:library/python:3.11-slim" "$REGISTRY/library/python:3.11-slim" >/dev/null &&
	echo "$REGISTRY" >"$T/registry"
'
REG=$(cat "$T/registry" 2>/dev/null || echo 127.0.0.1:1)
MIRROR="--registry-mirror docker.io=$REG --registry-mirror r8.im=$REG"
cp -r "$TEST_ROOT/examples/hello" "$T/hello" && rm -rf "$T/hello/.pinion"

# build NAME [OPTIONS]: a build with an empty cache dir of its own
build() {
	local name=$1
	shift
	mkdir -p "$T/pod-$name" &&
		(cd "$T/hello" && PINION_CACHE_DIR="$T/pod-$name" pinion build $MIRROR --progress json \
			--output "oci:$T/out-$name:img" "$@") >"$T/$name.out" 2>"$T/$name.json" ||
		{ grep -v "^{" "$T/$name.json" | tail -20; return 1; }
}
rebuilt() { grep "^{" "$T/$1.json" | jq -s -r "map(select(.event == \"step\" and (.cached | not))) | map(.step) | join(\",\")"; }
digest_of() { awk "{print \$2}" "$T/$1.out"; }
# the diff_ids of an image: the same files (a cold build has new timestamps)
diffs_of() { skopeo inspect --config "oci:$T/out-$1:img" | jq -c .rootfs.diff_ids; }
# hostile NAME WHAT [LAYER [OTHER]]: oci:$T/h-NAME:bc, the good cache edited
hostile() {
	rm -rf "$T/h-$1" && cp -r "$T/good" "$T/h-$1" && "$PYTHON" - "$T/h-$1" "$2" "${3:-}" "${4:-}" <<-"EOF"
	import hashlib, json, sys
	d, what, layer, other = sys.argv[1:5]
	ix = json.load(open(d + "/index.json"))
	m = ix["manifests"][0]
	blob = lambda dg: d + "/blobs/sha256/" + dg.split(":")[1]
	man = json.load(open(blob(m["digest"])))
	doc = json.load(open(blob(man["config"]["digest"])))
	ents = doc["entries"]
	by_layer = {e["layer"]["digest"]: k for k, e in ents.items() if "layer" in e}
	e = ents.get(by_layer.get(layer, ""), {})
	if what == "huge":
	    e["layer"]["size"] = 1 << 62
	elif what == "negative":
	    e["layer"]["size"] = -5
	elif what == "urls":
	    e["layer"]["urls"] = ["http://127.0.0.1:1/evil"]
	    e["layer"]["annotations"] = {"evil": "1"}
	elif what == "sha512":
	    e["layer"]["digest"] = "sha512:" + "ab" * 64
	elif what == "pathdigest":
	    e["layer"]["digest"] = "sha256:../../../../../../../" + d + "/escaped"
	elif what == "pathkey":
	    ents["sha256:../../../" + d + "/escaped"] = ents.pop(by_layer[layer])
	elif what == "swap":
	    o = ents[by_layer[other]]
	    e["layer"], e["diff_id"] = dict(o["layer"]), o["diff_id"]
	body = json.dumps(doc).encode()
	if what == "bigdoc":
	    body = body[:-1] + b", \"pad\": \"" + b"x" * (65 << 20) + b"\"}"
	elif what == "deep":
	    body = b"{\"v\": 1, \"entries\": {\"sha256:" + b"0" * 64 + b"\": {\"data\": " + b"[" * 100000 + b"]" * 100000 + b"}}}"
	def put(b):
	    dg = "sha256:" + hashlib.sha256(b).hexdigest()
	    open(blob(dg), "wb").write(b)
	    return dg, len(b)
	man["config"]["digest"], man["config"]["size"] = put(body)
	m["digest"], m["size"] = put(json.dumps(man).encode())
	json.dump(ix, open(d + "/index.json", "w"))
	EOF
}

test_expect_success 'a cold build exports its cache (the reference image)' '
	build one --cache-to "oci:$T/good:bc" &&
	test_equal "$(rebuilt one)" "tini,cog,source,post-build" &&
	skopeo inspect --raw "oci:$T/out-one:img" | jq -r ".layers[].digest" | tail -n 3 >"$T/layers" &&
	test_equal "$(wc -l <"$T/layers")" 3
'
TINI=$(sed -n 1p "$T/layers" 2>/dev/null)
SRC=$(sed -n 3p "$T/layers" 2>/dev/null)

test_expect_success 'a layer that claims a huge or a negative size is a miss with a warning' '
	for w in huge negative; do
		hostile $w $w "$TINI" &&
		build $w --cache-from "oci:$T/h-$w:bc" &&
		test_equal "$(rebuilt $w)" "tini" &&
		test_grep "is not used (a miss)" "$T/$w.json" &&
		test_equal "$(digest_of $w)" "$(digest_of one)" || return 1
	done
'

test_expect_success 'urls and annotations of a layer are dropped, never fetched' '
	hostile urls urls "$TINI" &&
	build urls --cache-from "oci:$T/h-urls:bc" --cache-to "oci:$T/reexp:bc" &&
	test_equal "$(rebuilt urls)" "" &&
	test_equal "$(digest_of urls)" "$(digest_of one)" &&
	skopeo inspect --raw "oci:$T/out-urls:img" >"$T/urls.manifest" &&
	! grep -q "127.0.0.1:1" "$T/urls.manifest" &&
	cfg=$(skopeo inspect --raw "oci:$T/reexp:bc" | jq -r .config.digest) &&
	! grep -q "evil" "$T/reexp/blobs/sha256/${cfg#sha256:}"
'

test_expect_success 'a digest of another algorithm or with path characters: refused with a warning' '
	for w in sha512 pathdigest pathkey; do
		hostile $w $w "$TINI" &&
		build $w --cache-from "oci:$T/h-$w:bc" &&
		test_equal "$(rebuilt $w)" "tini" &&
		test_grep "1 malformed entries ignored" "$T/$w.json" &&
		test_equal "$(digest_of $w)" "$(digest_of one)" &&
		! find "$T" -name escaped | grep -q . || return 1
	done
'

test_expect_success 'a config blob over the bound or nested too deep: the cache is not used' '
	for w in bigdoc deep; do
		hostile $w $w &&
		build $w --cache-from "oci:$T/h-$w:bc" &&
		test_equal "$(rebuilt $w)" "tini,cog,source,post-build" &&
		test_grep "cache .*not used" "$T/$w.json" &&
		test_equal "$(diffs_of $w)" "$(diffs_of one)" || return 1
	done
'

test_expect_success 'a registry artifact whose config claims 200 MB: not fetched (an endless body waits)' '
	build reg --cache-to "$REG/cache/hello:bc" &&
	curl -fsS -H "Accept: application/vnd.oci.image.manifest.v1+json" \
		"http://$REG/v2/cache/hello/manifests/bc" >"$T/art.json" &&
	cfg=$(jq -r .config.digest "$T/art.json") &&
	jq -c ".config.size = 209715200" "$T/art.json" >"$T/art-big.json" &&
	curl -fsS -X PUT -H "Content-Type: application/vnd.oci.image.manifest.v1+json" \
		--data-binary "@$T/art-big.json" "http://$REG/v2/cache/hello/manifests/big" &&
	fault_proxy_start cfg --huge-size 209715200 --fault "huge:100:0:^GET /v2/.+/blobs/$cfg" &&
	build big --cache-from "$PROXY/cache/hello:big" &&
	test_equal "$(rebuilt big)" "tini,cog,source,post-build" &&
	test_grep "at most" "$T/big.json" &&
	test_equal "$(fault_proxy_stat faults.huge)" 0 &&
	test_equal "$(diffs_of big)" "$(diffs_of one)"
'

test_expect_success 'documented trust: an entry naming another valid layer is used as is' '
	hostile swap swap "$SRC" "$TINI" &&
	build swap --cache-from "oci:$T/h-swap:bc" &&
	skopeo inspect --raw "oci:$T/out-swap:img" | jq -r ".layers[].digest" | tail -n 3 >"$T/swap.layers" &&
	test_equal "$(sed -n 3p "$T/swap.layers")" "$TINI"
'

test_done
