from cog import BasePredictor


class Predictor(BasePredictor):
    def predict(self, text: str, count: int, scale: float, flag: bool) -> str:
        return text
