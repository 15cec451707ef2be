#!/bin/bash
# t_pkgcache.sh - package caches across builds: a second model with the same
# requirements installs its wheel from pip's cache (the local index logs no
# wheel download) and its Debian package from apt's (the cached .deb files
# stay the same files: apt replaces what it downloads); the caches appear in
# no layer and no cache key; two concurrent builds sharing one cache both
# succeed; apt's binary caches are in the package cache, not in the apt
# layer; a rootless user with subordinate ids gets them too;
# --no-package-cache leaves them alone; `pinion cache prune` bounds them.
. "$(dirname "$0")/lib.sh"
. "$TEST_ROOT/tests/tools/registry.sh"
. "$TEST_ROOT/tests/tools/pip_index.sh"
. "$TEST_ROOT/tests/tools/users.sh"

C="$T/cache"
# model NAME VALUE: a model with jq and the index package, its ENV differs
# (so its apt and pip steps are new to the step cache)
model() {
	mkdir -p "$T/$1" &&
	printf 'build:\n  python_version: "3.11"\n  system_packages:\n    - jq\n  python_packages:\n    - "pinion-demo-greeting==1.0.0"\nenvironment:\n  - MODEL_NAME=%s\npredict: "predict.py:Predictor"\n' "$2" >"$T/$1/cog.yaml" &&
	printf 'import subprocess\nfrom cog import BasePredictor\nimport pinion_demo_greeting\n\n\nclass Predictor(BasePredictor):\n    def predict(self, name: str) -> str:\n        jq = subprocess.run(["jq", "--version"], capture_output=True, text=True).stdout.strip()\n        return f"{pinion_demo_greeting.hello()} {jq} {name}"\n' >"$T/$1/predict.py"
}
# build NAME [OPTIONS]: into oci:$T/NAME.out, cache $C
build() {
	local m=$1; shift
	(cd "$T/$m" && PINION_CACHE_DIR="$C" pinion build $MIRROR "$@" --output "oci:$T/$m.out:m" \
		--progress plain) >"$T/$m.log" 2>&1 || { tail -30 "$T/$m.log"; return 1; }
}
wheel_gets() { grep -c "^GET /files/.* 200$" "$T/index/.access.log" || true; }
debs() { find "$C/pkgcache" -name "*.deb" -printf "%i %T@ %p\n" | sort; }

local_servers_setup models 'model a a && model b b && model c c && model d d && model e e'
# pip caches HTTP responses of https and trusted hosts only (PyPI is https)
export PIP_RETRIES=0 PIP_TRUSTED_HOST="127.0.0.1:${PIP_INDEX_PORT:-0}"

test_expect_success 'a first build fills the caches of its distribution' '
	build a &&
	test_equal "$(ls "$C/pkgcache")" "debian-12-amd64" &&
	find "$C/pkgcache/debian-12-amd64/pip" -type f | grep -q . &&
	debs >"$T/debs.a" && grep -q "/jq_.*\.deb$" "$T/debs.a" &&
	test "$(wheel_gets)" -ge 1
'

test_expect_success 'a second model with the same requirements downloads no package' '
	before=$(wheel_gets) && : >"$T/index/.access.log.mark" &&
	build b &&
	test_grep "^\[.*\] pip: done" "$T/b.log" && test_grep "^\[.*\] apt: done" "$T/b.log" &&
	test_equal "$(wheel_gets)" "$before" && test_grep "Using cached" "$T/b.log" &&
	debs >"$T/debs.b" && test_cmp "$T/debs.a" "$T/debs.b" &&
	(cd "$T" && pinion predict "oci:$T/b.out:m" -i name=x) >"$T/pred.out" 2>"$T/pred.err" ||
		{ tail -20 "$T/pred.err"; false; } &&
	test_equal "$(cat "$T/pred.out")" "hello from pinion-demo-greeting 1.0.0 jq-1.6 x"
'

test_expect_success 'the caches are in no layer' '
	for m in a b; do
		for l in $(jq -r ".layers[].digest" "$T/$m.out/blobs/sha256/$(jq -r ".manifests[0].digest" "$T/$m.out/index.json" | cut -d: -f2)" | cut -d: -f2); do
			tar -tzf "$T/$m.out/blobs/sha256/$l" 2>/dev/null || tar -tf "$T/$m.out/blobs/sha256/$l"
		done
	done >"$T/all.list" &&
	test_grep "jq" "$T/all.list" &&
	! grep -q "pinion-cache" "$T/all.list" &&
	! grep -q "\.deb$" "$T/all.list" &&
	! grep -q "\.cache/pip" "$T/all.list" &&
	! grep -q "apt.conf.d/zz-pinion" "$T/all.list"
'

# Cog mounts all of /var/cache/apt as a cache: apt's binary caches
# (pkgcache.bin, srcpkgcache.bin, ~80 MB; the base has no docker-clean that
# turns them off) go to the package cache too, never into the apt layer
test_expect_success 'apt binary caches are in the package cache, in no layer' '
	test_grep "usr/bin/jq" "$T/all.list" &&
	! grep -q "var/cache/apt/.*\.bin$" "$T/all.list" &&
	test -s "$C/pkgcache/debian-12-amd64/apt/pkgcache.bin" &&
	test -s "$C/pkgcache/debian-12-amd64/apt/srcpkgcache.bin"
'

test_expect_success 'the caches are in no cache key: without them every step is a hit' '
	build a --no-package-cache &&
	! grep -q ": done in" "$T/a.log" && test_grep "apt: cached" "$T/a.log" &&
	! grep -rqa "pinion-cache\|PIP_CACHE_DIR" "$C"/keys 2>/dev/null
'

test_expect_success '--no-package-cache: the step downloads and the caches stay as they were' '
	debs >"$T/debs.before" &&
	find "$C/pkgcache" -type f -newer "$T/debs.before" >"$T/newer.before" &&
	before=$(wheel_gets) &&
	build e --no-package-cache &&
	test "$(wheel_gets)" -gt "$before" &&
	find "$C/pkgcache" -type f -newer "$T/debs.before" >"$T/newer.after" &&
	test_cmp "$T/newer.before" "$T/newer.after"
'

test_expect_success 'two concurrent builds sharing one cache both succeed' '
	{ build c & pc=$!; } && { build d & pd=$!; } &&
	wait $pc && wait $pd &&
	test_grep "apt: done" "$T/c.log" && test_grep "apt: done" "$T/d.log" &&
	skopeo inspect "oci:$T/c.out:m" >/dev/null && skopeo inspect "oci:$T/d.out:m" >/dev/null
'

test_expect_success 'a rootless user with subordinate ids gets the caches and prunes them' '
	test_user_setup && model u u && model v v && chmod -R a+rX "$T/u" "$T/v" &&
	mkdir -p "$T/uo" && chown pinion-sub "$T/uo" &&
	for m in u v; do
		run_as pinion-sub env PIP_INDEX_URL="$PIP_INDEX_URL" PIP_TRUSTED_HOST="$PIP_TRUSTED_HOST" PIP_RETRIES=0 \
			sh -c "cd $T/$m && \"\$PINION\" build $MIRROR --output oci:$T/uo/$m:m --progress plain" \
			>"$T/$m.log" 2>&1 || { tail -30 "$T/$m.log"; exit 1; }
	done &&
	ucache="$T/.cache-pinion-sub/pkgcache/debian-12-amd64" &&
	test_equal "$(stat -c %U "$ucache/pip")" pinion-sub &&
	find "$ucache/pip" -type f | grep -q . &&
	find "$ucache/apt" -name "jq_*.deb" | grep -q . &&
	test_grep "pip: done" "$T/v.log" && test_grep "apt: done" "$T/v.log" &&
	! grep -q "Downloading http" "$T/v.log" &&
	run_as pinion-sub "$PINION" cache prune >"$T/uprune.out" 2>&1 &&
	test_equal "$(find "$ucache" -mindepth 1 ! -name apt.lock ! -name pip | wc -l)" 0
'

test_expect_success 'cache prune --max-size bounds the caches, without it removes them' '
	PINION_CACHE_DIR="$C" pinion cache prune --max-size 100K >"$T/prune.out" &&
	test_grep "bytes left" "$T/prune.out" &&
	test "$(du -sk --apparent-size "$C/pkgcache" | cut -f1)" -le 400 &&
	PINION_CACHE_DIR="$C" pinion cache prune >"$T/prune2.out" &&
	test_equal "$(find "$C/pkgcache" -mindepth 2 ! -name apt.lock ! -name pip | wc -l)" 0 &&
	! PINION_CACHE_DIR="$C" pinion cache prune --max-size 12X 2>"$T/prune.err" &&
	test_grep "bad size" "$T/prune.err"
'

test_done
