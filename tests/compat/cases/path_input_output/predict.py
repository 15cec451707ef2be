import tempfile

from cog import BasePredictor, Path


class Predictor(BasePredictor):
    def setup(self):
        self.prefix = "foo"

    def predict(self, text: str, path: Path) -> Path:
        with open(path) as f:
            data = self.prefix + text + f.read()
        out = Path(tempfile.mkdtemp()) / "output.txt"
        out.write_text(data)
        return out
