"""python -m cog.command.call_graph FILE: the models a pipeline uses.

Prints, comma-separated on one line, the string literal passed to each
replicate.use(...) call in FILE (however replicate or use was imported), in
source order; an empty line when there is none.  As in Cog 0.16, such a call
must be at the module's top level (not in a function, class or lambda) and
its model a string literal, else it is an error (status 1, one `cog: ` line).
pinion's post-build turns the line into the run.cog.r8_model_dependencies
label, a JSON list (so a model that uses none gets [""]).  The file is read,
never run.
"""
import ast
import sys

USE = "replicate.use"


class _Uses(ast.NodeVisitor):
    def __init__(self, filename):
        self.filename = filename
        self.names = {}
        self.depth = 0  # functions, classes and lambdas around the node
        self.found = []

    def visit_Import(self, node):
        for a in node.names:
            self.names[a.asname or a.name] = a.name
        self.generic_visit(node)

    def visit_ImportFrom(self, node):
        for a in node.names:
            self.names[a.asname or a.name] = "%s.%s" % (node.module, a.name) if node.module \
                else a.name
        self.generic_visit(node)

    def _scoped(self, node):
        self.depth += 1
        self.generic_visit(node)
        self.depth -= 1

    visit_FunctionDef = visit_AsyncFunctionDef = visit_ClassDef = visit_Lambda = _scoped

    def _target(self, func):
        if isinstance(func, ast.Name):
            return self.names.get(func.id, func.id)
        if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
            return "%s.%s" % (self.names.get(func.value.id, func.value.id), func.attr)
        return None

    def visit_Call(self, node):
        if self._target(node.func) == USE:
            where = "%s: line %d: " % (self.filename, node.lineno)
            if self.depth:
                raise ValueError(where + "replicate.use(...) must be at the module's top level")
            if node.args:
                arg = node.args[0]
                if not (isinstance(arg, ast.Constant) and isinstance(arg.value, str)):
                    raise ValueError(where + "the model given to replicate.use() is not a "
                                     "string literal")
                self.found.append(arg.value)
        self.generic_visit(node)


def uses(source, filename="<model>"):
    """the replicate.use() models of source, in order; ValueError as above"""
    v = _Uses(filename)
    v.visit(ast.parse(source, filename=filename))
    return v.found


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: python -m cog.command.call_graph FILE", file=sys.stderr)
        return 2
    try:
        with open(argv[0], encoding="utf-8") as f:
            found = uses(f.read(), argv[0])
    except (OSError, SyntaxError, ValueError) as e:
        print("cog: %s" % e, file=sys.stderr)
        return 1
    print(",".join(found))
    return 0


if __name__ == "__main__":
    sys.exit(main())
