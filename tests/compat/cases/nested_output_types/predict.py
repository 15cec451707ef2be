from typing import List, Optional

from cog import BaseModel, BasePredictor


class Output(BaseModel):
    name: str
    count: int
    score: float
    passed: bool
    tags: List[str]
    note: Optional[str]
    extra: Optional[str]


class Predictor(BasePredictor):
    def predict(self, name: str) -> Output:
        return Output(name=name, count=42, score=0.95, passed=True, tags=["fast", "cached"],
                      note="extra info", extra=None)
