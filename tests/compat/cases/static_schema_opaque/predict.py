from typing import Annotated, List

from cog import BaseModel, BasePredictor, Opaque
from third_party import ExternalObject


class Output(BaseModel):
    result: Annotated[ExternalObject, Opaque]
    results: Annotated[List[ExternalObject], Opaque]


class Predictor(BasePredictor):
    def predict(self, payload: Annotated[ExternalObject, Opaque],
                items: Annotated[List[ExternalObject], Opaque]) -> Output:
        return Output(result=payload, results=items)
