import time

from cog import BasePredictor


class Predictor(BasePredictor):
    def setup(self):
        pass

    def predict(self, duration: float = 60.0) -> str:
        time.sleep(duration)  # blocked in C (nanosleep)
        return "completed"
