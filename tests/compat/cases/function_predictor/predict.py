from cog import Input


def shout(text: str = Input()) -> str:
    return "HELLO " + text.upper()
