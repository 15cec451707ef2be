from cog import BasePredictor


class Predictor(BasePredictor):
    def predict(self, url: str) -> str:
        return "type=%s value=%s" % (type(url).__name__, url)
