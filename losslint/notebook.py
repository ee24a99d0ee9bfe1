"""Jupyter notebooks as Python source: what the analysis reads, and how to point back at cells.

    load_notebook(text) -> NotebookSource        (raises NotebookError)
    join_cells(cells) -> NotebookSource
    NotebookSource.locate(line) -> (cell index, line within the cell)
    NotebookSource.position(line, column) -> (cell index, line, column within the cell)
    preprocess(cell source) -> (the Python IPython runs, column shift of each line)

Only code cells are kept. Each becomes the Python IPython would run for it (see "A cell as
IPython runs it" below: common indentation removed, magics, shell escapes, help requests and
automagics such as `pip install x` or `cd ..` turned into `pass`), and keeps its line count
exactly, so a position found in the joined source maps back to the cell and line the user
sees; a column moves by what was removed from the start of its line, which each cell records.

The notebook is read with the stdlib `json` module: nbformat would add a dependency (and
jsonschema under it) to read one list out of a JSON document, and losslint must not fail on a
notebook nbformat's validation would reject but Jupyter opens.
"""

from __future__ import annotations

import ast
import bisect
import builtins
import dataclasses
import itertools
import json
import keyword
import re
from collections.abc import Container, Iterable
from dataclasses import dataclass, field


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
    """One code cell, as the Python IPython runs for it.

    `index` is the cell's 1-based position among *all* the notebook's cells, markdown and raw
    included, which is the number Jupyter, VS Code and ruff show; `first_line` is the 1-based
    line of the joined source where the cell starts. `shifts[i]` is how many characters
    IPython removed from the start of the cell's line i + 1 (indentation, pasted prompts);
    `()` when it removed none.
    """

    index: int
    first_line: int
    source: str
    shifts: tuple[int, ...] = ()

    def column(self, line: int, column: int) -> int:
        """A column of `source`'s 1-based line `line` as a column of the cell the user sees."""
        if 0 < line <= len(self.shifts):
            return column + self.shifts[line - 1]
        return column

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
        cell = self._cell_at(line)
        return cell.index, line - cell.first_line + 1

    def position(self, line: int, column: int) -> tuple[int, int, int]:
        """Map a 1-based (line, column) of `source` to (cell index, line, column) in that cell."""
        cell = self._cell_at(line)
        cell_line = line - cell.first_line + 1
        return cell.index, cell_line, cell.column(cell_line, column)

    def _cell_at(self, line: int) -> CodeCell:
        starts = [cell.first_line for cell in self.cells]
        position = bisect.bisect_right(starts, line) - 1
        if position >= 0:
            cell = self.cells[position]
            if line < cell.first_line + cell.line_count:
                return cell
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
    earlier = _EarlierBindings()
    for index, cell in enumerate(cells, start=1):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        source, shifts = preprocess(_cell_text(cell, index), earlier)
        earlier.add(source)
        code_cells.append(CodeCell(index=index, first_line=0, source=source, shifts=shifts))
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
    return source.replace("\r\n", "\n").replace("\r", "\n")


# --------------------------------------------------------------------------------------------
# A cell as IPython runs it
#
# IPython (`InteractiveShell.transform_cell`) turns a cell into Python in four steps, and
# `preprocess` follows them line for line:
#
# 1. Clean-up of the whole cell: leading blank lines are dropped; the first remaining line's
#    indentation (spaces and tabs, exactly as written) is removed from every line that starts
#    with it, others are left alone; pasted `>>> ` / `... ` prompts, then `In [3]: ` / `...: `
#    prompts, are removed from every line when the first line (or the second) has one.
# 2. A cell magic: the first line after clean-up starts with `%%`, and the cell becomes one
#    call with the rest of the cell as a string. The magics in PYTHON_BODY_CELL_MAGICS run
#    that string as a cell of its own (all four steps again); `%%debug` hands it to pdb as it
#    is; any other magic's body is another language or a file.
# 3. Escapes, one logical line at a time (a statement start: not inside brackets, strings or a
#    backslash continuation): a line ending in `name?` or `name??` asks for help; a line
#    starting with `!`, `!!`, `%`, `?`, `??` or the autocall escapes `,` `;` `/` is a command
#    (with its backslash-continued lines); `x = !cmd` and `x = %magic` assign a command's
#    output (the first `=` outside brackets, then `!`, or `%` and a name).
# 4. Automagic, only when the cell is now a single line (IPython's prefilter runs on single
#    lines only: in a cell of two lines `cd ..` is a syntax error): a line starting with the
#    name of a line magic (`pip install x`, `cd ..`, `ls -la`, `matplotlib inline`) runs that
#    magic, unless the rest of the line starts with `=` or `,` (`ls = 3`, `ls, x = f()`) or the
#    name is bound in the user's namespace, which losslint reads as: bound at the top level
#    of an earlier code cell (or a builtin or keyword). Magics that extensions register
#    (`%load_ext tensorboard`, then `tensorboard --logdir logs`) are not known, nor
#    `%automagic off`: such a cell stays Python, and LL901 if it does not parse.
#
# What IPython turns into a call of `get_ipython()` becomes `pass` at the same indentation
# (or, for `x = !cmd`, `x = None`, so that `x` is still bound), and the lines it swallowed
# become empty: every remaining piece of Python keeps its line, and its column moves left
# only by what step 1 removed from the start of its line, which `CodeCell.shifts` records.

# Cell magics whose body is run as a cell in the notebook's own namespace (`%%time`,
# `%%timeit`, `%%capture` and `%%prun` transform it as a cell first; `%%debug` does not).
PYTHON_BODY_CELL_MAGICS = frozenset({"time", "timeit", "capture", "prun", "debug"})
_UNTRANSFORMED_BODY_CELL_MAGICS = frozenset({"debug"})

# The line magics a Jupyter kernel knows without extensions: IPython 8's, ipykernel's
# (`autosave`, `connect_info`, `qtconsole` and its `clear`, `less`, `man`, `more`), and the
# shell aliases IPython defines on POSIX (`ls`, `cp`, ...) and on Windows (`copy`, `ddir`,
# `echo`, `ren`): a cell that is a magic on one platform is not reported as a syntax error.
LINE_MAGICS = frozenset({
    "alias", "alias_magic", "autoawait", "autocall", "automagic", "autosave", "bookmark",
    "cat", "cd", "clear", "colors", "conda", "config", "connect_info", "copy", "cp", "ddir",
    "debug", "dhist", "dirs", "doctest_mode", "echo", "ed", "edit", "env", "gui", "hist",
    "history", "killbgscripts", "ldir", "less", "lf", "lk", "ll", "load", "load_ext",
    "loadpy", "logoff", "logon", "logstart", "logstate", "logstop", "ls", "lsmagic", "lx",
    "macro", "magic", "man", "matplotlib", "mkdir", "more", "mv", "notebook", "page",
    "pastebin", "pdb", "pdef", "pdoc", "pfile", "pinfo", "pinfo2", "pip", "popd", "pprint",
    "precision", "prun", "psearch", "psource", "pushd", "pwd", "pycat", "pylab", "qtconsole",
    "quickref", "recall", "rehashx", "reload_ext", "ren", "rep", "rerun", "reset",
    "reset_selective", "rm", "rmdir", "run", "save", "sc", "set_env", "sx", "system", "tb",
    "time", "timeit", "unalias", "unload_ext", "who", "who_ls", "whos", "xdel", "xmode",
})

_INDENT = re.compile(r"[ \t]+")
# Pasted prompts: the first line of a doctest, any line of one, any line of an IPython session.
_DOCTEST_FIRST = re.compile(r">>>(?: |$)")
_DOCTEST_ANY = re.compile(r"(?:>>>|\.\.\.)(?: |$)")
_IPYTHON_PROMPT = re.compile(r"(?:(?:\[nav\]|\[ins\])? )?In \[\d+\]: |\s*\.{3,}: ?")
# `%%timeit?` asks for help on the cell magic: not a cell magic.
_CELL_MAGIC_HELP = re.compile(r"%%\w+\?")
# The help target before a final `?` or `??`: `obj`, `obj.attr`, `%magic`, `a.b[0]`, `np.*load*`.
_HELP_TARGET = re.compile(r"%{0,2}(?!\d)[\w*]+(?:\.(?!\d)[\w*]+|\[-?[0-9]+\])*\?\??$")
# A line the prefilter reads: the leading name (dotted), then the rest.
_PREFILTER = re.compile(r"\s*([\w.*]*)(.*)")
# Characters that make a following `=` part of an operator (`==`, `<=`, `+=`, `:=`, ...).
_OPERATOR_BEFORE_EQUALS = frozenset("=!<>+-*/%@&|^:")


def neutralise(source: str, bound: Container[str] = frozenset()) -> str:
    """A cell's source as the Python IPython runs, line for line (see `preprocess`)."""
    return preprocess(source, bound)[0]


def preprocess(source: str, bound: Container[str] = frozenset()) -> tuple[str, tuple[int, ...]]:
    """A cell as the Python IPython would run, with the same lines, and how many characters
    each line lost at its start (`()` when none did).

    `bound` holds the names the user's namespace has when the cell runs (the names earlier
    cells bind): such a name is a variable, not an automagic.
    """
    lines = source.split("\n")
    out, shifts = _transform(lines, bound)
    return "\n".join(out), tuple(shifts) if any(shifts) else ()


def _transform(lines: list[str], bound: Container[str]) -> tuple[list[str], list[int]]:
    out = list(lines)
    shifts = [0] * len(lines)
    start = 0  # where the cell starts: after the lines of the Python-body cell magics above it
    while True:
        first = next((i for i in range(start, len(out)) if out[i].strip()), None)
        if first is None:
            return out, shifts
        _clean_up(out, shifts, first)
        head = out[first]
        if not head.startswith("%%") or _CELL_MAGIC_HELP.match(head):
            break
        name = head[2:].rstrip().partition(" ")[0]
        if name not in PYTHON_BODY_CELL_MAGICS:
            return [""] * len(lines), [0] * len(lines)
        out[first] = ""
        if name in _UNTRANSFORMED_BODY_CELL_MAGICS:
            return out, shifts
        start = first + 1  # the body is a cell of its own: all four steps again

    cleaned = list(out)
    _rewrite_escapes(out, first)
    if _is_single_line(out, first) and out[first] == cleaned[first] and _is_automagic(out[first], bound):
        out[first] = "pass"
    return out, shifts


def _clean_up(out: list[str], shifts: list[int], first: int) -> None:
    """Step 1: remove the common indentation, then pasted prompts, from the start of lines."""
    indent = _INDENT.match(out[first])
    if indent:
        width = indent.end()
        for i in range(first, len(out)):
            if out[i].startswith(indent.group()):
                out[i] = out[i][width:]
                shifts[i] += width
    second = out[first + 1] if first + 1 < len(out) else ""
    for first_prompt, any_prompt in ((_DOCTEST_FIRST, _DOCTEST_ANY), (_IPYTHON_PROMPT, _IPYTHON_PROMPT)):
        if first_prompt.match(out[first]) or any_prompt.match(second):
            for i in range(first, len(out)):
                prompt = any_prompt.match(out[i])
                if prompt:
                    out[i] = out[i][prompt.end():]
                    shifts[i] += prompt.end()
            second = out[first + 1] if first + 1 < len(out) else ""


def _rewrite_escapes(out: list[str], first: int) -> None:
    """Step 3: each logical line that IPython turns into a call of its own becomes Python.

    IPython finds the first piece of its syntax in the cell, rewrites it and reads the cell
    again; reading the logical lines in order, with the state of what is already Python, comes
    to the same. At one logical line a help request wins over an escape; a line that ends in
    `?` but names nothing IPython can look up stays as it is, and, since IPython keeps finding
    that line first, no later help request in the cell is rewritten either.
    """
    state = _LineState()
    i = first
    # The logical line so far is only backslashes: its first token, which IPython looks at
    # for an escape, is still to come.
    token_less = False
    help_blocked = False
    while i < len(out):
        line = out[i]
        if token_less and _starts_with_escape(line):
            i = _replace(out, i, _indentation(line) + "pass")
            state, token_less = _LineState(), False
            continue
        if not state.at_statement_start():
            token_less = token_less and line.strip(" \t\f") == "\\"
            state.feed(line)
            i += 1
            continue
        token_less = line.strip(" \t\f") == "\\"
        # The whole logical line as the tokenizer groups it (an escape's brackets included),
        # scanned ahead on a copy of the state; a bracket left open runs to the cell's end
        # (its last line, not the empty string after a final newline).
        last_line = len(out) - 2 if len(out) > 1 and out[-1] == "" else len(out) - 1
        probe = state.copy()
        end, assign, asks_help = i, None, False
        while True:
            equals, asks_help = probe.feed(out[end])
            if assign is None and equals is not None:
                assign = (end, equals)
            if probe.at_statement_start() or end >= last_line:
                break
            end += 1
        if asks_help and not help_blocked:
            if _HELP_TARGET.search("\n".join(out[i:end + 1])):
                out[i] = _indentation(line) + "pass"
                for k in range(i + 1, end + 1):
                    out[k] = ""
                i = end + 1
                continue
        if _starts_with_escape(line):
            i = _replace(out, i, _indentation(line) + "pass")
            continue
        if assign is not None:
            row, column = assign
            escape = _assigned_escape(out[row], column)
            if escape is not None:
                i = _replace(out, row, out[row][:escape] + "None")
                state = _LineState()
                continue
        help_blocked = help_blocked or asks_help
        if token_less:  # the escape the logical line may still start with is on the next line
            state.feed(line)
            i += 1
        else:  # plain Python: the probe has read the logical line already
            state, i = probe, end + 1


def _replace(out: list[str], i: int, replacement: str) -> int:
    """Put `replacement` on line i and empty the lines its backslash continues onto; return
    the next line to read."""
    continued = out[i].endswith("\\")
    out[i] = replacement
    while continued and i + 1 < len(out):
        i += 1
        continued = out[i].endswith("\\")
        out[i] = ""
    return i + 1


def _indentation(line: str) -> str:
    return line[: len(line) - len(line.lstrip(" \t\f"))]


def _starts_with_escape(line: str) -> bool:
    """The line's first token is one of IPython's escapes (not an operator such as `!=`,
    `%=`, `//` or `/=`, which Python's tokenizer would read there instead)."""
    code = line.lstrip(" \t\f")
    if code[:1] in ("?", ",", ";"):
        return True
    if code[:1] in ("!", "%"):
        return code[1:2] != "="
    if code[:1] == "/":
        return code[1:2] not in ("/", "=")
    return False


def _assigned_escape(line: str, equals: int) -> int | None:
    """Where `x = !cmd` or `x = %magic args` puts its command, given the column of the first
    `=` of the logical line; None when what follows it is Python."""
    start = equals + 1
    while line[start:start + 1] in (" ", "\t", "\f") and start < len(line):
        start += 1
    rest = line[start:]
    if rest.startswith("!") and not rest.startswith("!="):
        # IPython wants something before the `=` on its line for a shell assignment.
        return start if line[:equals].strip() else None
    if re.match(r"%[ \t\f]*[^\W\d]", rest):
        return start
    return None


def _is_single_line(out: list[str], first: int) -> bool:
    """The cell is one line after IPython's clean-up (a final newline makes no second line)."""
    rest = len(out) - first
    return rest == 1 or (rest == 2 and out[-1] == "")


def _is_automagic(line: str, bound: Container[str]) -> bool:
    """Step 4: IPython's prefilter would run this line as a line magic."""
    name, rest = _PREFILTER.match(line).groups()
    rest = rest.lstrip()
    if name not in LINE_MAGICS or rest[:1] in ("=", ","):
        return False
    return not (name in bound or keyword.iskeyword(name) or hasattr(builtins, name))


class _LineState:
    """Just enough of Python's tokenizer to know whether a line can start a statement.

    Tracks open brackets, a triple-quoted string left open, a string continued with a
    backslash, and explicit line continuation. The real tokenizer cannot be used: it stops at
    the very magics being looked for. Like the `tokenize` module IPython reads cells with, an
    unmatched closing bracket makes the count negative, and a line ends its statement when
    the count is not positive; the `=` of an assignment is looked for in brackets counted
    from the statement's start, never below zero, as IPython does.
    """

    def __init__(self) -> None:
        self.depth = 0
        self.level = 0  # brackets open in this statement, never below zero
        self.quote: str | None = None
        self.continued = False

    def copy(self) -> _LineState:
        twin = _LineState()
        twin.depth, twin.level, twin.quote, twin.continued = self.depth, self.level, self.quote, self.continued
        return twin

    def at_statement_start(self) -> bool:
        return self.depth <= 0 and self.quote is None and not self.continued

    def feed(self, line: str) -> tuple[int | None, bool]:
        """Read one physical line. Returns the column of its first `=` that is an assignment
        (outside brackets, strings and comments, not part of `==`, `+=`, `:=`...) or None,
        and whether its code ends with `?` (outside a string, with no comment after it)."""
        if self.at_statement_start():
            self.level = 0
        quote = self.quote
        in_comment = False
        string_continues = False  # a backslash escaping the newline inside a string
        equals = None
        last = ""  # the last character of code outside strings
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
                    last = char
                else:
                    i += 1
                continue
            if char == "#":
                in_comment = True
                break
            if char in "\"'":
                if line.startswith(char * 3, i):
                    quote = char * 3
                    i += 3
                    continue
                closed = _single_quoted_end(line, i)
                if closed is None:
                    # Never closed on its line: the tokenizer reads the quote alone as an
                    # error and the rest of the line as code.
                    last = char
                    i += 1
                    continue
                quote = char
                i += 1
                continue
            if char in "([{":
                self.depth += 1
                self.level += 1
            elif char in ")]}":
                self.depth -= 1
                self.level = max(0, self.level - 1)
            elif (char == "=" and equals is None and self.level == 0
                  and (i == 0 or line[i - 1] not in _OPERATOR_BEFORE_EQUALS)
                  and line[i + 1:i + 2] != "="):
                equals = i
            if not char.isspace():
                last = char
            i += 1
        if quote is not None and len(quote) == 1 and not string_continues:
            quote = None  # an unterminated one-line string: a syntax error, not our concern
        self.quote = quote
        # Outside a string, a backslash can only be a line continuation.
        self.continued = quote is None and not in_comment and line.endswith("\\")
        return equals, quote is None and not in_comment and last == "?"


def _single_quoted_end(line: str, start: int) -> int | None:
    """Where the one-quote string opening at `start` ends on its line (the index after its
    closing quote, or the line's length when a final backslash continues it); None when it
    does not end."""
    quote, i = line[start], start + 1
    while i < len(line):
        if line[i] == "\\":
            if i == len(line) - 1:
                return len(line)
            i += 2
        elif line[i] == quote:
            return i + 1
        else:
            i += 1
    return None


class _EarlierBindings:
    """The names bound at the top level of the cells read so far: what `is_shadowed` would
    find in the kernel's namespace. Cells are parsed only when a name is looked up, which
    happens only for a one-line cell that starts with a magic's name."""

    def __init__(self) -> None:
        self._pending: list[str] = []
        self._names: set[str] = set()

    def add(self, source: str) -> None:
        self._pending.append(source)

    def __contains__(self, name: object) -> bool:
        for source in self._pending:
            self._names |= _top_level_bindings(source)
        self._pending.clear()
        return name in self._names


def _top_level_bindings(source: str) -> set[str]:
    """Names a cell binds in the module namespace (assignments, imports, definitions, loop
    and `with` targets, walrus targets): not those local to functions, classes or
    comprehensions, nor `except ... as e`, which Python unbinds after the handler. A cell
    that does not parse binds nothing, as when IPython runs it."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return set()
    names: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update(alias.asname or alias.name.split(".")[0] for alias in node.names if alias.name != "*")
        elif isinstance(node, ast.Name):
            if isinstance(node.ctx, ast.Store):
                names.add(node.id)
        elif isinstance(node, ast.comprehension):
            for part in (node.iter, *node.ifs):
                visit(part)
        elif not isinstance(node, ast.Lambda):
            if isinstance(node, (ast.MatchAs, ast.MatchStar)) and node.name:
                names.add(node.name)
            elif isinstance(node, ast.MatchMapping) and node.rest:
                names.add(node.rest)
            for child in ast.iter_child_nodes(node):
                visit(child)

    try:
        visit(tree)
    except RecursionError:
        pass
    return names


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
        new_source = _edit_cell(old_source, cells[index], cell_edits, index)
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


def _edit_cell(original: str, cell: CodeCell, edits, index: int) -> str:
    """Apply cell-relative edits to the cell's original text (line endings, magics and the
    indentation IPython removed kept)."""
    lines = _LINE_END.split(original)
    endings = _LINE_END.findall(original)
    neutral_lines = cell.source.split("\n")
    shifts = cell.shifts or (0,) * len(neutral_lines)
    starts = [0]
    for line, ending in zip(lines, endings):
        starts.append(starts[-1] + len(line) + len(ending))
    replacements = []
    for line, column, end_line, end_column, edit in edits:
        # Every line the edit touches must be the user's text, less what IPython removed
        # from its start: not a line rewritten from IPython syntax.
        if len(neutral_lines) != len(lines) or any(
                lines[i][shifts[i]:] != neutral_lines[i] for i in range(line - 1, end_line)):
            raise NotebookError(f"cell {index}: the edit touches a line with IPython syntax")
        extras = _block_indentation(neutral_lines[line - 1:end_line], column, end_column, edit.old)
        if extras is None:
            raise NotebookError(f"cell {index}: the edit's text is not where it was expected")
        start = starts[line - 1] + shifts[line - 1] + column - 1
        end = starts[end_line - 1] + shifts[end_line - 1] + end_column - 1
        ending = endings[line - 1] if line - 1 < len(endings) else (endings[0] if endings else "\n")
        # Each new line starts with what IPython removed from the line it replaces and the
        # indentation of the block the edited code sits in (the last line's, for lines the
        # edit adds), so the cell keeps its layout.
        pieces = edit.new.split("\n")
        new = pieces[0]
        for k, piece in enumerate(pieces[1:], start=1):
            row, extra = min(line - 1 + k, end_line - 1), extras[min(k, len(extras) - 1)]
            new += ending + lines[row][:shifts[row]] + (extra + piece if piece else "")
        replacements.append((start, end, new))
    replacements.sort()
    for (_, end, _), (start, _, _) in itertools.pairwise(replacements):
        if start < end:
            raise NotebookError(f"cell {index}: two edits overlap")
    for start, end, new in reversed(replacements):
        original = original[:start] + new + original[end:]
    return original


def _block_indentation(span: list[str], column: int, end_column: int, old: str) -> list[str] | None:
    """How the cell's lines `span` (from 1-based `column` of the first to `end_column` of the
    last) hold `old`: the whitespace each line has before `old`'s text for it, or None when
    they do not hold it. An edit's text is a node's code as LibCST renders it on its own,
    whose continuation lines lack the indentation of the block around the node."""
    span = list(span)
    span[-1] = span[-1][:end_column - 1]
    span[0] = span[0][column - 1:]
    wanted = old.split("\n")
    if len(wanted) != len(span) or span[0] != wanted[0]:
        return None
    extras = [""]
    for have, want in zip(span[1:], wanted[1:]):
        extra = have[:len(have) - len(want)]
        if not have.endswith(want) or extra.strip():
            return None
        extras.append(extra)
    return extras


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
