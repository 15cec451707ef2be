#!/bin/bash
# t_weights_push.sh - build --push streams a weights layer from the model
# file to the registry: no blob of it in the cache layout, the same digest as
# a layout build of the same model, a connection reset mid-upload resumes
# (the chunk is kept in memory) to the same digest, an upload session the
# registry loses starts again in a new one from the file's first byte (and
# fails in one line if the file changed meanwhile), and a second push asks the
# registry (HEAD) and sends none of it again.  The registry is the real
# docker-registry; skopeo reads what was pushed.
. "$(dirname "$0")/lib.sh"
. "$TEST_ROOT/tests/tools/registry.sh"

SIZE=20971520
base_registry_start 'setup: registry, a model with 20 MiB of weights' '
	cp -r "$TEST_ROOT/examples/hello" "$T/m" && rm -rf "$T/m/.pinion" &&
	mkdir -p "$T/m/weights" &&
	head -c '$SIZE' /dev/urandom >"$T/m/weights/model.bin"'

# pb CACHE [OPTIONS]: build the model with its own cache dir
pb() {
	local c=$1; shift
	(cd "$T/m" && PINION_CACHE_DIR="$T/$c" "$PINION" build $MIRROR --separate-weights \
		--use-cog-base-image=false --progress json "$@") >"$T/$c.out" 2>"$T/$c.err" ||
		{ tail -20 "$T/$c.err"; return 1; }
}

# weights_layer REF: the digest of the layer of the weights size in a pushed image
weights_layer() {
	skopeo inspect --raw --tls-verify=false "docker://$1" |
		jq -r ".layers[] | select(.size > $SIZE and .size < $SIZE + 65536) | .digest"
}

# weights_size_files DIR: files of the weights layer size under DIR (a blob
# or a temporary copy of it)
weights_size_files() {
	find "$1" -type f -size +$((SIZE / 1024 - 1))k -size -$((SIZE / 1024 + 64))k | wc -l
}

no_big_file() {
	test_equal "$(weights_size_files "$1")" 0
}

test_expect_success 'a layout build gives the reference digest' '
	pb lay --output "oci:$T/lay:w" &&
	skopeo inspect --raw "oci:$T/lay:w" |
		jq -r ".layers[] | select(.size > $SIZE and .size < $SIZE + 65536) | .digest" >"$T/want" &&
	test_equal "$(wc -l <"$T/want")" 1
'

test_expect_success 'build --push streams the weights: no blob in the cache, the same digest' '
	pb pushc --push -t "$REGISTRY/m:v1" &&
	no_big_file "$T/pushc" &&
	test_grep "\"digest\":\"$(cat "$T/want")\"" "$T/pushc.err" &&
	test_equal "$(weights_layer "$REGISTRY/m:v1")" "$(cat "$T/want")" &&
	curl -sf "http://$REGISTRY/v2/m/blobs/$(cat "$T/want")" >"$T/got.blob" &&
	cmp "$T/got.blob" "$T/lay/blobs/sha256/$(cut -d: -f2 "$T/want")" &&
	tar -tvf "$T/got.blob" >"$T/got.list" &&
	test_grep "weights/model.bin" "$T/got.list"
'

test_expect_success 'a connection reset mid-upload resumes to the same digest' '
	fault_proxy_start reset --fault reset-upload:1:3 &&
	pb resetc --chunk-size 1M --push -t "$PROXY/reset:v1" &&
	test_equal "$(fault_proxy_stat faults.reset-upload)" 1 &&
	sent=$(fault_proxy_stat patch_body_bytes) &&
	all=$(skopeo inspect --raw --tls-verify=false "docker://$REGISTRY/reset:v1" |
		jq "[.layers[].size] | add") &&
	echo "layers $all bytes (weights $SIZE), PATCH bodies $sent bytes" &&
	test "$sent" -gt $SIZE &&
	test "$sent" -le $((all + 1048576)) &&
	no_big_file "$T/resetc" &&
	test_equal "$(weights_layer "$REGISTRY/reset:v1")" "$(cat "$T/want")"
'

test_expect_success 'an upload that keeps being reset stops the build with the error' '
	fault_proxy_start broken --fault reset-upload:1000:2 &&
	! pb brokenc --chunk-size 1M --retries 1 --push -t "$PROXY/broken:v1" &&
	test_grep "gave up after 2 failed chunks" "$T/brokenc.err" &&
	test_grep "weights/model.bin" "$T/brokenc.err" &&
	no_big_file "$T/brokenc"
'

test_expect_success 'a second push finds the blob in the registry and sends none of it' '
	fault_proxy_start again &&
	pb resetc --chunk-size 1M --push -t "$PROXY/reset:v2" &&
	test_equal "$(fault_proxy_stat by_method.PATCH)" 0 &&
	test "$(fault_proxy_stat by_method.HEAD)" -ge 1 &&
	test_equal "$(weights_layer "$REGISTRY/reset:v2")" "$(cat "$T/want")" &&
	no_big_file "$T/resetc"
'

test_expect_success 'gc of a cache whose image names a streamed layer keeps the rest' '
	PINION_CACHE_DIR="$T/pushc" "$PINION" gc >"$T/gc.out" 2>&1 ||
		{ cat "$T/gc.out"; false; } &&
	pb pushc --push -t "$REGISTRY/m:v3" &&
	test_equal "$(weights_layer "$REGISTRY/m:v3")" "$(cat "$T/want")" &&
	pb pushc --output "oci:$T/lay2:w" &&
	skopeo inspect --raw "oci:$T/lay2:w" | jq -r ".layers[].digest" >"$T/lay2.layers" &&
	test_grep "$(cat "$T/want")" "$T/lay2.layers"
'

test_expect_success 'an upload session the registry loses starts again in a new one' '
	fault_proxy_start lost --fault lose-upload:1:3 &&
	pb lostc --chunk-size 1M --push -t "$PROXY/lost:v1" &&
	test_equal "$(fault_proxy_stat faults.lose-upload)" 1 &&
	sent=$(fault_proxy_stat patch_body_bytes) &&
	echo "PATCH bodies $sent bytes (weights $SIZE)" &&
	test "$sent" -gt $((SIZE + 3 * 1048576)) &&
	no_big_file "$T/lostc" &&
	test_equal "$(weights_layer "$REGISTRY/lost:v1")" "$(cat "$T/want")"
'

test_expect_success 'a weights file changed before a lost upload starts again fails in one line' '
	cp "$T/m/weights/model.bin" "$T/model.orig" &&
	test_when_finished "cp $T/model.orig $T/m/weights/model.bin" &&
	fault_proxy_start changed --fault "lose-upload:1:0:^PUT .*$(cut -d: -f2 "$T/want")" \
		--on-fault "dd if=/dev/urandom of=$T/m/weights/model.bin bs=4096 count=1 seek=8 conv=notrunc status=none" &&
	(cd "$T/m" && export PINION_CACHE_DIR="$T/changedc" &&
		test_expect_failure_status 1 "$PINION" build $MIRROR --separate-weights \
			--use-cog-base-image=false --progress quiet --chunk-size 1M \
			--push -t "$PROXY/changed:v1" 2>"$T/changed.err") &&
	one_error_line "$T/changed.err" &&
	test_grep "weights/model.bin. changed during the build" "$T/changed.err" &&
	test_equal "$(fault_proxy_stat faults.lose-upload)" 1 &&
	no_big_file "$T/changedc" &&
	! skopeo inspect --raw --tls-verify=false "docker://$REGISTRY/changed:v1" >/dev/null 2>&1
'

test_expect_success 'the layout-blob path (PINION_NO_STREAM_PUSH) pushes the same digest' '
	PINION_NO_STREAM_PUSH=1 pb oldc --push -t "$REGISTRY/old:v1" &&
	test_equal "$(weights_layer "$REGISTRY/old:v1")" "$(cat "$T/want")" &&
	test "$(weights_size_files "$T/oldc")" -ge 1
'

test_done
