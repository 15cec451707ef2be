"""The worker: runs setup() once, then one prediction or training at a time,
on the main thread (so cancelation can interrupt it with a signal, as Cog's
worker does).  The HTTP threads hand jobs over through a queue."""

import asyncio
import contextlib
import contextvars
import datetime
import inspect
import io
import json
import os
import queue
import shutil
import signal
import sys
import threading
import time
import traceback
import urllib.request
import uuid
from typing import Any, Callable, Dict, List, Optional

from .. import validate
from ..scope import Scope, set_scope
from ..types import CancelationException, File, Path, Secret

# the runner whose jobs sys.stdout/sys.stderr feed, and the job of the
# current async task (concurrent predictions)
CAPTURE_TARGET: List[Any] = [None]
CURRENT_JOB: "contextvars.ContextVar[Optional[Job]]" = contextvars.ContextVar("cog_job",
                                                                             default=None)

LOG_LIMIT = 4 << 20
LOGS_WEBHOOK_INTERVAL = 0.5


def now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat()


class Job:
    """One prediction or training and its response fields."""

    def __init__(self, kind: str, req: Dict[str, Any], values: Dict[str, Any],
                 inputs: List[Dict[str, Any]]) -> None:
        self.kind = kind
        self.id = str(req.get("id") or uuid.uuid4().hex)
        self.values = values
        self.inputs = inputs
        self.input_echo = validate.redact_input(inputs, req.get("input") or {})
        self.webhook = req.get("webhook")
        filt = req.get("webhook_events_filter")
        self.events = set(filt) if isinstance(filt, list) else {"start", "output", "logs",
                                                                  "completed"}
        self.prefix = req.get("output_file_prefix")
        self.context: Dict[str, str] = req.get("context") or {}
        self.respond_async = False  # set by the server: async jobs upload to --upload-url
        self.status = "starting"
        self.output: Any = None
        self.logs: List[str] = []
        self.logs_len = 0
        self.error: Optional[str] = None
        self.created_at = req.get("created_at") or now()
        self.started_at: Optional[str] = None
        self.completed_at: Optional[str] = None
        self.metrics: Dict[str, Any] = {}
        self.done = threading.Event()
        self.cancel_requested = False
        self.on_log: Optional[Callable[["Job"], None]] = None
        self.last_logs_hook = 0.0
        self.secrets = [v.get_secret_value() for v in _walk_secrets(values)]
        self.sse = SSEHistory()

    def redact(self, text: str) -> str:
        for s in self.secrets:
            if s and isinstance(s, str):
                text = text.replace(s, Secret.REDACTED)
        return text

    def begin(self, scope: Scope) -> None:
        """The job starts processing: SSE `start`; the scope's metrics
        become SSE `metric` events."""
        self.status = "processing"
        self.started_at = now()
        self.sse.emit("start", {"id": self.id, "status": self.status})
        scope.on_metric = lambda name, value, mode: self.sse.emit(
            "metric", {"name": name, "value": value, "mode": METRIC_MODES.get(mode, mode)})

    def log(self, text: str, source: str = "stderr") -> None:
        text = self.redact(text)
        if self.logs_len + len(text) > LOG_LIMIT:
            return
        self.logs.append(text)
        self.logs_len += len(text)
        self.sse.emit("log", {"source": source, "data": text})
        if self.on_log is not None:
            self.on_log(self)

    def response(self) -> Dict[str, Any]:
        r = {"input": self.input_echo, "output": self.output, "id": self.id,
             "created_at": self.created_at, "started_at": self.started_at,
             "completed_at": self.completed_at, "logs": "".join(self.logs),
             "error": self.error, "status": self.status, "metrics": self.metrics}
        return r


METRIC_MODES = {"incr": "increment"}  # record_metric's mode as Cog's SSE names it


class SSEHistory:
    """A job's server-sent events (Cog 0.22's `Accept: text/event-stream`):
    start, output, log, metric, completed, in order.  A subscriber replays
    the last COG_STREAM_HISTORY_CAPACITY (default 1024; 0: no replay, live
    events only) and is told when older ones were dropped."""

    def __init__(self) -> None:
        self.events: List[Any] = []
        self.cond = threading.Condition()

    def emit(self, name: str, data: Any) -> None:
        with self.cond:
            self.events.append((name, data))
            self.cond.notify_all()

    def subscribe(self) -> "tuple[int, int]":
        """(index of the first event to send, events dropped before it)"""
        with self.cond:
            n = len(self.events)
        cap = stream_history_capacity()
        if cap == 0:
            return n, 0
        start = max(0, n - cap)
        return start, start

    def wait(self, i: int, timeout: float) -> Optional[Any]:
        """The event at index i once there is one, else None after timeout."""
        with self.cond:
            if i >= len(self.events):
                self.cond.wait(timeout)
            return self.events[i] if i < len(self.events) else None


def stream_history_capacity() -> int:
    try:
        n = int(os.environ.get("COG_STREAM_HISTORY_CAPACITY", "1024"))
    except ValueError:
        return 1024
    return n if n >= 0 else 1024


def error_text(e: BaseException) -> str:
    """A failed prediction's `error`: the exception's message (Cog 0.16);
    a SystemExit names itself, `SystemExit: 1`, as Cog 0.22 reports it."""
    if isinstance(e, SystemExit):
        return "SystemExit: %s" % e if str(e) else "SystemExit"
    return str(e) or type(e).__name__


def _walk_secrets(v: Any):
    if isinstance(v, Secret):
        yield v
    elif isinstance(v, dict):
        for x in v.values():
            yield from _walk_secrets(x)
    elif isinstance(v, list):
        for x in v:
            yield from _walk_secrets(x)


class _Capture(io.TextIOBase):
    """sys.stdout/sys.stderr while a job runs on the worker thread: text goes
    to the job's logs and on to the real stream."""

    def __init__(self, real: Any, source: str) -> None:
        self.real = real
        self.source = source

    def write(self, s: str) -> int:
        runner = CAPTURE_TARGET[0]
        job = CURRENT_JOB.get()
        if job is not None:
            s = job.redact(s)
            job.log(s, self.source)
        elif runner is not None and runner.log_sink is not None and \
                threading.get_ident() == runner.worker_ident:
            if runner.current is not None:
                s = runner.current.redact(s)
            runner.log_sink(s, self.source)
        try:
            self.real.write(s)
            self.real.flush()
        except Exception:
            pass
        return len(s)

    def flush(self) -> None:
        try:
            self.real.flush()
        except Exception:
            pass

    def isatty(self) -> bool:
        return False

    def fileno(self) -> int:
        return self.real.fileno()

    @property
    def buffer(self) -> Any:
        return self.real.buffer

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self.real, "encoding", "utf-8")

    @property
    def errors(self) -> Any:  # type: ignore[override]
        return getattr(self.real, "errors", "strict")


class Runner:
    """Owns the predictor instance and the job queue."""

    def __init__(self, upload_url: Optional[str] = None) -> None:
        self.upload_url = upload_url
        self.jobs: Dict[str, Job] = {}
        self.order: List[str] = []
        self.queue: "queue.Queue[Job]" = queue.Queue()
        self.lock = threading.Lock()
        self.current: Optional[Job] = None   # the job on the worker (signal target)
        self.active: Optional[Job] = None    # accepted and not finished: others get 409
        self.in_user_code = False
        self.log_sink: Optional[Callable[[str, str], None]] = None
        self.worker_ident = threading.get_ident()
        self.shutdown = threading.Event()
        self.health = "STARTING"
        self.setup_result: Dict[str, Any] = {}
        self.predict_fn: Optional[Callable[..., Any]] = None
        self.train_fn: Optional[Callable[..., Any]] = None
        self.user_healthcheck: Any = None  # a healthcheck.UserHealthcheck
        self.output_types: Dict[str, Any] = {}  # "predict"/"train" -> declared output type

    # ------------------------------------------------------------ setup
    def install_capture(self) -> None:
        if not isinstance(sys.stdout, _Capture):
            sys.stdout = _Capture(sys.__stdout__, "stdout")  # type: ignore[assignment]
            sys.stderr = _Capture(sys.__stderr__, "stderr")  # type: ignore[assignment]
        CAPTURE_TARGET[0] = self
        signal.signal(signal.SIGUSR1, self._on_cancel_signal)

    def run_setup(self, setup: Callable[[], Any]) -> None:
        logs: List[str] = []
        self.setup_result = {"started_at": now(), "completed_at": None, "logs": "",
                             "status": None}
        self.log_sink = lambda text, source: logs.append(text)
        ok = True
        try:
            with _setup_timeout():
                _call(setup, {})
        except BaseException:  # a failed setup is reported, the server stays up
            logs.append(traceback.format_exc())
            ok = False
        finally:
            self.log_sink = None
        self.setup_result.update(completed_at=now(), logs="".join(logs),
                                 status="succeeded" if ok else "failed")
        self.health = "READY" if ok else "SETUP_FAILED"

    def setup_failed(self, logs: str) -> None:
        self.setup_result = {"started_at": now(), "completed_at": now(), "logs": logs,
                             "status": "failed"}
        self.health = "SETUP_FAILED"

    def streams(self, kind: str) -> bool:
        """Cog 0.22: SSE only for a predict marked @cog.streaming whose output
        is an iterator."""
        fn = self.predict_fn if kind == "predict" else None
        otype = self.output_types.get(kind)  # (a marked non-iterator fails to load)
        return bool(getattr(fn, "__cog_streaming__", False)) and bool(otype) and \
            otype.get("kind") == "iterator"

    # ------------------------------------------------------- submitting
    def busy(self) -> bool:
        with self.lock:
            return self.active is not None

    def submit(self, job: Job) -> Optional[Job]:
        """Queue a job; returns None when another job is running (409)."""
        with self.lock:
            if job.id in self.jobs and not self.jobs[job.id].done.is_set():
                return self.jobs[job.id]
            if self.active is not None:
                return None
            self.active = job
            self.jobs[job.id] = job
            self.order.append(job.id)
            while len(self.order) > 100:
                self.jobs.pop(self.order.pop(0), None)
            self.queue.put(job)
        self._webhook(job, "start")
        return job

    def find(self, job_id: str) -> Optional[Job]:
        with self.lock:
            return self.jobs.get(job_id)

    def cancel(self, job_id: str) -> bool:
        with self.lock:
            job = self.jobs.get(job_id)
            if job is None or job.done.is_set():
                return False
            job.cancel_requested = True
            running = self.current is job
        if running:
            signal.pthread_kill(self.worker_ident, signal.SIGUSR1)
        return True

    def _on_cancel_signal(self, signum: int, frame: Any) -> None:
        job = self.current
        if job is not None and job.cancel_requested and self.in_user_code:
            raise CancelationException("prediction canceled")

    # ----------------------------------------------------------- worker
    def serve(self) -> None:
        """The worker loop (main thread) until shutdown."""
        while not self.shutdown.is_set():
            try:
                job = self.queue.get(timeout=0.1)
            except queue.Empty:
                continue
            with self.lock:
                self.current = job
            try:
                if job.cancel_requested:
                    self._finish(job, "canceled", None)
                else:
                    self._run(job)
            finally:
                with self.lock:
                    self.current = None

    def _run(self, job: Job) -> None:
        fn = self.predict_fn if job.kind == "predict" else self.train_fn
        scope = Scope(job.context)
        job.begin(scope)
        set_scope(scope)
        tmpdirs: List[str] = []
        start = time.monotonic()
        self.log_sink = job.log
        job.on_log = self._logs_webhook
        try:
            values = _materialise(job.values, job.inputs, tmpdirs)
            self.in_user_code = True
            try:
                if job.cancel_requested:  # canceled while inputs were fetched
                    raise CancelationException("prediction canceled")
                result = _call(fn, values)
                otype = self.output_types.get(job.kind)
                if _is_stream(result):
                    item_type = otype["item"] if otype and otype["kind"] in (
                        "iterator", "list") else None
                    job.output = []
                    for item in _iterate(result):
                        item = validate.coerce_output(item, item_type)
                        job.output.append(validate.encode(item, self._uploader(job)))
                        self._webhook(job, "output")
                    out = job.output
                else:
                    out = validate.coerce_output(result, otype)
            finally:
                self.in_user_code = False
            job.output = validate.encode(out, self._uploader(job))
            status, err = "succeeded", None
        except CancelationException:
            status, err = "canceled", None
        except BaseException as e:  # the predictor failed; the server stays up
            job.log(traceback.format_exc())
            status, err = "failed", error_text(e)
            # as Cog 0.22 (predict_sys_exit): sys.exit() in predict fails the
            # prediction only; a KeyboardInterrupt still stops the server
            if isinstance(e, KeyboardInterrupt):
                self.shutdown.set()
        finally:
            self.log_sink = None
            set_scope(None)
            for d in tmpdirs:
                shutil.rmtree(d, ignore_errors=True)
        job.metrics = dict(scope.metrics)
        job.metrics.setdefault("predict_time", round(time.monotonic() - start, 6))
        self._finish(job, status, err)

    def _finish(self, job: Job, status: str, err: Optional[str]) -> None:
        job.status = status
        job.error = err
        job.completed_at = now()
        self._release(job)  # free before anyone hears it is done: no spurious 409
        job.done.set()
        job.sse.emit("completed", job.response())
        self._webhook(job, "completed")

    def _release(self, job: Job) -> None:
        with self.lock:
            if self.active is job:
                self.active = None

    # ---------------------------------------------------------- outputs
    def _uploader(self, job: Job) -> Optional[Callable[[Any], str]]:
        """As Cog: async predictions upload files to --upload-url; sync ones
        (and async ones without it) to the request's output_file_prefix; with
        neither, files become data URLs."""
        base = (self.upload_url if job.respond_async else None) or job.prefix
        if not base:
            return None
        return lambda f: upload_file(base, f, job.id)

    def _logs_webhook(self, job: Job) -> None:
        """`logs` events, at most one per LOGS_WEBHOOK_INTERVAL (the
        completed event carries all the logs anyway)."""
        t = time.monotonic()
        if t - job.last_logs_hook >= LOGS_WEBHOOK_INTERVAL:
            job.last_logs_hook = t
            self._webhook(job, "logs")

    def _webhook(self, job: Job, event: str) -> None:
        if event == "output":  # each new item of an iterator's output
            job.sse.emit("output", {"chunk": job.output[-1], "index": len(job.output) - 1})
        if not job.webhook or event not in job.events:
            return
        _WEBHOOKS.send(job.webhook, json.dumps(job.response()).encode())


class _WebhookSender:
    """One thread that POSTs webhooks in order (start, output..., completed)."""

    def __init__(self) -> None:
        self.q: "queue.Queue[Any]" = queue.Queue()
        self.thread: Optional[threading.Thread] = None
        self.lock = threading.Lock()

    def send(self, url: str, body: bytes) -> None:
        with self.lock:
            if self.thread is None:
                self.thread = threading.Thread(target=self._loop, daemon=True)
                self.thread.start()
        self.q.put((url, body))

    def _loop(self) -> None:
        while True:
            url, body = self.q.get()
            _post_json(url, body)


_WEBHOOKS = _WebhookSender()


def _post_json(url: str, body: bytes) -> None:
    for attempt in range(3):
        try:
            req = urllib.request.Request(url, data=body, method="POST",
                                         headers={"Content-Type": "application/json"})
            urllib.request.urlopen(req, timeout=10).close()
            return
        except Exception:
            time.sleep(0.5 * (attempt + 1))


def upload_file(base: str, f: Any, prediction_id: str) -> str:
    """PUT a file to base + its name, as Cog does; the Location header, if
    any, is the final URL."""
    import mimetypes
    if isinstance(f, io.IOBase):
        f.seek(0)
        data = f.read()
        name = os.path.basename(str(getattr(f, "name", "file"))) or "file"
    else:
        with open(f, "rb") as fh:
            data = fh.read()
        name = os.path.basename(str(f)) or "file"
    if isinstance(data, str):
        data = data.encode()
    url = (base if base.endswith("/") else base + "/") + urllib.request.quote(name)
    headers = {"Content-Type": mimetypes.guess_type(name)[0] or "application/octet-stream",
               "X-Prediction-ID": prediction_id}
    req = urllib.request.Request(url, data=data, method="PUT", headers=headers)
    with urllib.request.urlopen(req, timeout=120) as r:
        final = r.headers.get("Location") or r.geturl()
    return final.split("?", 1)[0]


def _materialise(values: Dict[str, Any], inputs: List[Dict[str, Any]],
                 tmpdirs: List[str]) -> Dict[str, Any]:
    """Fetch Path/File inputs (URLs, data URLs, paths) into local files."""
    out = dict(values)
    for inp in inputs:
        t = inp["type"]
        if t["kind"] == "optional":
            t = t["item"]
        is_list = t["kind"] == "list"
        kind = t["item"]["kind"] if is_list else t["kind"]
        if kind not in ("path", "file") or out.get(inp["name"]) is None:
            continue
        conv = Path.validate if kind == "path" else File.validate
        v = out[inp["name"]]
        out[inp["name"]] = [conv(x) for x in v] if is_list else conv(v)
    for v in out.values():
        for p in v if isinstance(v, list) else [v]:
            name = str(p) if isinstance(p, Path) else str(getattr(p, "name", "")) \
                if isinstance(p, io.IOBase) else ""
            d = os.path.dirname(name)
            if d and os.path.basename(d).startswith("cog-input-"):
                tmpdirs.append(d)
    return out


class SetupTimeout(Exception):
    pass


@contextlib.contextmanager
def _setup_timeout():
    """COG_SETUP_TIMEOUT=N (seconds, Cog 0.22): a setup() still running then
    fails (SETUP_FAILED).  Unset, 0 or not a number: no limit.  setup() runs
    on the main thread, so SIGALRM interrupts it."""
    try:
        secs = int(os.environ.get("COG_SETUP_TIMEOUT") or 0)
    except ValueError:
        secs = 0
    if secs <= 0:
        yield
        return

    def expire(signum: int, frame: Any) -> None:
        raise SetupTimeout("setup timed out after %d seconds (COG_SETUP_TIMEOUT)" % secs)
    old = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, secs)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def _call(fn: Callable[..., Any], values: Dict[str, Any]) -> Any:
    result = fn(**values)
    if inspect.iscoroutine(result):
        result = asyncio.run(result)
    return result


def _is_stream(v: Any) -> bool:
    if isinstance(v, (str, bytes, dict, list, tuple, io.IOBase)):
        return False
    return inspect.isgenerator(v) or inspect.isasyncgen(v) or hasattr(v, "__next__") or \
        hasattr(v, "__anext__")


def _iterate(v: Any):
    if inspect.isasyncgen(v) or hasattr(v, "__anext__"):
        loop = asyncio.new_event_loop()
        try:
            while True:
                try:
                    yield loop.run_until_complete(v.__anext__())
                except StopAsyncIteration:
                    break
        finally:
            loop.close()
    else:
        yield from v
