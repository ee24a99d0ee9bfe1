"""Which findings the user sees: `select`/`ignore`, `per-file-ignores`, and the
`# losslint: ignore[...]` / `# noqa` comments (losslint/suppression.py), in report order."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from losslint.ftypes import Finding, Settings
from losslint.rules import is_selected
from losslint.suppression import Suppressions

if TYPE_CHECKING:
    from losslint.project import ModuleInfo, Project


def select_findings(
    findings: list[Finding], project: Project | None, settings: Settings, on_disk: dict[str, Path]
) -> list[Finding]:
    """The findings the settings select and no comment suppresses, in order. `project` has
    the parsed sources (None when none was parsed: file-level findings only)."""
    suppressions: dict[str, Suppressions] = {}
    modules: dict[str, ModuleInfo] = {m.display: m for m in project.modules} if project else {}
    file_ignores: dict[str, tuple[str, ...]] = {}
    kept = []
    for finding in findings:
        if finding.path not in file_ignores:
            file_ignores[finding.path] = _per_file_ignores(settings, on_disk.get(finding.path))
        if not is_selected(finding.code, settings.select, settings.ignore):
            continue
        # Unlike `ignore`, a per-file ignore is not outranked by a longer `select` prefix:
        # it says "never in these files".
        if any(p == "ALL" or finding.code.startswith(p) for p in file_ignores[finding.path]):
            continue
        module = modules.get(finding.path)
        if module is not None and finding.code not in ("LL901", "LL902"):
            if module.display not in suppressions:
                suppressions[module.display] = Suppressions.from_source(module.source)
            start, end = finding.line, finding.end_line
            if module.notebook is not None:
                start, end = _source_lines(module, finding)
            if suppressions[module.display].is_suppressed(finding.code, start, end):
                continue
        kept.append(finding)
    return sorted(kept, key=Finding.sort_key)


def _per_file_ignores(settings: Settings, path: Path | None) -> tuple[str, ...]:
    """The codes `per-file-ignores` turns off for the file at `path`."""
    if not settings.per_file_ignores or path is None:
        return ()
    root = os.path.abspath(settings.config_root or ".")
    absolute = os.path.abspath(path)
    try:
        relative = os.path.relpath(absolute, root)
    except ValueError:  # on another drive (Windows)
        relative = ".."
    if relative.startswith(".."):
        relative = os.path.basename(absolute)  # outside the project: only its name can match
    relative = relative.replace(os.sep, "/")
    from pathspec import GitIgnoreSpec

    codes: list[str] = []
    for pattern, ignored in settings.per_file_ignores:
        if GitIgnoreSpec.from_lines([pattern]).match_file(relative):
            codes += ignored
    return tuple(codes)


def _source_lines(module: ModuleInfo, finding: Finding) -> tuple[int, int]:
    """Cell-relative lines back to lines of the joined notebook source."""
    for cell in module.notebook.cells:
        if cell.index == finding.cell:
            return cell.first_line + finding.line - 1, cell.first_line + finding.end_line - 1
    return finding.line, finding.end_line
