import asyncio

from cog import BasePredictor


class Predictor(BasePredictor):
    async def predict(self, text: str) -> str:
        return "hello " + text

    async def healthcheck(self) -> bool:
        await asyncio.sleep(0.01)
        return False
