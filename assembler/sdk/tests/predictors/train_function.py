from cog import Input, Path


def train(dataset: Path = Input(description="Dataset"), epochs: int = 1) -> Path:
    return dataset


def predict(prompt: str = "x") -> str:
    return prompt
