"""pinion's Cog-compatible runtime: the API that predict.py files use."""

from ._version import __version__
from .base_model import BaseModel
from .predictor import BasePredictor, BaseRunner, Input
from .types import AsyncConcatenateIterator, CogError, ConcatenateIterator, File, Path, Secret, URLPath
from .scope import current_scope, emit_metric

__all__ = ["__version__", "AsyncConcatenateIterator", "BaseModel", "BasePredictor", "BaseRunner",
           "CogError",
           "ConcatenateIterator", "File", "Input", "Path", "Secret", "URLPath", "current_scope",
           "emit_metric"]
