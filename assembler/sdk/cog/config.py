"""Which predictor and trainer to serve: COG_PREDICT_TYPE_STUB and
COG_TRAIN_TYPE_STUB (file.py:Name), else `predict:` / `train:` in ./cog.yaml."""

import inspect
import os
import re
from typing import Any, Dict, Optional

from . import signature, static
from .predictor import load_object, method_of, split_ref

PREDICT_ENV = "COG_PREDICT_TYPE_STUB"
TRAIN_ENV = "COG_TRAIN_TYPE_STUB"


class PredictorNotSet(Exception):
    pass


def _from_cog_yaml(key: str, path: str = "cog.yaml") -> Optional[str]:
    """A top-level scalar of cog.yaml (stdlib has no YAML parser; these keys
    are plain scalars)."""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read(1 << 20)
    except OSError:
        return None
    keys = (key, "run") if key == "predict" else (key,)
    for line in text.splitlines():
        m = re.match(r"^(%s)\s*:\s*(.*?)\s*$" % "|".join(keys), line)
        if m:
            v = re.sub(r"\s+#.*$", "", m.group(2)).strip()
            if len(v) >= 2 and v[0] == v[-1] and v[0] in "\"'":
                v = v[1:-1]
            if v:
                return v
    return None


def predict_ref() -> Optional[str]:
    return os.environ.get(PREDICT_ENV) or _from_cog_yaml("predict")


def train_ref() -> Optional[str]:
    return os.environ.get(TRAIN_ENV) or _from_cog_yaml("train")


def read_interface(ref: str, method: str, allow_static: bool = True) -> Dict[str, Any]:
    """The inputs/output of `ref`'s predict/train: read statically when the
    source settles it, otherwise by importing the module."""
    path, name = split_ref(ref)
    if allow_static and os.environ.get("COG_SCHEMA_IMPORT") != "1":
        try:
            return static.read_file(path, name, method)
        except signature.SignatureError:
            raise
        except Exception:  # Undecidable, or anything the reader did not foresee: import
            pass
    obj = load_object(ref)
    fn = method_of(obj, method)
    is_method = not hasattr(fn, "__self__") and not (inspect.isfunction(obj) or
                                                     inspect.ismethod(obj))
    return signature.read_callable(fn, is_method=is_method)


def interface_of(obj: Any, method: str) -> Dict[str, Any]:
    """The interface of an already loaded class instance or function."""
    return signature.read_callable(method_of(obj, method))
