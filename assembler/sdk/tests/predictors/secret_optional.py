from typing import Optional

from cog import BasePredictor, Input, Secret


class Predictor(BasePredictor):
    """Cog 0.22's static_schema_secret_optional fixture, plus Optional[Secret]."""

    def predict(
        self,
        prompt: str = Input(description="Text prompt"),
        api_key: Secret = Input(
            description="Your API key (optional — uses proxy if omitted)",
            default=None,
        ),
        api_key_required: Secret = Input(description="Required API key"),
        seed: int = Input(description="Random seed", default=None),
        other_key: Optional[Secret] = Input(default=None),
    ) -> str:
        return prompt + ":" + ("none" if api_key is None else api_key.get_secret_value())
