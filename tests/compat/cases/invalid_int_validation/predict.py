from cog import BasePredictor, Input


class Predictor(BasePredictor):
    def predict(self, k: int = Input(default=1, ge=2, le=10)) -> int:
        return k
