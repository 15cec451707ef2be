from typing import Optional

from cog import BasePredictor, Input, Path


class Predictor(BasePredictor):
    def predict(
        self,
        prompt: str = Input(description="Text prompt", default="test"),
        image: Path = Input(description="Input image", accept="image/*"),
        audio: Optional[Path] = Input(description="Audio clip", accept="audio/wav,audio/mp3",
                                      default=None),
        weights: Optional[Path] = Input(description="Model weights",
                                        accept=".safetensors,.bin", default=None),
    ) -> str:
        return "%s-%s" % (prompt, str(image).split(".")[-1])
