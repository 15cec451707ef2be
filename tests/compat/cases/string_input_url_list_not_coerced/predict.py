from typing import List

from cog import BasePredictor


class Predictor(BasePredictor):
    def predict(self, urls: List[str]) -> str:
        return "types=" + ",".join(type(u).__name__ for u in urls)
