from cog import BasePredictor, Input, Path


class Predictor(BasePredictor):
    def predict(self, path: Path | None = Input(default=None)) -> str:
        if path is None:
            return "type=NoneType content=none"
        with open(path) as f:
            return "type=Path content=" + f.read()
