from typing import Optional

from cog import BasePredictor, Path, Secret
from pydantic import BaseModel


class ModelOutput(BaseModel):
    """Cog 0.16's complex_output fixture: cog types inside the model's own pydantic."""

    success: bool
    error: Optional[str]
    segmentedImage: Optional[Path]


class Predictor(BasePredictor):
    def predict(self, msg: str, with_file: bool = False) -> ModelOutput:
        if with_file:
            p = Path("/tmp/cog-test-pydantic-out.txt")
            p.write_text(msg)
            return ModelOutput(success=True, error=None, segmentedImage=p)
        return ModelOutput(success=False, error=msg, segmentedImage=None)


class Holder(BaseModel):
    key: Secret
