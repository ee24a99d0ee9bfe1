"""The inventory of losses (`losslint check --show-losses`): every loss the analysis followed,
how it reaches Keras, where it is, and its verdict.

The analysis (losslint/analysis.py) gives each loss the (origin, code) pairs its value carries;
this module words how each loss reaches Keras (data: `HOW_IT_REACHES_KERAS`) and places the
`def` of each loss and the call that makes it one without generating the module's code.
"""

from __future__ import annotations

import ast
from collections.abc import Collection

import libcst as cst

from losslint.analysis import Analysis
from losslint.ftypes import Finding, LossFinding, LossRecord, Place
from losslint.project import CallSite, FunctionInfo, ModuleInfo, code_of

# How each kind of source (`LossTarget.source`) reaches Keras, in words for the inventory;
# `{site}` is the call that makes it a loss (`train.py:40`). A new kind of source adds a line
# here; one not listed is worded `<kind> at <site>`.
HOW_IT_REACHES_KERAS = {
    "compile": "compile at {site}",
    "loss-subclass": "Loss subclass",
    "wrapper": "wrapper at {site}",
    "registry": "put in a registry of losses",
    "custom-objects": "custom_objects at {site}",
    "signature": "signature",
}
# The rule family of per-sample values that depend on the rest of the batch (LL201): a loss
# with only these is "coupled", any other finding "collapses".
COUPLING_PREFIX = "LL2"


def describe_source(source: str, site: Place | None) -> str:
    """`compile at train.py:40`, `Loss subclass`, `signature`."""
    template = HOW_IT_REACHES_KERAS.get(source, f"{source} at {{site}}")
    if site is None:
        template = template.replace(" at {site}", "")
    return template.format(site=site)


def records(analysis: Analysis, kept: Collection[Finding]) -> list[LossRecord]:
    """Every loss with its verdict; `kept` are the findings that are reported (what
    `selection.select_findings` keeps of `findings()`), the others count as suppressed. The
    verdict rests on the loss's own codes: a term that collapses another loss only couples
    this one."""
    by_key = {(id(origin.node), code): finding
              for (_, origin, code, _), finding in zip(analysis.results, analysis.findings())}
    kept = set(kept)
    lines = _DefinitionLines()
    records = []
    for trace in analysis.traces:
        mine = {by_key[analysis.key(origin, code)]: code for origin, code in trace.carried}
        # in order, the collapses first: the first finding is the one the verdict rests on
        reported = sorted((f for f in mine if f in kept),
                          key=lambda f: (mine[f].startswith(COUPLING_PREFIX), f.sort_key()))
        if not trace.analysed:
            verdict = "not-analysed"
        elif any(not mine[f].startswith(COUPLING_PREFIX) for f in reported):
            verdict = "collapses"
        elif reported:
            verdict = "coupled"
        else:
            verdict = "suppressed" if mine else "per-sample"
        target = trace.target
        site = _call_place(target.site) if target.site is not None else None
        records.append(LossRecord(
            place=lines.place(target.function),
            function=target.function.qualname,
            source=target.source,
            via=describe_source(target.source, site),
            site=site,
            verdict=verdict,
            findings=tuple(LossFinding(f.code, Place(f.path, f.line, f.cell), f.column) for f in reported),
        ))
    return records


def _place(module: ModuleInfo, line: int) -> Place:
    if module.notebook is not None:
        cell, line = module.notebook.locate(line)
        return Place(module.display, line, cell)
    return Place(module.display, line)


def _call_place(site: CallSite) -> Place:
    module = site.scope.module
    line = _call_line(module.source, site.call)
    if line is None:
        within = site.in_function if site.in_function is not None and site.in_function.module is module else None
        line = module.span(site.call, within)[0]
    return _place(module, line)


def _call_line(source: str, call: cst.Call) -> int | None:
    """The line where `call` starts, when the start of its text occurs once in `source`.

    `ModuleInfo.span` generates the whole call's code to find it (a tenth of a millisecond
    for a `compile(...)`, as much as the rest of its line in the inventory); the callee and
    the plain arguments that open the call (`model.compile(optimizer="adam", loss=dice_loss`)
    are put together from their pieces, as LibCST would write them, and usually tell two
    calls apart. A piece written in any other way ends the text; a text found zero or
    several times leaves the call to `span`."""
    if "\r" in source and source.count("\r") != source.count("\r\n"):
        return None
    if call.lpar or not isinstance(call.func, (cst.Name, cst.Attribute)):
        return None
    after, before = call.whitespace_after_func, call.whitespace_before_args
    if not (isinstance(after, cst.SimpleWhitespace) and isinstance(before, cst.SimpleWhitespace)):
        return None
    pieces = [code_of(call.func), after.value, "(", before.value]
    for arg in call.args:
        text, complete = _plain_arg(arg)
        pieces.append(text)
        if not complete:
            break
    text = "".join(pieces)
    start = source.find(text)
    if start < 0 or source.find(text, start + 1) >= 0:
        return None
    return source.count("\n", 0, start) + 1


def _plain_arg(arg: cst.Arg) -> tuple[str, bool]:
    """How an argument opens, as written, and whether that is all of it with its comma:
    (`loss=dice_loss, `, True) for a name, dotted name or literal (keyword or positional)
    followed by a comma on the same line; (`loss=focal_loss(`, False) for a call of one;
    ("", False) for anything else."""
    value = arg.value
    if arg.star or getattr(value, "lpar", None):
        return "", False
    keyword = ""
    if arg.keyword is not None:
        equal = arg.equal
        if not (isinstance(equal, cst.AssignEqual) and isinstance(equal.whitespace_before, cst.SimpleWhitespace)
                and isinstance(equal.whitespace_after, cst.SimpleWhitespace)):
            return "", False
        keyword = f"{arg.keyword.value}{equal.whitespace_before.value}={equal.whitespace_after.value}"
    if isinstance(value, cst.Call) and not value.lpar and isinstance(value.func, (cst.Name, cst.Attribute)) \
            and isinstance(value.whitespace_after_func, cst.SimpleWhitespace):
        return f"{keyword}{code_of(value.func)}{value.whitespace_after_func.value}(", False
    if isinstance(value, (cst.Name, cst.Attribute)):
        text = code_of(value)
    elif isinstance(value, (cst.SimpleString, cst.Integer, cst.Float)):
        text = value.value
    else:
        return "", False
    comma = arg.comma
    if not (isinstance(comma, cst.Comma) and isinstance(comma.whitespace_before, cst.SimpleWhitespace)
            and isinstance(comma.whitespace_after, cst.SimpleWhitespace)
            and isinstance(arg.whitespace_after_arg, cst.SimpleWhitespace)):
        return f"{keyword}{text}", False
    return (f"{keyword}{text}{comma.whitespace_before.value},{comma.whitespace_after.value}"
            f"{arg.whitespace_after_arg.value}", True)


class _DefinitionLines:
    """The `def` line of each loss without LibCST's positions (which `ModuleInfo.span` falls
    back to for a statement, at the cost of generating the module's code): where its `def
    name(` text is when it occurs once, else from Python's own parser; a lambda, or a
    qualname defined twice, still asks `span`."""

    def __init__(self) -> None:
        self._lines: dict[int, dict[str, list[int]]] = {}

    def place(self, function: FunctionInfo) -> Place:
        module = function.module
        if not isinstance(function.node, cst.FunctionDef):  # a lambda
            return _place(module, module.span(function.node, function)[0])
        line = _only_def_line(module.source, function.node)
        if line is not None:
            return _place(module, line)
        if id(module) not in self._lines:
            self._lines[id(module)] = _def_lines(module.source)
        found = self._lines[id(module)].get(function.qualname, [])
        if len(found) == 1:
            return _place(module, found[0])
        return _place(module, module.span(function.node, function)[0])


def _only_def_line(source: str, node: cst.FunctionDef) -> int | None:
    """The line of `def name(`, written as `node` writes it, when that text occurs once in
    `source` (then it is the `def` itself); else None (several times: methods called `call`
    in each Loss class; or a lone CR, which Python counts as a line break and this count
    would not)."""
    if "\r" in source and source.count("\r") != source.count("\r\n"):
        return None
    after_def, after_name = node.whitespace_after_def, node.whitespace_after_name
    if not (isinstance(after_def, cst.SimpleWhitespace) and isinstance(after_name, cst.SimpleWhitespace)):
        return None
    needle = f"def{after_def.value}{node.name.value}{after_name.value}("
    start = source.find(needle)
    if start < 0 or source.find(needle, start + 1) >= 0:
        return None
    return source.count("\n", 0, start) + 1


def _def_lines(source: str) -> dict[str, list[int]]:
    """`__qualname__` -> the lines of the `def`s that have it. Only statement blocks are
    walked (a `def` cannot hide in an expression): a tenth of the cost of every node."""
    try:
        tree = compile(source, "<losslint>", "exec", ast.PyCF_ONLY_AST)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return {}
    lines: dict[str, list[int]] = {}
    todo: list[tuple[list, str]] = [(tree.body, "")]
    while todo:
        block, prefix = todo.pop()
        for node in block:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines.setdefault(prefix + node.name, []).append(node.lineno)
                todo.append((node.body, f"{prefix}{node.name}.<locals>."))
            elif isinstance(node, ast.ClassDef):
                todo.append((node.body, f"{prefix}{node.name}."))
            else:  # if/for/while/with/try/match: their blocks belong to the same scope
                for field in _BLOCKS:
                    inner = getattr(node, field, None)
                    if inner:
                        todo.append((inner, prefix))
    return lines


_BLOCKS = ("body", "orelse", "finalbody", "handlers", "cases")
