from cog import BasePredictor, File, Input, Path


class Predictor(BasePredictor):
    def predict(
        self,
        image: Path = Input(description="An image"),
        mask: File = Input(description="Deprecated File input"),
        style: Path = Input(default="https://example.com/style.png", description="Style image"),
    ) -> Path:
        return image
