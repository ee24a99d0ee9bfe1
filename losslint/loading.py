"""From the bytes of a file to a module of the project, or to the file's own findings.

    read_sources(sources, report)         each file's bytes; unreadable ones become errors
    load(project, path, display, data)    parse one file (or notebook) into the project; its
                                          file-level findings (LL901 syntax, LL902 unreadable)
    load_source(project, source, data)    the same, or only `check_skipped` for a file the
                                          prefilter says cannot matter
    check_skipped / check_quiet           LL901/LL902 for files not parsed with LibCST
    decode(data), parses_safely(data)     text as Python reads it; within losslint's limits

A file with a syntax error is reported and the definitions that parse on their own are still
analysed (losslint/recovery.py); a notebook is read as IPython runs it (losslint/notebook.py).
"""

from __future__ import annotations

import ast
import contextlib
import gc
import io
import tokenize
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from losslint.discovery import module_name_for
from losslint.ftypes import FileError, Finding, Report, SourceFile
from losslint.prefilter import may_matter
from losslint.rules import RULES

if TYPE_CHECKING:
    import libcst as cst

    from losslint.notebook import CodeCell
    from losslint.project import Project


class Unreadable(Exception):
    """A file's bytes could not be turned into Python source (reported as LL902)."""


@contextlib.contextmanager
def paused_gc():
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
        return check_skipped(source.path, source.display, data)
    return load(project, source.path, source.display, data)


def load(project: Project, path: Path, display: str, data: bytes,
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
        text = decode(data)
    except Unreadable as exc:
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


def _load_notebook(project: Project, path: Path, display: str, data: bytes) -> list[Finding]:
    import libcst as cst

    from losslint.notebook import NotebookError, NotPythonNotebook, join_cells, load_notebook
    from losslint.parsing import TooDeep, TooLarge, parse_module
    from losslint.project import ModuleInfo

    try:
        notebook = load_notebook(data.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise Unreadable(f"cannot decode the notebook as UTF-8: {exc}") from None
    except NotPythonNotebook:
        return []  # an R or Julia notebook: nothing for us to check
    except NotebookError as exc:
        raise Unreadable(f"cannot read the notebook: {exc}") from None
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


def check_skipped(path: Path, display: str, data: bytes) -> list[Finding]:
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
        text = decode(data)
    except Unreadable as exc:
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


def check_quiet(path: Path, display: str, data: bytes) -> list[Finding]:
    """The file-level findings (LL901, LL902) of a file in a group no loss can be in
    (losslint/prefilter.py, second stage): none when Python's parser reads it within the
    limits, else whatever `load` reports, so each error is worded as for any other file."""
    from losslint.project import Project

    if path.suffix != ".ipynb" and parses_safely(data):
        return []
    return load(Project(), path, display, data)


def parses_safely(data: bytes) -> bool:
    """Python's parser reads the file within losslint's limits (`parsing.parses_safely`)."""
    from losslint import parsing

    try:
        return parsing.parses_safely(decode(data))
    except Unreadable:
        return False


def decode(data: bytes) -> str:
    """Bytes to text the way Python does: BOM, then a PEP 263 coding line, else UTF-8."""
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
        text = data.decode(encoding)
    except (SyntaxError, LookupError, UnicodeDecodeError) as exc:
        raise Unreadable(f"cannot decode the file: {exc}") from None
    if text.startswith("\ufeff"):
        text = text[1:]
    return text


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
