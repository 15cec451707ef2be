#!/usr/bin/env python3
"""hostile_layers.py OUTDIR OUTSIDE - writes the hostile-layer corpus.

Each case is one or more layer files (applied in order onto an empty
directory) and an expectation, listed in OUTDIR/cases.json:
  {"name", "layers": [files], "expect": "refuse" | "ok" | "safe",
   "error": substring of the refusal, "exists": [paths inside the target],
   "absent": [...], "opts": {"max_bytes", "max_entries", "skip_devices"}}
"safe" means either outcome is acceptable (it depends on openat2 being
available); in every case nothing outside the target may change.  OUTSIDE is
the absolute path of a directory next to the target that holds sentinels;
layers aim at it.  The test harness (tests/unit/test_oci_hostile.c) runs this.
Stdlib only; zstd layers use the `zstd` command.
"""
import gzip
import io
import json
import os
import subprocess
import sys
import tarfile

OUT, OUTSIDE = sys.argv[1], sys.argv[2].rstrip("/")
CASES = []


def info(name, type_=tarfile.REGTYPE, data=b"", **kw):
    ti = tarfile.TarInfo(name)
    ti.type = type_
    ti.mode = kw.pop("mode", 0o644 if type_ != tarfile.DIRTYPE else 0o755)
    ti.mtime = 1000
    for k, v in kw.items():
        setattr(ti, k, v)
    if type_ == tarfile.REGTYPE:
        ti.size = len(data)
    return ti, data


def tar_bytes(entries, fmt=tarfile.PAX_FORMAT):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as t:
        for ti, data in entries:
            t.addfile(ti, io.BytesIO(data) if ti.type == tarfile.REGTYPE else None)
    return buf.getvalue()


def write(name, data, comp="gz"):
    path = os.path.join(OUT, name)
    if comp == "gz":
        with open(path, "wb") as f:
            f.write(gzip.compress(data, 6, mtime=0))
    else:
        with open(path, "wb") as f:
            f.write(data)
    return name


def case(name, layers, expect, error=None, exists=(), absent=(), opts=None, openat2=None):
    CASES.append({"name": name, "layers": layers, "expect": expect, "error": error,
                  "exists": list(exists), "absent": list(absent), "opts": opts or {},
                  "openat2": openat2})


def simple(name, entries, expect, **kw):
    case(name, [write(name + ".tar.gz", tar_bytes(entries))], expect, **kw)


def zero_stream_tar(size):
    """a tar holding one file of `size` zero bytes, yielded in chunks"""
    ti = tarfile.TarInfo("bomb")
    ti.size = size
    ti.mtime = 1000
    yield ti.tobuf(format=tarfile.PAX_FORMAT)
    chunk = b"\0" * (1 << 20)
    left = size
    while left > 0:
        n = min(left, len(chunk))
        yield chunk[:n]
        left -= n
    pad = (512 - size % 512) % 512
    yield b"\0" * (pad + 1024)


def main():
    os.makedirs(OUT, exist_ok=True)
    rel_out = "../" + os.path.basename(OUTSIDE)
    simple("traversal", [info("../pwned", data=b"x")], "refuse", error="entry `../pwned`")
    simple("traversal-deep", [info("a/b/../../../pwned", data=b"x")], "refuse", error="..")
    simple("traversal-outside-name", [info(rel_out + "/pwned", data=b"x")], "refuse", error="..")
    simple("absolute-path", [info(OUTSIDE + "/pwned", data=b"x")], "ok",
           exists=[OUTSIDE.lstrip("/") + "/pwned"])
    simple("symlink-parent-relative", [info("evil", tarfile.SYMTYPE, linkname=rel_out),
                                       info("evil/pwned", data=b"x")], "safe")
    # usrmerge: a symlinked parent that stays inside resolves there (with openat2)
    simple("symlink-parent-inside", [info("usr/lib", tarfile.DIRTYPE),
                                     info("lib", tarfile.SYMTYPE, linkname="/usr/lib"),
                                     info("lib/libx.so", data=b"x")], "safe", openat2="ok",
           exists=["usr/lib/libx.so"])
    simple("symlink-parent-absolute", [info("evil", tarfile.SYMTYPE, linkname=OUTSIDE),
                                       info("evil/pwned", data=b"x")], "safe")
    case("symlink-parent-two-layers",
         [write("sym2-1.tar.gz", tar_bytes([info("evil", tarfile.SYMTYPE, linkname=OUTSIDE)])),
          write("sym2-2.tar.gz", tar_bytes([info("evil/pwned", data=b"x")]))], "safe")
    case("dir-replaced-by-symlink",
         [write("dirsym-1.tar.gz", tar_bytes([info("a", tarfile.DIRTYPE), info("a/f", data=b"f")])),
          write("dirsym-2.tar.gz", tar_bytes([info("a", tarfile.SYMTYPE, linkname=OUTSIDE)])),
          write("dirsym-3.tar.gz", tar_bytes([info("a/pwned", data=b"x")]))], "safe")
    simple("hardlink-traversal", [info("x", tarfile.LNKTYPE, linkname=rel_out + "/sentinel")],
           "refuse", error="..")
    simple("hardlink-absolute", [info("x", tarfile.LNKTYPE, linkname=OUTSIDE + "/sentinel")],
           "refuse", error="hardlink")
    simple("hardlink-through-symlink", [info("evil", tarfile.SYMTYPE, linkname=OUTSIDE),
                                        info("x", tarfile.LNKTYPE, linkname="evil/sentinel"),
                                        info("x", data=b"overwritten")], "safe")
    simple("write-through-final-symlink", [info("s", tarfile.SYMTYPE, linkname=OUTSIDE + "/sentinel"),
                                           info("s", data=b"overwritten")], "ok", exists=["s"])
    simple("root-replaced-by-symlink", [info(".", tarfile.SYMTYPE, linkname=OUTSIDE)], "refuse",
           error="root")
    simple("root-replaced-by-file", [info("./", data=b"x")], "refuse", error="path")
    simple("whiteout-dotdot", [info(".wh...", data=b"")], "refuse", error="whiteout")
    simple("whiteout-dot", [info("a/.wh..", data=b"")], "refuse", error="whiteout")
    case("whiteout-through-symlink",
         [write("whsym-1.tar.gz", tar_bytes([info("evil", tarfile.SYMTYPE, linkname=OUTSIDE)])),
          write("whsym-2.tar.gz", tar_bytes([info("evil/.wh.sentinel", data=b"")]))], "safe")
    case("opaque-through-symlink",
         [write("opqsym-1.tar.gz", tar_bytes([info("evil", tarfile.SYMTYPE, linkname=rel_out)])),
          write("opqsym-2.tar.gz", tar_bytes([info("evil/.wh..wh..opq", data=b"")]))], "safe")
    simple("device-nodes", [info("dev", tarfile.DIRTYPE),
                            info("dev/mem", tarfile.CHRTYPE, devmajor=1, devminor=1),
                            info("dev/sda", tarfile.BLKTYPE, devmajor=8, devminor=0),
                            info("ok", data=b"fine")], "ok",
           exists=["ok", "dev"], absent=["dev/mem", "dev/sda"], opts={"skip_devices": True})
    simple("long-path", [info("a/" * 3000 + "f", data=b"x")], "refuse", error="entry `a/a/a/")
    simple("long-link-target", [info("l", tarfile.SYMTYPE, linkname="x" * 5000)], "refuse",
           error="entry `l`: symlink target longer than")
    simple("long-hardlink-target", [info("h", tarfile.LNKTYPE, linkname="y" * 5000)], "refuse",
           error="entry `h`: link target longer than")
    big_pax = tar_bytes([info("p", data=b"x", pax_headers={"comment": "A" * (4 << 20)})])
    case("oversized-pax-header", [write("bigpax.tar.gz", big_pax)], "refuse", error="header too large")
    simple("many-entries", [info("f%05d" % i, data=b"") for i in range(3000)], "refuse",
           error="entry `f01000`: layer has more than 1000 entries", opts={"max_entries": 1000})
    simple("parent-is-file", [info("a", data=b"file"), info("a/b", data=b"x")], "refuse",
           error="entry `a/b`")
    # decompression bombs: 256 MiB of zeros, refused at 16 MiB
    with open(os.path.join(OUT, "bomb.tar.gz"), "wb") as raw:
        with gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=1, mtime=0) as gz:
            for chunk in zero_stream_tar(256 << 20):
                gz.write(chunk)
    case("gzip-bomb", ["bomb.tar.gz"], "refuse", error="entry `bomb`", opts={"max_bytes": 16 << 20})
    with open(os.path.join(OUT, "bomb.tar.zst"), "wb") as raw:
        p = subprocess.Popen(["zstd", "-q", "-3", "-c"], stdin=subprocess.PIPE, stdout=raw)
        for chunk in zero_stream_tar(256 << 20):
            p.stdin.write(chunk)
        p.stdin.close()
        if p.wait() != 0:
            sys.exit("zstd failed")
    case("zstd-bomb", ["bomb.tar.zst"], "refuse", error="entry `bomb`", opts={"max_bytes": 16 << 20})
    with open(os.path.join(OUT, "garbage.tar.gz"), "wb") as f:
        f.write(gzip.compress(b"this is not a tar archive " * 100, mtime=0))
    case("not-a-tar", ["garbage.tar.gz"], "refuse", error="read layer")
    whole = gzip.compress(tar_bytes([info("f", data=os.urandom(200000))]), mtime=0)
    with open(os.path.join(OUT, "truncated.tar.gz"), "wb") as f:
        f.write(whole[: len(whole) // 2])
    case("truncated-gzip", ["truncated.tar.gz"], "refuse", error="")
    with open(os.path.join(OUT, "cases.json"), "w") as f:
        json.dump(CASES, f, indent=1)


if __name__ == "__main__":
    main()
