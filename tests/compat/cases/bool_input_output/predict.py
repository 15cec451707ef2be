from cog import BasePredictor


class Predictor(BasePredictor):
    def predict(self, flag: bool) -> bool:
        return not flag
