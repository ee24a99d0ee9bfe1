"""Rendering reports as text and JSON, and rules as documentation."""

from __future__ import annotations

import json

import pytest

from losslint.ftypes import FileError, Finding, Report, Severity
from losslint.output import render, render_rule, render_rule_table
from losslint.rules import RULES


def finding(path="train.py", line=3, column=12, code="LL101", **extra) -> Finding:
    values = {
        "path": path,
        "line": line,
        "column": column,
        "end_line": line,
        "end_column": column + 20,
        "code": code,
        "severity": RULES[code].severity,
        "message": f"message for {code}",
        "function": "dice_loss",
        "loss_source": "compile",
    }
    values.update(extra)
    return Finding(**values)


# --- text -----------------------------------------------------------------------------------


def test_text_lists_findings_sorted_then_a_summary():
    report = Report(
        findings=[
            finding("train.py", 9, 5, "LL201"),
            finding("models/loss.py", 4, 1, "LL102", function="MyLoss.call"),
            finding("train.py", 3, 12, "LL101"),
        ],
        files_scanned=12,
    )
    assert render(report, "text") == (
        "models/loss.py:4:1: LL102 message for LL102 (in loss MyLoss.call)\n"
        "train.py:3:12: LL101 message for LL101 (in loss dice_loss)\n"
        "train.py:9:5: LL201 message for LL201 (in loss dice_loss)\n"
        "\n"
        "Found 3 problems (2 errors, 1 warning) in 2 files."
    )


def test_text_omits_the_loss_when_the_finding_has_none():
    report = Report(findings=[finding(code="LL901", function=None, message="invalid syntax")])
    assert render(report, "text", quiet=True) == "train.py:3:12: LL901 invalid syntax"


def test_text_names_notebook_cells_like_ruff():
    report = Report(
        findings=[
            finding("nb.ipynb", 2, 8, cell=7),
            finding("nb.ipynb", 5, 1, cell=3),
        ]
    )
    assert render(report, "text", quiet=True) == (
        "nb.ipynb:cell 3:5:1: LL101 message for LL101 (in loss dice_loss)\n"
        "nb.ipynb:cell 7:2:8: LL101 message for LL101 (in loss dice_loss)"
    )


@pytest.mark.parametrize(
    ("report", "expected"),
    [
        (Report(files_scanned=12), "All checks passed (12 files scanned)."),
        (Report(files_scanned=1), "All checks passed (1 file scanned)."),
        (Report(files_scanned=0), "All checks passed (0 files scanned)."),
        (Report(findings=[finding()], files_scanned=4), "Found 1 problem (1 error) in 1 file."),
        (
            Report(findings=[finding(code="LL201"), finding("b.py", code="LL201")]),
            "Found 2 problems (2 warnings) in 2 files.",
        ),
        (
            Report(errors=[FileError("nope.py", "No such file or directory")], files_scanned=3),
            "No problems found (3 files scanned), but 1 path could not be checked.",
        ),
        (
            Report(
                findings=[finding()],
                errors=[FileError("a", "x"), FileError("b", "y")],
                files_scanned=3,
            ),
            "Found 1 problem (1 error) in 1 file; 2 paths could not be checked.",
        ),
    ],
)
def test_summary_line(report, expected):
    text = render(report, "text")
    assert text.endswith("\n\n" + expected) if report.findings else text == expected


def test_quiet_text_is_empty_when_clean():
    assert render(Report(files_scanned=5), "text", quiet=True) == ""


def test_color_styles_path_and_code_by_severity_only_when_asked():
    report = Report(findings=[finding(code="LL101"), finding("w.py", code="LL201")])
    plain = render(report, "text", quiet=True)
    colored = render(report, "text", quiet=True, color=True)
    assert "\x1b[" not in plain
    assert "\x1b[1mtrain.py\x1b[0m:3:12: \x1b[31m\x1b[1mLL101\x1b[0m" in colored
    assert "\x1b[33m\x1b[1mLL201\x1b[0m" in colored


def test_unknown_format_is_a_value_error():
    with pytest.raises(ValueError, match="unknown output format 'xml'"):
        render(Report(), "xml")


# --- json -----------------------------------------------------------------------------------


def test_json_objects_have_exactly_these_keys_in_this_order():
    report = Report(findings=[finding("nb.ipynb", 2, 8, "LL103", cell=4)])
    rendered = render(report, "json")
    [item] = json.loads(rendered)
    assert list(item) == [
        "path",
        "line",
        "column",
        "end_line",
        "end_column",
        "code",
        "name",
        "severity",
        "message",
        "function",
        "cell",
        "loss_source",
        "scope",
        "losses",
    ]
    assert item == {
        "path": "nb.ipynb",
        "line": 2,
        "column": 8,
        "end_line": 2,
        "end_column": 28,
        "code": "LL103",
        "name": "loss-object-called-in-loss",
        "severity": "error",
        "message": "message for LL103",
        "function": "dice_loss",
        "cell": 4,
        "loss_source": "compile",
        "scope": None,
        "losses": [],
    }
    assert rendered.startswith('[\n  {\n    "path": "nb.ipynb",')


def test_json_is_sorted_and_keeps_nulls():
    report = Report(
        findings=[
            finding("b.py", code="LL201"),
            finding("a.py", code="LL901", function=None, loss_source=None),
        ]
    )
    items = json.loads(render(report, "json", quiet=True, color=True))
    assert [(i["path"], i["severity"]) for i in items] == [("a.py", "error"), ("b.py", "warning")]
    assert (items[0]["function"], items[0]["cell"], items[0]["loss_source"]) == (None, None, None)


def test_json_of_a_clean_report_is_an_empty_array():
    report = Report(errors=[FileError("x", "y")], files_scanned=3)
    assert render(report, "json") == "[]"


# --- rule documentation ---------------------------------------------------------------------


def test_rule_documentation_has_ruffs_sections_in_order():
    text = render_rule(RULES["LL101"])
    lines = text.splitlines()
    assert lines[0] == "# reduction-without-axis (LL101)"
    assert [line for line in lines if line.startswith("## ")] == [
        "## What it does",
        "## Why is this bad?",
        "## Example",
        "## Use instead",
        "## Fix safety",
        "## References",
    ]
    assert "Severity: error" in text
    assert "```python\ndef mse(y_true, y_pred):\n" in text
    assert "- https://keras.io/api/losses/#creating-custom-losses" in text
    prose = text.split("## Example")[0]
    assert max(len(line) for line in prose.splitlines()) <= 88


def test_rule_without_references_has_no_references_section():
    assert "## References" not in render_rule(RULES["LL901"])


def test_rule_table_aligns_code_name_severity_summary():
    lines = render_rule_table([RULES["LL101"], RULES["LL201"]]).splitlines()
    assert lines == [
        f"LL101  reduction-without-axis   error    {RULES['LL101'].summary}",
        f"LL201  batch-statistic-scaling  warning  {RULES['LL201'].summary}",
    ]


def test_text_shows_the_source_line_with_a_caret_under_the_span(tmp_path):
    source = tmp_path / "losses.py"
    source.write_text("import tensorflow as tf\n\ndef l(y_true, y_pred):\n\treturn tf.reduce_sum(y_pred)\n")
    notebook = tmp_path / "train.ipynb"
    notebook.write_text(json.dumps({"cells": [
        {"cell_type": "markdown", "source": ["# title\n"]},
        {"cell_type": "code", "source": ["x = 1\n", "loss = tf.reduce_mean(y)\n"]},
    ]}))
    report = Report(findings=[
        Finding(str(source), 4, 9, 4, 30, "LL101", Severity.ERROR, "no axis", "l"),
        Finding(str(notebook), 2, 8, 2, 25, "LL101", Severity.ERROR, "no axis", "m", cell=2),
    ], files_scanned=2)
    lines = render(report, "text").splitlines()
    assert lines[1:3] == ["4 | \treturn tf.reduce_sum(y_pred)", "  | \t       " + "^" * 21]
    assert lines[5:7] == ["2 | loss = tf.reduce_mean(y)", "  |        " + "^" * 17]
    assert "^" not in render(report, "concise")


def test_every_rule_page_has_the_sections_in_order():
    for rule in RULES.values():
        page = render_rule(rule)
        headings = [line for line in page.splitlines() if line.startswith("## ")]
        expected = ["## What it does", "## Why is this bad?", "## Example", "## Use instead", "## Fix safety"]
        assert headings[:5] == expected, rule.code
