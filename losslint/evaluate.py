"""Follow the batch axis through a loss function: an abstract interpreter over shapes.

Every expression gets a `Value` that says what happened to the batch axis: still there
(BATCH), moved off axis 0 by a pairwise product or a transpose (MOVED), merged into the
elements by a flatten (FLAT), reduced away (COLLAPSED), or never there (CONST); SAMPLE is one
sample of the batch (`y_true[i]`, what a `tf.map_fn` function sees), which a stack turns back
into the batch. A COLLAPSED value remembers the reductions (`Origin`s) that collapsed it, so
when it reaches a `return` the finding is reported at the reduction, not at the return.
Python lists, tuples and dicts of such values are followed as sequences (`losses.append`,
comprehensions, `zip`), so `tf.add_n`, `tf.stack`, `sum` and reductions of a list know what
they add up.

The interpreter walks statements in order (assignments, augmented assignments, calls made as
statements, if/else with both branches merged, loops run twice with their target bound to an
element of what they iterate, early returns) and steps into helper functions of the
scanned code with the abstract arguments of the call. What it does not know it treats as
element-wise, which keeps the batch: losslint prefers a missed finding to a false one.

What each TensorFlow/Keras call does is looked up in catalogue.py; no API name appears here.
"""

from __future__ import annotations

import enum
import fnmatch
from collections.abc import Callable
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
    matches_names,
)

_NO_LITERAL = object()
# Methods that add elements to a list, set or dict held in a variable.
_SEQUENCE_ADDS = frozenset({"append", "extend", "insert", "add", "update", "setdefault"})
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
    SAMPLE = "sample"  # one sample of the batch (`y_true[i]`, what a map_fn's function sees)


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
    on_a_path: bool = False  # reaches a batch value as one path of a merge (a branch), not as a term
    # The reduction names the batch axis on purpose (`axis=0`, `za^T @ zb`): a statistic of the
    # batch by design (VICReg, class counts), not a forgotten `axis`. Broadcast back onto
    # per-sample values it couples the samples (LL201) rather than collapsing the loss.
    statistic: bool = False


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
class Partial:
    """`functools.partial(callee, *args, **keywords)`: called, it calls `callee` with them too."""

    callee: Value
    args: tuple
    keywords: tuple  # sorted (name, Value) pairs
    spelled: str  # the callee as written, for messages


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
    # A Python list/tuple/dict of values: the fields above describe the join of its elements
    # (so most code can treat it as its elements); the calls that know sequences (`tf.stack`,
    # `tf.add_n`, `sum`, a reduction of a list) use the flag. `parts`: the values by position
    # (a tuple literal); `item`: the value of every element when it has a structure of its own
    # (the tuples `zip` and `enumerate` yield).
    container: bool = False
    parts: tuple | None = None
    item: Any = None
    # SAMPLE: the loop (id of its node) whose variable indexed the batch, if any.
    loop: int | None = None

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
    and still reaches the result (reported with its own code), unless it is a statistic of the
    batch by design (`axis=0`), which couples the samples instead (LL201). op "mul": *, /: a
    collapsed operand scales every sample (a batch statistic as normaliser, LL201). op "other":
    an unknown function; a collapsed operand next to batch data is dropped (we do not know what
    the function does with it, and a false alarm costs more than a miss). op "join": a merge of
    paths or the elements of one sequence; a sequence stays a sequence.
    """
    if op != "join":
        values = [element(v) if v.container else v for v in values]
    batchy = [v for v in values if v.batchy]
    collapsed = [v for v in values if v.kind is Kind.COLLAPSED]
    samples = [v for v in values if v.kind is Kind.SAMPLE]
    if batchy or samples:
        data = batchy or samples
        if not batchy:
            kind = Kind.SAMPLE
        elif any(v.kind is Kind.MOVED for v in batchy):
            kind = Kind.MOVED
        elif any(v.kind is Kind.FLAT for v in batchy):
            kind = Kind.FLAT
        else:
            kind = Kind.BATCH
        ranks = [v.rank for v in data]
        rank = max(ranks) if all(r is not None for r in ranks) else None
        coupled = frozenset().union(*(v.coupled for v in data))
        broadcast = frozenset().union(*(v.broadcast for v in data))
        origins = frozenset().union(*(v.origins for v in batchy if v.kind is Kind.FLAT))
        if batchy and op != "join":
            coupled |= frozenset().union(*(v.origins for v in samples))  # `y_true[0]` for every sample
        elif not batchy:
            origins = frozenset().union(*(v.origins for v in samples))
        for value in collapsed:
            if op == "mul":
                coupled |= value.origins
            elif op == "add":
                reductions = {o for o in value.origins if o.kind == "reduction"}
                coupled |= {replace(o, kind="batch-term") for o in reductions if o.statistic}
                broadcast |= {o for o in reductions if not o.statistic}
                coupled |= value.coupled
            elif op == "join":
                # A join is a merge of paths: the collapsed path still reaches the result.
                broadcast |= {replace(o, on_a_path=True) for o in value.origins if o.kind == "reduction"}
                coupled |= value.coupled
        note = next((v.per_sample_note for v in data if v.per_sample_note), None)
        loops = {v.loop for v in samples}
        container = op == "join" and all(v.container for v in data)
        return Value(kind, rank, origins, coupled, broadcast, per_sample_note=note if rank == 1 else None,
                     container=container, loop=loops.pop() if kind is Kind.SAMPLE and len(loops) == 1 else None)
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


def element(value: Value) -> Value:
    """One element of a sequence (what `for x in seq` binds); a tensor stands for its elements."""
    if value.item is not None:
        return value.item
    if value.container:
        return replace(value, container=False, parts=None)
    if value.kind is Kind.OBJECT:
        return value
    if value.batchy or value.kind is Kind.SAMPLE:
        return replace(value, rank=None, per_sample_note=None)
    return CONST


def sequence(elements: list[Value]) -> Value:
    """A list or tuple of these values (a tuple literal keeps them by position)."""
    joined = combine(elements, "join") if elements else CONST
    if joined.kind in (Kind.CONST, Kind.SHAPE, Kind.OBJECT):
        return joined
    return replace(joined, container=True, parts=tuple(elements), item=None)


def stored(old: Value, new: Value) -> Value:
    """A sequence after `seq.append(new)` (or `seq[k] = new`): its elements now include `new`."""
    if old.container:
        old = replace(old, parts=None, item=None)
    elif old.batchy or old.kind in (Kind.COLLAPSED, Kind.SAMPLE):
        old = replace(old, container=True)
    else:
        old = None  # `[]`, `{}`: no element yet
    joined = join([old, new]) if old is not None else new
    if joined.kind in (Kind.CONST, Kind.SHAPE, Kind.OBJECT):
        return joined if joined.kind is Kind.OBJECT else CONST
    return replace(joined, container=True, parts=None, item=None)


def samples_of(value: Value, loop: int | None = None) -> Value:
    """What a per-sample function sees of `value` (a map_fn's elements): one sample of each."""
    if value.parts is not None:
        return replace(value, parts=tuple(samples_of(p, loop) for p in value.parts),
                       kind=Kind.SAMPLE if value.batchy else value.kind, rank=None, loop=loop)
    if value.batchy:
        rank = value.rank - 1 if value.rank is not None and value.kind is Kind.BATCH else None
        return Value(Kind.SAMPLE, rank=rank, coupled=value.coupled, container=value.container, loop=loop)
    return value


def stacked(value: Value) -> Value:
    """A sequence of samples stacked (or converted to a tensor): the batch is back on axis 0."""
    rank = value.rank + 1 if value.rank is not None else None
    return Value(Kind.BATCH, rank=rank, coupled=value.coupled, broadcast=value.broadcast,
                 per_sample_note=None)


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
    # The loops being run, innermost last: (id of the loop node, its target names, the names
    # bound before it started). A sum into a name bound before a loop over samples adds up
    # the batch.
    loops: list = field(default_factory=list)


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

    def evaluate_layer_function(self, function: FunctionInfo) -> Value:
        """The value of a `Lambda` layer's function, called with the list of batch tensors the
        layer is applied to (its other parameters come from `arguments=`: constants)."""
        params = function.positional_params()
        args: list[Value] = [sequence([BATCH])] if params else []
        args.extend([CONST] * max(0, len([p for p in params if p.default is None]) - 1))
        return self.call_function(function, tuple(args), (), None, depth=0)

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
                elif isinstance(small, cst.Expr) and isinstance(small.value, cst.Call):
                    self.expr(small.value, frame)  # `losses.append(term)`
                elif isinstance(small, cst.AugAssign):
                    current = self.expr(small.target, frame)
                    value = self.expr(small.value, frame)
                    op = _operator_kind(small.operator)
                    self._assign(small.target, self._augmented(small, current, value, op, frame), None, env, frame)
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
            before = frozenset(env)
            if isinstance(node, cst.For):
                # The target takes one element of the iterable: `for term in losses`, or
                # `for i, q in enumerate(quantiles)` (constants).
                self._assign(node.target, element(self.expr(node.iter, frame)), None, env, frame)
                targets = frozenset(_target_names(node.target))
            else:
                targets = frozenset()
            frame.loops.append((id(node), targets, before))
            try:
                first = self.block(_statements(node.body), frame, dict(env))
                merged = _merge(env, first)
                second = self.block(_statements(node.body), frame, dict(merged))
                merged = _merge(merged, second)
            finally:
                frame.loops.pop()
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
            elif value.parts is not None and len(value.parts) == len(target.elements):
                elements = list(value.parts)
            for i, item in enumerate(target.elements):
                inner = item.value
                self._assign(inner, elements[i] if elements else _unpacked(value), None, env, frame)
        elif isinstance(target, cst.Subscript) and isinstance(target.value, cst.Name) and target.value.value in env:
            # `losses[name] = term`: a dict or list of loss terms gains an element.
            env[target.value.value] = stored(env[target.value.value], value)

    def _augmented(self, node: cst.AugAssign, current: Value, value: Value, op: str, frame: Frame) -> Value:
        """The value of `target op= value`."""
        if op == "add" and (current.container or value.container):
            return stored(current, element(value)) if value.container else stored(current, value)
        if op == "add" and value.kind is Kind.SAMPLE and current.kind in (Kind.CONST, Kind.SAMPLE) \
                and self._sums_samples(node.target, value, frame):
            return Value(Kind.COLLAPSED, origins=frozenset({self._origin(
                "LL102", "reduction", node, frame, source_of(node.target), _message(
                    f"`{source_of(node.target)} {source_of(node.operator).strip()} ...` adds up one value "
                    "per sample over a loop over the batch, which reduces the batch axis",
                    "collect the per-sample values and return them stacked "
                    "(`tf.stack(values)`: one value per sample)"))}))
        if op == "add" and current.kind is Kind.COLLAPSED and value.kind is Kind.SAMPLE:
            return current  # the running sum over samples of the loop above
        return combine([current, value], op)

    def _sums_samples(self, target, value: Value, frame: Frame) -> bool:
        """Is `target += value` a sum across the iterations of the loop over samples that
        indexed `value`, into a name bound before that loop?"""
        if not isinstance(target, cst.Name) or value.loop is None:
            return False
        for loop, _, before in frame.loops:
            if loop == value.loop:
                return target.value in before
        return False

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
            if isinstance(node.operator, cst.Add) and left.container and right.container:
                return stored(left, element(right))  # list concatenation
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
            if not values:
                return const(())
            starred = any(isinstance(e, cst.StarredElement) for e in node.elements)
            if all(v.has_literal() for v in values) and not starred:
                result = combine(values, "join")
                return replace(result, literal=tuple(v.literal for v in values)) if result.kind is Kind.CONST \
                    else result
            if starred:
                # `[*terms, extra]`: the elements of `terms` and `extra`, positions unknown.
                values = [element(v) if isinstance(e, cst.StarredElement) else v
                          for v, e in zip(values, node.elements)]
                seq = sequence(values)
                return replace(seq, parts=None) if seq.container else seq
            return sequence(values)
        if isinstance(node, cst.Dict):
            values = [self.expr(e.value, frame) for e in node.elements if isinstance(e, cst.DictElement)]
            for e in node.elements:
                if isinstance(e, cst.DictElement):
                    self.expr(e.key, frame)
            seq = sequence(values) if values else CONST
            return replace(seq, parts=None) if seq.container else seq
        if isinstance(node, (cst.ListComp, cst.GeneratorExp, cst.SetComp, cst.DictComp)):
            return self._comprehension(node, frame)
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

    def _comprehension(self, node, frame: Frame) -> Value:
        """`[f(y_true[..., i]) for i in range(n)]`: a sequence of the element's values."""
        saved = frame.env
        env = dict(saved)
        frame.env = env
        try:
            comp = node.for_in
            while comp is not None:
                self._assign(comp.target, element(self.expr(comp.iter, frame)), None, env, frame)
                for condition in comp.ifs:
                    self.expr(condition.test, frame)
                comp = comp.inner_for_in
            value = self.expr(node.value if isinstance(node, cst.DictComp) else node.elt, frame)
        finally:
            frame.env = saved
        seq = stored(CONST, value)
        return seq if seq.container or seq.kind is Kind.OBJECT else CONST

    def name(self, node: cst.Name, frame: Frame) -> Value:
        if node.value in frame.env:
            value = frame.env[node.value]
            if value == CONST and node.value in catalogue.INJECTED_MODULES:
                # `backend = kwargs["backend"]`: a backend handed over at run time
                return Value(Kind.CONST, obj=External(catalogue.INJECTED_MODULES[node.value], assumed=node.value))
            return value
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
        if isinstance(binding, ParamBinding) and binding.function.name == "__init__" \
                and binding.function.cls is not None and not (frame is not None and frame.running):
            return self._constructor_argument(binding)
        if isinstance(binding, (ParamBinding, IterBinding)):
            return CONST
        if not isinstance(binding, AssignBinding):
            return CONST
        if frame is not None and frame.running and binding.scope is frame.function.scope:
            return CONST  # a local read before assignment on this path
        return self._memoised(binding, lambda: self._assigned_value(binding))

    def _memoised(self, binding: Binding, compute: Callable[[], Value]) -> Value:
        """`compute()` once per binding; CONST while it is being computed (a cycle)."""
        key = id(binding)
        if key in self._binding_memo:
            return self._binding_memo[key]
        if key in self._binding_stack:
            return CONST
        self._binding_stack.add(key)
        try:
            result = compute()
        finally:
            self._binding_stack.discard(key)
        self._binding_memo[key] = result
        return result

    def _assigned_value(self, binding: AssignBinding) -> Value:
        """The join of every value assigned to the binding's name in its scope."""
        names = [name for name, bs in binding.scope.bindings.items() if binding in bs]
        bindings = binding.scope.bindings.get(names[0], [binding]) if names else [binding]
        values = []
        for each in bindings:
            if isinstance(each, AssignBinding):
                owner = self._scope_function(each.scope)
                outer = Frame(owner, {}, depth=_MAX_DEPTH) if owner else None
                values.append(self._const_expr(each.value, each.scope, outer))
        return join(values)

    def _constructor_argument(self, binding: ParamBinding) -> Value:
        """What the scanned `Class(...)` calls pass for a parameter of `__init__`, with its
        default, when those are objects: a loss object or function handed to a combining loss
        (`MultiObjectiveLoss(quantile_loss_fn=QuantileLoss(...))`). CONST otherwise."""
        return self._memoised(binding, lambda: self._passed_objects(binding))

    def _passed_objects(self, binding: ParamBinding) -> Value:
        init, cls = binding.function, binding.function.cls
        params = init.positional_params()
        names = [p.name.value for p in params]
        index = names.index(binding.name) - 1 if binding.name in names else None  # without self
        param = next((p for p in [*params, *init.node.params.kwonly_params] if p.name.value == binding.name), None)
        values = []
        if param is not None and param.default is not None:
            values.append(self._const_expr(param.default, init.scope.parent or init.scope, None))
        self.project.parse_calling(cls.name)
        for module in list(self.project.modules):
            for site in module.calls_by_name.get(cls.name, ()):
                if self.project.resolve(site.call.func, site.scope) is not cls:
                    continue
                argument = next((a.value for a in site.call.args
                                 if a.keyword is not None and a.keyword.value == binding.name), None)
                positional = [a.value for a in site.call.args if a.keyword is None and not a.star]
                if argument is None and index is not None and 0 <= index < len(positional):
                    argument = positional[index]
                if argument is not None:
                    values.append(self._const_expr(argument, site.scope, None))
        result = join(values) if values else CONST
        # only the objects it is handed (losses, functions): a constant such as `axis` may
        # be a flag the class tests first (`if self.axis == "no_reduction"`)
        return result if result.kind is Kind.OBJECT else CONST

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
        if attr in catalogue.INJECTED_MODULES:
            # `self.backend`, set on the class by the library at run time
            return Value(Kind.CONST, obj=External(catalogue.INJECTED_MODULES[attr], assumed=attr))
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
        if base.container or base.item is not None:
            # An element of a list or dict of terms (`losses[0]`, `outputs["mask"]`).
            if len(elements) == 1 and isinstance(elements[0], cst.Index):
                index = self.expr(elements[0].value, frame)
                if base.parts is not None and isinstance(index.literal, int) \
                        and -len(base.parts) <= index.literal < len(base.parts):
                    return base.parts[index.literal]
                return element(base)
            return replace(base, parts=None)
        if base.kind is Kind.COLLAPSED:
            return base
        if base.kind is Kind.SAMPLE:
            return replace(base, rank=None, per_sample_note=None)
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

    @staticmethod
    def _loop_of(index: cst.BaseExpression, frame: Frame) -> int | None:
        """The innermost running loop whose target is the name `index`, if any."""
        if isinstance(index, cst.Name):
            for loop, targets, _ in reversed(frame.loops):
                if index.value in targets:
                    return loop
        return None

    def _scalar_index(self, element, frame: Frame) -> bool:
        """Does this subscript element pick one position (dropping its axis)? An integer, or
        the variable of a loop over `range(...)`/`enumerate(...)` (`y_pred[:, i]`)."""
        if not isinstance(element, cst.Index):
            return False
        if _is_int(element.value):
            return True
        return isinstance(element.value, cst.Name) and self._loop_of(element.value, frame) is not None \
            and frame.env.get(element.value.value, CONST).kind is Kind.CONST

    def _index_batch(self, base: Value, elements, frame: Frame, node) -> Value:
        first = elements[0]
        if isinstance(first, cst.Slice) and first.step is not None and isinstance(node.value, cst.Name):
            step = self.expr(first.step, frame).literal
            if isinstance(step, int) and not isinstance(step, bool) and step not in (1, -1):
                # `emb[::3]`, `emb[1::3]`: every third sample (a batch laid out as anchor,
                # positive, negative triplets), so the loss has batch/3 rows, not one per sample.
                # (Only a variable's: an unknown call's result may be a list of outputs.)
                spelled = source_of(node)
                return self._collapse("LL102", node, frame, spelled, _message(
                    f"`{spelled}` takes every {_ordinal(step)} sample of the batch: what the loss computes "
                    "from it has one row per group of samples, not one per sample, so the batch axis Keras "
                    "weights and reduces is gone",
                    "keep one value per sample (compute each sample's term from its own row, or give "
                    "the model's triplets as one sample each: (batch, 3, d))"))
        if isinstance(first, cst.Index):
            if _is_newaxis(first.value):
                return replace(base, kind=Kind.MOVED, rank=None)
            if isinstance(first.value, cst.Ellipsis):
                dropped = sum(1 for e in elements[1:] if self._scalar_index(e, frame))
                rank = base.rank - dropped if base.rank is not None else None
                return replace(base, rank=rank, per_sample_note=_note(rank, node))
            index = self.expr(first.value, frame)
            if index.batchy:
                return replace(base, rank=None)  # boolean mask / gather: still batch rows
            # `y_true[i]`: one sample. Not a reduction we report, but a loop that stacks such
            # values puts the batch back together (and one that sums them reduces it).
            dropped = sum(1 for e in elements[1:] if self._scalar_index(e, frame))
            rank = base.rank - 1 - dropped if base.rank is not None and len(elements) == 1 + dropped else None
            fixed = frozenset()
            if isinstance(first.value, cst.Integer) and first.value.value == "0" and isinstance(node.value, cst.Name):
                # `y_true[0, ...]`: the first sample, whatever the batch; used with every
                # sample's values, it ties them all to that one. (Only `name[0]`: the results
                # of unknown calls and attribute chains may be lists or shapes, not tensors.)
                fixed = frozenset({self._origin("LL201", "one-sample", node, frame, source_of(node), "")})
            return Value(Kind.SAMPLE, rank=rank, coupled=base.coupled, origins=fixed,
                         loop=self._loop_of(first.value, frame))
        dropped = sum(1 for e in elements[1:] if self._scalar_index(e, frame))
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
        if isinstance(func, cst.Attribute) and isinstance(func.value, cst.Name) and func.value.value in frame.env \
                and func.attr.value in _SEQUENCE_ADDS:
            # `losses.append(term)`: the list of loss terms gains an element.
            name = func.value.value
            positional, keywords = self._args(node, frame)
            added = [*positional, *keywords.values()]
            if func.attr.value == "insert":
                added = added[1:]
            if func.attr.value in ("extend", "update"):
                added = [element(v) for v in added]
            value = frame.env[name]
            for each in added:
                value = stored(value, each)
            frame.env[name] = value
            return CONST
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
            if isinstance(obj, Partial):
                return self._call_partial(node, obj, frame)
            if isinstance(obj, LossObject):
                return self._call_loss_object(node, obj, frame)
            if isinstance(obj, ExternalObject):
                positional, _ = self._args(node, frame)
                if obj.qualified in catalogue.BATCH_FLATTEN_LAYERS and positional and positional[0].batchy:
                    return replace(positional[0], kind=Kind.BATCH, rank=2)
                return combine(positional, "other")
        positional, keywords = self._args(node, frame)
        return combine(positional + list(keywords.values()), "other")

    def _call_partial(self, node: cst.Call, partial: Partial, frame: Frame) -> Value:
        """A call of `functools.partial(callee, ...)`: the callee with both sets of arguments."""
        positional, keywords = self._args(node, frame)
        keywords = {**dict(partial.keywords), **keywords}
        args = [*partial.args, *positional]
        callee = partial.callee
        obj = callee.obj
        if callee.kind is Kind.CONST and isinstance(obj, External) and (
                catalogue.is_loss_class(obj.qualified) or catalogue.is_metric_class(obj.qualified)):
            metric = catalogue.is_metric_class(obj.qualified)
            per_sample = not metric and _is_reduction_none(keywords.get("reduction"))
            return Value(Kind.OBJECT, obj=LossObject(f"{partial.spelled}()", metric=metric, per_sample=per_sample))
        if callee.kind is Kind.OBJECT and isinstance(obj, ClassRef):
            return self._loss_instance(obj.cls, keywords)
        if callee.kind is Kind.OBJECT and isinstance(obj, FuncRef) and obj.function is not None \
                and not self._keeps_batch(obj.function):
            kwargs = tuple(sorted((k, v) for k, v in keywords.items() if k != "**"))
            return self.call_function(obj.function, tuple(args), kwargs, obj.closure, frame.depth + 1)
        return combine(args + list(keywords.values()), "other")

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
        if base.container:
            if attr in ("values", "copy"):
                return replace(base, parts=None)
            if attr == "items":
                return replace(base, parts=None, item=sequence([CONST, element(base)]))
            if attr in ("pop", "get"):
                return element(base)
            return CONST  # keys(), index(), count()...
        if base.batchy and attr in ("numpy", "eval"):
            return base
        if base.batchy and attr == "get_shape":
            return Value(Kind.SHAPE)  # `y_pred.get_shape()` is `y_pred.shape`
        return combine([base] + positional, "other") if base.kind is not Kind.OBJECT else combine(positional, "other")

    def find_method(self, cls: ClassInfo, name: str) -> FunctionInfo | None:
        for klass in self.project_mro(cls):
            if name in klass.methods:
                return klass.methods[name]
        return None

    def _instantiate(self, node: cst.Call, cls: ClassInfo, frame: Frame) -> Value:
        _, keywords = self._args(node, frame)  # (also for their effects on the frame: walrus)
        return self._loss_instance(cls, keywords)

    def _loss_instance(self, cls: ClassInfo, keywords: dict[str, Value]) -> Value:
        """An instance of a scanned class: a loss or metric object when it is one."""
        from losslint.finder import class_kind  # the finder knows what a Loss subclass is

        kind = class_kind(self.project, cls)
        if kind in ("loss", "metric"):
            if "reduction" in keywords:
                per_sample = kind == "loss" and _is_reduction_none(keywords["reduction"])
            else:
                per_sample = kind == "loss" and self._built_per_sample(cls)
            return Value(Kind.OBJECT, obj=LossObject(cls.name + "()", metric=kind == "metric",
                                                     per_sample=per_sample, cls=cls))
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
            weight = keywords.get("sample_weight", positional[2] if len(positional) > 2 else None)
            losses = combine(positional[:2], "other")
            # Per-sample losses weighted by `sample_weight`: weights computed from the batch
            # couple the samples as any other factor does.
            return combine([losses, weight], "mul") if weight is not None else losses
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

        if qualified in catalogue.GRADIENTS and positional and positional[0].batchy:
            # `K.gradients(y_pred, averaged_samples)[0]`: the list of d(batch value)/d(input)
            return sequence([Value(Kind.BATCH)])
        if qualified in catalogue.PARTIALS and positional:
            return Value(Kind.OBJECT, obj=Partial(positional[0], tuple(positional[1:]),
                                                  tuple(sorted(keywords.items())), source_of(node.args[0].value)))
        if qualified in catalogue.ITERATORS:
            return self._iterator(qualified, positional)
        if qualified in catalogue.SEQUENCE_SUMS and positional and positional[0].container:
            return self._sequence_sum(node, positional[0], frame, spelled)
        if qualified in catalogue.CONCATS and positional:
            axis = positional[1] if len(positional) > 1 else keywords.get("axis", const(catalogue.CONCATS[qualified]))
            return self._concat(positional[0], axis)
        if qualified in catalogue.SQUEEZES and positional:
            axis = positional[1] if len(positional) > 1 else keywords.get("axis")
            return self._squeeze(positional[0], axis, node)
        if qualified in catalogue.DIAGONALS and positional and positional[0].kind is Kind.BATCH:
            axes = [positional[i] if len(positional) > i else keywords.get(name, const(default))
                    for i, name, default in ((2, "axis1", 0), (3, "axis2", 1))]
            literals = [axis.literal for axis in axes]
            if all(isinstance(a, int) and not isinstance(a, bool) for a in literals) and 0 in literals:
                return self._collapse("LL102", node, frame, spelled, _message(
                    f"`{spelled}` takes the diagonal of axes {axes[0].literal} and {axes[1].literal}, and "
                    "axis 0 is the batch axis: the result pairs sample i with row i of the next axis "
                    "and has no batch axis left",
                    "take the diagonal of the per-sample axes (`axis1=1, axis2=2`)"))
        if qualified in catalogue.LOOKUPS and len(positional) >= 2:
            params, indices = positional[0], positional[1]
            if params.kind is Kind.COLLAPSED and (indices.batchy or indices.kind is Kind.SAMPLE):
                # Per-class weights computed from the batch, looked up for each sample's class.
                return combine([params, indices], "mul")
            return combine(tensors, "other")
        if qualified in catalogue.SEGMENT_REDUCTIONS and positional:
            if positional[0].batchy:
                return self._collapse("LL102", node, frame, spelled, _message(
                    f"`{spelled}` adds up the rows of every sample of the batch into one row per "
                    "segment, which reduces the batch axis",
                    "segment the values of each sample on their own (one segment id per sample and "
                    "class), or compute the statistic once from the training data"), statistic=True)
            return combine(tensors, "other")
        if qualified in catalogue.LAST_AXIS_LOSSES:
            inputs = [positional[i] if i < len(positional) else keywords.get(name)
                      for i, name in catalogue.LAST_AXIS_LOSSES[qualified]]
            result = combine(tensors, "other")
            ranks = [v.rank for v in inputs if v is not None and v.kind is Kind.BATCH]
            if result.kind is not Kind.BATCH or not ranks or len(ranks) < len(inputs) or None in ranks:
                return replace(result, rank=None, per_sample_note=None) if result.batchy else result
            if max(ranks) == 1:
                note = next((v.per_sample_note for v in inputs if v is not None and v.per_sample_note), None)
                where = f" (`{note}`)" if note else ""
                return self._collapse("LL102", node, frame, spelled, _message(
                    f"`{spelled}` averages over the last axis, and its inputs are already one number "
                    f"per sample{where}, so the last axis is the batch axis",
                    "keep a feature axis (`y_pred[:, 0:1]`), or compute the per-sample loss directly"))
            rank = max(ranks) - 1
            return replace(result, rank=rank, per_sample_note=f"{spelled}(...)" if rank == 1 else None)
        if qualified in catalogue.WEIGHT_ARGUMENTS:
            name, position = catalogue.WEIGHT_ARGUMENTS[qualified]
            weight = positional[position] if len(positional) > position else keywords.get(name)
            rest = [v for v in tensors if v is not weight]
            return combine([combine(rest, "other"), weight], "mul") if weight is not None else combine(tensors, "other")

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
                shape_node = node.args[1].value if len(node.args) > 1 else None
                if rank is None and isinstance(shape_node, (cst.List, cst.Tuple)) and not any(
                        isinstance(e, cst.StarredElement) for e in shape_node.elements):
                    rank = len(shape_node.elements)  # `[tf.shape(x)[0], -1]`: two axes
                return Value(Kind.BATCH, rank=rank, coupled=positional[0].coupled,
                             per_sample_note=source_of(node) if rank == 1 else None)
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
                    "sample weights and masks cannot apply: say so with `# noqa: LL102`"), statistic=True)
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
            return self._stack_call(values, axis)
        if qualified in catalogue.DIAGONALS:
            if positional and positional[0].kind is Kind.MOVED:
                return replace(positional[0], kind=Kind.BATCH, rank=1)
            return combine(tensors, "other")
        if qualified in catalogue.PER_SAMPLE_MAPS:
            return self._per_sample_map(spelled, positional, keywords, frame, any_batch)
        if qualified in catalogue.CONDS:
            return join([self._branch(arg.value, frame) for arg in node.args[1:3]])
        if qualified in catalogue.BATCH_FLATTEN_LAYERS:
            return Value(Kind.OBJECT, obj=ExternalObject(qualified))
        if qualified in catalogue.CASTS:
            if positional and positional[0].container:
                return self._stack_call(positional[0], None)  # tf.convert_to_tensor(per_sample_losses)
            return positional[0] if positional else CONST
        if qualified in catalogue.RANGES:
            return const(_range_literal(positional))
        if qualified in ("len", "list", "tuple", "int", "float", "str", "bool"):
            if qualified in ("list", "tuple") and positional and positional[0].has_literal():
                return positional[0]
            return CONST
        if qualified.startswith(catalogue.NUMPY_PREFIX) and any_batch:
            # NumPy on the batch tensors fails while Keras traces the loss (it is not silent):
            # what follows is NumPy evaluation code, not a loss that trains.
            return CONST
        return combine(tensors, "other")

    def _iterator(self, qualified: str, positional: list[Value]) -> Value:
        """zip, enumerate, list, sorted...: sequences of the elements of their arguments."""
        if not positional:
            return CONST
        if qualified == "zip":
            items = [element(v) for v in positional]
        elif qualified == "enumerate":
            items = [CONST, element(positional[0])]
        else:
            first = positional[0]
            if first.container or first.item is not None:
                return first
            if first.has_literal() and qualified in ("list", "tuple"):
                return first
            return CONST if not (first.batchy or first.kind is Kind.SAMPLE) else first
        item = sequence(items)
        if not item.container:
            return item if item.kind is Kind.OBJECT else CONST
        return replace(item, parts=None, item=item)

    def _sequence_sum(self, node: cst.Call, seq: Value, frame: Frame, spelled: str) -> Value:
        """`tf.add_n(terms)`, `sum(terms)`: the terms added up, elementwise. Terms that are one
        value per sample (a loop over the batch) add up the batch."""
        terms = element(seq)
        if terms.kind is Kind.SAMPLE:
            return self._collapse("LL102", node, frame, spelled, _message(
                f"`{spelled}` adds up one value per sample of the batch, which reduces the batch axis",
                "return the per-sample values stacked (`tf.stack(values)`)"))
        return combine([terms], "add")

    def _stack_call(self, values: Value, axis: Value | None) -> Value:
        position = 0 if axis is None else axis.literal
        if values.container and values.kind is Kind.SAMPLE:
            if position == 0 or values.rank == 0:
                return stacked(values)  # the samples back on axis 0
            return Value(Kind.MOVED, coupled=values.coupled, broadcast=values.broadcast)
        values = element(values) if values.container else values
        if values.batchy and position == 0:
            return replace(values, kind=Kind.MOVED, rank=None, per_sample_note=None)
        if values.kind is Kind.BATCH and isinstance(position, int) and not isinstance(position, bool):
            # `tf.stack(per_output_losses, axis=-1)`: one more axis after the batch.
            rank = values.rank + 1 if values.rank is not None else None
            return replace(values, rank=rank, per_sample_note=None)
        return replace(values, rank=None, per_sample_note=None) if values.batchy else values

    def _concat(self, values: Value, axis: Value) -> Value:
        if values.container and values.kind is Kind.SAMPLE:
            if axis.literal == 0 and values.rank not in (None, 0):
                return replace(stacked(values), rank=values.rank)  # samples joined along the batch
            return Value(Kind.MOVED, coupled=values.coupled, broadcast=values.broadcast)
        terms = element(values) if values.container else values
        if terms.kind is Kind.BATCH and values.container and isinstance(axis.literal, int) and axis.literal != 0:
            return replace(terms, per_sample_note=None)  # same rank, more features per sample
        return combine([terms], "other")

    def _squeeze(self, tensor: Value, axis: Value | None, node: cst.Call) -> Value:
        if tensor.kind is not Kind.BATCH:
            return combine([tensor], "other")
        axes = _axes(axis) if axis is not None else None
        if not isinstance(axes, list) or tensor.rank is None or 0 in axes \
                or any(a < 0 and tensor.rank + a == 0 for a in axes):
            # Without `axis` every size-1 axis goes, and how many there are is not visible.
            return replace(tensor, rank=None, per_sample_note=None)
        rank = tensor.rank - len(set(axes))
        return replace(tensor, rank=rank, per_sample_note=_note(rank, node))

    def _per_sample_map(self, spelled: str, positional: list[Value], keywords: dict[str, Value],
                        frame: Frame, any_batch: bool) -> Value:
        """`tf.map_fn(fn, elems)`: fn sees one sample at a time, and the results are stacked
        on axis 0, the batch. Reductions inside fn act on one sample."""
        fn = positional[0] if positional else keywords.get("fn", keywords.get("function", keywords.get("f")))
        elems = positional[1] if len(positional) > 1 else next(
            (keywords[k] for k in ("elems", "elements", "xs") if k in keywords), CONST)
        if fn is not None and fn.kind is Kind.OBJECT and isinstance(fn.obj, FuncRef) and fn.obj.function is not None \
                and fn.obj.function.positional_params():
            # `lambda i: f(y_true[i], y_pred[i])` over `tf.range(batch)` sees one sample too.
            result = self.call_function(fn.obj.function, (samples_of(elems),), (), fn.obj.closure, frame.depth + 1)
            if result.kind is Kind.SAMPLE and not result.container:
                value = stacked(result)
                return replace(value, per_sample_note=f"{spelled}(...)" if value.rank == 1 else None)
        return Value(Kind.BATCH) if any_batch else CONST

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

        if tensor.kind is Kind.SAMPLE and not tensor.container:
            # Inside a per-sample function or loop: any axis is an axis of one sample.
            if axis is None:
                rank = tensor.rank if keep else 0
            else:
                axes = _axes(axis)
                rank = (tensor.rank if keep else tensor.rank - len(set(axes))) \
                    if isinstance(axes, list) and tensor.rank is not None else None
            return replace(tensor, rank=rank)
        if tensor.container:
            if tensor.kind is Kind.SAMPLE:
                tensor = stacked(tensor)  # a list of per-sample values: the batch on axis 0
            elif tensor.kind is Kind.BATCH:
                return self._reduce_sequence(node, tensor, axis, keep, reduction, spelled, frame)
            else:
                tensor = element(tensor)
        if tensor.kind is Kind.COLLAPSED:
            return tensor
        if not tensor.batchy:
            return CONST
        grows = reduction.family in catalogue.SCALE_WITH_BATCH
        if tensor.kind is Kind.FLAT:
            # the first flatten in the source (a set has no order of its own: the message must
            # not depend on the run)
            flat = min(tensor.origins, key=lambda o: (o.module.display, *o.module.span(o.node, o.function)[:2]),
                       default=None)
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
            return replace(tensor, rank=tensor.rank if keep else 1,
                           per_sample_note=None if keep else
                           f"{spelled}(..., axis={source_of(_axis_node(node, reduction))})")
        if axes is None:
            return replace(tensor, rank=None, per_sample_note=None)
        if 0 in axes:
            return self._collapse("LL102", node, frame, spelled, _message(
                f"`{spelled}(..., axis={_axis_text(axis)})` reduces axis 0, the batch axis"
                + (" (and a sum grows with the batch size)" if grows else ""),
                "reduce the non-batch axes instead, e.g. `axis=-1` or `[1, 2, 3]`"),
                statistic=axis.literal != ("from-batch",))
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

    def _reduce_sequence(self, node: cst.Call, seq: Value, axis: Value | None, keep: bool,
                         reduction: catalogue.Reduction, spelled: str, frame: Frame) -> Value:
        """A reduction of a list of per-sample terms, which it stacks first: the list is axis 0
        and the batch axis 1 (`tf.reduce_sum([bce, dice], axis=0)` adds the terms up)."""
        terms = element(seq)
        grows = reduction.family in catalogue.SCALE_WITH_BATCH
        if axis is None:
            return self._collapse(reduction.code, node, frame, spelled, _no_axis_message(spelled, grows))
        axes = _axes(axis)
        if not isinstance(axes, list):
            return replace(terms, kind=Kind.MOVED, rank=None, per_sample_note=None)
        rank = terms.rank + 1 if terms.rank is not None else None
        positions = {a + rank if a < 0 and rank is not None else a for a in axes}
        if 1 in positions:
            return self._collapse("LL102", node, frame, spelled, _message(
                f"`{spelled}(..., axis={_axis_text(axis)})` of a list of per-sample values reduces "
                "axis 1, the batch axis (the list itself is axis 0)"
                + (" (and a sum grows with the batch size)" if grows else ""),
                "reduce over the list with `axis=0`"))
        if 0 in positions and all(p >= 0 for p in positions):
            left = terms.rank - (len(positions) - 1) if terms.rank is not None and not keep else None
            return replace(terms, rank=left, per_sample_note=None)
        return replace(terms, kind=Kind.MOVED, rank=None, per_sample_note=None)

    # -- origins -------------------------------------------------------------------------
    def _origin(self, code: str, kind: str, node, frame: Frame, api: str, detail: str) -> Origin:
        function = frame.function if isinstance(frame.function, FunctionInfo) else None
        return Origin(code, kind, node, frame.function.module, api, detail, function)

    def _collapse(self, code: str, node, frame: Frame, api: str, detail: str, statistic: bool = False) -> Value:
        origin = self._origin(code, "reduction", node, frame, api, detail)
        return Value(Kind.COLLAPSED, origins=frozenset({replace(origin, statistic=statistic)}))


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
    # One batch operand: its rows times a matrix or vector (`tf.tensordot(y_true, weights, 1)`).
    # A factor computed from the batch then scales each sample, as `*` does.
    return combine(values, "mul" if batchy else "other")


def _target_names(target) -> list[str]:
    if isinstance(target, cst.Name):
        return [target.value]
    if isinstance(target, (cst.Tuple, cst.List)):
        return [name for e in target.elements for name in _target_names(e.value)]
    if isinstance(target, cst.StarredElement):
        return _target_names(target.value)
    return []


def _unpacked(value: Value) -> Value:
    if value.container or value.item is not None:
        return element(value)
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
    if len(positional) == 1 and positional[0].kind is Kind.CONST:
        return ("from-batch",)  # range(ndim), range(len(x.shape)): every axis from 0
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


def _ordinal(step: int) -> str:
    step = abs(step)
    return {2: "second", 3: "third", 4: "fourth"}.get(step, f"{step}th")


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
