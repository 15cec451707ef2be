#!/usr/bin/python3
"""fault_proxy.py - a loopback HTTP reverse proxy that injects registry faults
and counts bytes, for tests of retries and resumable transfers.

  fault_proxy.py --port P --upstream 127.0.0.1:5000 --stats FILE \
      [--fault KIND[:COUNT[:SKIP[:REGEX]]]]...

Each --fault fires on COUNT (default 1) requests whose "METHOD PATH" matches
REGEX, after letting SKIP (default 0) matching requests through.  KINDs:
  reset       GET blob: send half the body, then reset the connection (RST)
  truncate    GET blob: promise the whole Content-Length, send half, close
  corrupt     GET blob: flip one byte in the middle of the body
  500, 503    answer that status (no upstream request)
  429         answer 429 with Retry-After: 1
  reset-upload PATCH/PUT: read half the request body (or --reset-after
              bytes), forward nothing, reset the connection
Hostile registries (answered here, the upstream only supplies the body):
  drip        the upstream answer with its headers, then its body at
              --drip-rate bytes/s (default 2.5)
  drip-headers  "200 OK", then header bytes at --drip-rate, never ending
  flood-headers "200 OK", then header lines as fast as they go, never ending
  flood-error   404 with a JSON error body that never ends (chunked)
  huge        200, Content-Type --huge-type, a chunked body of --huge-size
              bytes (default 6 MiB) of JSON whitespace
  redirect-loop 302 to the same URL, forever
  lose-upload the registry loses the upload session of the matching PATCH/PUT:
              it and every later request to that session answer 404
              BLOB_UPLOAD_UNKNOWN (nothing forwarded)
              (REGEX default "^(PATCH|PUT) /v2/.+/blobs/uploads/")
  rewind      an upload session that forgets: PATCH at offset 0 is accepted
              (202, nothing forwarded), a PATCH further on is reset, and the
              session status has no Range (nothing stored), so the upload
              would start over forever
              (REGEX default "/blobs/uploads/")
Default REGEX: "^GET /v2/.+/blobs/sha256:" for reset/truncate/corrupt/5xx/429
and drip, "^PATCH " for reset-upload, "^GET /v2/.+/manifests/" for the others.
The token endpoint (see --require-bearer) matches "^GET /token".

--require-basic USER:PASS answers 401 (WWW-Authenticate: Basic) to requests
without those credentials; --redirect-blobs URLBASE answers GET/HEAD of blobs
with a 307 to URLBASE + path (another host or port: credentials must not
follow).  --tls-cert PEM --tls-key PEM serve HTTPS instead of HTTP (a storage
host whose certificate pinion must verify unless that host is insecure).

--require-bearer answers 401 (WWW-Authenticate: Bearer, realm this proxy's
/token) to requests without "Authorization: Bearer pinion-test-token"; GET
/token answers {"token": "pinion-test-token"} (faults apply to it too).
--upload-location URLBASE rewrites the Location of upload answers (POST, PATCH
to /blobs/uploads/) to URLBASE + path: the session continues on another
origin (e.g. another fault proxy, whose stats show what credentials came).

--on-fault CMD runs the shell command CMD each time a fault fires, before
the request is answered (e.g. to change a file while it is being uploaded).

--stats FILE is rewritten (atomically) after every request with counters:
requests, by_method, request_body_bytes (what clients sent, including bodies
cut short), patch_body_bytes, put_body_bytes, response_body_bytes, faults
(by kind), fired (list of "KIND METHOD PATH"), authorization_headers
(requests that carried one), redirects, range_requests (GETs with a Range
header), blob_body_bytes (response bytes of blob GETs, faulted or not) and
max_in_flight (most requests being answered at once).  --blob-delay SECONDS
holds every blob GET that long, so concurrent transfers overlap for sure.  The Host header is passed
through unchanged so the registry's Location headers point at the proxy.
"""
import argparse
import base64
import http.client
import json
import os
import re
import socket
import ssl
import struct
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

DEFAULT_MATCH = {
    "reset": r"^GET /v2/.+/blobs/sha256:",
    "truncate": r"^GET /v2/.+/blobs/sha256:",
    "corrupt": r"^GET /v2/.+/blobs/sha256:",
    "500": r"^GET /v2/.+/blobs/sha256:",
    "503": r"^GET /v2/.+/blobs/sha256:",
    "429": r"^GET /v2/.+/blobs/sha256:",
    "reset-upload": r"^PATCH ",
    "drip": r"^GET /v2/.+/blobs/sha256:",
    "drip-headers": r"^GET /v2/.+/manifests/",
    "flood-headers": r"^GET /v2/.+/manifests/",
    "flood-error": r"^GET /v2/.+/manifests/",
    "huge": r"^GET /v2/.+/manifests/",
    "redirect-loop": r"^GET /v2/.+/manifests/",
    "rewind": r"^(PATCH|GET) /v2/.+/blobs/uploads/",
    "lose-upload": r"^(PATCH|PUT) /v2/.+/blobs/uploads/",
}
TOKEN = "pinion-test-token"
HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "te",
       "trailer"}


class Fault:
    def __init__(self, spec):
        parts = spec.split(":", 3)
        self.kind = parts[0]
        if self.kind not in DEFAULT_MATCH:
            raise SystemExit("fault_proxy: unknown fault kind %r" % self.kind)
        self.count = int(parts[1]) if len(parts) > 1 and parts[1] else 1
        self.skip = int(parts[2]) if len(parts) > 2 and parts[2] else 0
        self.regex = re.compile(parts[3] if len(parts) > 3 else DEFAULT_MATCH[self.kind])


class State:
    def __init__(self, args):
        self.lock = threading.Lock()
        self.faults = [Fault(s) for s in args.fault]
        self.stats = {"requests": 0, "by_method": {}, "request_body_bytes": 0,
                      "patch_body_bytes": 0, "put_body_bytes": 0, "response_body_bytes": 0,
                      "faults": {}, "fired": [], "authorization_headers": 0,
                      "redirects": 0, "range_requests": 0, "blob_body_bytes": 0,
                      "max_in_flight": 0}
        self.in_flight = 0
        self.lost = set()  # upload session paths lose-upload forgot
        self.path = args.stats

    def pick(self, line):
        with self.lock:
            for f in self.faults:
                if f.count <= 0 or not f.regex.search(line):
                    continue
                if f.skip > 0:
                    f.skip -= 1
                    continue
                f.count -= 1
                self.stats["faults"][f.kind] = self.stats["faults"].get(f.kind, 0) + 1
                self.stats["fired"].append(f.kind + " " + line)
                return f.kind
        return None

    def add(self, **kw):
        with self.lock:
            for k, v in kw.items():
                if k == "method":
                    self.stats["by_method"][v] = self.stats["by_method"].get(v, 0) + 1
                else:
                    self.stats[k] += v

    def enter(self, delta):
        with self.lock:
            self.in_flight += delta
            self.stats["max_in_flight"] = max(self.stats["max_in_flight"], self.in_flight)

    def flush(self):
        if not self.path:
            return
        with self.lock:
            tmp = self.path + ".tmp"
            with open(tmp, "w") as f:
                json.dump(self.stats, f, indent=1, sort_keys=True)
            os.replace(tmp, self.path)


class Reset(Exception):
    pass


def make_handler(args, state):
    up_host, _, up_port = args.upstream.rpartition(":")

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):
            pass

        def handle(self):
            try:
                super().handle()
            except (Reset, ConnectionError, BrokenPipeError, socket.timeout):
                pass

        def rst(self):
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                       struct.pack("ii", 1, 0))
            self.close_connection = True
            raise Reset()

        def read_body(self, limit=None):
            n = self.headers.get("Content-Length")
            if n is not None:
                n = int(n)
                want = n if limit is None else min(n, limit)
                data = self.rfile.read(want) if want else b""
                return data, n
            if "chunked" in self.headers.get("Transfer-Encoding", ""):
                out = b""
                while True:
                    size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                    if size == 0:
                        self.rfile.readline()
                        break
                    out += self.rfile.read(size)
                    self.rfile.readline()
                return out, len(out)
            return b"", 0

        def reply(self, status, extra=(), code="UNAVAILABLE"):
            body = json.dumps({"errors": [{"code": code, "message": "injected %d" % status}]}).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            for k, v in extra:
                self.send_header(k, v)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def proxy(self):
            line = "%s %s" % (self.command, self.path)
            fault = state.pick(line)
            state.add(requests=1, method=self.command)
            if self.command == "GET" and self.headers.get("Range"):
                state.add(range_requests=1)
            state.enter(1)
            if fault and args.on_fault:
                subprocess.run(args.on_fault, shell=True, check=False)
            try:
                if args.blob_delay and self.command == "GET" and "/blobs/sha256:" in self.path:
                    time.sleep(args.blob_delay)
                self.run(line, fault)
            finally:
                state.enter(-1)
                state.flush()

        def count_body(self, n):
            state.add(request_body_bytes=n)
            if self.command == "PATCH":
                state.add(patch_body_bytes=n)
            elif self.command == "PUT":
                state.add(put_body_bytes=n)

        def gate(self):
            """auth check and redirects; True when the request was answered"""
            if self.headers.get("Authorization"):
                state.add(authorization_headers=1)
            if args.require_bearer and self.path.startswith("/token"):
                return False  # answered by run()
            if args.require_bearer and \
                    self.headers.get("Authorization") != "Bearer " + TOKEN:
                self.read_body()
                realm = "http://127.0.0.1:%d/token" % args.port
                self.reply(401, [("WWW-Authenticate",
                                  'Bearer realm="%s",service="fault-proxy"' % realm)])
                return True
            if args.require_basic:
                want = "Basic " + base64.b64encode(args.require_basic.encode()).decode()
                if self.headers.get("Authorization") != want:
                    self.read_body()
                    self.reply(401, [("WWW-Authenticate", 'Basic realm="fault-proxy"')])
                    return True
            if args.redirect_blobs and self.command in ("GET", "HEAD") and \
                    re.search(r"/blobs/sha256:", self.path):
                state.add(redirects=1)
                self.send_response(307)
                self.send_header("Location", args.redirect_blobs.rstrip("/") + self.path)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return True
            return False

        def run(self, line, fault):
            if self.gate():
                return
            session = self.path.split("?")[0]
            if fault == "lose-upload":
                with state.lock:
                    state.lost.add(session)
            if session in state.lost:
                body, _ = self.read_body()
                self.count_body(len(body))
                return self.reply(404, code="BLOB_UPLOAD_UNKNOWN")
            if fault == "reset-upload":
                total = int(self.headers.get("Content-Length") or 0)
                cut = args.reset_after if args.reset_after else total // 2
                data, _ = self.read_body(limit=cut)
                self.count_body(len(data))
                self.rst()
            body, _ = self.read_body()
            self.count_body(len(body))
            if self.hostile(fault):
                return
            if args.require_bearer and self.path.startswith("/token"):
                return self.send_body(200, json.dumps({"token": TOKEN}).encode(),
                                      "application/json", fault)
            if fault in ("500", "503"):
                return self.reply(int(fault))
            if fault == "429":
                return self.reply(429, [("Retry-After", "1")])
            conn = http.client.HTTPConnection(up_host, int(up_port), timeout=60)
            hdrs = {k: v for k, v in self.headers.items() if k.lower() not in HOP}
            conn.request(self.command, self.path, body=body if body or self.command in
                         ("PUT", "POST", "PATCH") else None, headers=hdrs)
            r = conn.getresponse()
            data = r.read() if self.command != "HEAD" else b""
            conn.close()
            if fault == "drip":
                return self.send_body(r.status, data, r.getheader("Content-Type"), fault)
            self.send_response(r.status)
            for k, v in r.getheaders():
                if k.lower() == "location" and args.upload_location and \
                        "/blobs/uploads/" in v:
                    v = args.upload_location.rstrip("/") + "/" + \
                        re.sub(r"^https?://[^/]+/", "", v).lstrip("/")
                if k.lower() not in HOP and k.lower() != "content-length":
                    self.send_header(k, v)
            length = r.getheader("Content-Length")
            if self.command == "HEAD":
                if length is not None:
                    self.send_header("Content-Length", length)
                self.end_headers()
                return
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            ok = 200 <= r.status < 300 and len(data) > 1
            if ok and fault == "corrupt":
                i = len(data) // 2
                data = data[:i] + bytes([data[i] ^ 0x5A]) + data[i + 1:]
            if ok and fault in ("reset", "truncate"):
                half = data[:len(data) // 2]
                self.wfile.write(half)
                self.wfile.flush()
                self.count_response(len(half))
                if fault == "reset":
                    # let the client read the half before the RST, which
                    # would drop what is still in the socket buffers
                    time.sleep(0.3)
                    self.rst()
                self.close_connection = True
                return
            self.wfile.write(data)
            self.count_response(len(data))

        def send_body(self, status, data, ctype, fault):
            """an answer of ours (token) or the upstream's, dripped if asked"""
            self.send_response(status)
            if ctype:
                self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if fault != "drip":
                self.wfile.write(data)
                self.count_response(len(data))
                return
            piece = max(1, int(args.drip_rate / 10))
            for i in range(0, len(data), piece):
                self.wfile.write(data[i:i + piece])
                self.wfile.flush()
                self.count_response(len(data[i:i + piece]))
                time.sleep(piece / args.drip_rate)

        def hostile(self, fault):
            """the faults that never reach the upstream; True when answered"""
            w = self.wfile
            if fault == "drip-headers":
                w.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Drip: ")
                w.flush()
                while True:
                    time.sleep(1.0 / args.drip_rate)
                    w.write(b"a")
                    w.flush()
            if fault == "flood-headers":
                w.write(b"HTTP/1.1 200 OK\r\n")
                line = b"X-Flood: " + b"f" * 100 + b"\r\n"
                while True:
                    w.write(line * 100)
            if fault in ("flood-error", "huge"):
                if fault == "flood-error":
                    self.send_response(404)
                    self.send_header("Content-Type", "application/json")
                else:
                    self.send_response(200)
                    self.send_header("Content-Type", args.huge_type)
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                head = b'{"errors": [{"code": "MANIFEST_UNKNOWN", "message": "' \
                    if fault == "flood-error" else b"{" + b" " * 100
                chunk = b" " * 65536
                left = args.huge_size if fault == "huge" else -1
                w.write(b"%x\r\n%s\r\n" % (len(head), head))
                while left != 0:
                    n = len(chunk) if left < 0 else min(len(chunk), left)
                    w.write(b"%x\r\n%s\r\n" % (n, chunk[:n]))
                    self.count_response(n)
                    if left > 0:
                        left -= n
                w.write(b'1\r\n}\r\n0\r\n\r\n')
                return True
            if fault == "redirect-loop":
                state.add(redirects=1)
                self.send_response(302)
                self.send_header("Location", self.path)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return True
            if fault == "rewind":
                if self.command == "PATCH" and \
                        not self.headers.get("Content-Range", "0-").startswith("0-"):
                    self.rst()
                self.send_response(202 if self.command == "PATCH" else 204)
                self.send_header("Location", self.path)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return True
            return False

        def count_response(self, n):
            state.add(response_body_bytes=n)
            if self.command == "GET" and "/blobs/sha256:" in self.path:
                state.add(blob_body_bytes=n)

        do_GET = do_HEAD = do_PUT = do_POST = do_PATCH = do_DELETE = proxy

    return Handler


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--upstream", required=True, help="HOST:PORT of the plain-HTTP registry")
    p.add_argument("--stats", default=None)
    p.add_argument("--fault", action="append", default=[])
    p.add_argument("--require-basic", default=None, metavar="USER:PASS")
    p.add_argument("--redirect-blobs", default=None, metavar="URLBASE")
    p.add_argument("--reset-after", type=int, default=0,
                   help="reset-upload: bytes of the body to read before the reset")
    p.add_argument("--require-bearer", action="store_true")
    p.add_argument("--upload-location", default=None, metavar="URLBASE")
    p.add_argument("--drip-rate", type=float, default=2.5, help="bytes/s of drip faults")
    p.add_argument("--huge-size", type=int, default=6 << 20)
    p.add_argument("--huge-type", default="application/vnd.oci.image.manifest.v1+json")
    p.add_argument("--blob-delay", type=float, default=0,
                   help="seconds to hold each blob GET before answering it")
    p.add_argument("--on-fault", default=None, metavar="CMD",
                   help="shell command to run each time a fault fires")
    p.add_argument("--tls-cert", default=None, metavar="PEM",
                   help="serve HTTPS with this certificate (and --tls-key)")
    p.add_argument("--tls-key", default=None, metavar="PEM")
    args = p.parse_args()
    state = State(args)
    state.flush()
    srv = Server(("127.0.0.1", args.port), make_handler(args, state))
    if args.tls_cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.tls_cert, args.tls_key)
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
