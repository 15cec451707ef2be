from cog import BasePredictor, ConcatenateIterator


class Predictor(BasePredictor):
    def predict(self, prompt: str) -> ConcatenateIterator[str]:
        yield prompt
        yield " world"
        yield " !"
