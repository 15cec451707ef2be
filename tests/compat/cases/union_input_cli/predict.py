from cog import BasePredictor


class Predictor(BasePredictor):
    def predict(self, value: str | float, flipped: float | str) -> str:
        return "value=%s:%s flipped=%s:%s" % (type(value).__name__, value,
                                              type(flipped).__name__, flipped)
