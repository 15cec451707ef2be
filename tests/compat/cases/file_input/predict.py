from cog import BasePredictor, Path


class Predictor(BasePredictor):
    def predict(self, file: Path) -> str:
        return file.read_text()
