from cog import BasePredictor


class Predictor(BasePredictor):
    def predict(self, name: str) -> str:
        return "hello " + name
