import warnings

from cog import BasePredictor, ExperimentalFeatureWarning

warnings.filterwarnings("ignore", category=ExperimentalFeatureWarning)


class Predictor(BasePredictor):
    def predict(self, s: str) -> str:
        return "hello " + s
