"""python -m cog.command.openapi_schema [--label]: print the predictor's
OpenAPI schema (the predictor named by COG_PREDICT_TYPE_STUB, or `predict:`
/ `run:` in ./cog.yaml) as Cog's SDK prints it (indented, Cog's key order).
With --label, print it as Cog puts it in the image's run.cog.openapi_schema
label instead: one line, keys sorted (see cog.schema.label_text).
Prints {} when no predictor is set, as Cog does; exit status 1 on errors."""

import contextlib
import json
import os
import sys
from typing import Any

from .. import config, schema


def build() -> dict:
    ref = config.predict_ref()
    if not ref:
        return {}
    predict = config.read_interface(ref, "predict")
    tref = config.train_ref()
    train = config.read_interface(tref, "train") if tref else None
    return schema.openapi(predict, train)


@contextlib.contextmanager
def stdout_to_stderr():
    """What the model prints while it is imported must not corrupt the JSON:
    fd 1 (and sys.stdout) point at stderr meanwhile."""
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        os.dup2(2, 1)
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


def main(argv: Any = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if [a for a in argv if a != "--label"]:
        print("usage: python -m cog.command.openapi_schema [--label]", file=sys.stderr)
        return 2
    sys.dont_write_bytecode = True  # importing the model must not leave __pycache__ in /src
    try:
        with stdout_to_stderr():
            doc = build()
    except Exception as e:  # report, never a traceback for interface errors
        print("cog: %s: %s" % (type(e).__name__, e), file=sys.stderr)
        return 1
    except SystemExit as e:  # the model's module called sys.exit() while imported
        print("cog: the predictor exited while it was imported (SystemExit: %s)" % e.code,
              file=sys.stderr)
        return 1
    if "--label" in argv:
        sys.stdout.buffer.write(schema.label_text(doc).encode("utf-8") + b"\n")
        sys.stdout.flush()
    else:
        print(json.dumps(doc, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
