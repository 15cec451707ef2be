from cog import BasePredictor, Input


class Predictor(BasePredictor):
    def predict(self, v: str | float | None = Input(default=None)) -> str:
        return "none" if v is None else "%s=%s" % (type(v).__name__, v)
