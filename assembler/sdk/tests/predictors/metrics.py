import cog
from cog import BasePredictor, current_scope, emit_metric


class Predictor(BasePredictor):
    """Cog 0.22's coglet_metrics and emit_metric_deprecated fixtures in one."""

    def predict(self) -> str:
        scope = current_scope()
        scope.record_metric("temperature", 0.7)
        scope.record_metric("token_count", 1, mode="incr")
        scope.record_metric("token_count", 2, mode="incr")
        scope.record_metric("tags", "fast", mode="append")
        scope.record_metric("tags", "cached", mode="append")
        scope.record_metric("timing.preprocess", 0.1)
        scope.metrics["dict_metric"] = "hello"
        scope.record_metric("gone", 1)
        scope.record_metric("gone", None)
        emit_metric("output_tokens", 42)
        cog.emit_metric("input_tokens", 10)
        return "ok"
