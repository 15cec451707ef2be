from cog import BasePredictor, Input


class Predictor(BasePredictor):
    def predict(self, num: int = Input(description="a number")) -> int:
        return num * 2
