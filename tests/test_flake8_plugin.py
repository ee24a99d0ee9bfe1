"""The flake8 plugin (entry point `flake8.extension`: `LL`), run through flake8 itself."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

from losslint.flake8_plugin import Plugin

ROOT = Path(__file__).resolve().parents[1]
RULE_FIXTURES = ROOT / "fixtures" / "rules"
EXPECT_RE = re.compile(r"#\s*expect:\s*(LL\d{3}(?:\s*,\s*LL\d{3})*)")

BAD = """\
import tensorflow as tf


def mse(y_true, y_pred):
    return tf.reduce_mean(tf.square(y_true - y_pred))


def l2(y_true, y_pred):
    return tf.nn.l2_loss(y_true - y_pred)
"""


def flake8(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "flake8", "--format", "%(path)s:%(row)d:%(col)d:%(code)s:%(text)s", *args],
        cwd=cwd,
        check=False,
        capture_output=True,
        text=True,
    )


def reported(result: subprocess.CompletedProcess) -> set[tuple[str, int, str]]:
    rows = set()
    for line in result.stdout.splitlines():
        path, row, _col, code, _text = line.split(":", 4)
        rows.add((Path(path).name, int(row), code))
    return rows


def test_flake8_lists_the_plugin():
    result = subprocess.run([sys.executable, "-m", "flake8", "--version"], capture_output=True, text=True,
                            check=False)
    assert "losslint: " in result.stdout


def test_flake8_reports_exactly_the_expected_lines_of_the_rule_fixtures():
    expected = set()
    for path in sorted(RULE_FIXTURES.glob("*.py")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            match = EXPECT_RE.search(line)
            if match:
                expected |= {(path.name, number, code.strip()) for code in match.group(1).split(",")}
    result = flake8("--select", "LL", ".", cwd=RULE_FIXTURES)
    assert result.returncode == 1, result.stderr
    assert {code for _, _, code in expected} >= {"LL101", "LL102", "LL103", "LL104", "LL201"}
    assert reported(result) == expected


def test_messages_are_code_then_text_at_flake8_columns(tmp_path):
    (tmp_path / "losses.py").write_text(BAD, encoding="utf-8")
    result = flake8("--select", "LL", "losses.py", cwd=tmp_path)
    lines = result.stdout.splitlines()
    assert lines[0].startswith("losses.py:5:12:LL101:`tf.reduce_mean` without `axis`")
    assert lines[0].endswith("(in loss mse)")
    assert lines[1].startswith("losses.py:9:12:LL104:`tf.nn.l2_loss`")


def test_flake8_noqa_and_extend_ignore_work_on_ll_codes(tmp_path):
    source = BAD.replace("tf.nn.l2_loss(y_true - y_pred)", "tf.nn.l2_loss(y_true - y_pred)  # noqa: LL104")
    (tmp_path / "losses.py").write_text(source, encoding="utf-8")
    assert reported(flake8("--select", "LL", "losses.py", cwd=tmp_path)) == {("losses.py", 5, "LL101")}
    result = flake8("--select", "LL", "--extend-ignore", "LL101", "losses.py", cwd=tmp_path)
    assert result.returncode == 0 and result.stdout == ""


def test_losslint_configuration_applies_under_flake8(tmp_path):
    (tmp_path / "losses.py").write_text(BAD, encoding="utf-8")
    (tmp_path / "losslint.toml").write_text('ignore = ["LL104"]\n', encoding="utf-8")
    assert reported(flake8("--select", "LL", "losses.py", cwd=tmp_path)) == {("losses.py", 5, "LL101")}


def test_a_clean_file_passes(tmp_path):
    (tmp_path / "losses.py").write_text(BAD.replace("y_pred))", "y_pred), axis=-1)").split("\n\n\ndef l2")[0] + "\n",
                                        encoding="utf-8")
    result = flake8("--select", "LL", "losses.py", cwd=tmp_path)
    assert (result.returncode, result.stdout) == (0, "")


def test_plugin_yields_flake8_tuples(tmp_path):
    path = tmp_path / "losses.py"
    path.write_text(BAD, encoding="utf-8")
    lines = BAD.splitlines(keepends=True)
    results = list(Plugin(ast.parse(BAD), str(path), lines).run())
    assert [(row, col, text.split()[0], kind) for row, col, text, kind in results] == [
        (5, 11, "LL101", Plugin),
        (9, 11, "LL104", Plugin),
    ]
