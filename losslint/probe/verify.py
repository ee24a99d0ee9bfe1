"""Probe-verified fixes: `losslint check --fix --probe` and `--diff --probe`.

    with FixVerifier(ProbeOptions(...)) as verifier:
        run = fix_paths(paths, settings, verify=verifier)

Why: a fix is planned from the source alone, so it can be wrong where the code says less
than it does at run time (a tensor whose rank the analysis cannot see, a mean whose result
is used non-linearly a few statements later). With `--probe` every fix is run before it is
written.

How: losslint/fix.py plans a round of fixes and hands them to `apply_round`, which applies
them to the sources in memory (with fix.py's own `_apply`), parses the edited sources into a
second project and, for each loss with a fix, sends the probe's sandboxed worker two slices
(losslint/probe/slicer.py): the loss as it is in this round's sources and as it is in the
edited ones. Nothing is read from the files on disk for the fixed version and, as for every
probe, no module's top-level code runs. The worker (runner.py `Worker.verify`) runs both on
the same random batches of 6 and 4 samples, with the shapes the original runs with. A fix
is kept when the fixed loss returns the batch axis first (shape `(batch,)` or
`(batch, ...)`), each sample's value (the mean of its row) is the original loss on a batch
of that sample alone (what a right fix is; skipped for a loss that does not run on one
sample), and, for a safe fix, the mean of its values equals the original value
(`numpy.isclose`, rtol 1e-4, atol 1e-6); an unsafe fix changes the batch value by design. Only kept fixes reach the contents that are written (`--fix`) or shown
(`--diff`); this happens in every fix round.

Granularity: the fixes of one loss are verified together and are kept or dropped together;
they count as unsafe when one of them is. The fixes in one file are usually in different
losses, so one loss's failure never blocks another loss's fix. An edit shared by several
losses (a helper they all call) is dropped when any of them fails. After a drop the rest is
applied and verified again; results are cached by the exact slices sent, so a loss the drop
does not touch is not run twice.

A fix that is not kept stays a finding, and `annotate` adds why to its message:
`[fix not applied: the probe found ...]` or `[fix not applied: probe inconclusive: ...]`.
An inconclusive probe (a worker that cannot start, a time limit, a slice that cannot be
defined or run, NaN on the random inputs) never lets a fix through.

Not checked: a loss without a fix of its own whose code a fix changes (a helper fixed for one
loss and also called by a loss whose finding is suppressed or not selected).
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from dataclasses import dataclass, replace

from losslint.loading import load_source, read_sources
from losslint.ftypes import Finding, Report
from losslint.probe import ProbeOptions, _candidates, job_spec
from losslint.probe.pool import Pool
from losslint.probe.slicer import JobBuilder
from losslint.project import FunctionInfo, Project

STATUSES = ("verified", "failed", "inconclusive")


@dataclass(frozen=True)
class Verdict:
    """The probe's answer on one loss's fixes: `verified`, `failed` or `inconclusive`."""

    status: str
    evidence: str

    def why_not(self) -> str:
        if self.status == "failed":
            return f"the probe found {self.evidence}"
        return f"probe inconclusive: {self.evidence}"


class FixVerifier:
    """Runs each round's fixes in the probe before they are kept (see the module docstring)."""

    def __init__(self, options: ProbeOptions = ProbeOptions(), pool: Pool | None = None) -> None:
        self.options = options
        self._pool = pool
        self._own_pool = pool is None
        self._results: dict[str, Verdict] = {}  # by the exact job sent
        self.rejected: dict[Finding, Verdict] = {}  # findings whose fix was not kept, and why
        self.counts: Counter = Counter()  # distinct worker runs by status
        # The final report's findings whose fix the probe did not let through, by status.
        self.not_applied: Counter = Counter()
        self.seconds = 0.0  # spent in the worker (start-up included)

    # -- the pool ----------------------------------------------------------------------------
    def _pool_for(self, sources) -> Pool:
        if self._pool is None:
            roots = sorted({os.path.dirname(os.path.abspath(s.path)) for s in sources})
            self._pool = Pool(roots, job_seconds=self.options.job_seconds,
                              run_seconds=self.options.run_seconds, memory=self.options.memory)
        return self._pool

    def close(self) -> None:
        if self._own_pool and self._pool is not None:
            self._pool.close()
            self._pool = None

    def __enter__(self) -> "FixVerifier":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- the hooks fix.py calls --------------------------------------------------------------
    def apply_round(self, groups: list[list], sources, contents: dict, run) -> bool:
        """Apply `groups` (one list of fix.Plan per module) to `contents` like fix.py's own
        loop, keeping only the fixes the probe verifies; True when a file's contents changed.
        The other plans get `safety` None and the reason."""
        from losslint import fix

        plans = [plan for group in groups for plan in group]
        blocked: dict[int, Verdict] = {}
        verdicts: dict[int, Verdict] = {}
        while True:
            staged = dict(contents)
            scratch = fix.FixRun(Report(), original=run.original)
            for group in groups:
                live = [plan for plan in group if id(plan) not in blocked]
                if live:
                    fix.apply_plans(live, staged, scratch)
            applied = {id(a.finding) for a in scratch.applied}
            made = [plan for plan in plans if id(plan) not in blocked and id(plan.finding) in applied]
            if not made:
                break
            verdicts = self._verify(made, sources, staged, run.original)
            failing = [plan for plan in made if verdicts[id(plan)].status != "verified"]
            if not failing:
                break
            by_node = {}
            for plan in failing:
                blocked[id(plan)] = verdicts[id(plan)]
                by_node.setdefault(id(plan.node), plan)
            for plan in made:  # an edit shared with a failing loss is not made either
                other = by_node.get(id(plan.node))
                if id(plan) not in blocked and other is not None:
                    verdict = verdicts[id(other)]
                    blocked[id(plan)] = Verdict(verdict.status, f"{verdict.evidence} (in "
                                                f"`{other.finding.function}`, which the same edit changes)")
        for plan in plans:
            verdict = blocked.get(id(plan))
            if verdict is not None:
                plan.safety, plan.reason = None, f"fix not applied: {verdict.why_not()}"
                self.rejected[plan.finding] = verdict
        changed = False
        for path, data in staged.items():
            if contents.get(path) != data:
                contents[path] = data
                changed = True
        evidence = {id(plan.finding): verdicts[id(plan)].evidence for plan in made if id(plan) in verdicts}
        for done in scratch.applied:
            if id(done.finding) in evidence:
                done.description += f" [probe: verified: {evidence[id(done.finding)]}]"
            run.applied.append(done)
        return changed

    def annotate(self, report: Report, plans: list) -> Report:
        """The final report, each finding whose fix was not kept saying why in its message."""
        findings = []
        self.not_applied = Counter()
        for finding in report.findings:
            verdict = self.rejected.get(finding)
            if verdict is not None:
                self.not_applied[verdict.status] += 1
                finding = replace(finding, message=f"{finding.message} [fix not applied: {verdict.why_not()}]")
            findings.append(finding)
        for plan in plans:
            verdict = self.rejected.get(plan.finding)
            if verdict is not None and plan.safety is not None:
                plan.safety, plan.reason = None, f"fix not applied: {verdict.why_not()}"
        return replace(report, findings=findings)

    # -- verification ------------------------------------------------------------------------
    def _verify(self, made: list, sources, staged: dict, original: dict) -> dict[int, Verdict]:
        """A verdict per plan (by id), one worker run per loss."""
        fixed = _project(sources, staged, original)
        builders: dict[int, JobBuilder] = {id(fixed): JobBuilder(fixed)}
        shape_cache: dict[int, list] = {}
        by_loss: dict[int, list] = {}
        for plan in made:
            key = id(plan.target) if getattr(plan, "target", None) is not None else id(plan)
            by_loss.setdefault(key, []).append(plan)
        prepared = [(group, self._job(group, fixed, builders, shape_cache)) for group in by_loss.values()]
        # The worker of the mode running now first: the pool keeps one mode's worker at a time.
        live = next(iter(self._pool.workers), False) if self._pool is not None else False
        prepared.sort(key=lambda item: not isinstance(item[1], tuple) or item[1][0] != live)
        verdicts: dict[int, Verdict] = {}
        for group, job in prepared:
            verdict = job if isinstance(job, Verdict) else self._run(*job, sources)
            for plan in group:
                verdicts[id(plan)] = verdict
        return verdicts

    def _job(self, group: list, fixed: Project, builders: dict, shape_cache: dict):
        """(legacy, payload) for one loss's fixes, or the Verdict when it cannot be sent."""
        first = group[0]
        target, project = getattr(first, "target", None), getattr(first, "project", None)
        if target is None or project is None:
            return Verdict("inconclusive", "the loss this finding belongs to is not known")
        counterpart = _counterpart(fixed, target.function)
        if counterpart is None:
            return Verdict("inconclusive", "the fixed loss was not found in the fixed source")
        if id(project) not in builders:
            builders[id(project)] = JobBuilder(project)
        old = builders[id(project)].job(target)
        new = builders[id(fixed)].job(replace(target, function=counterpart))
        for job in (old, new):
            if job.error:
                return Verdict("inconclusive", f"not probed: {job.error}")
        legacy = old.legacy_keras if self.options.legacy_keras is None else self.options.legacy_keras
        shapes, _ = _candidates(project, target, self.options, shape_cache)
        payload = {"kind": "verify", "safe": all(p.safety == "safe" for p in group), "shapes": shapes,
                   "old": job_spec(old), "new": job_spec(new)}
        return legacy, payload

    def _run(self, legacy: bool, payload: dict, sources) -> Verdict:
        key = json.dumps([legacy, payload], sort_keys=True, default=str)
        if key in self._results:
            return self._results[key]
        started = time.perf_counter()
        raw = self._pool_for(sources).run({"id": len(self._results), **payload}, legacy)
        self.seconds += time.perf_counter() - started
        status = raw.get("verdict")
        if status not in STATUSES:
            status = "inconclusive"
        evidence = raw.get("evidence") or "no evidence"
        if legacy:
            evidence += ", under legacy Keras 2"
        verdict = Verdict(status, evidence)
        self._results[key] = verdict
        self.counts[status] += 1
        return verdict


def _project(sources, staged: dict, original: dict) -> Project:
    """The scanned files as they would be with the staged edits, parsed into a new project."""
    project = Project()

    def read(source) -> bytes:
        if source.path in staged:
            return staged[source.path]
        if source.path in original:
            return original[source.path]
        return source.path.read_bytes()

    for source, data in read_sources(sources, Report(), read):
        load_source(project, source, data)
    return project


def _counterpart(project: Project, function: FunctionInfo) -> FunctionInfo | None:
    """`function` in `project`: same file, same qualname, same place among namesakes."""
    same = [f for f in function.module.functions if f.qualname == function.qualname]
    index = next((i for i, f in enumerate(same) if f is function), None)
    if index is None:
        return None
    for module in project.modules:
        if module.path == function.module.path:
            namesakes = [f for f in module.functions if f.qualname == function.qualname]
            return namesakes[index] if index < len(namesakes) else None
    return None
