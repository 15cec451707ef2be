from cog import BasePredictor, current_scope


class Predictor(BasePredictor):
    def predict(self, test: str = "") -> str:
        scope = current_scope()
        if test == "underscore_prefix":
            scope.record_metric("_invalid", 1)
        elif test == "consecutive_underscore":
            scope.record_metric("foo__bar", 1)
        elif test == "trailing_underscore":
            scope.record_metric("invalid_", 1)
        elif test == "leading_dot":
            scope.record_metric(".invalid", 1)
        elif test == "consecutive_dot":
            scope.record_metric("foo..bar", 1)
        elif test == "predict_time":
            scope.record_metric("predict_time", 1)
        elif test == "cog_prefix":
            scope.record_metric("cog.system", 1)
        elif test == "too_many_segments":
            scope.record_metric("a.b.c.d.e", 1)
        elif test == "name_too_long":
            scope.record_metric("a" * 129, 1)
        else:
            scope.record_metric("valid_name", 1)
        return "ok"
