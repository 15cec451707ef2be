from cog import BasePredictor


class Predictor(BasePredictor):
    async def predict(self, name: str) -> str:
        return "hello " + name
