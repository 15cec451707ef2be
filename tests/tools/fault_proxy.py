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
Default REGEX: "^GET /v2/.+/blobs/sha256:" for reset/truncate/corrupt/5xx/429,
"^PATCH " for reset-upload.

--require-basic USER:PASS answers 401 (WWW-Authenticate: Basic) to requests
without those credentials; --redirect-blobs URLBASE answers GET/HEAD of blobs
with a 307 to URLBASE + path (another host or port: credentials must not
follow).

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
import struct
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
}
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

        def reply(self, status, extra=()):
            body = json.dumps({"errors": [{"code": "UNAVAILABLE", "message": "injected %d" % status}]}).encode()
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
            if fault == "reset-upload":
                total = int(self.headers.get("Content-Length") or 0)
                cut = args.reset_after if args.reset_after else total // 2
                data, _ = self.read_body(limit=cut)
                self.count_body(len(data))
                self.rst()
            body, _ = self.read_body()
            self.count_body(len(body))
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
            self.send_response(r.status)
            for k, v in r.getheaders():
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
    p.add_argument("--blob-delay", type=float, default=0,
                   help="seconds to hold each blob GET before answering it")
    args = p.parse_args()
    state = State(args)
    state.flush()
    srv = Server(("127.0.0.1", args.port), make_handler(args, state))
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
