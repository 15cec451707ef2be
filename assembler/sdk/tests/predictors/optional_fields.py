from typing import List, Optional

from cog import BaseModel, BasePredictor


class Output(BaseModel):
    text: str
    score: Optional[float]
    tags: Optional[List[str]]
    note: str | None
    count: int = 0


class Predictor(BasePredictor):
    def predict(self, full: bool = False) -> Output:
        if full:
            return Output(text="t", score=0.5, tags=["a"], note="n", count=2)
        return Output(text="t")
