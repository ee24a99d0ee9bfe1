"""From parsed modules to findings: find the losses, follow their values, report.

This is the one place where the finder (which functions are losses), the evaluator (what a
loss returns) and the rule catalogue (how a finding is worded) meet. What each loss carries is
kept too (`Analysis.traces`), for the inventory (losslint/inventory.py, `--show-losses`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import libcst as cst

from losslint.catalogue import CONVENTIONAL_ALIASES, INJECTED_MODULES
from losslint.evaluate import Evaluator, Kind, Origin, Value
from losslint.finder import Finder, LossTarget
from losslint.ftypes import Finding, Settings
from losslint.project import ClassBinding, DefBinding, ImportBinding, Project, matches_names
from losslint.rules import RULES

_SIGNATURE_NOTE = " [a loss by its (y_true, y_pred) signature]"


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
    if value.kind is Kind.SAMPLE and not value.container and value.loop is None:
        # `K.mean(cce(y_true[0, :, :], y_pred[0, :, :]))`: the loss of the first sample alone,
        # for the whole batch. Only a tensor index (`[0, :]`) says so: `y_pred[0]` alone may be
        # the first of a list of outputs a triplet loss is handed.
        return [(o, ONE_SAMPLE_CODE) for o in value.origins
                if o.kind == "one-sample" and isinstance(o.node, cst.Subscript) and len(o.node.slice) > 1]
    return []


BROADCAST_CODE = "LL202"
ONE_SAMPLE_CODE = "LL102"


def _one_sample_message(origin: Origin) -> str:
    return (f"`{origin.api}` is the first sample of the batch alone: the loss returns that one "
            "sample's value for the whole batch, so every other sample (and Keras' sample/class "
            "weights and masks) is ignored and the batch axis is gone; keep the batch axis "
            "(`y_true[:, ...]`) and reduce only the others")


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


def analyse(project: Project, settings: Settings | None = None,
            evaluator: Evaluator | None = None) -> list[tuple[LossTarget, Origin, str, str]]:
    """Every (loss, origin, code, message), one per reported place and code: the `results` of
    `analyse_losses`, which says more (every loss with every reduction it carries)."""
    return analyse_losses(project, settings, evaluator).results


def analyse_losses(project: Project, settings: Settings | None = None,
                   evaluator: Evaluator | None = None) -> Analysis:
    """Find the losses, follow each one's value, and keep both views of the result: the
    findings (a reduction reached by several losses is reported once, under the first) and
    each loss with everything its value carries (the inventory, `--show-losses`).

    `settings.not_losses` removes losses; `settings.keeps_batch` makes calls to the named
    helpers element-wise: the configuration's escape hatches for false positives.
    `evaluator` replaces the default one (losslint/fix.py passes one that records more).
    """
    settings = settings or Settings()
    finder = Finder(project)
    targets = [t for t in finder.find() if not matches_names(t.function, settings.not_losses)]
    if evaluator is None:
        evaluator = Evaluator(project, keeps_batch=settings.keeps_batch)
    seen: set[tuple[int, str]] = set()
    results = []
    traces = []
    for target in targets:
        try:
            value = evaluator.evaluate_loss(target.function, target.bound_positional, target.bound_keywords)
            # an identity loss hands Keras the model's output: the loss its Lambda layers compute
            layers = finder.model_output_losses(target)
            reported = reported_origins(value) + [
                found for layer in layers for found in reported_origins(evaluator.evaluate_layer_function(layer))]
        except RecursionError:
            # an expression nested thousands deep: skip this loss rather than the run
            traces.append(LossTrace(target, [], analysed=False))
            continue
        carried = []
        for origin, code in reported:
            key = (id(origin.node), code)
            carried.append((origin, code))
            if key in seen:
                continue
            seen.add(key)
            message = (_coupling_message(origin) if code == "LL201" else
                       _broadcast_message(origin) if code == BROADCAST_CODE else
                       _one_sample_message(origin) if origin.kind == "one-sample" else origin.detail)
            if origin.function is not None and any(origin.function is layer for layer in layers):
                message += (f" (in the model's output, computed by the Lambda layer `{origin.function.qualname}`: "
                            "the identity loss compiled for it hands that value to Keras as the per-sample loss)")
            elif origin.function is not None and origin.function is not target.function:
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
    scope = origin.function.scope if origin.function is not None else origin.module.scope
    if scope is None:
        return ""
    bindings = scope.lookup(head)
    injected = INJECTED_MODULES.get(head)
    if bindings and injected is not None and not isinstance(bindings[-1], (ImportBinding, DefBinding, ClassBinding)):
        return f" (`{head}` is set at run time: read as `{injected}`)"
    meaning = CONVENTIONAL_ALIASES.get(head)
    if meaning is None or head == meaning or bindings or origin.module.star_imports:
        return ""
    return f" (`{head}` is not imported in this file: read as `{meaning}`)"


@dataclass
class LossTrace:
    """One loss and every (origin, code) its returned value carries, the ones another loss
    reported first included; `analysed` is False when the evaluation gave up."""

    target: LossTarget
    carried: list[tuple[Origin, str]]
    analysed: bool = True


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


def project_findings(project: Project, targets: dict[Finding, LossTarget] | None = None,
                     settings: Settings | None = None) -> tuple[list[Finding], Analysis]:
    """The project's findings (before losslint/selection.py keeps what the user sees), and
    the analysis they came from, whose losses are the inventory (losslint/inventory.py);
    `targets` (if given) learns each finding's loss."""
    analysis = analyse_losses(project, settings)
    findings = analysis.findings()
    if targets is not None:
        for finding, result in zip(findings, analysis.results):
            targets.setdefault(finding, result[0])
    return list(findings), analysis
