from typing import List

from cog import BaseModel, BasePredictor


class Detection(BaseModel):
    label: str
    confidence: float


class Result(BaseModel):
    detections: List[Detection]
    elapsed: float = 0.0


class Predictor(BasePredictor):
    def predict(self, threshold: float = 0.5) -> Result:
        return Result(detections=[])
