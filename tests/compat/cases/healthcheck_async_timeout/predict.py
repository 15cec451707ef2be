import asyncio

from cog import BasePredictor


class Predictor(BasePredictor):
    def setup(self) -> None:
        self.slow = False

    async def predict(self, text: str) -> str:
        if text == "trigger_slow":
            self.slow = True
        return "hello " + text

    async def healthcheck(self) -> bool:
        if self.slow:
            await asyncio.sleep(10)
        return True
