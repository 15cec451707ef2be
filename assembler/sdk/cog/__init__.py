"""pinion's Cog-compatible runtime: the API that predict.py files use."""

import inspect as _inspect
from typing import Any, Callable, Optional

from ._version import __version__
from .base_model import BaseModel
from .opaque import Opaque
from .predictor import BasePredictor, BaseRunner, Input
from .types import (AsyncConcatenateIterator, CancelationException, CogError, ConcatenateIterator,
                    ExperimentalFeatureWarning, File, Path, Secret, URLPath)
from .scope import current_scope, emit_metric


def streaming(fn: Optional[Callable[..., Any]] = None) -> Any:
    """Cog 0.22's opt-in to SSE streaming of a predict handler (one that
    returns an iterator): `Accept: text/event-stream` requests get its events
    as they happen.  `@streaming` and `@streaming()` both work."""
    def mark(inner: Callable[..., Any]) -> Callable[..., Any]:
        inner.__cog_streaming__ = True  # type: ignore[attr-defined]
        return inner
    return mark(fn) if fn is not None else mark


def concurrent(fn: Optional[Callable[..., Any]] = None, *, max: int = 1) -> Any:  # noqa: A002
    """Cog 0.22's per-handler concurrency: `@concurrent(max=N)` on an async
    predict lets N predictions run at once, as `concurrency: max:` does."""
    if isinstance(max, bool) or not isinstance(max, int):
        raise TypeError("concurrent max must be an integer")
    if max < 1:
        raise ValueError("concurrent max must be at least 1")

    def decorate(inner: Callable[..., Any]) -> Callable[..., Any]:
        if max > 1 and not (_inspect.iscoroutinefunction(inner) or
                            _inspect.isasyncgenfunction(inner)):
            raise TypeError("concurrent max greater than 1 requires an async function")
        inner.__cog_concurrent_max__ = max  # type: ignore[attr-defined]
        return inner
    if fn is None:
        return decorate
    return decorate(fn)


__all__ = ["__version__", "AsyncConcatenateIterator", "BaseModel", "BasePredictor", "BaseRunner",
           "CancelationException", "CogError", "ConcatenateIterator",
           "ExperimentalFeatureWarning", "File", "Input", "Opaque", "Path", "Secret", "URLPath",
           "concurrent", "current_scope", "emit_metric", "streaming"]
