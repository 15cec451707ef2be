"""BasePredictor, Input, and loading a predictor from a `file.py:Name` ref."""

import importlib.util
import inspect
import os
import sys
from typing import Any, List, Optional, Union


REQUIRED = ...  # Input() without a default: the input is required


class FieldInfo:
    """What Input() returns: a default plus the constraints of one input."""

    def __init__(self, default: Any = REQUIRED, description: Optional[str] = None,
                 ge: Optional[float] = None, le: Optional[float] = None,
                 min_length: Optional[int] = None, max_length: Optional[int] = None,
                 regex: Optional[str] = None, choices: Optional[List[Union[str, int]]] = None,
                 deprecated: Optional[bool] = None, accept: Optional[str] = None) -> None:
        self.default = default
        self.accept = accept
        self.description = description
        self.ge = ge
        self.le = le
        self.min_length = min_length
        self.max_length = max_length
        self.regex = regex
        self.choices = list(choices) if choices is not None else None
        self.deprecated = deprecated

    def __repr__(self) -> str:
        return "Input(default=%r)" % (self.default,)


def Input(default: Any = REQUIRED, description: Optional[str] = None,  # noqa: N802
          ge: Optional[float] = None, le: Optional[float] = None,
          min_length: Optional[int] = None, max_length: Optional[int] = None,
          regex: Optional[str] = None, choices: Optional[List[Union[str, int]]] = None,
          deprecated: Optional[bool] = None, accept: Optional[str] = None) -> Any:
    """Describe one predictor input: its default and constraints.  `accept`
    (Cog 0.22, Path and File inputs): the file types a client should offer,
    as HTML's accept attribute ("image/*", ".safetensors,.bin")."""
    return FieldInfo(default, description, ge, le, min_length, max_length, regex, choices,
                     deprecated, accept)


class BaseRunner:
    """Cog 0.22's base class: subclass and define setup() (optional) and run()."""

    def setup(self, weights: Any = None) -> None:
        """Load the model once, before the first run."""

    def run(self, **kwargs: Any) -> Any:
        raise NotImplementedError("run has not been implemented by parent class.")

    @property
    def scope(self) -> Any:
        """The running prediction's scope (metrics, context)."""
        from .scope import current_scope
        return current_scope()

    def record_metric(self, key: str, value: Any, mode: str = "replace") -> None:
        """current_scope().record_metric(), as a method (Cog 0.22)."""
        self.scope.record_metric(key, value, mode=mode)


class BasePredictor(BaseRunner):
    """Subclass and define setup() (optional) and predict(); train() for trainers.
    (Cog 0.22 also accepts run() here, as on BaseRunner.)"""

    def predict(self, **kwargs: Any) -> Any:
        raise NotImplementedError("predict has not been implemented by parent class.")


def user_method_owner(cls: Any, name: str) -> Any:
    """The class in cls's MRO above cog's base classes that defines `name`."""
    for owner in inspect.getmro(cls):
        if owner in (BaseRunner, BasePredictor, object):
            break
        if callable(owner.__dict__.get(name)) or isinstance(owner.__dict__.get(name),
                                                            (staticmethod, classmethod)):
            return owner
    return None


def entry_name(obj: Any) -> str:
    """"predict" or "run": the method a predictor class (or instance) serves
    predictions with.  predict() when the class defines it (Cog 0.16: a
    helper named run() beside it is the model's own business), else run()
    (Cog 0.22's BaseRunner)."""
    cls = obj if inspect.isclass(obj) else type(obj)
    if user_method_owner(cls, "predict") is not None:
        return "predict"
    if user_method_owner(cls, "run") is not None:
        return "run"
    raise AttributeError("run or predict method not found: %s" % cls.__name__)


def split_ref(ref: str):
    """`predict.py:Predictor` -> (path, name); a bare `run.py` (Cog 0.22)
    -> (path, None): its Runner, else its Predictor."""
    path, sep, name = ref.rpartition(":")
    if not sep and ref.endswith(".py"):
        return ref, None
    if not sep or not path or not name:
        raise ValueError("invalid predictor reference %r: want file.py:Name" % ref)
    return path, name


DEFAULT_NAMES = ("Runner", "Predictor")


def load_module(path: str):
    """Import a predictor file by path, with its directory on sys.path."""
    full = os.path.abspath(path)
    if not os.path.exists(full):
        raise FileNotFoundError("predictor file %r not found" % path)
    d = os.path.dirname(full)
    if d not in sys.path:
        sys.path.insert(0, d)
    mod_name = os.path.splitext(os.path.basename(full))[0]
    spec = importlib.util.spec_from_file_location(mod_name, full)
    if spec is None or spec.loader is None:
        raise ImportError("cannot import %r" % path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[mod_name] = module
    # as Cog: the model's argparse must not see the server's arguments
    saved_argv = sys.argv
    sys.argv = sys.argv[:1]
    try:
        spec.loader.exec_module(module)
    finally:
        sys.argv = saved_argv
    return module


def load_object(ref: str):
    """Load the class or function a ref names (not instantiated)."""
    path, name = split_ref(ref)
    module = load_module(path)
    if name is None:
        name = next((n for n in DEFAULT_NAMES if hasattr(module, n)), None)
        if name is None:
            raise AttributeError("%r has no Runner or Predictor" % path)
    try:
        return getattr(module, name)
    except AttributeError:
        raise AttributeError("%r has no %r" % (path, name)) from None


def instantiate(obj: Any) -> Any:
    return obj() if inspect.isclass(obj) else obj


def method_of(obj: Any, method: str):
    """The predict/train callable of a class instance, a class, or a function;
    for "predict", a class's run() when it defines that instead (Cog 0.22)."""
    if inspect.isfunction(obj) or inspect.ismethod(obj):
        return obj
    if method == "predict":
        method = entry_name(obj)
    fn = getattr(obj, method, None)
    if fn is None:
        raise AttributeError("%r has no %s() method" % (obj, method))
    return fn
