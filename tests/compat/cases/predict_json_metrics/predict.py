from cog import BasePredictor, current_scope


class Predictor(BasePredictor):
    def predict(self, prompt: str = "hello") -> str:
        current_scope().record_metric("token_count", 10)
        current_scope().record_metric("temperature", 0.7)
        return "world"
