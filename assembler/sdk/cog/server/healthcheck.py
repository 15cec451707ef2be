"""A predictor's own healthcheck(), asked by GET /health-check once setup has
succeeded (as Cog 0.16.10+): a falsy return, an exception or no answer within
HEALTHCHECK_TIMEOUT seconds makes the status UNHEALTHY, with the reason in
`user_healthcheck_error` (Cog's wording).

The checks run one at a time on a thread of their own, never on the worker,
so a check answers while a prediction runs.  A check that hangs is left
running; later checks queue behind it and time out on their own clock, so a
request to /health-check never waits longer than the timeout."""

import asyncio
import inspect
import queue
import threading
from typing import Any, Callable, Optional, Tuple

HEALTHCHECK_TIMEOUT = 5.0


class UserHealthcheck:
    def __init__(self, fn: Callable[[], Any], timeout: float = HEALTHCHECK_TIMEOUT) -> None:
        self.fn = fn
        self.timeout = timeout
        self._q: "queue.SimpleQueue[Tuple[threading.Event, list]]" = queue.SimpleQueue()
        self._thread: Optional[threading.Thread] = None
        self._lock = threading.Lock()

    def check(self) -> Optional[str]:
        """None when healthy, else the error to report."""
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name="cog-healthcheck",
                                                daemon=True)
                self._thread.start()
        done = threading.Event()
        box: list = []
        self._q.put((done, box))
        if not done.wait(self.timeout):
            return ("Healthcheck failed: user-defined healthcheck timed out after %.1f seconds"
                    % self.timeout)
        return box[0]

    def _loop(self) -> None:
        while True:
            done, box = self._q.get()
            box.append(self._run_once())
            done.set()

    def _run_once(self) -> Optional[str]:
        try:
            result = self.fn()
            if inspect.isawaitable(result):
                result = asyncio.run(_awaited(result))
            if not result:
                return "Healthcheck failed: user-defined healthcheck returned False"
            return None
        except BaseException as e:  # noqa: BLE001 - any failure of user code is unhealthy
            return "Healthcheck failed: %s" % e


async def _awaited(aw: Any) -> Any:
    return await aw


def of(obj: Any) -> Optional[UserHealthcheck]:
    """The healthcheck of a loaded predictor instance, if it defines one."""
    if inspect.isfunction(obj) or inspect.isclass(obj):
        return None
    fn = getattr(obj, "healthcheck", None)
    return UserHealthcheck(fn) if callable(fn) else None
