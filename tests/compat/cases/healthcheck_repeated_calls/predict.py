from cog import BasePredictor


class Predictor(BasePredictor):
    def __init__(self):
        self.calls = 0

    def predict(self, text: str) -> str:
        return "hello " + text

    def healthcheck(self) -> bool:
        self.calls += 1
        return True
