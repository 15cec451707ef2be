from cog import BasePredictor


class Predictor(BasePredictor):
    def predict(self) -> str:
        raise RuntimeError("prediction went wrong")
