#!/usr/bin/env python3
"""bench/make_wheels.py - wheels of realistic sizes and contents for the
package-cache benchmark (bench/pkgcache.sh), stdlib only.

  make_wheels.py RECIPE OUTDIR    write OUTDIR/<name>-<version>-py3-none-any.whl
                                  for each wheel of RECIPE; print their names

RECIPE is "NAME:MB:PYFILES,..." : a wheel NAME 1.0 of about MB megabytes
(deflated, as pip downloads it) with PYFILES Python modules.  Its content
stands for a compiled package (torch, numpy): the binary part is bytes of the
host's shared libraries (ELF code and data compress as real extension
modules do, about 2-3x), in files of at most 64 MiB, under NAME/lib/*.so; the
Python part is modules of this Python's standard library (real source that
pip compiles to .pyc at install, as it does for torch's ~2000 modules), under
NAME/py/.  The same recipe on the same host gives the same files.
"""
import base64
import glob
import hashlib
import os
import re
import sys
import sysconfig
import zipfile

FIXED_TIME = (2020, 1, 1, 0, 0, 0)
SO_MAX = 64 << 20


def record_hash(data):
    d = hashlib.sha256(data).digest()
    return "sha256=" + base64.urlsafe_b64encode(d).rstrip(b"=").decode()


def so_source():
    """the host's shared libraries, concatenated on demand (sorted: stable)"""
    libs = sorted(p for p in glob.glob("/usr/lib/x86_64-linux-gnu/*.so*") + glob.glob("/usr/lib/*/*.so*")
                  if os.path.isfile(p) and not os.path.islink(p) and os.path.getsize(p) > 4096)
    while True:
        for p in libs:
            with open(p, "rb") as fh:
                yield fh.read()


def py_sources():
    """(relative path, text) of the standard library's modules (no tests: some have bad syntax on purpose)"""
    std = sysconfig.get_paths()["stdlib"]
    out = []
    for p in sorted(glob.glob(os.path.join(std, "**", "*.py"), recursive=True)):
        rel = os.path.relpath(p, std)
        if re.search(r"(^|/)(tests?|idle_test|site-packages|lib2to3)(/|$)", rel) or "bad" in rel:
            continue
        try:
            text = open(p, encoding="utf-8").read()
            compile(text, rel, "exec")
        except (SyntaxError, UnicodeDecodeError, ValueError):
            continue
        out.append((rel, text))
    return out


class Writer:
    def __init__(self, path):
        self.z = zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=6)
        self.record = []

    def add(self, name, data, record=True):
        info = zipfile.ZipInfo(name, FIXED_TIME)
        info.external_attr = 0o644 << 16
        info.compress_type = zipfile.ZIP_DEFLATED
        self.z.writestr(info, data)
        if record:
            self.record.append(f"{name},{record_hash(data)},{len(data)}\n")

    def size(self):
        return self.z.fp.tell()

    def close(self, dist):
        self.record.append(f"{dist}/RECORD,,\n")
        self.add(f"{dist}/RECORD", "".join(self.record).encode(), record=False)
        self.z.close()


def make(name, mb, n_py, outdir, so_iter, pys):
    mod = re.sub(r"[-.]+", "_", name).lower()
    dist = f"{mod}-1.0.dist-info"
    path = os.path.join(outdir, f"{mod}-1.0-py3-none-any.whl")
    w = Writer(path + ".tmp")
    w.add(f"{mod}/__init__.py", f'__version__ = "1.0"\n\ndef hello():\n    return "hello from {name}"\n'.encode())
    for i in range(min(n_py, len(pys) * 50)):
        rel, text = pys[i % len(pys)]
        w.add(f"{mod}/py/c{i // len(pys)}/{rel}", text.encode())
    # binary files until the wheel has its size
    target, i, buf = mb * 1000 * 1000, 0, b""
    while w.size() < target:
        while len(buf) < SO_MAX:
            buf += next(so_iter)
        # estimate the part that fills the rest at the ratio seen so far (>= 1 MiB)
        want = min(SO_MAX, max(1 << 20, (target - w.size()) * 5 // 2))
        w.add(f"{mod}/lib/lib{mod}_{i}.so", buf[:want])
        buf, i = buf[want:], i + 1
    w.add(f"{dist}/METADATA", f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\nSummary: bench wheel\n".encode())
    w.add(f"{dist}/WHEEL", b"Wheel-Version: 1.0\nGenerator: pinion-bench\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
    w.add(f"{dist}/top_level.txt", f"{mod}\n".encode())
    w.close(dist)
    os.rename(path + ".tmp", path)
    return path


def main(argv):
    if len(argv) != 3:
        sys.stderr.write(__doc__)
        return 2
    os.makedirs(argv[2], exist_ok=True)
    so_iter, pys = so_source(), py_sources()
    for part in argv[1].split(","):
        name, mb, n_py = part.split(":")
        print(make(name, int(mb), int(n_py), argv[2], so_iter, pys))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
