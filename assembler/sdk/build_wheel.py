#!/usr/bin/env python3
"""build_wheel.py - pack assembler/sdk/cog into a wheel, deterministically,
with the standard library only (zipfile; fixed timestamps, modes and order;
METADATA, WHEEL, RECORD with sha256 hashes).

usage: build_wheel.py --out FILE [--name-file FILE] [--pinion-version V]
Writes the wheel to FILE; --name-file receives the wheel's proper file name
(cog-<version>-py3-none-any.whl).  --print-name prints that name and exits."""

import argparse
import base64
import hashlib
import os
import re
import sys
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
PKG = os.path.join(HERE, "cog")
EPOCH = (1980, 1, 1, 0, 0, 0)


def read_versions(pinion_version):
    with open(os.path.join(PKG, "_version.py"), encoding="utf-8") as f:
        text = f.read()
    api = re.search(r'^COG_API_VERSION = "([^"]+)"', text, re.M).group(1)
    pinion = pinion_version or re.search(r'^PINION_VERSION = "([^"]+)"', text, re.M).group(1)
    if not re.match(r"^[0-9A-Za-z.]+$", pinion):
        raise SystemExit("build_wheel: bad pinion version %r" % pinion)
    text = re.sub(r'^PINION_VERSION = "[^"]*"', 'PINION_VERSION = "%s"' % pinion, text,
                  flags=re.M)
    return api, pinion, text


def sources():
    out = []
    for root, dirs, files in os.walk(PKG):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for name in sorted(files):
            if name.endswith(".py") or name == "py.typed":
                full = os.path.join(root, name)
                out.append((os.path.relpath(full, HERE).replace(os.sep, "/"), full))
    return sorted(out)


def metadata(version, api, pinion):
    return ("Metadata-Version: 2.1\n"
            "Name: cog\n"
            "Version: %s\n"
            "Summary: Cog-compatible runtime for model images (Cog SDK %s API), built by pinion %s\n"
            "Home-page: https://github.com/replicate/cog\n"
            "License: Apache-2.0\n"
            "Keywords: cog,pinion\n"
            "Classifier: Programming Language :: Python :: 3\n"
            "Requires-Python: >=3.10\n"
            "Description-Content-Type: text/markdown\n"
            "\n"
            "The `cog` package that pinion installs in every image: BasePredictor, Input, Path,\n"
            "File, Secret, ConcatenateIterator, BaseModel; `python -m cog.server.http` and\n"
            "`python -m cog.command.openapi_schema`.  Standard library only.\n"
            "Compatible with the Cog %s Python API; pinion %s.\n" % (version, api, pinion, api,
                                                                      pinion))


WHEEL = ("Wheel-Version: 1.0\n"
         "Generator: pinion build_wheel.py\n"
         "Root-Is-Purelib: true\n"
         "Tag: py3-none-any\n")


def record_hash(data):
    d = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
    return "sha256=" + d.decode("ascii")


def add(zf, name, data, records):
    info = zipfile.ZipInfo(name, date_time=EPOCH)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = (0o100644 << 16)
    info.create_system = 3
    zf.writestr(info, data, compress_type=zipfile.ZIP_DEFLATED, compresslevel=9)
    records.append("%s,%s,%d" % (name, record_hash(data), len(data)))


def build(out, pinion_version=None):
    api, pinion, version_py = read_versions(pinion_version)
    version = "%s+pinion.%s" % (api, pinion)
    dist = "cog-%s.dist-info" % version
    records = []
    tmp = out + ".tmp"
    with zipfile.ZipFile(tmp, "w") as zf:
        for arc, full in sources():
            if arc == "cog/_version.py":
                data = version_py.encode()
            else:
                with open(full, "rb") as f:
                    data = f.read()
            add(zf, arc, data, records)
        add(zf, dist + "/METADATA", metadata(version, api, pinion).encode(), records)
        add(zf, dist + "/WHEEL", WHEEL.encode(), records)
        add(zf, dist + "/top_level.txt", b"cog\n", records)
        records.append(dist + "/RECORD,,")
        info = zipfile.ZipInfo(dist + "/RECORD", date_time=EPOCH)
        info.external_attr = (0o100644 << 16)
        info.create_system = 3
        zf.writestr(info, ("\n".join(records) + "\n").encode(),
                    compress_type=zipfile.ZIP_DEFLATED, compresslevel=9)
    os.replace(tmp, out)
    return "cog-%s-py3-none-any.whl" % version


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out")
    p.add_argument("--name-file")
    p.add_argument("--pinion-version")
    p.add_argument("--print-name", action="store_true")
    a = p.parse_args(argv)
    if a.print_name:
        api, pinion, _ = read_versions(a.pinion_version)
        print("cog-%s+pinion.%s-py3-none-any.whl" % (api, pinion))
        return 0
    if not a.out:
        p.error("--out is required")
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    name = build(a.out, a.pinion_version)
    if a.name_file:
        with open(a.name_file + ".tmp", "w") as f:
            f.write(name)
        os.replace(a.name_file + ".tmp", a.name_file)
    return 0


if __name__ == "__main__":
    sys.exit(main())
