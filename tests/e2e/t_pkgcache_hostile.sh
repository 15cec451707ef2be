#!/bin/bash
# t_pkgcache_hostile.sh - a hostile RUN step and the package caches shared
# across builds (docs/SECURITY.md "Package caches"): it plants links to the
# user's files in the pip and apt caches and overwrites a cached .deb with a
# file of the same size; `pinion cache prune` never follows the links; what
# apt then does with the .deb is the documented trust (apt checks the size of
# a cached archive, not its hash: the next build on that base fails at dpkg,
# and a crafted .deb would be installed); an os-release of ID=../../x keeps
# its cache below pkgcache/ and prune reaches it; with --no-package-cache a
# step sees no cache and changes none.
. "$(dirname "$0")/lib.sh"
. "$TEST_ROOT/tests/tools/registry.sh"
. "$TEST_ROOT/tests/tools/pip_index.sh"

C="$T/cache"
V="$T/victim"
# model NAME VALUE [RUN [RUN2]]: a model with jq, MODEL_NAME=VALUE, run commands
model() {
	mkdir -p "$T/$1" &&
	printf 'build:\n  python_version: "3.11"\n  system_packages:\n    - jq\n  run:\n    - "%s"\n    - "%s"\nenvironment:\n  - MODEL_NAME=%s\npredict: "predict.py:Predictor"\n' \
		"${3:-true}" "${4:-true}" "$2" >"$T/$1/cog.yaml" &&
	printf 'import subprocess\nfrom cog import BasePredictor\n\n\nclass Predictor(BasePredictor):\n    def predict(self, name: str) -> str:\n        return subprocess.run(["jq", "--version"], capture_output=True, text=True).stdout.strip()\n' >"$T/$1/predict.py"
}
build() {
	local m=$1; shift
	(cd "$T/$m" && PINION_CACHE_DIR="$C" pinion build $MIRROR "$@" --output "oci:$T/$m.out:m" \
		--progress plain) >"$T/$m.log" 2>&1
}
build_ok() { build "$@" || { tail -30 "$T/$1.log"; return 1; }; }
# the hostile step: links to $V in both caches, every cached .deb zeroed
PLANT="apt-get --version >/dev/null; ln -s $V /run/pinion-cache/pip/evil-dir; ln -s $V/keep /run/pinion-cache/pip/evil-file; ln -s $V /run/pinion-cache/apt/evil.deb; for f in /run/pinion-cache/apt/*.deb; do [ -L \$f ] || { head -c \$(stat -c %s \$f) /dev/zero >\$f.x; mv \$f.x \$f; }; done"
OSREL="rm -f /etc/os-release; echo ID=../../../escape >/etc/os-release; echo VERSION_ID=.. >>/etc/os-release"
REAPT="apt-get update -qq; apt-get install -qqy --reinstall jq"
NOCACHE="test -e /run/pinion-cache/pip || echo unseen >/cache-unseen; mkdir -p /run/pinion-cache/pip; touch /run/pinion-cache/pip/planted"

registry_start plain >"$T/registry.log" 2>&1 || echo "# registry did not start: $(cat "$T/registry.log")"
test_expect_success 'setup: registry, base image, models, a victim dir of the user' '
	base=$(fixture_base_layout) &&
	pinion copy "oci:$base:library/python:3.11-slim" "$REGISTRY/library/python:3.11-slim" >/dev/null &&
	echo "$REGISTRY" >"$T/registry" &&
	mkdir -p "$V" && echo precious >"$V/keep" && touch -d "2000-01-01" "$V/keep" &&
	model a a && model h h "$PLANT" && model b b && model o o "$OSREL" "$REAPT" && model n n "$NOCACHE"
'
REGISTRY=$(cat "$T/registry" 2>/dev/null || echo 127.0.0.1:1)
MIRROR="--registry-mirror docker.io=$REGISTRY --registry-mirror r8.im=$REGISTRY"
K="$C/pkgcache/debian-12-amd64"

test_expect_success 'a first build fills the apt cache' '
	build_ok a &&
	find "$K/apt" -name "jq_*.deb" | grep -q .
'

test_expect_success 'a hostile RUN step plants links and a same-size zeroed .deb in the caches' '
	build_ok h &&
	test -L "$K/pip/evil-dir" && test -L "$K/pip/evil-file" && test -L "$K/apt/evil.deb" &&
	deb=$(find "$K/apt" -name "jq_*.deb" | head -1) &&
	cmp -s "$deb" /dev/zero -n "$(stat -c %s "$deb")"
'

test_expect_success 'documented trust: apt takes the cached .deb by its size (dpkg refuses the zeroed one)' '
	! build b &&
	test_grep "dpkg.*jq_.*deb" "$T/b.log" &&
	test_equal "$(cat "$V/keep")" precious
'

test_expect_success 'pinion cache prune removes the links and never follows them' '
	PINION_CACHE_DIR="$C" pinion cache prune --max-size 1K >"$T/prune1.out" &&
	test_equal "$(cat "$V/keep")" precious &&
	PINION_CACHE_DIR="$C" pinion cache prune >"$T/prune2.out" &&
	test_equal "$(cat "$V/keep")" precious && test -d "$V" &&
	! test -L "$K/pip/evil-dir" && ! test -L "$K/pip/evil-file" && ! test -e "$K/apt"
'

test_expect_success 'after the prune the next build on that base is right again' '
	build_ok b &&
	(cd "$T" && pinion predict "oci:$T/b.out:m" -i name=x) >"$T/pred.out" 2>"$T/pred.err" &&
	test_equal "$(cat "$T/pred.out")" "jq-1.6"
'

test_expect_success 'an os-release of ID=../../../escape: its cache stays below pkgcache/, prune reaches it' '
	build_ok o &&
	ls -a "$C/pkgcache" >"$T/keys" &&
	test_grep "^\.\._\.\._\.\._escape-\.\.-amd64$" "$T/keys" &&
	! test -e "$(dirname "$T")/escape-..-amd64" &&
	test_equal "$(find "$T" "$C" -maxdepth 2 -name "*escape*" ! -path "$C/pkgcache/*" | wc -l)" 0 &&
	find "$C/pkgcache/.._.._.._escape-..-amd64/apt" -name "*.deb" | grep -q . &&
	PINION_CACHE_DIR="$C" pinion cache prune >"$T/prune3.out" &&
	find "$C/pkgcache/.._.._.._escape-..-amd64" -type f ! -name apt.lock >"$T/left" &&
	test_equal "$(wc -l <"$T/left")" 0 || { cat "$T/prune3.out" "$T/left"; false; }
'

test_expect_success '--no-package-cache: a step sees no cache and plants nothing in it' '
	find "$C/pkgcache" | sort >"$T/before" &&
	build_ok n --no-package-cache &&
	find "$C/pkgcache" | sort >"$T/after" &&
	test_cmp "$T/before" "$T/after" &&
	for l in $(jq -r ".layers[].digest" "$T/n.out/blobs/sha256/$(jq -r ".manifests[0].digest" "$T/n.out/index.json" | cut -d: -f2)" | cut -d: -f2); do
		tar -tzf "$T/n.out/blobs/sha256/$l" 2>/dev/null || tar -tf "$T/n.out/blobs/sha256/$l"
	done >"$T/n.list" &&
	test_grep "cache-unseen" "$T/n.list"
'

test_done
