import asyncio
import warnings
from typing import Iterator

from cog import (BasePredictor, CancelationException, ExperimentalFeatureWarning, concurrent,
                 streaming)

warnings.filterwarnings("ignore", category=ExperimentalFeatureWarning)


class Predictor(BasePredictor):
    """Cog's experimental_feature_warning fixture."""

    def predict(self, s: str) -> str:
        return "hello " + s


class Streamed(BasePredictor):
    """The handler of Cog 0.22's sse_streaming_output, served without SSE."""

    @streaming
    def predict(self) -> Iterator[str]:
        yield "chunk-1"
        yield "chunk-2"


class Concurrent(BasePredictor):
    @concurrent(max=2)
    async def predict(self, seconds: float = 0.6) -> str:
        try:
            await asyncio.sleep(seconds)
        except CancelationException:
            raise
        return "done"
