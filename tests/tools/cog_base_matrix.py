#!/usr/bin/env python3
"""cog_base_matrix.py - Cog's `cog base-image generate-matrix`, restated from
Cog's source (pkg/dockerfile/base.go: BaseImageConfigurations, the JSON
marshalling through BaseImageName and baseImageComponentNormalisation;
pkg/util/version) as a test oracle independent of pinion's C code.

  cog_base_matrix.py MATRIX      MATRIX: compat/data/torch.tsv (pinion's
                                 format) or Cog's torch_compatibility.json

Prints the configurations as Cog's JSON objects, one a line, sorted (Cog
takes part of the list from Go maps, so its order is not fixed).
Stdlib only.
"""
import json
import sys

MINIMUM_CUDA = "11.6"
MINIMUM_PYTHON = "3.10"
MINIMUM_TORCH = "1.13.1"


class Version:
    """pkg/util/version.Version: up to three numeric parts, +modifier dropped"""

    def __init__(self, s):
        number = s.split("+", 1)[0]
        parts = number.split(".")
        if len(parts) > 3:
            raise ValueError(s)
        self.major = int(parts[0])
        self.minor = int(parts[1]) if len(parts) >= 2 else 0
        self.patch = int(parts[2]) if len(parts) >= 3 else None

    def key(self):
        return (self.major, self.minor, self.patch or 0)


def greater_or_equal(a, b):
    return Version(a).key() >= Version(b).key()


def greater(a, b):
    return Version(a).key() > Version(b).key()


def matches(a, b):
    try:
        x, y = Version(a), Version(b)
    except ValueError:
        return False
    if x.major != y.major or x.minor != y.minor:
        return False
    return x.patch is None or y.patch is None or x.patch == y.patch


def strip_patch(v):
    x = Version(v)
    return "%d.%d" % (x.major, x.minor)


def strip_modifier(v):
    return v.split("+")[0]


def read_matrix(path):
    """rows of {torch, cuda (None for CPU), pythons}"""
    if path.endswith(".json"):
        with open(path) as f:
            return [{"torch": r["Torch"], "cuda": r["CUDA"], "pythons": r["Pythons"]}
                    for r in json.load(f)]
    rows = []
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if not line or line.startswith("#"):
                continue
            c = line.split("\t")
            rows.append({"torch": c[0], "cuda": None if c[5] in ("", "-") else c[5],
                         "pythons": c[6].split(",")})
    return rows


def configurations(rows):
    configs, pythons, cudas = [], set(), set()
    for r in rows:
        for python in r["pythons"]:
            if not greater_or_equal(python, MINIMUM_PYTHON) or \
                    not greater_or_equal(r["torch"], MINIMUM_TORCH):
                continue
            if r["cuda"] is None:
                configs.append(("", python, r["torch"]))
            elif greater_or_equal(r["cuda"], MINIMUM_CUDA):
                configs.append((r["cuda"], python, r["torch"]))
                pythons.add(python)
                cudas.add(r["cuda"])
    for python in pythons:
        for cuda in cudas:
            configs.append((cuda, python, ""))
    for python in pythons:
        configs.append(("", python, ""))
    return configs


def compatible(conf, requested):
    if conf == "" or requested == "":
        return conf == requested
    return matches(requested, conf)


def image_tag(configs, cuda, python, torch):
    best = ""
    for c in configs:
        if compatible(c[0], cuda) and compatible(c[1], python) and compatible(c[2], torch):
            if best == "" or greater(c[2], best):
                best = strip_modifier(c[2])
    parts = []
    if cuda:
        parts.append("cuda" + strip_patch(cuda))
    if python:
        parts.append("python" + strip_patch(python))
    if best:
        parts.append("torch" + strip_modifier(best))
    return "-".join(parts) or "latest"


def main():
    if len(sys.argv) != 2:
        sys.stderr.write(__doc__)
        return 2
    configs = configurations(read_matrix(sys.argv[1]))
    out = [json.dumps({"cuda_version": c[0], "python_version": c[1], "torch_version": c[2],
                       "image_name": "cog-base", "image_tag": image_tag(configs, *c)},
                      sort_keys=True, separators=(",", ":"))
           for c in configs]
    for line in sorted(out):
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
