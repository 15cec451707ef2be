"""Concurrent predictions for async predictors (cog.yaml `concurrency.max`
or COG_MAX_CONCURRENCY > 1, with `async def predict`): up to max predictions
run as tasks on one asyncio loop on the main thread; beyond that, 409.
Cancelation cancels the task; logs and metrics follow each task's context."""

import asyncio
import inspect
import os
import re
import shutil
import time
import traceback
from typing import Any, Dict, List, Optional

from .. import validate
from ..scope import Scope, set_scope
from .runner import CURRENT_JOB, CancelationException, Job, Runner, _materialise, error_text

SHUTDOWN_POLL = 0.1


def max_concurrency(cog_yaml: str = "cog.yaml") -> int:
    """COG_MAX_CONCURRENCY, else `concurrency: max:` in ./cog.yaml, else 1."""
    env = os.environ.get("COG_MAX_CONCURRENCY")
    if env:
        try:
            return max(1, int(env))
        except ValueError:
            return 1
    try:
        with open(cog_yaml, encoding="utf-8") as f:
            text = f.read(1 << 20)
    except OSError:
        return 1
    m = re.search(r"^concurrency:\s*\n((?:[ \t]+.*\n?)*)", text, re.M)
    if m:
        mm = re.search(r"^[ \t]+max:\s*(\d+)", m.group(1), re.M)
        if mm:
            return max(1, int(mm.group(1)))
    return 1


def is_async(fn: Any) -> bool:
    return inspect.iscoroutinefunction(fn) or inspect.isasyncgenfunction(fn)


class AsyncRunner(Runner):
    """A Runner that admits up to `limit` jobs at once."""

    def __init__(self, upload_url: Optional[str], limit: int) -> None:
        super().__init__(upload_url)
        self.limit = limit
        self.running: Dict[str, Job] = {}
        self.tasks: Dict[str, "asyncio.Task[Any]"] = {}
        self.loop: Optional[asyncio.AbstractEventLoop] = None

    def adopt(self, old: Runner) -> None:
        """Take over from the runner the server started with."""
        self.health, self.setup_result = old.health, old.setup_result
        self.predict_fn, self.train_fn = old.predict_fn, old.train_fn
        self.user_healthcheck = old.user_healthcheck
        self.output_types = old.output_types
        self.shutdown = old.shutdown
        self.install_capture()

    def busy(self) -> bool:
        with self.lock:
            return len(self.running) >= self.limit

    def submit(self, job: Job) -> Optional[Job]:
        with self.lock:
            if job.id in self.jobs and not self.jobs[job.id].done.is_set():
                return self.jobs[job.id]
            if self.loop is None or len(self.running) >= self.limit:
                return None
            self.running[job.id] = job
            self.jobs[job.id] = job
            self.order.append(job.id)
            while len(self.order) > 100:
                self.jobs.pop(self.order.pop(0), None)
        self.loop.call_soon_threadsafe(self._start, job)
        self._webhook(job, "start")
        return job

    def cancel(self, job_id: str) -> bool:
        with self.lock:
            job = self.jobs.get(job_id)
            if job is None or job.done.is_set():
                return False
            job.cancel_requested = True
        if self.loop is not None:
            self.loop.call_soon_threadsafe(self._cancel_task, job_id)
        return True

    def _cancel_task(self, job_id: str) -> None:
        task = self.tasks.get(job_id)
        if task is not None:
            task.cancel()

    def _release(self, job: Job) -> None:
        with self.lock:
            self.running.pop(job.id, None)
        self.tasks.pop(job.id, None)

    def _start(self, job: Job) -> None:
        assert self.loop is not None
        self.tasks[job.id] = self.loop.create_task(self._run_async(job))

    def serve(self) -> None:
        asyncio.run(self._main())

    async def _main(self) -> None:
        self.loop = asyncio.get_running_loop()
        while not self.shutdown.is_set():
            await asyncio.sleep(SHUTDOWN_POLL)
        for t in list(self.tasks.values()):
            t.cancel()
        if self.tasks:
            await asyncio.gather(*self.tasks.values(), return_exceptions=True)

    async def _run_async(self, job: Job) -> None:
        fn = self.predict_fn if job.kind == "predict" else self.train_fn
        CURRENT_JOB.set(job)
        scope = Scope(job.context)
        job.begin(scope)
        set_scope(scope)
        job.on_log = self._logs_webhook
        tmpdirs: List[str] = []
        start = time.monotonic()
        try:
            values = await asyncio.get_running_loop().run_in_executor(
                None, _materialise, job.values, job.inputs, tmpdirs)
            if job.cancel_requested:
                raise CancelationException("prediction canceled")
            out = await self._call(job, fn, values)
            job.output = validate.encode(out, self._uploader(job))
            status, err = "succeeded", None
        except (asyncio.CancelledError, CancelationException):
            status, err = "canceled", None
        except (Exception, SystemExit) as e:  # the predictor failed; the server stays up
            job.log(traceback.format_exc())
            status, err = "failed", error_text(e)
        finally:
            for d in tmpdirs:
                shutil.rmtree(d, ignore_errors=True)
        job.metrics = dict(scope.metrics)
        job.metrics.setdefault("predict_time", round(time.monotonic() - start, 6))
        self._finish(job, status, err)

    async def _call(self, job: Job, fn: Any, values: Dict[str, Any]) -> Any:
        result = fn(**values)
        if inspect.iscoroutine(result):
            result = await result
        otype = self.output_types.get(job.kind)
        item_type = otype["item"] if otype and otype["kind"] in ("iterator", "list") else None
        if inspect.isasyncgen(result) or hasattr(result, "__anext__"):
            job.output = []
            async for item in result:
                job.output.append(validate.encode(validate.coerce_output(item, item_type),
                                                  self._uploader(job)))
                self._webhook(job, "output")
            return job.output
        if inspect.isgenerator(result):
            job.output = []
            for item in result:
                job.output.append(validate.encode(validate.coerce_output(item, item_type),
                                                  self._uploader(job)))
                self._webhook(job, "output")
            return job.output
        return validate.coerce_output(result, otype)

