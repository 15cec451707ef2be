from typing import Iterator

from cog import BasePredictor, current_scope, streaming


class Predictor(BasePredictor):
    @streaming
    def predict(self) -> Iterator[str]:
        scope = current_scope()
        scope.record_metric("temperature", 0.7)
        yield "chunk-1"
        scope.record_metric("token_count", 2, mode="incr")
