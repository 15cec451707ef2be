import os
import time
from typing import Iterator, List, Optional

from cog import BaseModel, BasePredictor, ConcatenateIterator, Input, Path, Secret, emit_metric


class Output(BaseModel):
    text: str
    file: Optional[Path] = None
    items: List[int] = []


class Predictor(BasePredictor):
    def setup(self):
        print("setup: loading weights")
        self.calls = 0

    def predict(
        self,
        text: str = Input(description="Text", max_length=20),
        n: int = Input(default=1, ge=1, le=5),
        mode: str = Input(default="echo", choices=["echo", "fail", "sleep", "file", "stream",
                                                   "model", "secret", "readfile"]),
        seconds: float = Input(default=0.0, ge=0, le=30),
        key: Secret = Input(default=None, description="A secret"),
        image: Optional[Path] = Input(default=None),
        tags: List[str] = Input(default=None),
    ) -> Output:
        self.calls += 1
        print("predict: mode=%s key=%s" % (mode, key.get_secret_value() if key else None))
        if mode == "fail":
            raise RuntimeError("the model broke")
        if mode == "sleep":
            time.sleep(seconds)
        emit_metric("calls", self.calls)
        if mode == "file":
            p = Path("/tmp/cog-test-out-%d.txt" % os.getpid())
            p.write_text(text * n)
            return Output(text=text, file=p)
        if mode == "secret":
            return Output(text=key.get_secret_value())
        if mode == "readfile":
            return Output(text=image.read_text(), items=[len(tags or [])])
        return Output(text=text * n, items=list(range(n)))


class Streamer(BasePredictor):
    def predict(self, n: int = 3) -> Iterator[str]:
        for i in range(n):
            print("token", i)
            yield "t%d" % i

    def train(self, steps: int = Input(default=2, ge=1), fail: bool = False) -> Path:
        if fail:
            raise ValueError("training failed")
        p = Path("/tmp/cog-test-weights-%d.bin" % os.getpid())
        p.write_bytes(b"w" * steps)
        return p


class BrokenSetup(BasePredictor):
    def setup(self):
        print("about to fail")
        raise RuntimeError("cannot load weights")

    def predict(self, x: str = "a") -> str:
        return x


class SlowSetup(BasePredictor):
    def setup(self):
        time.sleep(1.0)

    def predict(self, x: str = "a") -> str:
        return x


class Weighted(BasePredictor):
    def setup(self, weights: Optional[Path] = None):
        self.weights = weights.read_text() if weights else "none"

    def predict(self) -> str:
        return self.weights


class StrPaths(BasePredictor):
    def predict(self, n: int = 2) -> List[Path]:
        out = []
        for i in range(n):
            p = "/tmp/cog-test-strpath-%d-%d.txt" % (os.getpid(), i)
            with open(p, "w") as f:
                f.write("f%d" % i)
            out.append(p)  # a str where a Path is declared
        return out


class AsyncModel(BasePredictor):
    async def setup(self):
        print("async setup")

    async def predict(self, name: str = "x", seconds: float = 0.0,
                      stream: bool = False) -> Iterator[str]:
        import asyncio
        print("start", name)
        emit_metric("name_len", len(name))
        await asyncio.sleep(seconds)
        print("end", name)
        return ["done-" + name]


class AsyncStream(BasePredictor):
    async def predict(self, n: int = 3) -> ConcatenateIterator[str]:
        import asyncio
        for i in range(n):
            await asyncio.sleep(0)
            yield "w%d " % i
