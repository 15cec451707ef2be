"""The scope of the running prediction: metrics recorded by emit_metric(),
and the request's `context` (a dict of strings; empty when the request has
none).  A context variable, so concurrent async predictions each have their
own."""

import contextvars
from typing import Any, Dict, Optional


class Scope:
    def __init__(self, context: Optional[Dict[str, str]] = None) -> None:
        self.metrics: Dict[str, Any] = {}
        self.context: Dict[str, str] = dict(context or {})

    def record_metric(self, name: str, value: Any) -> None:
        self.metrics[name] = value


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
    """Record a metric in the current prediction's response `metrics`."""
    current_scope().record_metric(name, value)
