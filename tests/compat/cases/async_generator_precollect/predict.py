import asyncio
from typing import AsyncIterator

from cog import BasePredictor


class Predictor(BasePredictor):
    async def predict(self) -> AsyncIterator[str]:
        for i in range(5):
            await asyncio.sleep(0.1)
            yield "chunk-%d" % i
