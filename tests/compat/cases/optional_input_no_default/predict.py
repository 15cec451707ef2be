from typing import Optional

from cog import BasePredictor


class Predictor(BasePredictor):
    def predict(self, value: Optional[str]) -> str:
        return "none" if value is None else "%s/%s" % (type(value).__name__, value)
