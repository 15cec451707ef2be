#!/bin/bash
# t_reflink.sh - weights layers on a reflink filesystem (an XFS loop mount,
# mkfs.xfs -m reflink=1): the layer has the same digest as on the host disk
# (ext4: copied), its blob shares the weights file's extents instead of
# holding a copy, skopeo and umoci read it, and a copy into a layout on
# another mount of the same filesystem (no hard link there) shares them too.
. "$(dirname "$0")/lib.sh"
. "$TEST_ROOT/tests/tools/registry.sh"

X="$T/xfs"
xfs_ok=
if [ "$(id -u)" -ne 0 ]; then why="needs root for a loop mount"
elif ! command -v mkfs.xfs >/dev/null; then why="no mkfs.xfs (xfsprogs)"
elif ! { truncate -s 1G "$T/xfs.img" && mkfs.xfs -q -m reflink=1 "$T/xfs.img" &&
	mkdir -p "$X" && mount -o loop "$T/xfs.img" "$X"; } >"$T/mount.log" 2>&1; then
	why="no loop mount here: $(tail -1 "$T/mount.log")"
else
	xfs_ok=1
	at_exit "umount '$T/bind' 2>/dev/null; umount -l '$X'"
fi

setup() {
	cp -r "$TEST_ROOT/examples/hello" "$T/weighty" && rm -rf "$T/weighty/.pinion" &&
	mkdir -p "$T/weighty/weights" &&
	head -c 67108864 /dev/urandom >"$T/weighty/weights/model.bin" &&
	cp -r "$T/weighty" "$X/weighty"
}
# build DIR CACHE OUT: --separate-weights, the weights layer's digest in $OUT.weights
build() {
	(cd "$1" && PINION_CACHE_DIR="$2" pinion build $MIRROR --separate-weights \
		--use-cog-base-image=false --output "oci:$3:w" --progress plain) >"$3.out" 2>"$3.err" ||
		{ tail -20 "$3.err"; return 1; }
	skopeo inspect --raw "oci:$3:w" |
		jq -r '.layers[] | select(.size > 67108864 and .size < 67200000) | .digest' >"$3.weights"
	test_equal "$(wc -l <"$3.weights")" 1
}
# shared_extents FILE: how many of FILE's extents are shared (reflinked)
shared_extents() { filefrag -v "$1" | grep -c shared || true; }

if [ -z "$xfs_ok" ]; then
	test_skip 'weights on an XFS reflink filesystem' "$why"
	test_done
fi

base_registry_start 'setup: registry, a model with 64 MiB of weights on the host disk and on XFS' setup

test_expect_success 'the weights layer has the same digest on XFS (shared) as on the host disk (copied)' '
	build "$T/weighty" "$T/.pinion-cache" "$T/out-host" &&
	build "$X/weighty" "$X/cache" "$X/out" &&
	test_equal "$(cat "$X/out.weights")" "$(cat "$T/out-host.weights")" &&
	skopeo inspect --raw "oci:$X/out:w" |
		jq -r ".layers[] | select(.digest == \"$(cat "$X/out.weights")\") | .mediaType" >"$T/mt" &&
	test_equal "$(cat "$T/mt")" application/vnd.oci.image.layer.v1.tar
'

test_expect_success 'the blob shares the weights file'"'"'s extents' '
	d=$(cut -d: -f2 "$X/out.weights") &&
	blob="$X/out/blobs/sha256/$d" &&
	test -f "$blob" &&
	test "$(shared_extents "$blob")" -gt 0 &&
	test "$(shared_extents "$X/weighty/weights/model.bin")" -gt 0 &&
	test "$(sha256sum <"$blob" | cut -d" " -f1)" = "$d"
'

test_expect_success 'new weights: the rebuild does not store the 64 MiB twice (free space)' '
	head -c 67108864 /dev/urandom >"$X/weighty/weights/model.bin" &&
	sync && df -k --output=used "$X" | tail -1 >"$T/used-before" &&
	build "$X/weighty" "$X/cache" "$X/out" &&
	sync && df -k --output=used "$X" | tail -1 >"$T/used-after" &&
	test "$(cat "$X/out.weights")" != "$(cat "$T/out-host.weights")" &&
	used=$(( $(cat "$T/used-after") - $(cat "$T/used-before") )) &&
	echo "XFS used $used KiB more for a new 65536 KiB weights file" &&
	test "$used" -lt 32768
'

test_expect_success 'skopeo copies and umoci unpacks the image; the weights come out whole' '
	skopeo copy "oci:$X/out:w" "dir:$T/dir" >/dev/null &&
	d=$(cut -d: -f2 "$X/out.weights") &&
	test -f "$T/dir/$d" &&
	umoci unpack --image "$X/out:w" "$T/bundle" >/dev/null &&
	cmp "$T/bundle/rootfs/src/weights/model.bin" "$X/weighty/weights/model.bin"
'

test_expect_success 'a copy into a layout on another mount of the same XFS shares the blob (no hard link)' '
	mkdir -p "$X/sub" "$T/bind" &&
	mount --bind "$X/sub" "$T/bind" &&
	pinion copy "oci:$X/out:w" "oci:$T/bind/out2:w" >/dev/null &&
	d=$(cut -d: -f2 "$X/out.weights") &&
	b2="$T/bind/out2/blobs/sha256/$d" &&
	test "$(stat -c %i "$b2")" != "$(stat -c %i "$X/out/blobs/sha256/$d")" &&
	test "$(shared_extents "$b2")" -gt 0 &&
	skopeo inspect "oci:$T/bind/out2:w" >/dev/null
'

test_done
