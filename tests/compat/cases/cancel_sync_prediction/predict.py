import time

from cog import BasePredictor


class Predictor(BasePredictor):
    def setup(self):
        pass

    def predict(self, duration: float = 60.0) -> str:
        end = time.monotonic() + duration
        while time.monotonic() < end:  # a busy loop
            pass
        return "completed"
