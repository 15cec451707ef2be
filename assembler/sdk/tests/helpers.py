"""Shared helpers for the SDK tests: paths, the schema command, a server."""

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
SDK = os.path.dirname(HERE)
PREDICTORS = os.path.join(HERE, "predictors")
EXPECTED = os.path.join(HERE, "expected")
PYTHON = os.environ.get("PYTHON") or sys.executable


def env_for(predict=None, train=None, **extra):
    env = {k: v for k, v in os.environ.items()
           if k not in ("COG_PREDICT_TYPE_STUB", "COG_TRAIN_TYPE_STUB", "COG_SCHEMA_IMPORT")}
    env["PYTHONPATH"] = SDK
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    if predict:
        env["COG_PREDICT_TYPE_STUB"] = os.path.join(PREDICTORS, predict)
    if train:
        env["COG_TRAIN_TYPE_STUB"] = os.path.join(PREDICTORS, train)
    env.update(extra)
    return env


def schema(predict, train=None, python=PYTHON, cwd=None, **extra):
    r = subprocess.run([python, "-m", "cog.command.openapi_schema"], env=env_for(
        predict, train, **extra), capture_output=True, text=True, timeout=60, cwd=cwd)
    if r.returncode != 0:
        raise AssertionError("schema command failed (%d): %s" % (r.returncode, r.stderr))
    return json.loads(r.stdout)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """`python -m cog.server.http` on a free loopback port."""

    def __init__(self, predict, train=None, args=(), **extra):
        self._spawn = (predict, train, tuple(args), extra)
        self._start()

    def _start(self):
        predict, train, args, extra = self._spawn
        self.port = free_port()
        self.base = "http://127.0.0.1:%d" % self.port
        self.proc = subprocess.Popen(
            [PYTHON, "-m", "cog.server.http", "--host", "127.0.0.1"] + list(args),
            env=env_for(predict, train, PORT=str(self.port), **extra),
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)

    def wait(self, status=("READY",), timeout=20, restarts=3):
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            # our server died: another process took the free port between
            # free_port() and its bind (tests run in parallel); never talk to
            # whatever listens there now, start again on another port
            if self.proc.poll() is not None:
                out = self.proc.stdout.read().decode(errors="replace")
                if restarts > 0 and "in use" in out:
                    restarts -= 1
                    self._start()
                    continue
                raise AssertionError("server exited with %s: %s" % (self.proc.returncode, out[-2000:]))
            try:
                code, body = self.get("/health-check")
                last = body
                # the answer counts only when our process is the one listening
                # (another test run may hold the port while ours starts)
                if body.get("status") in status and self.listening():
                    return body
            except (OSError, urllib.error.URLError):
                pass
            time.sleep(0.05)
        raise AssertionError("server not %s in time: %r" % (status, last))

    def listening(self):
        """whether self.proc (or a child of it) holds the listening socket of self.port"""
        inodes = set()
        try:
            with open("/proc/net/tcp") as f:
                for line in f.readlines()[1:]:
                    cols = line.split()
                    if cols[3] == "0A" and int(cols[1].split(":")[1], 16) == self.port:
                        inodes.add(cols[9])
        except OSError:
            return True  # no /proc: trust the answer, as before
        pids = [str(self.proc.pid)]
        try:
            with open("/proc/%d/task/%d/children" % (self.proc.pid, self.proc.pid)) as f:
                pids += f.read().split()
        except OSError:
            pass
        for pid in pids:
            try:
                for fd in os.listdir("/proc/%s/fd" % pid):
                    link = os.readlink("/proc/%s/fd/%s" % (pid, fd))
                    if link.startswith("socket:[") and link[8:-1] in inodes:
                        return True
            except OSError:
                continue
        return False

    def request(self, method, path, body=None, headers=None, raw=None):
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        req = urllib.request.Request(self.base + path, data=data, method=method,
                                     headers=dict({"Content-Type": "application/json"},
                                                  **(headers or {})))
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return r.status, json.loads(r.read() or b"null")
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"null")

    def request_text(self, method, path, body=None, headers=None, timeout=30):
        """(status, body text): for answers that are not JSON (SSE streams)"""
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base + path, data=data, method=method,
                                     headers=dict({"Content-Type": "application/json"},
                                                  **(headers or {})))
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                return r.status, r.read().decode("utf-8")
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode("utf-8")

    def get(self, path):
        return self.request("GET", path)

    def post(self, path, body=None, **kw):
        return self.request("POST", path, body, **kw)

    def stop(self):
        if self.proc.poll() is None:
            try:  # /shutdown works even where SIGTERM is ignored (--await-explicit-shutdown)
                self.post("/shutdown")
                self.proc.wait(5)
            except Exception:
                pass
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        out = self.proc.stdout.read().decode(errors="replace") if self.proc.stdout else ""
        if self.proc.stdout:
            self.proc.stdout.close()
        return out
