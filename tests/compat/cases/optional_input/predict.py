from typing import Optional

from cog import BasePredictor, Input


class Predictor(BasePredictor):
    def predict(self, who: Optional[str] = Input(description="Whom to greet")) -> str:
        return "hello " + (who if who is not None else "nobody")
