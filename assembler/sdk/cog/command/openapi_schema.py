"""python -m cog.command.openapi_schema: print the predictor's OpenAPI schema
(the predictor named by COG_PREDICT_TYPE_STUB, or `predict` in ./cog.yaml).
Prints {} when no predictor is set, as Cog does; exit status 1 on errors."""

import json
import sys

from .. import config, schema


def build() -> dict:
    ref = config.predict_ref()
    if not ref:
        return {}
    predict = config.read_interface(ref, "predict")
    tref = config.train_ref()
    train = config.read_interface(tref, "train") if tref else None
    return schema.openapi(predict, train)


def main() -> int:
    try:
        doc = build()
    except Exception as e:  # report, never a traceback for interface errors
        print("cog: %s: %s" % (type(e).__name__, e), file=sys.stderr)
        return 1
    print(json.dumps(doc, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
