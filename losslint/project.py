"""Parsed modules, their scopes and bindings, and name resolution across the scanned files.

One pass over each LibCST tree (`_Indexer`) records, per scope, what every name is bound to
(a def, a class, an import, an assigned expression, a loop's iterable, a parameter), plus the
call sites the finder cares about. Resolution then answers "what does this expression name?"
with scoping (local, enclosing functions, module, star imports), imports and aliases
(`import tensorflow as tf`, `from tensorflow.keras import backend as K`, `kl = tf.keras.losses`)
and imports between the scanned files (relative and absolute).

We resolve names ourselves rather than with LibCST's QualifiedNameProvider: we need the bound
*expressions* too (to follow `loss_fn = focal_loss(2.0)`), and one indexing pass is much
cheaper than computing the scope provider for every file.
"""

from __future__ import annotations

import ast
import bisect
import dataclasses
import fnmatch
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import libcst as cst

from losslint import catalogue
from losslint.prefilter import text_matches

# Top-level packages that are never the scanned project: an import of one of these is only
# matched against a scanned module of exactly that name.
_EXTERNAL_ROOTS = frozenset(sys.stdlib_module_names) | {
    "tensorflow", "keras", "tf_keras", "numpy", "scipy", "torch", "jax", "sklearn", "pandas",
    "matplotlib", "cv2", "PIL", "tqdm", "absl", "segmentation_models", "tensorflow_addons",
}


# --------------------------------------------------------------------------------------------
# Bindings


@dataclass(eq=False)
class Binding:
    """What a name is bound to in one scope. Subclasses say how."""

    scope: "Scope"


@dataclass(eq=False)
class DefBinding(Binding):
    function: "FunctionInfo"


@dataclass(eq=False)
class ClassBinding(Binding):
    cls: "ClassInfo"


@dataclass(eq=False)
class ImportBinding(Binding):
    qualified: str  # absolute dotted name, relative imports already resolved


@dataclass(eq=False)
class AssignBinding(Binding):
    value: cst.BaseExpression


@dataclass(eq=False)
class ExtendBinding(Binding):
    """`name += value`: what the name held before, plus `value` (a list of metrics or losses
    grown in place). Not a value on its own: the evaluator treats it as unknown."""

    value: cst.BaseExpression


@dataclass(eq=False)
class IterBinding(Binding):
    iterable: cst.BaseExpression  # `for name in iterable`


@dataclass(eq=False)
class ParamBinding(Binding):
    function: "FunctionInfo"
    name: str


@dataclass(eq=False)
class OpaqueBinding(Binding):
    """Bound in a way we do not follow (with-as, except-as, walrus in comprehension...)."""


@dataclass(eq=False)
class UnpackedBinding(OpaqueBinding):
    """`a, b = value` with a value that is not a literal tuple (`model, base = build()`):
    element `index` of whatever `value` is. Opaque to everything but what follows factories."""

    value: cst.BaseExpression | None = None
    index: int = 0


@dataclass(eq=False)
class Scope:
    kind: str  # "module", "class", "function"
    node: cst.CSTNode
    parent: "Scope | None"
    module: "ModuleInfo"
    bindings: dict[str, list[Binding]] = field(default_factory=dict)

    def bind(self, name: str, binding: Binding) -> None:
        self.bindings.setdefault(name, []).append(binding)

    def lookup(self, name: str) -> list[Binding]:
        """Python's rule: this scope, then enclosing *function* scopes, then the module."""
        scope: Scope | None = self
        first = True
        while scope is not None:
            if (first or scope.kind != "class") and name in scope.bindings:
                return scope.bindings[name]
            first = False
            scope = scope.parent
        return []


# --------------------------------------------------------------------------------------------
# Functions, classes, modules


@dataclass(eq=False)
class FunctionInfo:
    node: cst.FunctionDef | cst.Lambda
    module: "ModuleInfo"
    qualname: str
    scope: Scope  # the function's own scope
    cls: "ClassInfo | None" = None  # set for methods
    called_names: set[str] = field(default_factory=set)

    @property
    def name(self) -> str:
        return self.node.name.value if isinstance(self.node, cst.FunctionDef) else "<lambda>"

    @property
    def params(self) -> cst.Parameters:
        return self.node.params

    def positional_params(self) -> list[cst.Param]:
        return [*self.node.params.posonly_params, *self.node.params.params]

    @property
    def takes_self(self) -> bool:
        """A method called on an instance or class: its first parameter is bound by Python
        (not a `@staticmethod`)."""
        return self.cls is not None and not any(
            isinstance(d, cst.Name) and d.value == "staticmethod" for d in self.decorators())

    def call_params(self) -> list[cst.Param]:
        """The positional parameters a caller fills: without `self`/`cls` for methods."""
        params = self.positional_params()
        return params[1:] if self.takes_self and params else params

    def required_positional(self) -> list[str]:
        return [p.name.value for p in self.call_params() if p.default is None]

    def decorators(self) -> list[cst.BaseExpression]:
        if isinstance(self.node, cst.FunctionDef):
            return [d.decorator for d in self.node.decorators]
        return []


@dataclass(eq=False)
class ClassInfo:
    node: cst.ClassDef
    module: "ModuleInfo"
    qualname: str
    scope: Scope  # the class body's scope
    methods: dict[str, FunctionInfo] = field(default_factory=dict)
    # `self.<attr> = <expr>` anywhere in the class's methods, in source order.
    self_attrs: dict[str, list[tuple[cst.BaseExpression, FunctionInfo]]] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.node.name.value


@dataclass(eq=False)
class CallSite:
    call: cst.Call
    scope: Scope
    in_function: FunctionInfo | None


@dataclass(eq=False)
class ModuleInfo:
    path: Path
    display: str
    name: str  # dotted module name
    is_package: bool
    tree: cst.Module
    source: str  # the text `tree` was parsed from: `tree.code == source`
    notebook: object | None = None  # notebook.NotebookSource for .ipynb files
    # The file has a syntax error: `source` is its text with the top-level statements that do
    # not parse blanked (losslint/recovery.py). Analysed, never fixed.
    recovered: bool = False
    scope: Scope | None = None
    functions: list[FunctionInfo] = field(default_factory=list)
    classes: list[ClassInfo] = field(default_factory=list)
    star_imports: list[str] = field(default_factory=list)
    # Calls the finder inspects after indexing (compile, load_model, map_fn, strategy.run...).
    call_sites: list[CallSite] = field(default_factory=list)
    # Every call by the last name of its callee, to follow a loss passed as an argument
    # (`def train(model, loss_fn): model.compile(loss=loss_fn)` ... `train(m, dice_loss)`).
    calls_by_name: dict[str, list[CallSite]] = field(default_factory=dict)
    # Names called inside `with tf.GradientTape()` blocks: custom training loops.
    tape_called_names: set[str] = field(default_factory=set)
    # Calls made inside `with tf.GradientTape()` blocks, to resolve what they call.
    tape_calls: list[CallSite] = field(default_factory=list)
    # `registry[key] = value` item assignments (`LOSSES["dice"] = dice_loss`,
    # `get_custom_objects()["focal"] = focal`), in source order.
    item_assigns: list[tuple[cst.Subscript, cst.BaseExpression, "Scope"]] = field(default_factory=list)
    # `obj.attr = value` on anything but a method's own `self` (`trainer.model.loss = focal`),
    # by attribute name: what code outside a class gives the attributes it reads.
    attr_assigns: dict[str, list[tuple[cst.BaseExpression, "Scope"]]] = field(default_factory=dict)
    _positions: object | None = None
    _python_tree: object | None = None  # Python's ast of `source`, for `_function_bounds`

    def package(self) -> str:
        return self.name if self.is_package else self.name.rpartition(".")[0]

    def span(self, node: cst.CSTNode, within: FunctionInfo | None = None):
        """1-based line/column range of `node`; `within` is the function that holds it, to
        tell apart copies of the same text.

        LibCST computes positions by generating the whole module's code, which cost more than
        parsing it (1.5 s against 0.6 s for 210 modules with findings on the benchmark
        corpus). A node's code is a verbatim piece of the source, so when that piece occurs
        once in the source, or once within the lines of `within` (found with Python's own,
        ten times cheaper, parser), its offset is its position; only the other nodes (and
        statements) pay for the codegen.
        """
        if self._positions is None:
            found = self._find_text(node, within)
            if found is not None:
                return found
            self._positions = _positions(self.tree)
        rng = self._positions[node]
        return rng.start.line, rng.start.column + 1, rng.end.line, rng.end.column + 1

    def _function_bounds(self, qualname: str) -> tuple[int, int] | None:
        """Offsets of the lines of the one definition at `qualname`, or None."""
        if self._python_tree is None:
            try:
                self._python_tree = compile(self.source, "<losslint>", "exec", ast.PyCF_ONLY_AST)
            except (SyntaxError, ValueError, RecursionError, MemoryError):
                self._python_tree = False
        node = self._python_tree
        if node is False or "<lambda>" in qualname:
            return None
        for name in qualname.split("."):
            if name == "<locals>":
                continue
            matches = [d for d in _definitions(node) if d.name == name]
            if len(matches) != 1:
                return None
            node = matches[0]
        first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
        lines = self.source.splitlines(keepends=True)
        start = sum(len(line) for line in lines[:first - 1])
        return start, start + sum(len(line) for line in lines[first - 1:node.end_lineno])

    def _find_text(self, node: cst.CSTNode, within: FunctionInfo | None):
        if not isinstance(node, cst.BaseExpression):
            return None  # statements' code includes the blank lines and comments before them
        source = self.source
        if "\r" in source and source.count("\r") != source.count("\r\n"):
            return None  # a lone CR breaks lines too: leave the counting to LibCST
        text = code_of(node, self.tree)
        if not text:
            return None
        start = _only_occurrence(source, text, 0, len(source))
        if start is None and within is not None:
            bounds = self._function_bounds(within.qualname)
            if bounds is not None:
                start = _only_occurrence(source, text, *bounds)
        if start is None:
            return None
        end = start + len(text)
        # LibCST's position of a parenthesised expression leaves out its parentheses.
        start += sum(len(self.tree.code_for_node(paren)) for paren in getattr(node, "lpar", ()))
        end -= sum(len(self.tree.code_for_node(paren)) for paren in getattr(node, "rpar", ()))
        text = source[start:end]
        line = source.count("\n", 0, start) + 1
        end_line = line + text.count("\n")
        column = start - source.rfind("\n", 0, start)
        end_column = end - source.rfind("\n", 0, end)
        return line, column, end_line, end_column


def _definitions(parent) -> list:
    """The functions and classes defined directly in `parent`'s body, also under compound
    statements (`if`, `try`, ...), not inside other functions or classes."""
    found, todo = [], list(getattr(parent, "body", []))
    while todo:
        node = todo.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            found.append(node)
            continue
        for block in ("body", "orelse", "finalbody", "handlers", "cases"):
            todo.extend(getattr(node, block, None) or [])
    return found


def _only_occurrence(text: str, piece: str, start: int, end: int) -> int | None:
    """The offset of `piece` in `text[start:end]` when it occurs there exactly once."""
    first = text.find(piece, start, end)
    if first < 0 or text.find(piece, first + 1, end) >= 0:
        return None
    return first


def _positions(tree: cst.Module):
    """Every node's position, as LibCST's PositionProvider computes it.

    `PositionProvider` records positions while generating the module's code; going through
    `MetadataWrapper` adds a visit of the whole tree on top, which doubled the cost (7.0 ms
    against 3.9 ms a module on the benchmark corpus). Same codegen state, without the visit;
    the wrapper remains the fallback should LibCST's internals move.
    """
    try:
        from libcst.metadata.position_provider import PositionProvidingCodegenState

        provider = cst.metadata.PositionProvider()
        state = PositionProvidingCodegenState(default_indent=tree.default_indent,
                                              default_newline=tree.default_newline, provider=provider)
        tree._codegen(state)
        return provider._computed
    except (ImportError, AttributeError, TypeError):
        wrapper = cst.metadata.MetadataWrapper(tree, unsafe_skip_copy=True)
        return wrapper.resolve(cst.metadata.PositionProvider)


# Call names whose sites the finder needs; everything else is not recorded.
_INTERESTING_CALLS = frozenset({
    "compile", "map_fn", "vectorized_map", "map", "run", "experimental_run_v2", "load_model",
    "custom_object_scope", "CustomObjectScope", "model_from_json", "model_from_config",
    "clone_model", "deserialize_keras_object", "LossFunctionWrapper", "get", "update",
    "partial", "deserialize",
})
_CTL_METHODS = frozenset({"train_step", "test_step", "predict_step", "compute_loss"})


def dotted_name(expr: cst.BaseExpression) -> str | None:
    """`a.b.c` for a Name/Attribute chain, else None."""
    if isinstance(expr, cst.Name):
        return expr.value
    if isinstance(expr, cst.Attribute):
        base = dotted_name(expr.value)
        return f"{base}.{expr.attr.value}" if base else None
    return None


_CODEGEN = cst.Module(body=[])


def code_of(node: cst.CSTNode, module: cst.Module = _CODEGEN) -> str:
    """The source text of an expression node, as `module.code_for_node` gives it (the
    module decides the newlines of a node that spans lines). A plain `a.b.c` (no
    parentheses, no spaces around its dots: nearly every callee) is joined directly;
    generating its code costs a hundred times more."""
    parts = []
    part = node
    while type(part) is cst.Attribute and not part.lpar and not part.rpar and _tight(part.dot):
        parts.append(part.attr.value)
        part = part.value
    if type(part) is cst.Name and not part.lpar and not part.rpar:
        parts.append(part.value)
        return ".".join(reversed(parts))
    return module.code_for_node(node)


def _tight(dot: cst.Dot) -> bool:
    before, after = dot.whitespace_before, dot.whitespace_after
    return (type(before) is cst.SimpleWhitespace and not before.value
            and type(after) is cst.SimpleWhitespace and not after.value)


def last_name(expr: cst.BaseExpression) -> str | None:
    if isinstance(expr, cst.Name):
        return expr.value
    if isinstance(expr, cst.Attribute):
        return expr.attr.value
    return None


# Fields that hold whitespace and punctuation, never code: skipped when walking a tree.
_SKIPPED_FIELDS = frozenset({
    "lpar", "rpar", "comma", "semicolon", "colon", "equal", "leading_lines", "header", "footer",
    "lines_after_decorators", "newline", "trailing_whitespace", "lbracket", "rbracket", "lbrace",
    "rbrace", "whitespace_before", "whitespace_after", "star", "dot", "operator", "asynchronous",
    "encoding", "default_indent", "default_newline", "has_trailing_newline", "indent",
    "whitespace_before_colon", "whitespace_after_colon", "whitespace_before_params",
    "whitespace_after_def", "whitespace_after_name", "whitespace_before_indicator",
    "whitespace_after_indicator", "whitespace_after_star", "whitespace_after_param",
    "whitespace_before_walrus", "whitespace_after_walrus", "whitespace_after_at",
    "whitespace_after_arg", "whitespace_before_arg", "whitespace_after_class",
    "whitespace_after_import", "whitespace_after_from", "whitespace_before_import",
    "whitespace_after_in", "whitespace_before_in", "whitespace_after_for", "whitespace_after_if",
    "whitespace_before_if", "whitespace_before_else", "whitespace_after_else",
    "whitespace_after_lambda", "whitespace_after_return", "whitespace_after_await",
    "whitespace_after_as", "whitespace_before_as", "whitespace_after_with", "whitespace_after_yield",
    "whitespace_after_del", "whitespace_after_assert", "whitespace_after_raise",
    "whitespace_after_global", "whitespace_after_nonlocal", "whitespace_after_except",
})
_FIELDS: dict[type, tuple[str, ...]] = {}
_NODE_TYPES: set[type] = set()  # every concrete LibCST node class, once one is walked


def children(node: cst.CSTNode):
    """A node's child nodes that can hold code, in field order.

    LibCST's visitor protocol rebuilds every node it passes (it is a transformer at heart),
    which costs more than parsing; reading the dataclass fields directly is several times
    faster and is all an analysis needs. Node classes are told apart by a set lookup:
    `isinstance` against LibCST's abstract base class cost a third of the walk.
    """
    names = _FIELDS.get(type(node))
    if names is None:
        names = tuple(f.name for f in dataclasses.fields(node)
                      if f.name not in _SKIPPED_FIELDS and not f.name.startswith("whitespace"))
        _FIELDS[type(node)] = names
        if not _NODE_TYPES:
            _NODE_TYPES.update(_subclasses(cst.CSTNode))
    for name in names:
        value = getattr(node, name)
        kind = type(value)
        if kind in _NODE_TYPES:
            yield value
        elif kind is tuple or kind is list:
            for item in value:
                if type(item) in _NODE_TYPES:
                    yield item


def _subclasses(cls: type) -> set[type]:
    found = set()
    for sub in cls.__subclasses__():
        found.add(sub)
        found |= _subclasses(sub)
    return found


class Walker:
    """Depth-first walk calling `visit_<NodeClass>` where defined; returning False prunes."""

    def walk(self, node: cst.CSTNode) -> None:
        visitors = type(self).__dict__.get("_visitors")
        if visitors is None:
            visitors = type(self)._visitors = {}
        kind = type(node)
        try:
            method = visitors[kind]
        except KeyError:
            method = visitors[kind] = getattr(type(self), "visit_" + kind.__name__, None)
        if method is not None and method(self, node) is False:
            return
        for child in children(node):
            self.walk(child)


def import_from_base(module: "ModuleInfo", node: cst.ImportFrom) -> str:
    """The absolute module a `from ... import` names, relative imports resolved against
    `module`'s package (`from .losses import x` in pkg/train.py -> `pkg.losses`)."""
    base = dotted_name(node.module) if node.module is not None else ""
    if node.relative:
        package = module.package().split(".") if module.package() else []
        up = len(node.relative) - 1
        if up:
            package = package[:-up] if up <= len(package) else []
        base = ".".join(p for p in [*package, base] if p)
    return base or ""


class _Indexer(Walker):
    """Builds scopes, bindings, function/class records and interesting call sites."""

    def __init__(self, module: ModuleInfo) -> None:
        self.module = module
        module.scope = Scope("module", module.tree, None, module)
        self.scopes: list[Scope] = [module.scope]
        self.functions: list[FunctionInfo | None] = [None]
        self.classes: list[ClassInfo | None] = [None]
        self.qual: list[str] = []
        self.tape_depth = 0

    # -- helpers -------------------------------------------------------------------------
    @property
    def scope(self) -> Scope:
        return self.scopes[-1]

    def _qualname(self, name: str) -> str:
        return ".".join([*self.qual, name])

    def _bind_target(self, target: cst.BaseExpression, value: cst.BaseExpression | None,
                     iterable: cst.BaseExpression | None = None) -> None:
        if isinstance(target, cst.Name):
            if iterable is not None:
                self.scope.bind(target.value, IterBinding(self.scope, iterable))
            elif value is not None:
                self.scope.bind(target.value, AssignBinding(self.scope, value))
            else:
                self.scope.bind(target.value, OpaqueBinding(self.scope))
        elif isinstance(target, (cst.Tuple, cst.List)):
            values = None
            if isinstance(value, (cst.Tuple, cst.List)) and len(value.elements) == len(target.elements):
                values = [e.value for e in value.elements]
            starred = any(isinstance(e, cst.StarredElement) for e in target.elements)
            for i, element in enumerate(target.elements):
                sub = element.value
                if isinstance(element, cst.StarredElement):
                    self._bind_target(sub, None)
                elif values:
                    self._bind_target(sub, values[i])
                elif isinstance(sub, cst.Name) and value is not None and iterable is None and not starred:
                    self.scope.bind(sub.value, UnpackedBinding(self.scope, value, i))
                else:
                    self._bind_target(sub, None)
        elif isinstance(target, cst.Attribute) and value is not None:
            self._record_self_attr(target, value)
        elif isinstance(target, cst.Subscript) and value is not None:
            self.module.item_assigns.append((target, value, self.scope))
        elif isinstance(target, cst.StarredElement):
            self._bind_target(target.value, None)

    def _record_self_attr(self, target: cst.Attribute, value: cst.BaseExpression) -> None:
        function = self.functions[-1]
        if function is not None and function.cls is not None and isinstance(target.value, cst.Name):
            params = function.positional_params()
            if params and params[0].name.value == target.value.value:
                function.cls.self_attrs.setdefault(target.attr.value, []).append((value, function))
                return
        self.module.attr_assigns.setdefault(target.attr.value, []).append((value, self.scope))

    def _enter_function(self, node: cst.FunctionDef | cst.Lambda, name: str) -> None:
        parent_class = self.classes[-1] if self.scope.kind == "class" else None
        qualname = self._qualname(name)
        scope = Scope("function", node, self.scope, self.module)
        info = FunctionInfo(node, self.module, qualname, scope, cls=parent_class)
        self.module.functions.append(info)
        if isinstance(node, cst.FunctionDef):
            self.scope.bind(name, DefBinding(self.scope, info))
            if parent_class is not None:
                parent_class.methods[name] = info
        params = node.params
        for param in [*params.posonly_params, *params.params, *params.kwonly_params]:
            scope.bind(param.name.value, ParamBinding(scope, info, param.name.value))
        for star in (params.star_arg, params.star_kwarg):
            if isinstance(star, cst.Param):
                scope.bind(star.name.value, ParamBinding(scope, info, star.name.value))
        self.scopes.append(scope)
        self.functions.append(info)
        self.classes.append(None)
        self.qual.extend([name, "<locals>"])

    def _leave_function(self) -> None:
        self.scopes.pop()
        self.functions.pop()
        self.classes.pop()
        del self.qual[-2:]

    # -- scopes --------------------------------------------------------------------------
    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        # Decorators and defaults are evaluated in the enclosing scope: visit them first.
        for decorator in node.decorators:
            self.walk(decorator)
        for param in [*node.params.posonly_params, *node.params.params, *node.params.kwonly_params]:
            if param.default is not None:
                self.walk(param.default)
        self._enter_function(node, node.name.value)
        self.walk(node.body)
        self._leave_function()
        return False

    def visit_Lambda(self, node: cst.Lambda) -> None:
        self._enter_function(node, "<lambda>")
        self.walk(node.body)
        self._leave_function()
        return False

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        for decorator in node.decorators:
            self.walk(decorator)
        for base in node.bases:
            self.walk(base)
        qualname = self._qualname(node.name.value)
        scope = Scope("class", node, self.scope, self.module)
        info = ClassInfo(node, self.module, qualname, scope)
        self.module.classes.append(info)
        self.scope.bind(node.name.value, ClassBinding(self.scope, info))
        self.scopes.append(scope)
        self.classes.append(info)
        self.functions.append(None)
        self.qual.append(node.name.value)
        self.walk(node.body)
        self.qual.pop()
        self.functions.pop()
        self.classes.pop()
        self.scopes.pop()
        return False

    # -- bindings ------------------------------------------------------------------------
    def visit_Assign(self, node: cst.Assign) -> None:
        for target in node.targets:
            self._bind_target(target.target, node.value)

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        self._bind_target(node.target, node.value)

    def visit_AugAssign(self, node: cst.AugAssign) -> None:
        if isinstance(node.target, cst.Name):
            if isinstance(node.operator, cst.AddAssign):
                self.scope.bind(node.target.value, ExtendBinding(self.scope, node.value))
            else:
                self.scope.bind(node.target.value, OpaqueBinding(self.scope))

    def visit_NamedExpr(self, node: cst.NamedExpr) -> None:
        self._bind_target(node.target, node.value)

    def visit_For(self, node: cst.For) -> None:
        self._bind_target(node.target, None, iterable=node.iter)

    def visit_CompFor(self, node: cst.CompFor) -> None:
        # Comprehension variables live in their own scope in Python 3; binding them in the
        # enclosing scope is harmless for what we resolve and keeps the model simple.
        self._bind_target(node.target, None, iterable=node.iter)

    def visit_With(self, node: cst.With) -> None:
        tape = False
        for item in node.items:
            if item.asname is not None:
                self._bind_target(item.asname.name, None)
            call = item.item
            if isinstance(call, cst.Call) and last_name(call.func) == "GradientTape":
                tape = True
        if tape:
            self.tape_depth += 1
            self.walk(node.body)
            self.tape_depth -= 1
            return False
        return None

    def visit_ExceptHandler(self, node: cst.ExceptHandler) -> None:
        if node.name is not None:
            self._bind_target(node.name.name, None)

    def visit_Import(self, node: cst.Import) -> None:
        for alias in node.names:
            full = dotted_name(alias.name)
            if full is None:
                continue
            if alias.asname is not None and isinstance(alias.asname.name, cst.Name):
                self.scope.bind(alias.asname.name.value, ImportBinding(self.scope, full))
            else:
                head = full.split(".")[0]
                self.scope.bind(head, ImportBinding(self.scope, head))

    def visit_ImportFrom(self, node: cst.ImportFrom) -> None:
        base = import_from_base(self.module, node)
        if isinstance(node.names, cst.ImportStar):
            if base:
                self.module.star_imports.append(base)
            return
        for alias in node.names:
            name = dotted_name(alias.name)
            if name is None:
                continue
            local = name
            if alias.asname is not None and isinstance(alias.asname.name, cst.Name):
                local = alias.asname.name.value
            qualified = f"{base}.{name}" if base else name
            self.scope.bind(local, ImportBinding(self.scope, qualified))

    def visit_Global(self, node: cst.Global) -> None:
        return None

    # -- call sites ----------------------------------------------------------------------
    def visit_Call(self, node: cst.Call) -> None:
        name = last_name(node.func)
        function = self.functions[-1]
        if name is not None:
            if function is not None:
                function.called_names.add(name)
            site = CallSite(node, self.scope, function)
            if self.tape_depth:
                self.module.tape_called_names.add(name)
                self.module.tape_calls.append(site)
            self.module.calls_by_name.setdefault(name, []).append(site)
            if name in _INTERESTING_CALLS:
                self.module.call_sites.append(site)


# --------------------------------------------------------------------------------------------
# The project: every scanned module, and resolution between them


@dataclass(frozen=True)
class External:
    """A name outside the scanned code, canonicalised (`keras.backend.mean`). `assumed` is the
    conventional alias (`K`, `tf`, `np`) it was read through when nothing binds that name."""

    qualified: str
    assumed: str | None = None


Resolved = "External | FunctionInfo | ClassInfo | ModuleInfo | Binding"


@dataclass(eq=False)
class PendingModule:
    """A file registered by name and path but not parsed yet (`Project.add_pending`)."""

    path: Path
    display: str
    name: str
    is_package: bool
    data: bytes
    slot: int


class Project:
    """Every module of the analysis, and name resolution between them.

    Modules can be added *pending* (`add_pending`): registered by name and path, and parsed
    only when resolution reaches them (an import, an attribute of a package, a call by name
    of a function passed as a loss). losslint/incremental.py registers this way the files of
    a group that contain none of the words the finder starts from (`catalogue.LOSS_ENTRY_WORDS`):
    such a file has no compile call, no `(y_true, y_pred)` function, no `call` of a Loss
    subclass, no training loop, so the finder's passes over all modules find nothing in it;
    it matters only as a place names lead to. A real repository's largest group (hundreds of
    files importing each other through `__init__.py`) is mostly such files.
    """

    def __init__(self, load: Callable[[Project, PendingModule], list] | None = None) -> None:
        """`load(project, pending)` parses a pending module into the project (with `add`) and
        returns its file-level findings, which are kept in `late_findings`."""
        self.modules: list[ModuleInfo] = []  # parsed, in the order they were added (pending: registered)
        self.by_name: dict[str, list[ModuleInfo | PendingModule]] = {}
        self.by_stem: dict[str, list[ModuleInfo | PendingModule]] = {}
        self._lookup_cache: dict[tuple[str, int], object] = {}
        self._slots: list[int] = []  # of `modules`
        self._pending: dict[str, PendingModule] = {}  # by path
        self._registered = 0  # modules added or registered so far: the next one's slot
        self._load = load
        self.late_findings: list = []
        self.text_queries: set[tuple[str, str]] = set()  # asked of pending modules: `_parse_matching`

    def add(self, module: ModuleInfo) -> bool:
        """Index a module; False (and nothing added) when it is nested beyond the recursion limit."""
        try:
            _Indexer(module).walk(module.tree)
        except RecursionError:
            return False
        pending = self._pending.pop(str(module.path), None)
        if pending is None:
            slot = self._registered
            self._registered += 1
            self.by_name.setdefault(module.name, []).append(module)
            self.by_stem.setdefault(module.name.rsplit(".", 1)[-1], []).append(module)
        else:  # takes its place everywhere
            slot = pending.slot
            for table, key in ((self.by_name, pending.name), (self.by_stem, pending.name.rsplit(".", 1)[-1])):
                entries = table[key]
                entries[entries.index(pending)] = module
        position = bisect.bisect(self._slots, slot)
        self._slots.insert(position, slot)
        self.modules.insert(position, module)
        return True

    def add_pending(self, path: Path, display: str, name: str, is_package: bool, data: bytes) -> None:
        pending = PendingModule(path, display, name, is_package, data, self._registered)
        self._registered += 1
        self._pending[str(path)] = pending
        self.by_name.setdefault(name, []).append(pending)
        self.by_stem.setdefault(name.rsplit(".", 1)[-1], []).append(pending)

    def _parsed(self, module: ModuleInfo | PendingModule | None) -> ModuleInfo | PendingModule | None:
        """`module`, parsed if it was pending; None if it turns out not to parse (it is then
        dropped from the tables, as if never added: call again for the next candidate)."""
        if not isinstance(module, PendingModule):
            return module
        if self._load is None:
            raise RuntimeError("a pending module, and no loader")
        self.late_findings += self._load(self, module)
        if str(module.path) in self._pending:  # not added: does not parse
            del self._pending[str(module.path)]
            self.by_name[module.name].remove(module)
            self.by_stem[module.name.rsplit(".", 1)[-1]].remove(module)
            return None
        return next(m for m in self.by_name[module.name] if m.path == module.path)

    def parse_calling(self, name: str) -> None:
        """Parse the pending modules that may call a function `name` (`name(` in the text),
        before looking for its calls everywhere (`ModuleInfo.calls_by_name`)."""
        self._parse_matching(("calling", name))

    def parse_assigning(self, attr: str) -> None:
        """Parse the pending modules that may assign an attribute `attr` (`.attr =`)."""
        self._parse_matching(("assigning", attr))

    def parse_defining(self, name: str) -> None:
        """Parse the pending modules that may define a function `name` (`def name`)."""
        self._parse_matching(("defining", name))

    def _parse_matching(self, query: tuple[str, str]) -> None:
        # Every question asked of the pending modules' text is kept (`text_queries`): the
        # answers, with the parsed files' contents, are all the analysis read of the group, so
        # a later edit that changes neither leaves its result as it was (losslint/incremental.py).
        self.text_queries.add(query)
        for pending in [p for p in self._pending.values() if text_matches(query, p.data)]:
            self._parsed(pending)

    def pending_displays(self) -> list[str]:
        """The files still registered and never parsed: the analysis read none of their code."""
        return [pending.display for pending in self._pending.values()]

    def release(self) -> None:
        """Break the index's reference cycles (a scope and its bindings, a module and its
        functions, a class and its methods), so that reference counting frees the trees as
        soon as the project is dropped. Workers run with the cyclic collector paused
        (`loading.paused_gc`): without this every group's trees stayed until the process
        ended, and a run in one process paid for a collection over all of them (0.35 s on
        tensorflow/examples)."""
        for module in self.modules:
            scopes = [module.scope, *(f.scope for f in module.functions), *(c.scope for c in module.classes)]
            for scope in scopes:
                if scope is not None:
                    scope.bindings.clear()
            for cls in module.classes:
                cls.methods.clear()
                cls.self_attrs.clear()
            module.functions.clear()
            module.classes.clear()
            module.call_sites.clear()
            module.calls_by_name.clear()
            module.tape_calls.clear()
            module.item_assigns.clear()
            module.attr_assigns.clear()
            module.scope = None
        self.modules.clear()
        self.by_name.clear()
        self.by_stem.clear()
        self._lookup_cache.clear()
        self._pending.clear()

    def functions(self):
        for module in list(self.modules):
            yield from module.functions

    def classes(self):
        for module in list(self.modules):
            yield from module.classes

    # -- modules -------------------------------------------------------------------------
    def find_module(self, requested: str, importer: ModuleInfo | None) -> ModuleInfo | None:
        """The scanned module an import names, if any.

        Exact dotted names first. Failing that, the import may be spelled from another root
        than our package computation (`from src.losses import x` where `src/` has no
        `__init__.py`, or a script importing its sibling `losses.py`): accept a module whose
        file path ends with the requested parts, preferring the one nearest the importer.
        Imports of third-party roots (`tensorflow.keras.losses`) only match exactly.
        """
        exact = self.by_name.get(requested)
        if exact:
            found = self._parsed(self._nearest(exact, importer))
            return found if found is not None else self.find_module(requested, importer)
        parts = requested.split(".")
        if parts[0] in _EXTERNAL_ROOTS:
            return None
        candidates = []
        for module in self.by_stem.get(parts[-1], ()):
            path_parts = module.path.resolve().with_suffix("").parts
            if module.is_package:
                path_parts = module.path.resolve().parent.parts
            if tuple(path_parts[-len(parts):]) == tuple(parts):
                candidates.append(module)
        if not candidates:
            return None
        found = self._parsed(self._nearest(candidates, importer))
        return found if found is not None else self.find_module(requested, importer)

    @staticmethod
    def _nearest(candidates: list, importer: ModuleInfo | None):
        if len(candidates) == 1 or importer is None:
            return candidates[0]
        origin = importer.path.resolve().parts

        def shared(module: ModuleInfo) -> int:
            n = 0
            for a, b in zip(origin, module.path.resolve().parts, strict=False):
                if a != b:
                    break
                n += 1
            return n

        return max(candidates, key=shared)

    def lookup_qualified(self, qualified: str, importer: ModuleInfo | None, depth: int = 0):
        """A scanned entity (module, function, class, binding) for a dotted name, or None."""
        key = (qualified, id(importer))
        if key in self._lookup_cache:
            return self._lookup_cache[key]
        self._lookup_cache[key] = None  # cycle guard
        result = None
        parts = qualified.split(".")
        for cut in range(len(parts), 0, -1):
            module = self.find_module(".".join(parts[:cut]), importer)
            if module is None:
                continue
            result = module
            for attr in parts[cut:]:
                result = self.member(result, attr, depth + 1)
                if result is None:
                    break
            if result is not None:
                break
        self._lookup_cache[key] = result
        return result

    def member(self, entity, attr: str, depth: int = 0):
        """`entity.attr` for a scanned module or class."""
        if depth > 20:
            return None
        if isinstance(entity, ModuleInfo):
            bindings = entity.scope.bindings.get(attr)
            if not bindings:
                # `import pkg.sub` makes `pkg.sub` reachable as an attribute of `pkg`.
                while True:
                    found = self._parsed(self.by_name.get(f"{entity.name}.{attr}", [None])[0])
                    if found is not None or not self.by_name.get(f"{entity.name}.{attr}"):
                        return found
            return self.entity_of(bindings[-1], depth + 1)
        if isinstance(entity, ClassInfo):
            if attr in entity.methods:
                return entity.methods[attr]
            bindings = entity.scope.bindings.get(attr)
            return self.entity_of(bindings[-1], depth + 1) if bindings else None
        return None

    def entity_of(self, binding: Binding, depth: int = 0):
        if isinstance(binding, DefBinding):
            return binding.function
        if isinstance(binding, ClassBinding):
            return binding.cls
        if isinstance(binding, ImportBinding):
            found = self.lookup_qualified(binding.qualified, binding.scope.module, depth + 1)
            if found is not None:
                return found
            duck = _duck_import(binding.qualified)
            return External(duck) if duck is not None else External(catalogue.canonical(binding.qualified))
        return binding

    # -- expressions ---------------------------------------------------------------------
    def resolve(self, expr: cst.BaseExpression, scope: Scope, depth: int = 0):
        """What a Name/Attribute chain refers to: External, FunctionInfo, ClassInfo,
        ModuleInfo, or the Binding of a variable (AssignBinding, ParamBinding, ...)."""
        if depth > 20:
            return None
        if isinstance(expr, cst.Name):
            bindings = scope.lookup(expr.value)
            if not bindings:
                for star in scope.module.star_imports:
                    found = self.lookup_qualified(f"{star}.{expr.value}", scope.module, depth + 1)
                    if found is not None:
                        return found
                    candidate = catalogue.canonical(f"{star}.{expr.value}")
                    if _known_external(candidate):
                        return External(candidate)
                alias = catalogue.CONVENTIONAL_ALIASES.get(expr.value)
                if alias is not None:
                    # A notebook cell or snippet that uses `K.`/`tf.`/`np.` imported elsewhere
                    # (an earlier cell, another file): read it as everybody means it.
                    return External(alias, assumed=expr.value)
                return External(expr.value)  # a builtin, or undefined
            binding = bindings[-1]
            entity = self.entity_of(binding, depth + 1)
            if isinstance(entity, AssignBinding):
                # An alias of a module or API (`kl = tf.keras.losses`): follow it.
                if isinstance(entity.value, (cst.Name, cst.Attribute)):
                    aliased = self.resolve(entity.value, entity.scope, depth + 1)
                    if isinstance(aliased, (External, ModuleInfo)):
                        return aliased
            if isinstance(entity, (AssignBinding, ParamBinding, OpaqueBinding)):
                injected = catalogue.INJECTED_MODULES.get(expr.value)
                if injected is not None:
                    # `backend = kwargs["backend"]`: a backend handed over at run time
                    return External(injected, assumed=expr.value)
            return entity
        if isinstance(expr, cst.Attribute):
            base = self.resolve(expr.value, scope, depth + 1)
            attr = expr.attr.value
            if isinstance(base, External):
                if attr in catalogue.DUCK_APIS and base.qualified.split(".")[0] not in catalogue.API_ROOTS:
                    # a proxy object of a package that is not scanned (`from . import KERAS_DEPS`
                    # in a file checked alone): the name decides, as below
                    return External(catalogue.DUCK_APIS[attr])
                return External(catalogue.canonical(f"{base.qualified}.{attr}"), base.assumed)
            if isinstance(base, (ModuleInfo, ClassInfo)):
                found = self.member(base, attr, depth + 1)
                if found is not None:
                    return found
            elif attr in catalogue.DUCK_APIS:
                # an object the scan cannot follow (a lazy-import proxy): the name decides
                return External(catalogue.DUCK_APIS[attr])
            elif attr in catalogue.INJECTED_MODULES:
                # `self.backend`, set by the library at run time
                return External(catalogue.INJECTED_MODULES[attr], assumed=attr)
            return None
        return None

    def qualified_name(self, expr: cst.BaseExpression, scope: Scope) -> str | None:
        resolved = self.resolve(expr, scope)
        return resolved.qualified if isinstance(resolved, External) else None


def _duck_import(qualified: str) -> str | None:
    """The API an imported name means when the module it comes from is not scanned and says
    nothing itself: a package's own alias module (`from ._config import tf_reduce_mean`, which
    there is `KERAS_DEPS.reduce_mean`), read by the name as DUCK_APIS reads attributes."""
    module, _, name = qualified.rpartition(".")
    if not module or module.split(".")[0] in catalogue.API_ROOTS:
        return None
    for prefix in ("", *catalogue.DUCK_IMPORT_PREFIXES):
        api = name[len(prefix):]
        # reductions only: an imported `Loss` of an unscanned module is the library's own
        # base class as often as Keras' (catalogue.LOSS_BASE_NAMES decides that)
        if name.startswith(prefix) and api.startswith("reduce_") and api in catalogue.DUCK_APIS:
            return catalogue.DUCK_APIS[api]
    return None


def _known_external(name: str) -> bool:
    return (
        name in catalogue.REDUCTIONS
        or name in catalogue.SCALAR_APIS
        or catalogue.is_loss_class(name)
        or catalogue.is_metric_class(name)
        or name.startswith(("tensorflow.", "keras."))
    )


def matches_names(function: FunctionInfo, patterns: tuple[str, ...]) -> bool:
    """Does a configured name (`safe_mean`, `mypkg.ops.safe_mean`, `mypkg.metrics.*`) name it?

    A name without dots matches the function's name or qualname in any module; a dotted one
    is matched, `*` globs included, against `module.qualname`.
    """
    if not patterns:
        return False
    qualified = f"{function.module.name}.{function.qualname}"
    for pattern in patterns:
        if "." not in pattern and pattern in (function.name, function.qualname):
            return True
        if fnmatch.fnmatchcase(qualified, pattern):
            return True
    return False
