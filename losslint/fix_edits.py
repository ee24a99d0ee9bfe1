"""The fixer's pieces that every rule's fixes share: a `Plan` (what can be done about one
finding, and the tree edits that do it), the parent map of a module, whether a mean reaches
its statement only through linear steps, and the edits of one call's arguments (`axis=-1`
added or put in place of `None`). losslint/fix.py plans LL101/LL103 fixes with them,
losslint/fix_ll104.py the LL104 ones."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import libcst as cst

from losslint import catalogue
from losslint.evaluate import Origin
from losslint.ftypes import Finding
from losslint.project import AssignBinding, ModuleInfo, Project


@dataclass
class Plan:
    """What can be done about one reported finding."""

    finding: Finding
    module: ModuleInfo | None
    safety: str | None  # "safe", "unsafe", or None: no fix
    reason: str  # the fix's description, or why there is none
    node: cst.CSTNode | None = None  # the node the fix replaces
    transform: Callable[[cst.CSTNode], cst.CSTNode] | None = None
    # The loss the finding is in (a LossTarget) and the round's project: what `--probe` runs
    # to verify the fix (losslint/probe/verify.py).
    target: object | None = None
    project: Project | None = None
    # More edits the fix needs besides `node` (the flatten fix rewrites the flattens and every
    # reduction of the flattened values), and the ids of the reduction nodes whose findings
    # must all be fixed together, or none of them.
    extra: list[tuple[cst.CSTNode, Callable[[cst.CSTNode], cst.CSTNode]]] = field(default_factory=list)
    group: frozenset[int] | None = None

    def edits(self) -> list[tuple[cst.CSTNode, Callable[[cst.CSTNode], cst.CSTNode]]]:
        return [(self.node, self.transform), *self.extra] if self.node is not None else list(self.extra)


def parents_of(module: ModuleInfo) -> dict[int, cst.CSTNode]:
    cached = _PARENTS.get(id(module))
    if cached is not None and cached[0] is module.tree:
        return cached[1]
    parents: dict[int, cst.CSTNode] = {}

    class _Parents(cst.CSTVisitor):
        def on_visit(self, node: cst.CSTNode) -> bool:
            for child in node.children:
                parents[id(child)] = node
            return True

    module.tree.visit(_Parents())
    _PARENTS[id(module)] = (module.tree, parents)
    return parents


_PARENTS: dict[int, tuple[cst.Module, dict[int, cst.CSTNode]]] = {}


def nonlinear_context(node: cst.CSTNode, origin: Origin) -> str | None:
    """None when the mean reaches its statement (return, assignment, lambda body) only through
    `+`, `-`, unary minus, and `*` or `/` by a number or a name not computed in the function
    (a hyper-parameter); else the source of the first other expression around it. Keras's mean
    of per-sample means is the old scalar only through such linear steps."""
    parents = parents_of(origin.module)
    tensors, assigned = _tensor_names(origin.function)
    child = node
    while True:
        parent = parents.get(id(child))
        if parent is None or isinstance(parent, (cst.Return, cst.Assign, cst.AnnAssign, cst.Lambda,
                                                 cst.SimpleStatementLine)):
            return None
        if isinstance(parent, cst.AugAssign):
            return None if isinstance(parent.operator, (cst.AddAssign, cst.SubtractAssign)) else short_code(parent)
        if isinstance(parent, cst.UnaryOperation) and isinstance(parent.operator, (cst.Minus, cst.Plus)):
            child = parent
            continue
        if isinstance(parent, cst.BinaryOperation):
            if isinstance(parent.operator, (cst.Add, cst.Subtract)):
                child = parent
                continue
            other = parent.left if parent.right is child else parent.right
            if (isinstance(parent.operator, cst.Multiply)
                    or (isinstance(parent.operator, cst.Divide) and parent.left is child)) \
                    and is_constant(other, tensors, assigned):
                child = parent
                continue
        if isinstance(parent, cst.Arg):
            parent = parents.get(id(parent), parent)
        return short_code(parent)


def in_ratio(node: cst.CSTNode, origin: Origin) -> bool:
    """Does the reduction's value reach a division by (or of) a value computed from the batch,
    directly or through variables of its function: the sums of a Dice, IoU or Tversky index?"""
    parents = parents_of(origin.module)
    function = origin.function
    tensors, assigned = _tensor_names(function)
    todo, seen = [node], set()
    while todo:
        child = todo.pop()
        while True:
            parent = parents.get(id(child))
            if parent is None or isinstance(parent, (cst.Return, cst.SimpleStatementLine, cst.Lambda)):
                break
            if isinstance(parent, cst.BinaryOperation) and isinstance(parent.operator, cst.Divide):
                other = parent.left if parent.right is child else parent.right
                if not is_constant(other, tensors, assigned):
                    return True
            if isinstance(parent, cst.Assign):
                names = [t.target.value for t in parent.targets if isinstance(t.target, cst.Name)]
                if function is not None:
                    for name in set(names) - seen:
                        seen.add(name)
                        todo += loads_of(function, name, parents)
                break
            child = parent
    return False


def _tensor_names(function) -> tuple[set[str], set[str]]:
    """The function's tensor parameters (y_true, y_pred) and the names it assigns."""
    if function is None:
        return set(), set()
    params = [p.name.value for p in function.positional_params()]
    if function.cls is not None and params:
        params = params[1:]
    assigned = {name for name, bindings in function.scope.bindings.items()
                if any(isinstance(b, AssignBinding) for b in bindings)}
    return set(params[:2]), assigned


def loads_of(function, name: str, parents: dict[int, cst.CSTNode]) -> list[cst.Name]:
    """The loads of `name` in the function's body (not its assignments)."""
    found: list[cst.Name] = []

    class _Loads(cst.CSTVisitor):
        def visit_Name(self, node: cst.Name) -> None:
            if node.value == name:
                parent = parents.get(id(node))
                targets = isinstance(parent, cst.AssignTarget) or (
                    isinstance(parent, (cst.AugAssign, cst.AnnAssign)) and parent.target is node)
                if not targets:
                    found.append(node)

    function.node.body.visit(_Loads())
    return found


def is_constant(node: cst.BaseExpression, tensors: set[str], assigned: set[str]) -> bool:
    if isinstance(node, cst.UnaryOperation):
        return is_constant(node.expression, tensors, assigned)
    if isinstance(node, (cst.Integer, cst.Float)):
        return True
    if isinstance(node, cst.Name):
        return node.value not in tensors and node.value not in assigned
    if isinstance(node, cst.Attribute) and isinstance(node.value, cst.Name) and node.value.value == "self":
        return True  # a hyper-parameter stored on the loss object
    return False


def short_code(node: cst.CSTNode) -> str:
    text = " ".join(cst.Module(body=[]).code_for_node(node).split())
    return text if len(text) <= 60 else text[:57] + "..."


def qualified(project, node: cst.BaseExpression, scope) -> str:
    """What a name or attribute chain stands for (`tensorflow.nn.l2_loss`), or ""."""
    resolved = project.resolve(node, scope)
    return catalogue.canonical(getattr(resolved, "qualified", "") or "")


def tensorflow_name(project, call: cst.Call, scope) -> str | None:
    """The file's spelling of TensorFlow when the call's callee is rooted in it (`tf` of
    `tf.math.reduce_sum`), else None."""
    root = call.func
    while isinstance(root, cst.Attribute):
        root = root.value
    if root is call.func or not isinstance(root, cst.Name):
        return None
    return root.value if qualified(project, root, scope) == "tensorflow" else None


def batch_axes(call: cst.Call, rank: int | None, tensorflow: str | None) -> str | None:
    """The source of an `axis` that reduces every axis of the call's first argument but the
    batch: `-1` for a known (batch, n), `[1, 2, 3]` for a known rank 4, else a form right for
    any rank, in the call's own namespace: `tf.range(1, tf.rank(x))` (TensorFlow, graph mode
    included), `list(range(1, K.ndim(x)))` (the Keras backend, `keras.ops`). None when the
    argument is too long to repeat or no namespace is known."""
    if rank == 2:
        return "-1"
    if rank is not None and rank > 2:
        return "[" + ", ".join(str(axis) for axis in range(1, rank)) + "]"
    positional = [a for a in call.args if a.keyword is None and not a.star]
    if not positional or not isinstance(call.func, cst.Attribute):
        return None
    x = cst.Module(body=[]).code_for_node(positional[0].value)
    if "\n" in x or len(x) > 60:
        return None
    if tensorflow is not None:
        return f"{tensorflow}.range(1, {tensorflow}.rank({x}))"
    namespace = cst.Module(body=[]).code_for_node(call.func.value)
    return f"list(range(1, {namespace}.ndim({x})))"


def axis_edit(call: cst.Call, reduction: catalogue.Reduction, axis: str = "-1"):
    """A function from the (possibly already edited) call to the call with `axis=<axis>`."""
    if any(arg.star for arg in call.args):
        return None
    value = minus_one() if axis == "-1" else cst.parse_expression(axis)
    positional = [a for a in call.args if a.keyword is None]
    axis_keywords = [a for a in call.args if a.keyword is not None and a.keyword.value in ("axis", "reduction_indices")]
    if len(positional) > reduction.axis_position:
        slot = positional[reduction.axis_position]
        if not is_none(slot.value):
            return None
        return lambda updated: replace_arg_value(updated, call.args.index(slot), value)
    if axis_keywords:
        if len(axis_keywords) > 1 or not is_none(axis_keywords[0].value):
            return None
        return lambda updated: replace_arg_value(updated, call.args.index(axis_keywords[0]), value)
    before = next((i for i, a in enumerate(call.args)
                   if a.keyword is not None and a.keyword.value in ("keepdims", "keep_dims")), None)
    new = cst.Arg(keyword=cst.Name("axis"), value=value,
                  equal=cst.AssignEqual(whitespace_before=cst.SimpleWhitespace(""),
                                        whitespace_after=cst.SimpleWhitespace("")))
    return lambda updated: insert_arg(updated, new, before)


def is_none(node: cst.BaseExpression) -> bool:
    return isinstance(node, cst.Name) and node.value == "None"


def minus_one() -> cst.BaseExpression:
    return cst.UnaryOperation(operator=cst.Minus(), expression=cst.Integer("1"))


def replace_arg_value(call: cst.Call, index: int, value: cst.BaseExpression | None = None) -> cst.Call:
    args = list(call.args)
    args[index] = args[index].with_changes(value=minus_one() if value is None else value)
    return call.with_changes(args=args)


def insert_arg(call: cst.Call, new: cst.Arg, before: int | None) -> cst.Call:
    """`call` with `new` inserted before argument `before` (None: last), laid out like the
    call's other arguments (one line, or one argument per line)."""
    args = list(call.args)
    if before is not None:
        previous = args[before - 1] if before > 0 else None
        if previous is not None and isinstance(previous.comma, cst.Comma):
            new = new.with_changes(comma=previous.comma)
        elif isinstance(call.whitespace_before_args, cst.ParenthesizedWhitespace):
            new = new.with_changes(comma=cst.Comma(whitespace_after=fresh_line(call.whitespace_before_args)))
        return call.with_changes(args=[*args[:before], new, *args[before:]])
    if not args:
        return call.with_changes(args=[new])
    last = args[-1]
    inner = call.whitespace_before_args
    comma = last.comma if isinstance(last.comma, cst.Comma) else None
    if comma is not None and isinstance(comma.whitespace_after, cst.ParenthesizedWhitespace):
        # One argument per line with a trailing comma: the new one goes on its own line.
        closing = comma.whitespace_after
        indent = inner.last_line if isinstance(inner, cst.ParenthesizedWhitespace) else closing.last_line
        args[-1] = last.with_changes(comma=comma.with_changes(whitespace_after=closing.with_changes(last_line=indent)))
        new = new.with_changes(comma=cst.Comma(whitespace_after=fresh_line(closing)))
    elif comma is None and isinstance(last.whitespace_after_arg, cst.ParenthesizedWhitespace):
        # One argument per line, no trailing comma: `x\n)` becomes `x,\n    axis=-1\n)`.
        closing = last.whitespace_after_arg
        indent = inner.last_line if isinstance(inner, cst.ParenthesizedWhitespace) else closing.last_line
        args[-1] = last.with_changes(comma=cst.Comma(whitespace_after=closing.with_changes(last_line=indent)),
                                     whitespace_after_arg=cst.SimpleWhitespace(""))
        new = new.with_changes(whitespace_after_arg=fresh_line(closing))
    elif comma is not None:
        # `f(x, )` or `f(x,)`: keep the trailing comma after the new argument.
        args[-1] = last.with_changes(comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" ")))
        new = new.with_changes(comma=comma)
    return call.with_changes(args=[*args, new])


def fresh_line(whitespace: cst.ParenthesizedWhitespace) -> cst.ParenthesizedWhitespace:
    """A line break to the same indentation, without the comment the original may carry."""
    return cst.ParenthesizedWhitespace(first_line=cst.TrailingWhitespace(), empty_lines=[],
                                       indent=whitespace.indent, last_line=whitespace.last_line)
