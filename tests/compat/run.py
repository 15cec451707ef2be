#!/usr/bin/env python3
"""tests/compat/run.py - Cog's integration fixtures (replicate/cog
integration-tests/tests/*.txtar) that need only the standard library and no
GPU, restated as pinion cases and run against the SDK's HTTP server under the
host python (no image build; tests/e2e/t_compat.sh covers what needs one).

A case is a directory of cases/: the model files (cog.yaml, predict.py, ...)
and case.json:
  {"fixture": "<Cog's txtar name>", "cog": ["0.16.12", "main"],
   "min_python": "3.10",              (optional: skipped on an older python)
   "wait": ["READY"],                 (health states the server must reach)
   "env": {"NAME": "value"},          (the server's environment: cog.yaml's)
   "args": ["--await-explicit-shutdown", "true"],  (the server's options)
   "note": "...",                     (where pinion differs: what the case leaves out)
   "steps": [
     {"request": "POST /predictions", "body": {...}, "headers": {...},
      "code": 200, "response": {...}, "contains": ["..."], "absent": ["..."]},
     {"request": ..., "text": true, ...},   (a body that is not JSON: SSE)
     {"sleep": 0.5},
     {"schema_fails": "text in the schema command's stderr"},
     {"label": ["..."]},  (substrings of the run.cog.openapi_schema label,
                           `python -m cog.command.openapi_schema --label`)
     {"request": ..., "background": true},  (sent; its answer is not awaited)
     {"webhook_wait": 30, "response": {...}, "contains": [...]}]}
"$WEBHOOK_URL" in a body is the case's webhook receiver; webhook_wait waits for
its first terminal webhook and matches Cog's harness summary of it:
{"status", "output_size", "has_error", "error_message"?, "metrics"?}.
"response" is matched as a subset (objects: the keys given; anything else:
equal); "contains"/"absent" are looked for in the compact JSON text of the
response (or in the text itself with "text").  Prints TAP, one test per case.
"""
import http.server
import json
import os
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "assembler", "sdk", "tests"))
import helpers  # noqa: E402


def subset(want, got, path="$"):
    if isinstance(want, dict):
        if not isinstance(got, dict):
            return "%s: want an object, got %r" % (path, got)
        for k, v in want.items():
            if k not in got:
                return "%s.%s: missing" % (path, k)
            e = subset(v, got[k], "%s.%s" % (path, k))
            if e:
                return e
        return None
    return None if want == got else "%s: want %r, got %r" % (path, want, got)


def schema_fails(case_dir, text):
    r = subprocess.run([helpers.PYTHON, "-m", "cog.command.openapi_schema"], cwd=case_dir,
                       env=helpers.env_for(), capture_output=True, text=True, timeout=60)
    if r.returncode == 0:
        return "the schema command succeeded"
    if text not in r.stderr:
        return "stderr lacks %r: %s" % (text, r.stderr[-500:])
    return None


def label_has(case_dir, texts):
    r = subprocess.run([helpers.PYTHON, "-m", "cog.command.openapi_schema", "--label"],
                       cwd=case_dir, env=helpers.env_for(), capture_output=True, text=True,
                       timeout=60)
    if r.returncode != 0:
        return "the schema command failed: %s" % r.stderr[-500:]
    for t in texts:
        if t not in r.stdout:
            return "label lacks %r: %s" % (t, r.stdout[:800])
    return None


class Webhooks:
    """A receiver on loopback: the first webhook with a terminal status,
    summarised as Cog's harness does (webhook-server-wait)."""

    def __init__(self):
        self.first = None
        self.got = threading.Event()
        outer = self

        class H(http.server.BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                self.send_response(200)
                self.end_headers()
                if body.get("status") in ("succeeded", "failed", "canceled") and not outer.got.is_set():
                    outer.first = summary(body)
                    outer.got.set()

            def log_message(self, *a):
                pass
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.url = "http://127.0.0.1:%d/webhook" % self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def summary(body):
    out = body.get("output")
    size = len(out) if isinstance(out, str) else len(json.dumps(out, separators=(",", ":")))
    r = {"status": body["status"], "output_size": size, "has_error": bool(body.get("error"))}
    if body.get("error"):
        r["error_message"] = body["error"]
    if body.get("metrics") is not None:
        r["metrics"] = body["metrics"]
    return r


def with_url(v, url):
    if isinstance(v, str):
        return v.replace("$WEBHOOK_URL", url or "")
    if isinstance(v, dict):
        return {k: with_url(x, url) for k, x in v.items()}
    if isinstance(v, list):
        return [with_url(x, url) for x in v]
    return v


def check_text(step, what, text):
    for s in step.get("contains", []):
        if s not in text:
            return "%s: %r not in %s" % (what, s, text[:500])
    for s in step.get("absent", []):
        if s in text:
            return "%s: %r in %s" % (what, s, text[:500])
    return None


def webhook_wait(hooks, step):
    if hooks is None or not hooks.got.wait(step["webhook_wait"]):
        return "no terminal webhook within %ss" % step["webhook_wait"]
    e = subset(step["response"], hooks.first) if "response" in step else None
    return e or check_text(step, "webhook", json.dumps(hooks.first, separators=(",", ":")))


def request(server, step):
    method, path = step["request"].split(" ", 1)
    if step.get("text"):
        code, text = server.request_text(method, path, step.get("body"), step.get("headers"))
        body = None
    else:
        code, body = server.request(method, path, step.get("body"), step.get("headers"))
        text = json.dumps(body, separators=(",", ":"))
    want = step.get("code", 200)  # null: any status
    if want is not None and code != want:
        return "%s: status %d, want %d: %s" % (step["request"], code, want,
                                                text[:500])
    e = subset(step["response"], body) if "response" in step else None
    if e:
        return "%s: %s" % (step["request"], e)
    return check_text(step, step["request"], text)


def background(server, step):
    try:
        request(server, step)
    except Exception:  # its answer is not awaited; a later step checks the effect
        pass


def run_case(case_dir, spec):
    steps = spec["steps"]
    server = None
    hooks = Webhooks() if "$WEBHOOK_URL" in json.dumps(steps) else None
    try:
        for i, step in enumerate(steps):
            step = with_url(step, hooks.url if hooks else None)
            if "sleep" in step:
                time.sleep(step["sleep"])
                continue
            if "schema_fails" in step:
                e = schema_fails(case_dir, step["schema_fails"])
            elif "label" in step:
                e = label_has(case_dir, step["label"])
            elif "webhook_wait" in step:
                e = webhook_wait(hooks, step)
            else:
                if server is None:
                    cwd = os.getcwd()
                    os.chdir(case_dir)  # the server reads ./cog.yaml
                    try:
                        server = helpers.Server(None, args=spec.get("args", ()),
                                                **spec.get("env", {}))
                    finally:
                        os.chdir(cwd)
                    server.wait(tuple(spec.get("wait", ["READY"])), timeout=60)
                if step.get("background"):
                    threading.Thread(target=background, args=(server, step), daemon=True).start()
                    continue
                e = request(server, step)
            if e:
                return "step %d: %s" % (i + 1, e)
        return None
    except AssertionError as e:
        return str(e)
    finally:
        if server is not None:
            server.stop()
        if hooks is not None:
            hooks.stop()


def main():
    cases = sorted(d for d in os.listdir(os.path.join(HERE, "cases"))
                   if os.path.isfile(os.path.join(HERE, "cases", d, "case.json")))
    print("1..%d" % len(cases))
    failed = 0
    pyver = sys.version_info[:2]
    for n, name in enumerate(cases, 1):
        d = os.path.join(HERE, "cases", name)
        with open(os.path.join(d, "case.json")) as f:
            spec = json.load(f)
        label = "%s (Cog %s: %s)" % (name, "/".join(spec["cog"]), spec["fixture"])
        need = tuple(int(x) for x in spec.get("min_python", "3.0").split("."))
        if pyver < need:
            print("ok %d - %s # SKIP needs python %s" % (n, label, spec["min_python"]))
            continue
        e = run_case(d, spec)
        if e:
            failed += 1
            print("not ok %d - %s" % (n, label))
            for line in e.splitlines()[-20:]:
                print("#   " + line)
        else:
            print("ok %d - %s" % (n, label))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
