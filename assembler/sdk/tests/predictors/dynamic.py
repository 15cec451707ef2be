# the static reader cannot decide choices computed at import: the schema
# command falls back to importing this module
from cog import BasePredictor, Input

print("dynamic.py: imported (this must not reach the schema output)")


def sizes():
    return [128 * i for i in range(1, 4)]


class Predictor(BasePredictor):
    def predict(self, size: int = Input(default=256, choices=sizes())) -> str:
        return str(size)
