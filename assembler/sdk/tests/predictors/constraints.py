from cog import BasePredictor, Input

MAX_STEPS = 500


class Predictor(BasePredictor):
    def predict(
        self,
        steps: int = Input(default=50, ge=1, le=MAX_STEPS, description="Steps"),
        strength: float = Input(default=0.8, ge=0, le=1),
        temperature: float = Input(ge=-1.5),
        name: str = Input(min_length=2, max_length=30, regex="^[a-z]+$"),
        old: str = Input(default="x", deprecated=True),
    ) -> float:
        return 1.0
