from cog import BasePredictor, Input


class Predictor(BasePredictor):
    def predict(self, words: list[str] = Input(description="Words to join")) -> str:
        return "hello " + "|".join(words)
