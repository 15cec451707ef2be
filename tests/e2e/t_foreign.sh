#!/bin/bash
# t_foreign.sh - base images whose layers pinion did not write (issue 10):
# Go's archive/tar through buildah, Python's tarfile in PAX, GNU and ustar,
# GNU tar's sparse formats, Docker-style whiteouts (tests/tools/foreign_layers.py).
# For each base and each locale (LANG/LC_ALL unset, C, C.UTF-8, a non-UTF-8
# en_US.ISO-8859-1), `pinion unpack` must give the tree `umoci unpack` gives
# (names and link targets byte for byte, types, modes, owners, sizes,
# content, hard links, user xattrs: tests/tools/tree_list.py), and `pinion
# run` must show the same tree inside the sandbox.  Then a whole rootless
# build of examples/hello on each python base, by a user with subordinate ids
# and one without, in a C and a non-UTF-8 locale, and the built image still
# holds the base's entries.  pinion itself calls no setlocale(): the locale
# reaches libarchive only if that changes (these cases then guard it) and
# reaches the sandboxed processes (python, pip) of run and build.
# The old-GNU-sparse base is compared with the tree its layer was made from
# (umoci cannot read typeflag S); the rootless unpacks with umoci --rootless.
. "$(dirname "$0")/lib.sh"

TAG=library/python:3.11-slim
LIST="$TEST_ROOT/tests/tools/tree_list.py"
BASES="buildah tarfile gnusparse"
LOCALES="unset C C.UTF-8 iso"
# where `pinion run` looks: the foreign trees, whiteout targets, the
# ca-certificates names of the original report
RUN_PATHS="opt etc/ssl/certs usr/share/python3 usr/share/doc usr/share/ca-certificates"
LOCDIR="$PINION_TEST_CACHE/locale"

# loc_env NAME: env(1) arguments for one locale setting
loc_env() {
	case "$1" in
	unset) echo "-u LANG -u LC_ALL -u LC_CTYPE -u LANGUAGE" ;;
	C) echo "-u LANG -u LC_CTYPE LC_ALL=C" ;;
	C.UTF-8) echo "-u LANG -u LC_CTYPE LC_ALL=C.UTF-8" ;;
	iso) echo "-u LANG -u LC_CTYPE LOCPATH=$LOCDIR LC_ALL=en_US.ISO-8859-1" ;;
	esac
}
base_dir() { cat "$T/base-$1"; }
# drop_devices LIST: stdin without the entries that are devices in LIST
drop_devices() { awk 'NR == FNR { if ($2 == "char" || $2 == "block") d[$1] = 1; next } !($1 in d)' "$1" -; }

test_expect_success 'setup: foreign bases, umoci references, an ISO-8859-1 locale' '
	test_user_setup &&
	rootfs=$(fixture_rootfs python) &&
	for b in $BASES; do
		"$PYTHON" "$TEST_ROOT/tests/tools/foreign_layers.py" "$rootfs" $b >"$T/base-$b" || exit 1
	done &&
	for b in buildah tarfile; do
		umoci unpack --image "$(base_dir $b):$TAG" "$T/umoci-$b" >/dev/null 2>"$T/umoci-$b.err" ||
			{ cat "$T/umoci-$b.err"; exit 1; }
		"$PYTHON" "$LIST" "$T/umoci-$b/rootfs" >"$T/ref-$b.list" &&
		"$PYTHON" "$LIST" "$T/umoci-$b/rootfs" $RUN_PATHS >"$T/ref-run-$b.list" &&
		rm -rf "$T/umoci-$b" || exit 1
	done &&
	for b in buildah tarfile; do
		# the rootless reference: umoci as pinion-sub (device nodes become
		# empty files there; pinion skips them)
		mkdir -p "$T/rl-$b" && chown pinion-sub "$T/rl-$b" &&
		run_as pinion-sub umoci unpack --rootless --image "$(base_dir $b):$TAG" "$T/rl-$b/umoci" >/dev/null \
			2>"$T/rl-$b.err" || { cat "$T/rl-$b.err"; exit 1; }
		"$PYTHON" "$LIST" --no-owner "$T/rl-$b/umoci/rootfs" | drop_devices "$T/ref-$b.list" \
			>"$T/ref-rootless-$b.list" &&
		rm -rf "$T/rl-$b/umoci" || exit 1
	done &&
	cp "$(base_dir gnusparse).list" "$T/ref-gnusparse.list" &&
	(
		exec 9>"$PINION_TEST_CACHE/.lock-locale"
		flock 9
		[ -d "$LOCDIR/en_US.ISO-8859-1" ] || { mkdir -p "$LOCDIR" &&
			localedef -i en_US -f ISO-8859-1 "$LOCDIR/en_US.ISO-8859-1"; }
	) &&
	test_equal "$(env $(loc_env iso) locale charmap)" ISO-8859-1 &&
	test_equal "$(env $(loc_env unset) locale charmap)" ANSI_X3.4-1968
'

test_expect_success 'the references hold what the fixtures promise' '
	r="$T/ref-buildah.list" &&
	test_grep "^opt/foreign/NetLock_Arany_=Class_Gold=_F\\\\xc5\\\\x91tan\\\\xc3\\\\xbas\\\\xc3\\\\xadtv\\\\xc3\\\\xa1ny.pem file" "$r" &&
	test_grep "^opt/foreign-raw/caf\\\\xe9-latin1.txt file" "$r" &&
	test_grep "^opt/foreign/xattr-\\\\xc3\\\\xa9.txt .* user.pinion.bin=0001ff,user.pinion.test=" "$r" &&
	test_grep "^usr/share/ca-certificates/mozilla/NetLock_Arany" "$r" &&
	! grep -q "^etc/ssl/certs/NetLock_Arany" "$r" &&
	! grep -q "^usr/share/doc/ca-certificates" "$r" &&
	test_equal "$(grep -c "^usr/share/python3/" "$r")" 1 &&
	! grep -q "^opt/foreign/\\\\xc3\\\\xbcn\\\\xc3\\\\xafc\\\\xc3\\\\xb6d\\\\xc3\\\\xa9/\\\\xe6" "$r" &&
	r="$T/ref-tarfile.list" &&
	test_grep "^opt/foreign-sparse-posix/sparse-\\\\xc3\\\\xa9.bin file 0644 0:0 4194304" "$r" &&
	test_grep "^opt/foreign-gnu/only-this" "$r" &&
	test_equal "$(grep -c "^opt/foreign-gnu/" "$r")" 1 &&
	test_grep "^opt/foreign-ustar/p*/q*/F\\\\xc5\\\\x91tan" "$r" &&
	test_grep "^opt/foreign-pax/\\\\xff\\\\xfe-dir/inner-\\\\xe9 file" "$r" &&
	! grep -q "^opt/foreign-pax/caf" "$r" &&
	test_grep "^opt/foreign-pax/owned-1000 file 0644 1000:1000" "$r" &&
	test_grep "^opt/foreign-gnu dir" "$r" &&
	test_grep "^opt/foreign-sparse-gnu/sparse-\\\\xc3\\\\xa9.bin file 0644 0:0 4194304" "$T/ref-gnusparse.list"
'

# check_unpack BASE LOCALE: pinion unpack (as root, with devices) == umoci's tree
check_unpack() {
	local b=$1 l=$2 d="$T/unpack-$1-$2"
	env $(loc_env "$l") "$PINION" unpack --devices "oci:$(base_dir "$b"):$TAG" "$d" >/dev/null 2>"$d.err" ||
		{ cat "$d.err"; rm -rf "$d"; return 1; }
	if [ "$b" = gnusparse ]; then "$PYTHON" "$LIST" "$d" opt/foreign-sparse-gnu; else "$PYTHON" "$LIST" "$d"; fi >"$d.list"
	rm -rf "$d"
	test_cmp "$T/ref-$b.list" "$d.list"
}

# check_rootless_unpack BASE: pinion unpack by pinion-sub (no owners, no
# devices) == umoci unpack --rootless by the same user
check_rootless_unpack() {
	local b=$1 d="$T/rl-$1/pinion"
	run_as pinion-sub "$PINION" unpack "oci:$(base_dir "$b"):$TAG" "$d" >/dev/null 2>"$d.err" ||
		{ cat "$d.err"; rm -rf "$d"; return 1; }
	"$PYTHON" "$LIST" --no-owner "$d" >"$d.list"
	rm -rf "$d"
	test_cmp "$T/ref-rootless-$b.list" "$d.list"
}

# check_run BASE LOCALE: the tree inside `pinion run` (a fresh cache: the
# layers are unpacked into snapshots under this locale) == umoci's
check_run() {
	local b=$1 l=$2 d="$T/run-$1-$2"
	env $(loc_env "$l") PINION_CACHE_DIR="$d.cache" "$PINION" run "oci:$(base_dir "$b"):$TAG" -- \
		python3 - / $RUN_PATHS <"$LIST" >"$d.list" 2>"$d.err" || { tail -5 "$d.err"; return 1; }
	rm -rf "$d.cache"
	test_cmp "$T/ref-run-$b.list" "$d.list"
}

for b in $BASES; do
	for l in $LOCALES; do
		test_expect_success "pinion unpack of the $b base, locale $l, gives umoci's tree" "check_unpack $b $l"
	done
done
for b in buildah tarfile; do
	test_expect_success "rootless pinion unpack of the $b base gives umoci --rootless's tree" "check_rootless_unpack $b"
done
# (C is left out here: LC_ALL=C and no locale at all are the same to libc)
for b in buildah tarfile; do
	for l in unset C.UTF-8 iso; do
		test_expect_success "pinion run on the $b base, locale $l, sees umoci's tree" "check_run $b $l"
	done
done

# check_build BASE USER LOCALE: a rootless build of examples/hello on BASE;
# the built image still shows the base's entries (owners too with
# subordinate ids; a single-id user's sandbox shows every file as its own)
check_build() {
	local b=$1 u=$2 l=$3 d="$T/build-$1-$2" owner=""
	cp -r "$TEST_ROOT/examples/hello" "$d" && rm -rf "$d/.pinion" && mkdir -p "$d.cache" &&
		chown -R "$u" "$d" "$d.cache" || return 1
	run_as "$u" env $(loc_env "$l") PINION_CACHE_DIR="$d.cache" sh -c "cd $d && \"\$PINION\" build \
		--registry-mirror docker.io=oci:$(base_dir "$b") --output oci:$d/out:hello --progress plain" \
		>"$d.out" 2>"$d.err" || { tail -30 "$d.err"; return 1; }
	test_grep "oci:$d/out:hello sha256:" "$d.out" || return 1
	[ "$u" = pinion-nosub ] && owner=--no-owner
	run_as "$u" env $(loc_env "$l") PINION_CACHE_DIR="$d.cache" "$PINION" run "oci:$d/out:hello" -- \
		python3 - $owner / $RUN_PATHS <"$LIST" >"$d.list" 2>"$d.run.err" || { tail -5 "$d.run.err"; return 1; }
	if [ -n "$owner" ]; then
		awk '{ $4 = "-"; print }' "$T/ref-run-$b.list" >"$d.ref"
	else cp "$T/ref-run-$b.list" "$d.ref"; fi
	test_cmp "$d.ref" "$d.list" &&
		run_as "$u" env PINION_CACHE_DIR="$d.cache" "$PINION" run "oci:$d/out:hello" -- \
			python3 -c "import cog; print(\"cog ok\")" >"$d.cog" 2>&1 &&
		test_grep "cog ok" "$d.cog"
}

test_expect_success 'rootless build on the buildah base (subordinate ids, no locale)' 'check_build buildah pinion-sub unset'
test_expect_success 'rootless build on the buildah base (no subordinate ids, ISO-8859-1)' 'check_build buildah pinion-nosub iso'
test_expect_success 'rootless build on the tarfile base (subordinate ids, ISO-8859-1)' 'check_build tarfile pinion-sub iso'
test_expect_success 'rootless build on the tarfile base (no subordinate ids, C.UTF-8)' 'check_build tarfile pinion-nosub C.UTF-8'

test_done
