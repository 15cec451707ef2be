from cog import BasePredictor


class Predictor(BasePredictor):
    def predict(self, messages: list[dict]) -> str:
        return "\n".join("%s: %s" % (m["role"], m["content"]) for m in messages)
