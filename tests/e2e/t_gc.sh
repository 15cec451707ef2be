#!/bin/bash
# t_gc.sh - `pinion gc`: what a SIGKILLed pull and a failed build leave is
# given back; a build running at the same time keeps everything it uses (gc
# waits for it); the automatic cache gc after a build; bad input.
. "$(dirname "$0")/lib.sh"
. "$TEST_ROOT/tests/tools/registry.sh"

blobs_in() { find "$1/blobs/sha256" -type f | wc -l; }
tmp_in() { find "$1/.pinion-tmp" -type f | wc -l; }
# backdate every temp file past gc's bound (10 minutes)
age_tmp() { find "$@" -type f -exec touch -d '-1 hour' {} +; }

# stall_proxy PORT UPSTREAM: a loopback proxy that forwards registry requests
# but sends only half of each blob over 1 MiB, then holds the connection open
cat >"$T/stall_proxy.py" <<'PY'
import http.client, sys, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
port, up = int(sys.argv[1]), sys.argv[2]
class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass
    def go(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else None
        c = http.client.HTTPConnection(up, timeout=60)
        hdrs = {k: v for k, v in self.headers.items() if k.lower() != "connection"}
        c.request(self.command, self.path, body=body, headers=hdrs)
        r = c.getresponse()
        data = r.read()
        self.send_response(r.status)
        for k, v in r.getheaders():
            if k.lower() not in ("connection", "transfer-encoding", "content-length"):
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command == "GET" and "/blobs/sha256:" in self.path and len(data) > (1 << 20):
            self.wfile.write(data[: len(data) // 2]); self.wfile.flush()
            time.sleep(3600)
        if self.command != "HEAD":
            self.wfile.write(data)
    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = go
ThreadingHTTPServer(("127.0.0.1", port), H).serve_forever()
PY

base_registry_start

STALL_PORT=$(free_port)
_registry_bg "$T/stall.pid" "$T/stall.log" "$PYTHON" "$T/stall_proxy.py" "$STALL_PORT" "$REGISTRY"
at_exit 'kill $(cat "$T/stall.pid")'

test_expect_success 'gc gives back what a SIGKILLed pull left (temp blob past the age bound)' '
	wait_port "$STALL_PORT" || exit 1
	"$PINION" copy "127.0.0.1:$STALL_PORT/library/python:3.11-slim" "oci:$T/pulled:base" \
		>"$T/pull.out" 2>&1 &
	pid=$!
	for i in $(seq 1 600); do
		[ -n "$(find "$T/pulled/.pinion-tmp" -type f -size +512k 2>/dev/null)" ] && break; sleep 0.1
	done &&
	kill -KILL $pid && { wait $pid; true; } &&
	test "$(tmp_in "$T/pulled")" -ge 1 &&
	partial=$(find "$T/pulled/.pinion-tmp" -type f -printf "%s\n" | awk "{s+=\$1} END {print s}") && echo "partial temp bytes: $partial" &&
	test "$partial" -gt 524288 &&
	pinion gc "oci:$T/pulled" >"$T/gc1.out" && cat "$T/gc1.out" &&
	test_grep "younger than 10 minutes kept" "$T/gc1.out" &&
	test "$(tmp_in "$T/pulled")" -ge 1 &&
	age_tmp "$T/pulled/.pinion-tmp" &&
	pinion gc --json "oci:$T/pulled" >"$T/gc2.json" && cat "$T/gc2.json" &&
	test "$(jq ".targets[0].tmp_removed" "$T/gc2.json")" -ge 1 &&
	test "$(jq ".targets[0].tmp_bytes_freed" "$T/gc2.json")" -ge "$partial" &&
	test_equal "$(tmp_in "$T/pulled")" 0 &&
	test_equal "$(blobs_in "$T/pulled")" 0 &&
	test_equal "$(jq -c .manifests "$T/pulled/index.json")" "[]"
'

FC="$T/fc" # the build cache of the cases below
# the model: predict.py from examples/hello, a first run step, and (gated/)
# a second one that waits for the gate server to answer
mkdir -p "$T/failing" "$T/gated" "$T/gate"
cp "$TEST_ROOT/examples/hello/predict.py" "$T/failing/"
cp "$TEST_ROOT/examples/hello/predict.py" "$T/gated/"
printf 'build:\n  python_version: "3.11"\n  run:\n    - "echo one >/one"\n    - "echo two >/two; exit 3"\npredict: predict.py:Predictor\n' \
	>"$T/failing/cog.yaml"
GATE_PORT=$(free_port)
cat >"$T/gated/cog.yaml" <<YAML
build:
  python_version: "3.11"
  run:
    - "echo one >/one"
    - "python3 -c 'import urllib.request as u; u.urlopen(\"http://127.0.0.1:$GATE_PORT/\", timeout=900).read()' && echo gated >/gated"
predict: predict.py:Predictor
YAML
# the gate: answers once $T/gate/release exists; $T/gate/step-started says a
# step is waiting
cat >"$T/gate.py" <<'PY'
import os, sys, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
port, d = int(sys.argv[1]), sys.argv[2]
class H(BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def do_GET(self):
        open(os.path.join(d, "step-started"), "w").close()
        while not os.path.exists(os.path.join(d, "release")):
            time.sleep(0.1)
        self.send_response(200); self.send_header("Content-Length", "2"); self.end_headers()
        self.wfile.write(b"ok")
ThreadingHTTPServer(("127.0.0.1", port), H).serve_forever()
PY
_registry_bg "$T/gate.pid" "$T/gate.log" "$PYTHON" "$T/gate.py" "$GATE_PORT" "$T/gate"
at_exit 'kill $(cat "$T/gate.pid")'
# wait_file FILE: until it exists (a build reaches its gated step)
wait_file() { for i in $(seq 1 3000); do [ -e "$1" ] && return 0; sleep 0.1; done; echo "no $1"; return 1; }
# a blob file named by its digest, as a build killed between storing a layer
# and writing its cache entry leaves one
plant_blob() {
	printf '%s' "$2" >"$T/blob.tmp" &&
	h=$(sha256sum "$T/blob.tmp" | cut -c1-64) && mv "$T/blob.tmp" "$1/blobs/sha256/$h" && echo "$h"
}
# (exec: in the background, $! is pinion itself)
gated_build() {
	cd "$T/gated" && PINION_CACHE_DIR="$FC" PINION_AUTO_GC=off exec "$PINION" build $MIRROR \
		--progress plain --output "oci:$T/out:gated"
}

test_expect_success 'a failed build: gc keeps the layers its cache entries name (a rebuild reuses them)' '
	(cd "$T/failing" && PINION_CACHE_DIR="$FC" pinion build $MIRROR --progress plain) >/dev/null 2>"$T/fail.err";
	test_grep "status 3" "$T/fail.err" &&
	before=$(blobs_in "$FC/build/layout") &&
	g=$(plant_blob "$FC/build/layout" "a layer whose cache entry was never written") &&
	pinion gc --cache-dir "$FC" >"$T/gcf.out" && cat "$T/gcf.out" &&
	test_grep "removed 1 unreferenced blobs" "$T/gcf.out" &&
	test ! -e "$FC/build/layout/blobs/sha256/$g" &&
	test_equal "$(blobs_in "$FC/build/layout")" "$before" &&
	sed -i "s/exit 3/true/" "$T/failing/cog.yaml" &&
	(cd "$T/failing" && PINION_CACHE_DIR="$FC" pinion build $MIRROR --progress plain) >/dev/null 2>"$T/refail.err" ||
		{ cat "$T/refail.err"; false; } &&
	test_grep "run 1: cached" "$T/refail.err"
'

test_expect_success 'gc gives back the run dir and scratch dir of a SIGKILLed build' '
	rm -f "$T/gate/step-started" "$T/gate/release"
	gated_build >"$T/kb.out" 2>&1 &
	pid=$!
	wait_file "$T/gate/step-started" && kill -KILL $pid && { wait $pid; true; } &&
	touch "$T/gate/release" &&
	ls -d "$FC"/runs/run-* "$FC"/build-tmp-* >"$T/left" && cat "$T/left" &&
	test "$(wc -l <"$T/left")" -ge 2 &&
	for d in "$FC"/runs/run-*; do flock -w 120 -x "$d" true || exit 1; done &&
	pinion gc --cache-dir "$FC" --json >"$T/kb0.json" &&
	test_equal "$(jq .targets[0].cache_files_removed "$T/kb0.json")" 0 &&
	touch -c -d "-2 days" $(cat "$T/left") &&
	pinion gc --cache-dir "$FC" --json >"$T/kb.json" && cat "$T/kb.json" &&
	test "$(jq .targets[0].cache_files_removed "$T/kb.json")" -ge 2 &&
	test_equal "$(ls "$FC"/runs | wc -l)" 0 &&
	test_equal "$(ls -d "$FC"/build-tmp-* 2>/dev/null | wc -l)" 0
'

test_expect_success 'gc waits for a running build and removes nothing it uses; the image is whole' '
	rm -f "$T/gate/step-started" "$T/gate/release"
	g=$(plant_blob "$FC/build/layout" "garbage while a build runs") || exit 1
	gated_build >"$T/cb.out" 2>"$T/cb.err" &
	bpid=$!
	wait_file "$T/gate/step-started" || { cat "$T/cb.err"; exit 1; }
	pinion gc --no-wait --cache-dir "$FC" --json >"$T/nw.json" &&
	test_equal "$(jq .targets[0].skipped "$T/nw.json")" true &&
	test -e "$FC/build/layout/blobs/sha256/$g" || exit 1
	"$PINION" gc --cache-dir "$FC" >"$T/cgc.out" 2>"$T/cgc.err" &
	gpid=$!
	wait_file "$T/cgc.err" && for i in $(seq 1 600); do grep -q waiting "$T/cgc.err" && break; sleep 0.1; done &&
	test_grep "waiting for the pinion processes using" "$T/cgc.err" &&
	kill -0 $gpid && test -e "$FC/build/layout/blobs/sha256/$g" &&
	touch "$T/gate/release" &&
	wait $bpid || { cat "$T/cb.err"; exit 1; }
	wait $gpid && cat "$T/cgc.out" &&
	test_grep "removed 1 unreferenced blobs" "$T/cgc.out" &&
	test ! -e "$FC/build/layout/blobs/sha256/$g" &&
	skopeo inspect "oci:$T/out:gated" >/dev/null &&
	pinion inspect "oci:$T/out:gated" >"$T/gi.json" &&
	test "$(jq ".layers | length" "$T/gi.json")" -ge 4 &&
	oci-image-tool validate --type image "$T/out" >"$T/v.out" 2>&1 && test_grep "Validation succeeded" "$T/v.out" &&
	(gated_build) >/dev/null 2>"$T/cb2.err" && test_grep "run 2: cached" "$T/cb2.err"
'

test_expect_success 'a build collects the cache past the bound (PINION_AUTO_GC_BLOBS=0), not under it' '
	g=$(plant_blob "$FC/build/layout" "garbage for the automatic gc") &&
	(cd "$T/gated" && PINION_CACHE_DIR="$FC" pinion build $MIRROR --progress plain \
		--output "oci:$T/out:gated") >/dev/null 2>"$T/ag0.err" &&
	test -e "$FC/build/layout/blobs/sha256/$g" &&
	(cd "$T/gated" && PINION_CACHE_DIR="$FC" PINION_AUTO_GC_BLOBS=0 pinion build $MIRROR \
		--progress plain --output "oci:$T/out:gated") >/dev/null 2>"$T/ag.err" &&
	test_grep "gc: freed" "$T/ag.err" &&
	test ! -e "$FC/build/layout/blobs/sha256/$g" &&
	skopeo inspect "oci:$T/out:gated" >/dev/null
'

test_expect_success 'bad input: clear errors, status 2' '
	test_expect_failure_status 2 pinion gc not-a-layout 2>"$T/e1" &&
	test_grep "is not a layout" "$T/e1" &&
	test_expect_failure_status 2 pinion gc "oci:$T/pulled:tag" 2>"$T/e2" &&
	test_grep "without a tag" "$T/e2" &&
	test_expect_failure_status 2 pinion gc --bogus 2>"$T/e3" &&
	test_grep "unknown option" "$T/e3" &&
	test_expect_failure_status 1 pinion gc "oci:$T/nowhere" 2>"$T/e4" &&
	test_grep "nowhere" "$T/e4" &&
	mkdir -p "$T/plain" && test_expect_failure_status 1 pinion gc "oci:$T/plain" 2>"$T/e5" &&
	test_grep "not an OCI image layout" "$T/e5" && test ! -e "$T/plain/.pinion-gc.lock"
'

test_done
