from typing import Optional

from cog import BasePredictor


class Predictor(BasePredictor):
    """Cog 0.22's optional_input_no_default fixture."""

    def predict(self, value: Optional[str]) -> str:
        if value is None:
            return "type=NoneType value=none"
        return f"type={type(value).__name__} value={value}"
