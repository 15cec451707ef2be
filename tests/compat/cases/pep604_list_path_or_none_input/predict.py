from cog import BasePredictor, Input, Path


class Predictor(BasePredictor):
    def predict(self, paths: list[Path] | None = Input(default=None)) -> str:
        if paths is None:
            return "type=NoneType"
        texts = [open(p).read().strip() for p in paths]
        return "count=%d content=%s" % (len(paths), ",".join(texts))
