# the static reader must not import this: torch is not installed
import torch
from diffusers import StableDiffusionPipeline

import cog
from cog import BasePredictor, Input


class Base(BasePredictor):
    def predict(self, prompt: str = Input(description="Prompt"),
                steps: int = Input(default=20, ge=1, le=100)) -> cog.Path:
        return cog.Path("/tmp/x.png")


class Predictor(Base):
    def setup(self):
        self.pipe = StableDiffusionPipeline.from_pretrained("x")
