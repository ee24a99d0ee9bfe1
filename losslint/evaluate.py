"""Follow the batch axis through a loss function: an abstract interpreter over shapes.

Every expression gets a `Value` that says what happened to the batch axis: still there
(BATCH), moved off axis 0 by a pairwise product or a transpose (MOVED), merged into the
elements by a flatten (FLAT), reduced away (COLLAPSED), or never there (CONST). A COLLAPSED
value remembers the reductions (`Origin`s) that collapsed it, so when it reaches a `return`
the finding is reported at the reduction, not at the return.

The interpreter walks statements in order (assignments, augmented assignments, if/else with
both branches merged, loops run twice, early returns) and steps into helper functions of the
scanned code with the abstract arguments of the call. What it does not know it treats as
element-wise, which keeps the batch: losslint prefers a missed finding to a false one.

What each TensorFlow/Keras call does is looked up in catalogue.py; no API name appears here.
"""

from __future__ import annotations

import enum
import fnmatch
from dataclasses import dataclass, field, replace
from typing import Any

import libcst as cst

from losslint import catalogue
from losslint.project import (
    AssignBinding,
    Binding,
    ClassInfo,
    External,
    FunctionInfo,
    IterBinding,
    ModuleInfo,
    ParamBinding,
    Project,
    Scope,
    children,
    code_of,
)

_NO_LITERAL = object()
_MAX_DEPTH = 12


def source_of(node: cst.CSTNode) -> str:
    return code_of(node)


class Kind(enum.Enum):
    CONST = "const"  # no batch data: literals, hyper-parameters, dtypes, modules
    BATCH = "batch"  # batch data, batch axis at position 0
    MOVED = "moved"  # batch data whose batch axis is not (only) axis 0: pairwise matrices
    FLAT = "flat"  # the batch axis merged into the elements (K.flatten, reshape [-1])
    COLLAPSED = "collapsed"  # batch data with the batch axis reduced away
    SHAPE = "shape"  # tf.shape(batch tensor): element 0 is the batch size
    OBJECT = "object"  # a Python object we track: loss/metric instance, function, self


BATCHY = (Kind.BATCH, Kind.MOVED, Kind.FLAT)


@dataclass(frozen=True)
class Origin:
    """Where a batch axis was lost (or the batch mixed in): reported when it reaches a return."""

    code: str  # the rule to report when the collapsed value is returned or broadcast back
    kind: str  # "reduction" | "batch-size" | "flatten"
    node: cst.CSTNode
    module: ModuleInfo
    api: str  # as spelled in the source: "tf.reduce_mean", "K.sum"
    detail: str  # message text for this origin
    function: FunctionInfo | None = None  # the function whose body holds the node


@dataclass(frozen=True)
class LossObject:
    """An instance of a Keras Loss (or Metric) class, or of a scanned Loss subclass."""

    api: str
    metric: bool = False
    per_sample: bool = False  # built with reduction="none"
    cls: ClassInfo | None = None


@dataclass(frozen=True, eq=False)
class FuncRef:
    function: FunctionInfo
    closure: dict | None = None  # the defining frame's env, for functions defined in a loss


@dataclass(frozen=True)
class SelfRef:
    cls: ClassInfo


@dataclass(frozen=True)
class ClassRef:
    cls: ClassInfo


@dataclass(frozen=True)
class ExternalObject:
    """An instance of some external class (e.g. `keras.layers.Flatten()`)."""

    qualified: str


@dataclass(frozen=True)
class Value:
    kind: Kind
    rank: int | None = None  # number of axes, batch included, when visible
    origins: frozenset = frozenset()  # COLLAPSED: what collapsed it; FLAT: the flatten
    coupled: frozenset = frozenset()  # batch data scaled by these batch statistics (LL201)
    broadcast: frozenset = frozenset()  # collapsed terms broadcast back onto batch data
    literal: Any = _NO_LITERAL  # CONST: a hashable Python literal, when known
    obj: Any = None  # OBJECT payload
    per_sample_note: str | None = None  # the expression that made a rank-1 per-sample value

    @property
    def batchy(self) -> bool:
        return self.kind in BATCHY

    def has_literal(self) -> bool:
        return self.literal is not _NO_LITERAL


CONST = Value(Kind.CONST)
BATCH = Value(Kind.BATCH)


def const(literal: Any = _NO_LITERAL) -> Value:
    return Value(Kind.CONST, literal=literal)


def _hashable(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_hashable(v) for v in value)
    if isinstance(value, (int, float, str, bool, type(None), tuple, range)):
        return value
    return _NO_LITERAL


def combine(values: list[Value], op: str = "add") -> Value:
    """The value of an element-wise expression over `values`.

    op "add": +, -, where, maximum...: a collapsed operand is broadcast back onto every sample
    and still reaches the result (reported with its own code). op "mul": *, /: a collapsed
    operand scales every sample (a batch statistic as normaliser, LL201). op "other": an
    unknown function; a collapsed operand next to batch data is dropped (we do not know what
    the function does with it, and a false alarm costs more than a miss).
    """
    batchy = [v for v in values if v.batchy]
    collapsed = [v for v in values if v.kind is Kind.COLLAPSED]
    if batchy:
        if any(v.kind is Kind.MOVED for v in batchy):
            kind = Kind.MOVED
        elif any(v.kind is Kind.FLAT for v in batchy):
            kind = Kind.FLAT
        else:
            kind = Kind.BATCH
        ranks = [v.rank for v in batchy]
        rank = max(ranks) if all(r is not None for r in ranks) else None
        coupled = frozenset().union(*(v.coupled for v in batchy))
        broadcast = frozenset().union(*(v.broadcast for v in batchy))
        origins = frozenset().union(*(v.origins for v in batchy if v.kind is Kind.FLAT))
        for value in collapsed:
            if op == "mul":
                coupled |= value.origins
            elif op in ("add", "join"):
                # A join is a merge of paths: the collapsed path still reaches the result.
                broadcast |= {o for o in value.origins if o.kind == "reduction"}
                coupled |= value.coupled
        note = next((v.per_sample_note for v in batchy if v.per_sample_note), None)
        return Value(kind, rank, origins, coupled, broadcast, per_sample_note=note if rank == 1 else None)
    if collapsed:
        everything = frozenset().union(*(v.origins for v in collapsed))
        reductions = frozenset(o for o in everything if o.kind == "reduction")
        if not reductions and op == "other":
            return CONST  # tf.eye(batch_size): built from the batch size, not divided by it
        return Value(Kind.COLLAPSED, origins=reductions or everything)
    objects = [v for v in values if v.kind is Kind.OBJECT]
    if objects and op == "join":
        return objects[0]
    literals = {v.literal for v in values if v.has_literal()}
    if op == "join" and len(literals) == 1 and all(v.has_literal() for v in values):
        return values[0]
    return CONST


def join(values: list[Value]) -> Value:
    """Merge of control-flow paths: any path's lost batch axis is kept."""
    values = [v for v in values if v is not None]
    if not values:
        return CONST
    if len(values) == 1:
        return values[0]
    return combine(values, "join")


# --------------------------------------------------------------------------------------------


@dataclass
class Frame:
    function: FunctionInfo
    env: dict[str, Value]
    returns: list[Value] = field(default_factory=list)
    depth: int = 0
    # False for frames that evaluate a default, a global or a closure variable outside any call.
    running: bool = True


class Evaluator:
    """Evaluates functions of one project; results are memoised per (function, arguments)."""

    def __init__(self, project: Project, keeps_batch: tuple[str, ...] = ()) -> None:
        self.project = project
        # Configured helpers known to keep the batch axis: calls to them are element-wise.
        self.keeps_batch = keeps_batch
        self._memo: dict[tuple, Value] = {}
        self._stack: list[FunctionInfo] = []
        self._binding_memo: dict[int, Value] = {}
        self._binding_stack: set[int] = set()
        self._fn_by_node: dict[int, FunctionInfo] = {}
        self._indexed_modules = -1

    # -- entry points --------------------------------------------------------------------
    def evaluate_loss(self, function: FunctionInfo, bound_positional: int = 0,
                      bound_keywords: tuple[str, ...] = ()) -> Value:
        """The value a loss returns when Keras calls it with batch tensors."""
        params = function.positional_params()
        args: list[Value] = []
        if function.takes_self and params:
            args.append(Value(Kind.OBJECT, obj=SelfRef(function.cls)))
        args.extend([CONST] * bound_positional)
        args.extend([BATCH, BATCH])
        kwargs = tuple((name, CONST) for name in bound_keywords)
        return self.call_function(function, tuple(args), kwargs, None, depth=0)

    def function_for(self, node: cst.CSTNode) -> FunctionInfo | None:
        if len(self.project.modules) != self._indexed_modules:  # modules parsed on demand since
            self._indexed_modules = len(self.project.modules)
            self._fn_by_node = {id(fn.node): fn for fn in self.project.functions()}
        return self._fn_by_node.get(id(node))

    # -- functions -----------------------------------------------------------------------
    def call_function(self, function: FunctionInfo, args: tuple[Value, ...],
                      kwargs: tuple[tuple[str, Value], ...], closure: dict | None,
                      depth: int) -> Value:
        key = (id(function.node), args, kwargs) if closure is None else None
        if key is not None and key in self._memo:
            return self._memo[key]
        if function in self._stack or depth > _MAX_DEPTH:
            # Recursion or a very deep chain: assume element-wise.
            return combine(list(args) + [v for _, v in kwargs], "other")
        self._stack.append(function)
        try:
            env = dict(closure) if closure else {}
            env.update(self._bind_params(function, args, dict(kwargs), depth))
            frame = Frame(function, env, depth=depth)
            node = function.node
            if isinstance(node, cst.Lambda):
                result = self.expr(node.body, frame)
            else:
                self.block(_statements(node.body), frame, frame.env)
                result = join(frame.returns) if frame.returns else CONST
        finally:
            self._stack.pop()
        if key is not None:
            self._memo[key] = result
        return result

    def _bind_params(self, function: FunctionInfo, args: tuple[Value, ...],
                     kwargs: dict[str, Value], depth: int) -> dict[str, Value]:
        env: dict[str, Value] = {}
        params = function.node.params
        positional = [*params.posonly_params, *params.params]
        for i, param in enumerate(positional):
            name = param.name.value
            if i < len(args):
                env[name] = args[i]
            elif name in kwargs:
                env[name] = kwargs[name]
            else:
                env[name] = self._default(function, param)
        for param in params.kwonly_params:
            name = param.name.value
            env[name] = kwargs.get(name) or self._default(function, param)
        for star in (params.star_arg, params.star_kwarg):
            if isinstance(star, cst.Param):
                extra = list(args[len(positional):]) if star is params.star_arg else list(kwargs.values())
                env[star.name.value] = combine(extra, "other") if extra else CONST
        return env

    def _default(self, function: FunctionInfo, param: cst.Param) -> Value:
        if param.default is None:
            return CONST
        scope = function.scope.parent or function.scope
        outer = self._scope_function(scope)
        frame = Frame(outer, {}, depth=_MAX_DEPTH) if outer else None
        return self._const_expr(param.default, scope, frame)

    def _scope_function(self, scope: Scope) -> FunctionInfo | None:
        return self.function_for(scope.node) if scope.kind == "function" else None

    # -- statements ----------------------------------------------------------------------
    def block(self, statements, frame: Frame, env: dict[str, Value]) -> dict[str, Value] | None:
        """Run statements; returns the env after them, or None when every path returned."""
        for statement in statements:
            env = self.statement(statement, frame, env)
            if env is None:
                return None
        return env

    def statement(self, node: cst.CSTNode, frame: Frame, env: dict[str, Value]):
        frame.env = env
        if isinstance(node, cst.SimpleStatementLine):
            for small in node.body:
                frame.env = env
                if isinstance(small, cst.Return):
                    frame.returns.append(self.expr(small.value, frame) if small.value else CONST)
                    return None
                if isinstance(small, cst.Raise):
                    return None
                if isinstance(small, cst.Assign):
                    value = self.expr(small.value, frame)
                    for target in small.targets:
                        self._assign(target.target, value, small.value, env, frame)
                elif isinstance(small, cst.AnnAssign) and small.value is not None:
                    self._assign(small.target, self.expr(small.value, frame), small.value, env, frame)
                elif isinstance(small, cst.AugAssign):
                    current = self.expr(small.target, frame)
                    value = self.expr(small.value, frame)
                    op = _operator_kind(small.operator)
                    self._assign(small.target, combine([current, value], op), None, env, frame)
            return env
        if isinstance(node, cst.If):
            then_env = self.block(_statements(node.body), frame, dict(env))
            if node.orelse is None:
                else_env = dict(env)
            elif isinstance(node.orelse, cst.If):
                else_env = self.statement(node.orelse, frame, dict(env))
            else:
                else_env = self.block(_statements(node.orelse.body), frame, dict(env))
            return _merge(then_env, else_env)
        if isinstance(node, (cst.For, cst.While)):
            if isinstance(node, cst.For):
                self._assign(node.target, CONST, None, env, frame)
            first = self.block(_statements(node.body), frame, dict(env))
            merged = _merge(env, first)
            second = self.block(_statements(node.body), frame, dict(merged))
            merged = _merge(merged, second)
            if node.orelse is not None:
                merged = self.block(_statements(node.orelse.body), frame, merged) if merged else merged
            return merged
        if isinstance(node, cst.With):
            for item in node.items:
                if item.asname is not None:
                    self._assign(item.asname.name, CONST, None, env, frame)
            return self.block(_statements(node.body), frame, env)
        if isinstance(node, (cst.Try, cst.TryStar)):
            body = self.block(_statements(node.body), frame, dict(env))
            paths = [body]
            for handler in node.handlers:
                paths.append(self.block(_statements(handler.body), frame, dict(env)))
            if node.orelse is not None and body is not None:
                paths[0] = self.block(_statements(node.orelse.body), frame, body)
            merged = _merge(*paths)
            if node.finalbody is not None and merged is not None:
                merged = self.block(_statements(node.finalbody.body), frame, merged)
            return merged
        if isinstance(node, cst.Match):
            paths = [self.block(_statements(case.body), frame, dict(env)) for case in node.cases]
            return _merge(env, *paths)
        if isinstance(node, cst.FunctionDef):
            fn = self.function_for(node)
            if fn is not None:
                env[node.name.value] = Value(Kind.OBJECT, obj=FuncRef(fn, env))
            return env
        if isinstance(node, cst.ClassDef):
            return env
        return env

    def _assign(self, target, value: Value, value_node, env: dict[str, Value], frame: Frame) -> None:
        if isinstance(target, cst.Name):
            env[target.value] = value
        elif isinstance(target, (cst.Tuple, cst.List)):
            elements = None
            if isinstance(value_node, (cst.Tuple, cst.List)) and len(value_node.elements) == len(target.elements):
                elements = [self.expr(e.value, frame) for e in value_node.elements]
            for i, element in enumerate(target.elements):
                inner = element.value
                self._assign(inner, elements[i] if elements else _unpacked(value), None, env, frame)

    # -- expressions ---------------------------------------------------------------------
    def expr(self, node: cst.BaseExpression, frame: Frame) -> Value:
        if isinstance(node, cst.Name):
            return self.name(node, frame)
        if isinstance(node, cst.Integer):
            return const(_int(node.value))
        if isinstance(node, cst.Float):
            return const(_float(node.value))
        if isinstance(node, (cst.SimpleString, cst.ConcatenatedString, cst.FormattedString)):
            text = node.evaluated_value if isinstance(node, cst.SimpleString) else None
            return const(text if isinstance(text, str) else _NO_LITERAL)
        if isinstance(node, cst.Call):
            return self.call(node, frame)
        if isinstance(node, cst.Attribute):
            return self.attribute(node, frame)
        if isinstance(node, cst.Subscript):
            return self.subscript(node, frame)
        if isinstance(node, cst.BinaryOperation):
            left = self.expr(node.left, frame)
            right = self.expr(node.right, frame)
            if isinstance(node.operator, cst.MatrixMultiply):
                return _product([left, right])
            result = combine([left, right], _operator_kind(node.operator))
            if left.has_literal() and right.has_literal() and result.kind is Kind.CONST:
                return const(_arith(node.operator, left.literal, right.literal))
            return result
        if isinstance(node, cst.UnaryOperation):
            value = self.expr(node.expression, frame)
            if value.has_literal() and isinstance(node.operator, cst.Minus) and isinstance(value.literal, (int, float)):
                return const(-value.literal)
            return value if value.kind is not Kind.OBJECT else CONST
        if isinstance(node, cst.Comparison):
            values = [self.expr(node.left, frame)] + [self.expr(c.comparator, frame) for c in node.comparisons]
            return combine(values, "add")
        if isinstance(node, cst.BooleanOperation):
            return join([self.expr(node.left, frame), self.expr(node.right, frame)])
        if isinstance(node, cst.IfExp):
            self.expr(node.test, frame)
            return join([self.expr(node.body, frame), self.expr(node.orelse, frame)])
        if isinstance(node, (cst.List, cst.Tuple)):
            values = [self.expr(e.value, frame) for e in node.elements]
            result = combine(values, "join") if values else CONST
            if values and all(v.has_literal() for v in values):
                return replace(result, literal=tuple(v.literal for v in values)) if result.kind is Kind.CONST \
                    else result
            if not values:
                return const(())
            return result
        if isinstance(node, cst.Lambda):
            fn = self.function_for(node)
            return Value(Kind.OBJECT, obj=FuncRef(fn, frame.env)) if fn else CONST
        if isinstance(node, cst.NamedExpr):
            value = self.expr(node.value, frame)
            self._assign(node.target, value, node.value, frame.env, frame)
            return value
        if isinstance(node, cst.Ellipsis):
            return CONST
        # Anything else (comprehensions, f-strings, await...): the join of its parts.
        parts = [self.expr(child, frame) for child in _child_expressions(node)]
        return combine(parts, "other") if parts else CONST

    def name(self, node: cst.Name, frame: Frame) -> Value:
        if node.value in frame.env:
            return frame.env[node.value]
        if node.value in ("None", "True", "False"):
            return const({"None": None, "True": True, "False": False}[node.value])
        return self.static(node, frame.function.scope, frame)

    def static(self, node: cst.BaseExpression, scope: Scope, frame: Frame | None) -> Value:
        """The value of a name not bound in the running frame: resolved in the code."""
        resolved = self.project.resolve(node, scope)
        return self._entity_value(resolved, frame, node)

    def _entity_value(self, resolved, frame: Frame | None, node=None) -> Value:
        if resolved is None:
            return CONST
        if isinstance(resolved, External):
            return Value(Kind.CONST, obj=resolved)
        if isinstance(resolved, FunctionInfo):
            return Value(Kind.OBJECT, obj=FuncRef(resolved))
        if isinstance(resolved, ClassInfo):
            return Value(Kind.OBJECT, obj=ClassRef(resolved))
        if isinstance(resolved, ModuleInfo):
            return Value(Kind.CONST, obj=resolved)
        if isinstance(resolved, Binding):
            return self._binding_value(resolved, frame)
        return CONST

    def _binding_value(self, binding: Binding, frame: Frame | None) -> Value:
        """A variable of an enclosing function or module, evaluated where it was bound."""
        if isinstance(binding, (ParamBinding, IterBinding)):
            return CONST
        if not isinstance(binding, AssignBinding):
            return CONST
        if frame is not None and frame.running and binding.scope is frame.function.scope:
            return CONST  # a local read before assignment on this path
        key = id(binding)
        if key in self._binding_memo:
            return self._binding_memo[key]
        if key in self._binding_stack:
            return CONST
        self._binding_stack.add(key)
        try:
            names = [name for name, bs in binding.scope.bindings.items() if binding in bs]
            bindings = binding.scope.bindings.get(names[0], [binding]) if names else [binding]
            values = []
            for each in bindings:
                if isinstance(each, AssignBinding):
                    owner = self._scope_function(each.scope)
                    outer = Frame(owner, {}, depth=_MAX_DEPTH) if owner else None
                    values.append(self._const_expr(each.value, each.scope, outer))
            result = join(values)
        finally:
            self._binding_stack.discard(key)
        self._binding_memo[key] = result
        return result

    def _const_expr(self, node: cst.BaseExpression, scope: Scope, frame: Frame | None) -> Value:
        """Evaluate an expression outside any loss call (a default, a global, a closure var)."""
        owner = frame.function if frame is not None else _ScopeOnly(scope)
        frame = Frame(owner, {}, depth=_MAX_DEPTH, running=False)  # type: ignore[arg-type]
        return self.expr(node, frame)

    def attribute(self, node: cst.Attribute, frame: Frame) -> Value:
        if _rooted_in(node, frame.env):
            base = self.expr(node.value, frame)
            attr = node.attr.value
            if base.batchy or base.kind is Kind.COLLAPSED:
                if attr == "shape":
                    return Value(Kind.SHAPE) if base.batchy else CONST
                if attr in ("dtype", "ndim", "name", "device", "graph", "op"):
                    return CONST
                if attr == "T":
                    return Value(Kind.MOVED) if base.batchy else base
                return base
            if base.kind is Kind.OBJECT and isinstance(base.obj, SelfRef):
                return self._self_attr(base.obj.cls, attr)
            if base.kind is Kind.CONST and base.obj is not None:
                return self._entity_value(self._member(base.obj, attr), frame)
            return CONST
        return self.static(node, frame.function.scope, frame)

    def _member(self, owner, attr: str):
        if isinstance(owner, External):
            return External(catalogue.canonical(f"{owner.qualified}.{attr}"))
        if isinstance(owner, (ModuleInfo, ClassInfo)):
            return self.project.member(owner, attr)
        return None

    def _self_attr(self, cls: ClassInfo, attr: str) -> Value:
        for klass in self.project_mro(cls):
            if attr in klass.self_attrs:
                values = []
                for value_node, method in klass.self_attrs[attr]:
                    outer = Frame(method, {}, depth=_MAX_DEPTH, running=False)
                    values.append(self.expr(value_node, outer))
                return join(values)
            if attr in klass.methods:
                return Value(Kind.OBJECT, obj=FuncRef(klass.methods[attr]))
        return CONST

    def project_mro(self, cls: ClassInfo) -> list[ClassInfo]:
        """The class and its scanned ancestors, depth first (good enough for single inheritance)."""
        order, todo, seen = [], [cls], set()
        while todo:
            klass = todo.pop(0)
            if id(klass) in seen:
                continue
            seen.add(id(klass))
            order.append(klass)
            for base in klass.node.bases:
                parent = self.project.resolve(base.value, klass.scope.parent or klass.scope)
                if isinstance(parent, ClassInfo):
                    todo.append(parent)
        return order

    def subscript(self, node: cst.Subscript, frame: Frame) -> Value:
        base = self.expr(node.value, frame)
        elements = [e.slice for e in node.slice]
        if base.kind is Kind.SHAPE:
            if len(elements) == 1 and isinstance(elements[0], cst.Index):
                index = self.expr(elements[0].value, frame)
                if index.literal == 0:
                    return Value(Kind.COLLAPSED, origins=frozenset({self._origin(
                        "LL201", "batch-size", node, frame, source_of(node),
                        f"the batch size (`{source_of(node)}`)")}))
            return CONST
        if base.kind is Kind.COLLAPSED:
            return base
        if base.kind is Kind.BATCH:
            return self._index_batch(base, elements, frame, node)
        if base.kind in (Kind.MOVED, Kind.FLAT):
            return base
        if base.kind is Kind.OBJECT and isinstance(base.obj, tuple):
            return CONST
        if base.has_literal() and len(elements) == 1 and isinstance(elements[0], cst.Index):
            index = self.expr(elements[0].value, frame)
            try:
                return const(_hashable(base.literal[index.literal]))
            except Exception:
                return CONST
        return CONST

    def _index_batch(self, base: Value, elements, frame: Frame, node) -> Value:
        first = elements[0]
        if isinstance(first, cst.Index):
            if _is_newaxis(first.value):
                return replace(base, kind=Kind.MOVED, rank=None)
            if isinstance(first.value, cst.Ellipsis):
                dropped = sum(1 for e in elements[1:] if isinstance(e, cst.Index) and _is_int(e.value))
                rank = base.rank - dropped if base.rank is not None else None
                return replace(base, rank=rank, per_sample_note=_note(rank, node))
            index = self.expr(first.value, frame)
            if index.batchy:
                return replace(base, rank=None)  # boolean mask / gather: still batch rows
            return CONST  # y_pred[0]: one sample picked; not a reduction we report
        dropped = sum(1 for e in elements[1:] if isinstance(e, cst.Index) and _is_int(e.value))
        added = sum(1 for e in elements[1:] if isinstance(e, cst.Index) and _is_newaxis(e.value))
        if base.rank is not None:
            rank = base.rank - dropped + added
        elif len(elements) == 2 and dropped == 1:
            rank = 1  # y_pred[:, 0]: the usual (batch, k) output, one column
        else:
            rank = None
        return replace(base, rank=rank, per_sample_note=_note(rank, node))

    # -- calls ---------------------------------------------------------------------------
    def call(self, node: cst.Call, frame: Frame) -> Value:
        func = node.func
        if isinstance(func, cst.Attribute) and _rooted_in(func.value, frame.env):
            # A method of a value of this frame: `self.bce(...)`, `loss_obj.call(...)`.
            base = self.expr(func.value, frame)
            return self._method_call(node, base, func.attr.value, frame)
        return self._call_value(node, self.expr(func, frame), frame)

    def _args(self, node: cst.Call, frame: Frame):
        positional: list[Value] = []
        keywords: dict[str, Value] = {}
        for arg in node.args:
            value = self.expr(arg.value, frame)
            if arg.keyword is not None:
                keywords[arg.keyword.value] = value
            elif arg.star == "*":
                positional.append(_unpacked(value))
            elif arg.star == "**":
                keywords["**"] = value
            else:
                positional.append(value)
        return positional, keywords

    def _call_value(self, node: cst.Call, callee: Value, frame: Frame) -> Value:
        obj = callee.obj
        if callee.kind is Kind.CONST and isinstance(obj, External):
            return self._external_call(node, obj.qualified, frame)
        if callee.kind is Kind.OBJECT:
            if isinstance(obj, FuncRef):
                positional, keywords = self._args(node, frame)
                if obj.function is None or self._keeps_batch(obj.function):
                    return combine(positional + list(keywords.values()), "other")
                args = list(positional)
                if obj.function.cls is not None and not obj.closure:
                    params = obj.function.positional_params()
                    if params and params[0].name.value in ("self", "cls"):
                        args.insert(0, Value(Kind.OBJECT, obj=SelfRef(obj.function.cls)))
                kwargs = tuple(sorted((k, v) for k, v in keywords.items() if k != "**"))
                return self.call_function(obj.function, tuple(args), kwargs, obj.closure, frame.depth + 1)
            if isinstance(obj, ClassRef):
                return self._instantiate(node, obj.cls, frame)
            if isinstance(obj, LossObject):
                return self._call_loss_object(node, obj, frame)
            if isinstance(obj, ExternalObject):
                positional, _ = self._args(node, frame)
                if obj.qualified in catalogue.BATCH_FLATTEN_LAYERS and positional and positional[0].batchy:
                    return replace(positional[0], kind=Kind.BATCH, rank=2)
                return combine(positional, "other")
        positional, keywords = self._args(node, frame)
        return combine(positional + list(keywords.values()), "other")

    def _method_call(self, node: cst.Call, base: Value, attr: str, frame: Frame) -> Value:
        if base.kind is Kind.OBJECT:
            obj = base.obj
            if isinstance(obj, SelfRef):
                return self._call_value(node, self._self_attr(obj.cls, attr), frame)
            if isinstance(obj, LossObject):
                if attr == "__call__":
                    return self._call_loss_object(node, obj, frame)
                if attr == "call" and obj.cls is not None:
                    method = self.find_method(obj.cls, "call")
                    if method is not None:
                        positional, _ = self._args(node, frame)
                        args = (Value(Kind.OBJECT, obj=SelfRef(obj.cls)), *positional)
                        return self.call_function(method, tuple(args), (), None, frame.depth + 1)
                positional, _ = self._args(node, frame)
                return combine(positional, "other")  # Loss.call: the per-sample values
        if base.kind is Kind.CONST and base.obj is not None:
            member = self._member(base.obj, attr)
            return self._call_value(node, self._entity_value(member, frame), frame)
        positional, keywords = self._args(node, frame)
        if base.batchy and attr in ("numpy", "eval"):
            return base
        return combine([base] + positional, "other") if base.kind is not Kind.OBJECT else combine(positional, "other")

    def find_method(self, cls: ClassInfo, name: str) -> FunctionInfo | None:
        for klass in self.project_mro(cls):
            if name in klass.methods:
                return klass.methods[name]
        return None

    def _instantiate(self, node: cst.Call, cls: ClassInfo, frame: Frame) -> Value:
        from losslint.finder import class_kind  # the finder knows what a Loss subclass is

        kind = class_kind(self.project, cls)
        if kind in ("loss", "metric"):
            _, keywords = self._args(node, frame)
            if "reduction" in keywords:
                per_sample = kind == "loss" and _is_reduction_none(keywords["reduction"])
            else:
                per_sample = kind == "loss" and self._built_per_sample(cls)
            return Value(Kind.OBJECT, obj=LossObject(cls.name + "()", metric=kind == "metric",
                                                     per_sample=per_sample, cls=cls))
        self._args(node, frame)  # evaluated for their effects on the frame (walrus), if any
        return CONST

    def _built_per_sample(self, cls: ClassInfo) -> bool:
        """Whether the nearest `__init__` of a scanned Loss subclass passes `reduction="none"`
        on to its base (`super().__init__(reduction="none", ...)`), itself or as the default
        of a parameter: its instances then return one loss per sample when called."""
        for klass in self.project_mro(cls):
            init = klass.methods.get("__init__")
            if init is None:
                continue
            defaults = {p.name.value: p.default for p in init.node.params.params if p.default is not None}
            for call in _calls_in(init.node.body):
                func = call.func
                if not (isinstance(func, cst.Attribute) and func.attr.value == "__init__"):
                    continue
                for arg in call.args:
                    if arg.keyword is not None and arg.keyword.value == "reduction":
                        value = arg.value
                        if isinstance(value, cst.Name) and value.value in defaults:
                            value = defaults[value.value]
                        return _is_literal_none_reduction(value)
            return False
        return False

    def _call_loss_object(self, node: cst.Call, obj: LossObject, frame: Frame) -> Value:
        positional, keywords = self._args(node, frame)
        if obj.per_sample or not any(v.batchy for v in positional + list(keywords.values())):
            return combine(positional, "other")
        api = obj.api
        if obj.metric:
            detail = (f"the metric object `{api}` returns one running mean over all batches so far "
                      "(and keeps state between steps)")
            fix = "call a per-sample loss function instead, e.g. `keras.losses.mean_squared_error`"
        else:
            detail = f"the loss object `{api}` reduces the whole batch to one number when called"
            fix = ("call the per-sample function (e.g. `keras.losses.binary_crossentropy`) or build "
                   "it with `reduction=\"none\"`")
        return Value(Kind.COLLAPSED, origins=frozenset({self._origin(
            "LL103", "reduction", node, frame, api, _message(detail, fix))}))

    def _keeps_batch(self, function: FunctionInfo) -> bool:
        from losslint.analysis import matches_names

        return matches_names(function, self.keeps_batch)

    def _external_call(self, node: cst.Call, qualified: str, frame: Frame) -> Value:
        spelled = source_of(node.func)
        if self.keeps_batch and any(fnmatch.fnmatchcase(qualified, p) or p == qualified.rsplit(".", 1)[-1]
                                    for p in self.keeps_batch):
            positional, keywords = self._args(node, frame)
            return combine(positional + list(keywords.values()), "other")
        if qualified in catalogue.REDUCTIONS:
            return self._reduction(node, catalogue.REDUCTIONS[qualified], spelled, frame)
        positional, keywords = self._args(node, frame)
        tensors = positional + [v for k, v in keywords.items() if k not in ("name", "dtype")]
        any_batch = any(v.batchy for v in tensors)

        if qualified in catalogue.SCALAR_APIS:
            api = catalogue.SCALAR_APIS[qualified]
            if api.unless_keyword and api.unless_keyword in keywords:
                return combine(tensors, "other")
            if any_batch:
                return self._collapse("LL104", node, frame, spelled, _message(
                    f"`{spelled}` {api.description}", _scalar_fix(qualified)))
            return combine(tensors, "other")
        if catalogue.is_v1_loss_call(qualified, set(keywords)):
            if _is_reduction_none(keywords.get("reduction")):
                return combine(tensors, "other")
            if any_batch:
                return self._collapse("LL104", node, frame, spelled, _message(
                    f"`{spelled}` is a TF1 loss that reduces over the whole batch by default "
                    "(SUM_BY_NONZERO_WEIGHTS)",
                    "use the per-sample `keras.losses` function, or pass "
                    "`reduction=tf.compat.v1.losses.Reduction.NONE` and reduce the non-batch axes"))
        if catalogue.is_loss_class(qualified) or catalogue.is_metric_class(qualified):
            metric = catalogue.is_metric_class(qualified)
            per_sample = not metric and _is_reduction_none(keywords.get("reduction"))
            return Value(Kind.OBJECT, obj=LossObject(f"{spelled}()", metric=metric, per_sample=per_sample))
        if qualified in catalogue.FLATTENERS:
            return self._flatten(positional, node, frame, spelled)
        if qualified in catalogue.RESHAPES and positional:
            shape = positional[1] if len(positional) > 1 else keywords.get("shape") or keywords.get("newshape")
            if shape is not None and shape.literal in ((-1,), -1):
                return self._flatten(positional[:1], node, frame, spelled)
            if positional[0].batchy:
                rank = len(shape.literal) if shape is not None and isinstance(shape.literal, tuple) else None
                return Value(Kind.BATCH, rank=rank)
            return combine(positional[:1], "other")
        if qualified in catalogue.BATCH_FLATTENERS:
            return replace(positional[0], kind=Kind.BATCH, rank=2) if positional and positional[0].batchy else CONST
        if qualified in catalogue.SHAPE_FUNCS:
            return Value(Kind.SHAPE) if any_batch else CONST
        if qualified in catalogue.STATIC_SHAPE_FUNCS or qualified in catalogue.METADATA_FUNCS:
            return CONST
        if qualified in catalogue.SIZE_FUNCS:
            if any_batch:
                return Value(Kind.COLLAPSED, origins=frozenset({self._origin(
                    "LL201", "batch-size", node, frame, spelled,
                    f"the number of elements in the batch (`{source_of(node)}`)")}))
            return CONST
        if qualified in catalogue.ADDITIVE:
            return combine(tensors[1:] if qualified.endswith(("where", "where_v2", "switch")) and len(tensors) == 3
                           else tensors, "add")
        if qualified in catalogue.MULTIPLICATIVE:
            return combine(tensors, "mul")
        if qualified in catalogue.PRODUCTS:
            operands = [v for v in positional if not isinstance(v.literal, str)]
            transposed = [keywords.get(k) for k in catalogue.FIRST_AXIS_CONTRACTIONS.get(qualified, ())]
            if operands and operands[0].kind is Kind.BATCH and any(v is not None and v.literal is True
                                                                   for v in transposed):
                return self._collapse("LL102", node, frame, spelled, _message(
                    f"`{spelled}(..., transpose_a=True)` multiplies over axis 0, the batch axis: the "
                    "result is a matrix of the whole batch",
                    "if the loss is meant to be a statistic of the batch (Barlow Twins, VICReg), "
                    "sample weights and masks cannot apply: say so with `# noqa: LL102`"))
            return _product(operands)
        if qualified in catalogue.BATCH_PRODUCTS:
            return combine(tensors, "other")
        if qualified in catalogue.TRANSPOSES:
            if positional and positional[0].batchy:
                perm = positional[1] if len(positional) > 1 else keywords.get("perm") or keywords.get("axes")
                if perm is not None and isinstance(perm.literal, tuple) and perm.literal[:1] == (0,):
                    return positional[0]
                return replace(positional[0], kind=Kind.MOVED, rank=None)
            return combine(tensors, "other")
        if qualified in catalogue.EXPAND_DIMS:
            if positional and positional[0].batchy:
                axis = positional[1] if len(positional) > 1 else keywords.get("axis")
                if axis is not None and axis.literal == 0:
                    return replace(positional[0], kind=Kind.MOVED, rank=None)
                rank = positional[0].rank + 1 if positional[0].rank is not None else None
                return replace(positional[0], rank=rank)
            return combine(tensors, "other")
        if qualified in catalogue.STACKS:
            values = positional[0] if positional else keywords.get("values", CONST)
            axis = positional[1] if len(positional) > 1 else keywords.get("axis")
            if values.batchy and (axis is None or axis.literal == 0):
                return replace(values, kind=Kind.MOVED, rank=None)
            return replace(values, rank=None) if values.batchy else values
        if qualified in catalogue.DIAGONALS:
            if positional and positional[0].kind is Kind.MOVED:
                return replace(positional[0], kind=Kind.BATCH, rank=1)
            return combine(tensors, "other")
        if qualified in catalogue.PER_SAMPLE_MAPS:
            return Value(Kind.BATCH) if any_batch else CONST
        if qualified in catalogue.CONDS:
            return join([self._branch(arg.value, frame) for arg in node.args[1:3]])
        if qualified in catalogue.BATCH_FLATTEN_LAYERS:
            return Value(Kind.OBJECT, obj=ExternalObject(qualified))
        if qualified in catalogue.CASTS:
            return positional[0] if positional else CONST
        if qualified in catalogue.RANGES:
            return const(_range_literal(positional))
        if qualified in ("len", "list", "tuple", "int", "float", "str", "bool"):
            if qualified in ("list", "tuple") and positional and positional[0].has_literal():
                return positional[0]
            return CONST
        return combine(tensors, "other")

    def _branch(self, node: cst.BaseExpression, frame: Frame) -> Value:
        if isinstance(node, cst.Lambda):
            return self.expr(node.body, frame)
        value = self.expr(node, frame)
        if value.kind is Kind.OBJECT and isinstance(value.obj, FuncRef) and value.obj.function is not None:
            return self.call_function(value.obj.function, (), (), value.obj.closure, frame.depth + 1)
        return CONST

    def _flatten(self, positional: list[Value], node: cst.Call, frame: Frame, spelled: str) -> Value:
        if not positional or not positional[0].batchy:
            return combine(positional, "other")
        origin = self._origin("LL104", "flatten", node, frame, spelled, "")
        return replace(positional[0], kind=Kind.FLAT, rank=1, origins=frozenset({origin}))

    def _reduction(self, node: cst.Call, reduction: catalogue.Reduction, spelled: str,
                   frame: Frame) -> Value:
        positional, keywords = self._args(node, frame)
        tensor = positional[0] if positional else next(
            (keywords[k] for k in ("input_tensor", "x", "input", "tensor", "a") if k in keywords), CONST)
        if len(positional) > reduction.axis_position:
            axis = positional[reduction.axis_position]
        else:
            axis = keywords.get("axis", keywords.get("reduction_indices"))
        keepdims = keywords.get("keepdims", keywords.get("keep_dims"))
        keep = keepdims is not None and keepdims.literal is True
        if axis is not None and axis.literal is None:
            axis = None  # axis=None is the default: every axis

        if tensor.kind is Kind.COLLAPSED:
            return tensor
        if not tensor.batchy:
            return CONST
        grows = reduction.family in catalogue.SCALE_WITH_BATCH
        if tensor.kind is Kind.FLAT:
            flat = next(iter(tensor.origins), None)
            where = f" of `{flat.api}(...)`" if flat else ""
            return self._collapse("LL104", node, frame, spelled, _message(
                f"`{spelled}`{where} reduces the batch with everything else, since the flatten "
                "merged the batch axis into the elements"
                + (" (and a sum grows with the batch size)" if grows else ""),
                "flatten with `K.batch_flatten` and reduce with `axis=-1`"))
        if tensor.kind is Kind.MOVED:
            if axis is None:
                return self._collapse(reduction.code, node, frame, spelled, _no_axis_message(spelled, grows))
            return Value(Kind.BATCH, coupled=tensor.coupled, broadcast=tensor.broadcast)
        # BATCH
        if axis is None:
            return self._collapse(reduction.code, node, frame, spelled, _no_axis_message(spelled, grows))
        axes = _axes(axis)
        if axes == "non-batch":
            return replace(tensor, rank=None if keep else 1,
                           per_sample_note=None if keep else
                           f"{spelled}(..., axis={source_of(_axis_node(node, reduction))})")
        if axes is None:
            return replace(tensor, rank=None, per_sample_note=None)
        if 0 in axes:
            return self._collapse("LL102", node, frame, spelled, _message(
                f"`{spelled}(..., axis={_axis_text(axis)})` reduces axis 0, the batch axis"
                + (" (and a sum grows with the batch size)" if grows else ""),
                "reduce the non-batch axes instead, e.g. `axis=-1` or `[1, 2, 3]`"))
        if tensor.rank is not None:
            if any(a < 0 and tensor.rank + a == 0 for a in axes):
                where = f" (`{tensor.per_sample_note}`)" if tensor.per_sample_note else ""
                return self._collapse("LL102", node, frame, spelled, _message(
                    f"`{spelled}(..., axis={_axis_text(axis)})` is applied to a value that is already "
                    f"one number per sample{where}, so axis {_axis_text(axis)} is the batch axis",
                    "return the per-sample value as it is"))
            rank = tensor.rank if keep else tensor.rank - len(set(axes))
            note = f"{spelled}(..., axis={_axis_text(axis)})" if rank == 1 else None
            return replace(tensor, rank=rank, per_sample_note=note)
        return replace(tensor, rank=None, per_sample_note=None)

    # -- origins -------------------------------------------------------------------------
    def _origin(self, code: str, kind: str, node, frame: Frame, api: str, detail: str) -> Origin:
        function = frame.function if isinstance(frame.function, FunctionInfo) else None
        return Origin(code, kind, node, frame.function.module, api, detail, function)

    def _collapse(self, code: str, node, frame: Frame, api: str, detail: str) -> Value:
        return Value(Kind.COLLAPSED, origins=frozenset({self._origin(code, "reduction", node, frame, api, detail)}))


class _ScopeOnly:
    """A stand-in 'function' for evaluating module-level expressions: only a scope."""

    def __init__(self, scope: Scope) -> None:
        self.scope = scope
        self.module = scope.module
        self.cls = None


# --------------------------------------------------------------------------------------------
# Helpers


def _statements(body) -> list:
    if isinstance(body, cst.IndentedBlock):
        return list(body.body)
    if isinstance(body, cst.SimpleStatementSuite):
        return [cst.SimpleStatementLine(body=body.body)]
    return list(getattr(body, "body", []))


def _merge(*envs):
    live = [e for e in envs if e is not None]
    if not live:
        return None
    if len(live) == 1:
        return dict(live[0])
    merged: dict[str, Value] = {}
    for key in set().union(*live):
        merged[key] = join([e[key] for e in live if key in e])
    return merged


def _operator_kind(op) -> str:
    if isinstance(op, (cst.Add, cst.Subtract, cst.AddAssign, cst.SubtractAssign, cst.BitAnd, cst.BitOr,
                       cst.BitXor, cst.BitAndAssign, cst.BitOrAssign, cst.BitXorAssign)):
        return "add"
    if isinstance(op, (cst.Multiply, cst.Divide, cst.FloorDivide, cst.Modulo, cst.Power,
                       cst.MultiplyAssign, cst.DivideAssign, cst.FloorDivideAssign, cst.ModuloAssign,
                       cst.PowerAssign)):
        return "mul"
    if isinstance(op, (cst.MatrixMultiply, cst.MatrixMultiplyAssign)):
        return "other"
    return "other"


def _product(values: list[Value]) -> Value:
    batchy = [v for v in values if v.batchy]
    if len(batchy) >= 2:
        return Value(Kind.MOVED, coupled=frozenset().union(*(v.coupled for v in batchy)))
    return combine(values, "other")


def _unpacked(value: Value) -> Value:
    if value.kind is Kind.OBJECT:
        return CONST
    return replace(value, rank=None, literal=_NO_LITERAL) if value.batchy else (
        CONST if value.has_literal() else value)


def _rooted_in(node: cst.BaseExpression, env: dict) -> bool:
    """Is the head of this Name/Attribute/Call chain a variable of the running frame?"""
    while isinstance(node, (cst.Attribute, cst.Subscript, cst.Call)):
        node = node.value if not isinstance(node, cst.Call) else node.func
    if isinstance(node, cst.Name):
        return node.value in env
    return not isinstance(node, cst.Name)


def _child_expressions(node: cst.CSTNode):
    for child in children(node):
        if isinstance(child, cst.BaseExpression):
            yield child
        elif not isinstance(child, cst.CompFor):
            for grandchild in children(child):
                if isinstance(grandchild, cst.BaseExpression):
                    yield grandchild


def _int(text: str):
    try:
        return int(text.replace("_", ""), 0)
    except ValueError:
        return _NO_LITERAL


def _float(text: str):
    try:
        return float(text.replace("_", ""))
    except ValueError:
        return _NO_LITERAL


def _arith(op, a, b):
    try:
        if isinstance(op, cst.Add):
            return _hashable(a + b)
        if isinstance(op, cst.Subtract):
            return _hashable(a - b)
        if isinstance(op, cst.Multiply):
            return _hashable(a * b)
    except Exception:
        pass
    return _NO_LITERAL


def _is_int(node) -> bool:
    if isinstance(node, cst.Integer):
        return True
    return isinstance(node, cst.UnaryOperation) and isinstance(node.expression, cst.Integer)


def _is_newaxis(node) -> bool:
    if isinstance(node, cst.Name) and node.value == "None":
        return True
    return isinstance(node, cst.Attribute) and node.attr.value == "newaxis"


def _range_literal(positional: list[Value]):
    values = [v.literal for v in positional]
    if positional and all(isinstance(v, int) for v in values):
        return tuple(range(*values))
    if positional and positional[0].literal == 1 and len(positional) >= 2:
        return ("non-batch",)  # range(1, ndim): every axis but the batch
    if positional and positional[0].literal == 0 and len(positional) >= 2:
        return ("from-batch",)  # range(0, ndim): the batch included
    return _NO_LITERAL


def _axes(axis: Value):
    """The axes as a list of ints, "non-batch" for range(1, n), or None when unknown."""
    literal = axis.literal
    if isinstance(literal, bool):
        return None
    if isinstance(literal, int):
        return [literal]
    if isinstance(literal, tuple):
        if literal == ("non-batch",):
            return "non-batch"
        if literal == ("from-batch",):
            return [0]
        if all(isinstance(a, int) and not isinstance(a, bool) for a in literal):
            return list(literal)
    return None


def _axis_text(axis: Value) -> str:
    literal = axis.literal
    if isinstance(literal, tuple) and literal in (("non-batch",), ("from-batch",)):
        return "range(...)"
    if isinstance(literal, tuple):
        return "[" + ", ".join(str(a) for a in literal) + "]"
    return str(literal)


def _calls_in(node: cst.CSTNode):
    """Every call below `node`, not entering nested functions or classes."""
    todo = [node]
    while todo:
        current = todo.pop()
        if isinstance(current, cst.Call):
            yield current
        todo.extend(child for child in current.children
                    if not isinstance(child, (cst.FunctionDef, cst.ClassDef, cst.Lambda)))


def _is_literal_none_reduction(node: cst.BaseExpression) -> bool:
    """`"none"`, or an attribute `....NONE` (`tf.keras.losses.Reduction.NONE`), in the source."""
    if isinstance(node, cst.SimpleString):
        return node.evaluated_value.lower() == "none"
    return isinstance(node, cst.Attribute) and node.attr.value == "NONE"


def _is_reduction_none(value: Value | None) -> bool:
    if value is None:
        return False
    if value.has_literal():
        return value.literal is None or (isinstance(value.literal, str) and value.literal.lower() == "none")
    obj = value.obj
    return isinstance(obj, External) and obj.qualified.endswith(".NONE")


def _note(rank, node) -> str | None:
    """How a rank-1, one-number-per-sample value was made, for messages."""
    return source_of(node) if rank == 1 else None


def _axis_node(call: cst.Call, reduction: catalogue.Reduction):
    positional = [a for a in call.args if a.keyword is None]
    if len(positional) > reduction.axis_position:
        return positional[reduction.axis_position].value
    for arg in call.args:
        if arg.keyword is not None and arg.keyword.value in ("axis", "reduction_indices"):
            return arg.value
    return call


WHY = ("Keras applies sample/class weights, masks and its own batch reduction per sample, so "
       "they are silently ignored")


def _message(what: str, fix: str) -> str:
    return f"{what}; {WHY}; {fix}"


def _no_axis_message(spelled: str, grows: bool) -> str:
    what = f"`{spelled}` without `axis` reduces the batch axis too"
    if grows:
        what += " (and a sum grows with the batch size)"
    return _message(what, "reduce only the non-batch axes, e.g. `axis=-1`")


def _scalar_fix(qualified: str) -> str:
    if qualified.endswith("l2_loss"):
        return "use a per-sample sum, e.g. `0.5 * tf.reduce_sum(tf.square(x), axis=-1)`"
    if qualified.endswith("compute_average_loss"):
        return "return the per-sample losses and let Keras average them"
    return "pass `axis=` with the non-batch axes (e.g. `axis=[1, 2, 3]` for images)"
