from cog import BasePredictor, Input


class Predictor(BasePredictor):
    def setup(self):
        self.word = "hello"

    def predict(self, text: str | None = Input(description="What follows the word", default=None)) -> str:
        return self.word + " " + text
