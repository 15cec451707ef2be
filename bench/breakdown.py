#!/usr/bin/env python3
"""bench/breakdown.py - where a `pinion build` spends its time, from its
--progress json events stamped as they arrive.

  breakdown.py run STAMPED -- CMD...   run CMD (a pinion build with --progress
                                       json), its stderr lines stamped with the
                                       time they arrived into STAMPED
  breakdown.py parts STAMPED           one "NAME<TAB>SECONDS" line per part:
      pull              the base pull (its own event says how long)
      unpack            from each snapshot unpack to the next event (an
                        unpack inside a step, as the post-build's, is that
                        step's)
      RUN NAME          each RUN step from its start (sandbox up) to its layer
                        committed: the command's own time and its layer
      layer writing     the COPY layers (tini, weights, source) built
      post-build        schema and pip freeze in the sandbox, labels
      output            from the post-build to the image written
      pinion overhead   the whole build less the RUN steps' time
      total             the whole build: from the command's start to its
                        done event, as stamped (the process start included)
  breakdown.py phases STAMPED STEP     one RUN step cut at its output lines:
      start             step start to its first output line (sandbox, the
                        command's start-up, e.g. pip's imports and index page)
      fetch             to pip's "Installing collected packages" (downloads,
                        or reads of pip's cache); 0 for other commands
      install           to its last output line (pip: unzip, .pyc compile)
      layer             last output line to the step's done event (the
                        command's exit, the upper dir captured, compressed
                        and committed as a layer)
"""
import json
import re
import subprocess
import sys
import time


def run(out, cmd):
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    with open(out, "w") as fh:
        for line in p.stderr:
            fh.write(f"{time.monotonic() - t0:.3f}\t{line}")
    return p.wait()


def events(path):
    for line in open(path):
        t, _, js = line.partition("\t")
        try:
            yield float(t), json.loads(js)
        except ValueError:
            continue


def inside_step(t, nxt):
    """an unpack at t followed by nxt, the done event of a step that had
    begun by then (the post-build's snapshot of the last layer): its time
    is that step's"""
    tn, e = nxt
    return e.get("event") == "step" and tn - e.get("seconds", 0.0) <= t + 0.01


def parts(path):
    ev = list(events(path))
    out, run_total, started, unpack_t, post_end = {}, 0.0, None, 0.0, None
    for i, (t, e) in enumerate(ev):
        kind, msg = e.get("event"), e.get("message", "")
        m = re.search(r"\(([0-9.]+)s\)$", msg)
        if kind == "pull" and m:
            out["pull"] = float(m.group(1))
        elif kind == "unpack" and i + 1 < len(ev) and not inside_step(t, ev[i + 1]):
            unpack_t += ev[i + 1][0] - t
        elif kind == "step-start":
            started = t
        elif kind == "step" and e.get("step") == "post-build":
            out["post-build"] = e.get("seconds", 0.0)
            post_end, started = t, None
        elif kind == "step" and not e.get("cached"):
            if started is not None:
                out[f"RUN {e.get('step', '?')}"] = t - started
                run_total += t - started
                started = None
            else:
                out["layer writing"] = out.get("layer writing", 0.0) + e.get("seconds", 0.0)
        elif kind == "output" and "written" in msg and post_end is not None:
            out["output"] = t - post_end
        elif kind == "done" and "built in" in msg:
            out["total"] = t
    out["unpack"] = unpack_t
    if "total" in out:
        out["pinion overhead"] = out["total"] - run_total
    return out


def phases(path, step):
    t0 = first = inst = last = done = None
    for t, e in events(path):
        kind = e.get("event")
        if kind == "step-start" and re.search(rf"\] {re.escape(step)}: ", e.get("message", "")):
            t0 = t
        elif t0 is None or done is not None:
            continue
        elif kind == "output" and e.get("step") == step:
            first = t if first is None else first
            if e.get("message", "").startswith("Installing collected packages"):
                inst = t
            last = t
        elif kind == "step" and e.get("step") == step:
            done = t
    if None in (t0, first, done):
        return {}
    inst = inst if inst is not None else first
    return {"start": first - t0, "fetch": inst - first, "install": last - inst, "layer": done - last}


def buildah(path):
    """(step text, start, run, commit) of each RUN step of a stamped buildah build"""
    out, cur = [], None
    for line in open(path):
        t, _, text = line.partition("\t")
        t, text = float(t), text.rstrip("\n")
        m = re.match(r"STEP (\d+)/\d+: (.*)", text)
        if m:
            cur = [m.group(2), t, None, None] if m.group(2).startswith("RUN ") else None
        elif cur and text.startswith("--> "):
            first, last = cur[2] or t, cur[3] or t
            out.append((cur[0], first - cur[1], last - first, t - last))
            cur = None
        elif cur:
            cur[2] = cur[2] or t
            cur[3] = t
    return out


def main(argv):
    if len(argv) >= 4 and argv[1] == "run" and argv[3] == "--":
        return run(argv[2], argv[4:])
    if len(argv) == 3 and argv[1] == "parts":
        for k, v in parts(argv[2]).items():
            print(f"{k}\t{v:.2f}")
        return 0
    if len(argv) == 4 and argv[1] == "phases":
        for k, v in phases(argv[2], argv[3]).items():
            print(f"{k}\t{v:.2f}")
        return 0
    if len(argv) == 3 and argv[1] == "buildah":
        for text, a, b, c in buildah(argv[2]):
            print(f"{text[:60]}\tstart {a:.2f}\trun {b:.2f}\tcommit {c:.2f}")
        return 0
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
