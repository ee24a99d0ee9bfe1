"""Fixes for LL104 (all unsafe): `tf.nn.l2_loss` and reductions of flattened tensors.

    plan_scalar(finding, origin, project, evaluator, reported) -> fix_edits.Plan

`tf.nn.l2_loss(x)` becomes a per-sample half sum of squares; a group of flattens and the
sums/means of the flattened values (the global Dice) becomes per sample, all together or not
at all. losslint/fix.py calls `plan_scalar` for LL104 findings; what each fix does and when it
is refused is said on the functions below and in the README's fixing section.
"""

from __future__ import annotations

from collections.abc import Callable

import libcst as cst

from losslint import catalogue
from losslint.evaluate import Kind, Origin
from losslint.fix_edits import (
    Plan,
    axis_edit,
    is_constant,
    is_none,
    nonlinear_context,
    parents_of,
    qualified,
    replace_arg_value,
    short_code,
)
from losslint.fix_recording import RecordingEvaluator
from losslint.ftypes import Finding
from losslint.project import AssignBinding, ModuleInfo, Project


def plan_scalar(finding: Finding, origin: Origin, project: Project, evaluator: RecordingEvaluator,
                reported: frozenset[int]) -> Plan:
    module, node = origin.module, origin.node
    if not isinstance(node, cst.Call):
        return Plan(finding, module, None, "the call was not recognised")
    records = evaluator.inputs.get(id(node), [])
    if records and all(tensor.kind is Kind.FLAT for _, tensor in records):
        return _plan_flatten(finding, origin, project, evaluator, reported)
    scope = origin.function.scope if origin.function is not None else module.scope
    if qualified(project, node.func, scope) == "tensorflow.nn.l2_loss":
        return _plan_l2_loss(finding, origin, project, evaluator, scope)
    return Plan(finding, module, None, f"no automatic fix for `{origin.api}`")


# Where `0.5 * tf.reduce_sum(...)` can replace a call without parentheses.
_LOOSE_PARENTS = (cst.Arg, cst.Return, cst.Assign, cst.AnnAssign, cst.AugAssign, cst.Element, cst.Expr,
                  cst.Lambda, cst.IfExp, cst.Comparison, cst.ComparisonTarget, cst.BooleanOperation)


def _plan_l2_loss(finding: Finding, origin: Origin, project: Project, evaluator: RecordingEvaluator,
                  scope) -> Plan:
    """`tf.nn.l2_loss(x)` -> `0.5 * tf.reduce_sum(tf.square(x), axis=...)`: the half sum of
    squares of each sample. `axis=-1` when `x` is known to be (batch, n), else
    `tf.range(1, tf.rank(x))`, every axis but the batch for any rank, in eager and graph mode.
    The result is (batch,): not made where the function visibly returns values of another rank
    (where the rank is not visible, a per-sample term of shape (batch, d) beside it no longer
    broadcasts: `--probe` catches that)."""
    module, call = origin.module, origin.node
    if len(call.args) != 1 or call.args[0].keyword is not None or call.args[0].star:
        return Plan(finding, module, None, "`tf.nn.l2_loss` is called with more than one positional tensor")
    positional, _ = evaluator._last_args.get(id(call), ([], {}))
    if not positional or positional[0].kind is not Kind.BATCH:
        return Plan(finding, module, None, "the value given to `tf.nn.l2_loss` does not have its batch axis "
                                           "first (flattened or pairwise)")
    returned = evaluator.returns.get(id(origin.function.node), []) if origin.function is not None else []
    ranks = sorted({v.rank for v in returned if v.batchy and v.rank is not None and v.rank != 1})
    if ranks:
        return Plan(finding, module, None, f"the function also returns values of rank {ranks[0]}, which one value "
                                           "per sample would not broadcast against")
    func = call.func
    if not (isinstance(func, cst.Attribute) and isinstance(func.value, cst.Attribute)
            and func.value.attr.value == "nn" and qualified(project, func.value.value, scope) == "tensorflow"):
        return Plan(finding, module, None, "`tf.nn.l2_loss` is not spelled `<tensorflow>.nn.l2_loss`, "
                                           "so the fix has no name for TensorFlow")
    tf = module.tree.code_for_node(func.value.value)
    axis = "-1" if positional[0].rank == 2 else f"{tf}.range(1, {tf}.rank(__x__))"
    template = cst.parse_expression(f"0.5 * {tf}.reduce_sum({tf}.square(__x__), axis={axis})")
    parent = parents_of(module).get(id(call))
    loose = isinstance(parent, _LOOSE_PARENTS) or (
        isinstance(parent, cst.UnaryOperation) and isinstance(parent.operator, (cst.Minus, cst.Plus))) or (
        isinstance(parent, cst.BinaryOperation) and (
            isinstance(parent.operator, (cst.Add, cst.Subtract, cst.Multiply))
            or (isinstance(parent.operator, cst.Divide) and parent.left is call)))

    def transform(updated: cst.Call) -> cst.BaseExpression:
        new = _substitute(template, updated.args[0].value)
        if updated.lpar or loose:
            return new.with_changes(lpar=updated.lpar, rpar=updated.rpar)
        return new.with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()])

    shown = axis.replace("__x__", "x")
    return Plan(finding, module, "unsafe",
                f"rewrote `{origin.api}(x)` as `0.5 * {tf}.reduce_sum({tf}.square(x), axis={shown})`, "
                "a half sum of squares per sample (unsafe: Keras then averages these over the batch, so "
                "the term is divided by the batch size and its weight or the learning rate may need "
                "retuning)", call, transform)


def _substitute(template: cst.BaseExpression, value: cst.BaseExpression) -> cst.BaseExpression:
    """`template` with every name `__x__` replaced by `value`."""

    class _Put(cst.CSTTransformer):
        def leave_Name(self, original_node, updated_node):
            return value if updated_node.value == "__x__" else updated_node

    return template.visit(_Put())


_FLATTEN_FAMILIES = frozenset({"sum", "mean"})
_ARITHMETIC = (cst.Add, cst.Subtract, cst.Multiply, cst.Divide, cst.Power)


def _plan_flatten(finding: Finding, origin: Origin, project: Project, evaluator: RecordingEvaluator,
                  reported: frozenset[int]) -> Plan:
    """A reduction of flattened values (`K.flatten`, `tf.reshape(x, [-1])`, `ops.ravel`): every
    flatten becomes a per-sample one (`K.batch_flatten(x)`, `tf.reshape(x, [tf.shape(x)[0], -1])`,
    `ops.reshape(x, (ops.shape(x)[0], -1))`) and every reduction of the flattened values gets
    `axis=-1`, all in one edit. Only when the flattens and the reductions are in one function,
    the flattened values reach nothing but those reductions (through arithmetic and element-wise
    functions, and variables assigned once), and the function returns no batch-shaped value:
    then each reduction's scalar becomes one number per sample and nothing else changes shape."""
    module = origin.module
    group = _flatten_group(origin, project, evaluator, reported)
    if isinstance(group, str):
        return Plan(finding, module, None, group)
    reductions, flattens, described, together = group
    edits = [*((node, edit) for node, edit in flattens), *((node, edit) for node, _, edit in reductions)]
    families = {reduction.family for _, reduction, _ in reductions}
    outer = next((context for context in (nonlinear_context(node, origin) for node, _, _ in reductions)
                  if context is not None), None)
    function = origin.function
    helper = function.qualname != finding.function
    what = (f"flattened per sample ({', '.join(described)}) and reduced with `axis=-1` "
            f"({len(reductions)} reduction{'s' if len(reductions) != 1 else ''} in `{function.name}`)")
    if helper:
        what += f"; `{function.name}` changes for its other callers too"
    if outer is not None or together > 1:
        what += (f" (unsafe: what `{function.name}` computes from its reductions is now computed per "
                 "sample and averaged by Keras: a Dice or IoU over the whole batch becomes a per-image one)")
    elif "sum" in families:
        what += (" (unsafe: the loss becomes a mean of per-sample sums, so its scale changes and "
                 "the learning rate may need retuning)")
    elif helper:
        what += f" (unsafe: `{function.name}` is a helper whose result the loss may use non-linearly)"
    else:
        what += (" (unsafe: the flattens are rewritten too, not only the reduction; on dense tensors "
                 "Keras's mean of the per-sample means is still the old value)")
    own = next(edit for node, _, edit in reductions if node is origin.node)
    return Plan(finding, module, "unsafe", what, origin.node, own, extra=edits,
                group=frozenset(id(node) for node, _, _ in reductions))


def _flatten_group(origin: Origin, project: Project, evaluator: RecordingEvaluator, reported: frozenset[int]):
    """(reductions [(node, Reduction, edit)], flattens [(node, edit)], descriptions, how many
    reductions of flattened values the function has), or why not."""
    module, function = origin.module, origin.function
    if function is None:
        return "the reduction is not in a function"
    parents = parents_of(module)
    calls = _calls_in(function.node)
    flat_reductions = {id(call): call for call in calls
                       if any(t.kind is Kind.FLAT for _, t in evaluator.inputs.get(id(call), []))}
    members: dict[int, cst.Call] = {id(origin.node): origin.node}
    flattens: dict[int, Origin] = {}
    changed = True
    while changed:
        changed = False
        for call in list(members.values()):
            for _, tensor in evaluator.inputs.get(id(call), []):
                if tensor.kind is not Kind.FLAT:
                    return "a reduction of the flattened values also reduces values that are not flattened"
                for flat in tensor.origins:
                    if flat.kind != "flatten" or flat.function is not function or flat.module is not module:
                        return "the values are flattened in another function than the one reducing them"
                    flattens.setdefault(id(flat.node), flat)
        for key, call in flat_reductions.items():
            if key not in members and any(id(flat.node) in flattens for _, tensor in evaluator.inputs[id(call)]
                                          for flat in tensor.origins):
                members[key] = call
                changed = True
    reductions = []
    for call in members.values():
        reduction = evaluator.inputs[id(call)][0][0]
        if id(call) not in reported:
            return (f"another reduction of the same flattened values (`{short_code(call)}`) is not reported "
                    "(suppressed or not selected), and the flattens are shared")
        if reduction.family not in _FLATTEN_FAMILIES:
            return f"a `{reduction.family}` of the flattened values is not rewritten"
        edit = _flat_axis_edit(call, reduction)
        if edit is None:
            return f"`{short_code(call)}` passes `axis`, `keepdims`, `*args` or `**kwargs` in a form not rewritten"
        reductions.append((call, reduction, edit))
    if any(value.batchy for value in evaluator.returns.get(id(function.node), [])) \
            or id(function.node) not in evaluator.returns:
        return f"`{function.name}` also returns batch-shaped values, which the per-sample reductions would meet"
    scope = function.scope
    flow = _Flow(function, parents, {id(f.node) for f in flattens.values()},
                 {id(_tensor_arg(call)) for call, _, _ in reductions if _tensor_arg(call) is not None},
                 lambda call: qualified(project, call.func, scope))
    built, described = [], []
    for flat in sorted(flattens.values(), key=lambda flat: module.span(flat.node, function)[:2]):
        if not flow.reaches_only_targets(flat.node):
            return (f"the flattened `{short_code(flat.node)}` is used elsewhere than in the reductions "
                    "(or through calls that are not element-wise)")
        edit = _batch_flatten_edit(flat.node, qualified(project, flat.node.func, scope), module)
        if isinstance(edit, str):
            return edit
        built.append((flat.node, edit[0]))
        if edit[1] not in described:
            described.append(edit[1])
    return reductions, built, described, len(flat_reductions)


def _calls_in(node: cst.CSTNode) -> list[cst.Call]:
    found: list[cst.Call] = []

    class _Calls(cst.CSTVisitor):
        def visit_Call(self, call: cst.Call) -> None:
            found.append(call)

    node.visit(_Calls())
    return found


def _tensor_arg(call: cst.Call) -> cst.BaseExpression | None:
    positional = [a for a in call.args if a.keyword is None and not a.star]
    if positional:
        return positional[0].value
    return next((a.value for a in call.args if a.keyword is not None
                 and a.keyword.value in ("input_tensor", "x", "input", "tensor", "a")), None)


def _flat_axis_edit(call: cst.Call, reduction: catalogue.Reduction):
    """The reduction's edit to `axis=-1`; identity when it already says -1 (or 0: on a flat
    tensor both are every element, on a per-sample flatten -1 is the per-sample one)."""
    if any(a.star or (a.keyword is not None and a.keyword.value in ("keepdims", "keep_dims")) for a in call.args):
        return None
    positional = [a for a in call.args if a.keyword is None]
    axis = [a for a in call.args if a.keyword is not None and a.keyword.value in ("axis", "reduction_indices")]
    slot = positional[reduction.axis_position] if len(positional) > reduction.axis_position else (
        axis[0] if len(axis) == 1 else None)
    if slot is None and not axis:
        return axis_edit(call, reduction)
    if slot is None:
        return None
    value = slot.value
    if is_none(value) or (isinstance(value, cst.Integer) and value.value == "0"):
        index = call.args.index(slot)
        return lambda updated: replace_arg_value(updated, index)
    if isinstance(value, cst.UnaryOperation) and isinstance(value.operator, cst.Minus) \
            and isinstance(value.expression, cst.Integer) and value.expression.value == "1":
        return lambda updated: updated
    return None


class _Flow:
    """Where the flattened values go, syntactically, within one function."""

    def __init__(self, function, parents: dict[int, cst.CSTNode], flattens: set[int], targets: set[int],
                 qualified: Callable[[cst.Call], str]) -> None:
        self.function, self.parents, self.flattens, self.targets = function, parents, flattens, targets
        self.qualified = qualified
        bindings = function.scope.bindings
        self.once = {name for name, bs in bindings.items() if len(bs) == 1 and isinstance(bs[0], AssignBinding)}
        params = [p.name.value for p in function.positional_params()]
        if function.cls is not None and params:
            params = params[1:]
        self.tensors = set(params[:2])
        self.assigned = {name for name, bs in bindings.items() if any(isinstance(b, AssignBinding) for b in bs)}
        self.names: dict[str, list[cst.Name]] = {}
        body = function.node

        class _Names(cst.CSTVisitor):
            def visit_Name(inner, node: cst.Name) -> None:
                self.names.setdefault(node.value, []).append(node)

        body.visit(_Names())
        # Variables holding flattened values: assigned (once) from an expression with a flatten.
        self.flat_names: set[str] = set()
        assigns = [n for n in _nodes_of(body, cst.Assign)
                   if len(n.targets) == 1 and isinstance(n.targets[0].target, cst.Name)]
        grew = True
        while grew:
            grew = False
            for assign in assigns:
                name = assign.targets[0].target.value
                if name not in self.flat_names and self._mentions_flat(assign.value):
                    self.flat_names.add(name)
                    grew = True

    def _mentions_flat(self, node: cst.CSTNode) -> bool:
        if id(node) in self.flattens or (isinstance(node, cst.Name) and node.value in self.flat_names):
            return True
        return any(self._mentions_flat(child) for child in node.children)

    def _loads(self, name: str) -> list[cst.Name]:
        loads = []
        for node in self.names.get(name, []):
            parent = self.parents.get(id(node))
            if (isinstance(parent, cst.AssignTarget) and parent.target is node) \
                    or (isinstance(parent, cst.Attribute) and parent.attr is node) \
                    or (isinstance(parent, cst.Arg) and parent.keyword is node) \
                    or isinstance(parent, cst.Param):
                continue
            loads.append(node)
        return loads

    def _elementwise(self, call: cst.Call) -> bool:
        qualified = self.qualified(call)
        return qualified in catalogue.ELEMENTWISE or (
            qualified in catalogue.ADDITIVE | catalogue.MULTIPLICATIVE and qualified != "tensorflow.add_n")

    def operand(self, node: cst.BaseExpression) -> bool:
        """A value that may meet a flattened one: numbers, hyper-parameters, other flattened
        values, and element-wise functions of those."""
        if isinstance(node, (cst.Integer, cst.Float)):
            return True
        if id(node) in self.flattens:
            return True
        if isinstance(node, cst.Name) and node.value in self.flat_names:
            return True
        if isinstance(node, (cst.Name, cst.Attribute)):
            return is_constant(node, self.tensors, self.assigned)
        if isinstance(node, cst.UnaryOperation):
            return self.operand(node.expression)
        if isinstance(node, cst.BinaryOperation):
            return self.operand(node.left) and self.operand(node.right)
        if isinstance(node, cst.Call):
            if not node.args:
                return self.qualified(node) in catalogue.METADATA_FUNCS  # K.epsilon()
            return self._elementwise(node) and all(not a.star and self.operand(a.value) for a in node.args)
        return False

    def reaches_only_targets(self, node: cst.CSTNode, seen: set[str] | None = None) -> bool:
        seen = set() if seen is None else seen
        child = node
        while id(child) not in self.targets:
            parent = self.parents.get(id(child))
            if isinstance(parent, cst.BinaryOperation) and isinstance(parent.operator, _ARITHMETIC):
                if not self.operand(parent.right if parent.left is child else parent.left):
                    return False
            elif isinstance(parent, cst.UnaryOperation) and isinstance(parent.operator, (cst.Minus, cst.Plus)):
                pass
            elif isinstance(parent, cst.Arg) and parent.keyword is None and not parent.star:
                call = self.parents.get(id(parent))
                if not (isinstance(call, cst.Call) and call.func is not child and self._elementwise(call)
                        and all(a is parent or (not a.star and self.operand(a.value)) for a in call.args)):
                    return False
                parent = call
            elif isinstance(parent, cst.Assign) and len(parent.targets) == 1 \
                    and isinstance(parent.targets[0].target, cst.Name) and parent.value is child:
                name = parent.targets[0].target.value
                if name not in self.once:
                    return False
                if name in seen:
                    return True
                seen.add(name)
                loads = self._loads(name)
                return bool(loads) and all(self.reaches_only_targets(load, seen) for load in loads)
            else:
                return False
            child = parent
        return True


def _nodes_of(node: cst.CSTNode, kind: type) -> list:
    found: list = []

    class _Find(cst.CSTVisitor):
        def on_visit(self, each: cst.CSTNode) -> bool:
            if isinstance(each, kind):
                found.append(each)
            return True

    node.visit(_Find())
    return found


def _batch_flatten_edit(call: cst.Call, qualified: str, module: ModuleInfo):
    """(edit, description) turning a flatten into a per-sample one, spelled with the call's
    own module name; or why not."""
    func = call.func
    if not isinstance(func, cst.Attribute) or any(a.star for a in call.args):
        return f"`{short_code(call)}` is not called as `<module>.{short_code(func)}(...)` with plain arguments"
    receiver = module.tree.code_for_node(func.value)
    positional = [a for a in call.args if a.keyword is None]
    if qualified == "keras.backend.flatten" and len(call.args) == 1:
        return (lambda updated: updated.with_changes(func=updated.func.with_changes(attr=cst.Name("batch_flatten"))),
                f"`{receiver}.flatten` -> `{receiver}.batch_flatten`")
    if not positional or not _duplicable(positional[0].value):
        return f"the flattened value in `{short_code(call)}` is not a plain name (the fix would write it twice)"
    x = module.tree.code_for_node(positional[0].value)
    if qualified == "keras.ops.ravel" and len(call.args) == 1:
        new = cst.parse_expression(f"{receiver}.reshape({x}, ({receiver}.shape({x})[0], -1))")
        return (lambda updated: new.with_changes(lpar=updated.lpar, rpar=updated.rpar),
                f"`{receiver}.ravel(x)` -> `{receiver}.reshape(x, ({receiver}.shape(x)[0], -1))`")
    if qualified in ("tensorflow.reshape", "keras.ops.reshape", "keras.backend.reshape"):
        shape = positional[1] if len(positional) > 1 else next(
            (a for a in call.args if a.keyword is not None and a.keyword.value in ("shape", "newshape")), None)
        if shape is None or len(call.args) > 2 + sum(1 for a in call.args if a.keyword is not None
                                                     and a.keyword.value == "name"):
            return f"`{short_code(call)}` is not a plain `reshape(x, [-1])`"
        if qualified == "keras.backend.reshape":
            new = cst.parse_expression(f"{receiver}.batch_flatten({x})")
            return (lambda updated: new.with_changes(lpar=updated.lpar, rpar=updated.rpar),
                    f"`{receiver}.reshape(x, {short_code(shape.value)})` -> `{receiver}.batch_flatten(x)`")
        index = call.args.index(shape)
        if isinstance(shape.value, cst.Tuple):
            value = cst.parse_expression(f"({receiver}.shape({x})[0], -1)")
        else:
            value = cst.parse_expression(f"[{receiver}.shape({x})[0], -1]")

        def edit(updated: cst.Call) -> cst.Call:
            args = list(updated.args)
            args[index] = args[index].with_changes(value=value)
            return updated.with_changes(args=args)

        shown = short_code(value).replace(x, "x")
        return edit, f"`{receiver}.reshape(x, {short_code(shape.value)})` -> `{receiver}.reshape(x, {shown})`"
    return f"no per-sample spelling of `{short_code(call)}` is known"


def _duplicable(node: cst.BaseExpression) -> bool:
    """A name or a dotted attribute of one (`y_true`, `self.mask`): safe to write twice."""
    while isinstance(node, cst.Attribute):
        node = node.value
    return isinstance(node, cst.Name)
