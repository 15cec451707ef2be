from cog import BasePredictor, Input

SCHEDULERS = ["DDIM", "K_EULER", "PNDM"]


class Predictor(BasePredictor):
    def predict(
        self,
        scheduler: str = Input(default="K_EULER", choices=SCHEDULERS, description="Scheduler"),
        width: int = Input(choices=[512, 768, 1024]),
        mode: str = Input(choices=["fast", "slow"]),
    ) -> bool:
        return True
