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

import ast
import contextlib
import contextvars
import gc
import io
import os
import tokenize
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from typing import TYPE_CHECKING

from losslint.discovery import discover, module_name_for
from losslint.ftypes import FileError, Finding, LossRecord, Report, Settings, SourceFile
from losslint.prefilter import may_matter
from losslint.rules import RULES, is_selected
from losslint.suppression import Suppressions

# LibCST and the analysis are imported where they are used: a warm run served from the cache
# (and the parent process of a parallel run) never parses, and importing them is a third of
# a warm run's time (losslint/cache.py, bench/run.py).
if TYPE_CHECKING:
    import libcst as cst

    from losslint.analysis import Analysis
    from losslint.finder import LossTarget
    from losslint.notebook import CodeCell
    from losslint.project import ModuleInfo, Project


class _Unreadable(Exception):
    """A file's bytes could not be turned into Python source (reported as LL902)."""


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
    with _no_cyclic_gc():
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
    with _no_cyclic_gc():
        return _scan_paths(paths, settings)


def _scan_paths(paths: Sequence[str], settings: Settings) -> Scan:
    from losslint.project import Project

    sources, errors = discover(
        paths,
        respect_gitignore=settings.respect_gitignore,
        exclude_groups=_exclude_groups(settings),
        force_exclude=settings.force_exclude,
    )
    report = Report(errors=list(errors))
    project = Project()
    findings: list[Finding] = []
    for source, data in read_sources(sources, report):
        findings += load_source(project, source, data)
    targets: dict[Finding, LossTarget] = {}
    found, analysis = _analyse(project, targets, settings)
    on_disk = {source.display: source.path for source in sources}
    report.findings = _finish(findings + found, project, settings, on_disk)
    from losslint import inventory

    report.losses = sorted(inventory.records(analysis, report.findings), key=LossRecord.sort_key)
    return Scan(report, project, targets)


def check_source(source: str, path: str = "<string>", settings: Settings = Settings()) -> list[Finding]:
    """Analyse one in-memory module (tests, editors). Notebooks: pass their JSON text."""
    from losslint.project import Project

    project = Project()
    findings = _load(project, Path(path), path, source.encode("utf-8"))
    findings += _analyse(project, None, settings)[0]
    return _finish(findings, project, settings, {path: Path(path)})


@contextlib.contextmanager
def _no_cyclic_gc():
    """Pause the cyclic garbage collector while trees are built.

    A scan keeps every module's LibCST tree alive (cross-file analysis needs them); each
    collection then rescans that ever-growing heap. The trees hold no reference cycles, so
    pausing collection loses nothing: on 1,000 generated files, loading took 5.0 s with the
    collector and 2.0 s without.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


# --------------------------------------------------------------------------------------------


def _load(project: Project, path: Path, display: str, data: bytes,
          module: tuple[str, bool] | None = None) -> list[Finding]:
    """Parse one file into the project; return the file-level findings (LL901, LL902).
    `module`: its (dotted name, is a package), if known."""
    import libcst as cst

    from losslint.parsing import TooDeep, TooLarge, parse_module
    from losslint.project import ModuleInfo
    from losslint.recovery import without_broken_definitions

    try:
        if path.suffix == ".ipynb":
            return _load_notebook(project, path, display, data)
        text = _decode(data)
    except _Unreadable as exc:
        return [_file_finding(display, "LL902", str(exc))]
    recovered = False
    try:
        tree = parse_module(text)
    except cst.ParserSyntaxError as exc:
        # Report the error, and analyse the definitions that parse on their own.
        syntax_error = [_syntax_finding(display, exc, text)]
        text = without_broken_definitions(text)
        if text is None:
            return syntax_error
        try:
            tree = parse_module(text)
        except (cst.ParserSyntaxError, TooDeep, TooLarge, RecursionError):
            return syntax_error
        recovered = True
    except TooDeep as exc:
        return [_file_finding(display, "LL901", str(exc))]
    except TooLarge as exc:
        return [_file_finding(display, "LL902", str(exc))]
    except RecursionError:
        return [_file_finding(display, "LL901", "the file is nested too deeply to parse")]
    if module is None:
        module = module_name_for(path) if path.exists() else (path.stem, False)
    name, is_package = module
    if not project.add(ModuleInfo(path, display, name, is_package, tree, text, recovered=recovered)):
        return [_file_finding(display, "LL901", "the file is nested too deeply to analyse")]
    return syntax_error if recovered else []


def read_sources(sources: Sequence[SourceFile], report: Report,
                 read: Callable[[SourceFile], bytes] | None = None) -> Iterator[tuple[SourceFile, bytes]]:
    """Each source with its bytes, counted in `report`; a file that cannot be read becomes one
    of the report's errors (exit 2) and the rest go on. `read` replaces reading from disk."""
    for source in sources:
        try:
            data = read(source) if read is not None else source.path.read_bytes()
        except OSError as exc:
            report.errors.append(FileError(source.display, exc.strerror or str(exc)))
            continue
        report.files_scanned += 1
        report.paths_scanned.append(source.display)
        yield source, data


def load_source(project: Project, source: SourceFile, data: bytes) -> list[Finding]:
    """Parse one file into the project, or only check it if the prefilter says it cannot
    matter (no TensorFlow/Keras/loss vocabulary: a file that does not decode or parse is still
    reported). Returns the file-level findings (LL901, LL902)."""
    if not may_matter(data, source.path):
        return _check_skipped(source.path, source.display, data)
    return _load(project, source.path, source.display, data)


def _check_skipped(path: Path, display: str, data: bytes) -> list[Finding]:
    """LL901/LL902 for a file the prefilter skipped, with Python's own (10x cheaper) parser."""
    from losslint.notebook import NotebookError, NotPythonNotebook, load_notebook

    if path.suffix == ".ipynb":
        try:  # a notebook that is not one is still reported, Keras or not
            load_notebook(data.decode("utf-8-sig"))
        except UnicodeDecodeError as exc:
            return [_file_finding(display, "LL902", f"cannot decode the notebook as UTF-8: {exc}")]
        except NotPythonNotebook:
            pass
        except NotebookError as exc:
            return [_file_finding(display, "LL902", f"cannot read the notebook: {exc}")]
        return []
    try:
        text = _decode(data)
    except _Unreadable as exc:
        return [_file_finding(display, "LL902", str(exc))]
    try:
        compile(text, display, "exec", ast.PyCF_ONLY_AST)
    except SyntaxError as exc:
        line, column = exc.lineno or 1, max(exc.offset or 1, 1)
        return [Finding(display, line, column, line, column, "LL901", RULES["LL901"].severity,
                        f"syntax error: {exc.msg}")]
    except (ValueError, RecursionError, MemoryError):
        pass
    return []


def _check_quiet(path: Path, display: str, data: bytes) -> list[Finding]:
    """The file-level findings (LL901, LL902) of a file in a group no loss can be in
    (losslint/prefilter.py, second stage): none when Python's parser reads it within the
    limits, else whatever `_load` reports, so each error is worded as for any other file."""
    from losslint.project import Project

    if path.suffix != ".ipynb" and _parses_safely(data):
        return []
    return _load(Project(), path, display, data)


def _parses_safely(data: bytes) -> bool:
    """Python's parser reads the file within losslint's limits (`parsing.parses_safely`)."""
    from losslint.parsing import parses_safely

    try:
        return parses_safely(_decode(data))
    except _Unreadable:
        return False


def _decode(data: bytes) -> str:
    """Bytes to text the way Python does: BOM, then a PEP 263 coding line, else UTF-8."""
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
        text = data.decode(encoding)
    except (SyntaxError, LookupError, UnicodeDecodeError) as exc:
        raise _Unreadable(f"cannot decode the file: {exc}") from None
    if text.startswith("\ufeff"):
        text = text[1:]
    return text


def _load_notebook(project: Project, path: Path, display: str, data: bytes) -> list[Finding]:
    import libcst as cst

    from losslint.notebook import NotebookError, NotPythonNotebook, join_cells, load_notebook
    from losslint.parsing import TooDeep, TooLarge, parse_module
    from losslint.project import ModuleInfo
    from losslint.recovery import without_broken_definitions

    try:
        notebook = load_notebook(data.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise _Unreadable(f"cannot decode the notebook as UTF-8: {exc}") from None
    except NotPythonNotebook:
        return []  # an R or Julia notebook: nothing for us to check
    except NotebookError as exc:
        raise _Unreadable(f"cannot read the notebook: {exc}") from None
    findings: list[Finding] = []
    try:
        tree = parse_module(notebook.source)
    except TooLarge as exc:
        return [_file_finding(display, "LL902", str(exc))]
    except (cst.ParserSyntaxError, TooDeep, RecursionError):
        # Find the cells that do not parse on their own, report them, analyse the rest.
        good = []
        for cell in notebook.cells:
            try:
                parse_module(cell.text)
                good.append(cell)
            except cst.ParserSyntaxError as exc:
                finding = _syntax_finding(display, exc, cell.text)
                findings.append(_replace_cell(finding, cell))
            except (TooDeep, RecursionError):
                findings.append(_replace_cell(_file_finding(display, "LL901", "the cell is nested too deeply to parse"),
                                              cell))
        notebook = join_cells(good)
        try:
            tree = parse_module(notebook.source)
        except (cst.ParserSyntaxError, TooDeep, RecursionError):
            return findings  # cells that only fail together: reported above as far as we can
    if not project.add(ModuleInfo(path, display, path.stem, False, tree, notebook.source, notebook=notebook)):
        findings.append(_file_finding(display, "LL901", "the notebook is nested too deeply to analyse"))
    return findings


def _replace_cell(finding: Finding, cell: CodeCell) -> Finding:
    """A finding in a cell's Python as a finding in the cell the user sees."""
    from dataclasses import replace

    return replace(finding, cell=cell.index, column=cell.column(finding.line, finding.column),
                   end_column=cell.column(finding.end_line, finding.end_column))


def _syntax_finding(display: str, exc: cst.ParserSyntaxError, text: str) -> Finding:
    """Python's own parser words syntax errors better ("expected ':'"): ask it first."""
    line, column, message = exc.raw_line, exc.raw_column + 1, exc.message
    try:
        ast.parse(text)
    except SyntaxError as python_error:
        if python_error.lineno:
            line, column = python_error.lineno, max(python_error.offset or 1, 1)
        message = python_error.msg
    except (ValueError, RecursionError, MemoryError):
        pass
    else:
        message = f"LibCST cannot parse this file ({exc.message})"
    return Finding(display, line, column, line, column, "LL901", RULES["LL901"].severity,
                   f"syntax error: {message}")


def _file_finding(display: str, code: str, message: str) -> Finding:
    return Finding(display, 1, 1, 1, 1, code, RULES[code].severity, message)


def _analyse(project: Project, targets: dict[Finding, LossTarget] | None = None,
             settings: Settings | None = None, finder=None) -> tuple[list[Finding], Analysis]:
    """The project's findings (before `_finish`), and the analysis they came from, whose
    `records(kept)` is the inventory of losses; `targets` (if given) learns each finding's
    loss; `finder` as in `analysis.analyse_losses`."""
    from losslint.analysis import analyse_losses

    analysis = analyse_losses(project, settings, finder=finder)
    findings = analysis.findings()
    if targets is not None:
        for finding, result in zip(findings, analysis.results):
            targets.setdefault(finding, result[0])
    return list(findings), analysis


def _exclude_groups(settings: Settings) -> list[tuple[str, tuple[str, ...]]]:
    """Exclude patterns with the folder each set is anchored at ("." is the working directory)."""
    groups = []
    if settings.exclude:
        groups.append((settings.exclude_root or ".", settings.exclude))
    if settings.extend_exclude:
        groups.append((settings.config_root or ".", settings.extend_exclude))
    return groups


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


def _finish(
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


def _source_lines(module: ModuleInfo, finding: Finding) -> tuple[int, int]:
    """Cell-relative lines back to lines of the joined notebook source."""
    for cell in module.notebook.cells:
        if cell.index == finding.cell:
            return cell.first_line + finding.line - 1, cell.first_line + finding.end_line - 1
    return finding.line, finding.end_line
