"""The interface of a predictor, read by importing it: the same description
that cog.static reads without importing.

A type is a dict {"kind": K, ...}: K is one of str int float bool path file
secret any dict; "list" and "optional" carry "item"; "iterator" carries "item"
and "concat"; "union" carries "variants" (two or more of str int float bool
dict and lists of those; `X | Y | None` is an "optional" of a "union");
"model" carries "name" and "fields" (a list of field dicts {"name", "type",
"default"} where default is NO_DEFAULT when required).
An input is a dict: name, type, default (NO_DEFAULT when required),
description, ge, le, min_length, max_length, regex, choices, deprecated."""

import collections.abc
import inspect
import io
import pathlib
import re
import types as pytypes
import typing
from typing import Any, Dict, List

from . import types as cogtypes
from .base_model import MISSING, BaseModel
from .opaque import _OpaqueMarker
from .predictor import REQUIRED, FieldInfo


class _NoDefault:
    def __repr__(self) -> str:
        return "NO_DEFAULT"


NO_DEFAULT = _NoDefault()

CONSTRAINTS = ("description", "ge", "le", "min_length", "max_length", "regex", "choices",
               "deprecated", "accept")


class SignatureError(Exception):
    """The predictor's interface is not one Cog accepts."""


def simple(kind: str) -> Dict[str, Any]:
    return {"kind": kind}


def make_input(name: str, typ: Dict[str, Any], info: Any) -> Dict[str, Any]:
    """An input description from its type and its default (a FieldInfo, a
    plain default, or NO_DEFAULT)."""
    default = NO_DEFAULT
    if isinstance(info, FieldInfo):
        default = info.default
        # as Cog: an Optional input declared with Input() and no default
        # defaults to None (a bare `x: Optional[T]` stays required)
        if default is REQUIRED:
            default = None if typ["kind"] == "optional" else NO_DEFAULT
    elif info is not NO_DEFAULT:
        default = info
        info = FieldInfo(info)
    else:
        info = FieldInfo()
        # as Cog 0.22 (optional_input_no_default): a bare `x: Optional[T]`
        # is optional and None when omitted (Cog 0.16 required it)
        if typ["kind"] == "optional":
            default = None
    d = {"name": name, "type": typ, "default": default}
    for k in CONSTRAINTS:
        d[k] = getattr(info, k)
    check_input(d)
    check_default(d)
    return d


def python_name(t: Dict[str, Any]) -> str:
    """The annotation as Cog 0.22 names it in messages: int, Optional[int], List[str]."""
    k = t["kind"]
    if k == "optional":
        return "Optional[%s]" % python_name(t["item"])
    if k == "list":
        return "List[%s]" % python_name(t["item"])
    if k == "union":
        return " | ".join(python_name(v) for v in t["variants"])
    return {"path": "Path", "file": "File", "secret": "Secret", "any": "Any",
            "literal": "Literal"}.get(k, k)


def check_default(d: Dict[str, Any]) -> None:
    """A default must satisfy the input's own constraints (Cog fails the build
    otherwise); the wording is Cog 0.22's."""
    default = d["default"]
    if default is NO_DEFAULT or default is None or default is ...:
        return
    values = default if isinstance(default, (list, tuple)) else [default]
    what = "%s: %s" % (d["name"], python_name(d["type"]))

    def numbers():
        return [v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]

    def strings():
        return [v for v in values if isinstance(v, str)]
    if d["ge"] is not None and any(v < d["ge"] for v in numbers()):
        raise SignatureError("invalid default for %s: must be at minimum %s" % (what, d["ge"]))
    if d["le"] is not None and any(v > d["le"] for v in numbers()):
        raise SignatureError("invalid default for %s: must be at maximum %s" % (what, d["le"]))
    if d["min_length"] is not None and any(len(v) < d["min_length"] for v in strings()):
        raise SignatureError("default conflicts with min_length=%s for input: %s" % (
            d["min_length"], what))
    if d["max_length"] is not None and any(len(v) > d["max_length"] for v in strings()):
        raise SignatureError("default conflicts with max_length=%s for input: %s" % (
            d["max_length"], what))
    if d["regex"] is not None:
        try:
            rx = re.compile(d["regex"])
        except re.error as e:
            raise SignatureError("invalid regex for input %s: %s" % (what, e)) from None
        if not all(rx.match(v) for v in strings()):
            raise SignatureError("default not a regex match for input: %s" % what)
    if d["choices"] and not all(v in d["choices"] for v in values):
        raise SignatureError("invalid default for %s: %r is not one of the choices %r" % (
            what, default, d["choices"]))


ALLOWED_INPUT_KINDS = ("str", "int", "float", "bool", "path", "file", "secret", "literal",
                       "union", "dict")
UNION_MEMBER_KINDS = ("str", "int", "float", "bool", "dict")


def union(variants: List[Dict[str, Any]], nullable: bool) -> Dict[str, Any]:
    """The type of `A | B | ...` (with None when nullable).  As Cog 0.22:
    members are str, int, float, bool, dict, or lists of those."""
    uniq: List[Dict[str, Any]] = []
    for v in variants:
        if v["kind"] == "union":  # Union[Union[a, b], c] is flat
            members = v["variants"]
        elif v["kind"] == "optional":
            nullable = True
            members = [v["item"]]
        else:
            members = [v]
        for m in members:
            if m not in uniq:
                uniq.append(m)
    for m in uniq:
        inner = m["item"] if m["kind"] == "list" else m
        if inner["kind"] not in UNION_MEMBER_KINDS:
            raise SignatureError("unsupported union member %s in union %s: members can be "
                                 "str, int, float, bool, dict or lists of those" % (
                                     describe(m), " | ".join(describe(x) for x in uniq)))
    t = uniq[0] if len(uniq) == 1 else {"kind": "union", "variants": uniq}
    return {"kind": "optional", "item": t} if nullable else t


def check_input(d: Dict[str, Any]) -> None:
    t = d["type"]
    if t["kind"] == "optional":
        t = t["item"]
    if t["kind"] == "list":
        t = t["item"]
    if t["kind"] not in ALLOWED_INPUT_KINDS:
        raise SignatureError("unsupported input type %s for parameter `%s`" % (
            describe(d["type"]), d["name"]))
    if d.get("accept") is not None and t["kind"] not in ("path", "file"):
        raise SignatureError("accept is only valid on Path or File inputs: %s: %s" % (
            d["name"], python_name(d["type"])))
    if t["kind"] == "union":
        for k in ("ge", "le", "min_length", "max_length", "regex"):
            if d[k] is not None:
                raise SignatureError("incompatible input type for %s: %s: %s" % (
                    k, d["name"], describe(d["type"])))
    choices = d["choices"]
    if not choices:  # as Cog: empty choices are no choices
        d["choices"] = None
        return
    kind = d["type"]["kind"]
    if kind == "str" and all(isinstance(c, str) for c in choices):
        return
    if kind == "int" and all(type(c) is int for c in choices):
        return
    raise SignatureError("The input %s uses the option choices. Choices can only be used with "
                         "str or int types (and values of that type)." % d["name"])


def check_output(t: Dict[str, Any]) -> Dict[str, Any]:
    """Unions of several types are for inputs only (an output's schema is
    one type, or Optional of one)."""
    if t["kind"] == "union":
        raise SignatureError("unsupported output type %s: unions are supported for inputs only"
                             % describe(t))
    for sub in [t.get("item")] + [f["type"] for f in t.get("fields", [])]:
        if sub is not None:
            check_output(sub)
    return t


def literal(values: Any) -> Dict[str, Any]:
    """Literal["a", "b"]: values of one type (str, int, float or bool)."""
    values = list(values)
    kinds = {type(v) for v in values}
    if not values or len(kinds) != 1 or not kinds <= {str, int, float, bool}:
        raise SignatureError("Literal values must all be str, all int, all float or all bool")
    return {"kind": "literal", "values": values}


def describe(t: Dict[str, Any]) -> str:
    k = t["kind"]
    if k in ("list", "optional", "iterator"):
        return "%s[%s]" % (k, describe(t["item"]))
    if k == "model":
        return t["name"]
    if k == "union":
        return " | ".join(describe(v) for v in t["variants"])
    return k


# ------------------------------------------------------------------ import

def _is_model(obj: Any) -> bool:
    if not inspect.isclass(obj):
        return False
    if issubclass(obj, BaseModel):
        return True
    # a pydantic model, if the image has pydantic
    return any(c.__name__ == "BaseModel" and c.__module__.startswith("pydantic")
               for c in obj.__mro__)


def model_type(cls: Any, seen: Any = None) -> Dict[str, Any]:
    seen = seen or set()
    if cls in seen:
        raise SignatureError("recursive model %s" % cls.__name__)
    seen = seen | {cls}
    hints = typing.get_type_hints(cls, include_extras=True)
    fields = []
    for name, ann in hints.items():
        if name.startswith("_") or typing.get_origin(ann) is typing.ClassVar:
            continue
        default = getattr(cls, "__cog_fields__", {}).get(name, MISSING)
        if default is MISSING:
            default = _pydantic_default(cls, name)
        if isinstance(default, FieldInfo):
            default = default.default
        typ = type_of(ann, seen)
        if default in (MISSING, REQUIRED) and typ["kind"] == "optional" and \
                issubclass(cls, BaseModel):
            default = None  # as pydantic 1: Optional without a default is optional
        fields.append({"name": name, "type": typ,
                       "default": NO_DEFAULT if default in (MISSING, REQUIRED) else default})
    return {"kind": "model", "name": cls.__name__, "fields": fields}


def _pydantic_default(cls: Any, name: str) -> Any:
    f = (getattr(cls, "model_fields", None) or getattr(cls, "__fields__", None) or {}).get(name)
    if f is None:
        d = cls.__dict__.get(name, MISSING)
        return d
    req = getattr(f, "required", None)
    if req is None and hasattr(f, "is_required"):
        req = f.is_required()
    return MISSING if req else getattr(f, "default", None)


def opaque_shape(origin: Any, args: Any) -> Dict[str, Any]:
    """Annotated[T, Opaque]: an object; List[T] an array of objects;
    Optional[T] / Optional[List[T]] nullable (as Cog 0.22)."""
    if origin in (list, typing.List):
        return {"kind": "list", "item": simple("dict")}
    if origin is typing.Union or (hasattr(pytypes, "UnionType") and
                                  origin is getattr(pytypes, "UnionType")):
        rest = [a for a in args if a is not type(None)]
        if len(rest) == 1 and len(rest) < len(args):
            return {"kind": "optional", "item": opaque_shape(typing.get_origin(rest[0]), ())}
    return simple("dict")


def _is_typeddict(ann: Any) -> bool:
    check = getattr(typing, "is_typeddict", None)
    return bool(check and check(ann))


_ITERATORS = (collections.abc.Iterator, collections.abc.Iterable, collections.abc.Generator,
              collections.abc.AsyncIterator, collections.abc.AsyncIterable,
              collections.abc.AsyncGenerator)


def type_of(ann: Any, seen: Any = None) -> Dict[str, Any]:
    """A type description of an annotation object."""
    if ann is Any or ann is inspect.Parameter.empty or ann is object:
        return simple("any")
    if isinstance(ann, str):
        raise SignatureError("unresolved annotation %r" % ann)
    for py, kind in ((bool, "bool"), (int, "int"), (float, "float"), (str, "str")):
        if ann is py:
            return simple(kind)
    origin = typing.get_origin(ann)
    args = typing.get_args(ann)
    if origin is typing.Annotated:
        if any(isinstance(m, _OpaqueMarker) for m in args[1:]):
            return opaque_shape(typing.get_origin(args[0]), typing.get_args(args[0]))
        return type_of(args[0], seen)
    if origin is typing.Literal:
        return literal(args)
    if origin is typing.Union or (hasattr(pytypes, "UnionType") and origin is getattr(pytypes, "UnionType")):
        rest = [a for a in args if a is not type(None)]
        if len(rest) == 1 and len(rest) < len(args):
            return {"kind": "optional", "item": type_of(rest[0], seen)}
        return union([type_of(a, seen) for a in rest], len(rest) < len(args))
    if origin in (list, typing.List) or ann in (list, typing.List):
        return {"kind": "list", "item": type_of(args[0], seen) if args else simple("any")}
    if origin in (dict, typing.Dict) or ann in (dict, typing.Dict):
        return simple("dict")
    if inspect.isclass(origin) and issubclass(origin, (cogtypes.ConcatenateIterator,
                                                      cogtypes.AsyncConcatenateIterator)):
        return {"kind": "iterator", "concat": True,
                "item": type_of(args[0], seen) if args else simple("any")}
    if origin in _ITERATORS:
        return {"kind": "iterator", "concat": False,
                "item": type_of(args[0], seen) if args else simple("any")}
    if _is_typeddict(ann):
        return simple("dict")  # as Cog 0.22: an object, its keys unchecked
    if inspect.isclass(ann):
        if issubclass(ann, cogtypes.Secret):
            return simple("secret")
        if issubclass(ann, pathlib.PurePath):
            return simple("path")
        if issubclass(ann, io.IOBase):
            return simple("file")
        if _is_model(ann):
            return model_type(ann, seen)
    raise SignatureError("unsupported type %r" % (ann,))


def read_callable(fn: Any, is_method: bool = False) -> Dict[str, Any]:
    """The inputs and output of a predict/train callable."""
    try:
        hints = typing.get_type_hints(fn, include_extras=True)
    except Exception as e:  # names the static reader could not see either
        raise SignatureError("cannot resolve the annotations of %s: %s" % (
            getattr(fn, "__name__", fn), e)) from None
    sig = inspect.signature(fn)
    inputs: List[Dict[str, Any]] = []
    params = list(sig.parameters.values())
    if is_method and params and params[0].name in ("self", "cls"):
        params = params[1:]
    for p in params:
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            raise SignatureError("*args and **kwargs are not supported in %s()" % fn.__name__)
        if p.name not in hints:
            raise SignatureError("No input type provided for parameter `%s`." % p.name)
        default = NO_DEFAULT if p.default is p.empty else p.default
        inputs.append(make_input(p.name, type_of(hints[p.name]), default))
    if "return" not in hints:
        raise SignatureError("You must set an output type. If your model can return multiple "
                             "output types, you can explicitly set `Any` as the output type.")
    ret = hints["return"]
    out = typeddict_model(ret) if _is_typeddict(ret) else type_of(ret)
    return streaming_checked({"inputs": inputs, "output": check_output(out)},
                             bool(getattr(fn, "__cog_streaming__", False)))


def typeddict_model(cls: Any) -> Dict[str, Any]:
    """A TypedDict returned by predict: an object with its fields, as Cog
    0.22 (keys that are NotRequired, or all of a total=False one, are not
    required).  A TypedDict input stays a plain object."""
    required = getattr(cls, "__required_keys__", frozenset())
    fields = [{"name": name, "type": type_of(ann),
               "default": NO_DEFAULT if name in required else None}
              for name, ann in typing.get_type_hints(cls).items()]
    return {"kind": "model", "name": cls.__name__, "fields": fields}


def streaming_checked(iface: Dict[str, Any], streaming: bool) -> Dict[str, Any]:
    """A handler marked @cog.streaming (Cog 0.22) must return an iterator;
    its interface then says "streaming" (x-cog-streaming in the schema)."""
    if streaming:
        if iface["output"]["kind"] != "iterator":
            raise SignatureError("@streaming requires Iterator[...], AsyncIterator[...], "
                                 "ConcatenateIterator[...] or AsyncConcatenateIterator[...] "
                                 "return type")
        iface["streaming"] = True
    return iface
