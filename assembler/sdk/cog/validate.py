"""Input validation (pydantic 1 messages and error types, as Cog reports them
in a 422) and output encoding (JSON values; files as data URLs or uploads)."""

import base64
import dataclasses
import datetime
import enum
import io
import math
import mimetypes
import os
import pathlib
import re
from typing import Any, Callable, Dict, List, Optional, Tuple

from .base_model import BaseModel
from .signature import NO_DEFAULT
from .types import Secret


class Invalid(Exception):
    def __init__(self, msg: str, typ: str, loc: Tuple[Any, ...] = ()) -> None:
        super().__init__(msg)
        self.msg = msg
        self.typ = typ
        self.loc = loc


_TRUE = {"1", "on", "t", "true", "y", "yes"}
_FALSE = {"0", "off", "f", "false", "n", "no"}


def _coerce_scalar(kind: str, v: Any) -> Any:
    if kind == "str":
        if isinstance(v, str):
            return v
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            return str(v)
        raise Invalid("str type expected", "type_error.str")
    if kind == "int":
        if isinstance(v, int) and not isinstance(v, bool):
            return v
        if isinstance(v, float) and v.is_integer():
            return int(v)
        if isinstance(v, str):
            try:
                return int(v.strip())
            except ValueError:
                pass
        raise Invalid("value is not a valid integer", "type_error.integer")
    if kind == "float":
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            return float(v)
        if isinstance(v, str):
            try:
                return float(v.strip())
            except ValueError:
                pass
        raise Invalid("value is not a valid float", "type_error.float")
    if kind == "bool":
        if isinstance(v, bool):
            return v
        if isinstance(v, int) and v in (0, 1):
            return bool(v)
        if isinstance(v, str) and v.strip().lower() in _TRUE | _FALSE:
            return v.strip().lower() in _TRUE
        raise Invalid("value could not be parsed to a boolean", "type_error.bool")
    if kind == "secret":
        if isinstance(v, Secret):
            return v
        if isinstance(v, str):
            return Secret(v)
        raise Invalid("str type expected", "type_error.str")
    if kind in ("path", "file"):
        return _check_file_ref(v, kind)
    if kind == "dict":
        if isinstance(v, dict):
            return v
        raise Invalid("value is not a valid dict", "type_error.dict")
    return v


def _check_file_ref(v: Any, kind: str) -> Any:
    """Files are fetched by the worker; here the reference is only checked."""
    if isinstance(v, (pathlib.PurePath, io.IOBase)):
        return v
    if not isinstance(v, str) or not v:
        raise Invalid("value is not a valid %s" % kind, "type_error.%s" % kind)
    if v.startswith("data:"):
        if "," not in v:
            raise Invalid("invalid data URL", "value_error.url")
        return v
    low = v.lower()
    if low.startswith(("http://", "https://")):
        return v
    if re.match(r"^[a-z][a-z0-9+.-]+:", low) and not low.startswith("file:"):
        raise Invalid("URL scheme not permitted", "value_error.url.scheme")
    path = v[len("file://"):] if low.startswith("file://") else v
    if not os.path.exists(path):
        raise Invalid("file or URL %r does not exist" % v, "value_error.path.not_exists")
    return v


def _constraints(inp: Dict[str, Any], kind: str, v: Any) -> None:
    if inp["choices"] is not None:
        if v not in inp["choices"]:
            permitted = ", ".join(repr(c) for c in inp["choices"])
            raise Invalid("value is not a valid enumeration member; permitted: %s" % permitted,
                          "type_error.enum")
        return
    if kind == "str":
        if inp["min_length"] is not None and len(v) < inp["min_length"]:
            raise Invalid("ensure this value has at least %s characters" % inp["min_length"],
                          "value_error.any_str.min_length")
        if inp["max_length"] is not None and len(v) > inp["max_length"]:
            raise Invalid("ensure this value has at most %s characters" % inp["max_length"],
                          "value_error.any_str.max_length")
        if inp["regex"] is not None and not re.match(inp["regex"], v):
            raise Invalid('string does not match regex "%s"' % inp["regex"],
                          "value_error.str.regex")
    if kind in ("int", "float"):
        if inp["ge"] is not None and v < inp["ge"]:
            raise Invalid("ensure this value is greater than or equal to %s" % inp["ge"],
                          "value_error.number.not_ge")
        if inp["le"] is not None and v > inp["le"]:
            raise Invalid("ensure this value is less than or equal to %s" % inp["le"],
                          "value_error.number.not_le")


def _union_member_accepts(t: Dict[str, Any], v: Any) -> bool:
    """As Cog 0.22 checks a union at the HTTP edge (JSON types, no coercion):
    an int is a float's too, a bool is nobody's but bool's."""
    k = t["kind"]
    if k == "list":
        return isinstance(v, list) and all(_union_member_accepts(t["item"], x) for x in v)
    if k == "bool":
        return type(v) is bool
    if k == "int":
        return type(v) is int or (type(v) is float and v.is_integer())
    if k == "float":
        return type(v) in (int, float)
    if k == "str":
        return type(v) is str
    if k == "dict":
        return isinstance(v, dict)
    return False


def _value(inp: Dict[str, Any], t: Dict[str, Any], v: Any, loc: Tuple[Any, ...]) -> Any:
    if t["kind"] == "optional":
        # as Cog 0.22: a union takes no explicit null, even with None among
        # its members (omitting the input gives its default)
        if v is not None or t["item"]["kind"] != "union":
            return None if v is None else _value(inp, t["item"], v, loc)
    if v is None:
        raise Invalid("none is not an allowed value", "type_error.none.not_allowed", loc)
    if t["kind"] == "union":
        if any(_union_member_accepts(m, v) for m in t["variants"]):
            return v  # the value keeps its JSON type: 1 for `str | float` is an int
        from .signature import describe
        raise Invalid("value is not a valid %s" % describe(t), "type_error.union", loc)
    if t["kind"] == "list":
        if not isinstance(v, (list, tuple)):
            raise Invalid("value is not a valid list", "type_error.list", loc)
        return [_value(inp, t["item"], x, loc + (i,)) for i, x in enumerate(v)]
    if t["kind"] == "literal":
        if not any(v == x and type(v) is type(x) for x in t["values"]):
            permitted = ", ".join(repr(x) for x in t["values"])
            raise Invalid("unexpected value; permitted: %s" % permitted, "value_error.const", loc)
        return v
    try:
        out = _coerce_scalar(t["kind"], v)
        _constraints(inp, t["kind"], out)
    except Invalid as e:
        e.loc = loc
        raise
    return out


def validate_inputs(inputs: List[Dict[str, Any]], payload: Any,
                    loc_prefix: Tuple[Any, ...] = ("body", "input")):
    """(values, errors): values by name for predict(**values); errors in
    FastAPI's 422 `detail` shape.  Unknown inputs are ignored, as pydantic does."""
    if payload is None:
        payload = {}
    if not isinstance(payload, dict):
        return {}, [{"loc": list(loc_prefix), "msg": "value is not a valid dict",
                     "type": "type_error.dict"}]
    values: Dict[str, Any] = {}
    errors: List[Dict[str, Any]] = []
    for inp in inputs:
        name = inp["name"]
        loc = tuple(loc_prefix) + (name,)
        if name not in payload:
            if inp["default"] is NO_DEFAULT:
                errors.append({"loc": list(loc), "msg": "field required",
                               "type": "value_error.missing"})
                continue
            values[name] = _default(inp)
            continue
        try:
            values[name] = _value(inp, inp["type"], payload[name], loc)
        except Invalid as e:
            errors.append({"loc": list(e.loc or loc), "msg": e.msg, "type": e.typ})
    return values, errors


def validate_context(ctx: Any) -> Tuple[Dict[str, str], List[Dict[str, Any]]]:
    """A request's `context`: an object of strings (numbers are turned into
    strings, as pydantic 1 does); absent or null is empty."""
    if ctx is None:
        return {}, []
    if not isinstance(ctx, dict):
        return {}, [{"loc": ["body", "context"], "msg": "value is not a valid dict",
                     "type": "type_error.dict"}]
    out: Dict[str, str] = {}
    errors: List[Dict[str, Any]] = []
    for k, v in ctx.items():
        try:
            out[str(k)] = _coerce_scalar("str", v)
        except Invalid as e:
            errors.append({"loc": ["body", "context", k], "msg": e.msg, "type": e.typ})
    return out, errors


def _default(inp: Dict[str, Any]) -> Any:
    d = inp["default"]
    if d is None:
        return None
    try:
        return _value(inp, inp["type"], d, ())
    except Invalid:
        return d


def redact_input(inputs: List[Dict[str, Any]], payload: Any) -> Any:
    """The request input as echoed in responses, with secrets redacted."""
    if not isinstance(payload, dict):
        return payload
    out = dict(payload)
    for inp in inputs:
        t = inp["type"]
        while t["kind"] in ("optional", "list"):
            t = t["item"]
        if t["kind"] == "secret" and inp["name"] in out and out[inp["name"]] is not None:
            v = out[inp["name"]]
            out[inp["name"]] = ([Secret.REDACTED for _ in v] if isinstance(v, list)
                                else Secret.REDACTED)
    return out


# --------------------------------------------------------------- output

def coerce_output(value: Any, t: Optional[Dict[str, Any]]) -> Any:
    """Apply the declared output type where pydantic would have: a str
    returned for a Path (or File) output is that file."""
    if t is None or value is None:
        return value
    k = t["kind"]
    if k == "optional":
        return coerce_output(value, t["item"])
    if k in ("path", "file") and isinstance(value, str) and not value.startswith(
            ("http://", "https://", "data:")):
        return pathlib.Path(value)
    if k in ("list", "iterator") and isinstance(value, (list, tuple)):
        return [coerce_output(v, t["item"]) for v in value]
    if k == "model":
        fields = {f["name"]: f["type"] for f in t["fields"]}
        if isinstance(value, dict):
            return {key: coerce_output(v, fields.get(key)) for key, v in value.items()}
        if isinstance(value, BaseModel):
            return {key: coerce_output(v, fields.get(key)) for key, v in value.dict().items()}
    return value


def data_url(path_or_file: Any) -> str:
    if isinstance(path_or_file, io.IOBase):
        path_or_file.seek(0)
        data = path_or_file.read()
        name = getattr(path_or_file, "name", "file")
    else:
        with open(path_or_file, "rb") as f:
            data = f.read()
        name = str(path_or_file)
    if isinstance(data, str):
        data = data.encode()
    mime = mimetypes.guess_type(str(name))[0] or "application/octet-stream"
    return "data:%s;base64,%s" % (mime, base64.b64encode(data).decode("ascii"))


def encode(value: Any, upload: Optional[Callable[[Any], str]] = None, depth: int = 0) -> Any:
    """A JSON value for a prediction's output; files go through upload (a
    function returning a URL) or become data URLs."""
    if depth > 64:
        raise ValueError("output nested too deeply")
    enc = lambda v: encode(v, upload, depth + 1)  # noqa: E731
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Secret):
        return Secret.REDACTED
    if isinstance(value, enum.Enum):
        return enc(value.value)
    if isinstance(value, BaseModel):
        return {k: enc(v) for k, v in value.dict().items()}
    if hasattr(value, "model_dump") or (hasattr(value, "dict") and hasattr(value, "__fields__")):
        return enc(value.model_dump() if hasattr(value, "model_dump") else value.dict())
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return enc(dataclasses.asdict(value))
    if isinstance(value, dict):
        return {str(k): enc(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [enc(v) for v in value]
    if isinstance(value, (pathlib.PurePath, io.IOBase)):
        return upload(value) if upload else data_url(value)
    if isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if hasattr(value, "tolist"):  # numpy arrays and scalars
        return enc(value.tolist())
    if hasattr(value, "item"):
        return enc(value.item())
    return str(value)
