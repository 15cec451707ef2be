import os

from cog import BasePredictor


class Predictor(BasePredictor):
    def predict(self, name: str) -> str:
        return "ENV[%s]=%s" % (name, os.getenv(name))
