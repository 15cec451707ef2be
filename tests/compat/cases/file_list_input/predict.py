from cog import BasePredictor, File


class Predictor(BasePredictor):
    def predict(self, files: list[File]) -> str:
        parts = []
        for f in files:
            data = f.read()
            parts.append(data.decode("utf-8") if isinstance(data, bytes) else data)
        return "\n\n".join(parts)
