from cog import BasePredictor, Path


class Predictor(BasePredictor):
    def predict(self, paths: list[Path]) -> str:
        return "".join(open(p).read() for p in paths)
