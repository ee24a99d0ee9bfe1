"""The library API: what the CLI, the tests and other front ends call.

    check_paths(paths, settings) -> Report  the findings, and every loss (`report.losses`)
    check_source(source, path="<string>", settings=Settings()) -> list[Finding]
    scan_paths(paths, settings) -> Scan     the report, the project and each finding's loss
                                            (what the probe, losslint/probe, builds on)

A run reads every file, parses with LibCST those the prefilter keeps (losslint/prefilter.py;
the others are only checked with Python's parser), indexes them into one `Project` (losses
are often defined in one file and compiled in another), analyses, then drops suppressed and
deselected findings; `check_paths` does it in groups of files that import each other
(losslint/incremental.py). No TensorFlow is imported anywhere on this path.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from typing import TYPE_CHECKING

from losslint.discovery import discover, exclude_groups
from losslint.ftypes import Finding, LossRecord, Report, Settings
from losslint.loading import load, load_source, paused_gc, read_sources
from losslint.selection import select_findings

# LibCST and the analysis are imported where they are used: a warm run served from the cache
# (and the parent process of a parallel run) never parses, and importing them is a third of
# a warm run's time (losslint/cache.py, bench/run.py).
if TYPE_CHECKING:
    from losslint.finder import LossTarget
    from losslint.project import Project



_UNSET = object()
# How the command line wants runs made (cache folder, processes, progress callback), without
# changing `check_paths(paths, settings)`, which front ends and tests call and stand in for.
_RUN_OPTIONS: contextvars.ContextVar[dict] = contextvars.ContextVar("losslint_run_options", default={})


@contextlib.contextmanager
def run_options(*, cache_dir: str | None = None, jobs: int | None = None, progress=None):
    """Defaults for `check_paths` calls made inside the `with` block."""
    token = _RUN_OPTIONS.set({"cache_dir": cache_dir, "jobs": jobs, "progress": progress})
    try:
        yield
    finally:
        _RUN_OPTIONS.reset(token)


def check_paths(paths: Sequence[str], settings: Settings = Settings(), *, cache_dir=_UNSET,
                jobs=_UNSET, progress=_UNSET) -> Report:
    """The report for `paths`: the files in groups that import each other, each group cached
    in `cache_dir` (None: no cache) and parsed in `jobs` processes (None: one per CPU when
    there are many files; 1: this process only). Same findings as `scan_paths` (see
    losslint/incremental.py). `progress(done, total)` hears how many files are done.
    Options not given come from an enclosing `run_options(...)`, else no cache, automatic
    jobs and no progress."""
    from losslint import incremental

    options = dict(_RUN_OPTIONS.get())
    for name, value in (("cache_dir", cache_dir), ("jobs", jobs), ("progress", progress)):
        if value is not _UNSET:
            options[name] = value
    with paused_gc():
        return incremental.check(paths, settings, cache_dir=options.get("cache_dir"),
                                 jobs=options.get("jobs"), progress=options.get("progress"))


@dataclass
class Scan:
    """A run's report with what the probe needs to go further: the parsed project and, for
    each reported finding, the loss it belongs to."""

    report: Report
    project: Project
    targets: dict[Finding, LossTarget]


def scan_paths(paths: Sequence[str], settings: Settings = Settings()) -> Scan:
    with paused_gc():
        return _scan_paths(paths, settings)


def _scan_paths(paths: Sequence[str], settings: Settings) -> Scan:
    from losslint.project import Project

    sources, errors = discover(
        paths,
        respect_gitignore=settings.respect_gitignore,
        exclude_groups=exclude_groups(settings),
        force_exclude=settings.force_exclude,
    )
    report = Report(errors=list(errors))
    project = Project()
    findings: list[Finding] = []
    for source, data in read_sources(sources, report):
        findings += load_source(project, source, data)
    from losslint.analysis import project_findings

    targets: dict[Finding, LossTarget] = {}
    found, analysis = project_findings(project, targets, settings)
    on_disk = {source.display: source.path for source in sources}
    report.findings = select_findings(findings + found, project, settings, on_disk)
    from losslint import inventory

    report.losses = sorted(inventory.records(analysis, report.findings), key=LossRecord.sort_key)
    return Scan(report, project, targets)


def check_source(source: str, path: str = "<string>", settings: Settings = Settings()) -> list[Finding]:
    """Analyse one in-memory module (tests, editors). Notebooks: pass their JSON text."""
    from losslint.analysis import project_findings
    from losslint.project import Project

    project = Project()
    findings = load(project, Path(path), path, source.encode("utf-8"))
    findings += project_findings(project, None, settings)[0]
    return select_findings(findings, project, settings, {path: Path(path)})
