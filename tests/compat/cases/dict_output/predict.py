from cog import BasePredictor


class Predictor(BasePredictor):
    def predict(self, name: str) -> dict:
        return {"greeting": "hello " + name, "length": len(name)}
