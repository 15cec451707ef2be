import sys

from cog import BasePredictor


class Predictor(BasePredictor):
    """Cog 0.22's predict_sys_exit fixture."""

    def predict(self, do_exit: bool = False) -> str:
        if do_exit:
            sys.exit(1)
        return "still alive"


class AsyncPredictor(BasePredictor):
    async def predict(self, do_exit: bool = False) -> str:
        if do_exit:
            sys.exit(1)
        return "still alive"
