"""What a worker process (or this one, for `--jobs 1`) does with the tasks of a run that
losslint/incremental.py plans and losslint/parallel.py hands out:

  unparsed  check that files not parsed with LibCST (the prefilter skipped them, or their
            group holds no loss) parse with Python's parser (LL901/LL902)
  findings  parse and analyse a group of files (files that can see each other through
            imports): its reported findings and its losses with their verdicts

Only file contents come in and only JSON-able rows go out (losslint/cache.py's shapes), so no
LibCST tree ever crosses a process boundary.
"""

from __future__ import annotations

from pathlib import Path

from losslint import cache as cachelib
from losslint.discovery import module_name_for
from losslint.ftypes import Finding, Settings
from losslint.loading import check_quiet, check_skipped, load, parses_safely
from losslint.prefilter import may_hold_loss
from losslint.selection import select_findings


class WorkerState:
    """What a worker (or this process) does with the tasks it is handed."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def handle(self, kind: str, payload) -> tuple[object, int]:
        """(result, number of files handled)."""
        if kind == "unparsed":
            return [_unparsed_rows(which, Path(p), d, data) for which, p, d, data in payload], len(payload)
        if kind == "findings":
            return [(gid, self._findings(members)) for gid, members in payload], sum(len(m) for _, m in payload)
        raise ValueError(kind)

    def _findings(self, members) -> dict[str, list]:
        """A group's reported findings and its losses (`--show-losses`), as the cache keeps
        them. Files without a loss entry word are only registered, and parsed when resolution
        reaches them (`Project.add_pending`)."""
        from losslint import inventory
        from losslint.analysis import project_findings
        from losslint.project import Project

        project = Project(_load_pending)
        findings: list[Finding] = []
        lazy = len(members) > 1
        for path, display, data in members:
            path = Path(path)
            if lazy and path.suffix == ".py" and not may_hold_loss(data, path) and parses_safely(data):
                name = module_name_for(path) if path.exists() else (path.stem, False)
                project.add_pending(path, display, *name, data)
            else:
                findings += load(project, path, display, data)
        on_disk = {display: Path(path) for path, display, _ in members}
        found, analysis = project_findings(project, None, self.settings)
        findings += found
        findings += project.late_findings  # files parsed on demand that turned out not to
        kept = select_findings(findings, project, self.settings, on_disk)
        records = inventory.records(analysis, kept)
        result = {"findings": [cachelib.finding_to_json(f) for f in kept],
                  "losses": [cachelib.loss_to_json(r) for r in records],
                  # what the analysis read of the group: the files never parsed, and the
                  # questions asked of their text (losslint/incremental.py, `_still_valid`)
                  "unread": sorted(project.pending_displays()),
                  "queries": sorted([kind, name] for kind, name in project.text_queries)}
        project.release()
        return result


def _load_pending(project, pending) -> list[Finding]:
    return load(project, pending.path, pending.display, pending.data, (pending.name, pending.is_package))


def _unparsed_rows(kind: str, path: Path, display: str, data: bytes) -> list[list]:
    """A file not parsed with LibCST: "skipped" by the prefilter's first stage, or in a
    "quiet" group (second stage, which checks a little more: see `loading.check_quiet`)."""
    check = check_skipped if kind == "skipped" else check_quiet
    return [cachelib.finding_to_json(f) for f in check(path, display, data)]
