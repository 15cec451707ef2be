from cog import BasePredictor, current_scope


class Predictor(BasePredictor):
    def predict(self) -> str:
        current_scope().record_metric("model_version", "v2.1")
        current_scope().record_metric("confidence", 0.95)
        return "ok"
