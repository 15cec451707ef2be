#!/usr/bin/env python3
"""Structure report and check for pinion's C sources.

Reads the object files `make` wrote (BUILD/<dir>/*.o) with nm, and the
sources with ctags, and reports per module:
  - the number of .c and .h files,
  - call circles between files of one module (file A calls a function defined
    in file B, and B, through any chain, calls back into A),
  - the longest functions.
With --check it exits 1 when a module has a call circle between its files,
or a function is longer than --max-lines (the same limits as the issue that
asked for it: no circles, functions short).

usage: structure.py [--build DIR] [--check] [--max-lines N] [--top N] [--json]
"""
import argparse
import json
import os
import subprocess
import sys

MODULES = ["common", "oci", "registry", "compat", "runner", "assembler"]


def c_files(mod):
    out = []
    for root, _dirs, files in os.walk(mod):
        if "/sdk" in root or root.endswith("/sdk"):
            continue
        for f in files:
            if f.endswith(".c"):
                out.append(os.path.join(root, f))
    return sorted(out)


def h_files(mod):
    out = []
    for root, _dirs, files in os.walk(mod):
        for f in files:
            if f.endswith(".h"):
                out.append(os.path.join(root, f))
    return sorted(out)


def symbols(obj):
    """(defined, undefined) global function/data names of one object file"""
    res = subprocess.run(["nm", "--defined-only", "-g", obj], capture_output=True, text=True, check=True)
    defined = {ln.split()[-1] for ln in res.stdout.splitlines() if ln.strip()}
    res = subprocess.run(["nm", "-u", obj], capture_output=True, text=True, check=True)
    undef = {ln.split()[-1] for ln in res.stdout.splitlines() if ln.strip()}
    return defined, undef


def circles(graph):
    """strongly connected components with more than one node (Tarjan)"""
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def functions(srcs):
    if not srcs:
        return []
    res = subprocess.run(["ctags", "--fields=+ne", "--c-kinds=f", "-o", "-"] + srcs,
                         capture_output=True, text=True, check=True)
    out = []
    for ln in res.stdout.splitlines():
        parts = ln.split("\t")
        fields = dict(p.split(":", 1) for p in parts[3:] if ":" in p)
        if "line" in fields and "end" in fields:
            out.append((int(fields["end"]) - int(fields["line"]) + 1, parts[1], parts[0]))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--check", action="store_true")
    ap.add_argument("--max-lines", type=int, default=80)
    ap.add_argument("--top", type=int, default=5)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()

    report, bad = {}, []
    allfuncs = []
    for mod in MODULES:
        srcs = c_files(mod)
        defs, uses = {}, {}
        for src in srcs:
            obj = os.path.join(a.build, src[:-2] + ".o")
            if not os.path.exists(obj):
                print(f"structure: {obj} is missing: run make first", file=sys.stderr)
                return 2
            defs[src], uses[src] = symbols(obj)
        owner = {}
        for src, names in defs.items():
            for n in names:
                owner[n] = src
        graph = {src: {owner[n] for n in uses[src] if n in owner and owner[n] != src} for src in srcs}
        circ = circles(graph)
        funcs = functions(srcs)
        allfuncs += funcs
        report[mod] = {
            "c_files": len(srcs),
            "h_files": len(h_files(mod)),
            "circles": circ,
            "longest": [{"lines": n, "file": f, "function": fn} for n, f, fn in sorted(funcs, reverse=True)[:a.top]],
        }
        for c in circ:
            bad.append(f"{mod}: files call each other in a circle: {' <-> '.join(c)}")
        for n, f, fn in funcs:
            if n > a.max_lines:
                bad.append(f"{f}: {fn} is {n} lines (limit {a.max_lines})")
    lens = sorted(n for n, _f, _fn in allfuncs)
    summary = {"functions": len(lens), "median_lines": lens[len(lens) // 2] if lens else 0,
               "longest": lens[-1] if lens else 0}
    if a.json:
        print(json.dumps({"modules": report, "summary": summary}, indent=2))
    else:
        for mod, r in report.items():
            print(f"{mod}: {r['c_files']} .c, {r['h_files']} .h, circles: "
                  f"{'; '.join(' <-> '.join(c) for c in r['circles']) or 'none'}")
            for f in r["longest"]:
                print(f"    {f['lines']:4d}  {f['file']}:{f['function']}")
        print(f"functions: {summary['functions']}, median {summary['median_lines']} lines, "
              f"longest {summary['longest']}")
    if a.check and bad:
        for b in bad:
            print("structure: " + b, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
