import time
from typing import Iterator

from cog import BasePredictor, Input, streaming


class Predictor(BasePredictor):
    @streaming
    def predict(self, count: int = Input(default=3),
                sleep_after: float = Input(default=1.0)) -> Iterator[str]:
        for i in range(count):
            yield "chunk-%d" % i
        time.sleep(sleep_after)
