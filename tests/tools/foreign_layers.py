#!/usr/bin/env python3
"""foreign_layers.py ROOTFS_TAR NAME - (once) an OCI layout of a python base
image whose layers were written by another tool than pinion; prints its
directory.  The image is tagged library/python:3.11-slim (what a Cog model
with python_version 3.11 asks docker.io for), so a build can take it through
`--registry-mirror docker.io=oci:DIR`.  Cached under $PINION_TEST_CACHE
(default /var/cache/pinion-test) keyed by a hash of this file, tree_list.py, the
rootfs and NAME; concurrent callers wait on a flock.  Run as root.

NAME:
  base     ROOTFS_TAR alone, `buildah add`ed onto scratch and committed: one
           layer from Go's archive/tar with the python image's config (the
           default base image of the e2e tests, fixture_base_layout)
  buildah  every layer from Go's archive/tar (containers/storage, as Docker,
           BuildKit and podman write them): ROOTFS_TAR `buildah add`ed onto
           scratch and committed; then `buildah run --isolation chroot` steps
           on the overlay driver that add the test tree under /opt/foreign
           (UTF-8 names, long names, links, xattrs), delete lower files and
           replace a lower directory (.wh. and .wh..wh..opq written by
           containers/storage); then one step with invalid UTF-8 names (Go
           puts their bytes in PAX records without hdrcharset)
  tarfile  every layer from Python's tarfile or GNU tar:
             1 ROOTFS_TAR rewritten entry by entry in PAX format (gzip)
             2 PAX: the test tree under /opt/foreign-pax, invalid UTF-8 names
               with hdrcharset=BINARY, SCHILY.xattr.user.* records
             3 GNU: /opt/foreign-gnu, raw bytes, longname/longlink past 100
             4 ustar: /opt/foreign-ustar, raw bytes, prefix+name up to 255
             5 GNU tar --format=posix --sparse (sparse 1.0) + --xattrs
             6 Docker-style whiteouts as moby's pkg/archive writes them (PAX
               via Go conventions: no ./, dirs end in /, .wh.NAME mode 0
               size 0, .wh..wh..opq after its directory) deleting entries
               of layers 1-4, one of them a non-ASCII base symlink
           layers 2-4, 6 uncompressed, 5 gzip.
  gnusparse  GNU tar --format=gnu --sparse (old GNU sparse headers, raw
           names, longname/longlink), on a small tarfile layer; no python.
           umoci cannot read typeflag S, so the listing of the tree the
           layer was made from is written to LAYOUT.list for comparison.

The layout is validated with `umoci stat` and `skopeo inspect` before it is
published.  Stdlib only besides buildah, skopeo, umoci, GNU tar.
"""
import fcntl
import gzip
import hashlib
import io
import json
import os
import platform
import shutil
import subprocess
import sys
import tarfile
import tempfile

TAG = "library/python:3.11-slim"
ENV = ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8"]
EPOCH = 1700000000

# The test tree, created on disk (here, or inside a buildah container by
# `python3 -c`).  make_tree(root, opts) writes under root; opts:
#   long   paths past 255 bytes and link targets past 100
#   raw    names that are not UTF-8 (latin-1 bytes)
#   xattr  user.* extended attributes
#   owners files owned by other ids
#   sparse a sparse file
#   short  no name component past 100 bytes (ustar)
TREE_CODE = r'''
import os
def make_tree(root, opts):
    def p(*parts):
        return os.path.join(os.fsencode(root), *[x if isinstance(x, bytes) else x.encode() for x in parts])
    def w(path, data, mode=0o644):
        with open(path, "wb") as f:
            f.write(data)
        os.chmod(path, mode)
    os.makedirs(p(), exist_ok=True)
    pem = "NetLock_Arany_=Class_Gold=_F\u0151tan\u00fas\u00edtv\u00e1ny.pem"
    w(p(pem), b"-----BEGIN CERTIFICATE-----\nnot really\n-----END CERTIFICATE-----\n")
    os.makedirs(p("\u00fcn\u00efc\u00f6d\u00e9"))
    w(p("\u00fcn\u00efc\u00f6d\u00e9", "\u65e5\u672c\u8a9e.txt"), b"nihongo\n", 0o640)
    os.link(p(pem), p("\u00fcn\u00efc\u00f6d\u00e9", "h\u00e5rdlink.pem"))
    os.symlink(pem, p("rel-F\u0151tan\u00fas\u00edtv\u00e1ny.pem"))
    os.symlink("/etc/ssl/certs/" + pem, p("abs-netlock.pem"))
    os.symlink("../\u00fcn\u00efc\u00f6d\u00e9/\u65e5\u672c\u8a9e.txt", p("dangling-\u00e9"))
    w(p("run-\u00e9.sh"), b"#!/bin/sh\necho run\n", 0o755)
    if not opts.get("short"):
        w(p("n" * 120 + ".txt"), b"over 100\n")
        os.link(p("n" * 120 + ".txt"), p("hl-" + "m" * 110))
    os.makedirs(p("sticky"))
    os.chmod(p("sticky"), 0o1777)
    os.makedirs(p("private"))
    os.chmod(p("private"), 0o750)
    w(p("private", "x"), b"x", 0o600)
    if opts.get("long"):
        comp = "\u00e9" * 120 + ".txt"           # one component of 244 bytes
        w(p(comp), b"long component\n")
        deep = ["d%02d-" % i + "\u0151" * 28 for i in range(6)]   # ~360 bytes of path
        os.makedirs(p(*deep))
        w(p(*deep, "deep-f\u00e1jl.txt"), b"deep\n")
        os.link(p(*deep, "deep-f\u00e1jl.txt"), p("hl-to-deep"))
        os.symlink("/".join(deep) + "/deep-f\u00e1jl.txt", p("sl-to-deep"))
        os.symlink("/" + "t\u00e1rget/" * 30, p("long-target"))
    if opts.get("raw"):
        w(p(b"caf\xe9-latin1.txt"), b"latin1 name\n")
        os.makedirs(p(b"\xff\xfe-dir"))
        w(p(b"\xff\xfe-dir", b"inner-\xe9"), b"inner\n")
        os.symlink(b"caf\xe9-latin1.txt", p(b"raw-link-\xe9"))
        os.link(p(b"caf\xe9-latin1.txt"), p(b"raw-hl-\xe9"))
    if opts.get("xattr"):
        w(p("xattr-\u00e9.txt"), b"with attributes\n")
        os.setxattr(p("xattr-\u00e9.txt"), "user.pinion.test", "F\u0151 value".encode())
        os.setxattr(p("xattr-\u00e9.txt"), "user.pinion.bin", b"\x00\x01\xff")
        os.setxattr(p("\u00fcn\u00efc\u00f6d\u00e9"), "user.pinion.dir", b"dir")
    if opts.get("owners"):
        w(p("owned-1000"), b"1000\n")
        os.chown(p("owned-1000"), 1000, 1000)
        os.makedirs(p("owned-dir"))
        os.chown(p("owned-dir"), 65534, 100)
    if opts.get("sparse"):
        with open(p("sparse-\u00e9.bin"), "wb") as f:
            f.seek(1 << 20)
            f.write(b"data in the middle")
            f.seek(3 << 20)
            f.write(b"end")
            f.truncate(4 << 20)
'''

ns = {}
exec(TREE_CODE, ns)
make_tree = ns["make_tree"]


def die(msg):
    print("foreign_layers: " + msg, file=sys.stderr)
    sys.exit(1)


def run(*cmd, **kw):
    r = subprocess.run(cmd, **kw)
    if r.returncode != 0:
        die("failed (%d): %s" % (r.returncode, " ".join(cmd)))
    return r


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def arch():
    m = platform.machine()
    return {"x86_64": "amd64", "aarch64": "arm64"}.get(m, m)


# ---- layout writing (manifest/config JSON; the layer bytes come from the writers)

def put_blob(layout, path_or_bytes):
    d = os.path.join(layout, "blobs", "sha256")
    os.makedirs(d, exist_ok=True)
    if isinstance(path_or_bytes, bytes):
        dg = hashlib.sha256(path_or_bytes).hexdigest()
        with open(os.path.join(d, dg), "wb") as f:
            f.write(path_or_bytes)
        return dg, len(path_or_bytes)
    dg = sha256_file(path_or_bytes)
    os.replace(path_or_bytes, os.path.join(d, dg))
    return dg, os.path.getsize(os.path.join(d, dg))


def write_layout(layout, layers, history):
    """layers: [(tar file path, gzip?)]; the tar files are moved into blobs."""
    os.makedirs(layout)
    descs, diff_ids = [], []
    for path, gz in layers:
        diff_ids.append("sha256:" + sha256_file(path))
        mt = "application/vnd.oci.image.layer.v1.tar"
        if gz:
            with open(path, "rb") as fi, open(path + ".gz", "wb") as raw:
                with gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, compresslevel=6) as fo:
                    shutil.copyfileobj(fi, fo, 1 << 20)
            os.unlink(path)
            path += ".gz"
            mt += "+gzip"
        dg, size = put_blob(layout, path)
        descs.append({"mediaType": mt, "digest": "sha256:" + dg, "size": size})
    created = "2023-11-14T22:13:20Z"
    config = {
        "created": created, "architecture": arch(), "os": "linux",
        "config": {"Env": ENV, "Cmd": ["python3"]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": [{"created": created, "created_by": h} for h in history],
    }
    cb = json.dumps(config, sort_keys=True).encode()
    cdg, csize = put_blob(layout, cb)
    manifest = {
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": "sha256:" + cdg, "size": csize},
        "layers": descs,
    }
    mb = json.dumps(manifest, sort_keys=True).encode()
    mdg, msize = put_blob(layout, mb)
    index = {"schemaVersion": 2, "manifests": [{
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "digest": "sha256:" + mdg, "size": msize,
        "annotations": {"org.opencontainers.image.ref.name": TAG}}]}
    with open(os.path.join(layout, "index.json"), "w") as f:
        json.dump(index, f)
    with open(os.path.join(layout, "oci-layout"), "w") as f:
        json.dump({"imageLayoutVersion": "1.0.0"}, f)


# ---- buildah: Go's archive/tar

class Buildah:
    """a private containers/storage store under WORK (overlay driver), removed
    (containers, images, mounts) by close()"""

    def __init__(self, work):
        store = os.path.join(work, "store")
        self.store = store
        self.ba = ["buildah", "--root", store + "/root", "--runroot", store + "/run",
                   "--storage-driver", "overlay"]
        self.env = dict(os.environ, BUILDAH_ISOLATION="chroot", STORAGE_DRIVER="overlay",
                        TMPDIR=work, LC_ALL="C.UTF-8")
        self.env.pop("REGISTRY_AUTH_FILE", None)

    def __call__(self, *args, capture=False):
        r = run(*self.ba, *args, env=self.env, stdout=subprocess.PIPE if capture else subprocess.DEVNULL)
        return r.stdout.decode().strip() if capture else None

    def step(self, ctr, code):
        self("run", "--isolation", "chroot", "--runtime", "runc", ctr, "--", "python3", "-c", code)

    def base(self, rootfs, image):
        """ROOTFS_TAR `buildah add`ed onto scratch with the python image's
        config, committed as IMAGE: one layer from Go's archive/tar"""
        c = self("from", "--pull-never", "scratch", capture=True)
        self("add", c, rootfs, "/")
        cfg = ["config", "--cmd", "python3"]
        for e in ENV:
            cfg += ["--env", e]
        self(*cfg, c)
        self("commit", "-q", c, image)

    def close(self):
        for args in (["rm", "--all"], ["rmi", "--all", "--force"]):
            subprocess.run(self.ba + args, env=self.env, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
        # overlay mounts of the store must be gone before the directory is
        subprocess.run(["umount", "-R", self.store + "/root/overlay"], stderr=subprocess.DEVNULL)


def build_base(rootfs, work, layout):
    """the plain base: ROOTFS_TAR as one buildah layer, nothing else"""
    b = Buildah(work)
    try:
        b.base(rootfs, "fl-base")
        b("push", "-q", "fl-base", "oci:%s:%s" % (layout, TAG))
    finally:
        b.close()


def build_buildah(rootfs, work, layout):
    b = Buildah(work)
    try:
        b.base(rootfs, "fl-base")
        c = b("from", "--pull-never", "fl-base", capture=True)
        b.step(c, TREE_CODE + "\n"
               "import shutil\n"
               "make_tree('/opt/foreign', {'long': 1, 'xattr': 1, 'owners': 1, 'sparse': 1})\n"
               # deletions of lower files -> .wh.NAME; a replaced directory -> .wh..wh..opq
               "os.unlink('/etc/ssl/certs/NetLock_Arany_=Class_Gold=_F\\u0151tan\\u00fas\\u00edtv\\u00e1ny.pem')\n"
               "shutil.rmtree('/usr/share/doc/ca-certificates')\n"
               "shutil.rmtree('/usr/share/python3')\n"
               "os.makedirs('/usr/share/python3')\n"
               "open('/usr/share/python3/new-\\u00e9', 'w').write('new\\n')\n")
        b("commit", "-q", c, "fl-tree")
        c = b("from", "--pull-never", "fl-tree", capture=True)
        b.step(c, TREE_CODE + "\n"
               "make_tree('/opt/foreign-raw', {'raw': 1})\n"
               "os.unlink('/opt/foreign/\\u00fcn\\u00efc\\u00f6d\\u00e9/\\u65e5\\u672c\\u8a9e.txt')\n")
        b("commit", "-q", c, "fl-raw")
        b("push", "-q", "fl-raw", "oci:%s:%s" % (layout, TAG))
    finally:
        b.close()


# ---- Python tarfile and GNU tar

def rewrite_rootfs(rootfs, out):
    """every entry of ROOTFS_TAR re-written by tarfile in PAX format"""
    with tarfile.open(rootfs, "r:") as src, tarfile.open(out, "w:", format=tarfile.PAX_FORMAT) as dst:
        for m in src:
            dst.addfile(m, src.extractfile(m) if m.isreg() else None)


def tree_tar(src_root, arc_root, out, fmt, xattrs=False):
    """src_root's tree added by tarfile under arc_root (no leading ./, as
    Docker); hard links, symlinks and owners come from the disk.  tarfile
    reads no xattrs: for PAX they are added as SCHILY.xattr records."""
    def filt(ti):
        ti.mtime = EPOCH
        ti.uname = ti.gname = ""
        if xattrs:
            full = os.path.join(src_root, os.path.relpath(ti.name, arc_root)) if ti.name != arc_root else src_root
            try:
                for k in os.listxattr(full, follow_symlinks=False):
                    if k.startswith("user."):
                        v = os.getxattr(full, k, follow_symlinks=False)
                        ti.pax_headers["SCHILY.xattr." + k] = v.decode("utf-8", "surrogateescape")
            except OSError:
                pass
        return ti
    with tarfile.open(out, "w:", format=fmt, encoding="utf-8", errors="surrogateescape") as t:
        # parents first, as every layer writer does
        parts = arc_root.split("/")
        for i in range(1, len(parts)):
            d = tarfile.TarInfo("/".join(parts[:i]))
            d.type, d.mode, d.mtime = tarfile.DIRTYPE, 0o755, EPOCH
            t.addfile(d)
        t.add(src_root, arcname=arc_root, filter=filt)


def gnutar(src_parent, arc, out, fmt):
    # --xattrs would force the posix format
    xa = ["--xattrs", "--xattrs-include=user.*"] if fmt == "posix" else []
    run("tar", "--create", "--file", out, "--format", fmt, "--sparse", *xa, "--numeric-owner", "--mtime=@%d" % EPOCH,
        "--sort=name", "-C", src_parent, arc, env=dict(os.environ, LC_ALL="C.UTF-8"))


def docker_whiteouts(out):
    """what moby's pkg/archive writes for deletions: the changed parent
    directory (PAX format, mtime truncated to seconds, name ending in /),
    then `.wh.NAME` (typeflag 0, mode 0, size 0, no owner names) for a
    deleted entry; for a replaced directory its header, then
    `.wh..wh..opq` (mode = the directory's permission bits, its owner) and
    its new content."""
    def d(name, mode=0o755, uid=0, gid=0):
        ti = tarfile.TarInfo(name + "/")
        ti.type, ti.mode, ti.mtime, ti.uid, ti.gid = tarfile.DIRTYPE, mode, EPOCH, uid, gid
        ti.uname = ti.gname = "root" if uid == 0 else ""
        return ti

    def wh(name, mode=0, uid=0, gid=0):
        ti = tarfile.TarInfo(name)
        ti.type, ti.mode, ti.mtime, ti.size, ti.uid, ti.gid = tarfile.REGTYPE, mode, EPOCH, 0, uid, gid
        ti.uname = ti.gname = ""
        return ti

    def f(name, data):
        ti = tarfile.TarInfo(name)
        ti.mode, ti.mtime, ti.size = 0o644, EPOCH, len(data)
        ti.uname = ti.gname = "root"
        return ti, io.BytesIO(data)

    pem = "NetLock_Arany_=Class_Gold=_F\u0151tan\u00fas\u00edtv\u00e1ny.pem"
    uni = "\u00fcn\u00efc\u00f6d\u00e9"
    with tarfile.open(out, "w:", format=tarfile.PAX_FORMAT, encoding="utf-8",
                      errors="surrogateescape") as t:
        t.addfile(d("etc"))
        t.addfile(d("etc/ssl"))
        t.addfile(d("etc/ssl/certs"))
        t.addfile(wh("etc/ssl/certs/.wh." + pem))            # base symlink, non-ASCII whiteout
        t.addfile(d("opt"))
        t.addfile(d("opt/foreign-gnu"))                      # replaced: opaque
        t.addfile(wh("opt/foreign-gnu/.wh..wh..opq", mode=0o755))
        t.addfile(*f("opt/foreign-gnu/only-this-\u00e9", b"after opaque\n"))
        t.addfile(d("opt/foreign-pax"))
        ud = d("opt/foreign-pax/" + uni, mode=0o755)
        ud.pax_headers["SCHILY.xattr.user.pinion.dir"] = "dir"   # moby repeats a dir's xattrs
        t.addfile(ud)
        t.addfile(wh("opt/foreign-pax/" + uni + "/.wh.\u65e5\u672c\u8a9e.txt"))
        t.addfile(wh("opt/foreign-pax/.wh." + "n" * 120 + ".txt"))   # a hard-linked file
        t.addfile(wh("opt/foreign-pax/.wh.caf\udce9-latin1.txt"))    # a raw name (BINARY)
        t.addfile(d("opt/foreign-ustar"))
        t.addfile(wh("opt/foreign-ustar/.wh.private"))        # a directory
        t.addfile(d("usr"))
        t.addfile(d("usr/share"))
        t.addfile(d("usr/share/doc"))
        t.addfile(wh("usr/share/doc/.wh.ca-certificates"))   # a base directory
        t.addfile(d("usr/share/python3"))                     # base dir replaced
        t.addfile(wh("usr/share/python3/.wh..wh..opq", mode=0o755))
        t.addfile(*f("usr/share/python3/new-\u00e9", b"new\n"))


def build_tarfile(rootfs, work, layout):
    layers, hist = [], []

    def add(path, gz, what):
        layers.append((path, gz))
        hist.append(what)

    base = os.path.join(work, "l1.tar")
    rewrite_rootfs(rootfs, base)
    add(base, True, "python tarfile PAX: rootfs")
    specs = [
        ("pax", tarfile.PAX_FORMAT, {"long": 1, "raw": 1, "xattr": 1, "owners": 1, "sparse": 1}),
        ("gnu", tarfile.GNU_FORMAT, {"long": 1, "raw": 1, "owners": 1, "sparse": 1}),
        ("ustar", tarfile.USTAR_FORMAT, {"raw": 1, "owners": 1, "short": 1}),
    ]
    for name, fmt, opts in specs:
        src = os.path.join(work, "src-" + name)
        make_tree(src, opts)
        if fmt == tarfile.USTAR_FORMAT:
            # ustar: prefix (155) + name (100); no longer link targets
            os.makedirs(os.path.join(src, "p" * 80, "q" * 50))
            with open(os.path.join(src, "p" * 80, "q" * 50, "F\u0151tan\u00fas\u00edtv\u00e1ny-" + "r" * 70), "w") as fh:
                fh.write("prefix + name\n")
        out = os.path.join(work, "l-%s.tar" % name)
        tree_tar(src, "opt/foreign-" + name, out, fmt, xattrs=(fmt == tarfile.PAX_FORMAT))
        add(out, False, "python tarfile %s: /opt/foreign-%s" % (name.upper(), name))
    src = os.path.join(work, "gt-posix")
    make_tree(os.path.join(src, "opt", "foreign-sparse-posix"),
              {"sparse": 1, "xattr": 1, "long": 1, "owners": 1})
    out = os.path.join(work, "l-sparse-posix.tar")
    gnutar(src, "opt", out, "posix")
    add(out, True, "GNU tar --format=posix --sparse: /opt/foreign-sparse-posix")
    out = os.path.join(work, "l-docker.tar")
    docker_whiteouts(out)
    add(out, False, "docker-style whiteouts")
    write_layout(layout, layers, hist)


def build_gnusparse(rootfs, work, layout):
    """umoci cannot read old GNU sparse headers (typeflag S): this image is
    checked against the listing of the tree it was made from (LAYOUT.list,
    by tree_list.py) instead.  Layer 1: a few directories (tarfile);
    layer 2: GNU tar --format=gnu --sparse of /opt/foreign-sparse-gnu."""
    base = os.path.join(work, "l1.tar")
    with tarfile.open(base, "w:", format=tarfile.PAX_FORMAT) as t:
        for d in ("opt", "opt/foreign-sparse-gnu", "tmp"):
            ti = tarfile.TarInfo(d)
            ti.type, ti.mode, ti.mtime = tarfile.DIRTYPE, 0o755, EPOCH
            t.addfile(ti)
        ti = tarfile.TarInfo("opt/foreign-sparse-gnu/sparse-\u00e9.bin")
        ti.size, ti.mtime = 5, EPOCH
        t.addfile(ti, io.BytesIO(b"lower"))          # replaced by layer 2
    src = os.path.join(work, "gt-gnu")
    make_tree(os.path.join(src, "opt", "foreign-sparse-gnu"),
              {"sparse": 1, "long": 1, "raw": 1, "owners": 1})
    out = os.path.join(work, "l-sparse-gnu.tar")
    gnutar(src, "opt", out, "gnu")
    with open(layout + ".list", "wb") as f:
        run(sys.executable, os.path.join(os.path.dirname(os.path.abspath(__file__)), "tree_list.py"),
            src, "opt/foreign-sparse-gnu", stdout=f)
    write_layout(layout, [(base, False), (out, True)],
                 ["python tarfile PAX: directories", "GNU tar --format=gnu --sparse"])


def validate(layout):
    run("umoci", "stat", "--image", "%s:%s" % (layout, TAG), stdout=subprocess.DEVNULL)
    run("skopeo", "inspect", "oci:%s:%s" % (layout, TAG), stdout=subprocess.DEVNULL)
    # (oci-image-tool 1.0 cannot validate a layout: "imageLayout unimplemented")


BUILDERS = {"base": build_base, "buildah": build_buildah, "tarfile": build_tarfile, "gnusparse": build_gnusparse}


def main():
    if len(sys.argv) != 3 or sys.argv[2] not in BUILDERS:
        print("usage: foreign_layers.py ROOTFS_TAR base|buildah|tarfile|gnusparse", file=sys.stderr)
        sys.exit(2)
    rootfs, name = os.path.abspath(sys.argv[1]), sys.argv[2]
    cache = os.environ.get("PINION_TEST_CACHE", "/var/cache/pinion-test")
    recipe = b""
    for f in (__file__, os.path.join(os.path.dirname(os.path.abspath(__file__)), "tree_list.py")):
        with open(f, "rb") as fh:
            recipe += fh.read() + b"\0"
    recipe += os.path.basename(rootfs).encode() + b"\0" + name.encode()
    key = hashlib.sha256(recipe).hexdigest()[:16]
    layout = os.path.join(cache, "foreign-%s-%s" % (name, key))
    os.makedirs(cache, exist_ok=True)
    with open(os.path.join(cache, ".lock-foreign-" + name), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not os.path.isfile(os.path.join(layout, "index.json")):
            print("fixtures: building foreign base '%s'" % name, file=sys.stderr)
            work = tempfile.mkdtemp(prefix="foreign-%s." % name, dir=cache)
            try:
                tmp = os.path.join(work, "layout")
                BUILDERS[name](rootfs, work, tmp)
                validate(tmp)
                shutil.rmtree(layout, ignore_errors=True)
                if os.path.exists(tmp + ".list"):
                    os.replace(tmp + ".list", layout + ".list")
                os.rename(tmp, layout)
            finally:
                subprocess.run(["rm", "-rf", "--one-file-system", work])
    print(layout)


if __name__ == "__main__":
    main()
