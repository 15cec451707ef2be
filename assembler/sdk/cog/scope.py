"""The scope of the running prediction: metrics recorded by emit_metric(),
and the request's `context` (a dict of strings; empty when the request has
none).  A context variable, so concurrent async predictions each have their
own."""

import contextvars
from typing import Any, Callable, Dict, Optional


class Scope:
    def __init__(self, context: Optional[Dict[str, str]] = None) -> None:
        self.metrics: Dict[str, Any] = {}
        self.context: Dict[str, str] = dict(context or {})
        self.on_metric: Optional[Callable[[str, Any, str], None]] = None  # SSE `metric`

    def record_metric(self, name: str, value: Any, mode: str = "replace") -> None:
        """Set a metric in the response's `metrics`.  As Cog 0.22: mode
        "replace" (the default), "incr" (add to the number there) or "append"
        (to a list); a dotted name ("timing.preprocess") nests objects; None
        deletes the metric."""
        if mode not in ("replace", "incr", "append"):
            raise ValueError("metric mode must be replace, incr or append, not %r" % (mode,))
        check_metric_name(name)
        self._set(name, value, mode)

    def _set(self, name: str, value: Any, mode: str = "replace") -> None:
        if self.on_metric is not None:
            self.on_metric(name, value, mode)
        parts = name.split(".")
        node = self.metrics
        for p in parts[:-1]:
            if not isinstance(node.get(p), dict):
                node[p] = {}
            node = node[p]
        key = parts[-1]
        if value is None:
            node.pop(key, None)
        elif mode == "incr":
            old = node.get(key, 0)
            if not isinstance(old, (int, float)) or isinstance(old, bool):
                raise TypeError("metric %r is not a number; cannot incr" % name)
            node[key] = old + value
        elif mode == "append":
            old = node.get(key)
            node[key] = (old if isinstance(old, list) else ([] if old is None else [old])) + [value]
        else:
            node[key] = value


_scope: "contextvars.ContextVar[Optional[Scope]]" = contextvars.ContextVar("cog_scope",
                                                                          default=None)


def set_scope(scope: Optional[Scope]) -> None:
    _scope.set(scope)


def current_scope() -> Scope:
    s = _scope.get()
    if s is None:
        s = Scope()
        _scope.set(s)
    return s


def emit_metric(name: str, value: Any) -> None:
    """Record a metric in the current prediction's response `metrics` (Cog
    0.16's call: any name, as then)."""
    current_scope()._set(name, value)


MAX_METRIC_NAME = 128
MAX_METRIC_SEGMENTS = 4


def check_metric_name(name: str) -> None:
    """Cog 0.22's rules for record_metric() names; ValueError otherwise."""
    def bad(why: str) -> ValueError:
        return ValueError("invalid metric name %r: %s" % (name, why))
    if not isinstance(name, str) or not name:
        raise bad("must be a non-empty string")
    if len(name) > MAX_METRIC_NAME:
        raise bad("must be at most %d characters" % MAX_METRIC_NAME)
    if name.startswith("."):
        raise bad("must not start with a dot")
    parts = name.split(".")
    if any(not p for p in parts):
        raise bad("must not contain empty segments")
    if len(parts) > MAX_METRIC_SEGMENTS:
        raise bad("must have at most %d dot-separated segments" % MAX_METRIC_SEGMENTS)
    if name == "predict_time":
        raise bad("predict_time is reserved")
    if parts[0] == "cog":
        raise bad("names starting with cog. are reserved")
    for p in parts:
        if not ("a" <= p[0].lower() <= "z"):
            raise bad("segment %r must start with a letter" % p)
        if not all(c.isascii() and (c.isalnum() or c == "_") for c in p):
            raise bad("segment %r must contain only letters, digits and underscores" % p)
        if "__" in p:
            raise bad("segment %r must not contain consecutive underscores" % p)
        if not p[-1].isalnum():
            raise bad("segment %r must end with a letter or digit" % p)
