from cog import BasePredictor, Input, current_scope


class Predictor(BasePredictor):
    def predict(self, count_only: str = Input(default="no")) -> str:
        ctx = current_scope().context
        if count_only == "yes":
            return "keys=%d" % len(ctx)
        return ";".join("%s=%s" % kv for kv in sorted(ctx.items()))
