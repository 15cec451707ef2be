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

usage: structure.py [--build DIR] [--check] [--max-lines N] [--top N] [--json | --tap]
`make test` runs it with --tap (tests/run.sh).
"""
import argparse
import json
import os
import re
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


def include_graph():
    """file -> the project files it includes with #include "..." (paths from the top)"""
    graph = {}
    for mod in MODULES:
        for path in c_files(mod) + h_files(mod):
            deps = set()
            with open(path, encoding="utf-8", errors="replace") as f:
                for ln in f:
                    m = re.match(r'\s*#\s*include\s+"([^"]+)"', ln)
                    if m:
                        for cand in (m.group(1), os.path.join(os.path.dirname(path), m.group(1))):
                            if os.path.exists(cand):
                                deps.add(os.path.normpath(cand))
                                break
            graph[path] = deps
    return graph


def functions(srcs):
    """(lines, file, name) of every function: the project's style puts a
    function's opening and closing braces alone at column 0, with the
    signature on the lines just above the opening brace"""
    out = []
    for path in srcs:
        with open(path, encoding="utf-8", errors="replace") as f:
            lines = f.read().split("\n")
        i = 0
        while i < len(lines):
            if lines[i] != "{":
                i += 1
                continue
            start = i - 1
            while start > 0 and lines[start - 1].strip() and not lines[start - 1].rstrip().endswith((";", "}", "*/")) \
                    and not lines[start - 1].startswith(("#", "/*", " *")):
                start -= 1
            sig = " ".join(lines[start:i])
            m = re.search(r"([A-Za-z_][A-Za-z0-9_]*)\s*\(", sig)
            end = i + 1
            while end < len(lines) and lines[end] != "}":
                end += 1
            if m:
                out.append((end - start + 1, path, m.group(1)))
            i = end + 1
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--check", action="store_true")
    ap.add_argument("--max-lines", type=int, default=80)
    ap.add_argument("--top", type=int, default=5)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--tap", action="store_true", help="TAP: one case a module (circles) and one for lengths")
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
    inc = circles(include_graph())
    for c in inc:
        bad.append(f"includes: files include each other in a circle: {' <-> '.join(c)}")
    lens = sorted(n for n, _f, _fn in allfuncs)
    summary = {"include_circles": inc, "functions": len(lens), "median_lines": lens[len(lens) // 2] if lens else 0,
               "longest": lens[-1] if lens else 0}
    if a.tap:
        cases = [(f"{mod}: no call circle between its files", [b for b in bad if b.startswith(mod + ": files call")])
                 for mod in MODULES]
        cases.append(("no include circle", [b for b in bad if b.startswith("includes:")]))
        cases.append((f"no function over {a.max_lines} lines", [b for b in bad if " lines (limit " in b]))
        print(f"1..{len(cases)}")
        for n, (name, fails) in enumerate(cases, 1):
            print(f"{'not ok' if fails else 'ok'} {n} - {name}")
            for f in fails:
                print(f"# {f}")
        return 1 if bad else 0
    if a.json:
        print(json.dumps({"modules": report, "summary": summary}, indent=2))
    else:
        for mod, r in report.items():
            print(f"{mod}: {r['c_files']} .c, {r['h_files']} .h, circles: "
                  f"{'; '.join(' <-> '.join(c) for c in r['circles']) or 'none'}")
            for f in r["longest"]:
                print(f"    {f['lines']:4d}  {f['file']}:{f['function']}")
        print(f"include circles: {'; '.join(' <-> '.join(c) for c in inc) or 'none'}")
        print(f"functions: {summary['functions']}, median {summary['median_lines']} lines, "
              f"longest {summary['longest']}")
    if a.check and bad:
        for b in bad:
            print("structure: " + b, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
