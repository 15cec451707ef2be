#!/bin/bash
# t_names.sh - whole image names in OCI layouts, as skopeo and buildah write
# them (`oci:DIR:r8.im/me/model:v3`; the layouts of the shared-tag cases are
# written by buildah and skopeo, only the first name by pinion import): stored as
# org.opencontainers.image.ref.name, found whole, by their tag alone, by NAME
# alone (NAME:latest), and listed whole by `pinion ls`.
. "$(dirname "$0")/lib.sh"

mkdir -p "$T/rootfs" && echo hi >"$T/rootfs/f"
# buildah_image DIR LAYOUT:NAME:TAG: DIR's files as a one-layer image that
# buildah writes into the layout (beside what it holds); prints the manifest
# digest skopeo reads there
BA="buildah --root $T/buildah/root --runroot $T/buildah/run --storage-driver vfs"
buildah_image() {
	local c
	c=$($BA from --pull-never scratch) && $BA copy "$c" "$1" / >/dev/null &&
		$BA commit -q "$c" "oci:$2" >/dev/null && $BA rm "$c" >/dev/null &&
		skopeo inspect "oci:$2" | jq -r .Digest
}
refname() { jq -r --arg d "$2" '.manifests[] | select(.digest == $d) |
	.annotations["org.opencontainers.image.ref.name"]' "$1/index.json"; }

test_expect_success 'oci:DIR:NAME:TAG keeps the whole name in the layout, and skopeo reads it' '
	pinion import rootfs oci:l:r8.im/me/model:v3 >d1 &&
	test_equal "$(refname l "$(cat d1)")" r8.im/me/model:v3 &&
	skopeo inspect oci:l:r8.im/me/model:v3 >s.json &&
	test_equal "$(jq -r .Digest s.json)" "$(cat d1)" &&
	pinion inspect oci:l:r8.im/me/model:v3 >i.json &&
	test_equal "$(jq -r .digest i.json)" "$(cat d1)"
'

test_expect_success 'a name skopeo writes with a registry port is found whole by pinion' '
	skopeo copy -q oci:l:r8.im/me/model:v3 oci:l:localhost:5000/team/m:v9 &&
	pinion inspect oci:l:localhost:5000/team/m:v9 >i2.json &&
	test_equal "$(jq -r .digest i2.json)" "$(cat d1)"
'

test_expect_success 'oci:DIR:TAG keeps working: the one name with that tag' '
	pinion inspect oci:l:v3 >i3.json &&
	test_equal "$(jq -r .digest i3.json)" "$(cat d1)" &&
	pinion unpack oci:l:v9 out && test_equal "$(cat out/f)" hi
'

test_expect_success 'a tag two names share is an error naming both (status 2)' '
	echo other >rootfs/g && buildah_image rootfs l:other/model:v3 >d2 &&
	test_expect_failure_status 2 pinion inspect oci:l:v3 2>err &&
	test_grep "names 2 images" err && test_grep "r8.im/me/model:v3" err &&
	test_grep "other/model:v3" err &&
	pinion inspect oci:l:other/model:v3 >i4.json &&
	test_equal "$(jq -r .digest i4.json)" "$(cat d2)"
'

test_expect_success 'two models tagged latest live side by side; NAME alone is NAME:latest' '
	buildah_image rootfs m:r8.im/a/model:latest >da &&
	echo b >rootfs/b && buildah_image rootfs m:r8.im/b/model:latest >db &&
	test "$(cat da)" != "$(cat db)" &&
	pinion inspect oci:m:r8.im/a/model >ia.json && test_equal "$(jq -r .digest ia.json)" "$(cat da)" &&
	pinion inspect oci:m:r8.im/b/model >ib.json && test_equal "$(jq -r .digest ib.json)" "$(cat db)" &&
	test_expect_failure_status 2 pinion inspect oci:m:latest 2>err2 && test_grep "name one in full" err2
'

test_expect_success 'pinion ls shows full names, in text and in JSON' '
	pinion ls oci:l >ls.txt &&
	awk "{print \$1}" ls.txt | sort >names &&
	printf "%s\n" localhost:5000/team/m:v9 other/model:v3 r8.im/me/model:v3 >want &&
	test_cmp want names &&
	pinion ls --json oci:l >ls.json &&
	jq -r ".[] | .name + \" \" + .tag" ls.json | sort >pairs &&
	printf "%s\n" "localhost:5000/team/m:v9 v9" "other/model:v3 v3" "r8.im/me/model:v3 v3" >want2 &&
	test_cmp want2 pairs
'

test_done
