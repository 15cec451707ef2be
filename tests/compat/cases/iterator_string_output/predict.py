from typing import Iterator

from cog import BasePredictor


class Predictor(BasePredictor):
    def predict(self, count: int) -> Iterator[str]:
        for i in range(count):
            yield "item-%d" % i
