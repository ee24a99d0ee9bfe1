"""Jupyter notebooks as Python source: what the analysis reads, and how to point back at cells.

    load_notebook(text) -> NotebookSource        (raises NotebookError)
    join_cells(cells) -> NotebookSource
    NotebookSource.locate(line) -> (cell index, line within the cell)

Only code cells are kept. Each keeps its line count exactly, so a position found in the joined
source maps back to the cell and line the user sees: IPython syntax that is not Python is
*neutralised* line for line rather than removed:

* a line magic, shell escape or help request (`%matplotlib inline`, `!pip install x`,
  `files = !ls`, `out = %sx ls`, `tf.reduce_mean?`, `?tf.reduce_mean`) becomes `pass` at the
  same indentation, so an `if` whose body was a magic still parses; lines continuing it with a
  trailing backslash become empty;
* a cell magic (`%%bash`, `%%writefile x.py`) empties the whole cell, whose body is another
  language or another file; except the magics whose body is ordinary Python run in this
  kernel (`%%time`, `%%timeit`, `%%capture`, `%%prun`, `%%debug`), where only the magic line
  is emptied, since training code is often written in a `%%time` cell.

Escapes are recognised only where a Python statement could start (not inside brackets, a
string or after a backslash continuation), as IPython does: `("%d"\\n % x)` is an operator.

The notebook is read with the stdlib `json` module: nbformat would add a dependency (and
jsonschema under it) to read one list out of a JSON document, and losslint must not fail on a
notebook nbformat's validation would reject but Jupyter opens.
"""

from __future__ import annotations

import bisect
import dataclasses
import itertools
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

# Cell magics whose body is Python executed in the notebook's own namespace.
PYTHON_BODY_CELL_MAGICS = frozenset({"time", "timeit", "capture", "prun", "debug"})

# `files = !ls`, `a, b = %sx cmd`: IPython's assignment from a shell command or a magic.
_ASSIGNED_ESCAPE = re.compile(r"\s*[\w.]+(?:\s*,\s*[\w.]+)*\s*=\s*[!%]")
# `obj?`, `obj.attr??`, `%magic?`, `?obj`: the help system.
_HELP = re.compile(r"\s*(?:\?.*|%{0,2}[\w.*]+\?\??\s*)")


class NotebookError(Exception):
    """The text is not a notebook losslint can read; the message says why, in one line."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotPythonNotebook(NotebookError):
    """A valid notebook in another language (R, Julia, ...).

    A subclass so a caller can pass over such notebooks quietly in a directory scan while
    still treating a broken notebook as an error.
    """


@dataclass(frozen=True)
class CodeCell:
    """One code cell, neutralised.

    `index` is the cell's 1-based position among *all* the notebook's cells, markdown and raw
    included, which is the number Jupyter, VS Code and ruff show; `first_line` is the 1-based
    line of the joined source where the cell starts.
    """

    index: int
    first_line: int
    source: str

    @property
    def text(self) -> str:
        """The cell as it sits in the joined source: followed by a newline of its own.

        Always added, even after a trailing newline, so a cell of n lines as the editor shows
        them (`"x = 1\\n"` is two) takes exactly n lines of the joined source.
        """
        return self.source + "\n"

    @property
    def line_count(self) -> int:
        return self.source.count("\n") + 1


@dataclass(frozen=True)
class NotebookSource:
    """The code cells joined into one Python source, with the way back to the cells."""

    source: str
    cells: list[CodeCell] = field(default_factory=list)

    def locate(self, line: int) -> tuple[int, int]:
        """Map a 1-based line of `source` to (cell index, 1-based line within that cell)."""
        starts = [cell.first_line for cell in self.cells]
        position = bisect.bisect_right(starts, line) - 1
        if position >= 0:
            cell = self.cells[position]
            if line < cell.first_line + cell.line_count:
                return cell.index, line - cell.first_line + 1
        raise ValueError(f"line {line} is not in any cell of this notebook source")


def join_cells(cells: Iterable[CodeCell]) -> NotebookSource:
    """Join cells (all of them, or a subset) into one source, renumbering `first_line`.

    The analysis can parse each cell on its own, drop the ones that fail and join the rest:
    positions in the result still map back to the right cells.
    """
    placed = []
    line = 1
    for cell in cells:
        placed.append(dataclasses.replace(cell, first_line=line))
        line += cell.line_count
    return NotebookSource(source="".join(cell.text for cell in placed), cells=placed)


def load_notebook(text: str) -> NotebookSource:
    """Read a notebook's JSON text; raise NotebookError if it is not a Python notebook."""
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise NotebookError(
            f"not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
        ) from None
    except RecursionError:
        raise NotebookError("not a notebook: the JSON is nested too deeply to read") from None
    if not isinstance(document, dict):
        raise NotebookError("not a notebook: the JSON document is not an object")
    cells = document.get("cells")
    if not isinstance(cells, list):
        if "worksheets" in document:
            raise NotebookError(
                "nbformat 3 notebooks are not supported; convert it with "
                "`jupyter nbconvert --to notebook --inplace`"
            )
        raise NotebookError("not a notebook: no 'cells' list")
    _check_language(document.get("metadata"))

    code_cells = []
    for index, cell in enumerate(cells, start=1):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        code_cells.append(CodeCell(index=index, first_line=0, source=_cell_text(cell, index)))
    return join_cells(code_cells)


def _check_language(metadata: object) -> None:
    if not isinstance(metadata, dict):
        return
    candidates = []
    kernelspec = metadata.get("kernelspec")
    if isinstance(kernelspec, dict):
        candidates.append(kernelspec.get("language"))
    language_info = metadata.get("language_info")
    if isinstance(language_info, dict):
        candidates.append(language_info.get("name"))
    for language in candidates:
        if isinstance(language, str) and not _is_python(language):
            raise NotPythonNotebook(f"not a Python notebook (language: {language})")


def _is_python(language: str) -> bool:
    name = language.strip().lower()
    return name.startswith(("python", "ipython"))


def _cell_text(cell: dict, index: int) -> str:
    source = cell.get("source", "")
    if isinstance(source, list) and all(isinstance(part, str) for part in source):
        source = "".join(source)
    if not isinstance(source, str):
        raise NotebookError(f"cell {index}: 'source' is neither a string nor a list of strings")
    # One newline convention, so that line counts agree with the parser's.
    source = source.replace("\r\n", "\n").replace("\r", "\n")
    return neutralise(source)


def neutralise(source: str) -> str:
    """Replace a cell's IPython-only lines so it parses as Python, keeping every line."""
    lines = source.split("\n")
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    if first is not None and lines[first].lstrip().startswith("%%"):
        words = lines[first].lstrip()[2:].split(maxsplit=1)
        if not words or words[0] not in PYTHON_BODY_CELL_MAGICS:
            return "\n".join("" for _ in lines)
        lines[first] = ""

    state = _LineState()
    out = []
    continues_escape = False
    for line in lines:
        if continues_escape:
            # The rest of a magic or shell command continued with a backslash.
            out.append("")
            continues_escape = line.endswith("\\")
        elif state.at_statement_start() and _is_escape(line):
            indent = line[: len(line) - len(line.lstrip())]
            out.append(indent + "pass")
            continues_escape = line.endswith("\\")
        else:
            state.feed(line)
            out.append(line)
    return "\n".join(out)


def _is_escape(line: str) -> bool:
    stripped = line.lstrip()
    if stripped.startswith(("%", "!")):
        return True
    return bool(_ASSIGNED_ESCAPE.match(line) or _HELP.fullmatch(line))


class _LineState:
    """Just enough of Python's tokenizer to know whether a line can start a statement.

    Tracks open brackets, a triple-quoted string left open, a string continued with a
    backslash, and explicit line continuation. The real tokenizer cannot be used: it stops at
    the very magics being looked for.
    """

    def __init__(self) -> None:
        self.depth = 0
        self.quote: str | None = None
        self.continued = False

    def at_statement_start(self) -> bool:
        return self.depth == 0 and self.quote is None and not self.continued

    def feed(self, line: str) -> None:
        quote = self.quote
        in_comment = False
        string_continues = False  # a backslash escaping the newline inside a string
        i = 0
        while i < len(line):
            char = line[i]
            if quote is not None:
                if char == "\\":
                    string_continues = i == len(line) - 1
                    i += 2
                elif line.startswith(quote, i):
                    i += len(quote)
                    quote = None
                else:
                    i += 1
                continue
            if char == "#":
                in_comment = True
                break
            if char in "\"'":
                quote = char * 3 if line.startswith(char * 3, i) else char
                i += len(quote)
                continue
            if char in "([{":
                self.depth += 1
            elif char in ")]}":
                self.depth = max(0, self.depth - 1)
            i += 1
        if quote is not None and len(quote) == 1 and not string_continues:
            quote = None  # an unterminated one-line string: a syntax error, not our concern
        self.quote = quote
        # Outside a string, a backslash can only be a line continuation.
        self.continued = quote is None and not in_comment and line.endswith("\\")


# --------------------------------------------------------------------------------------------
# Writing fixes back (losslint/fix.py)
#
# A fix edits the joined source; `rewrite_cells` carries each edit into the cell it falls in
# and splices the new `source` values into the notebook's JSON *text*. Nothing is re-serialised
# but the edited cells' `source` values: indentation, key order, escapes, `ensure_ascii` style,
# the final newline, outputs and metadata stay byte for byte. A list-of-lines `source` stays a
# list laid out like the original (unchanged lines keep their exact JSON spelling), a string
# stays a string. Outputs of an edited cell are left as they are: they were computed by the old
# code and are only refreshed by running the cell, which losslint never does.


@dataclass(frozen=True)
class SourceEdit:
    """Replace `old` by `new` at 1-based (line, column) `start` to `end` (exclusive) of the
    joined source; columns count characters."""

    start: tuple[int, int]
    end: tuple[int, int]
    old: str
    new: str


def rewrite_cells(text: str, notebook: NotebookSource, edits: Iterable[SourceEdit]) -> str:
    """The notebook JSON `text` with `edits` (positions in `notebook.source`) made in its code
    cells. Raises NotebookError, and changes nothing, when an edit spans two cells, touches a
    line IPython syntax was neutralised on, or does not find its `old` text."""
    by_cell: dict[int, list[tuple[int, int, int, int, SourceEdit]]] = {}
    cells = {cell.index: cell for cell in notebook.cells}
    for edit in edits:
        try:
            index, line = notebook.locate(edit.start[0])
            end_index, end_line = notebook.locate(edit.end[0])
        except ValueError as exc:
            raise NotebookError(str(exc)) from None
        if end_index != index:
            raise NotebookError("the edit spans two cells")
        by_cell.setdefault(index, []).append((line, edit.start[1], end_line, edit.end[1], edit))
    spans = _cell_source_spans(text)
    pieces = []
    for index, cell_edits in by_cell.items():
        if index not in spans:
            raise NotebookError(f"cell {index}: its source was not found in the notebook's JSON")
        start, end, value = spans[index]
        old_source = "".join(value) if isinstance(value, list) else value
        new_source = _edit_cell(old_source, cells[index].source, cell_edits, index)
        if new_source != old_source:
            pieces.append((start, end, _encode_source(text[start:end], value, new_source, text)))
    for start, end, replacement in sorted(pieces, reverse=True):
        text = text[:start] + replacement + text[end:]
    return text


def code_cell_sources(text: str) -> dict[int, str]:
    """Each code cell's source as the file holds it (magics included), by 1-based cell index
    among all cells; {} for a document that is not a notebook."""
    try:
        document = json.loads(text)
    except (json.JSONDecodeError, RecursionError):
        return {}
    cells = document.get("cells") if isinstance(document, dict) else None
    sources = {}
    for index, cell in enumerate(cells if isinstance(cells, list) else [], start=1):
        if isinstance(cell, dict) and cell.get("cell_type") == "code":
            source = cell.get("source", "")
            if isinstance(source, list) and all(isinstance(part, str) for part in source):
                source = "".join(source)
            if isinstance(source, str):
                sources[index] = source
    return sources


_LINE_END = re.compile(r"\r\n|\r|\n")


def _edit_cell(original: str, neutral: str, edits, index: int) -> str:
    """Apply cell-relative edits to the cell's original text (line endings and magics kept)."""
    lines = _LINE_END.split(original)
    endings = _LINE_END.findall(original)
    neutral_lines = neutral.split("\n")
    starts = [0]
    for line, ending in zip(lines, endings):
        starts.append(starts[-1] + len(line) + len(ending))
    replacements = []
    for line, column, end_line, end_column, edit in edits:
        if len(neutral_lines) != len(lines) or any(
                lines[i] != neutral_lines[i] for i in range(line - 1, end_line)):
            raise NotebookError(f"cell {index}: the edit touches a line with IPython syntax")
        start = starts[line - 1] + column - 1
        end = starts[end_line - 1] + end_column - 1
        if _LINE_END.sub("\n", original[start:end]) != edit.old:
            raise NotebookError(f"cell {index}: the edit's text is not where it was expected")
        ending = endings[line - 1] if line - 1 < len(endings) else (endings[0] if endings else "\n")
        replacements.append((start, end, edit.new.replace("\n", ending)))
    replacements.sort()
    for (_, end, _), (start, _, _) in itertools.pairwise(replacements):
        if start < end:
            raise NotebookError(f"cell {index}: two edits overlap")
    for start, end, new in reversed(replacements):
        original = original[:start] + new + original[end:]
    return original


def _encode_source(raw: str, value, new_source: str, document: str) -> str:
    """The JSON text of a cell's new `source`, in the representation and layout of `raw`."""
    ensure_ascii = document.isascii()
    if isinstance(value, str):
        return json.dumps(new_source, ensure_ascii=ensure_ascii)
    opening, items, separators, closing = _list_layout(raw)
    spelled = {json.loads(item): item for item in items}
    lines = re.findall(r".*?(?:\r\n|\r|\n)|.+$", new_source, flags=re.DOTALL)
    if not lines:
        return "[]"
    separator = separators[0] if separators else "," + opening
    return "[" + opening + separator.join(
        spelled.get(line) or json.dumps(line, ensure_ascii=ensure_ascii) for line in lines) + closing + "]"


_WHITESPACE = re.compile(r"[ \t\n\r]*")


def _skip(text: str, i: int) -> int:
    return _WHITESPACE.match(text, i).end()


def _list_layout(raw: str) -> tuple[str, list[str], list[str], str]:
    """A JSON list of strings as (opening whitespace, item texts, separators, closing whitespace)."""
    i = _skip(raw, 1)
    opening, items, separators = raw[1:i], [], []
    while raw[i] != "]":
        _, end = json.decoder.scanstring(raw, i + 1)
        items.append(raw[i:end])
        j = _skip(raw, end)
        if raw[j] == ",":
            k = _skip(raw, j + 1)
            separators.append(raw[end:k])
            i = k
        else:
            return opening, items, separators, raw[end:j]
    return opening, items, separators, ""


def _cell_source_spans(text: str) -> dict[int, tuple[int, int, object]]:
    """Where each code cell's `source` value lies in the JSON text: (start, end, parsed value)
    by 1-based cell index. Duplicate keys resolve as `json.loads` does (the last wins)."""
    decoder = json.JSONDecoder()
    try:
        members = {key: (start, end) for key, start, end in _members(text, _skip(text, 0), decoder)}
        if "cells" not in members:
            raise NotebookError("no 'cells' list")
        spans = {}
        for index, (start, _) in enumerate(_items(text, members["cells"][0], decoder), start=1):
            if text[start] != "{":
                continue
            cell = {key: (s, e) for key, s, e in _members(text, start, decoder)}
            kind = cell.get("cell_type")
            if kind is None or "source" not in cell or json.loads(text[slice(*kind)]) != "code":
                continue
            start_source, end_source = cell["source"]
            spans[index] = (start_source, end_source, json.loads(text[start_source:end_source]))
        return spans
    except (ValueError, IndexError) as exc:
        raise NotebookError(f"cannot locate the cells in the JSON text: {exc}") from None


def _members(text: str, i: int, decoder: json.JSONDecoder) -> list[tuple[str, int, int]]:
    """(key, value start, value end) of each member of the JSON object starting at `i`."""
    if text[i] != "{":
        raise ValueError(f"expected an object at offset {i}")
    members = []
    i = _skip(text, i + 1)
    if text[i] == "}":
        return members
    while True:
        if text[i] != '"':
            raise ValueError(f"expected a key at offset {i}")
        key, i = json.decoder.scanstring(text, i + 1)
        i = _skip(text, i)
        if text[i] != ":":
            raise ValueError(f"expected ':' at offset {i}")
        start = _skip(text, i + 1)
        _, end = decoder.raw_decode(text, start)
        members.append((key, start, end))
        i = _skip(text, end)
        if text[i] == "}":
            return members
        if text[i] != ",":
            raise ValueError(f"expected ',' at offset {i}")
        i = _skip(text, i + 1)


def _items(text: str, i: int, decoder: json.JSONDecoder) -> list[tuple[int, int]]:
    """(start, end) of each item of the JSON list starting at `i`."""
    if text[i] != "[":
        raise ValueError(f"expected a list at offset {i}")
    items = []
    i = _skip(text, i + 1)
    if text[i] == "]":
        return items
    while True:
        _, end = decoder.raw_decode(text, i)
        items.append((i, end))
        i = _skip(text, end)
        if text[i] == "]":
            return items
        if text[i] != ",":
            raise ValueError(f"expected ',' at offset {i}")
        i = _skip(text, i + 1)
