from cog import BasePredictor, File, Input


class Predictor(BasePredictor):
    def predict(self, files: list[File] | None = Input(default=None)) -> str:
        if files is None:
            return "type=NoneType"
        texts = []
        for f in files:
            data = f.read()
            texts.append((data.decode("utf-8") if isinstance(data, bytes) else data).strip())
        return "count=%d content=%s" % (len(files), ",".join(texts))
