from typing import Any, Dict, List, Optional, TypedDict

from cog import BasePredictor


class Payload(TypedDict):
    name: str
    count: int


class Predictor(BasePredictor):
    """Cog 0.22's dict_input fixture."""

    def predict(self, data: dict) -> str:
        parts = [f"{k}={v}" for k, v in sorted(data.items())]
        return ", ".join(parts)


class Several(BasePredictor):
    """dict, Dict[str, Any], list[dict], TypedDict, Optional list of TypedDict
    (list_dict_input, typing_dict_input, typeddict_input)."""

    def predict(
        self,
        data: Dict[str, Any],
        messages: list[dict],
        items: List[Dict[str, Any]],
        payload: Payload,
        more: Optional[List[Payload]] = None,
    ) -> str:
        return f"data={len(data)} messages={len(messages)} items={len(items)} " \
               f"payload={payload['name']}:{payload['count']} more={len(more or [])}"
