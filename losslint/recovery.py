"""The parts of a file with a syntax error that still parse.

A misplaced docstring in one loss, or one line of Python 2, makes the whole file a syntax
error for Python and for LibCST; the file's other functions are still the code its users
copy and compile. Like ruff, losslint reports the syntax error (LL901) and goes on with the
rest: `without_broken_definitions` blanks the top-level statements that do not parse on
their own and keeps everything else, each line where it was, so that findings in the rest
are reported at their true positions.

Top-level statements are found from the text: a statement starts on a line that starts at
column 0 with `def`, `class`, `async def`, a decorator (which takes the definition below it
along), `import`, `from`, `if`, `for`, `while`, `with`, `try` or an assignment-like name, and
each such piece is checked with Python's own parser. The result is used only for analysis:
a recovered module is never fixed (its text is not the file's).
"""

from __future__ import annotations

import ast
import re

_STARTS = re.compile(r"(?:async\s+def|def|class|@|import|from|if|for|while|with|try)\b|[A-Za-z_]\w*\s*(?:[=:(\[.]|\+=)")
_CONTINUES = re.compile(r"(?:else|elif|except|finally)\b")


def without_broken_definitions(text: str) -> str | None:
    """`text` with every top-level statement that does not parse replaced by blank lines
    (line count and the other lines unchanged), or None when nothing could be kept."""
    lines = text.splitlines(keepends=True)
    pieces = _pieces(lines)
    if len(pieces) < 2:
        return None
    kept = list(lines)
    broken = 0
    for start, end in pieces:
        chunk = "".join(lines[start:end])
        if not _parses(chunk):
            broken += 1
            for i in range(start, end):
                kept[i] = _blank(lines[i])
    if broken == 0 or broken == len(pieces):
        return None
    repaired = "".join(kept)
    return repaired if _parses(repaired) else None


def _pieces(lines: list[str]) -> list[tuple[int, int]]:
    starts = []
    in_decorator = False
    for i, line in enumerate(lines):
        if not line or line[0] in " \t\r\n#" or not _STARTS.match(line) or _CONTINUES.match(line):
            continue
        if line.startswith("@"):
            if not in_decorator:
                starts.append(i)
            in_decorator = True
            continue
        if in_decorator and re.match(r"(?:async\s+def|def|class)\b", line):
            in_decorator = False  # the decorated definition belongs to its decorators' piece
            continue
        in_decorator = False
        starts.append(i)
    if not starts or starts[0] != 0:
        starts.insert(0, 0)
    return [(start, end) for start, end in zip(starts, starts[1:] + [len(lines)])]


def _parses(text: str) -> bool:
    try:
        compile(text, "<losslint>", "exec", ast.PyCF_ONLY_AST)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False
    return True


def _blank(line: str) -> str:
    """An empty line with the same line ending (so Python counts the same lines)."""
    stripped = line.rstrip("\r\n")
    return line[len(stripped):] or ""
