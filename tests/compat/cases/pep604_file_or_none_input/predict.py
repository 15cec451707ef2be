from cog import BasePredictor, File, Input


class Predictor(BasePredictor):
    def predict(self, file: File | None = Input(default=None)) -> str:
        if file is None:
            return "type=NoneType content=none"
        data = file.read()
        if isinstance(data, bytes):
            data = data.decode("utf-8")
        return "type=File content=" + data
