from typing import List, Optional

from cog import BaseModel, BasePredictor, Path


class Output(BaseModel):
    text: str
    score: Optional[float] = None
    images: List[Path]
    count: int = 3
    extra: dict = None


class Predictor(BasePredictor):
    def predict(self, prompt: str) -> Output:
        return Output(text=prompt, images=[])
