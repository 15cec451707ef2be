from typing import TypedDict

from cog import BasePredictor


class Payload(TypedDict):
    name: str
    count: int


class Predictor(BasePredictor):
    def predict(self, data: Payload, items: list[Payload] | None = None) -> str:
        return "%s:%d items=%d" % (data["name"], data["count"], len(items or []))
