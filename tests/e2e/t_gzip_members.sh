#!/bin/bash
# t_gzip_members.sh - gzip layers as a series of members (RFC 1952 2.2).
# pinion writes one member per 1 MiB of tar (oci/pgzip.c, libdeflate), each
# with a fixed header, walked here by Python's zlib; and it reads the members
# of layers other tools wrote (Python's gzip module, one member a call) in
# unpack (igzip and zlib), run and a pull from a registry that skopeo pushed
# to; a wrong CRC in the second member is refused.
. "$(dirname "$0")/lib.sh"
. "$TEST_ROOT/tests/tools/registry.sh"

ROOTFS=$(fixture_rootfs minbase) || { echo "cannot build the minbase rootfs"; exit 1; }

test_expect_success 'pinion import: one gzip member per MiB of tar, fixed headers, read by gzip and Python' '
	SOURCE_DATE_EPOCH=1700000000 pinion import "$ROOTFS" oci:$T/img:v1 >/dev/null &&
	pinion inspect oci:$T/img:v1 >$T/i.json &&
	blob=$T/img/blobs/sha256/$(jq -r .manifest.layers[0].digest $T/i.json | cut -d: -f2) &&
	gzip -t $blob &&
	"$PYTHON" - $blob "$(jq -r .config.rootfs.diff_ids[0] $T/i.json)" >$T/walk <<-\EOF &&
	import hashlib, sys, zlib
	data = open(sys.argv[1], "rb").read()
	h, sizes = hashlib.sha256(), []
	while data:
	    assert data[:10] == bytes.fromhex("1f8b0800000000000003"), data[:10].hex()
	    d = zlib.decompressobj(31)
	    out = d.decompress(data)
	    assert d.eof, "member not ended"
	    h.update(out); sizes.append(len(out)); data = d.unused_data
	assert "sha256:" + h.hexdigest() == sys.argv[2], "diff_id"
	assert all(s == 1 << 20 for s in sizes[:-1]) and 0 < sizes[-1] <= 1 << 20, sizes[-1]
	print(len(sizes), sum(sizes))
	EOF
	read members total <$T/walk &&
	test "$members" -gt 100 &&
	test_equal "$members" $(( (total + (1 << 20) - 1) >> 20 ))
'

test_expect_success 'a layer of two members from Python'\''s gzip module, and one with a bad CRC in member 2' '
	"$PYTHON" - $T/img <<-\EOF
	import gzip, hashlib, io, json, os, random, sys, tarfile
	root = sys.argv[1]; blobs = os.path.join(root, "blobs", "sha256")
	def get(d): return open(os.path.join(blobs, d.split(":")[1]), "rb").read()
	def put(data):
	    d = hashlib.sha256(data).hexdigest()
	    open(os.path.join(blobs, d), "wb").write(data)
	    return "sha256:" + d, len(data)
	index = json.load(open(os.path.join(root, "index.json")))
	base = [m for m in index["manifests"] if m["annotations"]["org.opencontainers.image.ref.name"] == "v1"][0]
	man = json.loads(get(base["digest"])); cfg = json.loads(get(man["config"]["digest"]))
	buf = io.BytesIO(); payload = random.Random(7).randbytes(3 << 20)
	with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
	    script = b"#!/bin/sh\necho two members: $1\n"
	    ti = tarfile.TarInfo("hello.sh"); ti.size = len(script); ti.mode = 0o755
	    t.addfile(ti, io.BytesIO(script))
	    ti = tarfile.TarInfo("data.bin"); ti.size = len(payload); t.addfile(ti, io.BytesIO(payload))
	tar = buf.getvalue(); cut = len(tar) // 3 + 7
	m1, m2 = gzip.compress(tar[:cut], 6, mtime=0), gzip.compress(tar[cut:], 6, mtime=0)
	open(os.path.join(root, "..", "data.bin"), "wb").write(payload)
	bad = bytearray(m2); bad[-6] ^= 1  # the third byte of member 2 CRC-32
	for name, layer in (("good", m1 + m2), ("badcrc", m1 + bytes(bad))):
	    ld, lsize = put(layer)
	    c = dict(cfg, rootfs={"type": "layers", "diff_ids": cfg["rootfs"]["diff_ids"] + ["sha256:" + hashlib.sha256(tar).hexdigest()]})
	    cd, csize = put(json.dumps(c).encode())
	    m = dict(man, config=dict(man["config"], digest=cd, size=csize),
	             layers=man["layers"] + [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": ld, "size": lsize}])
	    md, msize = put(json.dumps(m).encode())
	    index["manifests"].append({"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": md,
	                               "size": msize, "annotations": {"org.opencontainers.image.ref.name": name}})
	json.dump(index, open(os.path.join(root, "index.json"), "w"))
	EOF
	gzip -t $T/img/blobs/sha256/$(pinion inspect oci:$T/img:good | jq -r .manifest.layers[1].digest | cut -d: -f2) &&
	! gzip -t $T/img/blobs/sha256/$(pinion inspect oci:$T/img:badcrc | jq -r .manifest.layers[1].digest | cut -d: -f2) 2>/dev/null
'

for inflate in igzip zlib; do
	test_expect_success "pinion unpack ($inflate) reads both members, refuses member 2 with a bad CRC" '
		PINION_INFLATE='$inflate' pinion unpack oci:$T/img:good $T/u-'$inflate' 2>$T/err &&
		cmp $T/data.bin $T/u-'$inflate'/data.bin && test -x $T/u-'$inflate'/hello.sh &&
		test -x $T/u-'$inflate'/bin/sh &&
		! PINION_INFLATE='$inflate' pinion unpack oci:$T/img:badcrc $T/b-'$inflate' 2>$T/err &&
		test_grep "gzip: incorrect" $T/err
	'
done

test_expect_success 'pinion run runs from the two-member layer, and refuses the bad one' '
	test_equal "$(pinion run oci:$T/img:good -- /hello.sh run)" "two members: run" &&
	! pinion run oci:$T/img:badcrc -- /hello.sh run >$T/out 2>$T/err &&
	test_grep "gzip: incorrect" $T/err && test ! -s $T/out
'

test_expect_success 'pushed by skopeo, pulled by pinion: the same members, unpacked and run' '
	registry_start plain >/dev/null &&
	skopeo copy -q --dest-tls-verify=false oci:$T/img:good docker://$REGISTRY/mm:good &&
	skopeo copy -q --dest-tls-verify=false oci:$T/img:badcrc docker://$REGISTRY/mm:badcrc &&
	pinion pull $REGISTRY/mm:good oci:$T/pulled:good >/dev/null &&
	test_equal "$(pinion inspect oci:$T/pulled:good | jq -r .manifest.layers[1].digest)" \
		"$(pinion inspect oci:$T/img:good | jq -r .manifest.layers[1].digest)" &&
	pinion unpack oci:$T/pulled:good $T/u-pulled && cmp $T/data.bin $T/u-pulled/data.bin &&
	test_equal "$(pinion run $REGISTRY/mm:good -- /hello.sh pulled)" "two members: pulled" &&
	! pinion run $REGISTRY/mm:badcrc -- /hello.sh 2>$T/err && test_grep "gzip: incorrect" $T/err
	rc=$?
	registry_stop
	exit $rc
'

test_done
