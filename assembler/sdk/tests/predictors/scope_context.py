from cog import BasePredictor, Input, current_scope


class Predictor(BasePredictor):
    def predict(self, expect_empty: str = Input(default="false")) -> str:
        ctx = current_scope().context
        if expect_empty == "true":
            return f"context_is_empty={len(ctx) == 0}"
        return ", ".join(f"{k}:{v}" for k, v in sorted(ctx.items()))


class AsyncPredictor(BasePredictor):
    async def predict(self, key: str = "region") -> str:
        return current_scope().context.get(key, "-")
