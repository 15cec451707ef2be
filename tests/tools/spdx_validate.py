#!/usr/bin/env python3
"""spdx_validate.py SCHEMA DOC - validate an SPDX JSON document against the
SPDX JSON schema (tests/fixtures/spdx/, from spdx/spdx-spec) with
python3-jsonschema, an implementation pinion shares no code with.  Prints
each error and exits 1 when the document does not validate."""
import json
import sys

import jsonschema


def main():
    with open(sys.argv[1]) as f:
        schema = json.load(f)
    with open(sys.argv[2]) as f:
        doc = json.load(f)
    cls = jsonschema.validators.validator_for(schema)
    errors = sorted(cls(schema).iter_errors(doc), key=lambda e: list(e.path))
    for e in errors:
        print("%s: %s" % ("/".join(str(p) for p in e.path), e.message))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
