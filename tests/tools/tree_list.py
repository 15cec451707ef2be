#!/usr/bin/env python3
"""tree_list.py [--no-owner] ROOT [SUBPATH...] - one canonical line per entry
under ROOT (or under ROOT/SUBPATH for each SUBPATH), sorted by the bytes of
the path, for diffing two unpacked trees of the same image:

  PATH  TYPE  MODE  UID:GID  SIZE  WHAT  XATTRS

PATH is relative to ROOT; every byte outside printable ASCII (and the
backslash) is written \\xNN, so names that are not UTF-8 survive.  TYPE is
one of dir file link fifo char block sock; MODE the permission bits (with
setuid, setgid, sticky) in octal; SIZE the size of a file (- otherwise);
WHAT the sha256 of a file's content (first 16 hex), the target of a link
(escaped), or the device numbers; a file whose inode appears more than once
in the listing gets `=FIRST` appended, FIRST being the smallest path of that
inode, so hard links compare whatever order they were made in.
XATTRS lists user.* attributes as name=hex (but user.rootlesscontainers,
where `umoci unpack --rootless` keeps the owners it could not set).  ROOT itself is not listed.
Stdlib only (it also runs inside images, read from stdin: `python3 - ROOT`).
"""
import hashlib
import os
import stat
import sys


def esc(b):
    out = []
    for c in b:
        if 0x20 < c < 0x7F and c != 0x5C:
            out.append(chr(c))
        else:
            out.append("\\x%02x" % c)
    return "".join(out)


def digest(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()[:16]


def xattrs(path):
    try:
        names = os.listxattr(path, follow_symlinks=False)
    except OSError:
        return "-"
    got = []
    for n in sorted(names):
        if n.startswith("user.") and n != "user.rootlesscontainers":
            try:
                got.append("%s=%s" % (n, os.getxattr(path, n, follow_symlinks=False).hex()))
            except OSError:
                pass
    return ",".join(got) or "-"


def walk(root, rel):
    """yields (relative path bytes, lstat) for rel and everything below"""
    full = os.path.join(root, rel) if rel else root
    st = os.lstat(full)
    if rel:
        yield rel, st
    if stat.S_ISDIR(st.st_mode):
        for name in sorted(os.listdir(full)):
            yield from walk(root, os.path.join(rel, name) if rel else name)


def main(argv):
    owner = True
    if argv and argv[0] == "--no-owner":
        owner = False
        argv = argv[1:]
    if not argv:
        print("usage: tree_list.py [--no-owner] ROOT [SUBPATH...]", file=sys.stderr)
        return 2
    root = os.fsencode(argv[0])
    subs = [os.fsencode(s).strip(b"/") for s in argv[1:]] or [b""]
    entries = []
    for s in subs:
        entries.extend(walk(root, s))
    entries.sort(key=lambda e: e[0])
    # hard links by the inodes seen in this listing, not st_nlink: an overlay
    # still counts a link that a whiteout hides
    first, seen = {}, {}
    for rel, st in entries:
        if stat.S_ISREG(st.st_mode) and st.st_nlink > 1:
            first.setdefault((st.st_dev, st.st_ino), rel)
            seen[(st.st_dev, st.st_ino)] = seen.get((st.st_dev, st.st_ino), 0) + 1
    out = sys.stdout.buffer if hasattr(sys.stdout, "buffer") else sys.stdout
    for rel, st in entries:
        full = os.path.join(root, rel)
        m = st.st_mode
        size = "-"
        if stat.S_ISDIR(m):
            typ, what = "dir", "-"
        elif stat.S_ISREG(m):
            typ, what, size = "file", digest(full), str(st.st_size)
            if seen.get((st.st_dev, st.st_ino), 0) > 1:
                what += "=" + esc(first[(st.st_dev, st.st_ino)])
        elif stat.S_ISLNK(m):
            typ, what = "link", esc(os.readlink(full))
        elif stat.S_ISFIFO(m):
            typ, what = "fifo", "-"
        elif stat.S_ISCHR(m) or stat.S_ISBLK(m):
            typ = "char" if stat.S_ISCHR(m) else "block"
            what = "%d,%d" % (os.major(st.st_rdev), os.minor(st.st_rdev))
        else:
            typ, what = "sock", "-"
        ids = "%d:%d" % (st.st_uid, st.st_gid) if owner else "-"
        line = "%s %s %04o %s %s %s %s\n" % (esc(rel), typ, stat.S_IMODE(m), ids, size, what,
                                             xattrs(full) if typ != "link" else "-")
        out.write(line.encode())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
