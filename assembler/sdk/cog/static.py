"""Read a predictor's interface from its source with `ast`, without importing
it (so the model's heavy dependencies need not be importable).  Raises
Undecidable when the source alone cannot settle it; the caller then imports."""

import ast
import warnings
from typing import Any, Dict, List, Optional

from .predictor import FieldInfo
from .signature import (NO_DEFAULT, SignatureError, check_output, literal, make_input, simple,
                        streaming_checked, union)

MAX_SOURCE = 8 << 20


class Undecidable(Exception):
    """The static reading cannot decide; import the module instead."""


class _NotInFile(Undecidable):
    """The method is not defined in the file's classes (it may be elsewhere)."""


_TYPING = {"List": "list", "Optional": "optional", "Union": "union", "Iterator": "iterator",
           "Annotated": "annotated",
           "Iterable": "iterator", "Generator": "iterator", "AsyncIterator": "iterator",
           "AsyncIterable": "iterator", "AsyncGenerator": "iterator", "Any": "any",
           "Dict": "dict", "Literal": "literal"}
_COG = {"Path": "path", "File": "file", "Secret": "secret", "URLPath": "path",
        "ConcatenateIterator": "concat", "AsyncConcatenateIterator": "concat",
        "BaseModel": "basemodel", "Input": "input", "BasePredictor": "basepredictor",
        "BaseRunner": "basepredictor"}
_BUILTIN = {"str": "str", "int": "int", "float": "float", "bool": "bool", "list": "list",
            "dict": "dict"}


class Module:
    """What the reader knows about one source file's top level: each name's
    last binding, in statement order, as running the module would leave it.
    Names bound inside if/for/try/with blocks (or by augmented assignment,
    del, tuple unpacking, star imports) are "dynamic": reading them is
    undecidable, so the caller falls back to importing."""

    def __init__(self, tree: ast.Module) -> None:
        self.bindings: Dict[str, Any] = {}
        self.star = False
        for node in tree.body:
            self._top(node)

    @property
    def classes(self) -> Dict[str, ast.ClassDef]:
        return {k: v[1] for k, v in self.bindings.items() if v[0] == "class"}

    @property
    def functions(self) -> Dict[str, ast.AST]:
        return {k: v[1] for k, v in self.bindings.items() if v[0] == "func"}

    @property
    def consts(self) -> Dict[str, ast.AST]:
        return {k: v[1] for k, v in self.bindings.items() if v[0] == "const"}

    def _top(self, node: ast.AST) -> None:
        b = self.bindings
        if isinstance(node, ast.ImportFrom):
            for a in node.names:
                if a.name == "*":
                    self.star = True
                elif node.level == 0 and node.module:
                    b[a.asname or a.name] = ("from", node.module + "." + a.name)
                else:
                    b[a.asname or a.name] = ("dynamic", None)
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.asname:
                    b[a.asname] = ("module", a.name)
                else:
                    top = a.name.split(".")[0]
                    b[top] = ("module", top)
        elif isinstance(node, ast.ClassDef):
            b[node.name] = ("class", node)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            b[node.name] = ("func", node)
        elif isinstance(node, ast.Assign):
            for t in node.targets:
                if isinstance(t, ast.Name):
                    b[t.id] = ("const", node.value)
                else:
                    self._mark_dynamic(t)
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            if node.value is not None:
                b[node.target.id] = ("const", node.value)
        elif isinstance(node, (ast.Expr, ast.Pass)):
            pass
        else:  # if/for/while/try/with/match/del/augassign/...: anything bound is dynamic
            self._mark_dynamic(node)

    def _mark_dynamic(self, node: ast.AST) -> None:
        for n in ast.walk(node):
            if isinstance(n, ast.Name) and isinstance(n.ctx, (ast.Store, ast.Del)):
                self.bindings[n.id] = ("dynamic", None)
            elif isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                self.bindings[n.name] = ("dynamic", None)
            elif isinstance(n, (ast.Import, ast.ImportFrom)):
                for a in n.names:
                    self.bindings[(a.asname or a.name).split(".")[0]] = ("dynamic", None)
                    if a.name == "*":
                        self.star = True
            elif isinstance(n, ast.Global):
                for name in n.names:
                    self.bindings[name] = ("dynamic", None)

    def qualname(self, node: ast.AST) -> Optional[str]:
        """"cog.Path", "typing.List", "builtins.str" or a local class "local.X"."""
        if isinstance(node, ast.Name):
            kind, val = self.bindings.get(node.id, (None, None))
            if kind == "from":
                return val
            if kind == "class":
                return "local." + node.id
            if kind is None and node.id in _BUILTIN and not self.star:
                return "builtins." + node.id
            return None
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            kind, val = self.bindings.get(node.value.id, (None, None))
            if kind == "module":
                return val + "." + node.attr
        if isinstance(node, ast.Attribute):
            inner = self.qualname(node.value)
            if inner:
                return inner + "." + node.attr
        return None


def _kind_of_name(q: Optional[str]) -> Optional[str]:
    if q is None:
        return None
    mod, _, name = q.rpartition(".")
    if mod in ("cog", "cog.types"):
        return _COG.get(name)
    if mod in ("typing", "collections.abc", "typing_extensions"):
        return _TYPING.get(name)
    if mod == "builtins":
        return _BUILTIN.get(name)
    if mod == "pydantic" and name == "BaseModel":
        return "basemodel"
    return None


class Reader:
    def __init__(self, source: str, filename: str = "predict.py") -> None:
        try:
            with warnings.catch_warnings():  # the import fallback reports what matters
                warnings.simplefilter("ignore")
                self.tree = ast.parse(source, filename)
        except (SyntaxError, ValueError) as e:
            raise Undecidable("syntax error: %s" % e) from None
        self.mod = Module(self.tree)

    # ------------------------------------------------------------ types
    def type_of(self, node: Optional[ast.AST], seen: Any = ()) -> Dict[str, Any]:
        if node is None:
            raise Undecidable("missing annotation")
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            try:
                node = ast.parse(node.value, mode="eval").body
            except (SyntaxError, ValueError):
                raise Undecidable("bad string annotation") from None
            return self.type_of(node, seen)
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
            return self._union(_bitor_parts(node), seen)
        if isinstance(node, ast.Subscript):
            return self._subscript(node, seen)
        q = self.mod.qualname(node)
        kind = _kind_of_name(q)
        if kind in ("str", "int", "float", "bool", "path", "file", "secret", "any", "dict"):
            return simple(kind)
        if kind == "list":
            return {"kind": "list", "item": simple("any")}
        if q and q.startswith("local."):
            if self._is_typeddict(self.mod.classes[q[6:]]):
                return simple("dict")
            return self._local_model(q[6:], seen)
        raise Undecidable("type %s" % ast.dump(node))

    def _subscript(self, node: ast.Subscript, seen: Any) -> Dict[str, Any]:
        kind = _kind_of_name(self.mod.qualname(node.value))
        sl = node.slice
        if isinstance(sl, ast.Index):  # pragma: no cover - python < 3.9 trees
            sl = sl.value  # type: ignore[attr-defined]
        args = list(sl.elts) if isinstance(sl, ast.Tuple) else [sl]
        if kind == "list" and len(args) == 1:
            return {"kind": "list", "item": self.type_of(args[0], seen)}
        if kind == "optional" and len(args) == 1:
            return {"kind": "optional", "item": self.type_of(args[0], seen)}
        if kind == "union":
            return self._union(args, seen)
        if kind == "dict":
            return simple("dict")
        if kind == "annotated" and args:
            if any(self.mod.qualname(m) in ("cog.Opaque", "cog.opaque.Opaque") for m in args[1:]):
                return self._opaque(args[0])
            return self.type_of(args[0], seen)
        if kind == "literal":
            return literal(self.value(a) for a in args)
        if kind in ("iterator", "concat") and args:
            return {"kind": "iterator", "concat": kind == "concat",
                    "item": self.type_of(args[0], seen)}
        raise Undecidable("generic %s" % kind)

    def _opaque(self, node: ast.AST) -> Dict[str, Any]:
        """Annotated[T, Opaque]: only T's shape matters (list, optional), never T."""
        if isinstance(node, ast.Subscript):
            k = _kind_of_name(self.mod.qualname(node.value))
            if k == "list":
                return {"kind": "list", "item": simple("dict")}
            if k == "optional":
                sl = node.slice
                return {"kind": "optional", "item": self._opaque(sl)}
            if k is None:
                raise Undecidable("opaque generic")
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
            parts = _bitor_parts(node)
            rest = [p for p in parts if not (isinstance(p, ast.Constant) and p.value is None)]
            if len(rest) == 1 and len(parts) == 2:
                return {"kind": "optional", "item": self._opaque(rest[0])}
            raise Undecidable("opaque union")
        return simple("dict")

    def _union(self, parts: List[ast.AST], seen: Any) -> Dict[str, Any]:
        """`A | B | None` or Union[A, B, None] (None may be spelled NoneType)."""
        def is_none(p: ast.AST) -> bool:
            return (isinstance(p, ast.Constant) and p.value is None) or \
                self.mod.qualname(p) in ("types.NoneType", "builtins.NoneType")
        rest = [p for p in parts if not is_none(p)]
        if not rest:
            raise Undecidable("union of None only")
        return union([self.type_of(p, seen) for p in rest], len(rest) < len(parts))

    def _local_model(self, name: str, seen: Any) -> Dict[str, Any]:
        cls = self.mod.classes[name]
        if name in seen:
            raise Undecidable("recursive model")
        if not self._is_model(cls):
            raise Undecidable("class %s is not a BaseModel" % name)
        fields: List[Dict[str, Any]] = []
        for base in cls.bases:
            q = self.mod.qualname(base)
            if q and q.startswith("local."):
                fields.extend(self._local_model(q[6:], tuple(seen) + (name,))["fields"])
        for st in cls.body:
            if isinstance(st, ast.AnnAssign) and isinstance(st.target, ast.Name):
                fname = st.target.id
                if fname.startswith("_"):
                    continue
                ann = st.annotation
                if "ClassVar" in ast.dump(ann):
                    continue
                default = NO_DEFAULT
                if st.value is not None:
                    default = self.value(st.value)
                    if isinstance(default, FieldInfo):
                        default = default.default
                        if default is ...:
                            default = NO_DEFAULT
                ftype = self.type_of(ann, tuple(seen) + (name,))
                if default is NO_DEFAULT and ftype["kind"] == "optional":
                    # cog's BaseModel (as pydantic 1) defaults it to None; a
                    # pydantic model's answer depends on pydantic's version
                    if not self._is_cog_model(cls):
                        raise Undecidable("Optional field of a pydantic model")
                    default = None
                fields = [f for f in fields if f["name"] != fname]
                fields.append({"name": fname, "type": ftype, "default": default})
            elif isinstance(st, (ast.Assign, ast.FunctionDef, ast.AsyncFunctionDef, ast.Expr,
                                 ast.Pass, ast.ClassDef)):
                continue
            else:
                raise Undecidable("model body")
        return {"kind": "model", "name": name, "fields": fields}

    def _derives(self, cls: ast.ClassDef, is_base, depth: int = 0) -> bool:
        """Whether cls derives, through local classes, from a base whose
        qualified name is_base accepts."""
        if depth > 10:
            return False
        for base in cls.bases:
            q = self.mod.qualname(base)
            if is_base(q):
                return True
            if q and q.startswith("local.") and self._derives(self.mod.classes[q[6:]], is_base,
                                                               depth + 1):
                return True
        return False

    def _is_typeddict(self, cls: ast.ClassDef) -> bool:
        return self._derives(cls, lambda q: q in ("typing.TypedDict", "typing_extensions.TypedDict"))

    def _is_cog_model(self, cls: ast.ClassDef) -> bool:
        """Derived from cog.BaseModel (not pydantic's)."""
        return self._derives(cls, lambda q: q in ("cog.BaseModel", "cog.base_model.BaseModel"))

    def _is_model(self, cls: ast.ClassDef) -> bool:
        return self._derives(cls, lambda q: _kind_of_name(q) == "basemodel")

    # ----------------------------------------------------------- values
    def value(self, node: ast.AST, depth: int = 0) -> Any:
        """A literal value, a module constant, or an Input(...) call."""
        if depth > 20:
            raise Undecidable("deep value")
        if isinstance(node, ast.Name) and node.id in self.mod.consts:
            return self.value(self.mod.consts[node.id], depth + 1)
        if isinstance(node, ast.Call):
            if _kind_of_name(self.mod.qualname(node.func)) != "input":
                raise Undecidable("call")
            if node.args and len(node.args) > 1:
                raise Undecidable("Input positional arguments")
            kw = {}
            for k in node.keywords:
                if k.arg is None:
                    raise Undecidable("Input(**kwargs)")
                kw[k.arg] = self.value(k.value, depth + 1)
            if node.args:
                kw["default"] = self.value(node.args[0], depth + 1)
            try:
                return FieldInfo(**kw)
            except TypeError as e:
                raise SignatureError("Input(): %s" % e) from None
        if isinstance(node, (ast.List, ast.Tuple)):
            return [self.value(e, depth + 1) for e in node.elts]
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            v = self.value(node.operand, depth + 1)
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                return -v
            raise Undecidable("unary")
        if isinstance(node, ast.Constant):
            if node.value is Ellipsis:
                return ...
            return node.value
        try:
            return ast.literal_eval(node)
        except Exception:
            raise Undecidable("value %s" % ast.dump(node)) from None

    # -------------------------------------------------------- callables
    def find_callable(self, name: str, method: str):
        """(function node, is_method) for `name` (a class or a function)."""
        if name in self.mod.functions:
            return self.mod.functions[name], False
        cls = self.mod.classes.get(name)
        if cls is None:
            raise Undecidable("%s not defined at top level" % name)
        for _ in range(10):
            for st in cls.body:
                if not isinstance(st, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef,
                                       ast.AnnAssign, ast.Expr, ast.Pass)):
                    names = {n.id for n in ast.walk(st) if isinstance(n, ast.Name)
                             and isinstance(n.ctx, ast.Store)}
                    if method in names:
                        raise Undecidable("%s assigned in the class body" % method)
            for st in reversed(cls.body):
                if isinstance(st, (ast.FunctionDef, ast.AsyncFunctionDef)) and st.name == method:
                    if not all(self._signature_keeping(d) for d in st.decorator_list):
                        raise Undecidable("decorated %s" % method)
                    return st, True
            local = [self.mod.qualname(b) for b in cls.bases]
            local = [q[6:] for q in local if q and q.startswith("local.")]
            if len(local) != 1:
                break
            cls = self.mod.classes[local[0]]
        raise _NotInFile("%s.%s not found in the file" % (name, method))

    def default_name(self) -> str:
        """The class a bare `run.py` ref names: Runner, else Predictor."""
        for n in ("Runner", "Predictor"):
            kind = self.mod.bindings.get(n, (None, None))[0]
            if kind in ("class", "func"):
                return n
            if kind is not None:
                raise Undecidable("%s is not a plain class" % n)
        raise Undecidable("no Runner or Predictor in the file")

    def find_entry(self, name: str, method: str):
        """find_callable for train; for predict, the class's predict(), else
        its run() (Cog 0.22's BaseRunner)."""
        if method != "predict" or name in self.mod.functions:
            return self.find_callable(name, method)
        try:
            return self.find_callable(name, "predict")
        except _NotInFile:
            return self.find_callable(name, "run")

    def _signature_keeping(self, dec: ast.AST) -> bool:
        """cog.streaming and cog.concurrent(...) return the function itself."""
        if isinstance(dec, ast.Call):
            dec = dec.func
        return self.mod.qualname(dec) in ("cog.streaming", "cog.concurrent")

    def read(self, name: Optional[str], method: str) -> Dict[str, Any]:
        if self.mod.star:
            raise Undecidable("star import")
        if name is None:
            name = self.default_name()
        fn, is_method = self.find_entry(name, method)
        a = fn.args
        if a.vararg or a.kwarg:
            raise SignatureError("*args and **kwargs are not supported in %s()" % fn.name)
        params = list(a.posonlyargs) + list(a.args)
        defaults: List[Any] = [None] * (len(params) - len(a.defaults)) + list(a.defaults)
        params += list(a.kwonlyargs)
        defaults += list(a.kw_defaults)
        if is_method:
            params, defaults = params[1:], defaults[1:]
        inputs = []
        for p, d in zip(params, defaults):
            if p.annotation is None:
                raise SignatureError("No input type provided for parameter `%s`." % p.arg)
            typ = self.type_of(p.annotation)
            default = NO_DEFAULT if d is None else self.value(d)
            inputs.append(make_input(p.arg, typ, default))
        if fn.returns is None:
            raise SignatureError("You must set an output type. If your model can return "
                                 "multiple output types, you can explicitly set `Any` as the "
                                 "output type.")
        q = self.mod.qualname(fn.returns)
        if q and q.startswith("local.") and q[6:] in self.mod.classes and \
                self._is_typeddict(self.mod.classes[q[6:]]):
            raise Undecidable("a TypedDict output")  # its fields: the import path reads them
        streaming = any(self.mod.qualname(d.func if isinstance(d, ast.Call) else d) ==
                        "cog.streaming" for d in fn.decorator_list)
        return streaming_checked({"inputs": inputs, "output": check_output(self.type_of(fn.returns))},
                                 streaming)


def _bitor_parts(node: ast.AST) -> List[ast.AST]:
    """`a | b | c` parses as ((a | b) | c): its operands, left to right."""
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
        return _bitor_parts(node.left) + _bitor_parts(node.right)
    return [node]


def read_file(path: str, name: Optional[str], method: str) -> Dict[str, Any]:
    with open(path, "rb") as f:
        data = f.read(MAX_SOURCE + 1)
    if len(data) > MAX_SOURCE:
        raise Undecidable("source too large")
    try:
        source = data.decode("utf-8")
    except UnicodeDecodeError:
        raise Undecidable("source is not utf-8") from None
    return Reader(source, path).read(name, method)
