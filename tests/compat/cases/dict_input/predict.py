from cog import BasePredictor


class Predictor(BasePredictor):
    def predict(self, data: dict) -> str:
        return " ".join("%s:%s" % kv for kv in sorted(data.items()))
