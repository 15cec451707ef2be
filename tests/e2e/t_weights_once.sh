#!/bin/bash
# t_weights_once.sh - a weights file is read once per build: the first build
# hashes it for the cache key and for the layer in one pass (strace counts
# the bytes pinion reads from it), the memo then holds its sha256; a rebuild
# with the step cache reads nothing of it; --no-cache reads it once (for the
# blob) and gives the same layer digest.
. "$(dirname "$0")/lib.sh"
. "$TEST_ROOT/tests/tools/registry.sh"

SIZE=67108864
if ! command -v strace >/dev/null; then
	test_skip 'a weights file is read once' "no strace"
	test_done
fi
registry_start plain >"$T/registry.log" 2>&1 || echo "# registry did not start: $(cat "$T/registry.log")"
test_expect_success 'setup: registry, a model with 64 MiB of weights' '
	base=$(fixture_base_layout) &&
	pinion copy "oci:$base:library/python:3.11-slim" "$REGISTRY/library/python:3.11-slim" >/dev/null &&
	echo "$REGISTRY" >"$T/registry" &&
	cp -r "$TEST_ROOT/examples/hello" "$T/m" && rm -rf "$T/m/.pinion" &&
	mkdir -p "$T/m/weights" &&
	head -c $SIZE /dev/urandom >"$T/m/weights/model.bin"
'
REGISTRY=$(cat "$T/registry" 2>/dev/null || echo 127.0.0.1:1)
MIRROR="--registry-mirror docker.io=$REGISTRY --registry-mirror r8.im=$REGISTRY"

# build NAME [OPTIONS]: traced (pinion's own process: the layer writer runs
# there); $T/NAME.read = bytes it read from model.bin, $T/NAME.weights = the
# weights layer's digest.  LeakSanitizer cannot run under ptrace: a SANITIZE=
# build is traced with leak detection off (other suites check its leaks).
build() {
	local n=$1; shift
	(cd "$T/m" && PINION_CACHE_DIR="$T/cache" ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" strace -y -e trace=read,pread64 -e signal=none \
		-o "$T/$n.trace" "$PINION" build $MIRROR --separate-weights --use-cog-base-image=false \
		--output "oci:$T/$n.out:w" --progress plain "$@") >"$T/$n.log" 2>&1 ||
		{ tail -20 "$T/$n.log"; return 1; }
	grep "model.bin>" "$T/$n.trace" | sed -n "s/.*) = \([0-9]*\)$/\1/p" |
		awk "{ s += \$1 } END { print s + 0 }" >"$T/$n.read"
	skopeo inspect --raw "oci:$T/$n.out:w" |
		jq -r ".layers[] | select(.size > $SIZE and .size < $SIZE + 65536) | .digest" >"$T/$n.weights"
	test_equal "$(wc -l <"$T/$n.weights")" 1
}

test_expect_success 'the first build reads the weights once, for the key and the layer' '
	build first &&
	test_equal "$(cat "$T/first.read")" $SIZE &&
	d=$(cut -d: -f2 "$T/first.weights") &&
	test_equal "$(sha256sum <"$T/first.out/blobs/sha256/$d" | cut -d" " -f1)" "$d" &&
	want="sha256:$(sha256sum <"$T/m/weights/model.bin" | cut -d" " -f1)" &&
	cat "$T"/cache/build/memo/*.json >"$T/memo" &&
	test_grep "$want" "$T/memo"
'

test_expect_success 'a rebuild with the step cache reads none of it' '
	build again &&
	test_equal "$(cat "$T/again.read")" 0 &&
	test_equal "$(cat "$T/again.weights")" "$(cat "$T/first.weights")"
'

test_expect_success '--no-cache reads it once and writes the same layer' '
	build nocache --no-cache &&
	test_equal "$(cat "$T/nocache.read")" $SIZE &&
	test_equal "$(cat "$T/nocache.weights")" "$(cat "$T/first.weights")"
'

test_expect_success 'a changed weights file: read once, a new layer, the memo follows' '
	head -c $SIZE /dev/urandom >"$T/m/weights/model.bin" &&
	build changed &&
	test_equal "$(cat "$T/changed.read")" $SIZE &&
	! test_equal "$(cat "$T/changed.weights")" "$(cat "$T/first.weights")" >/dev/null &&
	want="sha256:$(sha256sum <"$T/m/weights/model.bin" | cut -d" " -f1)" &&
	cat "$T"/cache/build/memo/*.json >"$T/memo2" &&
	test_grep "$want" "$T/memo2"
'

# no RUN step follows the weights: their layers leave the chain as it was
test_expect_success 'new weights rebuild their own layer only: the source layer and the post-build are cached' '
	test_grep "source: cached" "$T/changed.log" &&
	test_grep "post-build: cached" "$T/changed.log" &&
	skopeo inspect --config "oci:$T/changed.out:w" >"$T/changed.config" &&
	jq -e ".config.Labels[\"run.cog.openapi_schema\"] | fromjson | .openapi" "$T/changed.config" >/dev/null &&
	test_equal "$(jq -r ".rootfs.diff_ids | length" "$T/changed.config")" \
		"$(skopeo inspect --config "oci:$T/first.out:w" | jq -r ".rootfs.diff_ids | length")"
'

test_expect_success 'new weights and an edited predict.py: the source layer and the post-build run again' '
	head -c $SIZE /dev/urandom >"$T/m/weights/model.bin" &&
	echo "# edited" >>"$T/m/predict.py" &&
	build edited &&
	test_grep "source: done" "$T/edited.log" &&
	test_grep "post-build: done" "$T/edited.log" &&
	! test_equal "$(cat "$T/edited.weights")" "$(cat "$T/changed.weights")" >/dev/null
'

# Cog leaves a directory of weights out of `COPY . /src` (its .dockerignore):
# the directory comes with its weights, the source layer stays as it was
test_expect_success 'a new directory of weights only: the source layer and the post-build are cached' '
	mkdir -p "$T/m/ckpt/v2" && head -c 12582912 /dev/urandom >"$T/m/ckpt/v2/step.bin" &&
	chmod 0750 "$T/m/ckpt" &&
	build newdir &&
	test_grep "ckpt/v2/step.bin" "$T/newdir.log" &&
	test_grep "source: cached" "$T/newdir.log" &&
	test_grep "post-build: cached" "$T/newdir.log" &&
	umoci unpack --rootless --image "$T/newdir.out:w" "$T/newdir.bundle" >/dev/null &&
	test_equal "$(stat -c %a "$T/newdir.bundle/rootfs/src/ckpt")" 750 &&
	cmp "$T/m/ckpt/v2/step.bin" "$T/newdir.bundle/rootfs/src/ckpt/v2/step.bin"
'

test_expect_success 'a small file among those weights puts the directory in the source layer' '
	echo "{}" >"$T/m/ckpt/config.json" &&
	build smallfile &&
	test_grep "source: done" "$T/smallfile.log" &&
	umoci unpack --rootless --image "$T/smallfile.out:w" "$T/smallfile.bundle" >/dev/null &&
	test_equal "$(stat -c %a "$T/smallfile.bundle/rootfs/src/ckpt")" 750 &&
	test -f "$T/smallfile.bundle/rootfs/src/ckpt/config.json" &&
	cmp "$T/m/ckpt/v2/step.bin" "$T/smallfile.bundle/rootfs/src/ckpt/v2/step.bin"
'

test_done
