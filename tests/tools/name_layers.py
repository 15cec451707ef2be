#!/usr/bin/env python3
"""name_layers.py OUTDIR - small layers whose entry names and link targets are
not ASCII, written by Python's tarfile (not by pinion) in the formats found in
the wild, for tests/unit/test_oci_names.c:

  pax      PAX with UTF-8 names and link targets (what Go's archive/tar writes:
           every Docker Hub image), NFC and NFD forms, whiteouts, an opaque dir
  binary   PAX with hdrcharset=BINARY (tarfile's form for undecodable names)
  rawpax   PAX records holding invalid UTF-8 without hdrcharset (Go writes the
           bytes it is given)
  gnu      GNU longname / longlink (names past 100 bytes)
  ustar    ustar prefix + name, raw bytes

OUTDIR/cases.json lists, per tar, what must exist after applying it, each name
as hex of its exact bytes: type file|dir|symlink|hardlink|whiteout|opaque, and
for links the target (hex)."""
import io
import json
import os
import sys
import tarfile

OUT = sys.argv[1]
os.makedirs(OUT, exist_ok=True)


def se(b):
    return b.decode("utf-8", "surrogateescape")


def add(tf, name, typ=tarfile.REGTYPE, data=b"", linkname=""):
    ti = tarfile.TarInfo(name)
    ti.type = typ
    ti.linkname = linkname
    ti.mode = 0o755 if typ == tarfile.DIRTYPE else 0o644
    ti.mtime = 1000
    ti.size = len(data) if typ == tarfile.REGTYPE else 0
    tf.addfile(ti, io.BytesIO(data) if ti.size else None)


def pax_records(recs):
    out = b""
    for k, v in recs:
        body = b" " + k + b"=" + v + b"\n"
        n = len(body) + 1
        while len(str(n).encode()) + len(body) != n:
            n = len(str(n).encode()) + len(body)
        out += str(n).encode() + body
    return out


def add_raw_pax(tf, recs, placeholder, typ=tarfile.REGTYPE, data=b""):
    """an 'x' header with the records as given (no validation, no
    hdrcharset), then the entry with an ASCII placeholder name"""
    r = pax_records(recs)
    x = tarfile.TarInfo("././@PaxHeader")
    x.type = tarfile.XHDTYPE
    x.size = len(r)
    tf.addfile(x, io.BytesIO(r))
    add(tf, placeholder, typ, data, "x" if typ in (tarfile.SYMTYPE, tarfile.LNKTYPE) else "")


def h(b):
    return b.hex()


cases = []

# -- PAX, UTF-8 (Go / Docker / BuildKit) -----------------------------------
cert = "NetLock_Arany_=Class_Gold=_F\u0151tan\u00fas\u00edtv\u00e1ny.pem"
nfd = "nfd-e\u0301-A\u030a"  # decomposed: e + combining acute, A + ring
with tarfile.open(os.path.join(OUT, "pax.tar"), "w", format=tarfile.PAX_FORMAT) as tf:
    add(tf, "usr/", tarfile.DIRTYPE)
    add(tf, "usr/share/", tarfile.DIRTYPE)
    add(tf, "usr/share/ca-certificates/", tarfile.DIRTYPE)
    add(tf, "usr/share/ca-certificates/mozilla/", tarfile.DIRTYPE)
    add(tf, "usr/share/ca-certificates/mozilla/" + cert, data=b"cert\n")
    add(tf, "etc/", tarfile.DIRTYPE)
    add(tf, "etc/ssl/", tarfile.DIRTYPE)
    add(tf, "etc/ssl/certs/", tarfile.DIRTYPE)
    add(tf, "etc/ssl/certs/" + cert, tarfile.SYMTYPE,
        linkname="/usr/share/ca-certificates/mozilla/" + cert)
    add(tf, nfd, data=b"nfd\n")
    add(tf, "hl-\u0151", tarfile.LNKTYPE, linkname="usr/share/ca-certificates/mozilla/" + cert)
    add(tf, "d\u00fcr/", tarfile.DIRTYPE)
    add(tf, "d\u00fcr/.wh..wh..opq")
    add(tf, "d\u00fcr/caf\u00e9", data=b"cafe\n")
    add(tf, ".wh.gone-\u0151")
u = lambda s: s.encode("utf-8")
cases.append({"tar": "pax.tar", "entries": [
    {"path": h(u("usr/share/ca-certificates/mozilla/" + cert)), "type": "file"},
    {"path": h(u("etc/ssl/certs/" + cert)), "type": "symlink",
     "target": h(u("/usr/share/ca-certificates/mozilla/" + cert))},
    {"path": h(u(nfd)), "type": "file"},
    {"path": h(u("hl-\u0151")), "type": "hardlink",
     "target": h(u("usr/share/ca-certificates/mozilla/" + cert))},
    {"path": h(u("d\u00fcr")), "type": "opaque"},
    {"path": h(u("d\u00fcr/caf\u00e9")), "type": "file"},
    {"path": h(u("gone-\u0151")), "type": "whiteout"},
]})

# -- PAX, hdrcharset=BINARY (Python's tarfile for undecodable names) ------
with tarfile.open(os.path.join(OUT, "binary.tar"), "w", format=tarfile.PAX_FORMAT,
                  encoding="utf-8", errors="surrogateescape") as tf:
    add(tf, se(b"bin-\xff\xfe-\xc3\xa9"), data=b"b\n")
    add(tf, se(b"bsym-\xe9"), tarfile.SYMTYPE, linkname=se(b"tgt-\xff/\xc3\x28"))
    add(tf, se(b".wh.bgone-\xfe"))
cases.append({"tar": "binary.tar", "entries": [
    {"path": h(b"bin-\xff\xfe-\xc3\xa9"), "type": "file"},
    {"path": h(b"bsym-\xe9"), "type": "symlink", "target": h(b"tgt-\xff/\xc3\x28")},
    {"path": h(b"bgone-\xfe"), "type": "whiteout"},
]})

# -- PAX records with invalid UTF-8, no hdrcharset -------------------------
with tarfile.open(os.path.join(OUT, "rawpax.tar"), "w", format=tarfile.GNU_FORMAT) as tf:
    add_raw_pax(tf, [(b"path", b"raw-\xff\xfe")], "p1", data=b"r\n")
    add_raw_pax(tf, [(b"path", b"rawsym-\xc3\x28"), (b"linkpath", b"tgt-\xc3\x28-\xe2\x82")],
                "p2", tarfile.SYMTYPE)
    add_raw_pax(tf, [(b"path", b"rawhl-\xc5\x91"), (b"linkpath", b"raw-\xff\xfe")], "p3",
                tarfile.LNKTYPE)
    add_raw_pax(tf, [(b"path", b".wh.rawgone-\x80")], "p4")
cases.append({"tar": "rawpax.tar", "entries": [
    {"path": h(b"raw-\xff\xfe"), "type": "file"},
    {"path": h(b"rawsym-\xc3\x28"), "type": "symlink", "target": h(b"tgt-\xc3\x28-\xe2\x82")},
    {"path": h(b"rawhl-\xc5\x91"), "type": "hardlink", "target": h(b"raw-\xff\xfe")},
    {"path": h(b"rawgone-\x80"), "type": "whiteout"},
]})

# -- GNU longname / longlink -----------------------------------------------
long_dir = b"l\xc3\xa4ng/" * 30
with tarfile.open(os.path.join(OUT, "gnu.tar"), "w", format=tarfile.GNU_FORMAT,
                  encoding="utf-8", errors="surrogateescape") as tf:
    add(tf, se(long_dir[:-1]), tarfile.DIRTYPE)
    add(tf, se(long_dir + b"F\xc5\x91-\xff"), data=b"g\n")
    add(tf, "gsym", tarfile.SYMTYPE, linkname=se(long_dir + b"F\xc5\x91-\xff"))
    add(tf, se(b"ghl-\xe9"), tarfile.LNKTYPE, linkname=se(long_dir + b"F\xc5\x91-\xff"))
    add(tf, se(long_dir + b".wh.ggone-\xc3\xa9" + b"x" * 10))
cases.append({"tar": "gnu.tar", "entries": [
    {"path": h(long_dir + b"F\xc5\x91-\xff"), "type": "file"},
    {"path": h(b"gsym"), "type": "symlink", "target": h(long_dir + b"F\xc5\x91-\xff")},
    {"path": h(b"ghl-\xe9"), "type": "hardlink", "target": h(long_dir + b"F\xc5\x91-\xff")},
    {"path": h(long_dir + b"ggone-\xc3\xa9" + b"x" * 10), "type": "whiteout"},
]})

# -- ustar prefix + name ---------------------------------------------------
prefix = b"pr\xc3\xa9fix-" + b"p" * 110  # past 100 bytes: split into prefix/name
with tarfile.open(os.path.join(OUT, "ustar.tar"), "w", format=tarfile.USTAR_FORMAT,
                  encoding="utf-8", errors="surrogateescape") as tf:
    add(tf, se(prefix + b"/n\xc3\xa4me-\xff"), data=b"u\n")
    add(tf, se(prefix + b"/usym"), tarfile.SYMTYPE, linkname=se(b"n\xc3\xa4me-\xff"))
cases.append({"tar": "ustar.tar", "entries": [
    {"path": h(prefix + b"/n\xc3\xa4me-\xff"), "type": "file"},
    {"path": h(prefix + b"/usym"), "type": "symlink", "target": h(b"n\xc3\xa4me-\xff")},
]})

# the formats are the ones named above, checked here so the test cannot pass
# on tars that lost their headers
raw = open(os.path.join(OUT, "ustar.tar"), "rb").read()
assert raw[345:345 + len(prefix)] == prefix, "ustar prefix field"
assert b"././@LongLink" in open(os.path.join(OUT, "gnu.tar"), "rb").read(), "gnu longname"
assert b"hdrcharset=BINARY" in open(os.path.join(OUT, "binary.tar"), "rb").read()
assert b"hdrcharset" not in open(os.path.join(OUT, "pax.tar"), "rb").read()

with open(os.path.join(OUT, "cases.json"), "w") as f:
    json.dump(cases, f, indent=1)
