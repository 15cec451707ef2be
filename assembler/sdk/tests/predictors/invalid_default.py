from cog import BasePredictor, Input


class Predictor(BasePredictor):
    """Cog's invalid_int_validation fixture: the build must fail."""

    def predict(
        self, num: int = Input(description="Number of things", default=1, ge=2, le=10)
    ) -> int:
        return num * 2
