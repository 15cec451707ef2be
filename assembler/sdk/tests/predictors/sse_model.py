"""SSE (Cog 0.22's `Accept: text/event-stream`): a @streaming predictor that
prints and records a metric, an async one under concurrency, and a trainer."""
import sys
from typing import AsyncIterator, Iterator

from cog import BasePredictor, Input, current_scope, streaming


class Predictor(BasePredictor):
    @streaming
    def predict(self, n: int = Input(default=2, ge=0)) -> Iterator[str]:
        print("to stdout")
        sys.stderr.write("to stderr\n")
        current_scope().record_metric("tokens", 1, mode="incr")
        for i in range(n):
            yield "tok-%d" % i

    def train(self, steps: int = 1) -> int:
        return steps


class AsyncStreamer(BasePredictor):
    @streaming()
    async def predict(self, n: int = 3) -> AsyncIterator[str]:
        for i in range(n):
            yield "a%d" % i
