from typing import Iterator

from cog import BasePredictor


class Predictor(BasePredictor):
    def predict(self) -> Iterator[str]:
        yield "chunk-1"
        yield "chunk-2"
        yield "chunk-3"
        raise RuntimeError("generator exploded")
