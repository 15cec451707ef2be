"""The scope of the running prediction: metrics recorded by emit_metric()."""

import threading
from typing import Any, Dict, Optional


class Scope:
    def __init__(self) -> None:
        self.metrics: Dict[str, Any] = {}

    def record_metric(self, name: str, value: Any) -> None:
        self.metrics[name] = value


_local = threading.local()


def set_scope(scope: Optional[Scope]) -> None:
    _local.scope = scope


def current_scope() -> Scope:
    s = getattr(_local, "scope", None)
    if s is None:
        s = Scope()
        _local.scope = s
    return s


def emit_metric(name: str, value: Any) -> None:
    """Record a metric in the current prediction's response `metrics`."""
    current_scope().record_metric(name, value)
