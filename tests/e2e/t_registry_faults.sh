#!/bin/bash
# t_registry_faults.sh - a hostile or broken registry (tests/tools/fault_proxy.py
# in front of Debian's docker-registry) cannot hang pinion, exhaust it, or
# collect the credentials of another origin.  Cases that must be cut off run
# with small limits and assert a generous bound on the wall time.
. "$(dirname "$0")/lib.sh"
. "$TEST_ROOT/tests/tools/registry.sh"
cd "$T" || exit 1

# within SECONDS CMD...: runs CMD, fails when it took SECONDS or more (the
# generous bound on a cut-off); CMD's status is kept in $within_status
within() {
	local max=$1 t0 t1
	shift
	t0=$(date +%s)
	"$@"; within_status=$?
	t1=$(date +%s)
	echo "took $((t1 - t0)) s (bound $max s), status $within_status"
	[ $((t1 - t0)) -lt "$max" ]
}

mkdir -p "$T/root/data"
head -c 200000 /dev/urandom >"$T/root/data/blob.bin"
pq import "$T/root" "oci:$T/src:v1" >"$T/src.digest" ||
	{ echo "Bail out! pinion import failed"; exit 1; }
SRC_DIGEST=$(cat "$T/src.digest")

registry_start plain plain
PLAIN=$REGISTRY
pq copy "oci:$T/src:v1" "$PLAIN/demo:v1" >/dev/null || { echo "Bail out! push failed"; exit 1; }

test_expect_success 'hang: blobs dripped at 2.5 B/s are cut by the low-speed limit, retried once, exit 1' '
	fault_proxy_start drip --fault drip:100 &&
	within 30 test_expect_failure_status 1 pq pull --low-speed-limit 1K --low-speed-time=2 \
		--retries 1 "$PROXY/demo:v1" "oci:$T/d1" 2>err &&
	test_equal "$within_status" 0 && one_error_line err && cat err &&
	test_grep "slower than 1024 bytes/s for 2 s (--low-speed-limit, --low-speed-time)" err &&
	test_grep "gave up after 2 attempts" err &&
	test "$(fault_proxy_stat faults.drip)" -ge 2
'

test_expect_success 'hang: a blob that trickles above the low-speed limit is cut by --blob-timeout' '
	fault_proxy_start trickle --fault "drip:100:0:^GET /v2/.+/blobs/" --drip-rate 4000 &&
	within 30 test_expect_failure_status 1 pq pull --low-speed-limit 100 --blob-timeout 2 \
		--retries=1 "$PROXY/demo:v1" "oci:$T/d2" 2>err &&
	test_equal "$within_status" 0 && one_error_line err && cat err &&
	test_grep "not done within the 2 s deadline (--blob-timeout)" err &&
	test "$(fault_proxy_stat faults.drip)" -ge 2
'

test_expect_success 'hang: a dripped manifest is cut by the low-speed limit' '
	fault_proxy_start mdrip --fault "drip:100:0:^GET /v2/.+/manifests/" &&
	within 30 test_expect_failure_status 1 pq pull --low-speed-limit 1K --low-speed-time 2 \
		--retries 1 "$PROXY/demo:v1" "oci:$T/d3" 2>err &&
	test_equal "$within_status" 0 && one_error_line err && cat err &&
	test_grep "manifest of .$PROXY/demo:v1.: slower than 1024 bytes/s for 2 s" err &&
	test_equal "$(fault_proxy_stat faults.drip)" 2
'

test_expect_success 'hang: headers dripped forever are cut by --request-timeout' '
	fault_proxy_start hdrip --fault drip-headers:100 &&
	within 30 test_expect_failure_status 1 pq pull --low-speed-limit 0 --request-timeout 2 \
		--retries 1 "$PROXY/demo:v1" "oci:$T/d4" 2>err &&
	test_equal "$within_status" 0 && one_error_line err && cat err &&
	test_grep "not done within the 2 s deadline (--request-timeout)" err &&
	test_equal "$(fault_proxy_stat faults.drip-headers)" 2
'

test_expect_success 'hang: a dripped token response is cut by the low-speed limit' '
	fault_proxy_start tdrip --require-bearer --fault "drip:100:0:^GET /token" &&
	within 30 test_expect_failure_status 1 pq pull --low-speed-limit 1K --low-speed-time 2 \
		--retries 1 "$PROXY/demo:v1" "oci:$T/d5" 2>err &&
	test_equal "$within_status" 0 && one_error_line err && cat err &&
	test_grep "token response of .$PROXY.: slower than 1024 bytes/s" err &&
	test_equal "$(fault_proxy_stat faults.drip)" 2
'

test_expect_success 'hang: a redirect loop stops at the redirect limit' '
	fault_proxy_start loop --fault redirect-loop:100 &&
	within 30 test_expect_failure_status 1 pq pull "$PROXY/demo:v1" "oci:$T/d6" 2>err &&
	test_equal "$within_status" 0 && one_error_line err && cat err &&
	test_grep "more than 5 redirects" err &&
	test_equal "$(fault_proxy_stat redirects)" 6
'

test_expect_success 'hang: an upload session that keeps forgetting its chunks gives up after --retries' '
	fault_proxy_start rewind --fault rewind:100000 &&
	within 30 test_expect_failure_status 1 timeout 120 "$PINION" --progress quiet copy \
		--chunk-size 64K --retries 2 "oci:$T/src:v1" "$PROXY/rewound:v1" 2>err &&
	test_equal "$within_status" 0 && one_error_line err && cat err &&
	test_grep "gave up after 3 failed chunks without progress past byte 65536: upload chunk" err &&
	n=$(fault_proxy_stat faults.rewind) && echo "rewind answers: $n" &&
	test "$n" -ge 6 && test "$n" -lt 40
'

test_expect_success 'bounds: endless header lines are cut at the 256 KiB limit' '
	fault_proxy_start flood --fault flood-headers:100 &&
	within 30 test_expect_failure_status 1 pq pull "$PROXY/demo:v1" "oci:$T/b1" 2>err &&
	test_equal "$within_status" 0 && one_error_line err && cat err &&
	test_grep "headers of manifest of .$PROXY/demo:v1. are larger than the 256 KiB limit" err
'

test_expect_success 'bounds: an error body that never ends is cut; the 404 is reported' '
	fault_proxy_start eflood --fault flood-error:100 &&
	within 30 test_expect_failure_status 1 pq pull "$PROXY/demo:v1" "oci:$T/b2" 2>err &&
	test_equal "$within_status" 0 && one_error_line err && cat err &&
	test_grep "not found (HTTP 404" err
'

test_expect_success 'bounds: a 6 MiB manifest, index, a 40 MiB config, a 2 MiB token name their limits' '
	fault_proxy_start huge --fault huge:1 &&
	test_expect_failure_status 1 pq pull "$PROXY/demo:v1" "oci:$T/b3" 2>err &&
	one_error_line err &&
	test_grep "manifest of .$PROXY/demo:v1. is larger than the 4 MiB limit" err &&
	fault_proxy_start hugeix --fault huge:1 --huge-type application/vnd.oci.image.index.v1+json &&
	test_expect_failure_status 1 pq pull "$PROXY/demo:v1" "oci:$T/b3" 2>err &&
	one_error_line err && test_grep "index of .$PROXY/demo:v1. is larger than the 4 MiB limit" err &&
	fault_proxy_start hugecfg --fault "huge:1:0:^GET /v2/.+/blobs/" --huge-size $((40 << 20)) &&
	test_expect_failure_status 1 pq inspect "$PROXY/demo:v1" 2>err &&
	one_error_line err && test_grep "config .sha256:[0-9a-f]*. of .$PROXY/demo. is larger than the 32 MiB limit" err &&
	fault_proxy_start hugetok --require-bearer --fault "huge:1:0:^GET /token" --huge-size $((2 << 20)) &&
	test_expect_failure_status 1 pq pull "$PROXY/demo:v1" "oci:$T/b4" 2>err &&
	one_error_line err && test_grep "token response of .$PROXY. is larger than the 1 MiB limit" err &&
	! grep -q "Failure writing" err
'

test_expect_success 'bounds: blob bodies that never end stop at the size in the manifest' '
	fault_proxy_start endless --fault "huge:100:0:^GET /v2/.+/blobs/" --huge-size -1 &&
	within 30 test_expect_failure_status 1 pq pull --retries 1 "$PROXY/demo:v1" "oci:$T/b5" 2>err &&
	test_equal "$within_status" 0 && one_error_line err && cat err &&
	test_grep "gave up after 2 attempts: more bytes than the expected [0-9]*" err &&
	test_equal "$(find $T/b5/blobs -type f | wc -l)" 0
'

# put_manifest_sized REPO:TAG SIZE: the image of $T/src with its layer's
# declared size replaced by SIZE, as REPO:TAG on $PLAIN (the registry checks
# that the blobs exist, not their sizes)
put_manifest_sized() {
	pq copy "oci:$T/src:v1" "$PLAIN/${1%%:*}:base" >/dev/null &&
	"$PYTHON" - "$T/src" "$SRC_DIGEST" "$PLAIN" "${1%%:*}" "${1#*:}" "$2" <<-'PY'
	import json, sys, urllib.request
	layout, digest, reg, repo, tag, size = sys.argv[1:]
	path = f"{layout}/blobs/sha256/{digest.split(':')[1]}"
	m = json.load(open(path))
	m["layers"][0]["size"] = int(size)
	body = json.dumps(m).encode()
	req = urllib.request.Request(f"http://{reg}/v2/{repo}/manifests/{tag}", data=body,
	                             method="PUT", headers={"Content-Type": m["mediaType"]})
	urllib.request.urlopen(req).read()
	PY
}

test_expect_success 'bounds: a manifest declaring a 1 TiB layer is refused before any download' '
	put_manifest_sized tera:v1 $((1 << 40)) &&
	fault_proxy_start tera &&
	within 30 test_expect_failure_status 1 pq pull "$PROXY/tera:v1" "oci:$T/tb" 2>err &&
	test_equal "$within_status" 0 && one_error_line err && cat err &&
	test_grep "blob .sha256:[0-9a-f]*. declares 1.0 TiB (1099511627776 bytes), more than the 64 GiB limit (--max-blob-size)" err &&
	test_equal "$(fault_proxy_stat blob_body_bytes)" 0 &&
	test_equal "$(find "$T/tb/blobs" -type f | wc -l)" 0 &&
	test_equal "$(find "$T/tb/.pinion-tmp" -type f 2>/dev/null | wc -l)" 0
'

test_expect_success 'bounds: --max-blob-size and the config key refuse a real 200 KB layer; 1M lets it through' '
	test_expect_failure_status 1 pq pull --max-blob-size 100K "$PLAIN/demo:v1" "oci:$T/ms1" 2>err &&
	one_error_line err && cat err &&
	test_grep "more than the 100 KiB limit (--max-blob-size)" err &&
	test_equal "$(find "$T/ms1/.pinion-tmp" -type f 2>/dev/null | wc -l)" 0 &&
	printf "max-blob-size 100K\n" >"$T/ms.conf" &&
	test_expect_failure_status 1 env PINION_REGISTRIES_CONF="$T/ms.conf" "$PINION" --progress quiet \
		pull "$PLAIN/demo:v1" "oci:$T/ms2" 2>err &&
	test_grep "more than the 100 KiB limit" err &&
	test_equal "$(pq pull --max-blob-size=1M $PLAIN/demo:v1 oci:$T/ms3)" "$SRC_DIGEST" &&
	test_expect_failure_status 2 pq pull --max-blob-size 2P "$PLAIN/demo:v1" "oci:$T/ms4" 2>err &&
	one_error_line err && test_grep "invalid .--max-blob-size 2P." err
'

free_kib=$(df -Pk "$T" | awk "NR == 2 { print \$4 }")
if [ "$free_kib" -lt $((1 << 30)) ]; then
	test_expect_success 'space: a 1 TiB layer allowed by --max-blob-size 2T fails early on free space' '
		fault_proxy_start space &&
		within 30 test_expect_failure_status 1 pq pull --max-blob-size 2T "$PROXY/tera:v1" "oci:$T/sp" 2>err &&
		test_equal "$within_status" 0 && one_error_line err && cat err &&
		test_grep "not enough free space in .$T/sp.: the missing blobs declare 1.0 TiB ([0-9]* bytes) and 64 MiB more is kept free, but only .* is free" err &&
		test_equal "$(fault_proxy_stat blob_body_bytes)" 0 &&
		test_equal "$(find "$T/sp/.pinion-tmp" -type f 2>/dev/null | wc -l)" 0
	'
else
	test_skip 'space: a 1 TiB layer fails early on free space' "more than 1 TiB free under $T"
fi

test_expect_success 'credentials: an upload Location on another port gets no credentials (basic, bearer)' '
	fault_proxy_start other &&
	OTHER=$PROXY OTHER_STATS=$PROXY_STATS &&
	fault_proxy_start gate --require-basic u1:secret --upload-location "http://$OTHER" &&
	pq copy --creds u1:secret "oci:$T/src:v1" "$PROXY/moved:v1" >out &&
	test_equal "$(cat out)" "$SRC_DIGEST" &&
	test "$(fault_proxy_stat authorization_headers)" -gt 0 &&
	test_equal "$(fault_proxy_stat by_method.PUT)" 1 &&
	fault_proxy_start bgate --require-bearer --upload-location "http://$OTHER" &&
	pq copy --chunk-size 64K "oci:$T/src:v1" "$PROXY/moved2:v1" >out &&
	test_equal "$(cat out)" "$SRC_DIGEST" &&
	test "$(fault_proxy_stat authorization_headers)" -gt 0 &&
	PROXY_STATS=$OTHER_STATS &&
	test "$(fault_proxy_stat by_method.PUT)" -ge 4 &&
	test "$(fault_proxy_stat by_method.PATCH)" -ge 3 &&
	test_equal "$(fault_proxy_stat authorization_headers)" 0 &&
	test_equal "$(pq pull $PLAIN/moved2:v1 oci:$T/moved2)" "$SRC_DIGEST" &&
	fault_proxy_start other401 --require-basic u1:secret &&
	OTHER=$PROXY OTHER_STATS=$PROXY_STATS &&
	fault_proxy_start gate401 --require-basic u1:secret --upload-location "http://$OTHER" &&
	test_expect_failure_status 1 pq copy --creds u1:secret "oci:$T/src:v1" "$PROXY/moved3:v1" 2>err &&
	one_error_line err && cat err &&
	test_grep "asks for credentials, but those of registry .$PROXY. are not sent to another origin" err &&
	PROXY_STATS=$OTHER_STATS &&
	test "$(fault_proxy_stat requests)" -ge 1 &&
	test_equal "$(fault_proxy_stat authorization_headers)" 0
'

test_expect_success 'credentials: a blob redirect to another port of the same host gets none' '
	fault_proxy_start store &&
	STORE=$PROXY STORE_STATS=$PROXY_STATS &&
	fault_proxy_start sgate --require-basic u1:secret --redirect-blobs "http://$STORE" &&
	pq pull --creds u1:secret "$PROXY/demo:v1" "oci:$T/rd" >out &&
	test_equal "$(cat out)" "$SRC_DIGEST" &&
	test_equal "$(fault_proxy_stat redirects)" 2 &&
	PROXY_STATS=$STORE_STATS &&
	test_equal "$(fault_proxy_stat by_method.GET)" 2 &&
	test_equal "$(fault_proxy_stat authorization_headers)" 0
'

test_expect_success 'tls: a blob redirect from an --insecure-registry host to HTTPS storage verifies the storage host' '
	mkdir -p "$T/storeca" && _registry_ca "$T/storeca" &&
	fault_proxy_start tstore --tls-cert "$T/storeca/server.pem" --tls-key "$T/storeca/server.key" &&
	TSTORE=$PROXY TSTORE_STATS=$PROXY_STATS &&
	fault_proxy_start tgate --redirect-blobs "https://$TSTORE" &&
	test_expect_failure_status 1 pq pull --insecure-registry "$PROXY" "$PROXY/demo:v1" "oci:$T/tr1" 2>err &&
	cat err && test_grep "TLS certificate not trusted" err &&
	test "$(fault_proxy_stat redirects)" -ge 1 &&
	test_equal "$(find "$T/tr1/blobs" -type f 2>/dev/null | wc -l)" 0 &&
	test_equal "$(pq pull --insecure-registry "$PROXY" --insecure-registry "$TSTORE" \
		"$PROXY/demo:v1" "oci:$T/tr2")" "$SRC_DIGEST" &&
	test_equal "$(pq pull --ca-bundle "$T/storeca/ca.pem" "$PROXY/demo:v1" "oci:$T/tr3")" "$SRC_DIGEST" &&
	PROXY_STATS=$TSTORE_STATS && test "$(fault_proxy_stat by_method.GET)" -ge 4 &&
	test_equal "$(fault_proxy_stat authorization_headers)" 0
'

test_expect_success 'tls: a redirect from HTTPS to plain HTTP is refused' '
	fault_proxy_start hstore &&
	HSTORE=$PROXY &&
	fault_proxy_start hgate --tls-cert "$T/storeca/server.pem" --tls-key "$T/storeca/server.key" \
		--redirect-blobs "http://$HSTORE" &&
	test_expect_failure_status 1 pq pull --ca-bundle "$T/storeca/ca.pem" "$PROXY/demo:v1" "oci:$T/tr4" 2>err &&
	one_error_line err && cat err &&
	test_grep "redirect from https to plain HTTP .$HSTORE. refused" err
'

test_expect_success 'ping: a 503 to /v2/ is retried, so the auth challenge behind it is seen' '
	fault_proxy_start inner --require-basic u1:secret &&
	REGISTRY=$PROXY fault_proxy_start outer --fault "503:1:0:^GET /v2/$" &&
	pq pull --creds u1:secret "$PROXY/demo:v1" "oci:$T/p503" >out &&
	test_equal "$(cat out)" "$SRC_DIGEST" &&
	test_equal "$(fault_proxy_stat faults.503)" 1
'

test_expect_success 'flags: push and copy take every registry value flag as --flag V and --flag=V' '
	pq push --retries 2 --low-speed-limit 1K --low-speed-time 30 --request-timeout 60 \
		--blob-timeout 600 --parallel 2 --chunk-size 64K --platform linux/amd64 \
		"oci:$T/src:v1" "$PLAIN/flags:v1" >out &&
	test_equal "$(sed "s/.*@//" out)" "$SRC_DIGEST" &&
	pq push --retries=2 --low-speed-limit=1K --low-speed-time=30 --request-timeout=60 \
		--blob-timeout=600 "oci:$T/src:v1" "$PLAIN/flags:v2" >out &&
	test_equal "$(sed "s/.*@//" out)" "$SRC_DIGEST" &&
	test_expect_failure_status 2 pq push --low-speed-time x "oci:$T/src:v1" "$PLAIN/flags:v3" 2>err &&
	one_error_line err && test_grep "low-speed-time x" err &&
	printf "low-speed-limit 1K\nlow-speed-time 2\nretries 0\n" >"$T/faults.conf" &&
	fault_proxy_start cdrip --fault drip:100 &&
	within 30 env PINION_REGISTRIES_CONF="$T/faults.conf" "$PINION" --progress quiet \
		pull "$PROXY/demo:v1" "oci:$T/f1" 2>err &&
	test_equal "$within_status" 1 &&
	test_grep "slower than 1024 bytes/s for 2 s" err
'

test_done
