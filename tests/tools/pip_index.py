#!/usr/bin/env python3
"""pip_index.py - small pure-Python wheels and a PEP 503 "simple" index, stdlib only.

  pip_index.py wheel NAME VERSION OUTDIR   build OUTDIR/<name>-<version>-py3-none-any.whl
  pip_index.py index DIR                   write DIR/simple/ for the wheels in DIR/files/
  pip_index.py serve DIR PORTFILE          serve DIR on 127.0.0.1 (free port written to PORTFILE;
                                           each request logged to DIR/.access.log)
Env: PIP_INDEX_PAD=BYTES (wheel: add that many random bytes, as a large
package has), PIP_INDEX_RATE=BYTES_PER_S (serve: files at that rate, as a
remote index would; for benchmarks), PIP_INDEX_RATE_FILE=PATH (serve: the
rate is read from that file at each request instead, so a benchmark changes it
without a new port: pip's cache is keyed by URL).
"""
import base64
import hashlib
import html
import http.server
import os
import re
import socketserver
import sys
import time
import zipfile

FIXED_TIME = (2020, 1, 1, 0, 0, 0)


def normalize(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def record_hash(data):
    d = hashlib.sha256(data).digest()
    return "sha256=" + base64.urlsafe_b64encode(d).rstrip(b"=").decode()


def make_wheel(name, version, outdir):
    mod = re.sub(r"[-.]+", "_", name).lower()
    dist = f"{mod}-{version}.dist-info"
    files = {
        f"{mod}/__init__.py": f'__version__ = "{version}"\n\ndef hello():\n    return "hello from {name} {version}"\n',
        f"{dist}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\nSummary: test wheel\n",
        f"{dist}/WHEEL": "Wheel-Version: 1.0\nGenerator: pinion-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        f"{dist}/top_level.txt": f"{mod}\n",
    }
    pad = int(os.environ.get("PIP_INDEX_PAD", "0"))
    if pad:
        files[f"{mod}/data.bin"] = base64.b64encode(os.urandom(pad * 3 // 4)).decode()
    record = "".join(f"{p},{record_hash(c.encode())},{len(c.encode())}\n" for p, c in files.items())
    record += f"{dist}/RECORD,,\n"
    files[f"{dist}/RECORD"] = record
    os.makedirs(outdir, exist_ok=True)
    path = os.path.join(outdir, f"{mod}-{version}-py3-none-any.whl")
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for p, c in files.items():
            info = zipfile.ZipInfo(p, FIXED_TIME)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, c)
    print(path)


def make_index(root):
    files = os.path.join(root, "files")
    projects = {}
    for f in sorted(os.listdir(files)):
        if f.endswith(".whl"):
            projects.setdefault(normalize(f.split("-")[0]), []).append(f)
    simple = os.path.join(root, "simple")
    os.makedirs(simple, exist_ok=True)
    links = []
    for proj, whls in sorted(projects.items()):
        os.makedirs(os.path.join(simple, proj), exist_ok=True)
        rows = []
        for w in whls:
            with open(os.path.join(files, w), "rb") as fh:
                h = hashlib.sha256(fh.read()).hexdigest()
            rows.append(f'<a href="../../files/{html.escape(w)}#sha256={h}">{html.escape(w)}</a><br/>')
        with open(os.path.join(simple, proj, "index.html"), "w") as fh:
            fh.write("<!DOCTYPE html><html><body>\n" + "\n".join(rows) + "\n</body></html>\n")
        links.append(f'<a href="{proj}/">{proj}</a><br/>')
    with open(os.path.join(simple, "index.html"), "w") as fh:
        fh.write("<!DOCTYPE html><html><body>\n" + "\n".join(links) + "\n</body></html>\n")


def serve(root, portfile):
    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *a, **kw):
            super().__init__(*a, directory=root, **kw)

        def log_message(self, *a):
            pass

        def copyfile(self, source, outputfile):
            rate = int(os.environ.get("PIP_INDEX_RATE", "0"))
            if os.environ.get("PIP_INDEX_RATE_FILE"):
                with open(os.environ["PIP_INDEX_RATE_FILE"]) as fh:
                    rate = int(fh.read().strip() or "0")
            if not rate or not self.path.startswith("/files/"):
                return super().copyfile(source, outputfile)
            while True:
                chunk = source.read(max(rate // 10, 1))
                if not chunk:
                    break
                outputfile.write(chunk)
                time.sleep(0.1)

        def end_headers(self):
            # as PyPI: files are immutable, index pages fresh for 10 minutes
            # (pip's HTTP cache keeps only what the headers allow)
            if self.path.startswith("/files/"):
                self.send_header("Cache-Control", "max-age=365000000, immutable, public")
            else:
                self.send_header("Cache-Control", "max-age=600, public")
            super().end_headers()

        def log_request(self, code="-", size="-"):
            # one line per request in DIR/.access.log: "GET /files/x.whl 200"
            with open(os.path.join(root, ".access.log"), "a") as fh:
                fh.write(f"{self.command} {self.path} {int(code)}\n")

    class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
        daemon_threads = True
        allow_reuse_address = True

    srv = Server(("127.0.0.1", 0), Handler)
    tmp = portfile + ".tmp"
    with open(tmp, "w") as fh:
        fh.write(str(srv.server_address[1]))
    os.rename(tmp, portfile)
    srv.serve_forever()


def main(argv):
    if len(argv) == 5 and argv[1] == "wheel":
        make_wheel(argv[2], argv[3], argv[4])
    elif len(argv) == 3 and argv[1] == "index":
        make_index(argv[2])
    elif len(argv) == 4 and argv[1] == "serve":
        serve(argv[2], argv[3])
    else:
        sys.stderr.write(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
