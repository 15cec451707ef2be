#!/usr/bin/env python3
"""compatgen - regenerate compat/data/*.tsv, the matrices pinion embeds.

Sources (the upstream listings Cog's own generator reads), given as saved
files or URLs:
  torch   the PyTorch "previous versions" page (its `pip install torch==...
          --index-url .../whl/cuXYZ` lines give torch/torchvision/torchaudio
          and the wheel index) plus the wheel index page of torch
          (download.pytorch.org/whl/torch/), which gives the Python versions
          of each build (cp311 tags).
  tf      TensorFlow's tested build configurations table (install/source,
          the GPU table: version, Python range, compiler, build tools, cuDNN,
          CUDA).
  cuda    the nvidia/cuda tag list: Docker Hub's tags API JSON pages or a
          plain text file with one tag per line.
  reference  Cog's published JSON matrices (torch_compatibility.json,
          tf_compatibility.json, cuda_compatibility.json) - the first data set.

Usage:
  compatgen.py reference DIR OUTDIR
  compatgen.py torch PREVIOUS_VERSIONS_HTML WHEEL_INDEX_HTML > torch.tsv
  compatgen.py tf TESTED_BUILDS_HTML > tf.tsv
  compatgen.py cuda TAGS_FILE... > cuda.tsv
Stdlib only.  Output format: see docs/config.md.
"""
import html
import json
import re
import sys
import urllib.request

TORCH_HEADER = "# torch\ttorchvision\ttorchaudio\tfind_links\tindex_url\tcuda\tpythons"
TF_HEADER = "# tf\tcpu_package\tgpu_package\tcuda\tcudnn\tpythons"
CUDA_HEADER = "# tag\tcuda\tcudnn\tubuntu\tdevel"
MIN_CUDA_MAJOR = 11


def vkey(v):
    """numeric sort key of a dotted version; a +local suffix sorts after"""
    base, _, local = (v or "").partition("+")
    nums = []
    for p in base.split("."):
        m = re.match(r"\d+", p)
        nums.append(int(m.group(0)) if m else 0)
    return (nums, local)


def field(v):
    if v is None or v == "":
        return "-"
    if "\t" in v or "\n" in v:
        raise ValueError("field with tab or newline: %r" % v)
    return v


def read(src):
    if re.match(r"https?://", src):
        with urllib.request.urlopen(src, timeout=60) as r:  # noqa: S310 (explicit user request)
            return r.read().decode("utf-8", "replace")
    with open(src, encoding="utf-8") as f:
        return f.read()


def torch_rows_tsv(rows):
    rows = sorted(rows, key=lambda r: (vkey(r[0]), vkey(r[5] or "0")))
    out = [TORCH_HEADER]
    for r in rows:
        out.append("\t".join(field(x) for x in r))
    return "\n".join(out) + "\n"


def tf_rows_tsv(rows):
    rows = sorted(rows, key=lambda r: vkey(r[0]))
    return "\n".join([TF_HEADER] + ["\t".join(field(x) for x in r) for r in rows]) + "\n"


def cuda_rows_tsv(rows):
    rows = sorted(set(rows), key=lambda r: (vkey(r[1]), vkey(r[3]), r[0]))
    return "\n".join([CUDA_HEADER] + ["\t".join(field(x) for x in r) for r in rows]) + "\n"


# ------------------------------------------------------------ reference JSON
def from_reference(d, outdir):
    with open(d + "/torch_compatibility.json") as f:
        torch = json.load(f)
    with open(d + "/tf_compatibility.json") as f:
        tf = json.load(f)
    with open(d + "/cuda_compatibility.json") as f:
        cuda = json.load(f)
    trows = [(e["Torch"], e["Torchvision"], e["Torchaudio"], e["FindLinks"],
              e["ExtraIndexURL"], e["CUDA"], ",".join(e["Pythons"])) for e in torch]
    tfrows = [(e["TF"], e["TFCPUPackage"], e["TFGPUPackage"], e["CUDA"], e["CuDNN"],
               ",".join(e["Pythons"])) for e in tf]
    crows = [(e["Tag"], e["CUDA"], e["CuDNN"], e["Ubuntu"], "1" if e["IsDevel"] else "0")
             for e in cuda]
    for name, text in (("torch.tsv", torch_rows_tsv(trows)), ("tf.tsv", tf_rows_tsv(tfrows)),
                       ("cuda.tsv", cuda_rows_tsv(crows))):
        with open(outdir + "/" + name, "w") as f:
            f.write(text)


# ------------------------------------------------------------------- torch
PIP_LINE = re.compile(r"pip3? install\s+([^<\n]*)")
WHEEL = re.compile(r"torch-(\d+\.\d+\.\d+)(\+[a-z0-9.]+)?-cp(\d)(\d+)-cp\d+t?-(manylinux[^\"<>]*?|linux)_x86_64\.whl")


def torch_pythons(index_html):
    """{(version, local or ''): set of 'maj.min'} from the wheel index page"""
    out = {}
    for m in WHEEL.finditer(html.unescape(index_html)):
        ver, local = m.group(1), (m.group(2) or "")[1:]
        out.setdefault((ver, local), set()).add("%s.%s" % (m.group(3), m.group(4)))
    return out


def parse_pip_line(line):
    """torch/torchvision/torchaudio pins and the index URL of one pip line"""
    pins, index, find_links = {}, "", ""
    toks = line.replace("\\", " ").split()
    i = 0
    while i < len(toks):
        t = toks[i]
        if t in ("--index-url", "--extra-index-url", "-f", "--find-links") and i + 1 < len(toks):
            if t.startswith("-f") or t == "--find-links":
                find_links = toks[i + 1]
            else:
                index = toks[i + 1]
            i += 2
            continue
        m = re.match(r"(torch|torchvision|torchaudio)==([0-9][^\s]*)$", t)
        if m:
            pins[m.group(1)] = m.group(2)
        i += 1
    return pins, index, find_links


def cuda_of_index(index):
    m = re.search(r"/whl/cu(\d+)(\d)/?$", index or "")
    if m:
        return "%s.%s" % (m.group(1), m.group(2))
    return None


def torch_rows(prev_html, index_html):
    pythons = torch_pythons(index_html)
    rows = {}
    text = html.unescape(re.sub(r"<[^>]+>", "\n", prev_html))
    for m in PIP_LINE.finditer(text):
        pins, index, find_links = parse_pip_line(m.group(1))
        if "torch" not in pins or "rocm" in index:
            continue
        torch = pins["torch"]
        base, _, local = torch.partition("+")
        if not index and not local:
            continue  # the default PyPI build: CUDA unknown from the line
        cuda = cuda_of_index(index)
        if local.startswith("cu"):
            cuda = "%s.%s" % (local[2:-1], local[-1])
        if not local:
            local = "cpu" if index.rstrip("/").endswith("/cpu") else ("cu" + cuda.replace(".", "") if cuda else "")
        if cuda and int(cuda.split(".")[0]) < MIN_CUDA_MAJOR - 1:
            continue
        if index and not index.endswith("/"):
            index += "/"
        py = pythons.get((base, local)) or pythons.get((base, ""))
        if not py:
            continue  # no linux x86_64 wheel listed
        key = base + "+" + local
        rows[key] = (key, pins.get("torchvision", ""), pins.get("torchaudio", ""),
                     find_links, index, cuda, ",".join(sorted(py, key=vkey)))
    return list(rows.values())


# ---------------------------------------------------------------------- tf
TF_ROW = re.compile(r"<tr>\s*<td>\s*tensorflow(?:[-_]gpu)?-(\d+\.\d+\.\d+)\s*</td>(.*?)</tr>", re.S)


def python_range(cell):
    """'3.8-3.11' or '2.7, 3.3-3.7' -> ['3.8', ..., '3.11'] (Python 3 only)"""
    out = []
    for part in cell.split(","):
        lo, _, hi = part.strip().partition("-")
        m1 = re.match(r"^(\d+)\.(\d+)$", lo)
        m2 = re.match(r"^(\d+)\.(\d+)$", hi or lo)
        if not m1 or not m2 or m1.group(1) != "3" or m2.group(1) != "3":
            continue
        out += ["3.%d" % n for n in range(int(m1.group(2)), int(m2.group(2)) + 1)]
    return out


def tf_rows(table_html):
    rows = {}
    for m in TF_ROW.finditer(table_html):
        ver = m.group(1)
        cells = [html.unescape(re.sub(r"<[^>]+>", "", c)).strip()
                 for c in re.findall(r"<td>(.*?)</td>", m.group(2), re.S)]
        if len(cells) < 5:
            continue
        py, cudnn, cuda = cells[0], cells[3], cells[4]
        if not re.match(r"^\d+\.\d+$", cuda) or int(cuda.split(".")[0]) < MIN_CUDA_MAJOR:
            continue
        pys = python_range(py)
        pkg = "tensorflow==" + ver
        rows[ver] = (ver, pkg, pkg, cuda, cudnn, ",".join(pys))
    return list(rows.values())


# -------------------------------------------------------------------- cuda
CUDA_TAG = re.compile(r"^(\d+\.\d+\.\d+)-cudnn(\d*)-devel-ubuntu(\d+\.\d+)$")


def cuda_tags(text):
    text = text.strip()
    if text.startswith("{"):
        return [r["name"] for r in json.loads(text).get("results", [])]
    return [t.strip() for t in text.splitlines() if t.strip() and not t.startswith("#")]


MAX_TAG_PAGES = 200


def cuda_tags_from(src):
    """tags of one source; a Docker Hub JSON page's `next` links are followed"""
    tags, seen = [], set()
    while src and src not in seen and len(seen) < MAX_TAG_PAGES:
        seen.add(src)
        text = read(src)
        tags += cuda_tags(text)
        src = None
        if text.strip().startswith("{"):
            src = json.loads(text).get("next")
    return tags


def cuda_rows(tags):
    rows = []
    for tag in tags:
        m = CUDA_TAG.match(tag)
        if not m:
            continue
        cuda, cudnn, ubuntu = m.group(1), m.group(2), m.group(3)
        if int(cuda.split(".")[0]) < MIN_CUDA_MAJOR:
            continue
        rows.append((tag, cuda, cudnn or "9", ubuntu, "1"))
    return rows


def main(argv):
    if len(argv) < 2:
        sys.stderr.write(__doc__)
        return 2
    cmd = argv[1]
    if cmd == "reference" and len(argv) == 4:
        from_reference(argv[2], argv[3])
    elif cmd == "torch" and len(argv) == 4:
        sys.stdout.write(torch_rows_tsv(torch_rows(read(argv[2]), read(argv[3]))))
    elif cmd == "tf" and len(argv) == 3:
        sys.stdout.write(tf_rows_tsv(tf_rows(read(argv[2]))))
    elif cmd == "cuda" and len(argv) >= 3:
        tags = []
        for src in argv[2:]:
            tags += cuda_tags_from(src)
        sys.stdout.write(cuda_rows_tsv(cuda_rows(tags)))
    else:
        sys.stderr.write(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
