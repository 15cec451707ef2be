#!/bin/bash
# t_build_packages.sh - examples/packages: a package from a local PEP 503
# index, a Debian package (apt from Debian's mirror), a run command with a
# build secret, environment and a generated weights file in its own layer.
# Checks the prediction, the labels, the layers, that the secret's bytes are
# in no blob, label or cache entry, and that an unknown apt package stops the
# build at the `apt` step with the layout unchanged.
. "$(dirname "$0")/lib.sh"
. "$TEST_ROOT/tests/tools/registry.sh"
. "$TEST_ROOT/tests/tools/pip_index.sh"


SECRET="pinion-secret-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
printf '%s' "$SECRET" >"$T/token"
model="$T/packages"
cp -r "$TEST_ROOT/examples/packages" "$model"
rm -rf "$model/.pinion"

# started here, not in a case: cases run in a subshell and would lose its cleanup
base_registry_start 'setup: registry, base image, local index, weights' '
	mkdir -p "$T/index/files" &&
	wheel_make pinion-demo-greeting 1.0.0 "$T/index/files" >/dev/null &&
	sh "$model/make-weights.sh" "$model" &&
	test "$(stat -c %s "$model/weights/model.bin")" -ge 10485760'
pip_index_start "$T/index" && at_exit pip_index_stop
export PIP_RETRIES=0

test_expect_success 'build examples/packages with a secret' '
	(cd "$model" && pinion build $MIRROR --secret id=token,src="$T/token" --output "oci:$T/out:pkg" \
		--progress plain) >"$T/build.out" 2>"$T/build.err" || { tail -40 "$T/build.err"; false; } &&
	skopeo inspect "oci:$T/out:pkg" >"$T/inspect.json"
'

test_expect_success 'the prediction uses the package, jq, the environment and the weights' '
	w=$(sha256sum "$model/weights/model.bin" | cut -c1-12) &&
	(cd "$T" && pinion predict "oci:$T/out:pkg" -i name=e2e) >"$T/pred.out" 2>"$T/pred.err" ||
		{ tail -20 "$T/pred.err"; false; } &&
	test_equal "$(cat "$T/pred.out")" "hello from pinion-demo-greeting 1.0.0: hi e2e (friendly; jq-1.6; weights $w)"
'

test_expect_success 'pip_freeze lists the package from the local index' '
	jq -r ".Labels[\"run.cog.pip_freeze\"]" "$T/inspect.json" >"$T/freeze" &&
	test_grep "^pinion-demo-greeting==1.0.0$" "$T/freeze"
'

test_expect_success 'the weights file is a layer of its own, before the source layer' '
	skopeo inspect --raw "oci:$T/out:pkg" >"$T/manifest.json" &&
	n=$(jq ".layers | length" "$T/manifest.json") &&
	src=$(jq -r ".layers[$((n - 1))].digest" "$T/manifest.json" | cut -d: -f2) &&
	wl=$(jq -r ".layers[$((n - 2))].digest" "$T/manifest.json" | cut -d: -f2) &&
	tar -tf "$T/out/blobs/sha256/$wl" >"$T/weights.list" &&
	test_grep "^src/weights/model.bin$" "$T/weights.list" &&
	tar -tzf "$T/out/blobs/sha256/$src" >"$T/source.list" &&
	test_grep "^src/predict.py$" "$T/source.list" &&
	! grep -q "model.bin" "$T/source.list"
'

test_expect_success 'the /src tree is the same with and without --separate-weights' '
	(cd "$model" && pinion build $MIRROR --secret id=token,src="$T/token" --separate-weights=false \
		--output "oci:$T/out:single") >/dev/null 2>"$T/single.err" || { tail -20 "$T/single.err"; false; } &&
	mkdir -p "$T/u1" "$T/u2" &&
	pinion unpack "oci:$T/out:pkg" "$T/u1/root" >/dev/null &&
	pinion unpack "oci:$T/out:single" "$T/u2/root" >/dev/null &&
	(cd "$T/u1/root/src" && find . -printf "%p %m %s\n" | sort) >"$T/tree1" &&
	(cd "$T/u2/root/src" && find . -printf "%p %m %s\n" | sort) >"$T/tree2" &&
	test_cmp "$T/tree1" "$T/tree2" &&
	test_grep "./weights/model.bin" "$T/tree1"
'

test_expect_success 'the run command saw the secret; its bytes are in no blob, label or cache entry' '
	{ test -s "$T/u1/root/etc/pinion-secret-check" || { echo "run command did not see the secret"; false; }; } &&
	{ ! test -e "$T/u1/root/run/secrets/token" || { echo "secret target left in the image"; ls -la "$T/u1/root/run/secrets"; false; }; } &&
	for b in "$T"/out/blobs/sha256/*; do
		if { if gzip -t "$b" 2>/dev/null; then zcat "$b"; else cat "$b"; fi; } | grep -qF "$SECRET"; then
			echo "secret found in $b"; exit 1
		fi
	done &&
	{ ! grep -rqF "$SECRET" "$PINION_CACHE_DIR/build/keys" || { echo "secret in a cache entry"; false; }; } &&
	{ ! grep -qF "$SECRET" "$T/inspect.json" || { echo "secret in a label"; false; }; } &&
	{ ! grep -qF "$SECRET" "$T/build.err" || { echo "secret in the build log"; false; }; }
'

test_expect_success 'an unknown apt package stops at the apt step, status 1, layout unchanged' '
	before=$(sha256sum <"$T/out/index.json") &&
	mkdir -p "$T/badapt" && cp "$TEST_ROOT/examples/hello/predict.py" "$T/badapt/" &&
	printf "build:\n  python_version: \"3.11\"\n  system_packages:\n    - pinion-no-such-package\npredict: predict.py:Predictor\n" >"$T/badapt/cog.yaml" &&
	(cd "$T/badapt" && pinion build $MIRROR --output "oci:$T/out:pkg") >/dev/null 2>"$T/badapt.err";
	test_equal $? 1 &&
	test_grep "step \`apt\`" "$T/badapt.err" &&
	test_equal "$(sha256sum <"$T/out/index.json")" "$before"
'

test_done
