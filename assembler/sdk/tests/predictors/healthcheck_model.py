import asyncio
import time

from cog import BasePredictor


class Predictor(BasePredictor):
    """healthcheck() answers as the last prediction told it to."""

    def setup(self):
        self.mode = "ok"

    def predict(self, mode: str = "ok", seconds: float = 0.0) -> str:
        self.mode = mode
        time.sleep(seconds)
        return "mode=" + mode

    def healthcheck(self) -> bool:
        if self.mode == "false":
            return False
        if self.mode == "raise":
            raise RuntimeError("Critical system error")
        if self.mode == "slow":
            time.sleep(10)
        return True


class AsyncCheck(BasePredictor):
    async def predict(self, fail: bool = False) -> str:
        self.fail = fail
        return "ok"

    async def healthcheck(self) -> bool:
        await asyncio.sleep(0.01)
        if getattr(self, "fail", False):
            raise RuntimeError("Async healthcheck error")
        return True


class BrokenSetup(BasePredictor):
    def setup(self):
        raise RuntimeError("cannot load weights")

    def predict(self) -> str:
        return "never"

    def healthcheck(self) -> bool:
        return False
