"""Automatic fixes: `losslint check --fix`, `--diff` and `--unsafe-fixes`.

    fix_paths(paths, settings, unsafe=False, write=True) -> FixRun

A run analyses the files, turns the findings it can fix into edits of their LibCST trees,
applies them, and analyses the edited sources again (a fix may uncover the next finding, as
in ruff), for at most `MAX_ROUNDS` rounds. Only the edited call nodes change: every other
byte of a file, its encoding, its line endings and its mode are kept.

With `--probe` (`verify=`, losslint/probe/verify.py) each round's fixes are run in the
probe's sandbox before they are kept: the fixed loss must return the batch axis and, for a
safe fix, keep the loss's value on random inputs; a fix that fails, or that the probe cannot
run, is not made and its finding says why. Without it nothing is run: TensorFlow is never
imported here.

What is fixed (only findings that are reported: selected, not suppressed):

- LL101 on a mean (`tf.reduce_mean`, `tf.math.reduce_mean`, `K.mean`, `keras.ops.mean`,
  `tf.experimental.numpy.mean`) with no axis, or `axis=None`, of a tensor that still has its
  batch axis first and is not known to be one number per sample: `axis=-1` is added (safe:
  Keras's mean over the per-sample values is the old scalar; unsafe when those values, which
  keep every axis but the last, meet another per-sample term of the loss whose shape may
  differ, `_other_terms`, or when the mean is used non-linearly);
- LL103 on a Keras loss object built in the loss itself, inline (`BinaryCrossentropy()(y, p)`)
  or as a variable assigned once in the same function: `reduction="none"` is added to the
  constructor (safe: Keras 3 and tf_keras both accept it, and Keras averages what it returns;
  unsafe beside another per-sample term, as above);
- LL101 on a sum (`tf.reduce_sum`, `K.sum`, `keras.ops.sum`, `tf.experimental.numpy.sum`)
  with no axis, and on a mean used non-linearly: every axis but the batch (`batch_axes`:
  `axis=-1` for a known (batch, n), `axis=[1, 2, 3]` for a known rank, else
  `tf.range(1, tf.rank(x))` / `list(range(1, K.ndim(x)))`), so that each sample's value is
  the loss of that sample alone: a ratio's sums all change alike, a Dice over the batch
  becomes each image's Dice (unsafe, `--unsafe-fixes` only: the loss's scale changes). A
  safe mean keeps `axis=-1`: Keras averages the remaining axes, which is each sample's own
  mean whatever the rank;
- LL104 (losslint/fix_ll104.py) on `tf.nn.l2_loss(x)` of a tensor with its batch axis first:
  `0.5 * tf.reduce_sum(tf.square(x), axis=-1)` when `x` is known to be (batch, n), else
  `axis=tf.range(1, tf.rank(x))`, spelled with the file's own name for TensorFlow (unsafe:
  Keras's mean of the per-sample half sums is the old value divided by the batch size);
- LL104 on reductions of flattened tensors (the global Dice: `K.flatten` or
  `tf.reshape(x, [-1])`, then `K.sum` without axis): every flatten becomes a per-sample one
  (`K.batch_flatten(x)`, `tf.reshape(x, [tf.shape(x)[0], -1])`,
  `ops.reshape(x, (ops.shape(x)[0], -1))`) and every reduction of the flattened values gets
  `axis=-1`, as one group: all of its findings are fixed or none. Only when the flattens and
  the reductions are in one function, the flattened values reach nothing but those sums and
  means (through arithmetic, element-wise functions and variables assigned once) and the
  function returns no batch-shaped value (unsafe: a Dice over the batch becomes a per-image
  Dice, a sum changes scale; even a mean, whose value Keras keeps, because the flattens are
  rewritten too).

Everything else has no fix.

Notebooks are fixed like .py files: the edits are made to the joined code cells the analysis
reads, then carried back into each cell's source (losslint/notebook.py, `rewrite_cells`), and
only the edited cells' `source` values are rewritten in the JSON text, in their own
representation (list of lines or one string) and layout; indentation, key order, escapes, the
final newline and all other cells stay byte for byte. A fix on a line IPython syntax was
neutralised on, or spanning two cells, is not made. The outputs of an edited cell are left as
they are (they are the old code's, until the cell is run again). `--diff` shows each changed
cell's code, labelled `nb.ipynb:cell N`, rather than the JSON (see `_notebook_diff`).

The pieces every rule's fixes share (plans, tree edits, the recording evaluator) are in
losslint/fix_edits.py and losslint/fix_recording.py; the LL104 fixes in losslint/fix_ll104.py.
"""

from __future__ import annotations

import codecs
import difflib
import io
import os
import stat
import tempfile
import tokenize
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import libcst as cst

from losslint import catalogue
from losslint.analysis import analyse, analyse_losses
from losslint.discovery import discover, exclude_groups
from losslint.evaluate import Evaluator, Kind, Origin
from losslint.fix_edits import (
    Plan,
    axis_edit,
    batch_axes,
    in_ratio,
    insert_arg,
    is_constant,
    loads_of,
    nonlinear_context,
    parents_of,
    short_code,
    tensorflow_name,
)
from losslint.fix_ll104 import plan_scalar
from losslint.fix_recording import RecordingEvaluator
from losslint.ftypes import Finding, Report, Settings, SourceFile
from losslint.loading import Unreadable, decode, load_source, read_sources
from losslint.project import AssignBinding, ModuleInfo, Project
from losslint.selection import select_findings
from losslint.suppression import Suppressions

MAX_ROUNDS = 5

SAFE_FAMILIES = frozenset({"mean"})
UNSAFE_FAMILIES = frozenset({"sum"})


# --------------------------------------------------------------------------------------------
# The evaluator, recording what each reduction reduced


def _analyse(project: Project, settings: Settings, evaluator: Evaluator):
    """losslint.analysis.analyse with our evaluator, run for what it records (its results are
    not reported: the findings are the linter's own)."""
    return analyse(project, settings, evaluator=evaluator)


# --------------------------------------------------------------------------------------------
# Plans: which finding gets which fix


def plan_findings(findings: Sequence[Finding], origins: dict[Finding, Origin], project: Project,
                  evaluator: RecordingEvaluator) -> list[Plan]:
    """One plan per reported finding. A flatten fix changes several reductions at once, so it
    is planned only when every one of them is reported (none suppressed or deselected)."""
    reported = frozenset(id(origins[f].node) for f in findings
                         if f in origins and (f.code == "LL104" or f.code == "LL202" and origins[f].code == "LL104"))
    return [_plan(f, origins.get(f), project, evaluator, reported) for f in findings]


def _plan(finding: Finding, origin: Origin | None, project: Project,
          evaluator: RecordingEvaluator, reported: frozenset[int] = frozenset()) -> Plan:
    if origin is None:
        return Plan(finding, None, None, "no automatic fix for this rule")
    module = origin.module
    # A batch term broadcast back (LL202) is fixed as the reduction it is (LL101, LL103, LL104).
    code = origin.code if finding.code == "LL202" else finding.code
    if code == "LL101":
        return _plan_reduction(finding, origin, evaluator)
    if code == "LL103":
        return _plan_loss_object(finding, origin, project)
    if code == "LL104":
        return plan_scalar(finding, origin, project, evaluator, reported)
    return Plan(finding, module, None, f"no automatic fix for {finding.code}")


def _plan_reduction(finding: Finding, origin: Origin, evaluator: RecordingEvaluator) -> Plan:
    module, node = origin.module, origin.node
    records = evaluator.inputs.get(id(node), [])
    if not isinstance(node, cst.Call):
        return Plan(finding, module, None, "the reduction was not recognised")
    if not records:  # the cautious evaluator saw the value collapse earlier
        return Plan(finding, module, None, "the reduced value may already be one number per sample")
    reduction = records[0][0]
    if reduction.family not in SAFE_FAMILIES | UNSAFE_FAMILIES:
        return Plan(finding, module, None, f"no automatic fix for a `{reduction.family}` reduction")
    for _, tensor in records:
        if tensor.container:  # a list of terms, stacked by the reduction: the batch is axis 1
            return Plan(finding, module, None, "the reduced value is a list of per-sample terms")
        if tensor.kind is not Kind.BATCH:
            return Plan(finding, module, None, "the reduced value's batch axis is not first (pairwise or flattened)")
        if tensor.rank == 1:
            return Plan(finding, module, None, "the reduced value may already be one number per sample")
    spelled = origin.api
    ranks = {tensor.rank for _, tensor in records}
    outer = nonlinear_context(node, origin) if reduction.family in SAFE_FAMILIES else None
    if reduction.family in SAFE_FAMILIES and outer is None:
        # A mean over the last axis, which Keras then averages over the others, gives each
        # sample the mean of its own values, what the loss gives that sample alone: right
        # for any rank.
        axis = "-1"
    else:
        # A sum, or a mean used non-linearly (a ratio, a log): right for each sample only
        # over all of its axes at once (a Dice per image, not per pixel row).
        scope = origin.function.scope if origin.function is not None else module.scope
        axis = batch_axes(node, next(iter(ranks)) if len(ranks) == 1 else None,
                          tensorflow_name(evaluator.project, node, scope))
        if axis is None:
            return Plan(finding, module, None, "the reduced value's rank is not known and its expression is "
                                               "too long to repeat in `axis=`")
    edit = axis_edit(node, reduction, axis)
    if edit is None:
        return Plan(finding, module, None, "the call passes `axis`, `*args` or `**kwargs` in a form not rewritten")
    added = f"added `axis={axis}` to `{spelled}`"
    if reduction.family in SAFE_FAMILIES:

        def alike(term: cst.CSTNode) -> bool:
            # Another mean without axis of a tensor of the same rank (`mean(|e|) - 0.1 *
            # mean(e ** 2)`): fixed the same way, it keeps the same shape.
            others = evaluator.inputs.get(id(term), [])
            return bool(others) and all(r.family in SAFE_FAMILIES and t.kind is Kind.BATCH and {t.rank} == ranks
                                        for r, t in others)

        other = None if ranks == {2} else _other_terms(node, origin, finding, evaluator.project, alike)
        if outer is None and other is not None:
            return Plan(finding, module, "unsafe", f"{added} (unsafe: {other})", node, edit)
        if outer is None:
            return Plan(finding, module, "safe", added, node, edit)
        return Plan(finding, module, "unsafe",
                    f"{added} (unsafe: the mean is then used in `{outer}`, so the mean of the new "
                    "per-sample values is not the old value; it is now computed per sample, over "
                    "each sample's own values, instead of over the whole batch)", node, edit)
    if in_ratio(node, origin):
        return Plan(finding, module, "unsafe",
                    f"{added} (unsafe: the ratio this sum is part of, a Dice, IoU or Tversky index, is now "
                    "computed per sample, over each sample's own values, instead of over the whole batch; "
                    "its value changes)", node, edit)
    return Plan(finding, module, "unsafe",
                f"{added} (unsafe: the sum is now taken per sample, over all of its values, instead "
                "of over the whole batch; Keras averages the per-sample sums, so the loss's scale "
                "changes and the learning rate may need retuning)", node, edit)


def _other_terms(node: cst.CSTNode, origin: Origin, finding: Finding, project: Project,
                 alike: Callable[[cst.CSTNode], bool] = lambda term: False) -> str | None:
    """Why a fixed reduction's per-sample values may not fit on their way to the loss's
    return (what they are combined with or used in), or None when they reach it alone, with
    numbers and hyper-parameters at most.

    A per-sample mean of a (batch, h, w, c) tensor is (batch, h, w): Keras averages it into
    the old value when it is the loss, but added to a (batch,) term of the same loss it no
    longer broadcasts (or broadcasts wrongly). So a fix is safe only for a value that stands
    alone; followed through variables assigned in the loss, not out of a helper function."""
    function = origin.function
    if function is None:
        return _LOST
    if function.qualname != finding.function:
        # A helper: follow its calls in the loss that calls it directly, if there is one.
        loss = _loss_calling(function, finding, project)
        calls = [site.call for site in loss.module.calls_by_name.get(function.name, ())
                 if site.in_function is loss] if loss is not None else []
        if not calls:
            return (f"it is in `{function.qualname}`, and the fixer cannot follow what the loss does with "
                    "that helper's per-sample values, whose shape may not fit there")
        for call in calls:
            other = _other_terms_in(call, loss, loss.module, alike)
            if other is not None:
                return other
        return None
    return _other_terms_in(node, function, origin.module, alike)


def _loss_calling(helper, finding: Finding, project: Project):
    """The loss (by the finding's qualname) when it is the only one of that name and calls
    `helper` by name; else None."""
    losses = [fn for fn in project.functions() if fn.qualname == finding.function]
    if len(losses) == 1 and helper.name in losses[0].called_names:
        return losses[0]
    return None


def _other_terms_in(node: cst.CSTNode, function, module: ModuleInfo,
                    alike: Callable[[cst.CSTNode], bool]) -> str | None:
    parents = parents_of(module)
    tensors = set(p.name.value for p in function.positional_params()[(1 if function.cls else 0):][:2])
    assigned = {name for name, bindings in function.scope.bindings.items()
                if any(isinstance(b, AssignBinding) for b in bindings)}
    todo, seen = [node], set()
    while todo:
        child = todo.pop()
        if id(child) in seen or len(seen) > 50:
            return _LOST
        seen.add(id(child))
        parent = parents.get(id(child))
        while isinstance(parent, (cst.UnaryOperation, cst.BinaryOperation)):
            if isinstance(parent, cst.BinaryOperation):
                other = parent.left if parent.right is child else parent.right
                if not is_constant(other, tensors, assigned) and not alike(_scaled_term(other, tensors, assigned)):
                    return (f"its per-sample values keep every axis but the last, and they meet `{short_code(other)}`, "
                            "whose shape may differ: the two may no longer broadcast together")
            child, parent = parent, parents.get(id(parent))
        if isinstance(parent, (cst.Return, cst.Lambda)):  # a lambda's body is what it returns
            continue
        if (isinstance(parent, cst.Assign) and len(parent.targets) == 1
                and isinstance(parent.targets[0].target, cst.Name)):
            uses = loads_of(function, parent.targets[0].target.value, parents)
            if not uses:
                return _LOST
            todo.extend(uses)
            continue
        if isinstance(parent, cst.Arg):
            parent = parents.get(id(parent), parent)
        return (f"its per-sample values are then used in `{short_code(parent)}`, so Keras's mean of the "
                "result is not the old value")
    return None


_LOST = "the fixer cannot follow where its per-sample values go, and their shape may not fit there"


def _scaled_term(node: cst.CSTNode, tensors: set[str], assigned: set[str]) -> cst.CSTNode:
    """`node` without signs, parentheses' worth of scaling by constants (`0.1 * x` -> `x`)."""
    while True:
        if isinstance(node, cst.UnaryOperation):
            node = node.expression
        elif isinstance(node, cst.BinaryOperation) and isinstance(node.operator, (cst.Multiply, cst.Divide)) \
                and is_constant(node.right, tensors, assigned):
            node = node.left
        elif isinstance(node, cst.BinaryOperation) and isinstance(node.operator, cst.Multiply) \
                and is_constant(node.left, tensors, assigned):
            node = node.right
        else:
            return node


_KERAS_BASES = frozenset({"Loss", "LossFunctionWrapper", "Reduction"})


def _plan_loss_object(finding: Finding, origin: Origin, project: Project) -> Plan:
    module, call = origin.module, origin.node
    function = origin.function
    if not isinstance(call, cst.Call) or function is None:
        return Plan(finding, module, None, "the loss object's call was not recognised")
    scope = function.scope
    constructor = None
    if isinstance(call.func, cst.Call):
        constructor = call.func
    elif isinstance(call.func, cst.Name):
        bindings = scope.bindings.get(call.func.value, [])
        if (len(bindings) == 1 and isinstance(bindings[0], AssignBinding)
                and isinstance(bindings[0].value, cst.Call)):
            constructor = bindings[0].value
    if constructor is None:
        return Plan(finding, module, None,
                    "the loss object is not built in the loss (inline or in a local variable assigned once)")
    resolved = project.resolve(constructor.func, scope)
    qualified = catalogue.canonical(getattr(resolved, "qualified", "") or "")
    if not catalogue.is_loss_class(qualified) or qualified.rsplit(".", 1)[-1] in _KERAS_BASES:
        return Plan(finding, module, None, "not a Keras loss class (metrics and own classes are not fixed)")
    if any(arg.star or (arg.keyword is not None and arg.keyword.value == "reduction") for arg in constructor.args):
        return Plan(finding, module, None, "the constructor already passes `reduction` (or `**kwargs`)")
    quote = _quote(module)
    new = cst.Arg(keyword=cst.Name("reduction"), value=cst.SimpleString(f"{quote}none{quote}"),
                  equal=cst.AssignEqual(whitespace_before=cst.SimpleWhitespace(""),
                                        whitespace_after=cst.SimpleWhitespace("")))
    spelled = cst.Module(body=[]).code_for_node(constructor.func)
    other = _other_terms(call, origin, finding, project)
    if other is not None:
        return Plan(finding, module, "unsafe",
                    f"built `{spelled}` with `reduction={quote}none{quote}` (unsafe: {other})",
                    constructor, lambda updated: insert_arg(updated, new, None))
    return Plan(finding, module, "safe", f"built `{spelled}` with `reduction={quote}none{quote}`",
                constructor, lambda updated: insert_arg(updated, new, None))


def _quote(module: ModuleInfo) -> str:
    """The quote the module's strings use most (double when even)."""
    counts = {"'": 0, '"': 0}

    class _Strings(cst.CSTVisitor):
        def visit_SimpleString(self, node: cst.SimpleString) -> None:
            body = node.value.lstrip("rRbBuUfF")
            if body[:1] in counts and not body.startswith(("'''", '"""')):
                counts[body[0]] += 1

    module.tree.visit(_Strings())
    return "'" if counts["'"] > counts['"'] else '"'


# --------------------------------------------------------------------------------------------
# Runs


@dataclass
class Applied:
    """A fix made: the finding (as reported before the fix) and what was done."""

    finding: Finding
    safety: str
    description: str

    @property
    def where(self) -> str:
        """`path:line:col`, or ruff's `nb.ipynb:cell N:line:col` in a notebook."""
        f = self.finding
        return f"{f.path}:{f.line}:{f.column}" if f.cell is None else f"{f.path}:cell {f.cell}:{f.line}:{f.column}"


@dataclass
class FixRun:
    report: Report  # what remains after the fixes
    applied: list[Applied] = field(default_factory=list)
    remaining: list[Plan] = field(default_factory=list)  # one per remaining finding
    original: dict[Path, bytes] = field(default_factory=dict)
    fixed: dict[Path, bytes] = field(default_factory=dict)  # files whose bytes changed
    displays: dict[Path, str] = field(default_factory=dict)

    @property
    def unsafe_available(self) -> int:
        return sum(1 for plan in self.remaining if plan.safety == "unsafe")

    def diff(self) -> str:
        """A unified diff of every changed file."""
        chunks = []
        for path, new in self.fixed.items():
            old = self.original[path]
            name = self.displays.get(path, str(path))
            old_text, new_text = _text_for_diff(old), _text_for_diff(new)
            relative = not os.path.isabs(name)
            if path.suffix == ".ipynb":
                chunks.append(_notebook_diff(old_text, new_text, name, relative))
                continue
            chunks.append("".join(difflib.unified_diff(
                old_text.splitlines(keepends=True), new_text.splitlines(keepends=True),
                fromfile=f"a/{name}" if relative else name, tofile=f"b/{name}" if relative else name)))
        return "".join(chunks)


def _notebook_diff(old: str, new: str, name: str, relative: bool) -> str:
    """A unified diff of each changed code cell's source, labelled `nb.ipynb:cell N` (the
    number `check` reports). Not the JSON's diff: that shows every line as an escaped JSON
    string, while a fix changes nothing but cell code (losslint/notebook.py keeps the rest of
    the file byte for byte). Should no cell's code differ, the file's own diff is shown."""
    from losslint.notebook import code_cell_sources

    before, after = code_cell_sources(old), code_cell_sources(new)
    chunks = []
    for index in sorted(set(before) | set(after)):
        if before.get(index) == after.get(index):
            continue
        label = f"{name}:cell {index}"
        chunks.append("".join(difflib.unified_diff(
            _diff_lines(before.get(index, "")), _diff_lines(after.get(index, "")),
            fromfile=f"a/{label}" if relative else label, tofile=f"b/{label}" if relative else label)))
    if not chunks:  # not a change of cell code: show the file's own diff
        chunks.append("".join(difflib.unified_diff(
            old.splitlines(keepends=True), new.splitlines(keepends=True),
            fromfile=f"a/{name}" if relative else name, tofile=f"b/{name}" if relative else name)))
    return "".join(chunks)


def _diff_lines(source: str) -> list[str]:
    """A cell's lines for difflib, the last one ended too (a cell has no final newline)."""
    lines = source.splitlines(keepends=True)
    if lines and not lines[-1].endswith(("\n", "\r")):
        lines[-1] += "\n"
    return lines


def _text_for_diff(data: bytes) -> str:
    try:
        return decode(data)
    except Unreadable:
        return data.decode("utf-8", "replace")


def fix_paths(paths: Sequence[str], settings: Settings = Settings(), *, unsafe: bool = False,
              write: bool = True, verify=None) -> FixRun:
    """Fix what can be fixed under `paths`; write the files when `write`, else only compute
    the new contents (`--diff`). `verify` (a losslint.probe.verify.FixVerifier, `--probe`)
    keeps only the fixes the probe verifies, in every round."""
    sources, errors = discover(paths, respect_gitignore=settings.respect_gitignore,
                               exclude_groups=exclude_groups(settings),
                               force_exclude=settings.force_exclude)
    contents: dict[Path, bytes] = {}
    run = FixRun(Report())
    wanted = ("safe", "unsafe") if unsafe else ("safe",)
    for _ in range(MAX_ROUNDS):
        report, plans = _round(sources, errors, contents, settings, run.original)
        changed = False
        by_module: dict[int, list[Plan]] = {}
        for plan in plans:
            if plan.safety in wanted:
                by_module.setdefault(id(plan.module), []).append(plan)
        if verify is not None:
            changed = verify.apply_round(list(by_module.values()), sources, contents, run)
        else:
            for module_plans in by_module.values():
                changed |= apply_plans(module_plans, contents, run)
        if not changed:
            break
    else:
        report, plans = _round(sources, errors, contents, settings, run.original)
    run.report = report if verify is None else verify.annotate(report, plans)
    run.remaining = plans
    for source in sources:
        run.displays[source.path] = source.display
    run.fixed = {p: data for p, data in contents.items() if data != run.original.get(p)}
    if write:
        for path, data in run.fixed.items():
            write_atomically(path, data)
    return run


def _round(sources: list[SourceFile], errors, contents: dict[Path, bytes], settings: Settings,
           original: dict[Path, bytes]) -> tuple[Report, list[Plan]]:
    """Analyse the files as they are now (edited contents first); plan a fix per finding."""
    report = Report(errors=list(errors))
    project = Project()
    findings: list[Finding] = []
    on_disk = {source.display: source.path for source in sources}

    def read(source: SourceFile) -> bytes:  # edited contents first, else the disk's
        if source.path in contents:
            return contents[source.path]
        return original.setdefault(source.path, source.path.read_bytes())

    for source, data in read_sources(sources, report, read):
        findings += load_source(project, source, data)
    # The findings are the linter's own; the cautious recording evaluator only tells the
    # plans what each reduction reduced (its extra rank-1 guesses must not become findings).
    origins: dict[Finding, Origin] = {}
    targets: dict[Finding, object] = {}
    analysis = analyse_losses(project, settings)  # its findings name every loss a reduction reaches
    for (target, origin, _, _), finding in zip(analysis.results, analysis.findings()):
        findings.append(finding)
        origins.setdefault(finding, origin)
        targets.setdefault(finding, target)
    evaluator = RecordingEvaluator(project, keeps_batch=settings.keeps_batch)
    _analyse(project, settings, evaluator)
    report.findings = select_findings(findings, project, settings, on_disk)
    plans = plan_findings(report.findings, origins, project, evaluator)
    for plan in plans:
        plan.target, plan.project = targets.get(plan.finding), project
    return report, plans


def apply_plans(plans: list[Plan], contents: dict[Path, bytes], run: FixRun) -> bool:
    """Apply one module's fixes; True when its source changed."""
    module = plans[0].module
    suppressions = Suppressions.from_source(module.source)
    edits: dict[int, Callable[[cst.CSTNode], cst.CSTNode]] = {}
    made: list[Plan] = []
    for plan in plans:
        start, _, end, _ = module.span(plan.node)
        if suppressions.is_suppressed(plan.finding.code, start, end):
            plan.safety, plan.reason = None, "the fixed line carries a suppression comment for this code"
            continue
        made.append(plan)
    made = _whole_groups(made)
    for plan in made:
        for node, transform in plan.edits():
            edits.setdefault(id(node), transform)
    if not edits:
        return False
    replaced: dict[int, tuple[cst.CSTNode, cst.CSTNode]] = {}  # what a notebook's cells need

    class _Fixer(cst.CSTTransformer):
        def on_leave(self, original_node, updated_node):
            transform = edits.get(id(original_node))
            if transform is None:
                return updated_node
            new = transform(updated_node)
            replaced[id(original_node)] = (original_node, new)
            return new

    # LibCST drops a file's last line ending when it is a lone CR ("x = 1\r"): put back what
    # its own code generation loses, and fix nothing it would not reproduce byte for byte.
    if module.recovered:
        for plan in made:
            plan.safety, plan.reason = None, "the file has a syntax error: fix it first"
        return False
    unedited = module.tree.code
    if not module.source.startswith(unedited):
        for plan in made:
            plan.safety, plan.reason = None, "LibCST does not reproduce this file byte for byte"
        return False
    tree = module.tree.visit(_Fixer())
    code = tree.code + module.source[len(unedited):]
    if not _parses(code):
        for plan in made:
            plan.safety, plan.reason = None, "the fixed source would not parse"
        return False
    original = contents.get(module.path) or run.original.get(module.path) or module.path.read_bytes()
    new = _encode(code, original) if module.notebook is None else _notebook_contents(module, replaced, original)
    if isinstance(new, str):
        for plan in made:
            plan.safety, plan.reason = None, new
        return False
    if new == original:
        return False
    contents[module.path] = new
    for plan in made:
        run.applied.append(Applied(plan.finding, plan.safety, plan.reason))
    return True


def _whole_groups(made: list[Plan]) -> list[Plan]:
    """`made` without the grouped plans (flatten fixes) whose group is not all there: the
    flattens are shared, so a group is fixed whole or not at all (another finding of it is
    suppressed on its line, or refused by the probe)."""
    present: dict[frozenset[int], set[int]] = {}
    for plan in made:
        if plan.group is not None:
            present.setdefault(plan.group, set()).add(id(plan.node))
    kept = []
    for plan in made:
        if plan.group is not None and present[plan.group] != plan.group:
            plan.safety, plan.reason = None, ("another reduction of the same flattened values is not "
                                              "fixed, and the flattens are shared")
            continue
        kept.append(plan)
    return kept


def _notebook_contents(module: ModuleInfo, replaced: dict[int, tuple[cst.CSTNode, cst.CSTNode]],
                       original: bytes) -> bytes | str:
    """The notebook file with each edited node's new code put in its cell (losslint/notebook.py
    splices the cells' `source` values into the JSON text); or why it cannot be."""
    from losslint.notebook import NotebookError, SourceEdit, rewrite_cells

    parents = parents_of(module)
    edits = []
    for key, (old, new) in replaced.items():
        ancestor = parents.get(key)
        while ancestor is not None and id(ancestor) not in replaced:
            ancestor = parents.get(id(ancestor))
        if ancestor is not None:
            continue  # inside another edited node: part of that one's new code
        # Positions leave out the node's own parentheses: so does the text replaced.
        kept = len(getattr(old, "lpar", ()))
        if kept:
            old = old.with_changes(lpar=[], rpar=[])
            new = new.with_changes(lpar=new.lpar[kept:], rpar=new.rpar[:len(new.rpar) - kept])
        line, column, end_line, end_column = module.span(replaced[key][0])
        edits.append(SourceEdit((line, column), (end_line, end_column),
                                module.tree.code_for_node(old), module.tree.code_for_node(new)))
    try:
        text = rewrite_cells(original.decode("utf-8-sig"), module.notebook, edits)
    except (NotebookError, UnicodeDecodeError) as exc:
        return f"the fix cannot be written back into the notebook: {getattr(exc, 'message', exc)}"
    return (codecs.BOM_UTF8 if original.startswith(codecs.BOM_UTF8) else b"") + text.encode("utf-8")


def _parses(code: str) -> bool:
    try:
        cst.parse_module(code)
    except (cst.ParserSyntaxError, RecursionError):
        return False
    return True


def _encode(text: str, original: bytes) -> bytes:
    """`text` in the encoding of `original` (its coding line or BOM; UTF-8 by default)."""
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(original).readline)
    except SyntaxError:
        encoding = "utf-8"
    data = text.encode(encoding)
    if original.startswith(codecs.BOM_UTF8) and not data.startswith(codecs.BOM_UTF8):
        data = codecs.BOM_UTF8 + data
    return data


def write_atomically(path: Path, data: bytes) -> None:
    """Replace `path` with `data` in one step (a temporary file in the same folder, then a
    rename), keeping the file's permission bits."""
    mode = stat.S_IMODE(os.stat(path).st_mode)
    handle = tempfile.NamedTemporaryFile("wb", dir=os.path.dirname(os.path.abspath(path)),
                                         prefix=".losslint-fix-", suffix=".tmp", delete=False)
    try:
        with handle:
            handle.write(data)
        os.chmod(handle.name, mode)
        os.replace(handle.name, path)
    except BaseException:
        try:
            os.unlink(handle.name)
        except OSError:
            pass
        raise


def summary(run: FixRun, unsafe: bool, dry: bool = False) -> str:
    """`Fixed N problems (M unsafe fixes available with --unsafe-fixes)`, as ruff says it."""
    count = len(run.applied)
    verb = "Would fix" if dry else "Fixed"
    line = f"{verb} {count} problem{'s' if count != 1 else ''}"
    if not unsafe and run.unsafe_available:
        line += f" ({run.unsafe_available} unsafe fix{'es' if run.unsafe_available != 1 else ''} " \
                "available with --unsafe-fixes)"
    elif unsafe:
        made = sum(1 for a in run.applied if a.safety == "unsafe")
        if made:
            line += f" ({made} with unsafe fixes)"
    return line + "."
