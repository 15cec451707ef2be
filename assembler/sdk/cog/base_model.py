"""A small stand-in for pydantic.BaseModel, enough for structured outputs:
annotated fields with optional defaults, keyword construction, dict().
As pydantic 1 (which Cog 0.16 ran with), an `Optional[X]` field without a
default is optional and defaults to None."""

import copy
import re
import types
import typing
from typing import Any, Dict


class _Missing:
    def __repr__(self) -> str:
        return "<required>"


MISSING = _Missing()


class BaseModel:
    """Subclass with annotated fields; `Output(text="x")` builds an instance."""

    __cog_fields__: Dict[str, Any] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        fields: Dict[str, Any] = {}
        for klass in reversed(cls.__mro__):
            anns = klass.__dict__.get("__annotations__", {})
            for name, ann in anns.items():
                if name.startswith("_") or _is_classvar(ann):
                    continue
                default = klass.__dict__.get(name, fields.get(name, MISSING))
                if default is MISSING and is_optional(ann):
                    default = None
                fields[name] = default
        cls.__cog_fields__ = fields

    def __init__(self, **data: Any) -> None:
        missing = []
        for name, default in self.__cog_fields__.items():
            if name in data:
                value = data.pop(name)
            elif default is MISSING:
                missing.append(name)
                continue
            else:
                value = getattr(default, "default", default) if _is_field_info(default) else default
                value = copy.copy(value)
            object.__setattr__(self, name, value)
        if missing:
            raise TypeError("%s: missing field(s) %s" % (type(self).__name__, ", ".join(missing)))
        for name, value in data.items():
            object.__setattr__(self, name, value)

    def dict(self) -> Dict[str, Any]:
        return {k: getattr(self, k) for k in self.__cog_fields__ if hasattr(self, k)}

    model_dump = dict

    def __eq__(self, other: Any) -> bool:
        return type(other) is type(self) and other.dict() == self.dict()

    def __repr__(self) -> str:
        inner = ", ".join("%s=%r" % kv for kv in self.dict().items())
        return "%s(%s)" % (type(self).__name__, inner)


def _is_field_info(v: Any) -> bool:
    return type(v).__name__ == "FieldInfo" and hasattr(v, "default")


def is_optional(ann: Any) -> bool:
    """Optional[X], Union[X, None] or X | None, also written as a string."""
    if isinstance(ann, str):
        s = ann.strip()
        return bool(re.match(r"^(typing\.)?Optional\[", s)) or \
            ("|" in s and any(p.strip() in ("None", "NoneType") for p in s.split("|")))
    origin = typing.get_origin(ann)
    union_type = getattr(types, "UnionType", None)
    if origin is typing.Union or (union_type is not None and origin is union_type):
        return type(None) in typing.get_args(ann)
    return False


def _is_classvar(ann: Any) -> bool:
    if isinstance(ann, str):
        return bool(re.match(r"^(typing\.)?ClassVar\b", ann.strip()))
    return ann is typing.ClassVar or typing.get_origin(ann) is typing.ClassVar
