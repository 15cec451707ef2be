#!/bin/bash
# t_oci.sh - pinion import/inspect/ls/unpack against independent OCI tools
# (skopeo, umoci, oci-image-tool), crash safety of the layout under SIGKILL,
# and clear errors for bad input.
. "$(dirname "$0")/lib.sh"

# the listing of a tree that both unpackers must agree on
tree_listing() {
	(cd "$1" && find . -mindepth 1 \( -type d -printf '%y %m %U:%G %p\n' \) -o \
		\( -type l -printf '%y %U:%G %p -> %l\n' \) -o \( -printf '%y %m %U:%G %s %T@ %p\n' \) |
		LC_ALL=C sort)
}
# sha256 of every regular file
tree_sums() { (cd "$1" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum); }

ROOTFS=$(fixture_rootfs minbase) || { echo "cannot build the minbase rootfs"; exit 1; }

test_expect_success 'import a Debian rootfs into a layout' '
	pinion import --env LANG=C.UTF-8 --label org.example.k=v --cmd "[\"bash\"]" \
		--workdir /root "$ROOTFS" oci:$T/img:v1 >$T/digest &&
	grep -q "^sha256:[0-9a-f]\{64\}$" $T/digest &&
	pinion ls oci:$T/img >$T/ls && test_grep "^v1 .*$(cat $T/digest)" $T/ls
'

test_expect_success 'skopeo inspect accepts the image' '
	skopeo inspect oci:$T/img:v1 >$T/sk.json &&
	test_equal "$(jq -r .Labels[\"org.example.k\"] $T/sk.json)" v &&
	test_equal "$(jq -r .Digest $T/sk.json)" "$(cat $T/digest)" &&
	skopeo inspect --config oci:$T/img:v1 >$T/skc.json &&
	test_equal "$(jq -c .config.Cmd $T/skc.json)" "[\"bash\"]" &&
	test_equal "$(jq -r .config.WorkingDir $T/skc.json)" /root &&
	jq -r ".config.Env[]" $T/skc.json >$T/env && test_grep "^LANG=C.UTF-8$" $T/env &&
	test_grep "^PATH=" $T/env
'

test_expect_success 'oci-image-tool validates the layout' '
	oci-image-tool validate --type image $T/img >$T/v.out 2>&1 &&
	test_grep "Validation succeeded" $T/v.out
'

test_expect_success 'umoci unpack and pinion unpack yield the same files' '
	umoci unpack --image $T/img:v1 $T/umoci >/dev/null &&
	pinion unpack --devices oci:$T/img:v1 $T/pin 2>/dev/null &&
	tree_listing $T/umoci/rootfs >$T/l.umoci && tree_listing $T/pin >$T/l.pin &&
	test $(wc -l <$T/l.pin) -gt 3000 &&
	test_cmp $T/l.umoci $T/l.pin &&
	tree_sums $T/umoci/rootfs >$T/s.umoci && tree_sums $T/pin >$T/s.pin &&
	test_cmp $T/s.umoci $T/s.pin
'

test_expect_success 'the same rootfs imported twice gives the same digests (zstd)' '
	SOURCE_DATE_EPOCH=1700000000 pinion import --compression zstd "$ROOTFS" oci:$T/zimg:zst >$T/dz1 &&
	SOURCE_DATE_EPOCH=1700000000 pinion import --compression zstd "$ROOTFS" oci:$T/img2:zst >$T/dz2 &&
	test_cmp $T/dz1 $T/dz2 &&
	pinion inspect oci:$T/zimg:zst >$T/zi.json &&
	test_equal "$(jq -r .manifest.layers[0].mediaType $T/zi.json)" application/vnd.oci.image.layer.v1.tar+zstd &&
	test_equal "$(jq -r .config.created $T/zi.json)" 2023-11-14T22:13:20Z &&
	skopeo inspect oci:$T/zimg:zst >/dev/null
'

test_expect_success 'gzip layers: same digest for 1, 2 and 8 compression threads, read by gzip and umoci' '
	for n in 1 2 8; do
		SOURCE_DATE_EPOCH=1700000000 PINION_COMPRESS_THREADS=$n \
			pinion import "$ROOTFS" oci:$T/gz$n:v1 >$T/dg$n || exit 1
	done &&
	test_cmp $T/dg1 $T/dg2 && test_cmp $T/dg1 $T/dg8 &&
	pinion inspect oci:$T/gz2:v1 >$T/gi.json &&
	layer=$(jq -r .manifest.layers[0].digest $T/gi.json) &&
	blob=$T/gz2/blobs/sha256/${layer#sha256:} &&
	gzip -t $blob &&
	test_equal "sha256:$(gzip -dc $blob | sha256sum | cut -d" " -f1)" \
		"$(jq -r .config.rootfs.diff_ids[0] $T/gi.json)" &&
	umoci unpack --image $T/gz8:v1 $T/gzu >/dev/null &&
	tree_sums $T/gzu/rootfs >$T/s.gzu && test_cmp $T/s.umoci $T/s.gzu
'

test_expect_success 'pinion inspect reads an image made by umoci' '
	umoci init --layout $T/um &&
	umoci new --image $T/um:base &&
	umoci config --image $T/um:base --config.env FOO=bar --config.label made.by=umoci \
		--config.entrypoint /bin/true &&
	pinion inspect oci:$T/um:base >$T/um.json &&
	test_equal "$(jq -r .labels[\"made.by\"] $T/um.json)" umoci &&
	test_equal "$(jq -r .config.config.Entrypoint[0] $T/um.json)" /bin/true &&
	test_equal "$(jq -r .digest $T/um.json)" "$(skopeo inspect oci:$T/um:base | jq -r .Digest)"
'

test_expect_success 'pinion inspect reads a skopeo copy (Docker v2 media types)' '
	skopeo copy --quiet --format v2s2 oci:$T/img:v1 dir:$T/dockerdir &&
	mkdir -p $T/dk/blobs/sha256 && echo "{\"imageLayoutVersion\":\"1.0.0\"}" >$T/dk/oci-layout &&
	for f in $T/dockerdir/*; do
		case ${f##*/} in manifest.json|version) continue ;; esac
		cp $f $T/dk/blobs/sha256/${f##*/}
	done &&
	md=$(sha256sum <$T/dockerdir/manifest.json | cut -d" " -f1) &&
	cp $T/dockerdir/manifest.json $T/dk/blobs/sha256/$md &&
	printf "{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"application/vnd.docker.distribution.manifest.v2+json\",\"digest\":\"sha256:%s\",\"size\":%s,\"annotations\":{\"org.opencontainers.image.ref.name\":\"dk\"}}]}" \
		$md $(stat -c %s $T/dockerdir/manifest.json) >$T/dk/index.json &&
	pinion inspect oci:$T/dk:dk >$T/dk.json &&
	test_equal "$(jq -r .manifest.mediaType $T/dk.json)" application/vnd.docker.distribution.manifest.v2+json &&
	test_equal "$(jq -r .labels[\"org.example.k\"] $T/dk.json)" v &&
	pinion unpack oci:$T/dk:dk $T/dkroot 2>/dev/null && test -f $T/dkroot/etc/debian_version
'

test_expect_success 'import options reach the config and the layer; ls --json, inspect --raw, unpack options' '
	mkdir -p $T/opt/bin && echo s >$T/opt/bin/s && chown 1234:5678 $T/opt/bin/s &&
	pinion import --compression none --normalize-owner --entrypoint "/bin/sh -c" \
		--cmd "[\"echo\",\"a b\"]" --user 1000:1000 --arch arm64 --workdir /w \
		--env A=1 --env A=2 --label x=y --label x=z $T/opt oci:$T/optimg:o >$T/od &&
	pinion inspect --raw config oci:$T/optimg:o >$T/oc.json &&
	test_equal "$(jq -c .config.Entrypoint $T/oc.json)" "[\"/bin/sh\",\"-c\"]" &&
	test_equal "$(jq -c .config.Cmd $T/oc.json)" "[\"echo\",\"a b\"]" &&
	test_equal "$(jq -r .config.User $T/oc.json)/$(jq -r .architecture $T/oc.json)" 1000:1000/arm64 &&
	test_equal "$(jq -r .config.WorkingDir $T/oc.json)" /w &&
	test_equal "$(jq -r "[.config.Env[] | select(startswith(\"A=\"))] | join(\",\")" $T/oc.json)" A=2 &&
	test_equal "$(jq -r .config.Labels.x $T/oc.json)" z &&
	pinion inspect --raw manifest oci:$T/optimg:o >$T/om.json &&
	test_equal "$(jq -r .layers[0].mediaType $T/om.json)" application/vnd.oci.image.layer.v1.tar &&
	test_equal "$(jq -r .layers[0].digest $T/om.json)" "$(jq -r .rootfs.diff_ids[0] $T/oc.json)" &&
	tar -tvf $T/optimg/blobs/sha256/$(jq -r .layers[0].digest $T/om.json | cut -d: -f2) >$T/otar &&
	test_grep "0/0 .* bin/s$" $T/otar &&
	pinion ls --json oci:$T/optimg >$T/ol.json &&
	test_equal "$(jq -r ".[0].tag + \" \" + .[0].digest" $T/ol.json)" "o $(cat $T/od)" &&
	pinion unpack --platform linux/arm64 --no-chown oci:$T/optimg:o $T/ou 2>/dev/null &&
	test_equal "$(cat $T/ou/bin/s)" s &&
	test_expect_failure_status 1 pinion unpack --max-bytes 1 oci:$T/optimg:o $T/ou2 2>$T/oe &&
	test_grep "expand" $T/oe &&
	test_expect_failure_status 2 pinion unpack --max-bytes x oci:$T/optimg:o $T/ou3 2>/dev/null
'

# the listing without mtimes (imports clamp them)
tree_shape() {
	(cd "$1" && find . -mindepth 1 \( -type l -printf '%y %U:%G %p -> %l\n' \) -o \
		\( -printf '%y %m %U:%G %s %n %p\n' \) | LC_ALL=C sort)
}
test_expect_success 'import from a tar (zstd) and a directory give the same tree' '
	mkdir -p $T/src/usr/bin $T/src/etc $T/src/empty &&
	echo tool >$T/src/usr/bin/tool && chmod 4755 $T/src/usr/bin/tool &&
	ln $T/src/usr/bin/tool $T/src/usr/bin/tool2 && ln -s ../usr/bin/tool $T/src/etc/link &&
	echo conf >$T/src/etc/conf && chmod 600 $T/src/etc/conf && chown 1000:1000 $T/src/etc/conf &&
	tar -C $T/src -cf - . | zstd -q -c >$T/src.tar.zst &&
	pinion import $T/src.tar.zst oci:$T/tarimg:fromtar >/dev/null &&
	pinion import $T/src oci:$T/tarimg:fromdir >/dev/null &&
	pinion unpack oci:$T/tarimg:fromtar $T/u-tar 2>/dev/null &&
	pinion unpack oci:$T/tarimg:fromdir $T/u-dir 2>/dev/null &&
	tree_shape $T/src >$T/shape.src && tree_shape $T/u-tar >$T/shape.tar && tree_shape $T/u-dir >$T/shape.dir &&
	test_cmp $T/shape.src $T/shape.tar && test_cmp $T/shape.src $T/shape.dir &&
	test_equal "$(stat -c %i $T/u-tar/usr/bin/tool)" "$(stat -c %i $T/u-tar/usr/bin/tool2)"
'

# crash safety: imports into a layout that holds v1, killed with SIGKILL at
# many points, must leave a layout the validators accept with v1 intact
crash_check() { # LAYOUT DIGEST_FILE
	oci-image-tool validate --type image $1 >$T/cv.out 2>&1 || { cat $T/cv.out; return 1; }
	test_equal "$(pinion inspect oci:$1:v1 | jq -r .digest)" "$(cat $2)" || return 1
	skopeo inspect oci:$1:v1 >/dev/null || return 1
}
test_expect_success 'SIGKILL during a large import leaves a valid layout' '
	for d in 0.05 0.4 1.2 2.5 4; do
		"$PINION" import --label run=$d "$ROOTFS" oci:$T/img:crash >/dev/null 2>&1 &
		pid=$!; sleep $d; kill -KILL $pid 2>/dev/null; wait $pid 2>/dev/null
		crash_check $T/img $T/digest || { echo "after kill at ${d}s"; exit 1; }
	done
'
test_expect_success 'SIGKILL around the index update leaves a valid layout' '
	mkdir -p $T/small/etc && echo x >$T/small/etc/x &&
	pinion import $T/small oci:$T/sl:v1 >$T/sdigest &&
	for i in $(seq 1 15); do
		"$PINION" import --label i=$i $T/small oci:$T/sl:small$i >/dev/null 2>&1 &
		pid=$!; sleep 0.00$((i % 10)); kill -KILL $pid 2>/dev/null; wait $pid 2>/dev/null
		crash_check $T/sl $T/sdigest || { echo "after kill $i"; exit 1; }
	done &&
	pinion import $T/small oci:$T/sl:final >/dev/null && crash_check $T/sl $T/sdigest &&
	pinion ls oci:$T/sl >$T/ls2 && test_grep "^final " $T/ls2
'

test_expect_success 'bad input gives clear errors and status 2 or 1' '
	test_expect_failure_status 2 pinion import $T/small docker://x 2>$T/e1 && test_grep "oci:DIR" $T/e1 &&
	test_expect_failure_status 2 pinion import --compression lz4 $T/small oci:$T/x 2>$T/e2 &&
	test_grep "lz4" $T/e2 &&
	test_expect_failure_status 2 pinion import --env NOEQUALS $T/small oci:$T/x 2>$T/e3 &&
	test_grep "KEY=VALUE" $T/e3 &&
	test_expect_failure_status 1 pinion import $T/nonexistent oci:$T/x 2>$T/e4 &&
	test_grep "nonexistent" $T/e4 &&
	test_expect_failure_status 1 pinion inspect oci:$T/img:nosuchtag 2>$T/e5 &&
	test_grep "no image .nosuchtag." $T/e5 &&
	test_expect_failure_status 1 pinion inspect oci:$T/nolayout 2>$T/e6 &&
	test_expect_failure_status 2 pinion inspect "oci:" 2>$T/e7 && test_grep "missing directory" $T/e7 &&
	test_expect_failure_status 2 pinion ls oci:$T/img:v1 2>$T/e8 &&
	test_expect_failure_status 2 pinion unpack oci:$T/img:v1 $T/small 2>$T/e9 &&
	test_grep "not empty" $T/e9 &&
	test_expect_failure_status 2 pinion unpack oci:$T/img:v1 2>/dev/null &&
	echo "not json" >$T/bad.json && cp -r $T/dk $T/dkbad && cp $T/bad.json $T/dkbad/index.json &&
	test_expect_failure_status 2 pinion inspect oci:$T/dkbad:dk 2>$T/e10 && test_grep "line 1" $T/e10
'

test_expect_success '--help on every command' '
	for c in import inspect ls unpack; do
		pinion $c --help >$T/h && test_grep "^usage: pinion $c" $T/h || exit 1
	done
'

test_done
