"""From parsed modules to findings: find the losses, follow their values, report.

This is the one place where the finder (which functions are losses), the evaluator (what a
loss returns) and the rule catalogue (how a finding is worded) meet, and where each loss gets
its verdict for the inventory (`losslint check --show-losses`).
"""

from __future__ import annotations

import ast
import fnmatch
from collections.abc import Collection, Sequence
from dataclasses import dataclass

import libcst as cst

from losslint.catalogue import CONVENTIONAL_ALIASES
from losslint.evaluate import Evaluator, Kind, Origin, Value
from losslint.finder import Finder, LossTarget
from losslint.ftypes import Finding, LossFinding, LossRecord, Place, Settings
from losslint.project import CallSite, FunctionInfo, ModuleInfo, Project, code_of
from losslint.rules import RULES

_SIGNATURE_NOTE = " [a loss by its (y_true, y_pred) signature]"


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


def reported_origins(value: Value) -> list[tuple[Origin, str]]:
    """The (origin, code) pairs a returned value carries to the user."""
    if value.kind is Kind.COLLAPSED:
        return [(o, o.code) for o in value.origins if o.kind == "reduction"]
    if value.batchy:
        # The value keeps its batch axis: a term reduced over the batch and broadcast back onto
        # every sample couples the samples (LL202), it does not collapse them; a path that
        # returns the collapsed value (a branch, `tf.cond`) collapses the loss on that path.
        pairs = [(o, o.code if o.on_a_path else BROADCAST_CODE) for o in value.broadcast]
        pairs += [(o, "LL201") for o in value.coupled]
        return pairs
    return []


BROADCAST_CODE = "LL202"


def _broadcast_message(origin: Origin) -> str:
    """The reduction's own message (what it reduces; why; how to fix), told as a term that is
    added back to every sample."""
    parts = origin.detail.split("; ")
    what, fix = parts[0], parts[-1] if len(parts) > 1 else "reduce only the non-batch axes, e.g. `axis=-1`"
    return (f"{what}, and that one number for the whole batch is added to every sample's loss: each "
            "sample's loss depends on the rest of its batch, and sample/class weights and masks do not "
            f"reach this term; {fix}")


def _coupling_message(origin: Origin) -> str:
    if origin.kind == "batch-size":
        return (f"the per-sample loss is scaled by {origin.detail}, but Keras already averages "
                "over the batch (`sum_over_batch_size`): the loss shrinks as the batch grows and the "
                "last, partial batch is over-weighted; return the per-sample values undivided")
    if origin.kind == "one-sample":
        return (f"`{origin.api}` is one fixed sample of the batch (whichever comes first), and it is "
                "combined with every sample's values: each sample's loss depends on another sample of "
                "its batch, and changes with the order of the batch; index each sample's own row "
                "(`y_true[:, ...]`)")
    if origin.kind == "batch-term":
        return (f"`{origin.api}(...)` is computed over the batch axis (a statistic of the whole batch, as "
                "VICReg's variance and covariance terms or a batch centre are by design) and combined with "
                "every sample's values: the loss keeps one value per sample, but each depends on the other "
                "samples of its batch, so samples with zero weight or masked out still move it and it "
                "changes with the batch size; if that is intended, say so with `# noqa: LL201`, otherwise "
                "compute it per sample (`axis=-1`) or from constants")
    if origin.statistic:
        return (f"the per-sample loss is scaled by `{origin.api}(...)`, computed over the batch axis (a "
                "statistic of this batch: its class counts, mean or spread), so each sample's loss depends "
                "on the rest of its batch: its weight changes with the batch it lands in, and samples with zero weight "
                "still move the statistic; compute such weights once from the training labels and use "
                "them as constants, or normalise each sample by its own statistics (`axis=-1`)")
    return (f"the per-sample loss is scaled by `{origin.api}(...)`, a statistic of the whole batch, so "
            "each sample's loss depends on the rest of its batch; normalise each sample by its own "
            "statistics (`axis=-1`) or by a constant")


def analyse(project: Project, settings: Settings | None = None, finder: Finder | None = None,
            evaluator: Evaluator | None = None) -> list[tuple[LossTarget, Origin, str, str]]:
    """Every (loss, origin, code, message), one per reported place and code: the `results` of
    `analyse_losses`, which says more (every loss with every reduction it carries)."""
    return analyse_losses(project, settings, finder, evaluator).results


def analyse_losses(project: Project, settings: Settings | None = None, finder: Finder | None = None,
                   evaluator: Evaluator | None = None) -> Analysis:
    """Find the losses, follow each one's value, and keep both views of the result: the
    findings (a reduction reached by several losses is reported once, under the first) and
    each loss with everything its value carries (the inventory, `--show-losses`).

    `settings.not_losses` removes losses; `settings.keeps_batch` makes calls to the named
    helpers element-wise: the configuration's escape hatches for false positives.
    `finder` replaces the default `Finder(project)` (losslint/incremental.py analyses a
    project in parts and passes one that knows the other parts' metric and helper names);
    `evaluator` replaces the default one (losslint/fix.py passes one that records more).
    """
    settings = settings or Settings()
    finder = finder if finder is not None else Finder(project)
    targets = [t for t in finder.find() if not matches_names(t.function, settings.not_losses)]
    if evaluator is None:
        evaluator = Evaluator(project, keeps_batch=settings.keeps_batch)
    seen: set[tuple[int, str]] = set()
    results = []
    traces = []
    for target in targets:
        try:
            value = evaluator.evaluate_loss(target.function, target.bound_positional, target.bound_keywords)
        except RecursionError:
            # an expression nested thousands deep: skip this loss rather than the run
            traces.append(LossTrace(target, [], analysed=False))
            continue
        carried = []
        for origin, code in reported_origins(value):
            key = (id(origin.node), code)
            carried.append((origin, code))
            if key in seen:
                continue
            seen.add(key)
            message = (_coupling_message(origin) if code == "LL201" else
                       _broadcast_message(origin) if code == BROADCAST_CODE else origin.detail)
            if origin.function is not None and origin.function is not target.function:
                message += f" (via `{origin.function.qualname}`)"
            message += _assumed_alias_note(origin)
            if target.inferred:
                message += _SIGNATURE_NOTE
            results.append((target, origin, code, message))
        traces.append(LossTrace(target, carried))
    # A reduction that collapses one loss and is a batch term of another is one place to fix:
    # reported once, as the collapse, under which both losses list it (`Analysis.key`); each
    # loss keeps its own code for its verdict.
    collapses = {id(origin.node) for _, origin, code, _ in results if code != BROADCAST_CODE and code != "LL201"}
    results = [r for r in results if not (r[2] == BROADCAST_CODE and id(r[1].node) in collapses)]
    return Analysis(results, traces)


def _assumed_alias_note(origin: Origin) -> str:
    """Say so when the reduction was read through a conventional alias nothing binds here."""
    head = origin.api.split(".")[0]
    meaning = CONVENTIONAL_ALIASES.get(head)
    if meaning is None or head == meaning:
        return ""
    scope = origin.function.scope if origin.function is not None else origin.module.scope
    if scope is None or scope.lookup(head) or origin.module.star_imports:
        return ""
    return f" (`{head}` is not imported in this file: read as `{meaning}`)"


@dataclass
class LossTrace:
    """One loss and every (origin, code) its returned value carries, the ones another loss
    reported first included; `analysed` is False when the evaluation gave up."""

    target: LossTarget
    carried: list[tuple[Origin, str]]
    analysed: bool = True


# How each kind of source (`LossTarget.source`) reaches Keras, in words for the inventory;
# `{site}` is the call that makes it a loss (`train.py:40`). A new kind of source adds a line
# here; one not listed is worded `<kind> at <site>`.
HOW_IT_REACHES_KERAS = {
    "compile": "compile at {site}",
    "loss-subclass": "Loss subclass",
    "wrapper": "wrapper at {site}",
    "registry": "registered by a decorator",
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


class Analysis:
    """What `analyse_losses` found: `results` (one per reported place and code, as `analyse`
    returns them) and `traces` (every loss, in the finder's order)."""

    def __init__(self, results: list[tuple[LossTarget, Origin, str, str]], traces: list[LossTrace]) -> None:
        self.results = results
        self.traces = traces
        self._findings: list[Finding] | None = None
        self._keys: set[tuple[int, str]] | None = None

    def key(self, origin: Origin, code: str) -> tuple[int, str]:
        """The result a loss's (origin, code) is reported under: its own, or the collapse at
        the same place when the batch term of this loss collapses another (`analyse_losses`)."""
        if self._keys is None:
            self._keys = {(id(o.node), c) for _, o, c, _ in self.results}
        own = (id(origin.node), code)
        return own if own in self._keys else (id(origin.node), origin.code)

    def findings(self) -> list[Finding]:
        """One per result, each with `losses`: every loss that reaches its reduction."""
        if self._findings is None:
            reaching: dict[tuple[int, str], set[str]] = {}
            for trace in self.traces:
                for origin, code in trace.carried:
                    reaching.setdefault(self.key(origin, code), set()).add(trace.target.function.qualname)
            self._findings = [to_finding(target, origin, code, message, sorted(reaching[(id(origin.node), code)]))
                              for target, origin, code, message in self.results]
        return self._findings

    def records(self, kept: Collection[Finding]) -> list[LossRecord]:
        """Every loss with its verdict; `kept` are the findings that are reported (what
        `api._finish` keeps of `findings()`), the others count as suppressed. The verdict rests
        on the loss's own codes: a term that collapses another loss only couples this one."""
        by_key = {(id(origin.node), code): finding
                  for (_, origin, code, _), finding in zip(self.results, self.findings())}
        kept = set(kept)
        lines = _DefinitionLines()
        records = []
        for trace in self.traces:
            mine = {by_key[self.key(origin, code)]: code for origin, code in trace.carried}
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


def to_finding(target: LossTarget, origin: Origin, code: str, message: str,
               losses: Sequence[str] | None = None) -> Finding:
    """The finding for one result of `analyse`; `losses` are the losses whose values carry
    its reduction (default: only `target`, the one it is reported under)."""
    module = origin.module
    within = origin.function if origin.function is not None and origin.function.module is module else None
    line, column, end_line, end_column = module.span(origin.node, within)
    cell = None
    if module.notebook is not None:
        cell, line, column = module.notebook.position(line, column)
        end_cell, end_line, end_column = module.notebook.position(end_line, end_column)
        if end_cell != cell:
            end_line, end_column = line, column
    return Finding(
        path=module.display,
        line=line,
        column=column,
        end_line=end_line,
        end_column=end_column,
        code=code,
        severity=RULES[code].severity,
        message=message,
        function=target.function.qualname,
        cell=cell,
        loss_source=target.source,
        scope=origin.function.qualname if origin.function is not None else target.function.qualname,
        losses=tuple(losses) if losses is not None else (target.function.qualname,),
    )
