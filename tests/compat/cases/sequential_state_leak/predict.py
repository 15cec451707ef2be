from cog import BasePredictor

_seen: list = []


class Predictor(BasePredictor):
    def predict(self, item: str) -> str:
        _seen.append(item)
        return str(_seen)
