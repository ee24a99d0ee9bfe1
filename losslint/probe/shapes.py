"""Input shapes for the probe, read from the model built in the loss's own file.

    infer_shapes(module) -> [InferredShape]     static: no TensorFlow, no user code run

Only what is easy and literal:

  last layer `Dense(n)` / `Dense(units=n)`      y_pred (None, n); y_true (None, n), then
                                                sparse labels (None,)
  last layer `Conv2D(filters, ...)`             y_pred (None, h, w, filters), with (h, w) from
  (or `Conv2DTranspose`)                        the last `Input(shape=(h, w, c))`,
                                                `Input((h, w, c))`, `InputLayer(input_shape=...)`
                                                or `input_shape=(h, w, c)` before it; without a
                                                literal input shape, (None, None, None, filters);
                                                y_true the same, then sparse labels (None, h, w)

"Last layer" is the `Dense`/`Conv2D` call that comes last in the file. Sizes may be integer
literals or names bound once at the module's top level to one (`NUM_CLASSES = 10`,
`IMG = (128, 128, 3)`). Calls that resolve to a class or function of the scanned code (a
user's own `Dense`) are not layers. Anything else infers nothing, and the probe uses its
default shapes.
"""

from __future__ import annotations

from dataclasses import dataclass

import libcst as cst

from losslint.project import ClassInfo, FunctionInfo, ModuleInfo, Project

_DENSE = ("Dense",)
_CONV = ("Conv2D", "Conv2DTranspose", "Convolution2D")
_INPUTS = ("Input", "InputLayer")


@dataclass(frozen=True)
class InferredShape:
    """One (y_true, y_pred) pair of (dtype, dims) for the worker, and where it came from."""

    pair: tuple
    source: str  # "`Dense(10)` at train.py:31"


def _constants(module: ModuleInfo) -> dict[str, object]:
    """Names bound exactly once at the module's top level to a literal int or shape tuple."""
    values: dict[str, object] = {}
    counts: dict[str, int] = {}
    for statement in module.tree.body:
        if not isinstance(statement, cst.SimpleStatementLine):
            continue
        for small in statement.body:
            targets = []
            if isinstance(small, cst.Assign):
                targets = [t.target for t in small.targets]
            elif isinstance(small, cst.AnnAssign) and small.value is not None:
                targets = [small.target]
            for target in targets:
                if isinstance(target, cst.Name):
                    counts[target.value] = counts.get(target.value, 0) + 1
                    value = _value(small.value, values)
                    if value is not _NOTHING:
                        values[target.value] = value
    return {name: value for name, value in values.items() if counts.get(name) == 1}


_NOTHING = object()


def _value(expr: cst.BaseExpression, constants: dict[str, object]):
    """An int, None, or a tuple of them; _NOTHING for anything else."""
    if isinstance(expr, cst.Integer):
        try:
            return int(expr.value, 0)
        except ValueError:
            return _NOTHING
    if isinstance(expr, cst.Name):
        if expr.value == "None":
            return None
        return constants.get(expr.value, _NOTHING)
    if isinstance(expr, (cst.Tuple, cst.List)):
        items = []
        for element in expr.elements:
            if isinstance(element, cst.StarredElement):
                return _NOTHING
            item = _value(element.value, constants)
            if item is _NOTHING or isinstance(item, tuple):
                return _NOTHING
            items.append(item)
        return tuple(items)
    return _NOTHING


def _argument(call: cst.Call, keyword: str, position: int | None = 0):
    """The expression passed as `keyword=`, or as the positional argument `position`."""
    positional = 0
    for arg in call.args:
        if arg.star:
            return None
        if arg.keyword is not None:
            if arg.keyword.value == keyword:
                return arg.value
            continue
        if position is not None and positional == position:
            return arg.value
        positional += 1
    return None


def _is_layer(project: Project, module: ModuleInfo, site) -> bool:
    if not isinstance(site.call.func, (cst.Name, cst.Attribute)):
        return False
    resolved = project.resolve(site.call.func, site.scope)
    return not isinstance(resolved, (ClassInfo, FunctionInfo))


def _positive(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _dims(value) -> bool:
    return isinstance(value, tuple) and bool(value) and all(d is None or _positive(d) for d in value)


def infer_shapes(project: Project, module: ModuleInfo) -> list[InferredShape]:
    """Shapes from the last Dense/Conv2D layer built in `module`, most likely first."""
    constants = _constants(module)
    layers = []  # (line, column, kind, size, call)
    inputs = []  # (line, column, dims)
    for names, kind in ((_DENSE, "dense"), (_CONV, "conv")):
        for name in names:
            for site in module.calls_by_name.get(name, ()):
                if not _is_layer(project, module, site):
                    continue
                keyword = "units" if kind == "dense" else "filters"
                expr = _argument(site.call, keyword)
                size = _value(expr, constants) if expr is not None else _NOTHING
                line, column = module.span(site.call)[:2]
                layers.append((line, column, kind, size if _positive(size) else None, name))
    for name, sites in module.calls_by_name.items():
        for site in sites:
            if name in _INPUTS and _is_layer(project, module, site):
                expr = _argument(site.call, "shape", 0 if name == "Input" else None)
                if expr is None:
                    expr = _argument(site.call, "input_shape", None)
            else:
                expr = _argument(site.call, "input_shape", None)
            if expr is None:
                continue
            dims = _value(expr, constants)
            if _dims(dims):
                line, column = module.span(site.call)[:2]
                inputs.append((line, column, dims))
    if not layers:
        return []
    line, column, kind, size, name = max(layers, key=lambda layer: layer[:2])
    if size is None:
        return []
    where = f"at {_where(module, line)}"
    if kind == "dense":
        pred = (None, size)
        source = f"`{name}({size})` {where}"
        return [InferredShape((("float32", pred), ("float32", pred)), source),
                InferredShape((("int32", (None,)), ("float32", pred)), source)]
    before = [i for i in inputs if i[:2] < (line, column) and len(i[2]) == 3]
    if before:
        input_line, _, (h, w, _) = max(before, key=lambda i: i[:2])
        if input_line == line:
            source = f"`{name}({size}, ...)` and the input shape at {_where(module, line)}"
        else:
            source = f"`{name}({size}, ...)` {where} and the input shape at {_where(module, input_line)}"
    else:
        h = w = None
        source = f"`{name}({size}, ...)` {where}"
    pred = (None, h, w, size)
    return [InferredShape((("float32", pred), ("float32", pred)), source),
            InferredShape((("int32", (None, h, w)), ("float32", pred)), source)]


def _where(module: ModuleInfo, line: int) -> str:
    if module.notebook is not None:
        cell, line = module.notebook.locate(line)
        return f"{module.display}:cell {cell}:{line}"
    return f"{module.display}:{line}"
