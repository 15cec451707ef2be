import time

from cog import BasePredictor


class Predictor(BasePredictor):
    def setup(self) -> None:
        self.slow = False

    def predict(self, text: str) -> str:
        if text == "trigger_slow":
            self.slow = True
        return "hello " + text

    def healthcheck(self) -> bool:
        if self.slow:
            time.sleep(10)
        return True
