from cog import BasePredictor, Input


class Predictor(BasePredictor):
    def predict(self, url: str | None = Input(default=None)) -> str:
        if url is None:
            return "type=NoneType value=none"
        return "type=%s value=%s" % (type(url).__name__, url)
