from typing import Iterator

from cog import BasePredictor, Path


class Predictor(BasePredictor):
    def predict(self, n: int = 3) -> Iterator[Path]:
        for i in range(n):
            yield Path("/tmp/out-%d.png" % i)
