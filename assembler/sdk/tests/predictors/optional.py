from typing import Optional, Union

from cog import BasePredictor, Input, Path


class Predictor(BasePredictor):
    def predict(
        self,
        bare: Optional[str],
        image: Optional[Path] = Input(description="Input image", default=None),
        caption: Optional[str] = None,
        strength: Union[float, None] = Input(default=None, ge=0.0, le=1.0),
        tag: str | None = Input(default="x", description="A tag"),
        maybe: Optional[int] = Input(description="Input() without a default: defaults to None"),
    ) -> Optional[str]:
        return caption
