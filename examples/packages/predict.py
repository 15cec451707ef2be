"""packages: uses a package from the index, a Debian tool, an environment
variable set in cog.yaml and a weights file."""
import hashlib
import os
import subprocess

from cog import BasePredictor, Input

import pinion_demo_greeting


class Predictor(BasePredictor):
    def setup(self) -> None:
        h = hashlib.sha256()
        with open("weights/model.bin", "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        self.weights = h.hexdigest()[:12]
        self.jq = subprocess.run(["jq", "--version"], capture_output=True, text=True).stdout.strip()

    def predict(self, name: str = Input(description="Who to greet", default="world")) -> str:
        style = os.environ.get("GREETING_STYLE", "plain")
        return f"{pinion_demo_greeting.hello()}: hi {name} ({style}; {self.jq}; weights {self.weights})"
