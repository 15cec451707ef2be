from cog import BasePredictor


class Predictor(BasePredictor):
    def predict(self, text: str) -> list[str]:
        return text.split()
