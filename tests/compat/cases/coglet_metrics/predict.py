from cog import BasePredictor, current_scope


class Predictor(BasePredictor):
    def predict(self) -> str:
        scope = current_scope()
        scope.record_metric("temperature", 0.7)
        scope.record_metric("token_count", 1, mode="incr")
        scope.record_metric("token_count", 2, mode="incr")
        scope.record_metric("tags", "fast", mode="append")
        scope.record_metric("tags", "cached", mode="append")
        scope.record_metric("timing.preprocess", 0.1)
        scope.metrics["dict_metric"] = "hello"
        return "ok"
