import cog
from cog import BasePredictor, emit_metric


class Predictor(BasePredictor):
    def predict(self) -> str:
        emit_metric("output_tokens", 42)
        cog.emit_metric("input_tokens", 10)
        return "ok"
