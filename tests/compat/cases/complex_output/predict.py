from typing import Optional

from cog import BaseModel, BasePredictor, Path


class ModelOutput(BaseModel):
    success: bool
    error: Optional[str]
    segmented_image: Optional[Path]


class Predictor(BasePredictor):
    def predict(self, msg: str) -> ModelOutput:
        return ModelOutput(success=False, error=msg, segmented_image=None)
