import time
from typing import Iterator

from cog import BasePredictor, streaming


class Predictor(BasePredictor):
    @streaming
    def predict(self) -> Iterator[str]:
        for word in ("chunk-1", "chunk-2"):
            time.sleep(0.25)
            yield word
