from cog import BasePredictor, BaseRunner, Input


class Runner(BaseRunner):
    """Cog 0.22's run_new_runner fixture, with a setup()."""

    def setup(self):
        self.greeting = "hello"

    def run(self, s: str = Input(description="Who to greet")) -> str:
        self.record_metric("greeted", 1, mode="incr")
        return self.greeting + " " + s + self.scope.context.get("suffix", "")


class HelperRun(BasePredictor):
    """A 0.16 predictor with its own helper named run(): predict() serves."""

    def run(self, cmd: list) -> str:
        return "helper"

    def predict(self, n: int = 1) -> str:
        return "predict " + str(n)
