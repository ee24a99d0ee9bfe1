"""Hostile files: each one is reported (LL901/LL902, or one line on stderr and exit 2 for an
I/O error), and none of them stops the scan: a good file with a real finding sits next to
every hostile one and must still be reported."""

from __future__ import annotations

import ast
import json
import os
from pathlib import Path

import pytest

from losslint import api, parsing
from losslint.cli import main
from losslint.parsing import MAX_CHARS

GOOD = (
    "import tensorflow as tf\n"
    "\n"
    "def mse(y_true, y_pred):\n"
    "    return tf.reduce_mean(tf.square(y_true - y_pred))\n"
)


def run(capsys, *paths) -> tuple[int, list[dict], list[str]]:
    """`losslint check` on `paths` as JSON: (exit status, findings, stderr lines)."""
    capsys.readouterr()
    status = main(["check", "--isolated", "--no-cache", "--format", "json", *map(str, paths)])
    out, err = capsys.readouterr()
    return status, json.loads(out), [line for line in err.splitlines() if line.strip()]


def codes_by_file(findings: list[dict]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for finding in findings:
        found.setdefault(os.path.basename(finding["path"]), []).append(finding["code"])
    return found


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "good.py").write_text(GOOD)
    return tmp_path


def assert_good_reported(findings: list[dict]) -> None:
    good = [f for f in findings if os.path.basename(f["path"]) == "good.py"]
    assert [(f["code"], f["line"], f["function"]) for f in good] == [("LL101", 4, "mse")]


# --- bytes and text ------------------------------------------------------------------------


def test_undecodable_bytes_are_ll902(capsys, project):
    (project / "bad.py").write_bytes(b"import tensorflow as tf\nx = '\xff\xfe'\n")
    status, findings, err = run(capsys, project)
    assert status == 1 and err == []
    assert codes_by_file(findings)["bad.py"] == ["LL902"]
    assert "cannot decode" in findings[0]["message"]
    assert_good_reported(findings)


def test_a_declared_encoding_that_does_not_exist_is_ll902(capsys, project):
    (project / "bad.py").write_bytes(b"# -*- coding: no-such-codec -*-\nimport tensorflow as tf\n")
    status, findings, _ = run(capsys, project)
    assert codes_by_file(findings)["bad.py"] == ["LL902"]
    assert_good_reported(findings)


@pytest.mark.parametrize(
    "name, data",
    [
        ("bom", b"\xef\xbb\xbf" + GOOD.encode()),
        ("crlf", GOOD.replace("\n", "\r\n").encode()),
        ("cr", GOOD.replace("\n", "\r").encode()),
        ("tabs", GOOD.replace("    ", "\t").encode()),
    ],
)
def test_bom_line_endings_and_tabs_are_read_like_any_file(capsys, project, name, data):
    (project / f"{name}.py").write_bytes(data)
    status, findings, err = run(capsys, project)
    assert status == 1 and err == []
    hostile = [f for f in findings if f["path"].endswith(f"{name}.py")]
    # Same line as in the plain file; the column counts a tab as one character.
    column = 9 if name == "tabs" else 12
    assert [(f["code"], f["line"], f["column"]) for f in hostile] == [("LL101", 4, column)]
    assert_good_reported(findings)


def test_nul_bytes_are_a_syntax_error(capsys, project):
    (project / "bad.py").write_bytes(b"import tensorflow as tf\nx = 1\x00\n")
    status, findings, _ = run(capsys, project)
    assert status == 1
    bad = [f for f in findings if f["path"].endswith("bad.py")]
    assert [f["code"] for f in bad] == ["LL901"] and "null bytes" in bad[0]["message"]
    assert_good_reported(findings)


def test_mixed_tabs_and_spaces_are_a_syntax_error(capsys, project):
    (project / "bad.py").write_text("import tensorflow as tf\nif x:\n        a = 1\n\tb = 2\n")
    status, findings, _ = run(capsys, project)
    assert codes_by_file(findings)["bad.py"] == ["LL901"]
    assert_good_reported(findings)


def test_an_empty_file_is_quietly_fine(capsys, project):
    (project / "empty.py").write_bytes(b"")
    (project / "empty.ipynb").write_bytes(b"")
    status, findings, err = run(capsys, project)
    # An empty .py is a valid module; an empty .ipynb is not a notebook.
    assert codes_by_file(findings).get("empty.py") is None
    assert codes_by_file(findings)["empty.ipynb"] == ["LL902"]
    assert status == 1 and err == []
    assert_good_reported(findings)


def test_a_10_mb_file_is_reported_as_too_large_and_the_scan_goes_on(capsys, project):
    block = 'def helper_{0}(a, b):\n    """Helper {0}."""\n    return [a, b, {0}, "text {0}"]\n\n'
    parts, size, i = ["import tensorflow as tf\n\n"], 0, 0
    while size < 10_000_000:
        parts.append(block.format(i))
        size += len(parts[-1])
        i += 1
    (project / "huge.py").write_text("".join(parts))
    status, findings, err = run(capsys, project)
    huge = [f for f in findings if f["path"].endswith("huge.py")]
    assert [f["code"] for f in huge] == ["LL902"]
    assert "too large" in huge[0]["message"]
    assert status == 1 and err == []
    assert_good_reported(findings)


def test_a_file_just_under_the_size_limit_is_analysed():
    filler = "# " + "x" * 70 + "\n"
    source = GOOD + filler * ((MAX_CHARS - len(GOOD) - 1000) // len(filler))
    assert len(source) < MAX_CHARS
    assert [f.code for f in api.check_source(source, "big.py")] == ["LL101"]


# --- nesting -------------------------------------------------------------------------------

NESTED = {
    # Each of these crashed the process (LibCST's native parser, segmentation fault) or took
    # gigabytes before losslint/parsing.py measured sources first.
    "parens": lambda n: "x = " + "(" * n + "1" + ")" * n,
    "lists": lambda n: "x = " + "[" * n + "]" * n,
    "calls": lambda n: "x = " + "tf.reduce_mean(" * n + "y" + ")" * n,
    "attributes": lambda n: "x = y" + ".a" * n,
    "additions": lambda n: "x = " + "+".join(["1"] * n),
    "and_chain": lambda n: "x = " + " and ".join(["y"] * n),
    "unary_minus": lambda n: "x = " + "-" * n + "1",
    "lambdas": lambda n: "x = " + "lambda: " * n + "1",
    "conditionals": lambda n: "x = " + "1 if y else " * n + "1",
}


@pytest.mark.parametrize("depth", [1_000, 5_000, 100_000])
@pytest.mark.parametrize("kind", sorted(NESTED))
def test_expressions_nested_thousands_deep_are_ll901(capsys, project, kind, depth):
    if kind in ("unary_minus", "lambdas", "conditionals") and depth == 100_000:
        depth = 20_000  # the same path, a smaller file
    (project / "deep.py").write_text("import tensorflow as tf\n" + NESTED[kind](depth) + "\n")
    status, findings, err = run(capsys, project)
    deep = [f for f in findings if f["path"].endswith("deep.py")]
    assert [f["code"] for f in deep] == ["LL901"], deep
    assert "nested too deeply" in deep[0]["message"]
    assert status == 1 and err == []
    assert_good_reported(findings)


def test_an_and_chain_after_a_syntax_error_is_not_handed_to_libcst(capsys, project):
    # Python's parser stops at the first error, so the chain is judged by its tokens.
    (project / "deep.py").write_text("import tensorflow as tf\ndef (:\nx = " + " and ".join(["y"] * 20_000) + "\n")
    status, findings, _ = run(capsys, project)
    assert codes_by_file(findings)["deep.py"] == ["LL901"]
    assert_good_reported(findings)


def test_ordinary_deep_code_is_still_analysed():
    body = "".join("    " * i + "if y_true is not None:\n" for i in range(1, 40))
    source = ("import tensorflow as tf\n\ndef mse(y_true, y_pred):\n" + body
              + "    " * 40 + "return tf.reduce_mean(y_pred)\n")
    assert [f.code for f in api.check_source(source, "m.py")] == ["LL101"]


def _walked_depth(tree) -> int:
    """The depth `parsing._too_deep` bounds, by walking every node (the slow, plain way)."""
    deepest, level = 0, [(tree, 1)]
    while level:
        following = []
        for node, depth in level:
            extra = len(node.values) - 1 if isinstance(node, ast.BoolOp) else 0
            deepest = max(deepest, depth + extra)
            following += [(child, depth + 1) for child in ast.iter_child_nodes(node)]
        level = following
    return deepest


SHAPES = {
    **NESTED,
    # Where a node's span could mislead the shortcut: decorators lie before a definition's
    # first line; f-string parts; expressions spread over many lines; compound statements.
    "decorator": lambda n: "@a" + ".b" * n + "\ndef f(): pass",
    "class_decorator": lambda n: "@a" + "(x)" * n + "\nclass C: pass",
    "fstring": lambda n: 'x = f"""\n{' + "-" * n + '1}"""',
    "one_line_fstring": lambda n: 'x = f"{' + "-" * n + '1}"',
    "spread_sum": lambda n: "x = (" + " +\n".join(["1"] * n) + ")",
    "spread_calls": lambda n: "x = " + "f(\n" * n + "1" + ")" * n,
    "blocks": lambda n: "".join(" " * i + "if x:\n" for i in range(n)) + " " * n + "pass\n",
    "unicode_names": lambda n: "é = " + "-" * n + "é",
}


@pytest.mark.parametrize("size", [5, 50, 100, 160, 166, 167, 170, 240, 249, 250, 251, 400, 499, 500, 501, 700])
@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_the_depth_shortcut_agrees_with_walking_every_node(shape, size):
    text = SHAPES[shape](size)
    try:
        tree = compile(text, "x.py", "exec", ast.PyCF_ONLY_AST)
    except (SyntaxError, RecursionError, MemoryError):
        return  # Python's parser refuses it: judged before any depth is measured
    assert parsing._too_deep(tree, text) == (_walked_depth(tree) > parsing.MAX_DEPTH)


def _fixture_texts():
    return [(path, path.read_text(encoding="utf-8"))
            for path in sorted((Path(__file__).parent.parent / "fixtures").rglob("*.py"))]


def test_the_depth_shortcut_agrees_on_every_fixture():
    compared = 0
    for path, text in _fixture_texts():
        try:
            tree = compile(text, str(path), "exec", ast.PyCF_ONLY_AST)
        except SyntaxError:
            continue  # the fixtures of LL901
        assert not parsing._too_deep(tree, text), path
        assert _walked_depth(tree) <= parsing.MAX_DEPTH
        compared += 1
    assert compared >= 75


def test_trees_parsed_without_lifting_validation_are_the_same():
    import libcst

    compared = 0
    for path, text in _fixture_texts():
        try:
            validated = libcst.parse_module(text)
        except libcst.ParserSyntaxError:
            continue
        trusted = parsing.parse_module(text)
        assert trusted.deep_equals(validated) and trusted.code == text, path
        compared += 1
    assert compared >= 75


def test_libcst_still_validates_nodes_built_after_a_parse_and_beside_threads():
    import threading

    import libcst

    parsing.parse_module("x = 1\n")
    with pytest.raises(libcst.CSTValidationError):
        libcst.Name("not a name")
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        with parsing._parser_output_trusted():
            with pytest.raises(libcst.CSTValidationError):
                libcst.Name("not a name")  # another thread could be building this one
    finally:
        stop.set()
        other.join()


def test_deeply_nested_notebook_json_is_ll902(capsys, project):
    (project / "deep.ipynb").write_text("[" * 100_000 + "]" * 100_000)
    status, findings, err = run(capsys, project)
    assert codes_by_file(findings)["deep.ipynb"] == ["LL902"]
    assert status == 1 and err == []
    assert_good_reported(findings)


# --- the file system -----------------------------------------------------------------------


def test_a_directory_named_x_py_is_walked_not_read(capsys, project):
    (project / "x.py").mkdir()
    (project / "x.py" / "inner.py").write_text(GOOD)
    status, findings, err = run(capsys, project)
    assert err == [] and status == 1
    assert codes_by_file(findings)["inner.py"] == ["LL101"]
    status, findings, err = run(capsys, project / "x.py", project / "good.py")
    assert err == [] and codes_by_file(findings)["inner.py"] == ["LL101"]
    assert_good_reported(findings)


def test_symlink_loops_are_reported_and_the_scan_goes_on(capsys, project):
    os.symlink(project / "b.py", project / "a.py")
    os.symlink(project / "a.py", project / "b.py")
    os.symlink(project, project / "sub")  # a directory loop: never entered
    os.symlink(project / "nowhere.py", project / ".#lock.py")  # dangling: passed over
    status, findings, err = run(capsys, project)
    assert status == 2
    assert err == [
        f"losslint: error: {project / 'a.py'}: Too many levels of symbolic links",
        f"losslint: error: {project / 'b.py'}: Too many levels of symbolic links",
    ]
    assert_good_reported(findings)
    assert len(findings) == 1  # good.py once, not again through `sub`

    status, findings, err = run(capsys, project / "a.py", project / "good.py")
    assert status == 2
    assert err == [f"losslint: error: {project / 'a.py'}: Too many levels of symbolic links"]
    assert_good_reported(findings)


def test_a_path_that_does_not_exist_is_an_error_and_the_rest_is_checked(capsys, project):
    status, findings, err = run(capsys, project / "nope.py", project / "good.py")
    assert status == 2
    assert err == [f"losslint: error: {project / 'nope.py'}: No such file or directory"]
    assert_good_reported(findings)


def test_an_unreadable_file_is_an_error_and_the_rest_is_checked(capsys, project, monkeypatch):
    bad = project / "secret.py"
    bad.write_text(GOOD)
    bad.chmod(0)
    try:
        if os.access(bad, os.R_OK):  # root reads anything: make the read fail as it would
            real = Path.read_bytes

            def read_bytes(self):
                if self.name == "secret.py":
                    raise PermissionError(13, "Permission denied", str(self))
                return real(self)

            monkeypatch.setattr(Path, "read_bytes", read_bytes)
        status, findings, err = run(capsys, project)
        assert status == 2
        assert err == [f"losslint: error: {bad}: Permission denied"]
        assert_good_reported(findings)
        assert len(findings) == 1
        report = api.check_paths([str(project)], jobs=1)
        assert [(e.path, e.message) for e in report.errors] == [(str(bad), "Permission denied")]
    finally:
        bad.chmod(0o644)


def test_a_non_utf8_file_name_is_checked_and_printed_in_every_format(capsys, project, tmp_path):
    name = os.path.join(os.fsencode(project), b"bad\xff.py")
    with open(name, "wb") as handle:
        handle.write(GOOD.encode())
    status, findings, err = run(capsys, project)
    assert status == 1 and err == []
    assert sorted(os.path.basename(f["path"]) for f in findings) == ["bad\udcff.py", "good.py"]
    for output_format in ("text", "concise", "github", "sarif", "junit"):
        out_file = tmp_path / f"report.{output_format}"
        assert main(["check", "--isolated", "--no-cache", "--format", output_format,
                     "-o", str(out_file), str(project)]) == 1, output_format
        assert capsys.readouterr().err == ""
        data = out_file.read_bytes()
        assert b"good.py" in data
        assert (b"bad%FF.py" if output_format == "sarif" else b"bad\xff.py") in data


# --- notebooks -----------------------------------------------------------------------------


def notebook(cells, language="python") -> str:
    return json.dumps({
        "cells": cells,
        "metadata": {"kernelspec": {"language": language, "name": language}},
        "nbformat": 4,
        "nbformat_minor": 5,
    })


@pytest.mark.parametrize("keras_words", [True, False])
def test_a_notebook_that_is_not_json_is_ll902(capsys, project, keras_words):
    text = '{"cells": [import tensorflow as tf' if keras_words else "{not json"
    (project / "bad.ipynb").write_text(text)
    status, findings, err = run(capsys, project)
    assert codes_by_file(findings)["bad.ipynb"] == ["LL902"]
    assert "not valid JSON" in findings[0]["message"]
    assert status == 1 and err == []
    assert_good_reported(findings)


def test_notebooks_without_code_cells_or_in_another_language_are_passed_over(capsys, project):
    (project / "prose.ipynb").write_text(notebook([{"cell_type": "markdown", "source": "# tf.reduce_mean"}]))
    (project / "r.ipynb").write_text(notebook(
        [{"cell_type": "code", "source": "library(keras)\nloss <- function(y_true, y_pred) k_mean(y_pred)"}],
        language="R"))
    status, findings, err = run(capsys, project)
    assert codes_by_file(findings) == {"good.py": ["LL101"]}
    assert status == 1 and err == []


def test_a_notebook_with_broken_cells_reports_them_and_checks_the_rest(capsys, project):
    (project / "nb.ipynb").write_text(notebook([
        {"cell_type": "code", "source": "x = " + "(" * 5000 + ")" * 5000},
        {"cell_type": "code", "source": "def (:"},
        {"cell_type": "code", "source": GOOD},
    ]))
    status, findings, err = run(capsys, project)
    nb = sorted((f["cell"], f["code"]) for f in findings if f["path"].endswith("nb.ipynb"))
    assert nb == [(1, "LL901"), (2, "LL901"), (3, "LL101")]
    assert status == 1 and err == []
    assert_good_reported(findings)
