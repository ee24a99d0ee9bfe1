"""LibCST's parser, guarded against sources nested so deeply that it would crash the process.

    parse_module(text) -> libcst.Module      raises libcst.ParserSyntaxError or TooDeep

LibCST's native parser recurses on the C stack and its memory grows with the square of the
nesting: measured with LibCST 1.9 on Python 3.11, `x = ` followed by 3,000 nested parentheses,
10,000 chained attributes or 10,000 `and`s kills the interpreter with a segmentation fault (no
exception, the whole scan is lost), and 10,000 unary minus signs take 5.4 GB. A scan must
survive any file, so before LibCST sees a source, Python's own parser (which has its own
recursion guard and raises instead of crashing) measures it:

* the source parses with `ast`: its tree's depth, counting the operands of an `and`/`or`
  chain as levels (flat in `ast`, recursive in LibCST), must stay within `MAX_DEPTH`;
* `ast` itself gives up (RecursionError, MemoryError, "too many nested parentheses"): the
  file is nested too deeply for Python too, and is not parsed;
* any other syntax error: the source may still be one LibCST reads (a newer Python's syntax,
  say), so it is handed on after a token count: no logical line may hold more than
  `MAX_OPERATORS` operators and keywords, the tokens such nesting is made of.

A source of more than `MAX_CHARS` characters (about 50,000 lines) is not parsed either
(`TooLarge`): LibCST needs about 0.6 GB and 4 s per MB, so a 10 MB generated file would take
6 GB and a minute. For a notebook the limit applies to its code cells, not to its outputs.

Real code stays far below these limits (an ast depth of 30 is already unusual); the check
costs about a tenth of LibCST's parse.
"""

from __future__ import annotations

import ast
import contextlib
import io
import re
import threading
import tokenize
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported by parse_module: checking a file with Python's parser needs no LibCST
    import libcst as cst

MAX_DEPTH = 500
MAX_OPERATORS = 1000
MAX_CHARS = 2_000_000


class TooDeep(Exception):
    """The source is nested too deeply to parse safely; the message says so in one line."""


class TooLarge(Exception):
    """The source is too large to parse in reasonable time and memory (one line)."""


def parse_module(text: str) -> cst.Module:
    if len(text) > MAX_CHARS:
        raise TooLarge(f"the file is too large to analyse ({len(text) / 1e6:.1f} million characters "
                       f"of code; the limit is {MAX_CHARS / 1e6:g} million)")
    problem = nesting_problem(text)
    if problem is not None:
        raise TooDeep(problem)
    import libcst

    with _parser_output_trusted():
        return libcst.parse_module(text)


@contextlib.contextmanager
def _parser_output_trusted():
    """LibCST validates every node it constructs (`CSTNode.__post_init__`), the nodes its
    own parser builds from valid source included; its code says as much ("PERF: ... would
    allow us to avoid validating the tree when parsing a file"). That check is 15% of a
    parse (1.42 against 1.67 ms a training script of the benchmark corpus), so it is left
    out while LibCST parses, and only then: not with other threads about, which might be
    building nodes of their own, nor if LibCST no longer validates that way. Every fixture
    parses to the same tree either way (tests/test_hostile_inputs.py)."""
    from libcst._nodes.base import CSTNode

    validate = CSTNode.__dict__.get("__post_init__")
    if validate is None or threading.active_count() != 1:
        yield
        return
    CSTNode.__post_init__ = _trusted
    try:
        yield
    finally:
        CSTNode.__post_init__ = validate


def _trusted(node) -> None:
    pass


def nesting_problem(text: str) -> str | None:
    """Why `text` must not reach LibCST's parser, or None when it is safe."""
    try:
        tree = compile(text, "<losslint>", "exec", ast.PyCF_ONLY_AST, dont_inherit=True)
    except (RecursionError, MemoryError):
        return "the file is nested too deeply to parse"
    except SyntaxError as exc:
        if "too many nested parentheses" in str(exc.msg):
            return "the file is nested too deeply to parse (too many nested parentheses)"
        return _operator_problem(text)
    except ValueError:  # null bytes: LibCST rejects them with a syntax error of its own
        return None
    if _too_deep(tree, text):
        return f"the file is nested too deeply to parse (more than {MAX_DEPTH} levels)"
    return None


def parses_safely(text: str) -> bool:
    """Python's parser reads `text`, within the size and nesting limits: LibCST would parse it
    too, but for syntax only LibCST rejects (a newer Python's, say)."""
    if len(text) > MAX_CHARS:
        return False
    try:
        tree = compile(text, "<losslint>", "exec", ast.PyCF_ONLY_AST, dont_inherit=True)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False
    return not _too_deep(tree, text)


def _too_deep(tree: ast.AST, text: str) -> bool:
    """Whether the tree of `text` is deeper than `MAX_DEPTH`, an `and`/`or` of n operands
    counting n.

    A node cannot be much deeper than the text it spans: every level of a path down the
    tree takes at least one character of its own, apart from a leaf (a name's load/store
    context, an operator) that shares its parent's. So a node whose bound, 3 levels per
    character it spans, keeps within the limit is not walked: walking every node cost as much
    as Python's parse itself, measured on the benchmark corpus. Definitions are always
    walked (their decorators lie outside the span Python gives them), and so is the inside of
    an f-string (older Pythons place its parts loosely).
    """
    starts: list[int] = []  # offset of each line's first character, once a node spans lines
    stack = [(tree, 1, False)]
    pop, push = stack.pop, stack.append
    while stack:
        node, level, exact = pop()
        if level > MAX_DEPTH:
            return True
        kind = type(node)
        if not exact and kind not in _DEFINITIONS:
            end = getattr(node, "end_col_offset", None)
            if end is not None:
                first, last = node.lineno, node.end_lineno
                if first == last:
                    span = end - node.col_offset
                else:  # from the start of the first line (column offsets count bytes)
                    if not starts:
                        starts = [0, *(m.end() for m in _LINE_BREAK.finditer(text))]
                    span = starts[last - 1] - starts[first - 1] + end
                if level + 3 * span + 3 <= MAX_DEPTH:
                    continue
            exact = kind is ast.JoinedStr
        if kind is ast.BoolOp and level + len(node.values) - 1 > MAX_DEPTH:
            return True
        for child in ast.iter_child_nodes(node):
            push((child, level + 1, exact))
    return False


_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_DEFINITIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


_NESTING_OPERATORS = frozenset("( [ { - + ~ * ** . @ / // % | & ^ << >> < > <= >= == != :=".split())
_NESTING_KEYWORDS = frozenset({"not", "and", "or", "lambda", "if", "await", "in", "is"})


def _operator_problem(text: str) -> str | None:
    """For a source `ast` rejects: a logical line with too many operators, or None."""
    count = 0
    try:
        for token in tokenize.generate_tokens(io.StringIO(text).readline):
            kind = token.type
            if kind == tokenize.NEWLINE:
                count = 0
            elif (kind == tokenize.OP and token.string in _NESTING_OPERATORS) or (
                kind == tokenize.NAME and token.string in _NESTING_KEYWORDS
            ):
                count += 1
                if count > MAX_OPERATORS:
                    return (f"the file is nested too deeply to parse (more than {MAX_OPERATORS} "
                            f"operators in the statement on line {token.start[0]})")
    except (tokenize.TokenError, SyntaxError, ValueError, RecursionError, MemoryError):
        pass  # the tokens read so far are all there is to judge by
    return None
