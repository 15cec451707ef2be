from typing import List

from cog import BasePredictor, Path


class Predictor(BasePredictor):
    def predict(self) -> List[Path]:
        out = []
        for i, word in enumerate(["foo", "bar", "baz"]):
            p = Path("/tmp/out-%d.txt" % i)
            p.write_text(word)
            out.append(p)
        return out
