#!/bin/bash
# t_archive_run.sh - predict, train, serve, run, unpack and ls of an image in an archive
# that other tools wrote: skopeo's oci-archive and docker-archive of the
# image pinion built from examples/hello, and podman save's (when podman runs
# here as root).  A prediction answers, a command runs in the image, the
# unpacked tree is the one umoci unpacks from the layout, ls lists the names
# skopeo and podman wrote.  A truncated archive, a hostile one, a missing
# file and a REF the archive lacks are errors naming the archive; no
# temporary layout is left in the cache, and the one a SIGKILLed run leaves
# is what `pinion gc` collects.
. "$(dirname "$0")/lib.sh"
cd "$T" || exit 1

BASE=$(fixture_base_layout) || { echo "Bail out! no base layout fixture"; exit 1; }
cp -r "$TEST_ROOT/examples/hello" "$T/hello" && rm -rf "$T/hello/.pinion"
(cd "$T/hello" && pinion build --registry-mirror "docker.io=oci:$BASE" \
	--registry-mirror "r8.im=oci:$BASE" --progress quiet) >build.out 2>build.err ||
	{ cat build.err; echo "Bail out! pinion build failed"; exit 1; }
LAYOUT="$T/hello/.pinion/layout"
skopeo copy -q "oci:$LAYOUT:latest" "oci-archive:$T/sk.tar:v1" &&
	skopeo copy -q "oci:$LAYOUT:latest" "docker-archive:$T/skd.tar:me/hello:v1" ||
	{ echo "Bail out! skopeo copy failed"; exit 1; }

# no_temp: no temporary layout (copy-*) is left in the cache
no_temp() { ! ls "$PINION_CACHE_DIR" 2>/dev/null | grep -q "^copy-"; }

# tree_sig DIR: every entry (type, mode, owner, size, link target), then
# every file's sha256
tree_sig() {
	(cd "$1" && find . -printf "%p %y %m %U %G %s %l\n" | LC_ALL=C sort &&
		find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum)
}

test_expect_success 'predict: an oci-archive and a docker-archive skopeo wrote answer' '
	pq predict "oci-archive:$T/sk.tar:v1" -i name=oci >p1.out 2>p1.err || { cat p1.err; false; } &&
	test_equal "$(cat p1.out)" "hello, oci!" &&
	pq predict "docker-archive:$T/skd.tar" -i name=docker -i times=2 >p2.out 2>p2.err ||
		{ cat p2.err; false; } &&
	test_equal "$(cat p2.out)" "hello, docker! hello, docker!" &&
	test_expect_failure_status 2 pq train "oci-archive:$T/sk.tar:v1" 2>t.err &&
	test_grep "the image has no trainer" t.err &&
	no_temp
'

test_expect_success 'serve: a docker-archive served until SIGTERM; its temporary layout goes with it' '
	port=$(free_port) || exit 1
	"$PINION" serve "docker-archive:$T/skd.tar" -p "$port" >serve.out 2>serve.err &
	spid=$!
	test_when_finished "kill $spid 2>/dev/null" &&
	for i in $(seq 1 300); do
		curl -sf "http://127.0.0.1:$port/health-check" 2>/dev/null | grep -q READY && break; sleep 0.2
	done &&
	ls "$PINION_CACHE_DIR" | grep -q "^copy-archive-" &&
	curl -sf -X POST -H "Content-Type: application/json" -d "{\"input\":{\"name\":\"served\"}}" \
		"http://127.0.0.1:$port/predictions" | jq -r .output >serve.json &&
	test_equal "$(cat serve.json)" "hello, served!" &&
	kill -TERM $spid && wait $spid &&
	no_temp
'

test_expect_success 'run: a command in the image of an archive; the exit status is the command one' '
	pinion run "oci-archive:$T/sk.tar:v1" -- cat /src/predict.py >r1.out 2>r1.err ||
		{ cat r1.err; false; } &&
	test_cmp "$TEST_ROOT/examples/hello/predict.py" r1.out &&
	pinion run "oci:$LAYOUT:latest" -- cat /etc/debian_version >r2.want 2>/dev/null &&
	test -s r2.want &&
	pinion run "docker-archive:$T/skd.tar:me/hello:v1" -- cat /etc/debian_version >r2.out 2>r2.err ||
		{ cat r2.err; false; } &&
	test_cmp r2.want r2.out &&
	test_expect_failure_status 7 pinion run "docker-archive:$T/skd.tar:@0" -- sh -c "exit 7" \
		2>/dev/null &&
	no_temp
'

test_expect_success 'unpack: the tree umoci unpacks from the layout, from either archive' '
	umoci unpack --image "$LAYOUT:latest" "$T/bundle" >/dev/null 2>&1 &&
	tree_sig "$T/bundle/rootfs" >want.sig &&
	test "$(grep -c " f " want.sig)" -gt 1000 &&
	pq unpack --devices "oci-archive:$T/sk.tar:v1" "$T/u1" 2>u1.err || { cat u1.err; false; } &&
	tree_sig "$T/u1" >u1.sig && test_cmp want.sig u1.sig &&
	pq unpack --devices "docker-archive:$T/skd.tar" "$T/u2" 2>u2.err || { cat u2.err; false; } &&
	tree_sig "$T/u2" >u2.sig && test_cmp want.sig u2.sig &&
	no_temp
'

test_expect_success 'ls: the names and digests of an archive, as skopeo wrote them' '
	pq ls "oci-archive:$T/sk.tar" >l1.out &&
	test_equal "$(wc -l <l1.out)" 1 &&
	test_equal "$(awk "{print \$1, \$2}" l1.out)" \
		"v1 $(skopeo inspect "oci-archive:$T/sk.tar:v1" | jq -r .Digest)" &&
	pq ls --json "docker-archive:$T/skd.tar" >l2.json &&
	test_equal "$(jq -r ".[0].name" l2.json)" "docker.io/me/hello:v1" &&
	test_equal "$(jq -r ".[0].tag" l2.json)" "v1" &&
	test_equal "$(jq length l2.json)" 1 &&
	test_expect_failure_status 2 pq ls "oci-archive:$T/sk.tar:v1" 2>l3.err &&
	test_grep "without a tag" l3.err &&
	no_temp
'

PODMAN="podman --root $T/podman/root --runroot $T/podman/run --storage-driver vfs"
if [ "$(id -u)" -eq 0 ] && command -v podman >/dev/null && $PODMAN images >/dev/null 2>&1; then
	test_expect_success 'podman save (docker-archive, oci-archive): predict, run, ls' '
		test_when_finished "$PODMAN rmi -a -f >/dev/null 2>&1; true" &&
		$PODMAN load -i "$T/skd.tar" >load.out 2>&1 &&
		$PODMAN save --format docker-archive -o "$T/ps.tar" docker.io/me/hello:v1 2>/dev/null &&
		$PODMAN save --format oci-archive -o "$T/pso.tar" docker.io/me/hello:v1 2>/dev/null &&
		pq predict "docker-archive:$T/ps.tar" -i name=podman >pp.out 2>pp.err ||
			{ cat pp.err; false; } &&
		test_equal "$(cat pp.out)" "hello, podman!" &&
		pinion run "oci-archive:$T/pso.tar" -- cat /src/predict.py >pr.out 2>/dev/null &&
		test_cmp "$TEST_ROOT/examples/hello/predict.py" pr.out &&
		test_equal "$(pq ls "oci-archive:$T/pso.tar" | awk "{print \$1}")" "docker.io/me/hello:v1" &&
		no_temp
	'
else
	test_skip 'podman save (docker-archive, oci-archive): predict, run, ls' "podman does not run here as root"
fi

# fails CMD...: status $1, stderr names $2 and never the temporary layout
fails() {
	local st=$1 name=$2; shift 2
	test_expect_failure_status "$st" "$@" 2>f.err &&
		test_grep "$name" f.err && ! grep -q "copy-archive" f.err && no_temp
}

test_expect_success 'a truncated archive: predict, run, unpack, ls fail naming it; nothing is left' '
	head -c $(($(stat -c %s sk.tar) / 2)) sk.tar >trunc.tar &&
	head -c $(($(stat -c %s skd.tar) / 2)) skd.tar >trunc-d.tar &&
	for a in "oci-archive:$T/trunc.tar" "docker-archive:$T/trunc-d.tar"; do
		fails 2 "trunc.*\.tar.*runcated" pq predict "$a" -i name=x &&
		fails 2 "trunc.*\.tar.*runcated" pinion run "$a" -- true &&
		fails 2 "trunc.*\.tar.*runcated" pq unpack "$a" "$T/ut" &&
		test ! -e "$T/ut" &&
		fails 2 "trunc.*\.tar.*runcated" pq ls "$a" || exit 1
	done
'

test_expect_success 'a REF the archive lacks, a missing file: errors naming them; nothing is left' '
	for a in "oci-archive:$T/sk.tar:nosuch" "docker-archive:$T/skd.tar:nosuch" \
		"oci-archive:$T/none.tar"; do
		case $a in
		*sk.tar:nosuch) want="no image .nosuch. in .$T/sk.tar." ;;
		*skd.tar:nosuch) want="skd.tar. has no image .nosuch." ;;
		*) want="open .$T/none.tar.: No such file" ;;
		esac
		fails 1 "$want" pq predict "$a" -i name=x &&
		fails 1 "$want" pinion run "$a" -- true &&
		fails 1 "$want" pq unpack "$a" "$T/ur" || exit 1
	done &&
	test ! -e "$T/ur" &&
	fails 1 "skd.tar. has no image .nosuch." pq ls "docker-archive:$T/skd.tar:nosuch"
'

test_expect_success 'an oci-archive of two images and no REF: the error names the archive and its tags, never the temporary layout' '
	skopeo copy -q "oci:$LAYOUT:latest" "oci:$T/two:a" &&
	skopeo copy -q "oci:$LAYOUT:latest" "oci:$T/two:b" &&
	tar -C "$T/two" -cf "$T/two.tar" . &&
	fails 2 "holds 2 images: name one with oci-archive:$T/two.tar:TAG (has: a, b)" \
		pinion run "oci-archive:$T/two.tar" -- true &&
	fails 2 "name one with oci-archive:$T/two.tar:TAG" pq unpack "oci-archive:$T/two.tar" "$T/u2i" &&
	fails 2 "name one with oci-archive:$T/two.tar:TAG" pq predict "oci-archive:$T/two.tar" -i name=x &&
	pinion run "oci-archive:$T/two.tar:b" -- true
'

test_expect_success 'a hostile archive is refused by unpack and run, the member named; nothing lands outside' '
	python3 - <<-EOF &&
	import io, tarfile
	with tarfile.open("$T/dotdot.tar", "w") as t:
	    for n, d in [("oci-layout", b"{\"imageLayoutVersion\":\"1.0.0\"}"),
	                 ("index.json", b"{\"schemaVersion\":2,\"manifests\":[]}"),
	                 ("../../escaped", b"x")]:
	        ti = tarfile.TarInfo(n); ti.size = len(d); t.addfile(ti, io.BytesIO(d))
	EOF
	fails 2 "\.\./\.\./escaped" pq unpack "oci-archive:$T/dotdot.tar" "$T/uh" &&
	fails 2 "\.\./\.\./escaped" pinion run "oci-archive:$T/dotdot.tar" -- true &&
	test ! -e "$T/uh" && test ! -e "$T/escaped" && test ! -e "$T/../escaped"
'

# slow_archive: $T/slow.tar, a FIFO that gives half of sk.tar, then stalls
# (the reader is stopped mid-read); its writer pid in $fp
slow_archive() {
	rm -f "$T/slow.tar" && mkfifo "$T/slow.tar" || return 1
	{ head -c $(($(stat -c %s "$T/sk.tar") / 2)) "$T/sk.tar"; exec sleep 120; } >"$T/slow.tar" &
	fp=$!
}

test_expect_success 'SIGTERM, SIGINT, SIGHUP while an archive is read: its temporary layout goes, the status is the signal one' '
	for c in "TERM 143 run" "INT 130 predict" "HUP 129 unpack"; do
		set -- $c && slow_archive || exit 1
		case $3 in
		run) env --default-signal=HUP,INT,TERM "$PINION" run "oci-archive:$T/slow.tar" -- true 2>sig.err & ;;
		predict) env --default-signal=HUP,INT,TERM "$PINION" predict "oci-archive:$T/slow.tar" -i name=x 2>sig.err & ;;
		unpack) env --default-signal=HUP,INT,TERM "$PINION" unpack "oci-archive:$T/slow.tar" "$T/us" 2>sig.err & ;;
		esac
		pid=$! && got=""
		for i in $(seq 150); do
			got=$(du -sk "$PINION_CACHE_DIR"/copy-archive-* 2>/dev/null | awk "\$1 > 1024 {print \$2}")
			test -n "$got" && break
			sleep 0.1
		done
		kill -$1 $pid; wait $pid; st=$?; kill $fp 2>/dev/null; wait $fp 2>/dev/null
		echo "$3, SIG$1 while reading: status $st, the temporary layout was ${got:-not seen}" &&
		test -n "$got" && test_equal "$st" "$2" && test ! -e "$got" && no_temp || { cat sig.err; exit 1; }
	done &&
	test ! -e "$T/us"
'

test_expect_success 'gc of an archive is refused: it takes layouts' '
	test_expect_failure_status 2 pinion gc "oci-archive:$T/sk.tar" 2>g.err &&
	test_grep "not a layout" g.err
'

test_expect_success 'a SIGKILLed run leaves its temporary layout; gc keeps it while in use, then takes it' '
	"$PINION" run "oci-archive:$T/sk.tar:v1" -- sleep 29.7 >/dev/null 2>&1 &
	pid=$! && spid="" &&
	test_when_finished "kill -9 $pid 2>/dev/null; true" &&
	for i in $(seq 150); do
		spid=$(pgrep -f "^sleep 29.7$") && break
		sleep 0.2
	done &&
	test -n "$spid" && test_when_finished "kill -9 $spid 2>/dev/null; true" &&
	tmp=$(ls -d "$PINION_CACHE_DIR"/copy-archive-*) && test -d "$tmp" &&
	touch -d "-1 hour" "$tmp" &&
	pinion gc --no-wait >/dev/null 2>&1 && test -d "$tmp" &&
	kill -9 $pid && { wait $pid 2>/dev/null; true; } &&
	test -d "$tmp" &&
	pinion gc >/dev/null 2>&1 && test ! -e "$tmp"
'

test_done
