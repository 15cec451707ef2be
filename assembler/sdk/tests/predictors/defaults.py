from cog import BasePredictor, Input


class Predictor(BasePredictor):
    def predict(
        self,
        prompt: str = Input(description="The prompt"),
        negative_prompt: str = Input(default="", description="What to avoid"),
        num_outputs: int = 1,
        guidance_scale: float = Input(default=7.5, description="Scale"),
        seed: int = Input(default=None, description="Random seed; leave blank to randomize"),
        weight: float = Input(default=1),
        enabled: bool = Input(default=True),
    ) -> int:
        return 0
