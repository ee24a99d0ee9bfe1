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
import io
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

    return libcst.parse_module(text)


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
    depth = _depth(tree)
    if depth > MAX_DEPTH:
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
    return _depth(tree) <= MAX_DEPTH


def _depth(tree: ast.AST) -> int:
    """The tree's depth, breadth first (no recursion); an `and`/`or` of n operands counts n."""
    deepest = levels = 0
    level = [tree]
    while level and deepest <= MAX_DEPTH:
        levels += 1
        deepest = max(deepest, levels)
        following = []
        for node in level:
            if type(node) is ast.BoolOp:
                deepest = max(deepest, levels + len(node.values) - 1)
            following.extend(ast.iter_child_nodes(node))
        level = following
    return deepest


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
