from cog import Input


def predict(text: str = Input(default="world")) -> str:
    return "hello " + text
