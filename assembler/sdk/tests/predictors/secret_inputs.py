from cog import BasePredictor, Input, Secret


class Predictor(BasePredictor):
    def predict(
        self,
        api_key: Secret = Input(description="API key"),
        token: Secret = Input(default="not-a-real-token", description="Token"),
        prompt: str = "hi",
    ) -> str:
        return prompt
