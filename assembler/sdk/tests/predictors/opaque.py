from typing import Annotated, List, Optional

from cog import BaseModel, BasePredictor, Opaque
from third_party import ExternalObject


class Output(BaseModel):
    """Cog 0.22's static_schema_opaque fixture, plus an optional one."""

    result: Annotated[ExternalObject, Opaque]
    results: Annotated[List[ExternalObject], Opaque]


class Predictor(BasePredictor):
    def predict(
        self,
        payload: Annotated[ExternalObject, Opaque],
        items: Annotated[List[ExternalObject], Opaque],
        extra: Annotated[Optional[ExternalObject], Opaque] = None,
    ) -> Output:
        return Output(result=payload, results=items)
