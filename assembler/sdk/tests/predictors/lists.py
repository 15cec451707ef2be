from typing import List

from cog import BasePredictor, Input, Path


class Predictor(BasePredictor):
    def predict(
        self,
        words: List[str],
        sizes: list[int] = Input(default=[1, 2, 3], description="Sizes"),
        images: List[Path] = Input(description="Images"),
        weights: List[float] = Input(default=None),
        flags: List[bool] = [True, False],
    ) -> List[str]:
        return words
