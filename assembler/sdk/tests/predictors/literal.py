from typing import Literal, Optional

from cog import BasePredictor, Input


class Predictor(BasePredictor):
    def predict(
        self,
        level: Literal[1, 2, 3],
        mode: Literal["fast", "slow"] = "fast",
        flag: Optional[Literal["x", "y"]] = Input(default=None, description="A flag"),
        ratio: Literal[0.5, 1.0] = Input(default=1.0),
    ) -> str:
        return mode
