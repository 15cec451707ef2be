"""python -m cog.server.http [--host H] [--port P] [--upload-url URL]
[--await-explicit-shutdown true] [--x-mode predict|train]

Serves the predictor named by COG_PREDICT_TYPE_STUB (or `predict` in
./cog.yaml) over Cog's HTTP API on $PORT (default 5000), host 0.0.0.0."""

import argparse
import json
import os
import re
import signal
import sys
import threading
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Dict, Optional, Tuple

from .. import config, schema, validate
from .._version import __version__
from ..predictor import instantiate, load_object, method_of
from . import healthcheck
from .runner import Job, Runner
from .sse import sse_stream

MAX_BODY = 512 << 20


class App:
    """The loaded predictor/trainer, its schema and the runner."""

    def __init__(self, runner: Runner) -> None:
        self.runner = runner
        self.predict_inputs: Any = None
        self.train_inputs: Any = None
        self.schema: Dict[str, Any] = {}
        self.await_explicit_shutdown = False

    def load(self) -> Optional[Any]:
        """Import the predictor (and trainer); returns the setup callable, or
        None when loading failed (health SETUP_FAILED with the traceback)."""
        try:
            pref = config.predict_ref()
            if not pref:
                raise config.PredictorNotSet("no predictor: set COG_PREDICT_TYPE_STUB or "
                                             "`predict` in cog.yaml")
            pobj = instantiate(load_object(pref))
            predict = config.interface_of(pobj, "predict")
            self.runner.predict_fn = method_of(pobj, "predict")
            self.runner.user_healthcheck = healthcheck.of(pobj)
            self.runner.output_types["predict"] = predict["output"]
            self.predict_inputs = predict["inputs"]
            train = None
            setups = [pobj]
            tref = config.train_ref()
            if tref:
                tobj = pobj if tref == pref else instantiate(load_object(tref))
                train = config.interface_of(tobj, "train")
                self.runner.train_fn = method_of(tobj, "train")
                self.runner.output_types["train"] = train["output"]
                self.train_inputs = train["inputs"]
                if tobj is not pobj:
                    setups.append(tobj)
            self.schema = schema.openapi(predict, train)
        except BaseException:
            self.runner.setup_failed("Error while loading predictor:\n\n" +
                                     traceback.format_exc())
            return None

        def setup() -> None:
            for obj in setups:
                fn = getattr(obj, "setup", None)
                if callable(fn) and not _is_function_ref(obj):
                    _call_setup(fn)
        return setup


def _call_setup(fn: Any) -> None:
    """setup(), or setup(weights=...) when it takes weights, as Cog: from
    COG_WEIGHTS (a URL or path; fetched for a Path or File annotation, the
    string for str), else ./weights if it exists, else None."""
    import inspect
    import typing
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        params = {}
    if "weights" not in params:
        return _await(fn())
    from ..types import File, Path
    ann = params["weights"].annotation
    try:
        ann = typing.get_type_hints(fn).get("weights", ann)
    except Exception:
        pass
    args = [a for a in typing.get_args(ann) if a is not type(None)]
    if typing.get_origin(ann) is typing.Union and len(args) == 1:
        ann = args[0]
    url = os.environ.get("COG_WEIGHTS")
    if url:
        weights: Any = url if ann is str else (File.validate(url) if ann is File
                                                else Path.validate(url))
    elif os.path.exists("weights"):
        weights = open("weights", "rb") if ann is File else Path("weights")
    else:
        weights = None
    return _await(fn(weights=weights))


def _await(result: Any) -> Any:
    """Run an async setup() to completion."""
    import asyncio
    import inspect
    return asyncio.run(result) if inspect.iscoroutine(result) else result


def _is_function_ref(obj: Any) -> bool:
    import inspect
    return inspect.isfunction(obj)


class Handler(BaseHTTPRequestHandler):
    server_version = "cog-pinion/" + __version__
    protocol_version = "HTTP/1.1"
    app: App  # set on the subclass

    def log_message(self, fmt: str, *args: Any) -> None:
        if os.environ.get("COG_LOG_LEVEL", "").lower() == "debug":
            sys.__stderr__.write("%s - %s\n" % (self.address_string(), fmt % args))

    # ----------------------------------------------------------- replies
    def reply(self, code: int, obj: Any) -> None:
        # as FastAPI's JSONResponse (Cog 0.16): compact, UTF-8 unescaped
        body = json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def read_body(self) -> Optional[Dict[str, Any]]:
        """Read the whole body (so keep-alive stays in sync); an error reply
        body when it is too large or malformed."""
        self._body = b""
        te = (self.headers.get("Transfer-Encoding") or "").lower()
        if "chunked" in te:
            self.close_connection = True
            return {"detail": [{"loc": ["body"], "msg": "chunked request bodies are not "
                                "supported", "type": "value_error"}]}
        try:
            n = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            n = -1
        if n < 0 or n > MAX_BODY:
            self.close_connection = True
            return {"detail": [{"loc": ["body"], "msg": "request body too large or bad "
                                "Content-Length", "type": "value_error"}]}
        self._body = self.rfile.read(n) if n else b""
        return None

    def read_json(self) -> Tuple[Any, Optional[Dict[str, Any]]]:
        raw = self._body
        if not raw.strip():
            return None, None
        try:
            return json.loads(raw), None
        except ValueError as e:
            return None, {"detail": [{"loc": ["body", getattr(e, "pos", 0)], "msg": str(e),
                                      "type": "value_error.jsondecode"}]}

    # ----------------------------------------------------------- routing
    def do_GET(self) -> None:  # noqa: N802
        self.route("GET")

    def do_POST(self) -> None:  # noqa: N802
        self.route("POST")

    def do_PUT(self) -> None:  # noqa: N802
        self.route("PUT")

    def do_HEAD(self) -> None:  # noqa: N802
        self.route("GET")

    def route(self, method: str) -> None:
        path = self.path.split("?", 1)[0].rstrip("/") or "/"
        try:
            if method in ("POST", "PUT"):
                err = self.read_body()
                if err:
                    return self.reply(413, err)
            else:
                self._body = b""
            self._route(method, path)
        except (BrokenPipeError, ConnectionResetError):
            pass
        except Exception:
            traceback.print_exc(file=sys.__stderr__)
            self.reply(500, {"detail": "internal server error"})

    def _route(self, method: str, path: str) -> None:
        app, runner = self.app, self.app.runner
        routes = {"/": {"GET": self.root}, "/health-check": {"GET": self.health},
                  "/openapi.json": {"GET": lambda: self.reply(200, app.schema)},
                  "/shutdown": {"POST": self.shutdown}}
        nouns = {"predictions": "predict"}
        if runner.train_fn is not None:
            nouns["trainings"] = "train"
        m = re.match(r"^/(predictions|trainings)(?:/([^/]+))?(/cancel)?$", path)
        if path in routes:
            fn = routes[path].get(method)
        elif m and m.group(1) in nouns:
            kind, job_id, cancel = nouns[m.group(1)], m.group(2), m.group(3)
            if cancel and job_id:
                fn = (lambda: self.cancel(job_id)) if method == "POST" else None
            elif job_id:
                fn = (lambda: self.create(kind, job_id)) if method == "PUT" else None
            elif not cancel:
                fn = (lambda: self.create(kind, None)) if method == "POST" else None
            else:
                return self.reply(404, {"detail": "Not Found"})
        else:
            return self.reply(404, {"detail": "Not Found"})
        if fn is None:
            return self.reply(405, {"detail": "Method Not Allowed"})
        fn()

    # ---------------------------------------------------------- handlers
    def root(self) -> None:
        doc = {"cog_version": __version__, "docs_url": "/docs", "openapi_url": "/openapi.json",
               "shutdown_url": "/shutdown", "healthcheck_url": "/health-check",
               "predictions_url": "/predictions",
               "predictions_idempotent_url": "/predictions/{prediction_id}",
               "predictions_cancel_url": "/predictions/{prediction_id}/cancel"}
        if self.app.runner.train_fn is not None:
            doc.update(trainings_url="/trainings",
                       trainings_idempotent_url="/trainings/{training_id}",
                       trainings_cancel_url="/trainings/{training_id}/cancel")
        self.reply(200, doc)

    def health(self) -> None:
        r = self.app.runner
        status = r.health
        user_error = None
        if status == "READY":
            if r.busy():
                status = "BUSY"
            # as Cog: the predictor's own healthcheck(), once setup succeeded
            # (busy or not); its failure outranks BUSY
            if r.user_healthcheck is not None:
                user_error = r.user_healthcheck.check()
                if user_error is not None:
                    status = "UNHEALTHY"
        body: Dict[str, Any] = {"status": status, "setup": r.setup_result}
        if user_error is not None:
            body["user_healthcheck_error"] = user_error
        self.reply(200, body)

    def shutdown(self) -> None:
        self.reply(200, {})
        self.app.runner.shutdown.set()

    def cancel(self, job_id: str) -> None:
        if self.app.runner.cancel(job_id):
            self.reply(200, {})
        else:
            self.reply(404, {})

    def create(self, kind: str, job_id: Optional[str]) -> None:
        app, runner = self.app, self.app.runner
        req, err = self.read_json()
        if err:
            return self.reply(422, err)
        if req is None:
            req = {}
        if not isinstance(req, dict):
            return self.reply(422, {"detail": [{"loc": ["body"], "msg": "value is not a valid "
                                                "dict", "type": "type_error.dict"}]})
        sse = self._wants_sse()
        if sse and kind == "train":
            return self.reply(406, {"error": "Training endpoints do not support streaming "
                                    "responses."})
        if sse and not runner.streams(kind):
            return self.reply(406, {"error": "This model does not support streaming responses. "
                                    "Add @cog.streaming to predict() to enable SSE."})
        if job_id is not None:
            if req.get("id") not in (None, job_id):
                noun = "prediction" if kind == "predict" else "training"
                return self.reply(422, {"detail": [{"loc": ["body", "id"], "msg": "%s ID must "
                                                    "match the ID supplied in the URL" % noun,
                                                    "type": "value_error"}]})
            req["id"] = job_id
            existing = runner.find(job_id)
            if existing is not None:  # the same id again: its current state (or stream)
                if sse:
                    return sse_stream(self, existing)
                return self.reply(200 if existing.done.is_set() else 202, existing.response())
        if runner.health != "READY":
            return self.reply(503, {"detail": "setup has not completed successfully: %s" %
                                    runner.health})
        inputs = app.predict_inputs if kind == "predict" else app.train_inputs
        values, errors = validate.validate_inputs(inputs, req.get("input"))
        req["context"], ctx_errors = validate.validate_context(req.get("context"))
        errors += ctx_errors
        if errors:
            return self.reply(422, {"detail": errors})
        new = Job(kind, req, values, inputs)
        new.respond_async = self._async() or sse  # as Cog: a stream is an async prediction
        job = runner.submit(new)
        if job is None:
            return self.reply(409, {"detail": "Already running a prediction"})
        if sse:
            return sse_stream(self, job)
        self.respond(job, self._async())

    def _async(self) -> bool:
        return (self.headers.get("Prefer") or "").strip().lower() == "respond-async"

    def _wants_sse(self) -> bool:
        accept = self.headers.get("Accept") or ""
        return any(p.split(";")[0].strip() == "text/event-stream" for p in accept.split(","))

    def respond(self, job: Job, respond_async: bool) -> None:
        if respond_async:
            return self.reply(202, job.response())
        while not job.done.wait(0.5):
            if self.app.runner.shutdown.is_set() and not job.done.is_set():
                break
        self.reply(200, job.response())


class _Server(ThreadingHTTPServer):
    allow_reuse_address = True
    daemon_threads = True
    request_queue_size = 64


def _maybe_concurrent(app: App, runner: Runner, upload_url: Optional[str]) -> Runner:
    """With concurrency max > 1 and an async predict, swap in an AsyncRunner."""
    from .concurrency import AsyncRunner, is_async, max_concurrency
    limit = max_concurrency()
    if limit <= 1 and runner.predict_fn is not None:  # Cog 0.22's @concurrent(max=N)
        limit = getattr(runner.predict_fn, "__cog_concurrent_max__", 1)
    if limit <= 1 or runner.predict_fn is None:
        return runner
    if not is_async(runner.predict_fn):
        sys.__stderr__.write("cog: concurrency max %d needs `async def predict`; running one "
                             "prediction at a time\n" % limit)
        return runner
    new = AsyncRunner(upload_url, limit)
    new.adopt(runner)
    app.runner = new
    return new


def parse_args(argv: Any) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m cog.server.http",
                                description="Serve a Cog predictor over HTTP.")
    p.add_argument("--host", default=os.environ.get("COG_HOST", "0.0.0.0"))
    p.add_argument("--port", type=int, default=int(os.environ.get("PORT", "5000") or 5000))
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--upload-url", "--upload_url", dest="upload_url", default=None)
    p.add_argument("--await-explicit-shutdown", default="false",
                   help="true: ignore SIGTERM, keep running after a failed setup, and wait "
                        "for POST /shutdown (or SIGINT)")
    p.add_argument("-v", "--version", action="store_true", help="print the version and exit")
    p.add_argument("--x-mode", default="predict", choices=["predict", "train"])
    return p.parse_args(argv)


def main(argv: Any = None) -> int:
    args = parse_args(argv)
    if args.version:
        print("cog.server.http %s" % __version__)
        return 0
    runner = Runner(upload_url=args.upload_url)
    app = App(runner)
    app.await_explicit_shutdown = args.await_explicit_shutdown.lower() in ("1", "true", "yes")
    handler = type("BoundHandler", (Handler,), {"app": app})
    try:
        httpd = _Server((args.host, args.port), handler)
    except OSError as e:
        print("cog: cannot listen on %s:%d: %s" % (args.host, args.port, e), file=sys.stderr)
        return 1

    def on_signal(signum: int, frame: Any) -> None:
        runner.shutdown.set()

    # as Cog: with --await-explicit-shutdown only /shutdown or SIGINT stop it
    signal.signal(signal.SIGTERM, signal.SIG_IGN if app.await_explicit_shutdown else on_signal)
    signal.signal(signal.SIGINT, on_signal)
    runner.install_capture()
    server = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.2},
                              daemon=True)
    server.start()
    sys.__stderr__.write("cog: serving on http://%s:%d\n" % (args.host, args.port))
    setup = app.load()
    runner = _maybe_concurrent(app, runner, args.upload_url)
    if setup is not None:
        runner.run_setup(setup)
    status = 0
    if runner.health == "SETUP_FAILED":
        sys.__stderr__.write("cog: setup failed:\n%s\n" % runner.setup_result.get("logs", ""))
        if not app.await_explicit_shutdown:  # interactive run: exit, as Cog does
            runner.shutdown.set()
            status = 1
    try:
        runner.serve()
    finally:
        httpd.shutdown()
        httpd.server_close()
        sys.stdout, sys.stderr = sys.__stdout__, sys.__stderr__
    return status


if __name__ == "__main__":
    sys.exit(main())
