from cog import BasePredictor


class Predictor(BasePredictor):
    def predict(self, numbers: list[int]) -> list[int]:
        return [2 * n for n in numbers]
