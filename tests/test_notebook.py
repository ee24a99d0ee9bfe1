"""Notebooks: code cells joined line for line, IPython syntax neutralised, positions mapped back."""

from __future__ import annotations

import json
import random

import pytest

from losslint.notebook import (
    CodeCell,
    NotebookError,
    NotPythonNotebook,
    join_cells,
    load_notebook,
    neutralise,
)


def notebook(*cells: tuple[str, object], metadata: dict | None = None) -> str:
    """A notebook's JSON text from (cell_type, source) pairs."""
    document = {
        "nbformat": 4,
        "nbformat_minor": 5,
        "metadata": metadata
        if metadata is not None
        else {
            "kernelspec": {"name": "python3", "language": "python", "display_name": "Python 3"},
            "language_info": {"name": "python"},
        },
        "cells": [
            {"cell_type": kind, "metadata": {}, "source": source}
            | ({"outputs": [], "execution_count": None} if kind == "code" else {})
            for kind, source in cells
        ],
    }
    return json.dumps(document)


def parses(source: str) -> bool:
    try:
        compile(source, "<cell>", "exec")
    except SyntaxError:
        return False
    return True


# --- reading cells --------------------------------------------------------------------------


def test_code_cells_are_joined_and_indexed_among_all_cells():
    text = notebook(
        ("markdown", "# Title"),
        ("code", ["import tensorflow as tf\n", "x = 1"]),
        ("raw", "not code"),
        ("code", "def loss(y_true, y_pred):\n    return y_pred"),
    )
    result = load_notebook(text)
    assert result.source == (
        "import tensorflow as tf\nx = 1\ndef loss(y_true, y_pred):\n    return y_pred\n"
    )
    assert result.cells == [
        CodeCell(index=2, first_line=1, source="import tensorflow as tf\nx = 1"),
        CodeCell(index=4, first_line=3, source="def loss(y_true, y_pred):\n    return y_pred"),
    ]


def test_each_cell_is_followed_by_a_newline_so_cells_never_share_a_line():
    result = load_notebook(notebook(("code", "a = 1"), ("code", "b = 2\n"), ("code", "")))
    # "b = 2\n" is two lines in the editor (the second empty), and two lines here.
    assert result.source == "a = 1\nb = 2\n\n\n"
    assert [c.first_line for c in result.cells] == [1, 2, 4]
    assert result.locate(3) == (2, 2)


def test_windows_line_endings_are_normalised():
    result = load_notebook(notebook(("code", "a = 1\r\nb = 2\rc = 3")))
    assert result.source == "a = 1\nb = 2\nc = 3\n"


def test_locate_maps_source_lines_back_to_cells():
    result = load_notebook(
        notebook(
            ("markdown", "intro"),
            ("code", "a = 1\nb = 2"),
            ("markdown", "more"),
            ("code", "c = 3\nd = 4\ne = 5"),
        )
    )
    assert [result.locate(line) for line in range(1, 6)] == [
        (2, 1),
        (2, 2),
        (4, 1),
        (4, 2),
        (4, 3),
    ]
    for line in (0, 6, 100):
        with pytest.raises(ValueError, match=f"line {line} is not in any cell"):
            result.locate(line)


def test_join_cells_renumbers_a_subset():
    result = load_notebook(
        notebook(("code", "a = 1\nb = 2"), ("code", "def broken(:\n"), ("code", "c = 3"))
    )
    kept = join_cells(cell for cell in result.cells if parses(cell.source))
    assert kept.source == "a = 1\nb = 2\nc = 3\n"
    assert [(c.index, c.first_line) for c in kept.cells] == [(1, 1), (3, 3)]
    assert kept.locate(3) == (3, 1)


def test_a_notebook_without_code_cells_is_empty():
    result = load_notebook(notebook(("markdown", "just prose")))
    assert result.source == ""
    assert result.cells == []


def random_cells(seed: int) -> list[tuple[str, list[str]]]:
    """A small random notebook: (cell_type, lines), lines mixing Python and escapes."""
    rng = random.Random(seed)
    lines = ["x = 1", "", "  y = 2", "%time f()", "!ls \\", "%%bash", "obj?", 's = """', '"""']
    return [
        (rng.choice(["code", "markdown"]), rng.choices(lines, k=rng.randint(0, 5)))
        for _ in range(rng.randint(0, 6))
    ]


@pytest.mark.parametrize("cells", [random_cells(seed) for seed in range(200)])
def test_every_line_locates_to_its_own_cell_and_line(cells):
    text = notebook(*((kind, "\n".join(lines)) for kind, lines in cells))
    result = load_notebook(text)
    expected = []
    for index, (kind, lines) in enumerate(cells, start=1):
        if kind == "code":
            expected += [(index, n) for n in range(1, max(len(lines), 1) + 1)]
    # Each cell keeps its line count, whatever its escapes became.
    assert [c.source.count("\n") + 1 for c in result.cells] == [
        max(len(lines), 1) for kind, lines in cells if kind == "code"
    ]
    assert result.source.count("\n") == len(expected)
    assert [result.locate(line) for line in range(1, len(expected) + 1)] == expected


# --- refusing what is not a Python notebook -------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", "not valid JSON: Expecting property name enclosed in double quotes"),
        ("[1, 2]", "not a notebook: the JSON document is not an object"),
        ('{"metadata": {}}', "not a notebook: no 'cells' list"),
        ('{"cells": {"0": {}}}', "not a notebook: no 'cells' list"),
        ('{"worksheets": [{"cells": []}]}', "nbformat 3 notebooks are not supported"),
        (
            '{"cells": [{"cell_type": "code", "source": 3}]}',
            "cell 1: 'source' is neither a string nor a list of strings",
        ),
    ],
)
def test_broken_notebooks_raise_notebook_error(text, message):
    with pytest.raises(NotebookError) as caught:
        load_notebook(text)
    assert caught.value.message.startswith(message)
    assert not isinstance(caught.value, NotPythonNotebook)


@pytest.mark.parametrize(
    "metadata",
    [
        {"kernelspec": {"name": "ir", "language": "R"}},
        {"language_info": {"name": "julia"}},
        {"kernelspec": {"language": "python"}, "language_info": {"name": "scala"}},
    ],
)
def test_notebooks_in_other_languages_are_refused(metadata):
    with pytest.raises(NotPythonNotebook, match="not a Python notebook"):
        load_notebook(notebook(("code", "x <- 1"), metadata=metadata))


@pytest.mark.parametrize(
    "metadata",
    [
        {},
        {"kernelspec": {"name": "python3", "language": "python"}},
        {"language_info": {"name": "Python"}},
        {"kernelspec": None, "language_info": "python"},
    ],
)
def test_python_or_unlabelled_notebooks_are_read(metadata):
    assert load_notebook(notebook(("code", "x = 1"), metadata=metadata)).source == "x = 1\n"


# --- neutralising IPython syntax ------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("%matplotlib inline", "pass"),
        ("!pip install tensorflow", "pass"),
        # An assignment from a command keeps its target bound.
        ("files = !ls", "files = None"),
        ("a, b = !ls", "a, b = None"),
        ("files = %sx ls", "files = None"),
        ("timing = %timeit -o f()", "timing = None"),
        ("tf.reduce_mean?", "pass"),
        ("tf.reduce_mean??", "pass"),
        ("?tf.reduce_mean", "pass"),
        # IPython removes a cell's leading indentation.
        ("   %time f()", "pass"),
        # Python that merely looks similar stays as it is.
        ("x = 1  # why?", "x = 1  # why?"),
        ("x != y", "x != y"),
        ("x %= 3", "x %= 3"),
        ("y = a % b", "y = a % b"),
    ],
)
def test_single_line_escapes(line, expected):
    assert neutralise(line) == expected


def test_escapes_inside_a_block_keep_its_indentation_so_it_parses():
    cell = "import os\nif os.name:\n    !ls\nelse:\n    %env X=1\n"
    result = neutralise(cell)
    assert result == "import os\nif os.name:\n    pass\nelse:\n    pass\n"
    assert parses(result)


def test_a_backslash_continued_escape_blanks_its_continuation_lines():
    cell = "!pip install \\\n    tensorflow \\\n    keras\nx = 1"
    assert neutralise(cell) == "pass\n\n\nx = 1"


def test_percent_and_bang_inside_statements_are_python_not_escapes():
    cell = (
        'x = ("%d"\n'
        "     % 3)\n"
        "y = 1 + \\\n"
        "    2\n"
        's = """\n'
        "!not a shell escape\n"
        "%not a magic\n"
        '"""\n'
        't = "a\\\n'
        '%b"\n'
    )
    assert neutralise(cell) == cell
    assert parses(cell)


def test_a_comment_does_not_hide_the_next_statement_start():
    cell = "x = 1  # (unbalanced\n!ls\n"
    assert neutralise(cell) == "x = 1  # (unbalanced\npass\n"


@pytest.mark.parametrize("magic", ["%%bash", "%%writefile train.py", "%%html", "%%"])
def test_a_foreign_cell_magic_blanks_the_whole_cell(magic):
    cell = f"\n{magic}\necho hi\nfor x in\n"
    assert neutralise(cell) == "\n\n\n\n"


@pytest.mark.parametrize("magic", ["%%time", "%%timeit -n 3", "%%capture out", "%%prun"])
def test_a_python_cell_magic_keeps_its_body(magic):
    cell = f"{magic}\nmodel.fit(x)\n!nvidia-smi"
    assert neutralise(cell) == "\nmodel.fit(x)\npass"


def test_neutralised_cells_keep_their_line_numbers_in_the_notebook():
    result = load_notebook(
        notebook(
            ("code", "%%bash\nls\npwd"),
            ("code", "%matplotlib inline\ndef loss(y_true, y_pred):\n    return y_pred"),
        )
    )
    assert result.source == "\n\n\npass\ndef loss(y_true, y_pred):\n    return y_pred\n"
    assert result.locate(6) == (2, 3)
    assert parses(result.source)
