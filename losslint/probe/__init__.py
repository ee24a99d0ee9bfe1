"""The traced shape probe: confirm or refute a static finding by running the loss.

    tensorflow_available() -> bool                      without importing it
    parse_shapes(["y_pred=(None,64,64,1)"]) -> shapes  for --probe-shape / --shape
    probe_targets(project, targets, options) -> {LossTarget: ProbeResult}
    probe_scan(scan, options) -> Report                 findings with `probe` filled in
    probe_check(scan, options, scope="all") -> (Report, [ProbedLoss])   also the losses
                                                        without findings (`--probe=all`)
    render_unflagged([ProbedLoss]) -> str               the text report's trailing section

How: slicer.py cuts the least source that defines each loss (never a module's top level),
pool.py runs it in a sandboxed worker process (runner.py) that loads TensorFlow once, traces
the loss with a None batch dimension and checks the numbers; shapes.py reads the shapes the
model in the loss's file gives (its last `Dense(n)` or `Conv2D`), tried before the defaults.
TensorFlow is imported only in that worker; nothing in this package imports it.
"""

from __future__ import annotations

import ast
import importlib.util
import os
import re
from dataclasses import dataclass, replace

from losslint.finder import LossTarget
from losslint.ftypes import Finding, ProbeResult, Report
from losslint.probe.pool import DEFAULT_JOB_SECONDS, DEFAULT_MEMORY, DEFAULT_RUN_SECONDS, Pool
from losslint.probe.runner import DEFAULT_SHAPES, _shape_text
from losslint.probe.shapes import InferredShape, infer_shapes
from losslint.probe.slicer import JobBuilder
from losslint.project import Project

INSTALL_HINT = "pip install 'losslint[probe]'"


def tensorflow_available() -> bool:
    """Whether the probe can run here. Looks TensorFlow up without importing it."""
    try:
        return importlib.util.find_spec("tensorflow") is not None
    except (ImportError, ValueError):
        return False


def legacy_keras_available() -> bool:
    try:
        return importlib.util.find_spec("tf_keras") is not None
    except (ImportError, ValueError):
        return False


@dataclass(frozen=True)
class ProbeOptions:
    # User-given input shapes: [((dtype, dims), (dtype, dims))], tried instead of the defaults
    # and of the inferred shapes.
    shapes: tuple = ()
    # Try the shapes of the model in the loss's file (shapes.py) before the defaults.
    infer_shapes: bool = True
    # None: legacy Keras 2 (tf_keras) only for losses whose modules import tf_keras.
    legacy_keras: bool | None = None
    job_seconds: float = DEFAULT_JOB_SECONDS
    run_seconds: float = DEFAULT_RUN_SECONDS
    memory: int = DEFAULT_MEMORY


_SHAPE = re.compile(r"^\s*(?:(y_true|y_pred)\s*=\s*)?(\(.*\)|\[.*\])\s*$")


def parse_shapes(values) -> tuple:
    """`("y_pred=(None,64,64,1)",)` -> one (y_true, y_pred) pair of (dtype, dims).

    A bare shape is both tensors'; a missing y_true takes y_pred's shape, and one rank below
    y_pred's means sparse integer labels. Raises ValueError with a readable message.
    """
    given: dict[str, tuple] = {}
    for value in values:
        match = _SHAPE.match(value)
        if match is None:
            raise ValueError(f"cannot read the shape {value!r}; write e.g. 'y_pred=(None, 64, 64, 1)'")
        try:
            dims = ast.literal_eval(match.group(2))
        except (ValueError, SyntaxError):
            raise ValueError(f"cannot read the shape {value!r}") from None
        dims = (dims,) if isinstance(dims, int) or dims is None else tuple(dims)
        if not dims or any(d is not None and (not isinstance(d, int) or d <= 0) for d in dims):
            raise ValueError(f"a shape has positive sizes or None: {value!r}")
        dims = (None, *dims[1:])  # the batch dimension is always left open
        names = [match.group(1)] if match.group(1) else ["y_true", "y_pred"]
        for name in names:
            given[name] = dims
    if not given:
        return ()
    y_pred = given.get("y_pred", given.get("y_true"))
    y_true = given.get("y_true", y_pred)
    true_dtype = "int32" if len(y_true) == len(y_pred) - 1 else "float32"
    return ((((true_dtype, list(y_true)), ("float32", list(y_pred)))),)


def _roots(project: Project) -> list[str]:
    return sorted({os.path.dirname(os.path.abspath(m.path)) for m in project.modules})


def _candidates(project: Project, target: LossTarget, options: ProbeOptions,
                cache: dict) -> tuple[list | None, list[InferredShape]]:
    """(the shapes sent to the worker, or None for its defaults; the inferred ones among them)."""
    if options.shapes:
        return [list(pair) for pair in options.shapes], []
    if not options.infer_shapes:
        return None, []
    module = target.function.module
    if id(module) not in cache:
        try:
            cache[id(module)] = infer_shapes(project, module)
        except Exception:  # a hint only: a bug or odd code here never stops the probe
            cache[id(module)] = []
    inferred = cache[id(module)]
    if not inferred:
        return None, []
    pairs = [shape.pair for shape in inferred]
    pairs += [tuple(pair) for pair in DEFAULT_SHAPES if tuple(pair) not in pairs]
    return [list(pair) for pair in pairs], inferred


def _inferred_note(shapes: dict | None, inferred: list[InferredShape]) -> str:
    """` (shapes from `Dense(10)` at train.py:31)` when the winning shapes were inferred."""
    if not isinstance(shapes, dict):
        return ""
    for shape in inferred:
        (_, true_dims), (_, pred_dims) = shape.pair
        if shapes == {"y_true": _shape_text(true_dims), "y_pred": _shape_text(pred_dims)}:
            return f" (shapes from the model: {shape.source})"
    return ""


def job_spec(job) -> dict:
    """What the worker needs of a ProbeJob to define its loss: qualname, slices, skipped names."""
    return {
        "qualname": job.qualname,
        "modules": [{k: getattr(m, k) for k in ("name", "package", "is_package", "display", "source")}
                    for m in job.modules],
        "skipped": job.skipped,
    }


def probe_targets(project: Project, targets, options: ProbeOptions = ProbeOptions(),
                  pool: Pool | None = None) -> dict[LossTarget, ProbeResult]:
    """Probe each loss once; never raises for what a loss does."""
    builder = JobBuilder(project)
    jobs = []
    results: dict[LossTarget, ProbeResult] = {}
    inferred_cache: dict[int, list[InferredShape]] = {}
    for target in dict.fromkeys(targets):
        job = builder.job(target)
        if job.error:
            results[target] = ProbeResult("inconclusive", f"not probed: {job.error}")
            continue
        legacy = job.legacy_keras if options.legacy_keras is None else options.legacy_keras
        jobs.append((legacy, target, job))
    own_pool = pool is None
    if pool is None:
        pool = Pool(_roots(project), job_seconds=options.job_seconds, run_seconds=options.run_seconds,
                    memory=options.memory)
    try:
        # Keras 3 jobs first, then legacy ones: each mode's worker starts at most once.
        for number, (legacy, target, job) in enumerate(sorted(jobs, key=lambda j: j[0])):
            shapes, inferred = _candidates(project, target, options, inferred_cache)
            payload = {"id": number, **job_spec(job), "shapes": shapes}
            raw = pool.run(payload, legacy)
            shapes = raw.get("input_shapes")
            evidence = raw.get("evidence", "no evidence") + _inferred_note(shapes, inferred)
            if legacy:
                evidence += " [legacy Keras 2]"
            results[target] = ProbeResult(
                raw.get("verdict", "inconclusive"), evidence,
                tuple(shapes.items()) if isinstance(shapes, dict) else None, raw.get("harm"))
    finally:
        if own_pool:
            pool.close()
    return results


@dataclass(frozen=True)
class ProbedLoss:
    """A loss without reported findings, probed because of `--probe=all`: where it is
    defined (`cell` for notebooks, as in findings), its qualname, and the verdict."""

    path: str
    line: int
    cell: int | None
    function: str
    result: ProbeResult


SCOPES = ("flagged", "all")


def probe_scan(scan, options: ProbeOptions = ProbeOptions(), drop_refuted: bool = False,
               pool: Pool | None = None) -> Report:
    """The scan's report with each finding's `probe` filled in (findings of losses only)."""
    return probe_check(scan, options, drop_refuted=drop_refuted, pool=pool)[0]


def probe_check(scan, options: ProbeOptions = ProbeOptions(), *, scope: str = "flagged",
                drop_refuted: bool = False, not_losses: tuple[str, ...] = (),
                pool: Pool | None = None) -> tuple[Report, list[ProbedLoss] | None]:
    """`losslint check --probe[=scope]`: the report with each finding's `probe` filled in and,
    for scope "all", the verdicts on every other loss the finder found (those without a
    reported finding; `not_losses` as in the settings), else None. One worker run for both."""
    if scope not in SCOPES:
        raise ValueError(f"unknown probe scope {scope!r}; expected one of {', '.join(SCOPES)}")
    report: Report = scan.report
    wanted = [scan.targets[f] for f in report.findings if f in scan.targets]
    unflagged: list[LossTarget] = []
    if scope == "all":
        from losslint.project import matches_names
        from losslint.finder import Finder

        seen = {id(t.function) for t in wanted}
        for target in Finder(scan.project).find():
            if id(target.function) in seen or matches_names(target.function, not_losses):
                continue
            seen.add(id(target.function))
            unflagged.append(target)
    verdicts = probe_targets(scan.project, wanted + unflagged, options, pool)
    findings: list[Finding] = []
    for finding in report.findings:
        target = scan.targets.get(finding)
        if target is None:
            findings.append(finding)
            continue
        result = verdicts[target]
        if drop_refuted and result.verdict == "refuted":
            continue
        findings.append(replace(finding, probe=result))
    if scope != "all":
        return replace(report, findings=findings), None
    probed = []
    for target in unflagged:
        function = target.function
        module = function.module
        line, cell = module.span(function.node)[0], None
        if module.notebook is not None:
            cell, line = module.notebook.locate(line)
        probed.append(ProbedLoss(module.display, line, cell, function.qualname, verdicts[target]))
    probed.sort(key=lambda p: (p.path, p.cell or 0, p.line, p.function))
    return replace(report, findings=findings), probed


def render_unflagged(probed: list[ProbedLoss]) -> str:
    """The text report's trailing section for `--probe=all`:

        Probed 3 losses without findings: 1 refuted (per-sample), 1 confirmed collapsed, 1 inconclusive
          src/losses.py:12: confirmed: gram_total: returns shape () ...
          src/losses.py:30: inconclusive: uses_scale: the loss needs `scale` ...

    Refuted losses are only counted; confirmed ones come first, then inconclusive ones.
    """
    count = {verdict: sum(p.result.verdict == verdict for p in probed)
             for verdict in ("refuted", "confirmed", "inconclusive")}
    noun = "loss" if len(probed) == 1 else "losses"
    head = (f"Probed {len(probed)} {noun} without findings: {count['refuted']} refuted (per-sample), "
            f"{count['confirmed']} confirmed collapsed, {count['inconclusive']} inconclusive")
    lines = [head]
    for verdict in ("confirmed", "inconclusive"):
        for loss in probed:
            if loss.result.verdict != verdict:
                continue
            where = loss.path if loss.cell is None else f"{loss.path}:cell {loss.cell}"
            detail = loss.result.evidence if loss.result.harm is None else \
                f"{loss.result.evidence}; {loss.result.harm}"
            lines.append(f"  {where}:{loss.line}: {verdict}: {loss.function}: {detail}")
    return "\n".join(lines)


def losses_named(project: Project, name: str | None) -> list[LossTarget]:
    """The losses of a scan (as the finder sees them), or those called `name`: a qualname,
    a function's name, or a class name for its `call`. A function that is not a loss to the
    finder can still be asked for by name."""
    from losslint.finder import Finder

    targets = Finder(project).find()
    if name is None:
        return targets

    def matches(qualname: str) -> bool:
        return qualname == name or qualname.split(".")[-1] == name or qualname == f"{name}.call"

    chosen = [t for t in targets if matches(t.function.qualname)]
    if chosen:
        return chosen
    return [LossTarget(fn, "requested") for fn in project.functions() if matches(fn.qualname)
            and fn.name != "__init__"]
