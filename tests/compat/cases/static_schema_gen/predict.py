from cog import BasePredictor, Input, Path


class Predictor(BasePredictor):
    def predict(
        self,
        text: str,
        image: Path,
        count: int = Input(description="Number of iterations", default=5, ge=1, le=100),
        mode: str = Input(description="Quality mode", default="fast",
                          choices=["fast", "balanced", "quality"]),
    ) -> str:
        return "%s-%d-%s-%s" % (text, count, mode, str(image).split(".")[-1])
