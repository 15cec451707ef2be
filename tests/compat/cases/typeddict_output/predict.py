from typing import NotRequired, TypedDict

from cog import BasePredictor


class Output(TypedDict):
    name: str
    count: NotRequired[int]


class Predictor(BasePredictor):
    def predict(self) -> Output:
        return {"name": "alice", "count": 3}
