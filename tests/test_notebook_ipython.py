"""Notebook cells as IPython runs them, checked against IPython itself.

IPython is the oracle here, and only here (the `test` extra; losslint never imports it):
`TransformerManager.transform_cell` is the static part of what a kernel does to a cell
(indentation, prompts, cell magics, escapes, help), and a real `InteractiveShell`, in a
subprocess so that it cannot change this process's `__main__` or builtins, adds the prefilter
that runs automagics (`pip install x`, `cd ..`) in one-line cells.

For each cell shape the code losslint analyses must be the code IPython runs: the same AST,
once whatever IPython made of a magic (a `get_ipython()` call) is read as the `pass` or `None`
losslint puts there and a Python-body cell magic (`%%time`) as its body; and each piece of
that code must sit, once mapped back through the cell's shifts, on the text IPython runs.
"""

from __future__ import annotations

import ast
import json
import os
import random
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from IPython.core.inputtransformer2 import TransformerManager

from losslint.api import check_paths
from losslint.cli import main
from losslint.ftypes import Settings
from losslint.notebook import PYTHON_BODY_CELL_MAGICS, load_notebook, preprocess

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = REPO / "fixtures" / "notebooks"


def static_ipython(cell: str) -> str | None:
    """What IPython runs for `cell`; None when it refuses the cell (its tokenizer can raise
    IndentationError before any magic is read, and then the kernel reports a SyntaxError)."""
    try:
        return TransformerManager().transform_cell(cell)
    except SyntaxError:
        return None


# --- comparing with IPython -----------------------------------------------------------------


def _is_ipython_call(node: ast.AST) -> bool:
    """`get_ipython().anything(...)`: what IPython turns its own syntax into."""
    return (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
            and isinstance(node.func.value, ast.Call) and isinstance(node.func.value.func, ast.Name)
            and node.func.value.func.id == "get_ipython")


def _tag(tree: ast.AST, text: str) -> ast.AST:
    """Remember which text each node's positions refer to (a cell magic's body has its own)."""
    for node in ast.walk(tree):
        node.losslint_text = text
    return tree


class _CannotRun(Exception):
    pass


class _AsLosslintReadsIt(ast.NodeTransformer):
    """IPython's output with its magics as losslint writes them."""

    def __init__(self, transform) -> None:
        self.transform = transform

    def visit_Expr(self, node):
        if not _is_ipython_call(node.value):
            return self.generic_visit(node)
        if node.value.func.attr == "run_cell_magic":
            name, _, body = (arg.value for arg in node.value.args)
            if name not in PYTHON_BODY_CELL_MAGICS:
                return None  # another language or a file: losslint empties the cell
            code = body if name == "debug" else self.transform(body)  # pdb runs it unchanged
            tree = _parse(code)
            if tree is None:
                raise _CannotRun  # the magic would raise a SyntaxError: the cell does not run
            return self.visit(_tag(tree, code)).body
        return ast.Pass()

    def visit_Call(self, node):
        if _is_ipython_call(node):
            return ast.Constant(None)
        return self.generic_visit(node)


def _parse(text: str) -> ast.Module | None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # `"\d"` in generated cells: an invalid escape
            return ast.parse(text)
    except SyntaxError:
        return None


def _span(lines: list[str], node: ast.AST, shifts=()) -> tuple[int, int, int, int]:
    """0-based (row, column, end row, end column) of `node`, columns in characters (`ast`
    counts UTF-8 bytes), moved by `shifts` to the line they were read from."""

    def column(row: int, offset: int) -> int:
        return len(lines[row].encode()[:offset].decode()) + (shifts[row] if shifts else 0)

    return (node.lineno - 1, column(node.lineno - 1, node.col_offset),
            node.end_lineno - 1, column(node.end_lineno - 1, node.end_col_offset))


def _text(lines: list[str], span: tuple[int, int, int, int], shifts=()) -> str:
    """The text between two positions, less what `shifts` says was removed from each line."""
    row, column, end_row, end_column = span
    if row == end_row:
        return lines[row][column:end_column]
    middle = [lines[r][shifts[r] if shifts else 0:] for r in range(row + 1, end_row)]
    return "\n".join([lines[row][column:], *middle, lines[end_row][(shifts[end_row] if shifts else 0):end_column]])


def assert_runs_as_ipython(cell: str, ours: str, shifts: tuple[int, ...], ipython: str, transform) -> None:
    """losslint's reading `ours` of `cell` is what IPython runs (`ipython`), code and places."""
    assert ours.count("\n") == cell.count("\n"), "a cell keeps its line count"
    expected_tree = None if ipython is None else _parse(ipython)
    ours_tree = _parse(ours)
    if expected_tree is not None:
        try:
            expected_tree = _AsLosslintReadsIt(transform).visit(_tag(expected_tree, ipython))
        except _CannotRun:
            expected_tree = None
    if expected_tree is None:
        assert ours_tree is None, f"IPython cannot run this cell, losslint reads it as Python:\n{ours}"
        return
    assert ours_tree is not None, f"IPython runs this cell, losslint cannot parse:\n{ours}"
    assert ast.dump(ours_tree) == ast.dump(expected_tree)

    cell_lines, ours_lines = cell.split("\n"), ours.split("\n")
    rewritten = {row for row, line in enumerate(ours_lines)
                 if cell_lines[row][(shifts[row] if shifts else 0):] != line}
    for mine, theirs in zip(ast.walk(ours_tree), ast.walk(expected_tree)):
        if not hasattr(theirs, "lineno") or not hasattr(mine, "lineno"):
            continue  # what stands for a magic has no text of its own
        span = _span(ours_lines, mine, shifts)
        if rewritten & set(range(span[0], span[2] + 1)):
            continue  # on a line rewritten from IPython syntax (`x = !ls` keeps only `x = `)
        their_lines = theirs.losslint_text.split("\n")
        assert _text(cell_lines, span, shifts) == _text(their_lines, _span(their_lines, theirs)), \
            (type(mine).__name__, mine.lineno, mine.col_offset)


def _preprocessed(cell: str) -> tuple[str, str, tuple[int, ...]]:
    return (cell, *preprocess(cell))


# --- cell shapes ----------------------------------------------------------------------------

STATIC_SHAPES = {
    "plain": "import tensorflow as tf\nx = tf.constant([1.0])",
    "line magic": "%matplotlib inline\nimport numpy as np",
    "magic in a block": "import os\nif os.name == 'posix':\n    %env TF_CPP_MIN_LOG_LEVEL=2\nelse:\n    !set X=1\ny = 1",
    "shell escape": "!pip install -q tensorflow\nimport tensorflow as tf",
    "captured shell": "!!ls\nx = 1",
    "continued escape": "!pip install \\\n    tensorflow \\\n    keras\nx = 1",
    "system assign": "files = !ls data\nprint(files)",
    "system assign, tuple": "a, b = !echo 1 2\nc = a",
    "system assign, subscript": "d = {}\nd['x'] = !ls\nd['y'] = d",
    "magic assign": "t = %timeit -o sum(range(10))\nprint(t)",
    "magic assign, spaced": "t = % time f()\nz = t",
    "assign in a one-line if": "if True: out = !ls\nprint(out)",
    "help after": "tf.reduce_mean?\nx = 1",
    "help twice": "tf.reduce_mean??\nx = 1",
    "help before": "?tf.reduce_mean\nx = 1",
    "help on a subscript": "layers[0]?",
    "help on a magic": "%timeit?",
    "help ends an assignment": "x = 1 if a else b?",
    "help with trailing space": "obj?  ",
    "question mark in a comment": "x = 1  # why?\ny = x",
    "question mark in a string": "q = 'why?'\nr = \"really??\"",
    "operators that look like escapes": "x = 5\nx %= 3\ny = x != 2\nz = 7 // 2\nz /= 2",
    "percent formatting": 'x = ("%d"\n     % 3)\ny = "%s" % x',
    "bang in a string": 's = "!not a shell escape"\nt = "%not a magic"',
    "triple-quoted": 's = """\n!ls\n%time\n  indented?\n"""\nx = 1',
    "continued string": 't = "a\\\n%b"\nu = t',
    "line continuation": "y = 1 + \\\n    2\n!ls",
    "bracket continuation": "values = [\n    1,\n    2,\n]\n!ls",
    "comment then escape": "x = 1  # (unbalanced\n!ls",
    "indented cell": "  x = 1\n  y = x + 1",
    "indented by a tab": "\tx = 1\n\tif x:\n\t\ty = 2",
    "indented, with blank lines": "\n\n    x = 1\n\n    y = 2\n  \n    z = [\n        1]\n",
    "indented, whitespace-only lines": "    def f():\n        \n        return 1\n   \n    f()",
    "indented with an escape": "    !ls\n    %time x = 1\n    files = !ls\n    y = 2",
    "indented, a line less indented": "    x = 1\ny = 2",
    "indented, a line less indented, in a block": "    if x:\n  y = 2",
    "indented, mixed tabs and spaces": "\tx = 1\n    y = 2",
    "indented first line only": "  x = 1\ny = 2\n  z = 3",
    "indented help": "   tf.reduce_mean?",
    "indented loss": "    def mse(y_true, y_pred):\n        return tf.reduce_mean(\n            tf.square(y_true - y_pred))",
    "indented multi-line string": '    s = """\n    kept\n      deeper\n    """\n    t = s',
    "leading blank lines": "\n\n\nx = 1",
    "only blank lines": "\n   \n",
    "empty": "",
    "doctest prompts": ">>> x = 1\n>>> if x:\n...     y = 2\n",
    "doctest, second line": "x = 1\n... y = 2",
    "ipython prompts": "In [1]: x = 1\n   ...: y = x\n",
    "indented doctest": "  >>> x = 1\n  >>> y = 2",
    "cell magic bash": "%%bash\nls -la\nfor x in 1 2; do echo $x; done",
    "cell magic writefile": "%%writefile train.py\nimport tensorflow as tf\ndef broken(:\n",
    "cell magic after blank lines": "\n\n%%html\n<b>hi</b>",
    "indented cell magic": "  %%bash\n  ls",
    "cell magic time": "%%time\nmodel = 1\n!nvidia-smi\nx = model",
    "cell magic time, indented body": "%%time\n    x = 1\n    y = x",
    "cell magic timeit": "%%timeit -n 3\nsum(range(10))",
    "cell magic capture": "%%capture out\nprint(1)\n%matplotlib inline",
    "cell magic prun": "%%prun -s cumulative\nsum(range(100))",
    "cell magic debug": "%%debug\nx = 1\ny = x",
    "cell magic help": "%%timeit?",
    "cell magic not first": "x = 1\n%%time\ny = 2",
    "bare percent percent": "%%\nwhatever here",
    "unicode": "    caf\u00e9 = '\u00e9t\u00e9'\n    n = len(caf\u00e9)",
    "syntax error stays": "def broken(:\n    pass",
    "syntax error after an escape": "!ls\nx = (",
    "a two-line cell is not automagic": "cd ..\nx = 1",
    "a two-line cell: ls is Python": "ls -la\nx = 1",
    # Found by the fuzzing below: how IPython's tokenizer groups lines.
    "help in an open bracket": "(x?\n",
    "help in an open bracket, then a blank line": "(x?\n\n",
    "help wins over an escape on one logical line": "?[\nobj?",
    "an unmatched closing bracket ends the line": ")[\nobj?",
    "an unclosed quote is read as code": "[((\n))(}}'[\nobj?",
    "an escape after a lone backslash": "\\\n!ls",
    "a failed help request hides later ones": "a ??\nb?",
    "a failed help request on an escape does not": "!ls ?\nb?",
}

# IPython's autocall escapes call a Python function with the rest of the line as arguments;
# losslint reads them as `pass`, which is what they are for the batch axis.
AUTOCALL_SHAPES = {",": ",print a b", ";": ";print a b", "/": "/print 1 2"}


@pytest.mark.parametrize("cell", list(STATIC_SHAPES.values()), ids=list(STATIC_SHAPES))
def test_a_cell_reads_as_ipython_runs_it(cell):
    assert_runs_as_ipython(*_preprocessed(cell), static_ipython(cell), static_ipython)


FRAGMENTS = [
    "x = 1", "y = x + 1", "", "  ", "# a comment?", "%time f()", "!ls -la", "!pip install \\", "    keras",
    "files = !ls", "t = %timeit -o g()", "obj?", "?obj", "if x:", "    z = 2", "    !ls", "else:",
    "    %env A=1", "for i in range(3):", "    pass", 's = """', "!inside a string", '"""', "v = [",
    "    1,", "]", "w = 'a!b%c'", "k = 10 % 3", "u = 1 + \\", "    2", "\tt = 1", "def f(y_true, y_pred):",
    "    return y_true?", "m = {'a': 1}", "m['a'] = !date", 'print(f"{x!r} at 100%")', "d = {'k': '!'}  # !ls",
    "s = r'\\d+%'", "b = b'%s' % x", "lam = lambda a=1: a", "if (y := 3) > 2:", '"""doc?"""', "?", "!!date",
    "x == !ls", "n = 3 %time", ">>> q = 1", "... r = 2", "In [3]: p = 1", "   ...: p += 1",
    "caf\u00e9 = 1", "pip install x", "cd ..", "e = (", ")",
]
# A cell magic, sometimes, above the lines (its body indented or not).
HEADS = ["", "", "", "%%time\n", "%%capture out\n", "%%bash\n", "%%timeit -n 1\n", "%%debug\n"]


def random_cell(rng: random.Random) -> str:
    lines = rng.choices(FRAGMENTS, k=rng.randint(1, 7))
    indent = rng.choice(["", "", "  ", "    ", "\t"])
    lines = [indent + line if line.strip() else line for line in lines]
    blank = rng.choice(["", "", "\n", "\n  \n"])
    head = rng.choice(HEADS)
    return blank + (indent + head if head and rng.random() < 0.3 else head) + "\n".join(lines) + rng.choice(["", "\n"])


RANDOM_CELLS = [random_cell(random.Random(seed)) for seed in range(1000)]


@pytest.mark.parametrize("seed", range(len(RANDOM_CELLS)))
def test_random_cells_read_as_ipython_runs_them(seed, shell_transforms):
    # A real shell is the oracle here: a random cell of one line may be an automagic.
    cell, result = RANDOM_CELLS[seed], shell_transforms[("random", seed)]
    assert_runs_as_ipython(*_preprocessed(cell), result["cell"], lambda body: result["bodies"][body])


@pytest.mark.parametrize("cell", list(AUTOCALL_SHAPES.values()), ids=list(AUTOCALL_SHAPES))
def test_autocall_escapes_are_read_as_pass(cell):
    assert isinstance(ast.parse(static_ipython(cell)).body[0].value, ast.Call)  # IPython: a call
    assert preprocess(cell)[0] == "pass"


# --- automagics, against a real shell -------------------------------------------------------

_SHELL = textwrap.dedent("""
    import ast, json, sys
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    config = Config()
    config.HistoryManager.enabled = False
    shell = InteractiveShell(config=config)
    results = []
    dirty = False
    for case in json.load(open(sys.argv[1])):
        if dirty or case["earlier"]:  # a fresh namespace, then what the earlier cells bind
            shell.reset(new_session=False)
        dirty = bool(case["earlier"])
        for earlier in case["earlier"]:
            shell.run_cell(earlier, silent=True)
        try:
            cell = shell.transform_cell(case["cell"])
        except SyntaxError:  # the kernel reports it and runs nothing
            results.append({"cell": None, "bodies": {}})
            continue
        bodies = {}
        todo = [cell]
        while todo:  # the bodies %%time and friends transform as cells of their own
            try:
                tree = ast.parse(todo.pop())
            except SyntaxError:
                continue
            for node in ast.walk(tree):
                if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "run_cell_magic":
                    body = node.args[2].value
                    try:
                        bodies[body] = shell.transform_cell(body)
                    except SyntaxError:
                        bodies[body] = "("  # the magic raises: a body that cannot run
                    todo.append(bodies[body])
        results.append({"cell": cell, "bodies": bodies})
    json.dump(results, open(sys.argv[2], "w"))
""")

# (earlier cells, cell): IPython's namespace holds what the earlier cells bound.
AUTOMAGIC_CASES = {
    "pip install": ([], "pip install -q tensorflow==2.16.1"),
    "pip install, indented": ([], "  pip install tensorflow"),
    "pip after blank lines": ([], "\n\npip install x\n"),
    "pip, two trailing newlines": ([], "pip install x\n\n"),
    "cd": ([], "cd .."),
    "pwd": ([], "pwd"),
    "bare ls": ([], "ls"),
    "ls with options": ([], "ls -la /tmp"),
    "mkdir": ([], "mkdir -p data/train"),
    "matplotlib": ([], "matplotlib inline"),
    "load_ext": ([], "load_ext autoreload"),
    "env": ([], "env TF_CPP_MIN_LOG_LEVEL=2"),
    "time a statement": ([], "time model.fit(x, y)"),
    "ls assigned": ([], "ls = 3"),
    "ls compared": ([], "ls == 3"),
    "ls in a tuple": ([], "ls, x = 1, 2"),
    "ls augmented": ([], "ls += 1"),
    "ls called": ([], "ls(1)"),
    "history annotated": ([], "history: dict = {}"),
    "history attribute": ([], "history.history['loss']"),
    "cd bound earlier": (["cd = 'data'"], "cd .."),
    "ls imported earlier": (["from os import listdir as ls"], "ls -la"),
    "time imported earlier": (["import time"], "time"),
    "pwd defined earlier": (["def pwd():\n    return 1"], "pwd"),
    "env a loop target": (["for env in range(2):\n    pass"], "env A=1"),
    "run under a with": (["import contextlib\nwith contextlib.nullcontext(1) as run:\n    pass"], "run train.py"),
    "ls local to a function": (["def f():\n    ls = 1\n    return ls"], "ls -la"),
    "cd bound in a class body": (["class A:\n    cd = 1"], "cd .."),
    "cd a comprehension variable": (["xs = [cd for cd in range(3)]"], "cd .."),
    "cd by walrus": (["if (cd := 1):\n    pass"], "cd .."),
    "cd as an exception": (["try:\n    1 / 0\nexcept ZeroDivisionError as cd:\n    pass"], "cd .."),
    "cd from a broken cell": (["cd = (\n"], "cd .."),
    "cd bound by a shell escape": (["cd = !pwd"], "cd .."),
    "not a magic name": ([], "tensorboard --logdir logs"),
    "a Python line": ([], "model.compile(loss='mse')"),
    "time cell magic, pip body": ([], "%%time\npip install x"),
    "time cell magic, two-line body": ([], "%%time\ncd ..\nx = 1"),
    "doctest pip": ([], ">>> pip install x"),
}


@pytest.fixture(scope="module")
def shell_transforms(tmp_path_factory):
    """Each automagic case and random cell as a real InteractiveShell transforms it (one
    subprocess for all)."""
    folder = tmp_path_factory.mktemp("ipython")
    keys = [("automagic", name) for name in AUTOMAGIC_CASES] + [("random", seed) for seed in range(len(RANDOM_CELLS))]
    cases = [{"earlier": earlier, "cell": cell} for earlier, cell in AUTOMAGIC_CASES.values()]
    cases += [{"earlier": [], "cell": cell} for cell in RANDOM_CELLS]
    (folder / "cases.json").write_text(json.dumps(cases))
    env = {**os.environ, "IPYTHONDIR": str(folder / "profile")}
    subprocess.run([sys.executable, "-c", _SHELL, str(folder / "cases.json"), str(folder / "out.json")],
                   check=True, env=env, capture_output=True, timeout=600)
    results = json.loads((folder / "out.json").read_text())
    return dict(zip(keys, results))


@pytest.mark.parametrize("case", list(AUTOMAGIC_CASES))
def test_automagics_as_a_kernel_runs_them(case, shell_transforms):
    earlier, cell = AUTOMAGIC_CASES[case]
    result = shell_transforms[("automagic", case)]
    # The earlier cells bind their names in the notebook, as they did in the kernel.
    ours = load_notebook(_notebook(*(("code", source) for source in [*earlier, cell]))).cells[-1]
    assert_runs_as_ipython(cell, ours.source, ours.shifts, result["cell"], lambda body: result["bodies"][body])


def test_automagic_depends_on_what_earlier_cells_bind():
    def last_cell(*sources):
        return load_notebook(_notebook(*(("code", s) for s in sources))).cells[-1].source

    assert last_cell("cd ..") == "pass"
    assert last_cell("import os", "cd ..") == "pass"
    assert last_cell("cd = 'data'", "cd ..") == "cd .."  # a variable now: a syntax error
    assert last_cell("cd ..", "cd = 'data'") == "cd = 'data'"
    # Later cells do not count: the earlier one runs first.
    nb = load_notebook(_notebook(("code", "cd .."), ("markdown", "x"), ("code", "cd = 1")))
    assert nb.cells[0].source == "pass"


# --- positions in the user's cells ----------------------------------------------------------


def _notebook(*cells: tuple[str, str]) -> str:
    return json.dumps({
        "nbformat": 4, "nbformat_minor": 5,
        "metadata": {"kernelspec": {"name": "python3", "language": "python", "display_name": "Python 3"}},
        "cells": [{"cell_type": kind, "metadata": {}, "source": source}
                  | ({"outputs": [], "execution_count": None} if kind == "code" else {})
                  for kind, source in cells],
    })


def test_positions_map_back_through_the_removed_indentation():
    nb = load_notebook(_notebook(("code", "!ls"), ("code", "\n    x = 1\n\n    y = (x,\n  2)")))
    assert nb.source == "pass\n\nx = 1\n\ny = (x,\n  2)\n"
    # `y` is at column 1 of the joined source and column 5 of the cell; the `2` on a line
    # without the common indentation keeps its column.
    assert nb.position(5, 1) == (2, 4, 5)
    assert nb.position(6, 3) == (2, 5, 3)
    assert nb.position(1, 1) == (1, 1, 1)


def _finding_places(path: Path) -> list[tuple[int, int, int, str]]:
    report = check_paths([path], Settings())
    return sorted((f.cell, f.line, f.column, f.code) for f in report.findings)


def test_tutorial_notebook_is_flagged_at_the_cell_line_and_column():
    places = _finding_places(NOTEBOOKS / "ipython_tutorial.ipynb")
    # The loss is in cell 9, pasted with four spaces of indentation: `tf.reduce_mean` is at
    # line 5, column 16 of the cell as the user sees it (column 12 of what IPython runs).
    assert places == [(9, 5, 16, "LL101")]
    source = json.loads((NOTEBOOKS / "ipython_tutorial.ipynb").read_text())["cells"][8]["source"]
    assert source[4][15:].startswith("tf.reduce_mean(per_sample)")


def test_clean_tutorial_notebook_is_not_flagged():
    assert _finding_places(NOTEBOOKS / "ipython_tutorial_clean.ipynb") == []


def test_a_cell_that_is_not_python_after_ipython_keeps_ll901(tmp_path):
    path = tmp_path / "broken.ipynb"
    path.write_text(_notebook(("code", "import tensorflow as tf"), ("code", "cd = 'x'"),
                              ("code", "    cd ..\n"), ("code", "    x = (\n    y = 1")))
    places = _finding_places(path)
    # `cd` is a variable by then, so `cd ..` is Python that does not parse; the columns are
    # those of the user's indented cells.
    assert places == [(3, 1, 9, "LL901"), (4, 1, 9, "LL901")]


def test_a_fix_in_an_indented_cell_keeps_its_indentation(tmp_path):
    cell = ["    import tensorflow as tf\n", "\n", "    def mse(y_true, y_pred):\n",
            "        return tf.reduce_mean(\n", "            tf.square(y_true - y_pred))\n"]
    compile_cell = ["  model.compile(optimizer='adam', loss=mse)"]
    text = json.dumps(json.loads(_notebook(("code", ["pip install -q tensorflow"]), ("code", cell),
                                           ("code", compile_cell))), indent=1) + "\n"
    path = tmp_path / "train.ipynb"
    path.write_text(text)
    assert main(["check", "--fix", "--no-cache", str(path)]) == 0
    fixed = json.loads(path.read_text())
    assert fixed["cells"][1]["source"] == cell[:4] + ["            tf.square(y_true - y_pred), axis=-1)\n"]
    # Everything else is byte for byte what it was.
    assert path.read_text() == text.replace(
        json.dumps("            tf.square(y_true - y_pred))\n"),
        json.dumps("            tf.square(y_true - y_pred), axis=-1)\n"))


def test_checking_a_notebook_does_not_import_ipython():
    # IPython is the tests' oracle only: losslint's own reading of cells must not need it.
    code = ("import sys; from losslint.api import check_paths; from losslint.ftypes import Settings; "
            f"check_paths([{str(NOTEBOOKS / 'ipython_tutorial.ipynb')!r}], Settings()); "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('IPython', 'ipykernel')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONPATH": str(REPO)})
    assert out.stdout.strip() == "[]"


def test_a_multi_line_fix_inside_a_function_keeps_the_block_indentation(tmp_path):
    # LibCST renders the call's continuation line without the function body's indentation:
    # the write-back puts it back (and keeps the cell's CRLF line endings).
    cell = ["import tensorflow as tf\r\n", "def mse(y_true, y_pred):\r\n", "    return tf.reduce_mean(\r\n",
            "        tf.square(y_true - y_pred))\r\n"]
    text = json.dumps(json.loads(_notebook(("code", cell), ("code", ["model.compile(loss=mse)"]))), indent=1)
    path = tmp_path / "train.ipynb"
    path.write_text(text, newline="")
    assert main(["check", "--fix", "--no-cache", str(path)]) == 0
    assert json.loads(path.read_text())["cells"][0]["source"] == cell[:3] + ["        tf.square(y_true - y_pred), axis=-1)\r\n"]


def test_a_fix_in_a_time_cell_with_an_indented_body(tmp_path):
    cell = ["%%time\n", "  import tensorflow as tf\n", "  def mse(y_true, y_pred):\n",
            "      return tf.reduce_mean(tf.square(y_true - y_pred))\n", "  model.compile(loss=mse)"]
    path = tmp_path / "train.ipynb"
    path.write_text(_notebook(("code", cell)))
    assert main(["check", "--fix", "--no-cache", str(path)]) == 0
    source = json.loads(path.read_text())["cells"][0]["source"]
    assert source == cell[:3] + ["      return tf.reduce_mean(tf.square(y_true - y_pred), axis=-1)\n", cell[4]]


# Lines made of the characters IPython's syntax and Python's tokenizer care about.
_CELL_TEXT = st.lists(st.text(alphabet=" \t\x0c!?%,;/=#'\"\\([{}])>.:xy1\u00e9\u2028", max_size=12), max_size=8)


@settings(max_examples=400, deadline=None, derandomize=True)
@given(_CELL_TEXT)
def test_any_text_keeps_its_lines_and_untouched_text(lines):
    # Whatever a cell holds, reading it never raises, keeps its lines, and a line it does not
    # rewrite is the user's line less what IPython removes from its start.
    cell = "\n".join(lines)
    ours, shifts = preprocess(cell)
    ours_lines = ours.split("\n")
    assert len(ours_lines) == len(cell.split("\n"))
    assert not shifts or len(shifts) == len(ours_lines)
    for row, (line, mine) in enumerate(zip(cell.split("\n"), ours_lines)):
        shift = shifts[row] if shifts else 0
        assert line[shift:] == mine or mine.strip() in ("", "pass") or mine.endswith("None"), (row, line, mine)


@settings(max_examples=1500, deadline=None, derandomize=True)
@given(st.lists(st.text(alphabet=" \t!?%,;/=#'\"\\([{}])>.:xy1\u00e9", max_size=12), max_size=8))
def test_any_text_reads_as_ipython_runs_it(lines):
    # No magic's name can be spelt with these letters, so IPython's static transformer is the
    # whole of what a kernel does to these cells. Autocall escapes are left out: IPython makes
    # them calls, losslint `pass` (test_autocall_escapes_are_read_as_pass).
    assume(not any(line.lstrip(" \t")[:1] in (",", ";", "/") for line in lines))
    cell = "\n".join(lines)
    try:
        ipython = static_ipython(cell)
    except Exception:  # noqa: BLE001 - IPython's own failures on garbage are not ours to judge
        return
    assert_runs_as_ipython(*_preprocessed(cell), ipython, static_ipython)
