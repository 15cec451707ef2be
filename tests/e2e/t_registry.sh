#!/bin/bash
# t_registry.sh - pull, push, copy, inspect, login against Debian's
# docker-registry (plain, TLS + basic auth, token auth), checked with skopeo,
# and faults injected by tests/tools/fault_proxy.py.
. "$(dirname "$0")/lib.sh"
. "$TEST_ROOT/tests/tools/registry.sh"
cd "$T" || exit 1  # scratch files (out, err, events) live in $T

skopeo_digest() { skopeo inspect "$@" | jq -r .Digest; }

# on_pty TRANSCRIPT [EXPECT SEND]... -- CMD...: run CMD on a new pseudo-terminal
# (its controlling terminal); each time EXPECT shows up in its output, type
# SEND (\n and \x03 understood).  The output goes to TRANSCRIPT; the status
# is CMD's, 128+N when signal N ended it (CMD is killed after 60 s).
on_pty() {
	"$PYTHON" - "$@" <<-'EOF'
	import os, pty, select, signal, sys, time
	out_path, args = sys.argv[1], sys.argv[2:]
	deadline = time.monotonic() + 60
	sep = args.index("--")
	steps, cmd = args[:sep], args[sep + 1:]
	pid, fd = pty.fork()
	if pid == 0:
	    os.execvp(cmd[0], cmd)
	out = b""
	def more():
	    global out
	    if not select.select([fd], [], [], max(0, deadline - time.monotonic()))[0]:
	        out += b"<on_pty: no end within 60 s: killed>"
	        os.kill(pid, signal.SIGKILL)
	        return False
	    try:
	        d = os.read(fd, 4096)
	    except OSError:
	        d = b""
	    out += d
	    return bool(d)
	for expect, send in zip(steps[0::2], steps[1::2]):
	    while expect.encode() not in out:
	        if not more():
	            break
	    out = out.replace(expect.encode(), b"<" + expect.encode().strip() + b">", 1)
	    os.write(fd, send.encode().decode("unicode_escape").encode())
	while more():
	    pass
	_, st = os.waitpid(pid, 0)
	open(out_path, "wb").write(out)
	sys.exit(128 + os.WTERMSIG(st) if os.WIFSIGNALED(st) else os.WEXITSTATUS(st))
	EOF
}

# the test image: a small file tree plus a 3 MB incompressible file, so the
# layer is big enough for chunked uploads with --chunk-size 256K
mkdir -p "$T/root/etc" "$T/root/data"
echo "hello from pinion" >"$T/root/etc/greeting"
head -c 3000000 /dev/urandom >"$T/root/data/blob.bin"
mkdir -p "$T/root2" && echo "second" >"$T/root2/f"
pq import --label org.pinion.test=registry "$T/root" "oci:$T/src:v1" >"$T/src.digest" ||
	{ echo "Bail out! pinion import failed"; exit 1; }
pq import "$T/root2" "oci:$T/src:small" >/dev/null
SRC_DIGEST=$(cat "$T/src.digest")
LAYER=$(jq -r '.layers[0].digest' "$T/src/blobs/sha256/${SRC_DIGEST#sha256:}")
LAYER_SIZE=$(jq -r '.layers[0].size' "$T/src/blobs/sha256/${SRC_DIGEST#sha256:}")

registry_start plain plain
PLAIN=$REGISTRY

test_expect_success 'plain: push prints the layout digest; skopeo inspect agrees' '
	pq copy "oci:$T/src:v1" "$PLAIN/demo:v1" >out &&
	test_equal "$(cat out)" "$SRC_DIGEST" &&
	test_equal "$(skopeo_digest --tls-verify=false docker://$PLAIN/demo:v1)" "$SRC_DIGEST" &&
	skopeo inspect --tls-verify=false docker://$PLAIN/demo:v1 | jq -r ".Labels[\"org.pinion.test\"]" >lab &&
	test_equal "$(cat lab)" registry
'

test_expect_success 'plain: pull round trip gives identical digests and blobs' '
	pq pull "$PLAIN/demo:v1" "oci:$T/pulled" >out &&
	test_equal "$(cat out)" "$SRC_DIGEST" &&
	test_equal "$(layout_digest $T/pulled $PLAIN/demo:v1)" "$SRC_DIGEST" &&
	for b in $(ls $T/pulled/blobs/sha256); do cmp "$T/pulled/blobs/sha256/$b" "$T/src/blobs/sha256/$b" || exit 1; done &&
	test_equal "$(ls $T/pulled/blobs/sha256 | wc -l)" 3
'

test_expect_success 'plain: pull into oci:DIR keeps the whole name (as skopeo reads it); oci:DIR:v1 finds it by its tag' '
	pq pull "$PLAIN/demo:v1" "oci:$T/named" >/dev/null &&
	jq -r ".manifests[].annotations[\"org.opencontainers.image.ref.name\"]" "$T/named/index.json" >names &&
	test_equal "$(cat names)" "$PLAIN/demo:v1" &&
	test_equal "$(skopeo_digest oci:$T/named:$PLAIN/demo:v1)" "$SRC_DIGEST" &&
	test_equal "$(pq inspect oci:$T/named:v1 | jq -r .digest)" "$SRC_DIGEST" &&
	pq pull "$PLAIN/demo@$SRC_DIGEST" "oci:$T/named:bydigest" >/dev/null &&
	pq copy "oci:$T/src:small" "$PLAIN/second:v1" >/dev/null &&
	pq pull "$PLAIN/second:v1" "oci:$T/named" >/dev/null &&
	test_equal "$(jq ".manifests | length" "$T/named/index.json")" 3 &&
	test_equal "$(pq inspect oci:$T/named:$PLAIN/second:v1 | jq -r .digest)" "$(layout_digest $T/src small)" &&
	test_expect_failure_status 2 pq inspect "oci:$T/named:v1" 2>err &&
	one_error_line err && test_grep "$PLAIN/demo:v1" err && test_grep "$PLAIN/second:v1" err
'

test_expect_success 'plain: on a terminal (--progress tty) a pull draws a bar in place' '
	script -qec "$PINION --progress tty pull $PLAIN/demo:v1 oci:$T/pulled-tty" /dev/null >tty.out &&
	tr "\r" "\n" <tty.out >tty.lines &&
	test_grep "^.\[Kpulling \[#* *\] *[0-9]*% [0-9.]*/2\.9 MiB" tty.lines &&
	test_grep "pulled 2\.9 MiB in" tty.lines &&
	test_equal "$(layout_digest $T/pulled-tty $PLAIN/demo:v1)" "$SRC_DIGEST"
'

test_expect_success 'plain: inspect takes the registry flags (a mirror from the command line)' '
	pq inspect --registry-mirror "registry.example.test=$PLAIN" registry.example.test/demo:v1 >insp-m.json &&
	test_equal "$(jq -r .digest insp-m.json)" "$SRC_DIGEST" &&
	test_equal "$(jq -r ".labels[\"org.pinion.test\"]" insp-m.json)" registry &&
	pq inspect --raw manifest --platform linux/amd64 "$PLAIN/demo:v1" | jq -e .layers >/dev/null &&
	test_expect_failure_status 2 pq inspect --parallel x "$PLAIN/demo:v1" 2>insp-bad.err
'

test_expect_success 'plain: a second push skips every blob (HEAD)' '
	pinion --progress json copy "oci:$T/src:v1" "$PLAIN/demo:v1" 2>events >/dev/null &&
	test_equal "$(grep -c "\"event\":\"blob-exists\"" events)" 2 &&
	! grep -q "\"event\":\"blob-pushed\"" events
'

test_expect_success 'plain: pull skips blobs the layout has' '
	pinion --progress json pull "$PLAIN/demo:v1" "oci:$T/pulled:again" 2>events >/dev/null &&
	! grep -q "blob-pulled" events &&
	test_equal "$(layout_digest $T/pulled again)" "$SRC_DIGEST"
'

test_expect_success 'plain: registry to registry copy mounts blobs across repositories' '
	pinion --progress json copy "$PLAIN/demo:v1" "docker://$PLAIN/other/demo:v2" 2>events >out &&
	test_equal "$(cat out)" "$SRC_DIGEST" &&
	test_equal "$(grep -c "\"event\":\"blob-mounted\"" events)" 2 &&
	test_equal "$(skopeo_digest --tls-verify=false docker://$PLAIN/other/demo:v2)" "$SRC_DIGEST"
'

test_expect_success 'plain: a push in a later process mounts the blobs an earlier pull fetched' '
	pinion --progress json copy "oci:$T/pulled:v1" "$PLAIN/later/app:v1" 2>events >out &&
	test_equal "$(cat out)" "$SRC_DIGEST" &&
	test_equal "$(grep -c "\"event\":\"blob-mounted\"" events)" 2 &&
	test_equal "$(skopeo_digest --tls-verify=false docker://$PLAIN/later/app:v1)" "$SRC_DIGEST"
'

test_expect_success 'plain: skopeo copy of what pinion pushed keeps the digest; pinion pulls what skopeo pushed' '
	skopeo copy -q --src-tls-verify=false docker://$PLAIN/demo:v1 oci:$T/sk:v1 &&
	test_equal "$(layout_digest $T/sk v1)" "$SRC_DIGEST" &&
	skopeo copy -q --dest-tls-verify=false oci:$T/src:small docker://$PLAIN/fromskopeo:s1 &&
	want=$(skopeo_digest --tls-verify=false docker://$PLAIN/fromskopeo:s1) &&
	pq pull "$PLAIN/fromskopeo:s1" "oci:$T/fs:s1" >out &&
	test_equal "$(cat out)" "$want" &&
	test_equal "$(layout_digest $T/src small)" "$want"
'

test_expect_success 'plain: a four-layer image (umoci) pushed in parallel, with a 503 on the way' '
	umoci init --layout "$T/multi" && umoci new --image "$T/multi:m" &&
	for i in 1 2 3 4; do
		umoci unpack --rootless --image "$T/multi:m" "$T/mb$i" >/dev/null &&
		head -c $((i * 200000)) /dev/urandom >"$T/mb$i/rootfs/f$i" &&
		umoci repack --image "$T/multi:m" "$T/mb$i" >/dev/null || exit 1
	done &&
	test_equal "$(jq ".layers | length" "$T/multi/blobs/sha256/$(layout_digest $T/multi m | cut -d: -f2)")" 4 &&
	want=$(layout_digest "$T/multi" m) &&
	fault_proxy_start par --fault "503:1:0:^(PUT|PATCH) " &&
	pinion --progress json copy --parallel 4 "oci:$T/multi:m" "$PROXY/multi:m" 2>events >out &&
	test_equal "$(cat out)" "$want" &&
	test_equal "$(grep -c "\"event\":\"blob-pushed\"" events)" 5 &&
	test_equal "$(fault_proxy_stat faults.503)" 1 &&
	test_equal "$(fault_proxy_stat by_method.PATCH)" 0 &&
	test_equal "$(skopeo_digest --tls-verify=false docker://$PLAIN/multi:m)" "$want" &&
	pq pull "$PLAIN/multi:m" "oci:$T/multi2" >out &&
	test_equal "$(cat out)" "$want"
'

test_expect_success 'plain: a pull fetches config and layers in parallel, at most --parallel at once' '
	want=$(layout_digest "$T/multi" m) &&
	fault_proxy_start slow2 --blob-delay 0.3 &&
	test_equal "$(pq pull --parallel 2 $PROXY/multi:m oci:$T/par2)" "$want" &&
	# the /v2/ ping, the manifest, the config and four layers
	test_equal "$(fault_proxy_stat by_method.GET)" 7 &&
	test_equal "$(fault_proxy_stat max_in_flight)" 2 &&
	fault_proxy_start slow4 --blob-delay 0.3 &&
	test_equal "$(pq pull $PROXY/multi:m oci:$T/par4)" "$want" &&
	test_equal "$(fault_proxy_stat max_in_flight)" 4
'

test_expect_success 'plain: a two-platform index is pushed whole and pulled per --platform' '
	pq import --arch arm64 "$T/root2" "oci:$T/src:arm" >/dev/null &&
	amd=$(layout_digest "$T/src" small) && arm=$(layout_digest "$T/src" arm) &&
	entry() { jq -c --arg a "$2" ".manifests[] | select(.digest == \"$1\") | {mediaType, digest, size, platform: {os: \"linux\", architecture: \$a}}" "$T/src/index.json"; } &&
	jq -cn --argjson a "$(entry $amd amd64)" --argjson b "$(entry $arm arm64)" \
		"{schemaVersion: 2, mediaType: \"application/vnd.oci.image.index.v1+json\", manifests: [\$a, \$b]}" >"$T/ix.json" &&
	ix=sha256:$(sha256sum <"$T/ix.json" | cut -c1-64) &&
	cp "$T/ix.json" "$T/src/blobs/sha256/${ix#sha256:}" &&
	jq --arg d "$ix" --argjson s "$(stat -c %s $T/ix.json)" \
		".manifests += [{mediaType: \"application/vnd.oci.image.index.v1+json\", digest: \$d, size: \$s, annotations: {\"org.opencontainers.image.ref.name\": \"multi\"}}]" \
		"$T/src/index.json" >"$T/index.new" && mv "$T/index.new" "$T/src/index.json" &&
	pq copy "oci:$T/src:multi" "$PLAIN/multiarch:v1" >/dev/null &&
	test_equal "$(skopeo inspect --raw --tls-verify=false docker://$PLAIN/multiarch:v1 | sha256sum | cut -c1-64)" "${ix#sha256:}" &&
	test_equal "$(pq pull $PLAIN/multiarch:v1 oci:$T/ma:v1)" "$amd" &&
	test_equal "$(pq pull --platform linux/arm64 $PLAIN/multiarch:v1 oci:$T/ma:arm)" "$arm" &&
	test_expect_failure_status 1 pq pull --platform linux/s390x "$PLAIN/multiarch:v1" "oci:$T/ma:s390x" 2>err &&
	one_error_line err && test_grep "linux/arm64" err
'

test_expect_success 'plain: Docker schema 2 manifests and a Docker manifest list are pulled as served' '
	skopeo copy -q --format v2s2 --dest-tls-verify=false "oci:$T/src:small" docker://$PLAIN/dock:amd &&
	skopeo copy -q --format v2s2 --dest-tls-verify=false "oci:$T/src:arm" docker://$PLAIN/dock:arm &&
	skopeo inspect --raw --tls-verify=false docker://$PLAIN/dock:amd >amd.json &&
	skopeo inspect --raw --tls-verify=false docker://$PLAIN/dock:arm >arm.json &&
	test_equal "$(jq -r .mediaType amd.json)" application/vnd.docker.distribution.manifest.v2+json &&
	amd=sha256:$(sha256sum <amd.json | cut -c1-64) && arm=sha256:$(sha256sum <arm.json | cut -c1-64) &&
	ent() { jq -cn --arg d "$1" --argjson s "$(stat -c %s $2)" --arg a "$3" \
		"{mediaType: \"application/vnd.docker.distribution.manifest.v2+json\", digest: \$d, size: \$s, platform: {os: \"linux\", architecture: \$a}}"; } &&
	jq -cn --argjson a "$(ent $amd amd.json amd64)" --argjson b "$(ent $arm arm.json arm64)" \
		"{schemaVersion: 2, mediaType: \"application/vnd.docker.distribution.manifest.list.v2+json\", manifests: [\$a, \$b]}" >list.json &&
	curl -sf -X PUT -H "Content-Type: application/vnd.docker.distribution.manifest.list.v2+json" \
		--data-binary @list.json "http://$PLAIN/v2/dock/manifests/list" &&
	test_equal "$(pq pull $PLAIN/dock:amd oci:$T/dock:amd)" "$amd" &&
	cmp amd.json "$T/dock/blobs/sha256/${amd#sha256:}" &&
	test_equal "$(pq pull --platform linux/arm64 $PLAIN/dock:list oci:$T/dock:arm)" "$arm" &&
	cmp arm.json "$T/dock/blobs/sha256/${arm#sha256:}" &&
	test_equal "$(pq pull $PLAIN/dock:list oci:$T/dock:dflt)" "$amd"
'

test_expect_success 'plain: pinion push oci:DIR:TAG REF; skopeo inspect agrees' '
	pq push "oci:$T/src:v1" "$PLAIN/pushed/app:v7" >out &&
	out=$(cat out) && test_equal "${out##*@}" "$SRC_DIGEST" &&
	skopeo inspect --tls-verify=false docker://$PLAIN/pushed/app:v7 >sk.json &&
	test_equal "$(jq -r .Digest sk.json)" "$SRC_DIGEST" &&
	test_equal "$(jq -r ".Layers[0]" sk.json)" "$LAYER" &&
	test_equal "$(jq -r ".Labels[\"org.pinion.test\"]" sk.json)" registry &&
	test_expect_failure_status 1 pq push "oci:$T/src:nosuchtag" "$PLAIN/pushed/app:v8" 2>err &&
	one_error_line err
'

test_expect_success 'plain: inspect through the registry, without layers' '
	pinion inspect "$PLAIN/demo:v1" >insp &&
	test_equal "$(jq -r .digest insp)" "$SRC_DIGEST" &&
	test_equal "$(jq -r ".labels[\"org.pinion.test\"]" insp)" registry &&
	test_equal "$(jq -r ".layers[0]" insp)" "$LAYER"
'

test_expect_success 'mirrors: docker.io rewritten to the local registry, r8.im to a layout' '
	pq copy "oci:$T/src:v1" "$PLAIN/library/python:3.11-slim" >/dev/null &&
	pq pull --registry-mirror "docker.io=$PLAIN" python:3.11-slim "oci:$T/mir" >out &&
	test_equal "$(cat out)" "$SRC_DIGEST" &&
	test_equal "$(layout_digest $T/mir docker.io/library/python:3.11-slim)" "$SRC_DIGEST" &&
	pq copy "oci:$T/src:small" "oci:$T/bases:u/m:v1" >/dev/null &&
	printf "mirror r8.im=oci:%s\n" "$T/bases" >"$T/registries.conf" &&
	PINION_REGISTRIES_CONF="$T/registries.conf" pq pull r8.im/u/m:v1 "oci:$T/mir2:x" >out &&
	test_equal "$(cat out)" "$(layout_digest $T/src small)" &&
	PINION_REGISTRIES_CONF="$T/registries.conf" pinion inspect r8.im/u/m:v1 >insp &&
	test_equal "$(jq -r .digest insp)" "$(layout_digest $T/src small)"
'

test_expect_success 'errors: unknown repository, unknown tag, unreachable registry: one line, status 1' '
	test_expect_failure_status 1 pq pull "$PLAIN/nosuchrepo:v1" "oci:$T/e1" 2>err &&
	one_error_line err && test_grep "not found" err &&
	test_expect_failure_status 1 pq pull "$PLAIN/demo:nosuchtag" "oci:$T/e1" 2>err &&
	one_error_line err && test_grep "demo:nosuchtag" err &&
	port=$(free_port) &&
	test_expect_failure_status 1 pq pull "127.0.0.1:$port/demo:v1" "oci:$T/e1" 2>err &&
	one_error_line err && test_grep "reach registry" err &&
	test_expect_failure_status 2 pq pull "Bad/Ref" "oci:$T/e1" 2>err &&
	test_grep "lowercase" err
'

test_expect_success 'faults: resets, truncation, corruption, 500, 503, 429 are survived' '
	for f in reset truncate corrupt 500 503 429; do
		fault_proxy_start "$f" --fault "$f:2" &&
		t0=$(date +%s%N) &&
		pq pull "$PROXY/demo:v1" "oci:$T/f-$f" >out || { echo "fault $f: pull failed"; exit 1; }
		ms=$((($(date +%s%N) - t0) / 1000000))
		# the config and the layer each get a 429 with Retry-After: 1 (at
		# once, in parallel): at least 1 s, where the first backoff is 0.2 s
		if [ "$f" = 429 ] && [ "$ms" -lt 950 ]; then echo "429: Retry-After not honoured (${ms} ms)"; exit 1; fi
		test_equal "$(cat out)" "$SRC_DIGEST" &&
		test_equal "$(fault_proxy_stat faults.$f)" 2 &&
		cmp "$T/f-$f/blobs/sha256/${LAYER#sha256:}" "$T/src/blobs/sha256/${LAYER#sha256:}" &&
		fault_proxy_stop "$f" || exit 1
	done
'

test_expect_success 'faults: a blob reset mid-way resumes with a Range request, not from the start' '
	fault_proxy_start rs --fault "reset:1:0:^GET /v2/.+/blobs/$LAYER" &&
	pq pull "$PROXY/demo:v1" "oci:$T/rs" >out &&
	test_equal "$(cat out)" "$SRC_DIGEST" &&
	test_equal "$(fault_proxy_stat faults.reset)" 1 &&
	test_equal "$(fault_proxy_stat range_requests)" 1 &&
	got=$(fault_proxy_stat blob_body_bytes) &&
	echo "layer $LAYER_SIZE bytes, blob bytes served $got" &&
	test "$got" -ge "$LAYER_SIZE" &&
	test "$got" -lt $((LAYER_SIZE + LAYER_SIZE / 4)) &&
	cmp "$T/rs/blobs/sha256/${LAYER#sha256:}" "$T/src/blobs/sha256/${LAYER#sha256:}" &&
	fault_proxy_stop rs
'

test_expect_success 'faults: a blob corrupted or truncated every time is never stored; one clear error' '
	for f in corrupt truncate; do
		fault_proxy_start "p$f" --fault "$f:1000" &&
		test_expect_failure_status 1 pq pull --retries 2 "$PROXY/demo:v1" "oci:$T/bad-$f" 2>err || exit 1
		one_error_line err && test_grep "gave up after 3 attempts" err &&
		test_equal "$(find $T/bad-$f/blobs -type f | wc -l)" 0 &&
		fault_proxy_stop "p$f" || exit 1
	done
'

test_expect_success 'faults: a chunked push reset mid-chunk resumes, re-sending at most one chunk' '
	fault_proxy_start up --fault reset-upload:1:4 &&
	pq copy --chunk-size 256K "oci:$T/src:v1" "$PROXY/resumed:v1" >out &&
	test_equal "$(cat out)" "$SRC_DIGEST" &&
	test_equal "$(fault_proxy_stat faults.reset-upload)" 1 &&
	test "$(fault_proxy_stat by_method.PATCH)" -gt 10 &&
	sent=$(fault_proxy_stat patch_body_bytes) &&
	echo "layer $LAYER_SIZE bytes, PATCH bodies $sent bytes" &&
	test "$sent" -gt "$LAYER_SIZE" &&
	test "$sent" -le $((LAYER_SIZE + 262144)) &&
	pq pull "$PLAIN/resumed:v1" "oci:$T/resumed" >/dev/null &&
	cmp "$T/resumed/blobs/sha256/${LAYER#sha256:}" "$T/src/blobs/sha256/${LAYER#sha256:}"
'

test_expect_success 'redirects: blobs follow a redirect to another host without the credentials' '
	fault_proxy_start store &&
	STORE=$PROXY STORE_STATS=$PROXY_STATS &&
	fault_proxy_start gate --require-basic "u1:secret" --redirect-blobs "http://localhost:${STORE#*:}" &&
	test_expect_failure_status 1 pq pull "$PROXY/demo:v1" "oci:$T/rd0" 2>err &&
	one_error_line err && test_grep "requires authentication" err &&
	pq pull --creds u1:secret "$PROXY/demo:v1" "oci:$T/rd" >out &&
	test_equal "$(cat out)" "$SRC_DIGEST" &&
	test "$(fault_proxy_stat authorization_headers)" -gt 0 &&
	test_equal "$(fault_proxy_stat redirects)" 2 &&
	PROXY_STATS=$STORE_STATS &&
	test_equal "$(fault_proxy_stat by_method.GET)" 2 &&
	test_equal "$(fault_proxy_stat authorization_headers)" 0
'

registry_start tls tls
TLS=$REGISTRY

test_expect_success 'tls: untrusted certificate is refused; --ca-bundle trusts it' '
	test_expect_failure_status 1 pq pull "$TLS/demo:v1" "oci:$T/t0" 2>err &&
	test_grep "certificate" err &&
	test_expect_failure_status 1 pq copy --ca-bundle "$REGISTRY_CA" "oci:$T/src:v1" "$TLS/demo:v1" 2>err &&
	one_error_line err && test_grep "requires authentication" err
'

test_expect_success 'tls+basic: wrong credentials: one line, status 1' '
	test_expect_failure_status 1 pq copy --ca-bundle "$REGISTRY_CA" --creds "$REGISTRY_USER:wrong" \
		"oci:$T/src:v1" "$TLS/demo:v1" 2>err &&
	one_error_line err && test_grep "refused the credentials" err &&
	! grep -q wrong err
'

test_expect_success 'tls+basic: push with credentials; skopeo agrees; login, pull, logout' '
	pq copy --ca-bundle "$REGISTRY_CA" --creds "$REGISTRY_USER:$REGISTRY_PASS" "oci:$T/src:v1" "$TLS/demo:v1" >out &&
	test_equal "$(cat out)" "$SRC_DIGEST" &&
	test_equal "$(skopeo_digest --cert-dir $REGISTRY_CERT_DIR --creds $REGISTRY_USER:$REGISTRY_PASS docker://$TLS/demo:v1)" "$SRC_DIGEST" &&
	printf "%s\n" "$REGISTRY_PASS" | pq login --ca-bundle "$REGISTRY_CA" --authfile "$T/auth.json" \
		-u "$REGISTRY_USER" --password-stdin "$TLS" >/dev/null &&
	test_equal "$(stat -c %a $T/auth.json)" 600 &&
	pq pull --ca-bundle "$REGISTRY_CA" --authfile "$T/auth.json" "$TLS/demo:v1" "oci:$T/tp" >out &&
	test_equal "$(cat out)" "$SRC_DIGEST" &&
	REGISTRY_AUTH_FILE="$T/auth.json" skopeo inspect --cert-dir $REGISTRY_CERT_DIR docker://$TLS/demo:v1 >/dev/null &&
	pq logout --authfile "$T/auth.json" "$TLS" >/dev/null &&
	test_expect_failure_status 1 pq logout --authfile "$T/auth.json" "$TLS" 2>err &&
	one_error_line err && test_grep "not logged in" err &&
	test_expect_failure_status 1 pq pull --ca-bundle "$REGISTRY_CA" --authfile "$T/auth.json" "$TLS/demo:v1" "oci:$T/tp2" 2>err &&
	one_error_line err
'

test_expect_success 'tls+basic: credentials appear nowhere in a -vvv trace or the layout' '
	pinion -v -v -v --progress json pull --ca-bundle "$REGISTRY_CA" --creds "$REGISTRY_USER:$REGISTRY_PASS" \
		"$TLS/demo:v1" "oci:$T/trace-layout" 2>trace >/dev/null &&
	test_grep "authorization: <redacted>" trace &&
	b64=$(printf %s "$REGISTRY_USER:$REGISTRY_PASS" | base64 -w0) &&
	! grep -r -q -e "$REGISTRY_PASS" -e "$b64" trace "$T/trace-layout"
'

test_expect_success 'tls+basic: wrong password at login is refused and not stored' '
	test_expect_failure_status 1 pq login --ca-bundle "$REGISTRY_CA" --authfile "$T/auth2.json" \
		-u "$REGISTRY_USER" -p nope "$TLS" 2>err &&
	one_error_line err && test ! -e "$T/auth2.json"
'

test_expect_success 'tls+basic: login without a password option asks on the terminal, without echo (as docker)' '
	on_pty pty1.out "Password: " "$REGISTRY_PASS\n" -- "$PINION" login --ca-bundle "$REGISTRY_CA" \
		--authfile "$T/pty-auth.json" -u "$REGISTRY_USER" "$TLS" &&
	test_grep "<Password:>" pty1.out && test_grep "Login succeeded" pty1.out &&
	! grep -q -e "$REGISTRY_PASS" pty1.out &&
	pq pull --ca-bundle "$REGISTRY_CA" --authfile "$T/pty-auth.json" "$TLS/demo:v1" "oci:$T/pty1" >out &&
	test_equal "$(cat out)" "$SRC_DIGEST" &&
	on_pty pty2.out "Username: " "$REGISTRY_USER\n" "Password: " "typo\x7f\x7f\x7f\x7f$REGISTRY_PASS\r" -- \
		"$PINION" login --ca-bundle "$REGISTRY_CA" --authfile "$T/pty-auth2.json" "$TLS" &&
	test_grep "<Username:>$REGISTRY_USER" pty2.out && ! grep -q -e "$REGISTRY_PASS" -e typo pty2.out &&
	test_equal "$(jq -r ".auths[\"$TLS\"].auth" "$T/pty-auth2.json" | base64 -d)" "$REGISTRY_USER:$REGISTRY_PASS"
'

test_expect_success 'tls+basic: a password typed wrong is refused; Ctrl-C at the prompt ends it (130); no terminal is one error' '
	test_expect_failure_status 1 on_pty pty3.out "Password: " "nope\n" -- "$PINION" login \
		--ca-bundle "$REGISTRY_CA" --authfile "$T/pty-auth3.json" -u "$REGISTRY_USER" "$TLS" &&
	test_grep "refused the credentials" pty3.out && test ! -e "$T/pty-auth3.json" &&
	test_expect_failure_status 130 on_pty pty4.out "Password: " "abc\x03" -- "$PINION" login \
		--ca-bundle "$REGISTRY_CA" --authfile "$T/pty-auth3.json" -u "$REGISTRY_USER" "$TLS" &&
	test ! -e "$T/pty-auth3.json" && ! grep -q abc pty4.out &&
	test_expect_failure_status 2 setsid -w "$PINION" login --authfile "$T/pty-auth3.json" \
		-u "$REGISTRY_USER" "$TLS" </dev/null 2>err &&
	one_error_line err && test_grep "no terminal to ask for the password on: give -u USER and --password-stdin" err &&
	test_expect_failure_status 2 setsid -w "$PINION" login --authfile "$T/pty-auth3.json" "$TLS" </dev/null 2>err &&
	one_error_line err && test_grep "no terminal to ask for the user name" err &&
	test_expect_failure_status 2 pq login --password-stdin "$TLS" </dev/null 2>err &&
	test_grep "(-u with either)" err
'

test_expect_success 'tls+basic: credentials from docker config.json' '
	mkdir -p "$T/dockercfg" &&
	printf "{\"auths\":{\"%s\":{\"auth\":\"%s\"}}}" "$TLS" "$(printf %s "$REGISTRY_USER:$REGISTRY_PASS" | base64 -w0)" \
		>"$T/dockercfg/config.json" &&
	DOCKER_CONFIG="$T/dockercfg" REGISTRY_AUTH_FILE= XDG_RUNTIME_DIR= HOME="$T" \
		pq pull --ca-bundle "$REGISTRY_CA" "$TLS/demo:v1" "oci:$T/dc" >out &&
	test_equal "$(cat out)" "$SRC_DIGEST"
'

registry_start token token
TOK=$REGISTRY

test_expect_success 'token: push with credentials, anonymous pull, scopes cached' '
	pq copy --ca-bundle "$REGISTRY_CA" --creds "$REGISTRY_USER:$REGISTRY_PASS" "oci:$T/src:v1" "$TOK/demo:v1" >out &&
	test_equal "$(cat out)" "$SRC_DIGEST" &&
	test_grep "repository:demo:pull,push" "$REGISTRY_DIR/token.log" &&
	test_equal "$(grep -c "pull,push" $REGISTRY_DIR/token.log)" 1 &&
	pq pull --ca-bundle "$REGISTRY_CA" "$TOK/demo:v1" "oci:$T/anon" >out &&
	test_equal "$(cat out)" "$SRC_DIGEST" &&
	test_equal "$(skopeo_digest --cert-dir $REGISTRY_CERT_DIR docker://$TOK/demo:v1)" "$SRC_DIGEST"
'

test_expect_success 'token: a refused cross-repository mount falls back to an upload' '
	echo "$LAYER $TOK denied/base" >>"$PINION_CACHE_DIR/registry-blob-sources" &&
	pinion --progress json copy --ca-bundle "$REGISTRY_CA" --creds "$REGISTRY_USER:$REGISTRY_PASS" \
		"oci:$T/src:v1" "$TOK/fresh:v1" 2>events >out &&
	test_equal "$(cat out)" "$SRC_DIGEST" &&
	test_grep "repository:denied/base:pull" "$REGISTRY_DIR/token.log" &&
	grep "\"event\":\"blob-pushed\"" events >pushed &&
	test_grep "$LAYER" pushed
'

test_expect_success 'token: login asks for the password on the terminal' '
	on_pty pty5.out "Password: " "$REGISTRY_PASS\n" -- "$PINION" login --ca-bundle "$REGISTRY_CA" \
		--authfile "$T/pty-tok.json" -u "$REGISTRY_USER" "$TOK" &&
	test_grep "Login succeeded" pty5.out && ! grep -q -e "$REGISTRY_PASS" pty5.out &&
	pq copy --ca-bundle "$REGISTRY_CA" --authfile "$T/pty-tok.json" "oci:$T/src:small" "$TOK/viapty:v1" >out &&
	test_equal "$(cat out)" "$(layout_digest $T/src small)"
'

# the secret as `kubectl create secret docker-registry` stores it: the
# .dockerconfigjson key, docker's config.json ({"auths":...}, with "auth"
# base64 user:pass), made by kubectl itself when it is installed
k8s_dockerconfigjson() {
	if command -v kubectl >/dev/null 2>&1; then
		KUBECONFIG=/dev/null kubectl create secret docker-registry regcred --dry-run=client -o json \
			--docker-server="$1" --docker-username="$2" --docker-password="$3" |
			jq -r ".data[\".dockerconfigjson\"]" | base64 -d
	else
		printf "{\"auths\":{\"%s\":{\"username\":\"%s\",\"password\":\"%s\",\"auth\":\"%s\"}}}" \
			"$1" "$2" "$3" "$(printf %s "$2:$3" | base64 -w0)"
	fi
}

test_expect_success 'token: a kubectl docker-registry secret, mounted as a file, authenticates a pull (docs/guides/kubernetes.md)' '
	mkdir -p "$T/k8s/auth" "$T/k8s/kaniko/.docker" &&
	k8s_dockerconfigjson "$TOK" "$REGISTRY_USER" "$REGISTRY_PASS" >"$T/k8s/auth/.dockerconfigjson" &&
	jq -e ".auths[\"$TOK\"].auth" "$T/k8s/auth/.dockerconfigjson" >/dev/null &&
	n=$(wc -l <"$REGISTRY_DIR/token.log") &&
	REGISTRY_AUTH_FILE="$T/k8s/auth/.dockerconfigjson" \
		"$PINION" --progress quiet pull --ca-bundle "$REGISTRY_CA" "$TOK/demo:v1" "oci:$T/k8s/p1" >out &&
	test_equal "$(cat out)" "$SRC_DIGEST" &&
	tail -n +$((n + 1)) "$REGISTRY_DIR/token.log" | jq -r .user | sort -u >users &&
	test_equal "$(cat users)" "$REGISTRY_USER" &&
	k8s_dockerconfigjson "https://$TOK" "$REGISTRY_USER" "$REGISTRY_PASS" >"$T/k8s/kaniko/.docker/config.json" &&
	n=$(wc -l <"$REGISTRY_DIR/token.log") &&
	DOCKER_CONFIG="$T/k8s/kaniko/.docker" REGISTRY_AUTH_FILE= XDG_RUNTIME_DIR= HOME="$T/k8s" \
		"$PINION" --progress quiet pull --ca-bundle "$REGISTRY_CA" "$TOK/demo:v1" "oci:$T/k8s/p2" >out &&
	test_equal "$(cat out)" "$SRC_DIGEST" &&
	tail -n +$((n + 1)) "$REGISTRY_DIR/token.log" | jq -r .user | sort -u >users &&
	test_equal "$(cat users)" "$REGISTRY_USER" &&
	printf "{\"auths\":{\"%s\":{\"username\":\"%s\",\"password\":\"%s\"}}}" "$TOK" "$REGISTRY_USER" \
		"$REGISTRY_PASS" >"$T/k8s/noauth.json" &&
	pq copy --ca-bundle "$REGISTRY_CA" --authfile "$T/k8s/noauth.json" "oci:$T/src:small" "$TOK/viak8s:v1" >out &&
	test_equal "$(cat out)" "$(layout_digest $T/src small)"
'

test_expect_success 'token: an identitytoken in the auth file goes through the OAuth2 refresh grant' '
	printf "{\"auths\":{\"%s\":{\"identitytoken\":\"%s\"}}}" "$TOK" "$REGISTRY_IDENTITY_TOKEN" >"$T/idt.json" &&
	pq copy --ca-bundle "$REGISTRY_CA" --authfile "$T/idt.json" "oci:$T/src:small" "$TOK/viaidt:v1" >out &&
	test_equal "$(cat out)" "$(layout_digest $T/src small)" &&
	test_grep "refresh_token" "$REGISTRY_DIR/token.log" &&
	printf "{\"auths\":{\"%s\":{\"identitytoken\":\"wrong\"}}}" "$TOK" >"$T/idt2.json" &&
	test_expect_failure_status 1 pq copy --ca-bundle "$REGISTRY_CA" --authfile "$T/idt2.json" "oci:$T/src:small" "$TOK/viaidt:v2" 2>err &&
	one_error_line err && test_grep "credentials refused" err
'

test_expect_success 'token: wrong credentials and anonymous push: one line, status 1' '
	test_expect_failure_status 1 pq copy --ca-bundle "$REGISTRY_CA" --creds "$REGISTRY_USER:bad" \
		"oci:$T/src:v1" "$TOK/demo:v2" 2>err &&
	one_error_line err && test_grep "credentials refused" err && ! grep -q ":bad" err &&
	test_expect_failure_status 1 pq copy --ca-bundle "$REGISTRY_CA" "oci:$T/src:small" "$TOK/demo:v3" 2>err &&
	one_error_line err && test_grep "authentication" err
'

test_done
