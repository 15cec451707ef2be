from cog import BaseModel, BasePredictor, Input, Path


class TrainingOutput(BaseModel):
    weights: Path
    loss: float


class Predictor(BasePredictor):
    def predict(self, prompt: str = "a photo") -> str:
        return prompt

    def train(
        self,
        train_data: Path = Input(description="A zip of training images"),
        steps: int = Input(default=1000, ge=1),
        learning_rate: float = 1e-4,
        lora: bool = True,
    ) -> TrainingOutput:
        return TrainingOutput(weights=train_data, loss=0.0)
