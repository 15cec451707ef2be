import asyncio

from cog import BasePredictor


class Predictor(BasePredictor):
    def setup(self):
        pass

    async def predict(self, duration: float = 60.0) -> str:
        await asyncio.sleep(duration)
        return "completed"
