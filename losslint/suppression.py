"""Suppression comments: the user's way to say "I know, leave this one".

    Suppressions.from_source(source)
    .is_suppressed(code, start_line, end_line) -> bool
    .unused() -> list[Suppression]

Recognised anywhere in a comment, case-insensitively, several per line allowed
(`# type: ignore  # noqa: LL101`):

    # losslint: ignore                  every losslint code
    # losslint: ignore[LL101, LL201]    these codes
    # noqa                              every code, as flake8 and ruff read a bare noqa
    # noqa: LL101,E501                  these codes; other tools' codes are simply not ours

Codes match by prefix, as in flake8 (`# noqa: LL1` covers LL101..LL199). A finding is
suppressed by a comment on any line it spans, so for a multi-line expression the comment
may sit on the closing line, where formatters such as black leave it.

Comments are found with the `tokenize` module, so `"# noqa"` inside a string is not a
comment; a source that does not tokenize falls back to a per-line search.
"""

from __future__ import annotations

import io
import re
import tokenize
from collections.abc import Iterator
from dataclasses import dataclass

_CODE = r"[A-Z]+[0-9]+"
_NOQA = re.compile(
    rf"#\s*noqa(?![\w-])(?:\s*:\s*(?P<codes>{_CODE}(?:[\s,]+{_CODE})*))?", re.IGNORECASE
)
_LOSSLINT = re.compile(
    r"#\s*losslint\s*:\s*ignore(?![\w-])(?:\[(?P<codes>[^\]]*)\])?", re.IGNORECASE
)
_SPLIT = re.compile(r"[\s,]+")
# Both directives contain one of these words; a source without either has no directive.
_MAY_HAVE_DIRECTIVE = re.compile(r"noqa|losslint", re.IGNORECASE)

OWN_PREFIX = "LL"


@dataclass(frozen=True)
class Suppression:
    """One directive. `codes` None means every code; `tool` is "losslint" or "noqa"."""

    line: int
    tool: str
    codes: frozenset[str] | None

    def covers(self, code: str) -> bool:
        return self.codes is None or code.upper().startswith(tuple(self.codes))

    @property
    def is_ours(self) -> bool:
        """Whether losslint may call it unused: a bare `# noqa` belongs to every tool."""
        if self.tool == "losslint":
            return True
        return self.codes is not None and any(c.startswith(OWN_PREFIX) for c in self.codes)


def _parse_comment(line: int, comment: str) -> Iterator[Suppression]:
    for match in _LOSSLINT.finditer(comment):
        yield Suppression(line, "losslint", _codes(match.group("codes")))
    for match in _NOQA.finditer(comment):
        yield Suppression(line, "noqa", _codes(match.group("codes")))


def _codes(text: str | None) -> frozenset[str] | None:
    """The listed codes, upper-cased; None (every code) when the list is absent or empty."""
    if text is None:
        return None
    codes = frozenset(part.upper() for part in _SPLIT.split(text) if part)
    return codes or None


def _comments(source: str) -> Iterator[tuple[int, str]]:
    """(line, text) of every comment. Raises what tokenize raises on broken source."""
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.COMMENT:
            yield token.start[0], token.string


class Suppressions:
    """The suppression directives of one source, by line, remembering which were used."""

    def __init__(self, directives: list[Suppression]) -> None:
        self._by_line: dict[int, list[Suppression]] = {}
        for directive in directives:
            self._by_line.setdefault(directive.line, []).append(directive)
        self._used: set[Suppression] = set()

    @classmethod
    def from_source(cls, source: str) -> Suppressions:
        if not _MAY_HAVE_DIRECTIVE.search(source):
            return cls([])  # most files: no need to tokenize them (a third of a parse)
        try:
            comments = list(_comments(source))
        except (tokenize.TokenError, SyntaxError, ValueError):
            # The file does not tokenize (it will be reported as a syntax error): look for
            # directives line by line, accepting that a `#` inside a string may be misread.
            comments = [
                (number, line[line.index("#") :])
                for number, line in enumerate(source.splitlines(), start=1)
                if "#" in line
            ]
        return cls([d for line, text in comments for d in _parse_comment(line, text)])

    def __iter__(self) -> Iterator[Suppression]:
        for line in sorted(self._by_line):
            yield from self._by_line[line]

    def is_suppressed(self, code: str, start_line: int, end_line: int | None = None) -> bool:
        """Whether a directive for `code` sits on any line from start_line to end_line."""
        end_line = start_line if end_line is None else end_line
        if end_line - start_line + 1 <= len(self._by_line):
            lines = [n for n in range(start_line, end_line + 1) if n in self._by_line]
        else:
            lines = [n for n in self._by_line if start_line <= n <= end_line]
        matching = [d for n in lines for d in self._by_line[n] if d.covers(code)]
        self._used.update(matching)
        return bool(matching)

    def unused(self) -> list[Suppression]:
        """Directives meant for losslint that suppressed nothing, in line order."""
        return [d for d in self if d.is_ours and d not in self._used]
