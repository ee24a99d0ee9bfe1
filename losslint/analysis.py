"""From parsed modules to findings: find the losses, follow their values, report.

This is the one place where the finder (which functions are losses), the evaluator (what a
loss returns) and the rule catalogue (how a finding is worded) meet.
"""

from __future__ import annotations

import fnmatch

from losslint.evaluate import Evaluator, Kind, Origin, Value
from losslint.finder import Finder, LossTarget
from losslint.ftypes import Finding, Settings
from losslint.project import FunctionInfo, Project
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
        pairs = [(o, o.code) for o in value.broadcast]
        pairs += [(o, "LL201") for o in value.coupled]
        return pairs
    return []


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
    """Every (loss, origin, code, message), one per reported place and code.

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
    for target in targets:
        try:
            value = evaluator.evaluate_loss(target.function, target.bound_positional, target.bound_keywords)
        except RecursionError:
            continue  # an expression nested thousands deep: skip this loss rather than the run
        for origin, code in reported_origins(value):
            key = (id(origin.node), code)
            if key in seen:
                continue
            seen.add(key)
            message = origin.detail if code != "LL201" else _coupling_message(origin)
            if origin.function is not None and origin.function is not target.function:
                message += f" (via `{origin.function.qualname}`)"
            if target.inferred:
                message += _SIGNATURE_NOTE
            results.append((target, origin, code, message))
    return results


def to_finding(target: LossTarget, origin: Origin, code: str, message: str) -> Finding:
    module = origin.module
    within = origin.function if origin.function is not None and origin.function.module is module else None
    line, column, end_line, end_column = module.span(origin.node, within)
    cell = None
    if module.notebook is not None:
        cell, line = module.notebook.locate(line)
        end_cell, end_line = module.notebook.locate(end_line)
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
    )
