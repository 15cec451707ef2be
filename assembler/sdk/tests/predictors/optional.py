from typing import Optional, Union

from cog import BasePredictor, Input, Path


class Predictor(BasePredictor):
    def predict(
        self,
        image: Optional[Path] = Input(description="Input image", default=None),
        caption: Optional[str] = None,
        strength: Union[float, None] = Input(default=None, ge=0.0, le=1.0),
        tag: str | None = Input(default="x", description="A tag"),
        required_maybe: Optional[int] = Input(description="Required but nullable"),
    ) -> Optional[str]:
        return caption
