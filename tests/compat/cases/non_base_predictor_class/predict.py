from cog import Input


class Predictor:
    def predict(self, text: str = Input(default="world")) -> str:
        return "hello " + text
