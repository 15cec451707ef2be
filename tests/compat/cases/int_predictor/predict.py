from cog import BasePredictor


class Predictor(BasePredictor):
    def predict(self, n: int) -> int:
        return 2 * n
